"""The traps of azure-ai-ml's model registry: calls Azure accepts (or the SDK lets through)
that do something other than what they read like. As for v1 (`champion.local._traps`), the
fake answers exactly as Azure does and warns with `AzureMLTrapWarning`, once per call site:

- `models.get(name, label="latest")` right after an archive or restore of that name: Azure's
  list index is updated asynchronously (azure-ai-ml's own e2e tests wait 30 s before listing),
  so "latest" there may still be the version just archived, or miss the one just restored.
  The local workspace answers from a consistent store; a test that passes here can fail there.
- Comparing two model versions: they are strings (`Model.version`), so `max(...)`, `sorted` or
  `>` compare text, and "9" > "10". (The comparison still compares text, as on Azure.)
- `ml_client.models.update(...)`: there is no such operation; it raises `AttributeError` as
  it does on Azure, after saying what to call instead.
"""

from __future__ import annotations

import functools
import os
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

from champion.local._traps.warning import _skipped_dirs, _warn

#: How long after an archive or restore a "latest" read is a trap: Azure's e2e tests wait 30 s
#: for the list index; twice that is "right after".
LATEST_WINDOW_S = 60.0
Patch = tuple[object, str, object]


class ArchiveClock:
    """When each model name was last archived or restored, in this session."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._when: dict[str, float] = {}

    def archived(self, name: str) -> None:
        with self._lock:
            self._when[name] = time.monotonic()

    def latest_read(self, name: str) -> None:
        with self._lock:
            when = self._when.get(name)
        if when is None or time.monotonic() - when > LATEST_WINDOW_S:
            return
        _warn(
            "v2-latest-after-archive",
            f"ml_client.models.get({name!r}, label='latest') right after an archive or restore "
            f"of {name!r}: Azure ML updates the list behind 'latest' asynchronously (its own "
            "tests wait 30 s), so there it may still return the version just archived, or miss "
            "the one just restored; the local workspace answers at once. Read the version you "
            f"mean by number (ml_client.models.get({name!r}, version=...)), or list with "
            "ml_client.models.list(name) and choose.",
        )


class VersionString(str):
    """A model version as azure-ai-ml hands it out (a `str`), which warns when it is ordered
    against another version: text order is not version order."""

    __slots__ = ()

    def _compare(self, other: Any, op: Callable[[str, str], bool], symbol: str) -> bool:
        result = op(str(self), str(other))
        if isinstance(other, str) and str(self).isdigit() and str(other).isdigit():
            if not _from_sdk(sys._getframe(2)):
                _warn(
                    "v2-version-order",
                    f"comparing model versions {str(self)!r} {symbol} {str(other)!r}: "
                    "azure-ai-ml's Model.version is a string, so max(), sorted() and < compare "
                    "text ('9' > '10'). Compare numbers: max(models, key=lambda m: "
                    "int(m.version)), or int(a.version) < int(b.version).",
                )
        return result

    def __lt__(self, other: Any) -> bool:
        return self._compare(other, str.__lt__, "<")

    def __le__(self, other: Any) -> bool:
        return self._compare(other, str.__le__, "<=")

    def __gt__(self, other: Any) -> bool:
        return self._compare(other, str.__gt__, ">")

    def __ge__(self, other: Any) -> bool:
        return self._compare(other, str.__ge__, ">=")

    def __reduce__(self) -> tuple[Any, ...]:
        return (str, (str(self),))  # pickles, copies and serialises as the plain str it is


def _from_sdk(frame: Any) -> bool:
    """Whether the comparison was made by the SDK (or by champion), not by the caller."""
    if frame is None:
        return True
    filename = os.path.abspath(str(frame.f_code.co_filename))
    return filename.startswith(_skipped_dirs(True))


def trap_patches(clock: ArchiveClock) -> list[Patch]:
    """(owner, attribute, replacement): `ModelOperations.get` looks at a `label="latest"` read
    (the SDK's own internal reads of the latest version are not the caller's), model versions
    are handed out as `VersionString`, and `ModelOperations.update` is answered with Azure's
    `AttributeError` after the warning. Each calls what it replaces and changes nothing."""
    from azure.ai.ml.entities import Model
    from azure.ai.ml.operations import ModelOperations

    from_rest = vars(Model)["_from_rest_object"].__func__
    original_get = vars(ModelOperations)["get"]

    @functools.wraps(original_get)
    def get(self: Any, name: str, version: Any = None, label: Any = None) -> Any:
        if label == "latest" and not version:
            clock.latest_read(name)
        return original_get(self, name, version, label)

    def _from_rest_object(cls: Any, model_rest_object: Any) -> Any:
        model = from_rest(cls, model_rest_object)
        if isinstance(model.version, str) and type(model.version) is str:
            model.version = VersionString(model.version)
        return model

    def __getattr__(self: Any, name: str) -> Any:
        if name == "update":
            _warn(
                "v2-models-update",
                "ml_client.models.update(...): azure-ai-ml has no models.update, so this "
                "raises AttributeError on Azure too. To change a version's tags or "
                "description, send the version again with the same path: "
                "ml_client.models.create_or_update(Model(name=..., version=..., path=<its "
                "path>, tags=...)); its properties and files cannot change: register a new "
                "version.",
            )
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    return [
        (ModelOperations, "get", get),
        (Model, "_from_rest_object", classmethod(_from_rest_object)),
        (ModelOperations, "__getattr__", __getattr__),
    ]
