"""Run history and experiments: `RunClient`/`ExperimentClient` operations (get, PATCH, children,
queries, tags, events) answered from the store's runs, and the snapshot id `start_logging` asks
for.

One patch covers all of run history: the run clients reach the same generated operations through
five `_execute_with_*_arguments` helpers, which all go through `ClientBase._execute_with_arguments`.
The helpers, the retry loop below them and the `ErrorResponseException` -> `ServiceException`
translation are replaced together, which is why the errors raised here are already
`ServiceException`s. Any other generated operation is refused with `UnmockedServiceCall`.
"""

from __future__ import annotations

import uuid
from concurrent.futures import Future
from typing import Any

from azureml._async import AsyncTask
from azureml._restclient import models as rest
from azureml._restclient.clientbase import ClientBase
from azureml._restclient.snapshots_client import SnapshotsClient

from champion.local._run_lineage import input_dataset_entries
from champion.local._unmocked import UnmockedServiceCall
from champion.local.mock.backend import Backend, ClientFamily, Handler, Patch, as_method, bind
from champion.local.mock.odata import experiment_filter, run_filter
from champion.local.mock.wire import (
    DESERIALIZER,
    error_from_store,
    error_to_store,
    parse_time,
    service_error,
    wire,
)
from champion.local.store import PropertyConflict, RunRecord

_TERMINAL_EVENTS = {
    "Microsoft.MachineLearning.Run.Start": "Running",
    "Microsoft.MachineLearning.Run.Completed": "Completed",
    "Microsoft.MachineLearning.Run.Failed": "Failed",
    "Microsoft.MachineLearning.Run.Canceled": "Canceled",
    "Microsoft.MachineLearning.Run.CancelRequested": "CancelRequested",
}
_ERROR_EVENT = "Microsoft.MachineLearning.Run.Error"


def _user() -> str:
    """Who submits runs here: this machine's user (the service names the Azure AD user)."""
    import getpass

    try:
        return getpass.getuser()
    except (OSError, KeyError, ImportError):  # no user name for this uid (some containers)
        return "local"


#: `get_details()["submittedBy"]`, which the SDK reads from every run it is given.
_USER = _user()


def run_dto(record: RunRecord, experiment_id: str) -> Any:
    return rest.RunDto(
        run_id=record.run_id,
        parent_run_id=record.parent_id,
        root_run_id=record.root_id,
        run_number=record.run_number,
        experiment_id=experiment_id,
        created_utc=parse_time(record.created_utc),
        start_time_utc=parse_time(record.start_utc),
        end_time_utc=parse_time(record.end_utc),
        status=record.status,
        name=record.name,
        display_name=record.display_name,
        run_type=record.run_type,
        tags=dict(record.tags),
        properties=dict(record.properties),
        data_container_id=record.data_container_id,
        error=error_from_store(record.error),
        hidden=False,
        created_by=rest.CreatedByDto(user_name=_USER),
    )


def run_details_dto(record: RunRecord) -> Any:
    """A run's details; the datasets a step was given are the local runner's record of them
    (`names.INPUT_DATASETS_PROPERTY`), in the service's own shape."""
    return rest.RunDetailsDto(
        run_id=record.run_id,
        status=record.status,
        start_time_utc=parse_time(record.start_utc),
        end_time_utc=parse_time(record.end_utc),
        properties=dict(record.properties),
        error=error_from_store(record.error),
        warnings=[],
        input_datasets=[
            DESERIALIZER.deserialize_data(item, "DatasetLineage")
            for item in input_dataset_entries(record.properties)
        ],
        output_datasets=[],
        log_files={},
    )


def experiment_dto(name: str, experiment_id: str) -> Any:
    return rest.ExperimentDto(experiment_id=experiment_id, name=name, tags={})


