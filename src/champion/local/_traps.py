"""The SDK's silent traps: calls Azure ML accepts and answers with something other than what
they read like, detected so the local workspace can say so.

Why: `Model(ws, name, tags={"build_number": "20190809.2"})` reads like "the version built by
20190809.2", but the SDK iterates the dict's keys and Azure ML returns the latest version that has
*any* `build_number` tag. The local workspace must return exactly that (it is a faithful fake);
a test on a laptop is where such a call should be caught, before it picks the wrong model in
production. So both faces (the `champion.local` classes, and the real SDK under
`mock_azureml()`) keep Azure's answer AND emit `AzureMLTrapWarning`, naming the call, what Azure
does with it, and the form that does what the caller meant.

The traps, each a `check_*` function called by the face at the point the SDK reads the
arguments (the local classes call them directly; under the mock, `sdk_observers()` wraps the
SDK's public entry points, looks at the arguments and the result, and changes nothing):

- `Model(...)` lookups and `Model.list(...)`: a dict or str where the SDK expects a list of
  `'key'` / `['key', 'value']` items (values ignored, or a str iterated per character); a `,`
  in a key or value, or `=` in a key (the SDK joins the filters unescaped); filters ignored
  because `id=` or `version=` is given.
- `run.get_children(tags=..., properties=...)`: a list (or anything but a str or dict) matches
  no child; a dict value that is not a str never equals a run's tag (stored as str).
- `run.log(name, value)`: a value the SDK does not convert is stored as its `repr` string.
- `Run.get_context()` returning an offline run inside a local pipeline step whose process lost
  the step's run variables.
- A pipeline step with `allow_reuse=True` that is, or feeds, a register step.

Each is warned once per call site (the first frame outside `champion.local` and `azureml`), with
the warnings module's own semantics: shown once per location under the default action, reset
whenever the warning filters change (each pytest test, `catch_warnings`), every time under
"always", and raised under "error" (`pytest -W error::champion.local.AzureMLTrapWarning`).

Importing this module does not import azureml.
"""

from __future__ import annotations

import functools
import inspect
import json
import numbers
import os
import sys
import types
import warnings
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, Protocol

from champion.local import _sdk

__all__ = [
    "PYTEST_FILTER",
    "STEP_MARKER",
    "AzureMLTrapWarning",
    "check_children_filter",
    "check_metric_value",
    "check_model_list",
    "check_model_lookup",
    "check_offline_context",
    "check_pipeline_spec",
    "mark_step_workdir",
    "raise_on_traps",
    "sdk_observers",
]


class AzureMLTrapWarning(UserWarning):
    """A call Azure ML accepts and quietly answers with something other than what it reads like.

    The local workspace still returns exactly what Azure ML returns; the warning names the call,
    what Azure does with it, and the form that does what was meant. Make it an error to let a
    test fail on it: `pytest -W error::champion.local.AzureMLTrapWarning`, the `filterwarnings`
    ini line `error::champion.local.AzureMLTrapWarning`, or `raise_on_traps()` in a script."""

    __module__ = "champion.local"  # its public home, as tracebacks and -W filters name it


#: The pytest `filterwarnings` / `-W` entry that turns every trap into a failing test.
PYTEST_FILTER = "error::champion.local.AzureMLTrapWarning"


def raise_on_traps() -> None:
    """Make every `AzureMLTrapWarning` raise from here on (outside pytest, e.g. a smoke script);
    inside `warnings.catch_warnings()` the change ends with the block."""
    warnings.filterwarnings("error", category=AzureMLTrapWarning)


# --------------------------------------------------------------------------- emitting

_LOCAL_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep
_CHAMPION_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep
# One warnings registry per (file, line, trap): see _warn.
_site_registries: dict[tuple[str, int, str], dict[Any, Any]] = {}


def _skipped_dirs(whole_package: bool) -> tuple[str, ...]:
    """Frames in these folders are the fake or the SDK, not the caller. The azureml folders are
    read from the imported package (a namespace package may span several)."""
    dirs = [_CHAMPION_DIR if whole_package else _LOCAL_DIR]
    azureml = sys.modules.get("azureml")
    for path in getattr(azureml, "__path__", None) or ():
        dirs.append(os.path.abspath(path) + os.sep)
    return tuple(dirs)


