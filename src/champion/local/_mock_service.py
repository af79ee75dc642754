"""The local service behind `mock_azureml()`: the SDK's REST operations answered from the Store.

Why here and not in `mock.py`: this module imports azureml at module level (it needs the SDK's
classes to patch them and to build their DTOs), and `champion.local.mock` must stay importable
without azureml. `MockAzureML.start()` imports it.

Patch points, each at the service boundary (the SDK notes, azureml-semantics.md §7):

- `ServiceContext._fetch_endpoints`: fixed endpoints, no discovery call.
- `ModelsClient`/`AssetsClient`/`ArtifactsClient._execute_with_workspace_arguments`: the model,
  asset and artifact-metadata operations, by operation name.
- `ClientBase._execute_with_arguments`: every other generated REST operation reaches the service
  through it. It answers run history (`RunClient.get_run`, `patch_run`, `delete_run_tags`,
  `get_child_runs`, `create_child_run`, `post_event_*`, `ExperimentClient.create_run`) and the
  experiment lookups and listings (`Experiment(ws, name)`, `Model(..., expand=True)`, `Run.get`,
  `ws.experiments`), and refuses any other operation with `UnmockedServiceCall`. One patch
  covers all of run history because the run clients reach the same generated operations through
  five `_execute_with_*_arguments` helpers; the helpers, the retry loop below them and the
  `ErrorResponseException` -> `ServiceException` translation are replaced together, which is why
  the errors raised here are already `ServiceException`s.
- The blob transfer functions where the SDK imported them: `upload_blob_from_stream`,
  `download_file`, `download_file_stream`.
- `MetricsClient.log_v2` / `list_metric_names_for_run_id` / `get_metric_dto_for_run_v2` and
  `RunClient.wait_for_metrics_ingest`: metrics are stored synchronously (the SDK batches them on
  a background queue), so `run.log(...)` then `run.get_metrics()` is deterministic.
- `SnapshotsClient.create_snapshot` (what `start_logging` calls): a fresh id, no upload.
- Guards, so that nothing reaches the network: `msrest.ServiceClient.send` (any generated
  client's request), `requests.adapters.HTTPAdapter.send` for the fake endpoint only, and
  `LocalAuthentication`, whose every token request raises (Resource Manager, datastores,
  compute). Each raises `UnmockedServiceCall`.
- `Workspace.from_config` and `Run.get_context`, which read local configuration, not the service.
- With azureml-pipeline-core: `AE3PServiceCaller.get_all_datatypes_async`,
  `get_pipeline_run_async` and `get_node_status_code_async`, the pipelines-service calls a
  `PipelineRun`/`StepRun` makes when it is built (`_GraphContext`) or asked for its status.
"""

from __future__ import annotations

import inspect
import os
import uuid
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import Future
from typing import Any, cast

import azureml._restclient.artifacts_client as artifacts_module
import azureml._restclient.run_artifacts_client as run_artifacts_module
import azureml.core.model as model_module
import msrest.service_client
from azure.common import AzureHttpError  # type: ignore[import-untyped]
from azureml._async import AsyncTask
from azureml._restclient.artifacts_client import ArtifactsClient
from azureml._restclient.assets_client import AssetsClient
from azureml._restclient.clientbase import ClientBase
from azureml._restclient.metrics_client import MetricsClient
from azureml._restclient.models_client import ModelsClient
from azureml._restclient.run_client import RunClient
from azureml._restclient.service_context import ServiceContext, _ServiceKeys
from azureml._restclient.snapshots_client import SnapshotsClient
from azureml.core import Experiment, Run, Workspace
from azureml.core.authentication import AbstractAuthentication
from azureml.core.run import _SubmittedRun
from requests.adapters import HTTPAdapter

from champion.local import _mock_dto as dto
from champion.local.mock import RUN_ID_ENV, MockAzureML, UnmockedServiceCall, _Fault
from champion.local.store import (
    ArtifactExists,
    InvalidArtifactPath,
    PropertyConflict,
    RunRecord,
    Store,
    parse_filter_query,
)

#: Where the SDK believes the services are. Loopback, port 9 (discard): a request that somehow
#: escaped every guard is refused at once instead of waiting on DNS or retries.
ENDPOINT_ORIGIN = "https://127.0.0.1:9"
ENDPOINT = f"{ENDPOINT_ORIGIN}/champion-local"
SUBSCRIPTION_ID = "00000000-0000-0000-0000-000000000000"
RESOURCE_GROUP = "local"
LOCATION = "local"

