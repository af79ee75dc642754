"""`PatchSession`: what every fake of an SDK (`mock_azureml()`, `mock_azure_ai_ml()`) does the
same way: start and stop nesting like a counter, patches and environment variables restored
exactly, a context manager and a decorator, and the workspace folder decided at start.

Why one home: these are the promises a test relies on most ("after the block, the SDK is the
SDK again"), and two copies of them drift (one restored inheritance, the other forgot the
environment). A fake says only what it serves (`_open`) and what it tears down (`_close`)."""

from __future__ import annotations

import contextlib
import functools
import os
import threading
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Any, ClassVar, Generic, ParamSpec, Self, TypeVar

from champion import _env

P = ParamSpec("P")
T = TypeVar("T")
S = TypeVar("S")  # the service a started session answers with

# One lock for every fake: a v1 and a v2 mock may be started by the same test.
active_lock = threading.RLock()


class PatchSession(Generic[S]):
    """One session of a fake over one local workspace folder.

    A subclass sets `label` (its function's name, for the errors), keeps its own `active`
    list (the started sessions, innermost last: patches nest, so they are undone in reverse
    order), and implements `_open()` (patch, return the service) and may extend `_close()`."""

    label: ClassVar[str]
    active: ClassVar[list[Any]]

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        self._path = path
        self._depth = 0
        self._saved: list[tuple[object, str, bool, object]] = []
        self._environ: dict[str, str | None] = {}
        self._service: S | None = None

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> None:
        with active_lock:
            self._depth += 1
            if self._depth > 1:
                return
            try:
                service = self._open()
            except BaseException:
                self._close()
                self._depth = 0
                raise
            self._service = service
            type(self).active.append(self)

    def stop(self) -> None:
        with active_lock:
            if self._depth == 0:
                raise RuntimeError(f"{self.label}: stop() called on a mock that is not started")
            if self._depth == 1 and type(self).active[-1] is not self:
                raise RuntimeError(
                    f"{self.label}: nested mocks must be stopped in reverse order of starting"
                )
            self._depth -= 1
            if self._depth > 0:
                return
            type(self).active.pop()
            self._close()
            self._service = None

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __call__(self, func: Callable[P, T]) -> Callable[P, T]:
        """Use the mock as a decorator: the function runs with the mock started."""

        @functools.wraps(func)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
            with self:
                return func(*args, **kwargs)

        return wrapper

    # ------------------------------------------------------------------ for subclasses

    def _open(self) -> S:
        raise NotImplementedError

    def _close(self) -> None:
        """Undo every patch and variable, innermost first; also after a failed `_open()`."""
        while self._saved:
            owner, name, had_own, original = self._saved.pop()
            if had_own:
                setattr(owner, name, original)
            else:
                delattr(owner, name)
        for name, value in self._environ.items():
            if value is not None:
                os.environ[name] = value
                continue
            with contextlib.suppress(KeyError):
                del os.environ[name]
        self._environ.clear()

    def _started(self) -> S:
        if self._service is None:
            raise RuntimeError(f"{self.label} is not started; use it as a context manager")
        return self._service

    def _resolve_path(self) -> Path:
        """Resolved at start, not at construction, so a decorator honours the CWD and the
        environment of the call (the local runner sets CHAMPION_WORKSPACE per step): the
        argument, else `$CHAMPION_WORKSPACE`, else `.champion` in the working directory."""
        if self._path is not None:
            return Path(self._path)
        env = _env.workspace()
        return Path(env) if env else Path.cwd() / _env.DEFAULT_WORKSPACE_FOLDER

    def _patch(self, owner: object, name: str, value: object) -> None:
        # Save the raw attribute (a staticmethod/classmethod object, not what getattr returns),
        # and whether the owner had it at all, so the close restores inheritance exactly.
        own = vars(owner)
        self._saved.append((owner, name, name in own, own.get(name)))
        setattr(owner, name, value)

    def _set_env(self, name: str, value: str) -> None:
        """Set a variable for the session (and the processes it starts); restored on stop."""
        if name not in self._environ:
            self._environ[name] = _env.get(name)
        os.environ[name] = value
