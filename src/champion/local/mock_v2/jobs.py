"""Jobs: `jobs.get`, `jobs.list` (with `parent_job_name=`, through run history) and
`jobs.stream`, answered from the store's runs. A job's name is its run id, as on Azure, where it
is also the MLflow run id.

What the service answers, and so what the SDK makes of it:

- a pipeline run (`azureml.PipelineRun`) is a `Pipeline` job; any other top-level run a
  `Command` job (a local script run has no command line or environment to report: the body
  says so, `command` "local" and no environment);
- a pipeline's step (a run with a parent) comes back from `jobs/{name}` without properties,
  as Azure's front end answers for pipeline children, and the SDK then reads it from run
  history (`runs/{id}`), giving the light `_BaseJob` it gives for children on Azure;
- `runs/{id}/children` lists a run's children newest first (the store's order), and
  `runs/{id}/details` its status, for `jobs.stream` (a finished run prints its summary; a
  failed one raises the SDK's `JobException`, as on Azure). The local workspace keeps no log
  files, so none are streamed.
"""

from __future__ import annotations

from typing import Any

from champion.local.mock_v2.transport import API, ARM, Refused, Reply, Request, Route, route
from champion.local.mock_v2.wire import WORKSPACE, Scope, not_found, page, system_data
from champion.local.store import RunRecord, Store

JOBS = WORKSPACE + "/jobs"
HISTORY = "/history/v1.0" + WORKSPACE
PIPELINE_RUN = "azureml.PipelineRun"


class JobRoutes:
    """Jobs and run history (see the module docstring)."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def routes(self) -> list[Route]:
        return [
            route("GET", ARM, JOBS, "Jobs.list", self.list_jobs),
            route("GET", ARM, JOBS + "/{name}", "Jobs.get", self.get_job),
            route("GET", API, HISTORY + "/runs/{run}", "Runs.get", self.get_run),
            route("GET", API, HISTORY + "/runs/{run}/children", "Runs.getChild", self.children),
            route("GET", API, HISTORY + "/runs/{run}/details", "Runs.getDetails", self.details),
        ]

    # ------------------------------------------------------------------ jobs (ARM)

    def get_job(self, request: Request, params: dict[str, str]) -> Reply:
        run = self._run(params["name"])
        return Reply.of_json(200, self.job_body(Scope.of(params), run))

    def list_jobs(self, request: Request, params: dict[str, str]) -> Reply:
        scope = Scope.of(params)
        runs = [r for r in self.store.list_runs() if r.parent_id is None]
        return page(request, [self.job_body(scope, r) for r in runs])

    def job_body(self, scope: Scope, run: RunRecord) -> dict[str, Any]:
        body: dict[str, Any] = {
            "id": scope.resource_id("jobs", run.run_id),
            "name": run.run_id,
            "type": "Microsoft.MachineLearningServices/workspaces/jobs",
            "properties": None,
            "systemData": system_data(run.created_utc, run.end_utc or run.start_utc),
        }
        if run.parent_id is not None:
            return body  # a pipeline's child: Azure answers without properties
        common: dict[str, Any] = {
            "description": None,
            "tags": dict(run.tags),
            "properties": dict(run.properties),
            "displayName": run.display_name or run.name or run.run_id,
            "status": run.status,
            "experimentName": run.experiment,
            "services": {"Studio": {"jobServiceType": "Studio", "endpoint": None}},
            "computeId": None,
            "isArchived": False,
            "identity": None,
            "componentId": None,
            "notificationSetting": None,
        }
        if run.run_type == PIPELINE_RUN:
            common.update(
                jobType="Pipeline", inputs={}, outputs={}, jobs={}, settings={}, sourceJobId=None
            )
        else:
            common.update(
                jobType="Command",
                command="local",
                environmentId=None,
                codeId=None,
                inputs={},
                outputs={},
                environmentVariables={},
                resources={"instanceCount": 1, "properties": {}},
                distribution=None,
                limits=None,
            )
        body["properties"] = common
        return body

    # ------------------------------------------------------------------ run history

    def get_run(self, request: Request, params: dict[str, str]) -> Reply:
        return Reply.of_json(200, self.run_body(self._run(params["run"])))

    def children(self, request: Request, params: dict[str, str]) -> Reply:
        parent = self._run(params["run"])
        runs = self.store.list_children(parent.run_id)
        if "$top" in request.query:
            try:
                runs = runs[: max(int(request.query["$top"]), 0)]
            except ValueError:
                pass
        return page(request, [self.run_body(r) for r in runs])

    def details(self, request: Request, params: dict[str, str]) -> Reply:
        run = self._run(params["run"])
        body: dict[str, Any] = {
            "runId": run.run_id,
            "parentRunId": run.parent_id,
            "status": run.status,
            "startTimeUtc": run.start_utc,
            "endTimeUtc": run.end_utc,
            "target": "local",
            "properties": dict(run.properties),
            "tags": dict(run.tags),
            "logFiles": {},
            "warnings": [],
            "error": run.error,
        }
        return Reply.of_json(200, body)

    def run_body(self, run: RunRecord) -> dict[str, Any]:
        experiment_id = self.store.get_or_create_experiment(run.experiment)
        return {
            "runId": run.run_id,
            "runUuid": run.run_id,
            "parentRunId": run.parent_id,
            "rootRunId": run.root_id,
            "runNumber": run.run_number,
            "experimentId": experiment_id,
            "status": run.status,
            "createdUtc": run.created_utc,
            "startTimeUtc": run.start_utc,
            "endTimeUtc": run.end_utc,
            "displayName": run.display_name,
            "name": run.name,
            "dataContainerId": run.data_container_id,
            "runType": run.run_type,
            "properties": dict(run.properties),
            "tags": dict(run.tags),
            "error": run.error,
            "services": {},
            "hidden": False,
        }

    def _run(self, name: str) -> RunRecord:
        run = self.store.get_run(name)
        if run is None:
            raise Refused(not_found("JobNotFound", f"Job with name: {name} not found."))
        return run
