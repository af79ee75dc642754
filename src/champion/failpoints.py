"""Named crash points, so tests can SIGKILL a real process exactly where durability matters.

Why in the product: "a crash leaves the old state or the complete new state" is only believable
if a test kills the process between the steps that could leave half a state behind. Setting
`CHAMPION_CRASH_AT=<point>` makes the process kill itself (SIGKILL: no cleanup, no atexit, like
a machine losing power for this process) when it reaches that point. Unset, a point costs one
dictionary lookup.

Points:
- `blob.temp_written`    a blob's temp file is written and fsynced, not yet renamed
- `blob.renamed`         the blob is in place, no row refers to it yet
- `register.in_transaction`  the model row is inserted, the transaction not yet committed
- `gate.registered`      the version is committed, the decision record not yet written
- `record.uploaded`      the decision record is uploaded, the run's tags not yet set from it
"""

from __future__ import annotations

import os
import signal

CRASH_ENV = "CHAMPION_CRASH_AT"
POINTS = frozenset(
    {
        "blob.temp_written",
        "blob.renamed",
        "register.in_transaction",
        "gate.registered",
        "record.uploaded",
    }
)


def failpoint(name: str) -> None:
    if os.environ.get(CRASH_ENV) == name:
        os.kill(os.getpid(), signal.SIGKILL)
