"""`AzureMLTrapWarning`, and how a trap is warned: once per call site (the first frame outside
`champion.local` and `azureml`), with the warnings module's own semantics."""

from __future__ import annotations

import os
import sys
import types
import warnings
from typing import Any


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

# This module is in champion/local/_traps/: the local workspace's folder and champion's are its
# parent and grandparent.
_LOCAL_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep
_CHAMPION_DIR = os.path.dirname(_LOCAL_DIR.rstrip(os.sep)) + os.sep
# One warnings registry per (file, line, trap): see _warn.
_site_registries: dict[tuple[str, int, str], dict[Any, Any]] = {}


def _skipped_dirs(whole_package: bool) -> tuple[str, ...]:
    """Frames in these folders are the fake or the SDK, not the caller. The SDKs' folders are
    read from the imported packages (a namespace package may span several): `azureml` (v1) and
    `azure` (azure-ai-ml, and the azure-core and azure-storage code it calls)."""
    dirs = [_CHAMPION_DIR if whole_package else _LOCAL_DIR]
    for package in ("azureml", "azure"):
        for path in getattr(sys.modules.get(package), "__path__", None) or ():
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