def _call_site(whole_package: bool) -> types.FrameType:
    """The innermost frame that is neither the fake nor the SDK: the caller's line."""
    skipped = _skipped_dirs(whole_package)
    outermost = sys._getframe(1)
    frame: types.FrameType | None = outermost
    while frame is not None:
        if not os.path.abspath(frame.f_code.co_filename).startswith(skipped):
            return frame
        outermost, frame = frame, frame.f_back
    return outermost


def _warn(trap: str, text: str, *, whole_package: bool = False) -> None:
    """Warn once per call site, letting the warnings module decide everything else.

    The warnings module remembers a warning by its text and line, so a call in a loop with a
    different value each time would warn each time. Each (file, line, trap) gets its own
    registry: once a warning was recorded there, the next text is pre-recorded too, and the
    warnings machinery itself drops that record when the filters changed since (a new test, a
    `catch_warnings` block). Under "always" or "error" nothing is recorded, so every call warns
    or raises."""
    frame = _call_site(whole_package)
    filename, lineno = frame.f_code.co_filename, frame.f_lineno
    registry = _site_registries.setdefault((filename, lineno, trap), {})
    if any(key != "version" for key in registry):
        registry[(text, AzureMLTrapWarning, lineno)] = True
    warnings.warn_explicit(
        text,
        AzureMLTrapWarning,
        filename,
        lineno,
        module=frame.f_globals.get("__name__", "<unknown>"),
        registry=registry,
    )


def _short(value: Any, limit: int = 120) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _call(function: str, *positional: str, **given: Any) -> str:
    """How the call reads, with the arguments that were given: `Model(ws, 'm', tags={...})`."""
    parts = [*positional, *(f"{k}={_short(v)}" for k, v in given.items() if v is not None)]
    return f"{function}({', '.join(parts)})"


# --------------------------------------------------------------------------- Model lookups

_SINGULAR = {"tags": "tag", "properties": "property"}


def check_model_lookup(
    *,
    name: Any = None,
    id: Any = None,
    tags: Any = None,
    properties: Any = None,
    version: Any = None,
    run_id: Any = None,
    model_framework: Any = None,
) -> None:
    """`Model(workspace, name, id, tags, properties, version, run_id, model_framework)`, as
    `Model._get` reads it: id wins over everything, then version over the filters, then a
    query whose tag/property items are joined into one unescaped string."""
    if not id and not name:
        return  # the SDK raises
    given = {
        "tags": tags,
        "properties": properties,
        "run_id": run_id,
        "model_framework": model_framework,
    }
    if id or version:
        ignored = {k: v for k, v in given.items() if v}
        if id:
            if name and name != str(id).rpartition(":")[0]:
                ignored = {"name": name, **ignored}
            if version and str(version) != str(id).rpartition(":")[2]:
                ignored["version"] = version
        if ignored:
            _warn_ignored_filters(name, id, version, ignored)
        return
    if not tags and not properties:
        return  # the common lookup, Model(ws, name): nothing to check
    call = _call("Model", "ws", *([repr(name)] if name else []), tags=tags, properties=properties)
    for field, value in (("tags", tags), ("properties", properties)):
        _check_filter_items(call, field, value, name)


def check_model_list(*, name: Any = None, tags: Any = None, properties: Any = None) -> None:
    """`Model.list(...)`: tags that are not a list raise in the SDK (nothing to warn about);
    properties are not checked by the SDK, so a dict or str there is iterated like the lookup."""
    if not tags and not properties:
        return
    call = _call("Model.list", "ws", name=name, tags=tags, properties=properties)
    if type(tags) is list:
        _check_filter_items(call, "tags", tags, name)
    _check_filter_items(call, "properties", properties, name)


def _warn_ignored_filters(name: Any, id: Any, version: Any, ignored: Mapping[str, Any]) -> None:
    model_id = id or f"{name}:{version}"
    call = _call("Model", "ws", *([repr(name)] if name else []), id=id, version=version)
    extra = ", ".join(f"{k}={_short(v)}" for k, v in ignored.items() if k != "name")
    shown = f"{call[:-1]}, {extra})" if extra else call
    what = ", ".join(ignored)
    by = "id=" if id else "version="
    search = _call(
        "Model.list",
        "ws",
        repr(str(model_id).rpartition(":")[0]),
        tags=ignored.get("tags"),
        properties=ignored.get("properties"),
        run_id=ignored.get("run_id"),
    )
    _warn(
        "model-lookup-ignored",
        f"{shown}: with {by} Azure ML fetches {model_id} directly and ignores {what}; it does "
        f"not check them, so the result need not match. To check them, compare model.tags / "
        f"model.properties of the result; to search by them, drop {by} ({search} lists every "
        "match, newest first).",
    )


