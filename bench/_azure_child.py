"""Run the register step once under `mock_azureml()` (the real azureml.core classes) and count
the REST round trips it makes, by operation name, from `get_run()` to exit.

    python bench/_azure_child.py WORKSPACE STEP_RUN_ID MODEL_PATH OUT_JSON

Like `python -m champion.pipeline.sdk_shim steps/register_model.py ...` (what the local runner
does with real_sdk=True), with the mock's `calls` list written to OUT_JSON afterwards. The step's
own output goes to stdout/stderr untouched.
"""

from __future__ import annotations

import collections
import json
import os
import runpy
import sys
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
STEP = ROOT / "steps" / "register_model.py"


def main() -> int:
    ws, run_id, model_path, out = sys.argv[1:5]
    os.environ["CHAMPION_WORKSPACE"] = ws
    os.environ["CHAMPION_RUN_ID"] = run_id
    os.environ["CHAMPION_BACKEND"] = "azureml"
    from champion.local.mock import mock_azureml

    status = 0
    sites: list[str] = []
    mock = mock_azureml(ws)
    record = mock._record

    def traced(operation: str) -> object:
        sites.append(_call_site())
        return record(operation)

    # before start(): the service takes the session's `_record` when the mock starts
    mock._record = traced  # type: ignore[method-assign]
    with mock:
        before = len(mock.calls)
        sys.argv = [str(STEP), "--model-name", "iris", "--model-path", model_path]
        sys.path[0:1] = [str(STEP.parent)]
        try:
            runpy.run_path(str(STEP), run_name="__main__")
        except SystemExit as exc:
            status = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        calls = list(mock.calls[before:])
        sites = sites[len(sites) - len(calls) :]
    Path(out).write_text(
        json.dumps(
            {
                "exit": status,
                "calls": calls,
                "by_operation": dict(collections.Counter(calls)),
                "total": len(calls),
                "sites": [f"{op} <- {site}" for op, site in zip(calls, sites, strict=True)],
            }
        )
    )
    return 0


# Wrappers that only pass a call through (error translation, retries): the caller is the site.
_HELPERS = {"<lambda>", "_infra", "call_with_retry", "check", "_failing_as_infrastructure"}


def _call_site() -> str:
    """The innermost frame of OUR code (champion/, not its local workspace, or steps/) that
    led to this round trip: which line of the gate or the record costs a call."""
    frames = traceback.extract_stack()[:-2]
    for frame in reversed(frames):
        name = frame.filename.replace(os.sep, "/")
        ours = "/champion/" in name and "/champion/local/" not in name
        helper = frame.name in _HELPERS or name.endswith("/champion/retry.py")
        if (ours or "/steps/" in name) and not helper:
            short = name[name.index("/champion/") + 1 :] if ours else name[name.index("steps/") :]
            return f"{short}:{frame.lineno} {frame.name}"
    return "?"


if __name__ == "__main__":
    sys.exit(main())