_TERMINAL_EVENTS = {
    "Microsoft.MachineLearning.Run.Start": "Running",
    "Microsoft.MachineLearning.Run.Completed": "Completed",
    "Microsoft.MachineLearning.Run.Failed": "Failed",
    "Microsoft.MachineLearning.Run.Canceled": "Canceled",
    "Microsoft.MachineLearning.Run.CancelRequested": "CancelRequested",
}
_ERROR_EVENT = "Microsoft.MachineLearning.Run.Error"
# The pipelines service reports "Finished" where run history says "Completed".
_PIPELINE_STATUS = {"Completed": "Finished"}
_DEFAULT_DATATYPES = {
    "AnyFile": False, "AzureBlobReference": False, "AzureDataLakeReference": False,
    "AzureFilesReference": False, "AzureSqlDatabaseReference": False,
    "AzurePostgresDatabaseReference": False, "AzureDataLakeGen2Reference": False,
    "AzureMLDataset": False, "AzureMySqlDatabaseReference": False, "DBFSReference": False,
    "AnyDirectory": True,
}  # fmt: skip

Handler = Callable[[dict[str, Any]], Any]
#: The SDK's own `Workspace.from_config`, taken before any mock patches it (mocks nest).
_SDK_FROM_CONFIG = vars(Workspace)["from_config"].__func__


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


def _method(function: Callable[..., Any], name: str) -> Callable[..., Any]:
    """A plain function (so it binds as a method) that names itself in tracebacks."""

    def method(*args: Any, **kwargs: Any) -> Any:
        return function(*args, **kwargs)

    method.__name__ = name
    method.__qualname__ = f"mock_azureml.{name}"
    return method


def _bind(
    func: Any, scope: Iterable[Any], args: Iterable[Any], kwargs: dict[str, Any]
) -> dict[str, Any]:
    """Name the arguments of a generated REST operation, however the client passed them."""
    kwargs = {k: v for k, v in kwargs.items() if k not in ("is_async", "is_paginated", "new_ident")}
    bound = inspect.signature(func).bind(*scope, *args, **kwargs)
    params = dict(bound.arguments)
    params.update(params.pop("operation_config", {}) or {})
    return params


def _timeout(operation: str) -> Exception:
    """What `requests` raises when the service does not answer in time."""
    import requests

    return requests.exceptions.ReadTimeout(f"injected timeout for {operation}: read timed out")


