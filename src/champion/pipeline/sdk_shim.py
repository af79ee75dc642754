"""Run one step script with the real `azureml.core` answered by the local workspace.

    python -m champion.pipeline.sdk_shim SCRIPT [ARGS...]
    python -m champion.pipeline.sdk_shim -m MODULE [ARGS...]

Why a shim: `mock_azureml()` patches the SDK inside one process, and a step is its own process.
The local runner (`run_pipeline(..., real_sdk=True)`) therefore launches this module instead of
the script: it starts the mock on `$CHAMPION_WORKSPACE`, selects the azureml backend for
`champion.context`, and runs the script as `python SCRIPT ARGS...` would (`__name__ ==
"__main__"`, `sys.argv`, the script's folder first on `sys.path`), or a module as
`python -m MODULE ARGS...` would (a packaged step such as `champion.steps.register`). A script
that calls `azureml.core.Run.get_context()` gets the step's run (`$CHAMPION_RUN_ID`) and runs
unchanged.

`CHAMPION_MOCK_FAULTS` injects service faults into the mock for the whole step, so a step can
be tested end to end against a failing Azure ML: a comma-separated list of
`operation=status|timeout|timeout-after-commit[xtimes]`, e.g. `models.query=500`,
`models.register=503x2` or `models.register=timeout-after-commit` (operation names:
`champion.local.mock.OPERATIONS`).

The script's exit status is this process's exit status, including `sys.exit(n)` and an uncaught
exception (traceback, status 1), so the runner sees what the script did. A call that needs Azure
(`UnmockedServiceCall`: compute, image builds, deployments, Key Vault) ends the step with one
line naming the script's line and the SDK member, and exit status 3 (`UNMOCKED_EXIT_CODE`): the
step cannot run on this machine, whatever its `except` clauses said.
"""

from __future__ import annotations

import importlib.util
import os
import runpy
import sys
from collections.abc import Sequence

from champion import _env
from champion.mock._script import UNMOCKED_EXIT_CODE, _call_site, _exit_status

WORKSPACE_ENV = _env.WORKSPACE
BACKEND_ENV = _env.BACKEND
FAULTS_ENV = _env.MOCK_FAULTS


def parse_faults(spec: str) -> list[tuple[str, str, int]]:
    """`"models.query=500,models.register=timeout-after-commit x2"` -> [(operation, kind, times)]
    where kind is an HTTP status, `timeout`, or `timeout-after-commit` (the service did the work,
    then the client timed out)."""
    faults = []
    for item in filter(None, (part.strip() for part in spec.split(","))):
        operation, _, rest = item.partition("=")
        kind, _, times = rest.replace(" ", "").partition("x")
        valid_kind = kind.isdigit() or kind in ("timeout", "timeout-after-commit")
        if not operation or not valid_kind or (times and not times.isdigit()):
            raise ValueError(f"{FAULTS_ENV}: {item!r} is not operation=status|timeout[xtimes]")
        faults.append((operation, kind, int(times or 1)))
    return faults


def main(argv: Sequence[str] | None = None) -> int:
    """Run `argv[0]` (or the module after `-m`) with the rest under `mock_azureml`; return the
    script's exit status."""
    from champion.mock import disarm

    disarm()  # this process starts its own mock: none on import (`champion mock` armed one)
    args = list(sys.argv[1:] if argv is None else argv)
    module = args[1] if args[:1] == ["-m"] and len(args) > 1 else None
    if not args or (args[0] == "-m" and module is None):
        sys.stderr.write(
            "usage: python -m champion.pipeline.sdk_shim SCRIPT [ARGS...] | -m MODULE [ARGS...]\n"
        )
        return 2
    workspace = _env.workspace()
    if not workspace:
        sys.stderr.write(
            f"sdk_shim: {WORKSPACE_ENV} is not set; the local runner sets it to the workspace "
            "folder the step's run lives in\n"
        )
        return 2
    script = os.path.abspath(args[0])
    if module is None and not os.path.isfile(script):
        sys.stderr.write(f"sdk_shim: script not found: {script}\n")
        return 2
    if module is not None and not _importable(module):
        sys.stderr.write(f"sdk_shim: No module named {module}\n")
        return 2

    from champion.local import mock_azureml
    from champion.local.mock import UnmockedServiceCall

    os.environ[BACKEND_ENV] = "azureml"
    if module is None:
        sys.argv = [script, *args[1:]]
        # `python script.py` puts the script's folder first on sys.path; `-m` put the cwd there.
        sys.path[0:1] = [os.path.dirname(script)]
    else:
        sys.argv = [module, *args[2:]]  # run_module puts the module's file in argv[0]
    try:
        faults = parse_faults(_env.mock_faults())
    except ValueError as exc:
        sys.stderr.write(f"sdk_shim: {exc}\n")
        return 2
    from champion.errors import ChampionError, NotAWorkspaceError
    from champion.local.store import is_workspace

    mock = mock_azureml(workspace)
    try:
        if not is_workspace(workspace):  # a step never creates its workspace (the runner does)
            raise NotAWorkspaceError(os.path.abspath(workspace))
        mock.start()
    except ChampionError as exc:
        sys.stderr.write(f"champion: error [{exc.code}]: {exc.message}\n")
        return exc.exit_code
    try:
        for operation, kind, times in faults:
            if kind.isdigit():
                mock.inject_fault(operation, int(kind), times)
            else:
                mock.inject_timeout(operation, times, after_commit=kind.endswith("after-commit"))
        try:
            if module is None:
                runpy.run_path(script, run_name="__main__")
            else:
                runpy.run_module(module, run_name="__main__", alter_sys=True)
        except SystemExit as exc:
            return _exit_status(exc.code)
        except UnmockedServiceCall as exc:
            sys.stderr.write(f"sdk_shim: {_call_site(exc, script)}{exc}\n")
            return UNMOCKED_EXIT_CODE
    finally:
        mock.stop()
    return 0


def _importable(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ImportError:  # a parent package is missing
        return False


if __name__ == "__main__":
    sys.exit(main())
