"""How a script run in this process (by the step shim or `python -m champion.mock`) ends: its
exit status as `python SCRIPT` would give it, and the one line for a call that needs Azure."""

from __future__ import annotations

import os
import sys

__all__ = ["UNMOCKED_EXIT_CODE", "_call_site", "_exit_status"]

#: Exit status of a script that called something only Azure can answer (`UnmockedServiceCall`).
UNMOCKED_EXIT_CODE = 3


def _call_site(exc: BaseException, script: str) -> str:
    """`file:line: ` of the innermost frame in the step's own code (its snapshot folder), so
    the one line says where the step asked for Azure."""
    import traceback

    folder = os.path.dirname(script)
    own = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename.startswith(folder)]
    return f"{own[-1].filename}:{own[-1].lineno}: " if own else ""


def _exit_status(code: object) -> int:
    """What the interpreter would exit with for `sys.exit(code)`."""
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    sys.stderr.write(f"{code}\n")
    return 1
