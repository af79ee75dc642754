"""What every client family's handlers share: the store, the session's faults, the workspace as
the real SDK sees it, its credentials (none), and the helpers that name a generated operation's
arguments. Imports azureml: imported only once a mock starts."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable, Mapping
from typing import Any, cast

from azure.common import AzureHttpError  # type: ignore[import-untyped]
from azureml._restclient.rest_client import RestClient
from azureml.core import Workspace
from azureml.core.authentication import AbstractAuthentication
from msrest.authentication import BasicTokenAuthentication

from champion.local._offline import OFFLINE_ORIGIN, OFFLINE_SUBSCRIPTION_ID
from champion.local._unmocked import UnmockedServiceCall
from champion.local.mock import wire
from champion.local.mock.faults import Fault, timeout_error
from champion.local.store import RunRecord, Store

#: Where the SDK believes the services are. Loopback, port 9 (discard): a request that somehow
#: escaped every guard is refused at once instead of waiting on DNS or retries.
ENDPOINT_ORIGIN = OFFLINE_ORIGIN
ENDPOINT = f"{ENDPOINT_ORIGIN}/champion-local"
SUBSCRIPTION_ID = OFFLINE_SUBSCRIPTION_ID
RESOURCE_GROUP = "local"
LOCATION = "local"

#: (owner, attribute, replacement): one patch point, applied by the session and undone on stop.
Patch = tuple[object, str, object]
Handler = Callable[[dict[str, Any]], Any]


#: SDK functions that ask for a token only to decorate something (the portal link's tenant id)
#: and carry on without one when asking fails: they get an ordinary exception, as offline.
_OPTIONAL_TOKEN_CALLERS = frozenset({("azureml.core._portal", "__init__")})


class NoLocalCredentials(RuntimeError):
    """What an optional token request gets inside a mock (the SDK continues without it)."""


class LocalAuthentication(AbstractAuthentication):  # type: ignore[misc]
    """Credentials for a workspace that has no Azure behind it.

    Every token request raises `UnmockedServiceCall`: a client that wants a token is about to
    call Azure (Resource Manager, compute, Key Vault, the pipelines service), which the local
    workspace does not answer. The clients the mock answers never ask for one. The exception is
    a caller that only decorates with the token and goes on without it (`_OPTIONAL_TOKEN_CALLERS`):
    it gets an ordinary error, since `UnmockedServiceCall` would pass through its `except`."""

    def __init__(self) -> None:
        super().__init__(cloud="AzureCloud")  # a known cloud name: no metadata download

    def _refuse(self, *args: Any, **kwargs: Any) -> Any:
        caller = inspect.currentframe()
        caller = caller.f_back if caller is not None else None
        if caller is not None and (
            (str(caller.f_globals.get("__name__")), caller.f_code.co_name)
            in _OPTIONAL_TOKEN_CALLERS
        ):
            raise NoLocalCredentials("the local workspace has no Azure credentials")
        raise UnmockedServiceCall(
            "mock_azureml: this call needs Azure credentials; the local workspace has no Azure "
            "Resource Manager, compute, Key Vault or Azure-side pipelines service behind it"
        )

    _get_arm_token = _get_graph_token = _get_azureml_client_token = _refuse
    _get_all_subscription_ids = _get_workspace = get_authentication_header = _refuse
    get_token = signed_session = _refuse


def as_method(function: Callable[..., Any], name: str) -> Callable[..., Any]:
    """A plain function (so it binds as a method) that names itself in tracebacks."""

    def method(*args: Any, **kwargs: Any) -> Any:
        return function(*args, **kwargs)

    method.__name__ = name
    method.__qualname__ = f"mock_azureml.{name}"
    return method


def bind(
    func: Any, scope: Iterable[Any], args: Iterable[Any], kwargs: dict[str, Any]
) -> dict[str, Any]:
    """Name the arguments of a generated REST operation, however the client passed them."""
    kwargs = {k: v for k, v in kwargs.items() if k not in ("is_async", "is_paginated", "new_ident")}
    bound = inspect.signature(func).bind(*scope, *args, **kwargs)
    params = dict(bound.arguments)
    params.update(params.pop("operation_config", {}) or {})
    return params


def replace_operation(owner: type, name: str, handler: Callable[[dict[str, Any]], Any]) -> Any:
    """A replacement for a generated REST operation: its arguments named as the original
    declares them, then answered by `handler`."""
    signature = inspect.signature(getattr(owner, name))

    def operation(ops: Any, *args: Any, **kwargs: Any) -> Any:
        bound = signature.bind(ops, *args, **kwargs)
        params = dict(bound.arguments)
        params.update(params.pop("operation_config", {}) or {})
        return handler(params)

    operation.__name__ = name
    operation.__qualname__ = f"mock_azureml.{owner.__name__}.{name}"
    return operation


def local_rest_client(*args: Any, **kwargs: Any) -> Any:
    """A REST client on the fake endpoint that needs no token (the SDK's own factory asks the
    workspace for an Azure token, which the local workspace has not got)."""
    return RestClient(
        credentials=BasicTokenAuthentication({"access_token": "local"}),
        base_url=ENDPOINT,
    )


class Backend:
    """The store behind one mock session, and what its handlers share."""

    def __init__(self, store: Store, record: Callable[[str], Fault | None]) -> None:
        self.store = store
        self._record = record
        self.auth = LocalAuthentication()
        self.workspace = self.new_workspace()

    def new_workspace(self) -> Any:
        ws = Workspace(
            SUBSCRIPTION_ID, RESOURCE_GROUP, self.store.root.name, auth=self.auth,
            _location=LOCATION, _disable_service_check=True,
            _workspace_id=self.store.workspace_id,
        )  # fmt: skip
        # `discovery_url` would otherwise ask ARM for the workspace (the pipelines client reads it).
        ws._discovery_url_internal = ENDPOINT
        return ws

    def begin(
        self, operation: str, error: Callable[[int, str, float | None], Exception]
    ) -> Fault | None:
        """Count the call and raise its injected fault; a timeout injected `after_commit` is
        returned instead, for the caller to raise once the operation is done."""
        fault = self._record(operation)
        if fault is None:
            return None
        if fault.status == 0:
            if fault.after_commit:
                return fault
            raise timeout_error(operation)
        raise error(fault.status, f"injected fault for {operation}", fault.retry_after)

    @staticmethod
    def rest_error(status: int, message: str, retry_after: float | None) -> Exception:
        return wire.service_error(status, message, retry_after=retry_after)

    @staticmethod
    def model_error(status: int, message: str, retry_after: float | None) -> Exception:
        return wire.model_error(status, message, retry_after=retry_after)

    @staticmethod
    def blob_error(status: int, message: str, retry_after: float | None) -> Exception:
        return cast(Exception, AzureHttpError(message, status))

    def experiment_id(self, name: str) -> str:
        return self.store.get_or_create_experiment(name)

    def experiment_name(self, params: Mapping[str, Any]) -> str:
        if params.get("experiment_name"):
            return str(params["experiment_name"])
        wanted = params.get("experiment_id")
        for name, exp_id in self.store.list_experiments():
            if exp_id == wanted:
                return name
        raise wire.service_error(404, f"Experiment with id {wanted} not found")

    def run_record(self, run_id: str) -> RunRecord:
        record = self.store.get_run(run_id)
        if record is None:
            raise wire.service_error(404, f"Run {run_id} was not found", code="UserError")
        return record


class ClientFamily:
    """The handlers of one SDK client family: each turns one REST call into one store call."""

    def __init__(self, backend: Backend) -> None:
        self.backend = backend
        self.store = backend.store

    def patches(self) -> list[Patch]:
        raise NotImplementedError
