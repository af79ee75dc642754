"""`MockAzureML`, one mock session: starting and stopping it, the patches it applies and
restores exactly, and the faults a test injects. It imports no azureml until `start()`."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar, ParamSpec, TypeVar, overload

from champion import _env
from champion.local._patch_session import PatchSession, active_lock
from champion.local._traps import sdk_observers
from champion.local.mock.faults import OPERATIONS, Fault
from champion.local.store import Store

if TYPE_CHECKING:
    from champion.local.mock.service import LocalService

P = ParamSpec("P")
T = TypeVar("T")

WORKSPACE_ENV = _env.WORKSPACE
DEFAULT_FOLDER = _env.DEFAULT_WORKSPACE_FOLDER


def active_store() -> Store | None:
    """The store answering the innermost active mock (None when no mock is active): the
    local workspace behind the real SDK's objects, for champion's own checks on it."""
    with active_lock:
        active = MockAzureML.active
        return active[-1].store if active else None


class MockAzureML(PatchSession["LocalService"]):
    """One mock session over one local workspace folder.

    `start()`/`stop()` nest like a counter (a decorated function may call another), and a
    stopped mock can be started again. Every patched attribute is restored exactly on stop. How
    to use it: `champion.local.mock`."""

    label = "mock_azureml"
    active: ClassVar[list[MockAzureML]] = []

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        super().__init__(path)
        self._faults: dict[str, list[Fault]] = {}
        self._lock = threading.Lock()
        #: Operation names (see `OPERATIONS`) in call order: the REST round trips the SDK made.
        self.calls: list[str] = []

    def _open(self) -> LocalService:
        # imported here: the service imports azureml, which costs most of a second
        from champion.local.mock.service import LocalService

        # created if new, as moto starts empty: the mock is a test's own registry
        service = LocalService(Store.create(self._resolve_path()), self._record)
        for owner, name, value in service.patches():
            self._patch(owner, name, value)
        # On top of the service's patches: they look at the SDK's arguments and warn about its
        # silent traps (champion.local._traps), and change nothing.
        for owner, name, value in sdk_observers():
            self._patch(owner, name, value)
        return service

    def _close(self) -> None:
        super()._close()
        with self._lock:
            self._faults.clear()

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
