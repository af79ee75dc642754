"""Pipeline runs and their steps as the pipelines service reports them: with
azureml-pipeline-core installed, the `AE3PServiceCaller` calls a `PipelineRun`/`StepRun` makes
to read its status, graph, outputs and logs, and to cancel.

A `PipelineRun`/`StepRun` builds a `_GraphContext`, which asks the pipelines service for its data
types and, for a step, its pipeline run's experiment. Answering those lets `step_run.parent`,
`get_children()`, `get_steps()`, `find_step_run()`, `wait_for_completion()` and
`get_output_data(name)` work offline. A run's status comes from run history (the local runner
writes it there); the service's words differ only for a completed run ("Finished"). A pipeline
run whose local runner died is failed when read (`pipeline_jobs.Runners.check`), so a wait
always ends.
"""

from __future__ import annotations

import json
from typing import Any

from champion.local.mock.backend import Backend, ClientFamily, Patch, as_method
from champion.local.mock.pipeline_service import PipelineService
from champion.local.plan import Plan, output_path
from champion.local.store import RUN_ORIGIN, RunRecord

# The pipelines service reports "Finished" where run history says "Completed".
_PIPELINE_STATUS = {"Completed": "Finished"}
_DEFAULT_DATATYPES = {
    "AnyFile": False, "AzureBlobReference": False, "AzureDataLakeReference": False,
    "AzureFilesReference": False, "AzureSqlDatabaseReference": False,
    "AzurePostgresDatabaseReference": False, "AzureDataLakeGen2Reference": False,
    "AzureMLDataset": False, "AzureMySqlDatabaseReference": False, "DBFSReference": False,
    "AnyDirectory": True,
}  # fmt: skip
_DRIVER_LOG = "logs/azureml/70_driver_log.txt"


class Pipelines(ClientFamily):
    """Pipeline runs and their steps' status (see the module docstring)."""

    def __init__(self, backend: Backend, service: PipelineService) -> None:
        super().__init__(backend)
        self.service = service

    def patches(self) -> list[Patch]:
        try:
            from azureml.pipeline.core._restclients.aeva import models as aeva
            from azureml.pipeline.core._restclients.aeva.service_caller import AE3PServiceCaller
        except ImportError:  # azureml-pipeline-core is optional
            return []
        service = self.service

        def begin(operation: str) -> None:
            self.backend.begin(f"pipelines.{operation}", service.error)

        def datatypes(caller: Any) -> list[Any]:
            begin("get_datatypes")
            return [
                aeva.DataTypeEntity(id=k, name=k, description=k, is_directory=v)
                for k, v in _DEFAULT_DATATYPES.items()
            ]

        def pipeline_run(caller: Any, pipeline_run_id: str) -> Any:
            begin("get_run")
            return service.run_entity(pipeline_run_id)

        def node_status(caller: Any, pipeline_run_id: str, node_id: str) -> str | None:
            begin("get_node_status")
            service.runners.check(pipeline_run_id)
            child = self._step_run(pipeline_run_id, node_id)
            return None if child is None else _PIPELINE_STATUS.get(child.status, child.status)

        def node_task(caller: Any, pipeline_run_id: str, node_id: str) -> Any:
            begin("get_node_status")
            child = self._step_run(pipeline_run_id, node_id)
            if child is None:
                raise service.error(404, f"Node {node_id} of run {pipeline_run_id} has no run")
            status = _PIPELINE_STATUS.get(child.status, child.status)
            return aeva.TaskStatus(status_code=status, run_id=child.run_id)

        def node_outputs(caller: Any, pipeline_run_id: str, node_id: str) -> dict[str, Any]:
            begin("get_node_outputs")
            return self._outputs(aeva, pipeline_run_id, node_id)

        def node_log(caller: Any, pipeline_run_id: str, node_id: str) -> str:
            begin("get_node_log")
            child = self._step_run(pipeline_run_id, node_id)
            return "" if child is None else self._log(child.run_id)

        def cancel(caller: Any, pipeline_run_id: str) -> None:
            """`PipelineRun.cancel()`: the pipeline run is Canceled; its runner stops the step
            that runs (SIGTERM to its process group, SIGKILL after a grace), marks it Canceled
            and starts no other, as the pipelines service stops a run."""
            begin("cancel")
            record = self.store.get_run(pipeline_run_id)
            if record is None:
                raise service.error(404, f"Pipeline run {pipeline_run_id} not found")
            if record.status not in ("Completed", "Failed", "Canceled"):
                self.store.update_run(pipeline_run_id, status="Canceled")

        return [
            (AE3PServiceCaller, "cancel_pipeline_run_async", as_method(cancel, "cancel")),
            (AE3PServiceCaller, "get_all_datatypes_async", as_method(datatypes, "datatypes")),
            (AE3PServiceCaller, "get_pipeline_run_async", as_method(pipeline_run, "pipeline_run")),
            (AE3PServiceCaller, "get_node_status_code_async", as_method(node_status, "status")),
            (AE3PServiceCaller, "get_node_status_async", as_method(node_task, "node_task")),
            (AE3PServiceCaller, "get_node_outputs_async", as_method(node_outputs, "outputs")),
            (AE3PServiceCaller, "get_node_job_log_async", as_method(node_log, "job_log")),
            (AE3PServiceCaller, "get_node_stdout_log_async", as_method(node_log, "stdout_log")),
            (AE3PServiceCaller, "get_node_stderr_log_async", as_method(lambda *a: "", "stderr")),
        ]  # fmt: skip

    def _step_run(self, pipeline_run_id: str, node_id: str) -> RunRecord | None:
        for child in self.store.list_children(pipeline_run_id):
            if child.tags.get("azureml.nodeid") == node_id:
                return child
        return None

    def _outputs(self, aeva: Any, pipeline_run_id: str, node_id: str) -> dict[str, Any]:
        """Where each output of a step's run is, on its datastore: the plan says how the
        runner placed it (`champion.local.plan.output_path`)."""
        document = self.service.documents.get("plans", pipeline_run_id)
        child = self._step_run(pipeline_run_id, node_id)
        if document is None or child is None:
            return {}
        plan = Plan.from_json(json.dumps(document))
        found: dict[str, Any] = {}
        for step in plan.steps:
            if step.node_id != node_id:
                continue
            for output in step.outputs:
                path = output_path(output, run_id=child.run_id, pipeline_run_id=pipeline_run_id)
                blob = aeva.AzureBlobReference(
                    relative_path=path, aml_data_store_name=output.datastore
                )
                location = aeva.DataLocation(data_reference=aeva.DataReference("1", blob))
                found[output.name] = aeva.NodeOutput(data_type_id="AnyFile", data_location=location)
        return found

    def _log(self, run_id: str) -> str:
        """The step's console log once its run holds it (uploaded when the step ends)."""
        record = self.store.get_run(run_id)
        if record is None:
            return ""
        artifact = self.store.get_artifact(RUN_ORIGIN, record.data_container_id, _DRIVER_LOG)
        if artifact is None or artifact.digest is None:
            return ""
        return self.store.read_blob(artifact.digest).decode("utf-8", errors="replace")
