"""The traps of runs: `get_children` filters that match nothing, `run.log` values stored as their
repr, and `Run.get_context()` returning an offline run inside a local pipeline step whose process
lost the step's run variables."""

from __future__ import annotations

import json
import numbers
import types
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from champion.local import _sdk
from champion.local._traps.warning import _call, _short, _warn

# --------------------------------------------------------------------------- run children


def check_children_filter(*, tags: Any = None, properties: Any = None) -> None:
    """`run.get_children(tags=..., properties=...)`: the SDK filters on the client, and only a
    str (key present) or a dict (items a subset of the run's) can match."""
    for field, value in (("tags", tags), ("properties", properties)):
        if value is None or isinstance(value, str):
            continue
        call = _call("run.get_children", **{field: value})
        if isinstance(value, dict):
            odd = {k: v for k, v in value.items() if v is not None and not isinstance(v, str)}
            if odd:
                meant = {k: (str(v) if k in odd else v) for k, v in value.items()}
                _warn(
                    f"children-filter-{field}",
                    f"{call}: Azure ML compares the values as given with the run's {field}, "
                    f"which are stored as strings, so {_short(next(iter(odd.values())))} never "
                    f"equals {str(next(iter(odd.values())))!r} and this yields no run. Pass "
                    f"{field}={_short(meant)}.",
                )
            continue
        _warn(
            f"children-filter-{field}",
            f"{call}: Azure ML filters children on the client and a {type(value).__name__} "
            f"matches no run, so this yields nothing. Pass {_children_fix(field, value)}.",
        )


def _children_fix(field: str, value: Any) -> str:
    try:
        items = list(value)
    except TypeError:
        items = []
    pairs = {i[0]: i[1] for i in items if isinstance(i, list | tuple) and len(i) == 2}
    keys = [i for i in items if isinstance(i, str)]
    if pairs and not keys:
        return f"{field}={_short(pairs)} (these values)"
    if len(keys) == 1 and not pairs:
        return f"{field}={keys[0]!r} (key present)"
    if keys:
        return (
            f"{field}={keys[0]!r} (one key present) or a dict of values, and test any other "
            f"keys in child.{field} yourself"
        )
    return f"{field}='key' (key present) or {field}={{'key': 'value'}} (these values)"


# --------------------------------------------------------------------------- metrics


def check_metric_value(name: Any, value: Any) -> None:
    """`run.log(name, value)`: a list, range or generator raises in the SDK; any other value
    whose exact type the SDK does not know is logged as the string `repr(value)`."""
    if isinstance(value, list | range | types.GeneratorType) or _sdk.metric_kept(value):
        return
    kind = type(value)
    kind_name = f"{kind.__module__}.{kind.__qualname__}".removeprefix("builtins.")
    if isinstance(value, numbers.Integral):
        fix = f"run.log({name!r}, int(value))"
    elif isinstance(value, numbers.Real):
        fix = f"run.log({name!r}, float(value))"
    elif isinstance(value, Iterable) and not isinstance(value, str | bytes | Mapping):
        fix = f"run.log_list({name!r}, [float(v) for v in value]) for a series of values"
    else:
        fix = f"a plain int, float, bool or str, e.g. run.log({name!r}, str(value))"
    _warn(
        "metric-repr",
        f"{_call('run.log', repr(name), _short(value))}: Azure ML stores a {kind_name} as its "
        f"repr, the string {_short(repr(value))}, not as a number or a value you can plot or "
        f"compare. Pass {fix}.",
    )


# --------------------------------------------------------------------------- run context

#: Written by the local pipeline runner next to each step's working directory.
STEP_MARKER = "champion-step.json"


def mark_step_workdir(workdir: Path, *, step: str, run_id: str) -> None:
    """Leave a note beside a local step's working directory (in its parent, so the step does
    not see a stray file in its CWD): a process that starts there without the step's run
    variables can then be told apart from one outside any step."""
    note = {"step": step, "run_id": run_id, "workdir": str(workdir.resolve())}
    (workdir.parent / STEP_MARKER).write_text(json.dumps(note))


def _step_note() -> dict[str, str] | None:
    try:
        cwd = Path.cwd().resolve()
        note = json.loads((cwd.parent / STEP_MARKER).read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(note, dict) or note.get("workdir") != str(cwd):
        return None
    return {str(k): str(v) for k, v in note.items()}


def check_offline_context(result: Any) -> None:
    """`Run.get_context()` returned `result`; warn when it is the SDK's offline run although
    this process runs inside a local pipeline step (its working directory is the step's)."""
    if not type(result).__name__ == "_OfflineRun":
        return
    note = _step_note()
    if note is None:
        return
    _warn(
        "offline-context",
        f"Run.get_context() returned an offline run ({getattr(result, 'id', '?')}) inside local "
        f"pipeline step {note.get('step')!r} (step run {note.get('run_id')}): this process has "
        "no CHAMPION_RUN_ID, so what it logs, tags and uploads is only printed and never "
        "reaches the step's run. Azure ML does the same when the AZUREML_* variables do not "
        "reach a process (a subprocess started with its own env=). Pass the environment on "
        "(subprocess.run(..., env={**os.environ, ...})), or call "
        "Run.get_context(allow_offline=False) to fail instead.",
    )
