"""`mock_azureml()`: run the REAL `azureml.core` classes against a local workspace folder.

Why: code written for Azure ML (`Workspace`, `Experiment`, `Run`, `Model` from `azureml.core`) must
run unchanged in tests and on a laptop, and must see the same data as the `champion.local`
classes. Like moto's `mock_aws`, this patches the SDK only where it talks to the service (its REST
operations and its blob transfers), so every line of the SDK's client-side logic (validation,
message formatting, path handling, exception translation) still runs as shipped. The answers come
from `champion.local.store.Store`, the one place that holds the service's rules, so both faces of
the local workspace share one folder and one behaviour.

    with mock_azureml(tmp_path) as aml:
        ws = aml.workspace                  # or Workspace.from_config()
        Model.register(ws, "model.pkl", "m")

    @mock_azureml
    def test_it(): ...

No network is attempted while a mock is active: anything the local workspace does not answer
raises `UnmockedServiceCall` (naming the SDK member and why it needs Azure) instead of reaching
Azure; it is a `BaseException`, so a bare `except Exception:` in step code cannot hide it. The
SDK's own transport retries sit below the patch points, so a failure (including one injected
with `inject_fault`) surfaces at once.

Calls that Azure ML answers with something other than what they read like (a tags dict in a
`Model` lookup, a list filter in `get_children`, ...) warn with `AzureMLTrapWarning`, as the
local classes do; the SDK still does exactly what it does on Azure.

Importing this module does not import azureml; the SDK is imported when a mock starts.
"""

from __future__ import annotations

import functools
import inspect
import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar, overload

if TYPE_CHECKING:
    from champion.local._mock_service import LocalService
    from champion.local.store import Store

__all__ = ["OPERATIONS", "MockAzureML", "UnmockedServiceCall", "mock_azureml"]

P = ParamSpec("P")
T = TypeVar("T")

WORKSPACE_ENV = "CHAMPION_WORKSPACE"
RUN_ID_ENV = "CHAMPION_RUN_ID"
DEFAULT_FOLDER = ".champion"

#: The service calls the mock answers, by the names `calls` records and `inject_fault` takes.
#: Each is one REST round trip (or one blob transfer) against a real workspace.
OPERATIONS: frozenset[str] = frozenset({
    "models.register", "models.get", "models.query", "models.patch", "models.delete",
    "assets.create", "assets.get",
    "artifacts.create", "artifacts.list", "artifacts.list_prefix", "artifacts.get_content",
    "artifacts.upload", "artifacts.download",
    "experiments.get", "experiments.create", "experiments.get_by_id", "experiments.query",
    "runs.create", "runs.get", "runs.patch", "runs.delete_tags", "runs.get_children",
    "runs.query", "runs.event", "runs.get_details",
    "metrics.log", "metrics.list_names", "metrics.get", "metrics.wait_ingest",
    "snapshots.create",
    "pipelines.get_datatypes", "pipelines.get_run", "pipelines.get_node_status",
    "pipelines.cancel",
    "datastores.get", "datastores.get_default", "datastores.list", "datastores.create",
    "datastores.delete", "datastores.set_default",
    "datastore.upload", "datastore.download", "datastore.list",
    "datasets.save", "datasets.register", "datasets.get", "datasets.query", "datasets.update",
    "datasets.delete",
})  # fmt: skip


class UnmockedServiceCall(BaseException):
    """Raised when, inside a mock, the SDK asks for something only Azure can do (compute, image
    builds, deployments, Key Vault, Resource Manager) or the local workspace does not answer.

    The message names the SDK member the code called (found on the call stack, e.g.
    `Environment.build`), why it needs Azure, and the operation that was refused.

    Why `BaseException`, like `KeyboardInterrupt`, `SystemExit` and pytest's own outcome
    exceptions: step code written for Azure often wraps SDK calls in a bare `except Exception:`
    (the seed's register step does), which would swallow an ordinary error and carry on with
    None, so a test would pass against a mock that never did the work. A `BaseException` goes
    through those handlers and still stops the test; `pytest.raises(UnmockedServiceCall)` and
    `except UnmockedServiceCall` catch it. For code that catches even `BaseException`, each
    distinct refusal is also logged once as a warning (logger `champion.local.mock`)."""

    def __init__(self, detail: str, *, member: str | None = None) -> None:
        self.member = member or sdk_member()
        self.reason = _why_azure(self.member, detail)
        self.detail = detail
        message = f"{self.member} needs Azure: {self.reason} ({detail})"
        super().__init__(message)
        self.message = message
        with _warned_lock:
            if message not in _warned:
                _warned.add(message)
                logging.getLogger(__name__).warning("%s", message)


