"""`MockAzureAIML`, one session of `mock_azure_ai_ml()`: starting and stopping it, the patches it
applies and restores exactly, the MLflow endpoint it serves, and `activate()` for launchers. It
imports no azure package until `start()`."""

from __future__ import annotations

import contextlib
import functools
import os
import threading
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar, overload

from champion import _env
from champion.local.store import Store

if TYPE_CHECKING:
    from champion.local.mock_v2.service import LocalService
    from champion.local.mock_v2.tracking.server import TrackingServer
    from champion.local.mock_v2.transport import Call, LocalTransport

P = ParamSpec("P")
T = TypeVar("T")

#: The variables MLflow reads for its tracking and registry servers; set for the session (and
#: so for the processes it starts) to the local endpoint, and restored on stop.
MLFLOW_VARIABLES = (_env.MLFLOW_TRACKING_URI, _env.MLFLOW_REGISTRY_URI)
#: MLflow 3 asks config.mlflow-telemetry.io for its telemetry settings: nothing leaves the
#: machine inside the mock, so it is told not to.
MLFLOW_TELEMETRY = "MLFLOW_DISABLE_TELEMETRY"

# Active sessions, innermost last: patches nest, so they must be undone in reverse order.
_active: list[MockAzureAIML] = []
_active_lock = threading.RLock()


class MockAzureAIML:
    """One `mock_azure_ai_ml()` session over one local workspace folder.

    `start()`/`stop()` nest like a counter, and a stopped mock can be started again; every
    patched attribute and environment variable is restored exactly on stop. How to use it:
    `champion.local.mock_v2`."""

    def __init__(self, path: str | os.PathLike[str] | None = None, *, mlflow: bool = True) -> None:
        self._path = path
        self._mlflow = mlflow
        self._depth = 0
        self._saved: list[tuple[object, str, bool, object]] = []
        self._environ: dict[str, str | None] = {}
        self._service: LocalService | None = None
        self._tracking: TrackingServer | None = None

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> None:
        with _active_lock:
            self._depth += 1
            if self._depth > 1:
                return
            try:
                # imported here: the service imports azure-ai-ml, about 2 s of CPU
                from champion.local.mock_v2.service import LocalService

                store = Store.create(self._resolve_path())
                if self._mlflow:
                    from champion.local.mock_v2.tracking.server import TrackingServer

                    self._tracking = TrackingServer(store)
                    self._tracking.start()
                service = LocalService(store, lambda: self.tracking_uri)
                for owner, name, value in service.patches():
                    self._patch(owner, name, value)
                if self._tracking is not None:
                    self._point_mlflow(self._tracking.uri)
            except BaseException:
                self._undo()
                self._depth = 0
                raise
            self._service = service
            _active.append(self)

    def stop(self) -> None:
        with _active_lock:
            if self._depth == 0:
                raise RuntimeError("mock_azure_ai_ml: stop() called on a mock that is not started")
            if self._depth == 1 and _active[-1] is not self:
                raise RuntimeError(
                    "mock_azure_ai_ml: nested mocks must be stopped in reverse order of starting"
                )
            self._depth -= 1
            if self._depth > 0:
                return
            _active.pop()
            self._undo()
            self._service = None

    def __enter__(self) -> MockAzureAIML:
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
    def store(self) -> Store:
        return self._started().store

    @property
    def calls(self) -> list[Call]:
        """Every REST round trip the SDK made in this session, in order: the operation
        (`ModelVersions.get`, `Blob.upload`, ...), method, path, query, JSON body, status."""
        return self._started().router.calls

    @property
    def transport(self) -> LocalTransport:
        """The transport every client inside the mock is given: pass it as `transport=` to a
        client built another way; its `session` sends a raw request to the local service."""
        return self._started().transport

    @property
    def tracking_uri(self) -> str | None:
        """The local MLflow endpoint's URL (`MLFLOW_TRACKING_URI` inside the mock), or None
        when the session serves no MLflow (`mlflow=False`)."""
        return self._tracking.uri if self._tracking is not None else None

    def ml_client(self, credential: Any = None) -> Any:
        """An `MLClient` of the local workspace (any names would do: every workspace is the
        local one inside the mock)."""
        from azure.ai.ml import MLClient
        from azure.identity import DefaultAzureCredential

        from champion.local.mock_v2.service import (
            LOCAL_RESOURCE_GROUP,
            LOCAL_SUBSCRIPTION,
            LOCAL_WORKSPACE,
        )

        self._started()
        return MLClient(
            credential or DefaultAzureCredential(),
            LOCAL_SUBSCRIPTION,
            LOCAL_RESOURCE_GROUP,
            LOCAL_WORKSPACE,
        )

    # ------------------------------------------------------------------ internals

    def _started(self) -> LocalService:
        if self._service is None:
            raise RuntimeError("mock_azure_ai_ml is not started; use it as a context manager")
        return self._service

    def _resolve_path(self) -> Path:
        """Resolved at start, as `mock_azureml` does: the argument, else `$CHAMPION_WORKSPACE`,
        else `.champion` in the working directory."""
        if self._path is not None:
            return Path(self._path)
        env = _env.workspace()
        return Path(env) if env else Path.cwd() / _env.DEFAULT_WORKSPACE_FOLDER

    def _point_mlflow(self, uri: str) -> None:
        """MLflow's variables name the local endpoint for this process and its children; an
        MLflow already imported forgets a URI set before (`mlflow.set_tracking_uri`), as the
        variables would not override it, and the experiment it had set (an id on that other
        server)."""
        for name, value in [*((n, uri) for n in MLFLOW_VARIABLES), (MLFLOW_TELEMETRY, "true")]:
            self._environ[name] = _env.get(name)
            os.environ[name] = value
        for module_name, attribute in (
            ("mlflow.tracking._tracking_service.utils", "_tracking_uri"),
            ("mlflow.tracking._model_registry.utils", "_registry_uri"),
            ("mlflow.tracking.fluent", "_active_experiment_id"),  # an id of another server
        ):
            module = _loaded(module_name)
            if module is not None and hasattr(module, attribute):
                self._patch(module, attribute, None)

    def _patch(self, owner: object, name: str, value: object) -> None:
        own = vars(owner)
        self._saved.append((owner, name, name in own, own.get(name)))
        setattr(owner, name, value)

    def _undo(self) -> None:
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
        if self._tracking is not None:
            self._tracking.stop()
            self._tracking = None