def _check_filter_items(call: str, field: str, value: Any, name: Any) -> None:
    """The SDK builds the query with `for item in value: item if str else item[0]=item[1]`,
    joined by ',' with no escaping."""
    if not value:
        return
    if isinstance(value, Mapping):
        meant = [[k, v] if v is not None else k for k, v in value.items()]
        if all(v is None for v in value.values()):
            return  # keys only: the dict does what a key list does
        keys = ", ".join(repr(k) for k in value)
        _warn(
            f"model-filter-{field}",
            f"{call}: Azure ML ignores the values of a {field} dict (the SDK iterates its keys) "
            f"and answers with the versions that have the {_SINGULAR[field]} key(s) {keys}, "
            "whatever their values (a lookup takes the latest of them). To match the values, "
            f"pass {field}={_short(meant)}.",
        )
        return
    if isinstance(value, str):
        _warn(
            f"model-filter-{field}",
            f"{call}: the SDK iterates a {field} string character by character, so Azure ML "
            f"looks for {field} named {', '.join(repr(c) for c in dict.fromkeys(value))}. To "
            f"ask for the key {value!r}, pass {field}={[value]!r}.",
        )
        return
    if not isinstance(value, Iterable):
        return
    for item in value:
        pair = type(item) is list
        if pair and len(item) < 2:
            return  # the SDK's item[1] raises IndexError
        key, text = (item[0], item[1]) if pair else (item, None)
        if not isinstance(key, str) or (pair and not isinstance(text, str)):
            return  # the SDK's string concatenation raises TypeError
        if "," in key or "=" in key or (text is not None and "," in text):
            joined = f"{key}={text}" if pair else key
            search = _call("Model.list", "ws", *([repr(name)] if name else []), **{field: [key]})
            _warn(
                f"model-filter-{field}",
                f"{call}: the SDK joins {field} filters into one string without escaping, so "
                f"Azure ML reads {joined!r} as {_reading(joined)}, not as the "
                f"{'value' if pair else 'key'} you gave. No filter can express it: search by "
                f"key ({search}) and compare model.{field}[{key!r}] yourself.",
            )
            return


def _reading(joined: str) -> str:
    terms = []
    for term in joined.split(","):
        key, sep, value = term.partition("=")
        terms.append(f"{key!r} = {value!r}" if sep else f"{key!r} present")
    return " and ".join(terms)


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


# --------------------------------------------------------------------------- pipeline specs


class _StepLike(Protocol):
    """`champion.pipeline.spec.Step`, read-only (local/ does not import pipeline/)."""

    @property
    def name(self) -> str: ...

    @property
    def script(self) -> str: ...

    @property
    def allow_reuse(self) -> bool: ...

    @property
    def inputs(self) -> tuple[Any, ...]: ...

    @property
    def outputs(self) -> tuple[Any, ...]: ...


class _SpecLike(Protocol):
    @property
    def steps(self) -> tuple[_StepLike, ...]: ...


def is_register_step(step: _StepLike) -> bool:
    """A step that registers models: its name or its script's name says "register"."""
    script = os.path.splitext(os.path.basename(str(step.script)))[0]
    return "register" in str(step.name).lower() or "register" in script.lower()