class LocalService:
    """The store, speaking the service's protocol to one `MockAzureML` session."""

    ENDPOINT = ENDPOINT

    def __init__(self, store: Store, mock: MockAzureML) -> None:
        self.store = store
        self._mock = mock
        self._auth = LocalAuthentication()
        self.workspace = self.new_workspace()
        self._context_runs: dict[str, Any] = {}
        self._rest: dict[str, tuple[str, Handler]] = {
            "RunOperations.get": ("runs.get", self._run_get),
            "RunOperations.get_by_exp_id": ("runs.get", self._run_get),
            "RunOperations.get_workspace_run": ("runs.get", self._run_get),
            "RunOperations.patch": ("runs.patch", self._run_patch),
            "RunOperations.patch_by_exp_id": ("runs.patch", self._run_patch),
            "RunOperations.get_child": ("runs.get_children", self._run_children),
            "RunOperations.get_by_query": ("runs.query", self._run_query),
            "RunOperations.delete_tags": ("runs.delete_tags", self._run_delete_tags),
            "RunOperations.get_details": ("runs.get_details", self._run_details),
            "EventsOperations.post": ("runs.event", self._run_event),
            "ExperimentOperations.get": ("experiments.get", self._experiment_get),
            "ExperimentOperations.create": ("experiments.create", self._experiment_create),
            "ExperimentOperations.get_by_id": ("experiments.get_by_id", self._experiment_by_id),
            "ExperimentOperations.get_by_query": ("experiments.query", self._experiment_query),
        }

    # ------------------------------------------------------------------ plumbing

    def new_workspace(self) -> Any:
        ws = Workspace(
            SUBSCRIPTION_ID, RESOURCE_GROUP, self.store.root.name, auth=self._auth,
            _location=LOCATION, _disable_service_check=True,
            _workspace_id=self.store.workspace_id,
        )  # fmt: skip
        # `discovery_url` would otherwise ask ARM for the workspace (the pipelines client reads it).
        ws._discovery_url_internal = ENDPOINT
        return ws

    def _begin(
        self, operation: str, error: Callable[[int, str, float | None], Exception]
    ) -> _Fault | None:
        """Count the call and raise its injected fault; a timeout injected `after_commit` is
        returned instead, for the caller to raise once the operation is done."""
        fault = self._mock._record(operation)
        if fault is None:
            return None
        if fault.status == 0:
            if fault.after_commit:
                return fault
            raise _timeout(operation)
        raise error(fault.status, f"injected fault for {operation}", fault.retry_after)

    @staticmethod
    def _rest_error(status: int, message: str, retry_after: float | None) -> Exception:
        return dto.service_error(status, message, retry_after=retry_after)

    @staticmethod
    def _model_error(status: int, message: str, retry_after: float | None) -> Exception:
        return dto.model_error(status, message, retry_after=retry_after)

    @staticmethod
    def _blob_error(status: int, message: str, retry_after: float | None) -> Exception:
        return cast(Exception, AzureHttpError(message, status))

    def _experiment_id(self, name: str) -> str:
        return self.store.get_or_create_experiment(name)

    def _experiment_name(self, params: Mapping[str, Any]) -> str:
        if params.get("experiment_name"):
            return str(params["experiment_name"])
        wanted = params.get("experiment_id")
        for name, exp_id in self.store.list_experiments():
            if exp_id == wanted:
                return name
        raise dto.service_error(404, f"Experiment with id {wanted} not found")

    def _run_record(self, run_id: str) -> RunRecord:
        record = self.store.get_run(run_id)
        if record is None:
            raise dto.service_error(404, f"Run {run_id} was not found", code="UserError")
        return record

    def _run_dto(self, record: RunRecord) -> Any:
        return dto.run_dto(record, self._experiment_id(record.experiment))

    def patches(self) -> list[tuple[object, str, object]]:
        """(owner, attribute, replacement) for every patch point; `MockAzureML` applies them and
        restores the originals."""
        endpoints = {key: ENDPOINT for key in _ServiceKeys.get_discovery_keys()}
        original_get_context = vars(Run)["get_context"]

        def get_context(
            cls: Any,
            /,
            allow_offline: bool = True,
            used_for_context_manager: bool = False,
            **kwargs: Any,
        ) -> Any:
            run_id = os.environ.get(RUN_ID_ENV)
            if not run_id:
                return original_get_context.__func__(
                    cls,
                    allow_offline=allow_offline,
                    used_for_context_manager=used_for_context_manager,
                    **kwargs,
                )
            return self._context_run(run_id, fresh=used_for_context_manager, **kwargs)

        def refuse_request(client: Any, request: Any, *args: Any, **kwargs: Any) -> Any:
            raise UnmockedServiceCall(
                f"mock_azureml: the local workspace does not answer {request.method} {request.url}"
            )

        original_adapter_send = vars(HTTPAdapter)["send"]

        def adapter_send(adapter: Any, request: Any, *args: Any, **kwargs: Any) -> Any:
            # Only the fake endpoint is refused; other HTTP traffic of the process is not ours.
            if str(request.url).startswith(ENDPOINT_ORIGIN):
                refuse_request(adapter, request)
            return original_adapter_send(adapter, request, *args, **kwargs)

        patches: list[tuple[object, str, object]] = [
            (ServiceContext, "_fetch_endpoints", _method(lambda _ctx: dict(endpoints),
                                                         "fetch_endpoints")),
            (msrest.service_client.ServiceClient, "send", _method(refuse_request, "send")),
            (HTTPAdapter, "send", _method(adapter_send, "send")),
            (ClientBase, "_execute_with_arguments", _method(self._rest_exec, "execute")),
            (ModelsClient, "_execute_with_workspace_arguments",
             _method(self._models_exec, "models_exec")),
            (AssetsClient, "_execute_with_workspace_arguments",
             _method(self._assets_exec, "assets_exec")),
            (ArtifactsClient, "_execute_with_workspace_arguments",
             _method(self._artifacts_exec, "artifacts_exec")),
            (artifacts_module, "upload_blob_from_stream", self._upload_blob),
            (artifacts_module, "download_file", self._download_file),
            (artifacts_module, "download_file_stream", self._download_file_stream),
            (model_module, "download_file", self._download_file),
            (run_artifacts_module, "download_file", self._download_file),
            (MetricsClient, "log_v2", _method(self._metrics_log, "log_v2")),
            (MetricsClient, "list_metric_names_for_run_id",
             _method(self._metrics_names, "list_metric_names_for_run_id")),
            (MetricsClient, "get_metric_dto_for_run_v2",
             _method(self._metrics_get, "get_metric_dto_for_run_v2")),
            (RunClient, "wait_for_metrics_ingest",
             _method(self._metrics_wait, "wait_for_metrics_ingest")),
            (SnapshotsClient, "create_snapshot", _method(self._snapshot, "create_snapshot")),
            (Workspace, "from_config", staticmethod(self._from_config)),
            (Workspace, "get", staticmethod(lambda *a, **k: self.new_workspace())),
            (Run, "get_context", classmethod(get_context)),
        ]  # fmt: skip
        patches.extend(self._pipeline_patches())
        from champion.local._mock_data import DataService

        patches.extend(DataService(self).patches())
        return patches

    def _from_config(
        self,
        path: Any = None,
        auth: Any = None,
        _logger: Any = None,
        _file_name: Any = None,
    ) -> Any:
        """The SDK's own `from_config`: it looks for config.json (or `_file_name`) where it
        always does, refuses a `path` where there is none, and opens what the file names with
        `Workspace.get`, which the mock answers with the local workspace (every workspace is the
        local one inside a mock). With no `path` and no file anywhere, the local workspace, as
        a job's runtime provides one."""
        from azureml.exceptions import UserErrorException

        try:
            return _SDK_FROM_CONFIG(path, auth, _logger, _file_name)
        except UserErrorException as exc:
            if path is None and "could not be found" in str(exc):
                return self.new_workspace()
            raise

    # ------------------------------------------------------------------ run context

    def _context_run(self, run_id: str, *, fresh: bool, **kwargs: Any) -> Any:
        """What `Run.get_context()` returns in a submitted step: a `_SubmittedRun` (a `Run`),
        memoised per run like `_SubmittedRun._get_instance`, but per session so that a run never
        outlives the store it was read from."""
        if not fresh and run_id in self._context_runs:
            return self._context_runs[run_id]
        record = self._run_record(run_id)
        experiment = Experiment(
            self.workspace,
            record.experiment,
            _id=self._experiment_id(record.experiment),
            _create_in_cloud=False,
        )
        run = _SubmittedRun(experiment, run_id, **kwargs)
        if not fresh:
            self._context_runs[run_id] = run
        return run

    # ------------------------------------------------------------------ run history

    def _rest_exec(
        self, client: Any, func: Any, args_list: list[Any], *args: Any, **kwargs: Any
    ) -> Any:
        owner = type(getattr(func, "__self__", None)).__name__
        key = f"{owner}.{getattr(func, '__name__', func)}"
        entry = self._rest.get(key)
        if entry is None:
            raise UnmockedServiceCall(f"mock_azureml: the local workspace does not implement {key}")
        is_async = bool(kwargs.get("is_async"))
        is_paginated = bool(kwargs.get("is_paginated"))
        params = _bind(func, args_list, args, kwargs)
        operation, handler = entry
        if key.startswith("RunOperations.patch") and self.store.get_run(params["run_id"]) is None:
            operation = "runs.create"
        self._begin(operation, self._rest_error)
        result = handler(params)
        if is_paginated:
            result = iter(result)
        if is_async:
            future: Future[Any] = Future()
            future.set_result(result)
            result = AsyncTask(future, _ident=key, _parent_logger=client._logger)
        return result

    def _run_get(self, params: dict[str, Any]) -> Any:
        return self._run_dto(self._run_record(params["run_id"]))

    def _run_patch(self, params: dict[str, Any]) -> Any:
        """PATCH creates a run the service has not seen (start_logging, child_run) and
        otherwise merges tags and adds properties; a changed property is a conflict."""
        run_id = params["run_id"]
        body = dto.wire(params.get("create_run_dto"), "CreateRunDto")
        if body.description is not None:
            raise UnmockedServiceCall(
                "mock_azureml: the local workspace does not store run descriptions"
            )
        if self.store.get_run(run_id) is None:
            try:
                record = self.store.create_run(
                    self._experiment_name(params),
                    run_id=run_id,
                    parent_id=body.parent_run_id,
                    name=body.name,
                    display_name=body.display_name,
                    run_type=body.run_type,
                    status=body.status or "NotStarted",
                    tags=body.tags,
                    properties=body.properties,
                )
            except KeyError as exc:
                raise dto.service_error(404, f"Parent run {exc} was not found") from exc
            return self._run_dto(record)
        try:
            record = self.store.update_run(
                run_id,
                set_tags=body.tags,
                add_properties=body.properties,
                display_name=body.display_name,
                status=body.status,
            )
        except PropertyConflict as exc:
            raise dto.service_error(409, str(exc)) from exc
        return self._run_dto(record)

    def _run_children(self, params: dict[str, Any]) -> list[Any]:
        return [self._run_dto(r) for r in self.store.list_children(params["run_id"])]

    def _run_query(self, params: dict[str, Any]) -> list[Any]:
        query = params.get("query_params")
        try:
            keep = dto.run_filter(getattr(query, "filter", None))
        except ValueError as exc:
            raise UnmockedServiceCall(f"mock_azureml: {exc}") from exc
        runs = self.store.list_runs(self._experiment_name(params))
        return [self._run_dto(r) for r in runs if keep(r)]

    def _run_delete_tags(self, params: dict[str, Any]) -> Any:
        self._run_record(params["run_id"])
        return self._run_dto(
            self.store.update_run(params["run_id"], remove_tags=list(params["tags"] or []))
        )

    def _run_details(self, params: dict[str, Any]) -> Any:
        return dto.run_details_dto(self._run_record(params["run_id"]))

    def _run_event(self, params: dict[str, Any]) -> None:
        event = params.get("event_message")
        name = getattr(event, "name", None)
        run_id = params["run_id"]
        self._run_record(run_id)
        if name in _TERMINAL_EVENTS:
            self.store.update_run(run_id, status=_TERMINAL_EVENTS[name])
        elif name == _ERROR_EVENT:
            error = (getattr(event, "data", None) or {}).get("ErrorResponse")
            if error is not None:
                self.store.update_run(run_id, error=dto.error_to_store(error))
        # heartbeats, warnings and queueing events carry nothing the store keeps

    def _experiment_get(self, params: dict[str, Any]) -> Any:
        name = params["experiment_name"]
        for known, exp_id in self.store.list_experiments():
            if known == name:
                return dto.experiment_dto(name, exp_id)
        raise dto.service_error(404, f"Experiment {name} was not found")

    def _experiment_create(self, params: dict[str, Any]) -> Any:
        name = params["experiment_name"]
        return dto.experiment_dto(name, self.store.get_or_create_experiment(name))

    def _experiment_query(self, params: dict[str, Any]) -> list[Any]:
        query = params.get("query_params")
        try:
            keep = dto.experiment_filter(getattr(query, "filter", None))
        except ValueError as exc:
            raise UnmockedServiceCall(f"mock_azureml: {exc}") from exc
        return [dto.experiment_dto(n, i) for n, i in self.store.list_experiments() if keep(n)]

    def _experiment_by_id(self, params: dict[str, Any]) -> Any:
        name = self._experiment_name({"experiment_id": params["experiment_id"]})
        return dto.experiment_dto(name, params["experiment_id"])

    # ------------------------------------------------------------------ metrics

    def _metrics_log(self, client: Any, metric: Any, custom_headers: Any = None) -> None:
        metric_v2 = metric.create_v2_dto()
        if metric_v2 is None:
            return
        self._begin("metrics.log", self._rest_error)
        with self.store.transaction():
            for value, step in dto.metric_values(metric_v2):
                self.store.log_metric(client._run_id, metric_v2.name, value, step)

    def _metrics_names(
        self, client: Any, run_id: str | None = None, custom_headers: Any = None
    ) -> list[str]:
        self._begin("metrics.list_names", self._rest_error)
        return list(self.store.get_metrics(run_id or client._run_id))

    def _metrics_get(
        self,
        client: Any,
        name: str,
        run_id: str | None = None,
        start_time: Any = None,
        end_time: Any = None,
        custom_headers: Any = None,
    ) -> Any:
        self._begin("metrics.get", self._rest_error)
        run_id = run_id or client._run_id
        values = self.store.get_metrics(run_id).get(name)
        if not values:
            return None  # the SDK maps the service's 404 for an unknown metric to None
        record = self.store.get_run(run_id)
        return dto.metric_dto(name, values, record.data_container_id if record else "")

    def _metrics_wait(self, client: Any, *args: Any, **kwargs: Any) -> None:
        self._begin("metrics.wait_ingest", self._rest_error)

    def _snapshot(self, client: Any, *args: Any, **kwargs: Any) -> str:
        """The local workspace keeps no source snapshots; the run gets an id and nothing else."""
        self._begin("snapshots.create", self._rest_error)
        return str(uuid.uuid4())

    # ------------------------------------------------------------------ models, assets

    def _models_exec(self, client: Any, func: Any, *args: Any, **kwargs: Any) -> Any:
        name = func.__name__
        operation = {
            "register": "models.register",
            "query_by_id": "models.get",
            "list_query": "models.query",
            "patch": "models.patch",
            "delete": "models.delete",
        }.get(name)
        if operation is None:
            raise UnmockedServiceCall(
                f"mock_azureml: the local workspace does not implement the model operation {name}"
            )
        params = _bind(func, client._workspace_arguments, args, kwargs)
        committed_then_timeout = self._begin(operation, self._model_error)
        result = self._models_dispatch(name, params)
        if committed_then_timeout is not None:
            raise _timeout(operation)
        return result

    def _models_dispatch(self, name: str, params: dict[str, Any]) -> Any:
        if name == "register":
            return self._model_register(params["body"])
        if name == "list_query":
            return iter(self._model_query(params))
        model_name, version = self._model_key(params["id"])
        if name == "query_by_id":
            record = self.store.get_model(model_name, version)
            if record is None:
                raise dto.model_error(404, f"Model {params['id']} not found")
            return dto.model_dto(record)
        if name == "delete":
            if not self.store.delete_model(model_name, version):
                raise dto.model_error(404, f"Model {params['id']} not found")
            return None
        return self._model_patch(model_name, version, params["body"] or [])

    @staticmethod
    def _model_key(model_id: str) -> tuple[str, int]:
        name, _, version = str(model_id).rpartition(":")
        if not name or not version.isdigit():
            raise dto.model_error(404, f"Model {model_id} not found")
        return name, int(version)

    def _model_register(self, body: Any) -> Any:
        model = dto.wire(body, "Model")
        url = model.url or ""
        asset_id = url[len(dto.ASSET_URL_PREFIX) :] if url.startswith(dto.ASSET_URL_PREFIX) else ""
        if self.store.get_asset(asset_id) is None:
            raise dto.model_error(400, f"Model url {url!r} does not name an asset")
        record = self.store.register_model(
            model.name,
            asset_id,
            tags=model.kv_tags,
            properties=model.properties,
            description=model.description,
            framework=model.framework,
            framework_version=model.framework_version,
            run_id=model.run_id,
            experiment_name=model.experiment_name,
            mime_type=model.mime_type or "application/json",
            resource_configuration=dto.resource_requirements(model.resource_requirements),
            datasets=self._dataset_links(model.datasets),
            sample_input_dataset=self._dataset_url(model.sample_input_data),
            sample_output_dataset=self._dataset_url(model.sample_output_data),
        )
        return dto.model_dto(record)

    def _dataset_links(self, references: Iterable[Any] | None) -> list[tuple[str, str]]:
        links = []
        for reference in references or []:
            reference = reference if isinstance(reference, dict) else vars(reference)
            dataset_id = str(reference.get("id"))
            if self.store.get_saved_dataset(dataset_id) is None:
                raise dto.model_error(400, f"Dataset {dataset_id} was not found")
            links.append((str(reference.get("name")), dataset_id))
        return links

    def _dataset_url(self, url: str | None) -> str | None:
        """`aml://dataset/<saved id>` of a sample dataset, checked like a linked dataset."""
        if not url:
            return None
        dataset_id = url.removeprefix("aml://dataset/")
        if self.store.get_saved_dataset(dataset_id) is None:
            raise dto.model_error(400, f"Dataset {dataset_id} was not found")
        return dataset_id

    def _model_query(self, params: Mapping[str, Any]) -> list[Any]:
        tags = parse_filter_query(params.get("tags"))
        if params.get("tag"):
            tags.append((str(params["tag"]), None))
        records = self.store.query_models(
            name=params.get("name"),
            tags=tags,
            properties=parse_filter_query(params.get("properties")),
            run_id=params.get("run_id"),
            framework=params.get("framework"),
            latest_only=bool(params.get("latest_version_only")),
            dataset_id=params.get("dataset_id") or None,
        )
        return [dto.model_dto(r) for r in records]

    def _model_patch(self, name: str, version: int, operations: Iterable[Any]) -> Any:
        changes: dict[str, Any] = {}
        for op in operations:
            op = op if isinstance(op, dict) else vars(op)
            path = op.get("path")
            if path == "/kvTags":
                changes["tags"] = dto.as_str_dict(op.get("value"))
            elif path == "/properties":
                changes["properties"] = dto.as_str_dict(op.get("value"))
            elif path == "/description":
                changes["description"] = op.get("value")
            elif path == "/datasets":
                changes["add_datasets"] = self._dataset_links(op.get("value"))
            elif path == "/sampleInputData":
                changes["sample_input_dataset"] = self._dataset_url(op.get("value"))
            elif path == "/sampleOutputData":
                changes["sample_output_dataset"] = self._dataset_url(op.get("value"))
            elif path == "/resourceRequirements":
                changes["resource_configuration"] = dto.resource_requirements(op.get("value"))
            else:
                raise UnmockedServiceCall(
                    f"mock_azureml: the local workspace does not store model field {path}"
                )
        try:
            record = self.store.update_model(name, version, **changes)
        except KeyError as exc:
            raise dto.model_error(404, f"Model {name}:{version} not found") from exc
        except PropertyConflict as exc:
            raise dto.model_error(409, str(exc)) from exc
        return dto.model_dto(record)

    def _assets_exec(self, client: Any, func: Any, *args: Any, **kwargs: Any) -> Any:
        name = func.__name__
        params = _bind(func, client._workspace_arguments, args, kwargs)
        if name == "create":
            self._begin("assets.create", self._rest_error)
            asset = dto.wire(params["body"], "Asset")
            if asset.kv_tags or asset.properties or asset.meta:
                raise UnmockedServiceCall(
                    "mock_azureml: the local workspace does not store "
                    "asset tags, properties or metadata"
                )
            prefixes = [a.prefix or a.id for a in asset.artifacts or []]
            return dto.asset_dto(
                self.store.create_asset(prefixes, name=asset.name, run_id=asset.runid)
            )
        if name == "query_by_id":
            self._begin("assets.get", self._rest_error)
            record = self.store.get_asset(params["id"])
            if record is None:
                raise dto.service_error(404, f"Asset {params['id']} was not found")
            return dto.asset_dto(record)
        raise UnmockedServiceCall(
            f"mock_azureml: the local workspace does not implement the asset operation {name}"
        )

    # ------------------------------------------------------------------ artifacts

    def _artifacts_exec(self, client: Any, func: Any, *args: Any, **kwargs: Any) -> Any:
        name = func.__name__
        params = _bind(func, client._workspace_arguments, args, kwargs)
        origin, container = str(params.get("origin")), str(params.get("container"))
        if name == "batch_create_empty_artifacts":
            self._begin("artifacts.create", self._rest_error)
            paths = [p.path for p in params["command"].paths]
            try:
                records = self.store.add_artifacts(origin, container, [(p, None, 0) for p in paths])
            except ArtifactExists as exc:
                return dto.batch_conflict(origin, container, exc.paths)
            except InvalidArtifactPath as exc:
                raise dto.service_error(400, str(exc)) from None
            return dto.batch_result(records)
        if name == "list_in_container":
            self._begin("artifacts.list", self._rest_error)
            return iter([dto.artifact_dto(a) for a in self.store.list_artifacts(origin, container)])
        if name == "list_sas_by_prefix":
            self._begin("artifacts.list_prefix", self._rest_error)
            prefix = params.get("path") or None  # "" is the whole container
            records = self.store.list_artifacts(origin, container, prefix)
            return iter([dto.content_information(a.origin, a.container, a.path) for a in records])
        if name == "get_content_information":
            self._begin("artifacts.get_content", self._rest_error)
            record = self.store.get_artifact(origin, container, params["path"])
            if record is None:
                return None  # the SDK turns this into "Cannot find the artifact ..."
            return dto.content_information(origin, container, record.path)
        raise UnmockedServiceCall(
            f"mock_azureml: the local workspace does not implement the artifact operation {name}"
        )

    def _upload_blob(self, stream: Any, url: str, *args: Any, **kwargs: Any) -> None:
        """The PUT to the "SAS URL": the bytes become a content-addressed blob (its digest
        computed while streaming), then the empty artifact row is given that digest."""
        self._begin("artifacts.upload", self._blob_error)
        origin, container, path = dto.parse_artifact_uri(url)
        if self.store.get_artifact(origin, container, path) is None:
            raise AzureHttpError(f"The specified blob does not exist: {url}", 404)
        with self.store.staging() as session:
            self.store.set_artifact_content(origin, container, path, session.stage(stream))

    def _artifact_digest(self, uri: str) -> str | None:
        origin, container, path = dto.parse_artifact_uri(uri)
        record = self.store.get_artifact(origin, container, path)
        if record is None:
            raise AzureHttpError(f"The specified blob does not exist: {uri}", 404)
        return record.digest

    def _download_file(
        self, source_uri: str, path: str | None = None, *args: Any, **kwargs: Any
    ) -> None:
        """The GET of a blob: copied out of the store with its digest verified."""
        if path is None:
            return  # the SDK's own function downloads nothing without a target either
        self._begin("artifacts.download", self._blob_error)
        digest = self._artifact_digest(source_uri)
        target = os.path.abspath(os.path.normpath(path))
        os.makedirs(os.path.dirname(target), exist_ok=True)
        self.store.copy_blob(digest, target)

    def _download_file_stream(
        self,
        source_uri: str,
        encoding: str = "utf-8",
        download_to_bytes: bool = False,
        *args: Any,
        **kwargs: Any,
    ) -> str | bytes:
        self._begin("artifacts.download", self._blob_error)
        data = self.store.read_blob(self._artifact_digest(source_uri))
        return data if download_to_bytes else data.decode(encoding)

    # ------------------------------------------------------------------ pipelines

    def _pipeline_patches(self) -> list[tuple[object, str, object]]:
        """A `PipelineRun`/`StepRun` builds a `_GraphContext`, which asks the pipelines service
        for its data types and, for a step, its pipeline run's experiment. Answering those
        calls lets `step_run.parent`, `get_children()` and `find_step_run()` work offline."""
        try:
            from azureml.pipeline.core._restclients.aeva import models as aeva
            from azureml.pipeline.core._restclients.aeva.service_caller import AE3PServiceCaller
        except ImportError:  # azureml-pipeline-core is optional
            return []
        deserializer = dto.deserializer(aeva)

        def pipeline_error(status: int, message: str, retry_after: float | None) -> Exception:
            reply = dto.error_reply(status, message, retry_after)
            return cast(Exception, aeva.ErrorResponseException(deserializer, reply))

        def datatypes(caller: Any) -> list[Any]:
            self._begin("pipelines.get_datatypes", pipeline_error)
            return [
                aeva.DataTypeEntity(id=k, name=k, description=k, is_directory=v)
                for k, v in _DEFAULT_DATATYPES.items()
            ]

        def pipeline_run(caller: Any, pipeline_run_id: str) -> Any:
            self._begin("pipelines.get_run", pipeline_error)
            record = self.store.get_run(pipeline_run_id)
            if record is None:
                raise pipeline_error(404, f"Pipeline run {pipeline_run_id} not found", None)
            status = _PIPELINE_STATUS.get(record.status, record.status)
            return aeva.PipelineRunEntity(
                id=record.run_id,
                run_history_experiment_name=record.experiment,
                status=aeva.PipelineRunStatus(status_code=status),
                tags=dict(record.tags),
                properties=dict(record.properties),
                run_type=record.run_type,
            )

        def node_status(caller: Any, pipeline_run_id: str, node_id: str) -> str | None:
            self._begin("pipelines.get_node_status", pipeline_error)
            for child in self.store.list_children(pipeline_run_id):
                if child.tags.get("azureml.nodeid") == node_id:
                    return _PIPELINE_STATUS.get(child.status, child.status)
            return None

        def cancel(caller: Any, pipeline_run_id: str) -> None:
            """`PipelineRun.cancel()`: the pipeline run is Canceled; the local runner sees it
            between steps and starts no other step, as the pipelines service stops a run."""
            self._begin("pipelines.cancel", pipeline_error)
            if self.store.get_run(pipeline_run_id) is None:
                raise pipeline_error(404, f"Pipeline run {pipeline_run_id} not found", None)
            self.store.update_run(pipeline_run_id, status="Canceled")

        return [
            (AE3PServiceCaller, "cancel_pipeline_run_async", _method(cancel, "cancel")),
            (AE3PServiceCaller, "get_all_datatypes_async", _method(datatypes, "datatypes")),
            (AE3PServiceCaller, "get_pipeline_run_async", _method(pipeline_run, "pipeline_run")),
            (AE3PServiceCaller, "get_node_status_code_async", _method(node_status, "node_status")),
        ]