def _loaded(name: str) -> Any:
    import sys

    return sys.modules.get(name)


def active_session() -> MockAzureAIML | None:
    """The innermost started session, or None."""
    with _active_lock:
        return _active[-1] if _active else None


@overload
def mock_azure_ai_ml(workspace: Callable[P, T], /) -> Callable[P, T]: ...


@overload
def mock_azure_ai_ml(
    workspace: str | os.PathLike[str] | None = None, *, mlflow: bool = True
) -> MockAzureAIML: ...


def mock_azure_ai_ml(
    workspace: Callable[P, T] | str | os.PathLike[str] | None = None, *, mlflow: bool = True
) -> Callable[P, T] | MockAzureAIML:
    """A session (context manager or decorator) of the real azure-ai-ml, and MLflow, against
    the local workspace folder `workspace`: by default `$CHAMPION_WORKSPACE`, else `.champion`
    in the working directory, decided when the mock starts. Used bare (`@mock_azure_ai_ml`),
    it decorates the function directly. `mlflow=False` serves no MLflow endpoint."""
    if callable(workspace):
        return MockAzureAIML()(workspace)
    return MockAzureAIML(workspace, mlflow=mlflow)


def activate(workspace: str | os.PathLike[str] | None = None) -> Callable[[], None]:
    """Start a session for the rest of the process (a launcher's `sitecustomize`, `champion
    mock --`) and return the function that stops it."""
    session = MockAzureAIML(workspace)
    session.start()
    return session.stop
