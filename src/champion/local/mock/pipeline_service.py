"""The pipelines service's entities, kept in the workspace: what `Pipeline.submit`,
`pipeline.publish()`, `PublishedPipeline` and `PipelineEndpoint` create and read.

With azureml-pipeline-core installed, `AE3PServiceCaller` (the SDK's pipelines REST client) is
answered here, operation by operation, from `PipelineDocuments`; the SDK's own graph builder,
fingerprints, validation and providers run as shipped around it:

- modules and data sources: created (the request body kept whole) and read back; nothing is
  found by fingerprint, so every submission creates its own (a module is the step as submitted,
  with its snapshot: `_AevaModuleSnapshotUploader.upload` keeps a copy of the source directory);
- a pipeline run: `create_unsubmitted_pipeline_run` keeps the graph and creates the run in run
  history (NotStarted, as the service does), `submit_saved_pipeline_run` compiles the graph to a
  plan (`pipeline_graph`) and starts it on this machine (`pipeline_jobs`);
- published pipelines, pipeline endpoints and schedules: `pipeline_published`.
"""

from __future__ import annotations

import json
import uuid
from typing import Any, cast

from champion.local import _traps
from champion.local.mock.backend import ClientFamily, Patch, as_method
from champion.local.mock.pipeline_graph import Submission, compile_graph
from champion.local.mock.pipeline_jobs import Runners
from champion.local.mock.pipeline_published import PublishedPipelines
from champion.local.mock.pipeline_store import PipelineDocuments
from champion.local.mock.wire import deserializer, error_reply
from champion.local.pipeline_runs import create_pipeline_run