class RunHistory(ClientFamily):
    """Runs and experiments (see the module docstring)."""

    def __init__(self, backend: Backend) -> None:
        super().__init__(backend)
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

    def patches(self) -> list[Patch]:
        return [
            (ClientBase, "_execute_with_arguments", as_method(self._rest_exec, "execute")),
            (SnapshotsClient, "create_snapshot", as_method(self._snapshot, "create_snapshot")),
        ]

    def _run_dto(self, record: RunRecord) -> Any:
        return run_dto(record, self.backend.experiment_id(record.experiment))

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
        params = bind(func, args_list, args, kwargs)
        operation, handler = entry
        if key.startswith("RunOperations.patch") and self.store.get_run(params["run_id"]) is None:
            operation = "runs.create"
        self.backend.begin(operation, self.backend.rest_error)
        result = handler(params)
        if is_paginated:
            result = iter(result)
        if is_async:
            future: Future[Any] = Future()
            future.set_result(result)
            result = AsyncTask(future, _ident=key, _parent_logger=client._logger)
        return result

    def _run_get(self, params: dict[str, Any]) -> Any:
        return self._run_dto(self.backend.run_record(params["run_id"]))

    def _run_patch(self, params: dict[str, Any]) -> Any:
        """PATCH creates a run the service has not seen (start_logging, child_run) and
        otherwise merges tags and adds properties; a changed property is a conflict."""
        run_id = params["run_id"]
        body = wire(params.get("create_run_dto"), "CreateRunDto")
        if body.description is not None:
            raise UnmockedServiceCall(
                "mock_azureml: the local workspace does not store run descriptions"
            )
        if self.store.get_run(run_id) is None:
            try:
                record = self.store.create_run(
                    self.backend.experiment_name(params),
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
                raise service_error(404, f"Parent run {exc} was not found") from exc
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
            raise service_error(409, str(exc)) from exc
        return self._run_dto(record)

    def _run_children(self, params: dict[str, Any]) -> list[Any]:
        return [self._run_dto(r) for r in self.store.list_children(params["run_id"])]

    def _run_query(self, params: dict[str, Any]) -> list[Any]:
        query = params.get("query_params")
        try:
            keep = run_filter(getattr(query, "filter", None))
        except ValueError as exc:
            raise UnmockedServiceCall(f"mock_azureml: {exc}") from exc
        runs = self.store.list_runs(self.backend.experiment_name(params))
        return [self._run_dto(r) for r in runs if keep(r)]

    def _run_delete_tags(self, params: dict[str, Any]) -> Any:
        self.backend.run_record(params["run_id"])
        return self._run_dto(
            self.store.update_run(params["run_id"], remove_tags=list(params["tags"] or []))
        )

    def _run_details(self, params: dict[str, Any]) -> Any:
        return run_details_dto(self.backend.run_record(params["run_id"]))

    def _run_event(self, params: dict[str, Any]) -> None:
        event = params.get("event_message")
        name = getattr(event, "name", None)
        run_id = params["run_id"]
        self.backend.run_record(run_id)
        if name in _TERMINAL_EVENTS:
            self.store.update_run(run_id, status=_TERMINAL_EVENTS[name])
        elif name == _ERROR_EVENT:
            error = (getattr(event, "data", None) or {}).get("ErrorResponse")
            if error is not None:
                self.store.update_run(run_id, error=error_to_store(error))
        # heartbeats, warnings and queueing events carry nothing the store keeps

    def _experiment_get(self, params: dict[str, Any]) -> Any:
        name = params["experiment_name"]
        for known, exp_id in self.store.list_experiments():
            if known == name:
                return experiment_dto(name, exp_id)
        raise service_error(404, f"Experiment {name} was not found")

    def _experiment_create(self, params: dict[str, Any]) -> Any:
        name = params["experiment_name"]
        return experiment_dto(name, self.store.get_or_create_experiment(name))

    def _experiment_query(self, params: dict[str, Any]) -> list[Any]:
        query = params.get("query_params")
        try:
            keep = experiment_filter(getattr(query, "filter", None))
        except ValueError as exc:
            raise UnmockedServiceCall(f"mock_azureml: {exc}") from exc
        return [experiment_dto(n, i) for n, i in self.store.list_experiments() if keep(n)]

    def _experiment_by_id(self, params: dict[str, Any]) -> Any:
        name = self.backend.experiment_name({"experiment_id": params["experiment_id"]})
        return experiment_dto(name, params["experiment_id"])

    def _snapshot(self, client: Any, *args: Any, **kwargs: Any) -> str:
        """The local workspace keeps no source snapshots; the run gets an id and nothing else."""
        self.backend.begin("snapshots.create", self.backend.rest_error)
        return str(uuid.uuid4())
