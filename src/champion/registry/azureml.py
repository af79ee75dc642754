"""`Registry` over the real `azureml-core` SDK: an Azure ML workspace, or the local workspace
under `mock_azureml()`.

Why the one module that imports azureml for the gate: SDK v1 is past its end of support, and an
azure-ai-ml or MLflow backend must be able to sit beside this one without the gate noticing. The
rules shared with the local workspace's classes (what "not found" is, finding a registration
whose answer was lost, probing for a race) live in `registry/_sdk.py`; this module adds the
SDK's `Model` class and the step's run, each read in one retry loop.
"""

from __future__ import annotations

import posixpath
from typing import Any

from azureml._restclient.models_client import ModelsClient
from azureml.core import Dataset, Experiment, Model, Run, Workspace
from azureml.core.run import get_run

from champion._retry import call_with_retry
from champion.registry import NewVersion, ParentRun
from champion.registry.sdk import SdkRegistry
from champion.registry.sdk_run import SdkRun

__all__ = ["AzureMLRegistry", "configured_workspace", "current_run", "parent_run"]


class AzureMLRegistry(SdkRegistry):
    """The model registry of an `azureml.core.Workspace`. Azure ML has no registry lock: the
    gate re-reads the champion just before registering, and `race_detected` looks afterwards."""

    def __init__(self, workspace: Any) -> None:
        super().__init__(workspace, Model, Experiment, Dataset)

    def _register_with_run(self, run: Any, new: NewVersion) -> int:
        """What `Run.register_model` sends the service (an asset over the run's files under
        `new.path`, then the model naming it: two calls), without the three it adds that the
        gate does not need: listing the run's artifacts under the path (the gate has just
        uploaded exactly those files), and expanding the model it returns, an experiment GET
        and a GET of the run the gate already holds. Only the version number is used."""
        path = posixpath.normpath(new.path.replace("\\", "/"))
        asset = run._client.assets.create_asset(
            new.name,
            [{"prefix": f"ExperimentRun/{run._run_dto['data_container_id']}/{path}"}],
            metadata_dict=None,
            run_id=run.id,
        )
        model = ModelsClient(self.workspace.service_context).register_model(
            name=new.name,
            tags=dict(new.tags),
            properties=dict(new.properties),
            description=new.description,
            url=f"aml://asset/{asset.id}",
            framework=new.framework,
            framework_version=new.framework_version,
            experiment_name=run.experiment.name,
            run_id=run.id,
            datasets=[],
        )
        return int(model.version)


def current_run() -> Any:
    """The step's run; raises the SDK's RunEnvironmentException outside a run."""
    # get_context() GETs the run: a transient failure at start-up is retried like any other
    return call_with_retry("loading the step's run", lambda: Run.get_context(allow_offline=False))


def parent_run(step_run: Any) -> ParentRun | None:
    """The step's pipeline run, in one GET. `step_run.parent` would rebuild it as the SDK's
    `PipelineRun` wherever azureml-pipeline-core is installed, which asks the pipelines service
    for the run and its data types and then GETs the run a second time: the gate needs its
    tags, step runs and files, which a plain `Run` has."""
    parent_id = step_run._run_dto.get("parent_run_id")
    if parent_id is None:
        return None
    return SdkRun(
        call_with_retry(
            "loading the pipeline run",
            lambda: get_run(step_run.experiment, parent_id, rehydrate=False),
        )
    )


def configured_workspace() -> Any:
    """The workspace `config.json` names (`Workspace.from_config()`)."""
    return Workspace.from_config()