_warned: set[str] = set()
_warned_lock = threading.Lock()

#: Why a family of SDK members cannot run locally, by a word in its name; the first match wins.
_NEEDS_AZURE: tuple[tuple[tuple[str, ...], str], ...] = (
    (("Environment.build", "Environment.get_image", "Image", "build"),
     "container images are built by the workspace's Azure Container Registry"),
    (("deploy", "Webservice", "Aks", "Aci", "package", "profile", "InferenceConfig"),
     "deployments run on Azure Kubernetes Service or Container Instances"),
    (("Keyvault", "keyvault", "get_secret", "set_secret"),
     "secrets live in the workspace's Azure Key Vault"),
    (("Compute", "compute"),
     "compute targets are Azure machines; run pipelines locally with `champion run`"),
    (("submit", "ScriptRun", "Estimator"),
     "jobs are scheduled on Azure compute; run steps locally with `champion run`"),
    (("Environment",),
     "environments are kept by the Azure ML environment service and its image registry"),
    (("mount",), "mounting needs FUSE and Azure storage; use download()"),
    (("Workspace.", "get_details", "sync_keys", "list_keys", "private_endpoint"),
     "workspace settings are Azure Resource Manager resources"),
)  # fmt: skip


def _why_azure(member: str, detail: str) -> str:
    for words, reason in _NEEDS_AZURE:
        if any(word in member for word in words):
            return reason
    return "the local workspace does not implement this service operation"


def sdk_member() -> str:
    """The SDK member the user's code called, from the call stack: the outermost frame in an
    `azureml` module whose qualified name is public (`Environment.build`), else the innermost
    `azureml` frame, else "the Azure ML service"."""
    frame = inspect.currentframe()
    outermost_public: str | None = None
    innermost: str | None = None
    while frame is not None:
        module = str(frame.f_globals.get("__name__", ""))
        if module == "azureml" or module.startswith("azureml."):
            name = frame.f_code.co_qualname
            innermost = innermost or name
            parts = name.split(".")
            if "<locals>" not in name and not any(
                p.startswith("_") and not (p.startswith("__") and p.endswith("__")) for p in parts
            ):
                outermost_public = name
        frame = frame.f_back
    return outermost_public or innermost or "the Azure ML service"


@dataclass
class _Fault:
    status: int  # 0 for a timeout
    retry_after: float | None
    remaining: int
    after_commit: bool = False  # the service did the work, then the client timed out


# Active sessions, innermost last: patches nest, so they must be undone in reverse order.
_active: list[MockAzureML] = []
_active_lock = threading.RLock()


class MockAzureML:
    """One mock session over one local workspace folder; see the module docstring.

    `start()`/`stop()` nest like a counter (a decorated function may call another), and a
    stopped mock can be started again. Every patched attribute is restored exactly on stop."""

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        self._path = path
        self._depth = 0
        self._saved: list[tuple[object, str, bool, object]] = []
        self._service: LocalService | None = None
        self._faults: dict[str, list[_Fault]] = {}
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
                from champion.local._mock_service import LocalService
                from champion.local._traps import sdk_observers
                from champion.local.store import Store

                # created if new, as moto starts empty: the mock is a test's own registry
                service = LocalService(Store.create(self._resolve_path()), self)
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
        self, operation: str, status: int, times: int = 1, retry_after: float | None = None
    ) -> None:
        """Make the next `times` calls of `operation` fail as the service would with `status`.

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
        with self._lock:
            self._faults.setdefault(operation, []).append(_Fault(status, retry_after, times))

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
            self._faults.setdefault(operation, []).append(_Fault(0, None, times, after_commit))

    # ------------------------------------------------------------------ used by the service

    def _record(self, operation: str) -> _Fault | None:
        """Count one call of `operation`; return the fault it must fail with, if any."""
        with self._lock:
            self.calls.append(operation)
            pending = self._faults.get(operation)
            if not pending:
                return None
            fault = pending[0]
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
        env = os.environ.get(WORKSPACE_ENV)
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