def check_pipeline_spec(spec: _SpecLike) -> None:
    """A step with allow_reuse=True that is a register step or feeds one (through its outputs).

    Azure ML reuses such a step's earlier run when its script, arguments and inputs are
    unchanged: it does not run. The local runner runs every step, so only a warning shows it."""
    producers: dict[Any, list[_StepLike]] = {}
    for step in spec.steps:
        for ref in step.outputs:
            producers.setdefault(ref, []).append(step)
    for register in (s for s in spec.steps if is_register_step(s)):
        if register.allow_reuse:
            _warn(
                "reused-step",
                f"step {register.name!r} ({register.script}) has allow_reuse=True: when its "
                "script, arguments and inputs are unchanged, Azure ML does not run it but "
                "reuses its earlier run, so nothing is compared or registered and the pipeline "
                "run still completes. The local runner runs every step. Pass "
                "Step(..., allow_reuse=False).",
                whole_package=True,
            )
        for feeder in _upstream(register, producers):
            if feeder.allow_reuse:
                _warn(
                    "reused-step",
                    f"step {feeder.name!r} ({feeder.script}) feeds register step "
                    f"{register.name!r} and has allow_reuse=True: when its script, arguments "
                    "and inputs are unchanged, Azure ML does not run it, so what it would set "
                    "on the new pipeline run (tags such as the metric, logs) is missing and "
                    f"{register.name!r} reads the earlier run's outputs. The local runner runs "
                    "every step. Pass Step(..., allow_reuse=False).",
                    whole_package=True,
                )


def _upstream(step: _StepLike, producers: Mapping[Any, list[_StepLike]]) -> list[_StepLike]:
    """Every step whose outputs reach `step`, nearest first, each once (by identity)."""
    found: list[_StepLike] = []
    seen = {id(step)}
    pending = [step]
    while pending:
        current = pending.pop(0)
        for ref in current.inputs:
            for producer in producers.get(ref, []):
                if id(producer) not in seen:
                    seen.add(id(producer))
                    found.append(producer)
                    pending.append(producer)
    return found


# --------------------------------------------------------------------------- the real SDK


def sdk_observers() -> list[tuple[object, str, object]]:
    """(owner, attribute, replacement) for the SDK's entry points the traps watch, to apply on
    top of the mock's own patches. Each replacement calls the attribute it replaces with the
    same arguments and returns its result unchanged; it only looks."""
    from azureml.core import Model, Run

    def model_init(original: Callable[..., None]) -> Callable[..., None]:
        signature = inspect.signature(original)

        @functools.wraps(original)
        def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
            bound = signature.bind(self, *args, **kwargs).arguments
            if bound.get("workspace") is not None and not kwargs.get("_model_dto"):
                check_model_lookup(
                    **{
                        key: bound.get(key)
                        for key in ("name", "id", "tags", "properties", "version")
                    },
                    run_id=bound.get("run_id"),
                    model_framework=bound.get("model_framework"),
                )
            original(self, *args, **kwargs)

        return __init__

    def model_list(original: Callable[..., Any]) -> Callable[..., Any]:
        signature = inspect.signature(original)

        @functools.wraps(original)
        def list_(*args: Any, **kwargs: Any) -> Any:
            bound = signature.bind(*args, **kwargs).arguments
            check_model_list(
                name=bound.get("name"), tags=bound.get("tags"), properties=bound.get("properties")
            )
            return original(*args, **kwargs)

        return list_

    def get_children(original: Callable[..., Any]) -> Callable[..., Any]:
        signature = inspect.signature(original)

        @functools.wraps(original)
        def get_children(*args: Any, **kwargs: Any) -> Any:
            bound = signature.bind(*args, **kwargs).arguments
            check_children_filter(tags=bound.get("tags"), properties=bound.get("properties"))
            return original(*args, **kwargs)

        return get_children

    def log(original: Callable[..., Any]) -> Callable[..., Any]:
        signature = inspect.signature(original)

        @functools.wraps(original)
        def log(*args: Any, **kwargs: Any) -> Any:
            bound = signature.bind(*args, **kwargs).arguments
            check_metric_value(bound.get("name"), bound.get("value"))
            return original(*args, **kwargs)

        return log

    context = vars(Run)["get_context"]
    context_func = context.__func__

    @functools.wraps(context_func)
    def get_context(cls: Any, *args: Any, **kwargs: Any) -> Any:
        result = context_func(cls, *args, **kwargs)
        check_offline_context(result)
        return result

    return [
        (Model, "__init__", model_init(vars(Model)["__init__"])),
        (Model, "list", staticmethod(model_list(vars(Model)["list"].__func__))),
        (Run, "get_children", get_children(vars(Run)["get_children"])),
        (Run, "log", log(vars(Run)["log"])),
        (Run, "get_context", classmethod(get_context)),
    ]
