"""Whether a process that served a model is still running: the rule that decides whether a
deployment is active, so a stopped or crashed server never keeps a version from being deleted.

Why more than the pid: pids are reused. A deployment records the kernel's start time of its pid
(`/proc/<pid>/stat`, field 22, where there is a `/proc`) and the host it ran on; it is active
only while a process with that pid and that start time runs on that host. A zombie (exited,
not yet reaped by its parent) has stopped serving, so it does not count. Without `/proc`
(macOS) the pid alone is what can be known. A deployment recorded on another host cannot be
checked from here and counts as active: refusing a delete is the side that loses nothing.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path

__all__ = ["host_name", "is_running", "process_token"]


def host_name() -> str:
    return socket.gethostname()


def _stat_fields(pid: int) -> list[str] | None:
    """The fields of `/proc/<pid>/stat` after the command name (which may hold spaces and
    parentheses): index 0 is the state (field 3), index 19 the start time (field 22)."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except (OSError, ValueError):
        return None
    fields = text[text.rfind(")") + 2 :].split()
    return fields if len(fields) > 19 else None


def process_token(pid: int) -> str | None:
    """What tells this process from a later one with the same pid; None where unknowable."""
    fields = _stat_fields(pid)
    return None if fields is None else fields[19]


def is_running(pid: int, token: str | None, host: str) -> bool:
    """Whether the process recorded as (`pid`, `token`) on `host` still runs."""
    if host != host_name():
        return True
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # it exists, as another user's process
    fields = _stat_fields(pid)
    if fields is None:
        return True  # no /proc here: the pid is all we can know
    if fields[0] in ("Z", "X"):
        return False
    return token is None or fields[19] == token
