"""Starting a command or a script under the fakes: `champion mock -- COMMAND` and
`python -m champion.mock SCRIPT`.

Both open (or create) the workspace first, so a mistake there is one line and exit 2 or 3
before the user's code runs, then hand the launcher's environment (`child_environment`) to
everything the command starts.
"""

from __future__ import annotations

import os
import runpy
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from champion import _env
from champion.errors import ChampionError, InputError
from champion.mock import arm, child_environment
from champion.mock._script import UNMOCKED_EXIT_CODE, _call_site, _exit_status

__all__ = ["launch", "main", "workspace_folder"]

USAGE = "usage: python -m champion.mock SCRIPT [ARGS...] | -m MODULE [ARGS...]"


def workspace_folder(given: str | os.PathLike[str] | None = None) -> Path:
    """The workspace the fakes answer from, opened or created, as an absolute path: `given`,
    else `$CHAMPION_WORKSPACE`, else the nearest `.champion/` up from here, else a new
    `./.champion` (as `champion run` chooses)."""
    from champion.local.workspace import Workspace, resolve_workspace_path

    chosen, _ = resolve_workspace_path(given)
    folder = Path(chosen).expanduser().resolve()
    Workspace.create(folder, exist_ok=True)
    return folder


def launch(
    command: Sequence[str],
    workspace: str | os.PathLike[str] | None = None,
    *,
    step_timeout: float | None = None,
) -> int:
    """Run `command` with the launcher's environment and return its exit status as a shell
    reports it (128+N when signal N ended it). `step_timeout` is the timeout of every step of a
    pipeline the command submits whose run configuration sets none. A command that is not found
    is an InputError."""
    if not command:
        raise InputError(
            "no command to run: give one after --, e.g. champion mock -- python build.py",
            field="command",
            value="",
        )
    if shutil.which(command[0]) is None:
        raise InputError(
            f"command {command[0]!r} was not found (not a file, and not on PATH); "
            "check the name after --",
            field="command",
            value=command[0],
        )
    folder = workspace_folder(workspace)
    env = child_environment(folder)
    if step_timeout is not None:
        env[_env.STEP_TIMEOUT] = f"{step_timeout:g}"
    with subprocess.Popen(list(command), env=env) as process:
        while True:
            try:
                code = process.wait()
                break
            except KeyboardInterrupt:  # the command got it too (same process group)
                continue
    return code if code >= 0 else 128 - code


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m champion.mock`: run a script (or `-m MODULE`) in this process with the fakes
    armed, and with the launcher's environment for the processes it starts."""
    args = list(sys.argv[1:] if argv is None else argv)
    module = args[1] if args[:1] == ["-m"] and len(args) > 1 else None
    if not args or (args[0] == "-m" and module is None) or args[0] in ("-h", "--help"):
        sys.stderr.write(USAGE + "\n")
        return 2
    script = os.path.abspath(args[0])
    if module is None and not os.path.isfile(script):
        sys.stderr.write(f"champion: error [input_invalid]: script not found: {script}\n")
        return 2
    try:
        folder = workspace_folder()
    except ChampionError as exc:
        sys.stderr.write(f"champion: error [{exc.code}]: {exc.message}\n")
        return exc.exit_code
    for name, value in child_environment(folder).items():
        os.environ[name] = value  # handed on to every process the script starts
    arm()

    from champion.local.mock import UnmockedServiceCall

    if module is None:
        sys.argv = [script, *args[1:]]
        sys.path[0:1] = [os.path.dirname(script)]
    else:
        sys.argv = [module, *args[2:]]
    try:
        if module is None:
            runpy.run_path(script, run_name="__main__")
        else:
            runpy.run_module(module, run_name="__main__", alter_sys=True)
    except SystemExit as exc:
        return _exit_status(exc.code)
    except UnmockedServiceCall as exc:
        sys.stderr.write(f"champion mock: {_call_site(exc, script)}{exc}\n")
        return UNMOCKED_EXIT_CODE
    return 0
