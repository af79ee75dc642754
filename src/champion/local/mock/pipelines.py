"""The pipelines service, as far as a `PipelineRun`/`StepRun` needs it offline: with
azureml-pipeline-core installed, `AE3PServiceCaller.get_all_datatypes_async`,
`get_pipeline_run_async`, `get_node_status_code_async` and `cancel_pipeline_run_async`.

A `PipelineRun`/`StepRun` builds a `_GraphContext`, which asks the pipelines service for its data
types and, for a step, its pipeline run's experiment. Answering those calls lets
`step_run.parent`, `get_children()` and `find_step_run()` work offline."""

from __future__ import annotations

from typing import Any, cast

from champion.local.mock.backend import ClientFamily, Patch, as_method
from champion.local.mock.wire import deserializer, error_reply

# The pipelines service reports "Finished" where run history says "Completed".
_PIPELINE_STATUS = {"Completed": "Finished"}
_DEFAULT_DATATYPES = {
    "AnyFile": False, "AzureBlobReference": False, "AzureDataLakeReference": False,
    "AzureFilesReference": False, "AzureSqlDatabaseReference": False,
    "AzurePostgresDatabaseReference": False, "AzureDataLakeGen2Reference": False,
    "AzureMLDataset": False, "AzureMySqlDatabaseReference": False, "DBFSReference": False,
    "AnyDirectory": True,
}  # fmt: skip


class Pipelines(ClientFamily):
    """Pipeline runs and their steps' status (see the module docstring)."""

    def patches(self) -> list[Patch]:
        try:
            from azureml.pipeline.core._restclients.aeva import models as aeva
            from azureml.pipeline.core._restclients.aeva.service_caller import AE3PServiceCaller
        except ImportError:  # azureml-pipeline-core is optional
            return []
        aeva_deserializer = deserializer(aeva)

        def pipeline_error(status: int, message: str, retry_after: float | None) -> Exception:
            reply = error_reply(status, message, retry_after)
            return cast(Exception, aeva.ErrorResponseException(aeva_deserializer, reply))

        def datatypes(caller: Any) -> list[Any]:
            self.backend.begin("pipelines.get_datatypes", pipeline_error)
            return [
                aeva.DataTypeEntity(id=k, name=k, description=k, is_directory=v)
                for k, v in _DEFAULT_DATATYPES.items()
            ]

        def pipeline_run(caller: Any, pipeline_run_id: str) -> Any:
            self.backend.begin("pipelines.get_run", pipeline_error)
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
            self.backend.begin("pipelines.get_node_status", pipeline_error)
            for child in self.store.list_children(pipeline_run_id):
                if child.tags.get("azureml.nodeid") == node_id:
                    return _PIPELINE_STATUS.get(child.status, child.status)
            return None

        def cancel(caller: Any, pipeline_run_id: str) -> None:
            """`PipelineRun.cancel()`: the pipeline run is Canceled; the local runner sees it
            between steps and starts no other step, as the pipelines service stops a run."""
            self.backend.begin("pipelines.cancel", pipeline_error)
            if self.store.get_run(pipeline_run_id) is None:
                raise pipeline_error(404, f"Pipeline run {pipeline_run_id} not found", None)
            self.store.update_run(pipeline_run_id, status="Canceled")

        return [
            (AE3PServiceCaller, "cancel_pipeline_run_async", as_method(cancel, "cancel")),
            (AE3PServiceCaller, "get_all_datatypes_async", as_method(datatypes, "datatypes")),
            (AE3PServiceCaller, "get_pipeline_run_async", as_method(pipeline_run, "pipeline_run")),
            (
                AE3PServiceCaller,
                "get_node_status_code_async",
                as_method(node_status, "node_status"),
            ),
        ]
