"""A user's pipeline file: imported by path, its `build_spec` found and called, and every mistake
in it said as one line naming `FILE:LINE` (InputError, exit 2).

Why one loader: a syntax error, a failed import, an exception inside `build_spec` or a
`build_spec` that returns something other than a PipelineSpec are all mistakes in the user's
own file, yet they reached the command line as "a bug in champion" (exit 1) or "the service
failed" (exit 3). Every entry that runs a pipeline file (`champion pipeline run|validate|
submit|publish FILE`, `champion run FILE`, and `python FILE` through
`champion.pipeline.driver.main(spec_builder=...)`) goes through here, so each says it the same
way: where in the user's file, and what is wrong there.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import os
import re
import sys
import traceback
from collections.abc import Callable, Mapping
from pathlib import Path
from types import ModuleType
from typing import Any

from champion.errors import ChampionError, InputError
from champion.pipeline.spec import PipelineSpec

__all__ = ["SpecBuilder", "build", "builder_of", "load_pipeline_file", "location"]

SpecBuilder = Callable[..., PipelineSpec]
"""A pipeline file's `build_spec`: keyword arguments in, a PipelineSpec out."""

_MODULE_NAME_UNSAFE = re.compile(r"\W")
_FIELD = "pipeline file"


def load_pipeline_file(path: str | os.PathLike[str]) -> ModuleType:
    """Import a pipeline file (e.g. `pipelines/iris.py`) by path and return the module, so a CLI
    can call its `main` or `build_spec` without the file being on sys.path or in a package.

    The module gets a name derived from the file's absolute path, so two files called `iris.py`
    in different folders do not replace each other, and loading the same file again returns the
    module already loaded instead of executing it twice. Anything the file raises while it is
    imported is an InputError naming the file and line.
    """
    file = Path(path).expanduser().resolve()
    if not file.is_file():
        raise InputError(f"pipeline file not found: {file}", field=_FIELD, value=os.fspath(path))
    digest = hashlib.sha256(str(file).encode()).hexdigest()[:12]
    name = f"_champion_pipeline_{_MODULE_NAME_UNSAFE.sub('_', file.stem)}_{digest}"
    loaded = sys.modules.get(name)
    if loaded is not None:
        return loaded
    module_spec = importlib.util.spec_from_file_location(name, file)
    if module_spec is None or module_spec.loader is None:
        raise InputError(
            f"{file} cannot be imported as a Python module; a pipeline file ends in .py",
            field=_FIELD,
            value=os.fspath(path),
        )
    module = importlib.util.module_from_spec(module_spec)
    # Registered before executing, as import does: dataclasses and pickling look modules up here.
    sys.modules[name] = module
    try:
        module_spec.loader.exec_module(module)
    except BaseException as exc:
        with contextlib.suppress(KeyError):
            del sys.modules[name]
        if isinstance(exc, KeyboardInterrupt):
            raise
        raise _users_mistake(exc, {file}, "while the pipeline file was imported") from None
    return module


def builder_of(path: str | os.PathLike[str]) -> SpecBuilder:
    """The `build_spec` of the pipeline file at `path`."""
    module = load_pipeline_file(path)
    builder = getattr(module, "build_spec", None)
    if not callable(builder):
        raise InputError(
            f"{_shown(Path(path))} defines no build_spec(); a pipeline file defines "
            "`def build_spec(*, ...) -> champion.pipeline.PipelineSpec`",
            field=_FIELD,
            value=os.fspath(path),
        )
    return builder  # type: ignore[no-any-return]


def build(builder: SpecBuilder, kwargs: Mapping[str, Any]) -> PipelineSpec:
    """`builder(**kwargs)`, checked: what it raises, or a result that is not a PipelineSpec, is
    an InputError naming the line of the user's file it happened on."""
    try:
        spec = builder(**kwargs)
    except KeyboardInterrupt:
        raise
    except BaseException as exc:  # SystemExit too: a build_spec that exits is a mistake
        raise _users_mistake(exc, _files_of(builder), "in build_spec") from None
    if not isinstance(spec, PipelineSpec):
        got = "None" if spec is None else f"a {type(spec).__name__}"
        raise InputError(
            f"{location(builder)}: build_spec returned {got}, not a "
            "champion.pipeline.PipelineSpec; end it with `return PipelineSpec(name, steps, "
            "source_directory)`",
            field="build_spec",
            value=got,
        )
    return spec


def location(builder: Callable[..., Any]) -> str:
    """`FILE:LINE` of the `def` of `builder`, for messages about its signature or result."""
    code = getattr(builder, "__code__", None)
    if code is None:
        return getattr(builder, "__qualname__", repr(builder))
    return f"{_shown(Path(code.co_filename))}:{code.co_firstlineno}"


def _files_of(builder: Callable[..., Any]) -> set[Path]:
    code = getattr(builder, "__code__", None)
    return set() if code is None else {Path(code.co_filename).resolve()}


def _users_mistake(exc: BaseException, files: set[Path], when: str) -> InputError:
    """One line for an exception raised by the user's file: where (a syntax error's own
    place, else the deepest frame in `files`, else the frame that raised), and what."""
    if isinstance(exc, SyntaxError) and exc.filename:
        where = f"{_shown(Path(exc.filename))}:{exc.lineno}"
        what = f"{type(exc).__name__}: {exc.msg}"
    else:
        frames = list(traceback.walk_tb(exc.__traceback__))
        ours = [f for f in frames if Path(f[0].f_code.co_filename).resolve() in files]
        frame, line = (ours or frames)[-1] if frames else (None, 0)
        where = f"{_shown(Path(frame.f_code.co_filename))}:{line}" if frame else "?"
        if isinstance(exc, SystemExit):  # e.g. `sys.exit(main())` without a __main__ guard
            what = f'sys.exit({exc.code!r}) was called; call it under `if __name__ == "__main__":`'
        elif isinstance(exc, ChampionError):
            what = exc.message
        else:
            what = f"{type(exc).__name__}: {exc}"
    return InputError(f"{where}: {what} ({when}); fix the pipeline file", field=_FIELD, value=where)


def _shown(path: Path) -> str:
    """A path as the user would type it: relative to the working folder when inside it."""
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)
