"""What the serving process tells gunicorn's master hooks and its workers about this deployment.

Why a module-level value: gunicorn reads its settings from a module (`_gunicorn`) and forks its
workers from this very process, so the one `Setup` installed before the server starts is what
the hooks and every worker see; nothing travels through the environment. What a worker must
tell the serving process back (why it could not start) travels through files in the
deployment's folder, which the serving process owns and removes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from champion.errors import ChampionError, InfrastructureError, InputError
from champion.serving._sockets import Listener

__all__ = ["Setup", "current", "install"]

_BOOT_FAILURE = "boot-failure.json"


@dataclass(frozen=True)
class Setup:
    """`listener` the claimed port; `entry_script` the script the workers load (`default`
    when it is champion's own); `folder` the deployment's folder (AML_APP_ROOT); `debug`
    whether the log keeps its tracebacks."""

    listener: Listener
    entry_script: Path
    default: bool
    folder: Path
    debug: bool

    def ready_marker(self, pid: int) -> Path:
        """Present once the worker `pid` has loaded the entry script and run its init()."""
        return self.folder / f"ready-{pid}"

    def report_boot_failure(self, error: ChampionError) -> None:
        """The first worker that cannot start says why, for the serving process to raise."""
        path = self.folder / _BOOT_FAILURE
        if not path.exists():
            said = {"exit_code": error.exit_code, "message": error.message, "field": error.field}
            text = json.dumps(said)
            path.write_text(text, encoding="utf-8")

    def boot_failure(self) -> ChampionError | None:
        """What a worker reported, as the error the serving process raises; None if none did."""
        path = self.folder / _BOOT_FAILURE
        try:
            found = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        cls = InputError if found.get("exit_code") == 2 else InfrastructureError
        return cls(str(found.get("message")), field=found.get("field"), value=None)


_installed: list[Setup] = []


def install(setup: Setup) -> None:
    _installed[:] = [setup]


def current() -> Setup:
    if not _installed:
        raise RuntimeError("champion.serving._setup.install() was not called before the server")
    return _installed[0]
