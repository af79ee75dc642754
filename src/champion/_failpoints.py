"""Named crash points, so tests can SIGKILL a real process exactly where durability matters.

Why in the product: "a crash leaves the old state or the complete new state" is only believable
if a test kills the process between the steps that could leave half a state behind. Setting
`CHAMPION_CRASH_AT=<point>` makes the process kill itself (SIGKILL: no cleanup, no atexit, like
a machine losing power for this process) when it reaches that point. Unset, a point costs one
dictionary lookup. `CHAMPION_PAUSE_AT=<point>[,<point>...]` stops the process there instead
(SIGSTOP), at each point named, so a test can look at the workspace while a writer is mid-way
(e.g. that no lock is held while a model is being streamed in), or let another writer in, and
then let it go on with SIGCONT.

Points:
- `blob.temp_written`    a blob's bytes are streamed into tmp/ and fsynced, not yet a blob
- `blob.renamed`         the blob is in place, inside the transaction that names it, which is
                         not yet committed
- `register.in_transaction`  the model row is inserted, the transaction not yet committed
- `gate.decided`         the gate has re-read the champion and decided to register, and has
                         not registered yet (on the local workspace: inside its lock)
- `gate.registered`      the version is committed and any race settled, the decision record
                         not yet written
- `record.uploaded`      the decision record is stored, the run's tags not yet set from it
                         (where the local workspace writes a record and its tags in one
                         commit, `ParentRun.add_record`, it fires after that commit)
- `mlflow.version_created`  MLflow: the version is created, the champion alias not yet moved
- `mlflow.alias_checked`    MLflow: the alias's holder is read, the alias not yet moved (where a
                            racing gate's move can slip in unseen by that read)
- `mlflow.alias_moved`      MLflow: the alias names the new version, the race check after the
                            move and the decision record not yet made
- `race.repairing`      racing gates: the gate found that the champion is not the best of the
                        racing decisions and is about to repair it (MLflow: mark its version and
                        move the alias; Azure ML: register the best's files again)
"""

from __future__ import annotations

import os
import signal

from champion import _env

CRASH_ENV = _env.CRASH_AT
PAUSE_ENV = _env.PAUSE_AT
POINTS = frozenset(
    {
        "blob.temp_written",
        "blob.renamed",
        "register.in_transaction",
        "gate.decided",
        "gate.registered",
        "record.uploaded",
        "mlflow.version_created",
        "mlflow.alias_checked",
        "mlflow.alias_moved",
        "race.repairing",
    }
)


def failpoint(name: str) -> None:
    if _env.crash_at() == name:
        os.kill(os.getpid(), signal.SIGKILL)
    paused = _env.pause_at()
    if paused and name in paused.split(","):  # several points: stop at each in turn
        os.kill(os.getpid(), signal.SIGSTOP)
