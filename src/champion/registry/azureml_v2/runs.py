"""The v2 backend's runs: a v2 job's MLflow run, as the gate's `ParentRun` and as step code's run,
and the workspace a v2 step works in (its `MLClient` and its MLflow).

Why MLflow: the v2 SDK has no run tracking of its own ("use MLflow", Microsoft Learn); a job's
name is its MLflow run id, and a pipeline's steps are the runs whose `mlflow.parentRunId` names
it. So the MLflow backend's runs (`champion.registry.mlflow.runs`) serve here, with two
differences that make one history with v1's:

- the gate's artifact names are kept as they are (`outputs/iris/model.pkl`,
  `outputs/champion_decision.json`): on Azure ML a job's MLflow artifacts ARE its run's
  outputs, where a v1 step puts the same files, so v1 and v2 records read the same way;
- an artifact is never overwritten on Azure ML: an upload to a name the run holds is refused
  (`ArtifactConflict`), so the gate uploads to a fresh run without listing it first.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from champion import _env
from champion.errors import InputError
from champion.registry import ArtifactConflict, StepRun
from champion.registry.mlflow._calls import (
    _ABSENT,
    MlflowCallError,
    _found,
    _remote,
    _translated,
)
from champion.registry.mlflow.runs import (
    MlflowParentRun,
    MlflowRun,
    MlflowWorkspace,
    connect,
    step_run,
    step_run_of,
)

__all__ = [
    "CONTROL_OUTPUTS",
    "AzureMLV2Workspace",
    "V2ParentRun",
    "V2Run",
    "configured_workspace",
    "current_run",
    "pipeline_run",
]

#: The run property through which a command job hands its control outputs (`is_control: true`,
#: what `dsl.condition` reads) to the pipeline, as a JSON object (mldesigner's
#: `CONTROL_OUTPUTS_KEY`, written by a PATCH of the run in run history).
CONTROL_OUTPUTS = "azureml.pipeline.control"
_OUTPUTS = "outputs"


class AzureMLV2Workspace:
    """Where the v2 backend works: the job's MLflow (runs, metrics, records) and the
    workspace's `MLClient` (models), built when first asked for: a step that only reads its
    run imports no azure-ai-ml."""

    def __init__(self, mlflow: MlflowWorkspace, ml_client: Any = None) -> None:
        self.mlflow = mlflow
        self._ml_client = ml_client

    @property
    def name(self) -> str:
        return self.mlflow.name

    @property
    def ml_client(self) -> Any:
        if self._ml_client is None:
            self._ml_client = _ml_client()
        return self._ml_client

    @classmethod
    def of_client(cls, ml_client: Any) -> AzureMLV2Workspace:
        """The workspace an `MLClient` names, with its MLflow (`MLFLOW_TRACKING_URI`, else the
        workspace's tracking URI)."""
        return cls(_mlflow(ml_client), ml_client)


def _ml_client() -> Any:
    """Inside a job, the workspace Azure names (`AZUREML_ARM_*`) with the compute's identity
    (`DEFAULT_IDENTITY_CLIENT_ID`) or the job's on-behalf-of credential, as Azure ML's own
    components build it; elsewhere the workspace `config.json` names, with
    `DefaultAzureCredential`. azure-core's own retries are off (`retry_total=0`: ten by
    default for ARM): each call is retried in champion's one loop, never in two nested ones."""
    from azure.ai.ml import MLClient

    arm = _env.azureml_arm()
    if arm is not None:
        client_id = _env.identity_client_id()
        credential: Any
        if client_id:
            from azure.identity import ManagedIdentityCredential

            credential = ManagedIdentityCredential(client_id=client_id)
        else:
            from azure.ai.ml.identity import AzureMLOnBehalfOfCredential

            credential = AzureMLOnBehalfOfCredential()
        return MLClient(credential, *arm, retry_total=0)
    from azure.identity import DefaultAzureCredential

    try:
        return MLClient.from_config(DefaultAzureCredential(), retry_total=0)
    except Exception as exc:
        if "config.json" not in str(exc):
            raise
        raise InputError(
            "no Azure ML workspace: outside a job the azureml-v2 backend reads config.json "
            "(`az ml workspace show` can write it, or download it from the studio); inside a "
            f"job Azure sets {_env.AZUREML_ARM_SUBSCRIPTION} and friends",
            field="config.json",
            value=None,
        ) from None


def _mlflow(ml_client: Any = None) -> MlflowWorkspace:
    """The job's MLflow (`MLFLOW_TRACKING_URI`, which Azure sets in every job), else the
    workspace's own tracking URI, read once from the workspace."""
    uri = _env.mlflow_tracking_uri()
    if not uri and ml_client is not None:
        uri = _remote(
            "reading the workspace's MLflow tracking URI",
            lambda: ml_client.workspaces.get(ml_client.workspace_name).mlflow_tracking_uri,
        )
    if uri and uri.startswith("azureml:"):
        import importlib.util

        if importlib.util.find_spec("azureml.mlflow") is None:
            raise InputError(
                f"{_env.MLFLOW_TRACKING_URI} is Azure ML's ({uri.split('?')[0][:40]}...), which "
                "MLflow reads only with the azureml-mlflow plugin: pip install azureml-mlflow",
                field=_env.MLFLOW_TRACKING_URI,
                value=uri.split("?")[0],
            )
    return connect(uri, uri, azureml=True)


def configured_workspace() -> AzureMLV2Workspace:
    """The workspace of this process: the job's, or the one `config.json` names."""
    if _env.mlflow_tracking_uri():
        return AzureMLV2Workspace(_mlflow())
    ml_client = _ml_client()
    return AzureMLV2Workspace(_mlflow(ml_client), ml_client)


class V2ParentRun(MlflowParentRun):
    """A v2 job's run as the gate's `ParentRun`: MLflow's, with Azure ML's artifact names
    and rules (see the module docstring)."""

    _walk_root = _OUTPUTS
    _records_folder = _OUTPUTS

    def __init__(
        self, workspace: MlflowWorkspace, run: Any, steps: Sequence[StepRun] | None = None
    ) -> None:
        super().__init__(workspace, run)
        self._steps = steps

    def step_runs(self) -> Sequence[StepRun]:
        """The pipeline's steps, as read when the step found its pipeline through them (see
        `current_run`), else one search."""
        return self._steps if self._steps is not None else super().step_runs()

    def _path(self, name: str) -> str:
        return name

    def _name(self, path: str) -> str:
        return path

    @property
    def overwrites(self) -> bool:
        return False

    def upload_new(self, files: Mapping[str, Path | bytes], reserve: Sequence[str] = ()) -> None:
        # Azure ML has no batch and refuses a name the run holds: each upload is tried, and
        # the first refusal says which name (the gate lists the run's files from there)
        for name, content in files.items():
            if isinstance(content, bytes):
                self.upload_bytes(name, content)
            else:
                self.upload_file(name, content)

    def upload_file(self, name: str, path: Path) -> None:
        _refused_as_conflict(name, lambda: super(V2ParentRun, self).upload_file(name, path))

    def upload_bytes(self, name: str, data: bytes) -> None:
        _refused_as_conflict(name, lambda: super(V2ParentRun, self).upload_bytes(name, data))


def _refused_as_conflict(name: str, upload: Any) -> None:
    """An upload the service refuses because the name is taken (HTTP 409, MLflow's
    RESOURCE_ALREADY_EXISTS) is the gate's ArtifactConflict."""
    try:
        upload()
    except MlflowCallError as exc:
        if exc.error_code == "RESOURCE_ALREADY_EXISTS" or exc.status_code == 409:
            raise ArtifactConflict([name]) from None
        raise
    except Exception as exc:
        if getattr(getattr(exc, "response", None), "status_code", None) == 409:
            raise ArtifactConflict([name]) from None
        raise


class V2Run(MlflowRun, V2ParentRun):
    """A v2 step's own run, as `champion.context.get_run()` gives it: MLflow's run of the job
    (`MLFLOW_RUN_ID`, which is `AZUREML_RUN_ID`), whose parent is the pipeline job."""

    parent_class = V2ParentRun

    def __init__(self, workspace: AzureMLV2Workspace, run: Any) -> None:
        super().__init__(workspace.mlflow, run)
        self.v2_workspace = workspace
        self._siblings: Sequence[StepRun] | None = None

    def _sibling(self, run: Any) -> V2Run:
        return V2Run(self.v2_workspace, run)

    def parent_run(self) -> V2ParentRun | None:
        parent = self.parent
        if parent is None:
            return None
        return V2ParentRun(parent.workspace, parent.mlflow_run, self._siblings)

    def set_control_outputs(self, values: Mapping[str, object]) -> None:
        """Hand `values` to the pipeline as this job's control outputs (`is_control: true`):
        the run property `azureml.pipeline.control`, written as Azure's own components write it
        (mldesigner: a PATCH of the run in run history, authenticated as MLflow is)."""
        from mlflow.utils.rest_utils import http_request

        client = self.workspace.client
        creds = _translated(lambda: client._tracking_client.store.get_host_creds())
        creds.host = creds.host.replace("mlflow/v2.0", "mlflow/v1.0").replace(
            "mlflow/v1.0", "history/v1.0"
        )
        body = {"runId": self.id, "properties": {CONTROL_OUTPUTS: json.dumps(dict(values))}}
        endpoint = f"/experimentids/{self.experiment_id}/runs/{self.id}"

        def patch() -> None:
            response = http_request(  # type: ignore[no-untyped-call]
                host_creds=creds, endpoint=endpoint, method="PATCH", json=body
            )
            response.raise_for_status()

        _remote(f"writing the control outputs of run {self.id}", patch)


def pipeline_run(workspace: AzureMLV2Workspace, name: str) -> V2ParentRun:
    """The job `name` (a pipeline job) as a `ParentRun`, to read its decision record."""
    client = workspace.mlflow.client
    run = _remote(f"loading job {name}", lambda: client.get_run(name))
    return V2ParentRun(workspace.mlflow, run)


def current_run() -> V2Run:
    """The step's run: the job's MLflow run (`MLFLOW_RUN_ID`, else `AZUREML_RUN_ID`: a v2
    job's name is its MLflow run id), with its pipeline run (see `_through_pipeline`)."""
    run_id = _env.mlflow_run_id() or _env.azureml_run_id()
    if not run_id:
        raise InputError(
            f"this step is not running inside an Azure ML job: run it as a step of a v2 "
            f"pipeline (Azure, or locally: `champion pipeline run FILE`), which sets "
            f"{_env.AZUREML_RUN_ID} and {_env.MLFLOW_RUN_ID}",
            field=_env.AZUREML_RUN_ID,
            value=None,
        )
    workspace = configured_workspace()
    root = _env.azureml_root_run_id()
    if root and root != run_id:
        found = _through_pipeline(workspace, run_id, root)
        if found is not None:
            return found
    return V2Run(workspace, step_run(workspace.mlflow, run_id, _env.AZUREML_RUN_ID))


def _through_pipeline(workspace: AzureMLV2Workspace, run_id: str, root: str) -> V2Run | None:
    """The step's run found among the steps of the pipeline `AZUREML_ROOT_RUN_ID` names: the
    pipeline run and its steps are what the gate reads anyway (the challenger's metrics), so
    the step's own run costs no request of its own. None when the step is not one of that
    run's steps (a sub-pipeline's node, or no such run): the caller reads the step's run and
    its `mlflow.parentRunId` instead, so the hint is never trusted unchecked, and a value that
    is not a run id at all is no hint."""
    client = workspace.mlflow.client

    def hinted() -> Any:
        try:
            return _found(lambda: client.get_run(root))
        except MlflowCallError as exc:
            if exc.error_code == "INVALID_PARAMETER_VALUE":  # not a run id at all
                return _ABSENT
            raise

    pipeline = _remote("loading the pipeline run", hinted)
    if pipeline is _ABSENT:
        return None
    children = _remote(
        "listing the pipeline's steps", V2ParentRun(workspace.mlflow, pipeline).child_runs
    )
    ours = next((run for run in children if run.info.run_id == run_id), None)
    if ours is None:
        return None
    step = V2Run(workspace, ours)
    step._parent = V2Run(workspace, pipeline)
    step._siblings = [step_run_of(run) for run in children]
    return step
