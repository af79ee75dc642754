"""Published pipelines, pipeline endpoints and schedules, kept in the workspace.

`pipeline.publish()` and `run.publish_pipeline(...)` keep the graph as it was published, under
a new id; `PublishedPipeline.get/list/enable/disable` read and change what was kept, and
`PublishedPipeline.submit` runs that graph with the published parameter values overridden by
the run's, as the service does. A pipeline endpoint (`PipelineEndpoint.publish/get/
add_default/set_default/submit/list_pipelines`) is a name over numbered versions of published
pipelines ("0" first), one of them the default a `submit` runs.

A Schedule starts runs from Azure ML's scheduler, which the local workspace does not have:
creating, reading or updating one raises `UnmockedServiceCall`, and listing answers none.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from champion.local._unmocked import UnmockedServiceCall
from champion.local.mock.backend import ENDPOINT

if TYPE_CHECKING:
    from champion.local.mock.pipeline_service import PipelineService

__all__ = ["PublishedPipelines"]

_ENTITY_STATUS = {"0": "Active", "1": "Deprecated", "2": "Disabled"}


def _status(document: dict[str, Any]) -> str:
    status = str(document["status"])
    return _ENTITY_STATUS.get(status, status)


class PublishedPipelines:
    """The published-pipeline, endpoint and schedule operations of one pipelines service."""

    def __init__(self, service: PipelineService) -> None:
        self.service = service

    def handlers(self) -> dict[str, Callable[..., Any]]:
        return {
            "create_pipeline_async": self._publish,
            "get_pipeline_async": self._get_published,
            "get_all_published_pipelines": self._list_published,
            "update_published_pipeline_status_async": self._set_published_status,
            "submit_pipeline_run_from_pipeline_async": self._submit_published,
            "get_pipeline_runs_by_pipeline_id_async": self._published_runs,
            "create_pipeline_endpoint_async": self._create_endpoint,
            "get_pipeline_endpoint_by_id_async": self._get_endpoint,
            "get_pipeline_endpoint_by_name_async": self._get_endpoint_by_name,
            "update_pipeline_endpoint_async": self._update_endpoint,
            "get_all_pipeline_endpoints_async": self._list_endpoints,
            "submit_pipeline_run_from_pipeline_endpoint_async": self._submit_endpoint,
            "get_all_pipelines_from_pipeline_endpoint_async": self._endpoint_pipelines,
            "create_schedule_async": self._schedules_refused,
            "get_schedule_async": self._schedules_refused,
            "update_schedule_async": self._schedules_refused,
            "get_all_schedules_async": lambda *a, **k: [],
            "get_schedules_by_pipeline_id_async": lambda *a, **k: [],
            "get_schedules_by_pipeline_endpoint_id_async": lambda *a, **k: [],
        }

    def _publish(self, pipeline_creation_info: Any) -> Any:
        self.service.begin("publish")
        info = pipeline_creation_info
        graph_id = self.service.keep_graph(info.graph, info.graph_interface)
        pipeline_id = str(uuid.uuid4())
        document = {"info": info.serialize(), "graph_id": graph_id, "status": "Active"}
        document["info"].pop("Graph", None)
        document["info"].pop("GraphInterface", None)
        self.service.documents.put("published", pipeline_id, document)
        return self._published_entity(pipeline_id)

    def _published_entity(self, pipeline_id: str) -> Any:
        document = self.service.read("published", pipeline_id)
        info = self.service.deserialize("PipelineCreationInfo", document["info"])
        graph_document = self.service.read("graphs", document["graph_id"])
        graph = self.service.deserialize("GraphEntity", graph_document["graph"])
        return self.service.aeva.PipelineEntity(
            id=pipeline_id, name=info.name, description=info.description, version=info.version,
            graph_id=document["graph_id"], total_run_steps=len(graph.module_nodes or []),
            parameter_assignments=info.parameter_assignments,
            data_set_definition_value_assignments=info.data_set_definition_value_assignments,
            url=f"{ENDPOINT}/pipelines/{pipeline_id}", entity_status=document["status"],
            continue_run_on_step_failure=info.continue_run_on_step_failure,
            enable_email_notification=info.enable_email_notification,
        )  # fmt: skip

    def _get_published(self, pipeline_id: str) -> Any:
        self.service.begin("get_published")
        return self._published_entity(pipeline_id)

    def _list_published(self, active_only: bool = True) -> list[Any]:
        self.service.begin("list_published")
        return [
            self._published_entity(pipeline_id)
            for pipeline_id, document in self.service.documents.all("published")
            if not active_only or _status(document) == "Active"
        ]  # fmt: skip

    def _set_published_status(self, pipeline_id: str, new_status: str) -> None:
        self.service.begin("update_published")
        with self.service.documents.locked():
            document = self.service.read("published", pipeline_id)
            document["status"] = _ENTITY_STATUS.get(str(new_status), str(new_status))
            self.service.documents.put("published", pipeline_id, document)

    def _submit_published(
        self, pipeline_id: str, pipeline_submission_info: Any, parent_run_id: Any = None
    ) -> Any:
        self.service.begin("submit")
        return self.submit_published(pipeline_id, pipeline_submission_info)

    def submit_published(self, pipeline_id: str, submission: Any) -> Any:
        """A run of a published pipeline: its graph, its parameter values, then the run's."""
        document = self.service.read("published", pipeline_id)
        if _status(document) != "Active":
            raise self.service.error(400, f"Published pipeline {pipeline_id} is not active")
        published = document["info"]
        assignments = submission.serialize()
        for key in ("ParameterAssignments", "DataPathAssignments"):
            assignments[key] = {**(published.get(key) or {}), **(assignments.get(key) or {})}
        run_id = self.service.new_run(
            submission.experiment_name, document["graph_id"], assignments,
            pipeline_id=pipeline_id, tags=submission.tags,
        )  # fmt: skip
        self.service.start(run_id)
        return self.service.run_entity(run_id)

    def _published_runs(self, pipeline_id: str) -> list[Any]:
        return [
            self.service.run_entity(run_id)
            for run_id, run in self.service.documents.all("runs")
            if run.get("pipeline_id") == pipeline_id
        ]

    # ------------------------------------------------------------------ pipeline endpoints

    def _create_endpoint(self, pipeline_endpoint_creation_info: Any) -> Any:
        self.service.begin("create_endpoint")
        info = pipeline_endpoint_creation_info
        with self.service.documents.locked():
            if any(d["name"] == info.name for _, d in self.service.documents.all("endpoints")):
                raise self.service.error(
                    409, f"PipelineEndpoint with name {info.name} already exists"
                )
            self.service.read("published", info.pipeline_id)
            endpoint_id = str(uuid.uuid4())
            self.service.documents.put(
                "endpoints",
                endpoint_id,
                {"name": info.name, "description": info.description, "default_version": "0",
                 "versions": [{"version": "0", "pipeline_id": info.pipeline_id}],
                 "status": "Active"},
            )  # fmt: skip
        return self._endpoint_entity(endpoint_id)

    def _endpoint_entity(self, endpoint_id: str) -> Any:
        document = self.service.read("endpoints", endpoint_id)
        versions = [self.service.aeva.PipelineVersion(**v) for v in document["versions"]]
        return self.service.aeva.PipelineEndpointEntity(
            id=endpoint_id, name=document["name"], description=document["description"],
            default_version=document["default_version"], pipeline_version_list=versions,
            url=f"{ENDPOINT}/pipelineEndpoints/{endpoint_id}", entity_status=document["status"],
        )  # fmt: skip

    def _get_endpoint(self, endpoint_id: Any = None) -> Any:
        self.service.begin("get_endpoint")
        return self._endpoint_entity(str(endpoint_id))

    def _get_endpoint_by_name(self, name: Any = None) -> Any:
        self.service.begin("get_endpoint")
        for endpoint_id, document in self.service.documents.all("endpoints"):
            if document["name"] == name:
                return self._endpoint_entity(endpoint_id)
        raise self.service.error(404, f"PipelineEndpoint with name {name} not found")

    def _update_endpoint(self, endpoint_id: str, updated: Any) -> Any:
        self.service.begin("update_endpoint")
        with self.service.documents.locked():
            document = self.service.read("endpoints", endpoint_id)
            versions = [
                {"version": str(v.version), "pipeline_id": v.pipeline_id}
                for v in updated.pipeline_version_list or []
            ]
            for version in versions:
                self.service.read("published", version["pipeline_id"])
            if str(updated.default_version) not in {v["version"] for v in versions}:
                raise self.service.error(
                    400, f"version {updated.default_version} is not in the endpoint"
                )
            document.update(
                name=updated.name, description=updated.description, versions=versions,
                default_version=str(updated.default_version),
                status=_ENTITY_STATUS.get(str(updated.entity_status), str(updated.entity_status)),
            )  # fmt: skip
            self.service.documents.put("endpoints", endpoint_id, document)
        return self._endpoint_entity(endpoint_id)

    def _list_endpoints(self, active_only: bool = True, max_results: int = 100) -> list[Any]:
        self.service.begin("list_endpoints")
        found = [
            self._endpoint_entity(endpoint_id)
            for endpoint_id, document in self.service.documents.all("endpoints")
            if not active_only or _status(document) == "Active"
        ]  # fmt: skip
        return found[:max_results]

    def _submit_endpoint(
        self,
        endpoint_id: str,
        pipeline_submission_info: Any,
        parent_run_id: Any = None,
        pipeline_version: Any = None,
    ) -> Any:
        self.service.begin("submit")
        document = self.service.read("endpoints", endpoint_id)
        version = str(pipeline_version or document["default_version"])
        chosen = [v["pipeline_id"] for v in document["versions"] if v["version"] == version]
        if not chosen:
            raise self.service.error(
                404, f"PipelineEndpoint {document['name']} has no version {version}"
            )
        return self.submit_published(chosen[0], pipeline_submission_info)

    def _endpoint_pipelines(self, endpoint_id: str, active_only: bool = True) -> list[Any]:
        document = self.service.read("endpoints", endpoint_id)
        return [self._published_entity(v["pipeline_id"]) for v in document["versions"]]

    def _schedules_refused(self, *args: Any, **kwargs: Any) -> Any:
        raise UnmockedServiceCall(
            "mock_azureml: a pipeline Schedule runs only on Azure ML; the local workspace keeps "
            "no schedules"
        )
