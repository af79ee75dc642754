"""`MockAzureML`, one mock session: starting and stopping it, the patches it applies and
restores exactly, and the faults a test injects. It imports no azureml until `start()`."""

from __future__ import annotations

import functools
import os
import threading
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar, overload

from champion import _env
from champion.local._traps import sdk_observers
from champion.local.mock.faults import OPERATIONS, Fault
from champion.local.store import Store

if TYPE_CHECKING:
    from champion.local.mock.service import LocalService

P = ParamSpec("P")
T = TypeVar("T")

WORKSPACE_ENV = _env.WORKSPACE
DEFAULT_FOLDER = _env.DEFAULT_WORKSPACE_FOLDER


# Active sessions, innermost last: patches nest, so they must be undone in reverse order.
_active: list[MockAzureML] = []
_active_lock = threading.RLock()


def active_store() -> Store | None:
    """The store answering the innermost active mock (None when no mock is active): the
    local workspace behind the real SDK's objects, for champion's own checks on it."""
    with _active_lock:
        return _active[-1].store if _active else None


class MockAzureML:
    """One mock session over one local workspace folder.

    `start()`/`stop()` nest like a counter (a decorated function may call another), and a
    stopped mock can be started again. Every patched attribute is restored exactly on stop. How
    to use it: `champion.local.mock`."""

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        self._path = path
        self._depth = 0
        self._saved: list[tuple[object, str, bool, object]] = []
        self._service: LocalService | None = None
        self._faults: dict[str, list[Fault]] = {}
        self._lock = threading.Lock()
        #: Operation names (see `OPERATIONS`) in call order: the REST round trips the SDK made.
        self.calls: list[str] = []

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> None:
        with _active_lock:
            self._depth += 1
            if self._depth > 1:
                return
            try:
                # imported here: the service imports azureml, which costs most of a second
                from champion.local.mock.service import LocalService

                # created if new, as moto starts empty: the mock is a test's own registry
                service = LocalService(Store.create(self._resolve_path()), self._record)
                for owner, name, value in service.patches():
                    self._patch(owner, name, value)
                # On top of the service's patches: they look at the SDK's arguments and warn
                # about its silent traps (champion.local._traps), and change nothing.
                for owner, name, value in sdk_observers():
                    self._patch(owner, name, value)
            except BaseException:
                self._restore()
                self._depth = 0
                raise
            self._service = service
            _active.append(self)

    def stop(self) -> None:
        with _active_lock:
            if self._depth == 0:
                raise RuntimeError("mock_azureml: stop() called on a mock that is not started")
            if self._depth == 1 and _active[-1] is not self:
                raise RuntimeError(
                    "mock_azureml: nested mocks must be stopped in reverse order of starting"
                )
            self._depth -= 1
            if self._depth > 0:
                return
            _active.pop()
            self._restore()
            self._service = None
            with self._lock:
                self._faults.clear()

    def __enter__(self) -> MockAzureML:
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

    # ------------------------------------------------------------------ what a test uses

    @property
    def workspace(self) -> Any:
        """A real `azureml.core.Workspace` answered by the local store (the same one
        `Workspace.from_config()` returns inside the mock)."""
        return self._started().workspace

    @property
    def store(self) -> Store:
        return self._started().store

    def inject_fault(
        self,
        operation: str,
        status: int,
        times: int = 1,
        retry_after: float | None = None,
        after: int = 0,
    ) -> None:
        """Make the next `times` calls of `operation` fail as the service would with `status`,
        once `after` calls of it have succeeded (the second blob transfer of a flow, say).

        The error is the one the SDK raises at that layer: for the model service a
        `ModelErrorResponseException`, so a 404 reads "ModelNotFound: ..." and any other status
        "Received bad response from Model Management Service..."; for run history, artifacts
        metadata and assets a `ServiceException` with `.status_code`; for blob transfers an
        `AzureHttpError`. `retry_after` becomes the response's Retry-After header. A call that
        fails is still counted in `calls`, as it was still a round trip."""
        if operation not in OPERATIONS:
            raise ValueError(
                f"unknown operation {operation!r}; expected one of {', '.join(sorted(OPERATIONS))}"
            )
        if not 400 <= status <= 599:
            raise ValueError(f"status must be an HTTP error status (400-599), got {status!r}")
        if times < 1:
            raise ValueError(f"times must be at least 1, got {times!r}")
        if after < 0:
            raise ValueError(f"after must be 0 or more, got {after!r}")
        with self._lock:
            self._faults.setdefault(operation, []).append(
                Fault(status, retry_after, times, skip=after)
            )

    def inject_timeout(self, operation: str, times: int = 1, after_commit: bool = False) -> None:
        """Make the next `times` calls of `operation` time out on the client side, as a dropped
        connection or a slow service does (`requests.exceptions.ReadTimeout`). With
        `after_commit` the service completes the operation first, so a retry that repeats it
        blindly would do it twice: the case a registration retry must handle."""
        if operation not in OPERATIONS:
            raise ValueError(
                f"unknown operation {operation!r}; expected one of {', '.join(sorted(OPERATIONS))}"
            )
        if times < 1:
            raise ValueError(f"times must be at least 1, got {times!r}")
        with self._lock:
            self._faults.setdefault(operation, []).append(Fault(0, None, times, after_commit))

    # ------------------------------------------------------------------ used by the service

    def _record(self, operation: str) -> Fault | None:
        """Count one call of `operation`; return the fault it must fail with, if any."""
        with self._lock:
            self.calls.append(operation)
            pending = self._faults.get(operation)
            if not pending:
                return None
            fault = pending[0]
            if fault.skip:
                fault.skip -= 1
                return None
            fault.remaining -= 1
            if fault.remaining == 0:
                pending.pop(0)
            return fault

    # ------------------------------------------------------------------ internals

    def _started(self) -> LocalService:
        if self._service is None:
            raise RuntimeError("mock_azureml is not started; use it as a context manager")
        return self._service

    def _resolve_path(self) -> Path:
        """Resolved at start, not at construction, so a decorator honours the CWD and the
        environment of the call (the local runner sets CHAMPION_WORKSPACE per step)."""
        if self._path is not None:
            return Path(self._path)
        env = _env.workspace()
        return Path(env) if env else Path.cwd() / DEFAULT_FOLDER

    def _patch(self, owner: object, name: str, value: object) -> None:
        # Save the raw attribute (a staticmethod/classmethod object, not what getattr returns),
        # and whether the owner had it at all, so stop() restores inheritance exactly.
        own = vars(owner)
        self._saved.append((owner, name, name in own, own.get(name)))
        setattr(owner, name, value)

    def _restore(self) -> None:
        while self._saved:
            owner, name, had_own, original = self._saved.pop()
            if had_own:
                setattr(owner, name, original)
            else:
                delattr(owner, name)


@overload
def mock_azureml(path: Callable[P, T], /) -> Callable[P, T]: ...


@overload
def mock_azureml(path: str | os.PathLike[str] | None = None) -> MockAzureML: ...


def mock_azureml(
    path: Callable[P, T] | str | os.PathLike[str] | None = None,
) -> Callable[P, T] | MockAzureML:
    """A mock session (context manager or decorator) over the workspace folder `path`.

    `path` defaults to `$CHAMPION_WORKSPACE`, else `.champion` in the working directory, decided
    when the mock starts. Used bare (`@mock_azureml`), it decorates the function directly."""
    if callable(path):
        return MockAzureML()(path)
    return MockAzureML(path)