class PipelineService(ClientFamily):
    """Modules, data sources, graphs, submissions, published pipelines and endpoints."""

    def patches(self) -> list[Patch]:
        try:
            from azureml.pipeline.core._aeva_provider import _AevaModuleSnapshotUploader
            from azureml.pipeline.core._restclients.aeva import models as aeva
            from azureml.pipeline.core._restclients.aeva.service_caller import AE3PServiceCaller
        except ImportError:  # azureml-pipeline-core is optional
            return []
        self.aeva: Any = aeva
        self.deserialize: Any = deserializer(aeva)
        self.documents = PipelineDocuments(self.store.root)
        self.runners = Runners(self.store, self.documents)
        handlers = {
            "create_datasource_async": self._create_datasource,
            "get_datasource_async": self._get_datasource,
            "try_get_datasource_by_hash_async": lambda identifier_hash: None,
            "create_module_async": self._create_module,
            "get_module_async": self._get_module,
            "try_get_module_by_hash_async": lambda identifier_hash: None,
            "create_unsubmitted_pipeline_run_async": self._create_run,
            "submit_saved_pipeline_run_async": self._submit_run,
            "get_graph_async": self._get_graph,
            "get_graph_interface_async": self._get_graph_interface,
            **PublishedPipelines(self).handlers(),
        }
        patches: list[Patch] = [
            (AE3PServiceCaller, name, as_method(_unbound(handler), name))
            for name, handler in handlers.items()
        ]
        patches.append((_AevaModuleSnapshotUploader, "upload", as_method(self._upload, "upload")))
        return patches

    # ------------------------------------------------------------------ helpers

    def begin(self, operation: str) -> None:
        self.backend.begin(f"pipelines.{operation}", self.error)

    def error(self, status: int, message: str, retry_after: float | None = None) -> Exception:
        """What the SDK's pipelines client raises for an error reply."""
        reply = error_reply(status, message, retry_after)
        return cast(Exception, self.aeva.ErrorResponseException(self.deserialize, reply))

    def read(self, kind: str, doc_id: str, type_name: str | None = None) -> Any:
        document = self.documents.get(kind, doc_id)
        if document is None:
            raise self.error(404, f"{kind[:-1].capitalize()} with id {doc_id} not found")
        return self.deserialize(type_name, document) if type_name else document

    # ------------------------------------------------------------------ modules, data sources

    def _upload(self, uploader: Any, directory: str) -> str:
        self.begin("snapshot")
        return self.documents.snapshot(directory)

    def _create_datasource(self, creation_info: Any) -> Any:
        self.begin("create_datasource")
        datasource_id = str(uuid.uuid4())
        self.documents.put("datasources", datasource_id, creation_info.serialize())
        return self._get_datasource(datasource_id)

    def _get_datasource(self, id: str) -> Any:
        info = self.read("datasources", id, "DataSourceCreationInfo")
        aeva = self.aeva
        blob = aeva.AzureBlobReference(
            relative_path=info.path_on_data_store, aml_data_store_name=info.data_store_name
        )
        location = aeva.DataLocation(data_reference=aeva.DataReference("1", blob))
        return aeva.DataSourceEntity(
            id=id, name=info.name, data_type_id=info.data_type_id, data_location=location
        )

    def _create_module(self, creation_info: Any) -> Any:
        self.begin("create_module")
        module_id = str(uuid.uuid4())
        self.documents.put("modules", module_id, creation_info.serialize())
        return self.aeva.ModuleEntity(id=module_id, name=creation_info.name)

    def _get_module(self, id: str) -> Any:
        self.begin("get_module")
        info = self.read("modules", id, "ModuleCreationInfo")
        aeva, face = self.aeva, info.structured_interface

        def parameters(items: list[Any] | None) -> list[Any]:
            return [
                aeva.Parameter(
                    name=p.name, default_value=p.default_value, is_optional=p.is_optional
                )
                for p in items or []
            ]

        ports = aeva.NodePortInterface(
            inputs=[
                aeva.NodeInputPort(name=i.name, data_types_ids=i.data_type_ids_list)
                for i in face.inputs or []
            ],
            outputs=[
                aeva.NodeOutputPort(name=o.name, data_type_id=o.data_type_id)
                for o in face.outputs or []
            ],
        )
        entity = aeva.ModuleEntity(
            id=id, name=info.name, description=info.description, structured_interface=face,
            is_deterministic=info.is_deterministic, step_type=info.step_type,
            runconfig=info.runconfig, cloud_settings=info.cloud_settings, upload_state="Completed",
        )  # fmt: skip
        interface = aeva.EntityInterface(
            parameters=parameters(face.parameters),
            metadata_parameters=parameters(face.metadata_parameters),
            ports=ports,
        )
        return aeva.Module(data=entity, interface=interface)

    # ------------------------------------------------------------------ graphs and runs

    def keep_graph(self, graph: Any, interface: Any) -> str:
        graph_id = str(uuid.uuid4())
        self.documents.put(
            "graphs", graph_id, {"graph": graph.serialize(), "interface": interface.serialize()}
        )
        return graph_id

    def _get_graph(self, graph_id: str) -> Any:
        self.begin("get_graph")
        return self.deserialize("GraphEntity", self.read("graphs", graph_id)["graph"])

    def _get_graph_interface(self, graph_id: str) -> Any:
        self.begin("get_graph")
        return self.deserialize("EntityInterface", self.read("graphs", graph_id)["interface"])

    def new_run(
        self,
        experiment: str,
        graph_id: str,
        assignments: dict[str, Any],
        *,
        pipeline_id: str | None = None,
        tags: dict[str, str] | None = None,
    ) -> str:
        """A pipeline run in run history (NotStarted) and its submission, kept."""
        run_id = str(uuid.uuid4())
        properties = {
            "runSource": "SDK",
            "runType": "SDK",
            "azureml.parameters": json.dumps(assignments.get("ParameterAssignments") or {}),
        }
        if pipeline_id:
            properties["azureml.pipelineid"] = pipeline_id
        create_pipeline_run(
            self.store, experiment, run_id=run_id, status="NotStarted", tags=tags,
            properties=properties,
        )  # fmt: skip
        self.documents.put(
            "runs",
            run_id,
            {"experiment": experiment, "graph_id": graph_id, "pipeline_id": pipeline_id,
             "assignments": assignments},
        )  # fmt: skip
        return run_id

    def _create_run(self, creation_info_with_graph: Any, experiment_name: str) -> Any:
        self.begin("create_run")
        info = creation_info_with_graph
        graph_id = self.keep_graph(info.graph, info.graph_interface)
        run_id = self.new_run(
            experiment_name, graph_id, info.creation_info.serialize(), tags=info.creation_info.tags
        )
        return self.run_entity(run_id)

    def _submit_run(
        self, pipeline_run_id: str, parent_run_id: Any = None, credential_passthrough: Any = None
    ) -> None:
        self.begin("submit")
        self.start(pipeline_run_id)

    def start(self, run_id: str) -> None:
        """Compile the run's graph with its assignments and start it on this machine."""
        run = self.read("runs", run_id)
        graph = self.read("graphs", run["graph_id"])
        assignments = self.deserialize("PipelineSubmissionInfo", run["assignments"])
        submission = Submission(
            experiment=run["experiment"],
            graph=self.deserialize("GraphEntity", graph["graph"]),
            interface=self.deserialize("EntityInterface", graph["interface"]),
            parameter_assignments=assignments.parameter_assignments or {},
            data_path_assignments=assignments.data_path_assignments or {},
            dataset_assignments=assignments.data_set_definition_value_assignments or {},
        )
        try:
            plan = compile_graph(submission, self.documents, self.store, self.deserialize)
        except KeyError as exc:
            self.store.update_run(run_id, status="Failed", error={"message": str(exc)})
            raise self.error(400, f"the pipeline cannot run: {exc.args[0]}") from None
        except BaseException as exc:
            self.store.update_run(run_id, status="Failed", error={"message": str(exc)})
            raise
        _traps.check_plan(plan)  # the runner runs every step; Azure may reuse some
        self.runners.start(run_id, plan)

    def run_entity(self, run_id: str) -> Any:
        """The service's view of a pipeline run (its status as the pipelines service says it)."""
        self.runners.check(run_id)
        record = self.store.get_run(run_id)
        if record is None:
            raise self.error(404, f"Pipeline run {run_id} not found")
        run = self.documents.get("runs", run_id) or {}
        assignments = run.get("assignments") or {}
        status = {"Completed": "Finished"}.get(record.status, record.status)
        return self.aeva.PipelineRunEntity(
            id=record.run_id, description=assignments.get("Description"),
            run_history_experiment_name=record.experiment,
            status=self.aeva.PipelineRunStatus(status_code=status), graph_id=run.get("graph_id"),
            pipeline_id=run.get("pipeline_id"),
            parameter_assignments=assignments.get("ParameterAssignments") or {},
            tags=dict(record.tags), properties=dict(record.properties), run_type=record.run_type,
        )  # fmt: skip


def _unbound(handler: Any) -> Any:
    """A handler that ignores the `AE3PServiceCaller` it is called on."""

    def method(caller: Any, *args: Any, **kwargs: Any) -> Any:
        return handler(*args, **kwargs)

    return method
