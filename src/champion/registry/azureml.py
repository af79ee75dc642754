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
from champion.registry.sdk_run import SdkRun, step_run_of

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
    """The step's pipeline run and its step runs, in one query where the pipeline run is the
    root of the tree (as an Azure ML pipeline makes it), else in one GET (the step runs then
    listed when asked for). `step_run.parent` would rebuild the run as the SDK's `PipelineRun`
    wherever azureml-pipeline-core is installed, which asks the pipelines service for the run
    and its data types and then GETs the run a second time: the gate needs its tags, step runs
    and files, which a plain `Run` has."""
    dto = step_run._run_dto
    parent_id = dto.get("parent_run_id")
    if parent_id is None:
        return None
    experiment = step_run.experiment
    if dto.get("root_run_id") == parent_id:
        tree = call_with_retry(
            "loading the pipeline run and its step runs", lambda: _tree(experiment, parent_id)
        )
        if tree is not None:
            parent, children = tree
            return SdkRun(parent, steps=[step_run_of(child) for child in children])
    return SdkRun(
        call_with_retry(
            "loading the pipeline run",
            lambda: get_run(experiment, parent_id, rehydrate=False),
        )
    )


def _tree(experiment: Any, root_id: str) -> tuple[Any, list[Any]] | None:
    """The root run `root_id` and its direct children, from one run query filtered on
    `RootRunId eq <root_id>`: the filter the SDK itself sends for `get_children(recursive=True)`
    from the root, less the `RunId ne <root_id>` it adds to leave the root out. Deeper
    descendants (a training step's own child runs) come too and are dropped here. None when the
    root is not among the runs (the caller then GETs it)."""
    from azureml._restclient._odata.constants import ORDER_BY_STARTTIME_EXPRESSION
    from azureml._restclient.constants import DEFAULT_PAGE_SIZE
    from azureml._restclient.models.query_params_dto import QueryParamsDto
    from azureml._restclient.run_client import RunClient
    from azureml._restclient.utils import _generate_client_kwargs

    client = RunClient(
        experiment.workspace.service_context,
        experiment.name,
        root_id,
        experiment_id=experiment.id,
    )
    paging = _generate_client_kwargs(
        top=DEFAULT_PAGE_SIZE,
        orderby=[ORDER_BY_STARTTIME_EXPRESSION],
        caller=None,
        custom_headers=None,
        is_paginated=True,
    )
    dtos = list(
        client._execute_with_experiment_arguments(
            client._client.run.get_by_query,
            query_params=QueryParamsDto(filter=f"RootRunId eq {root_id}"),
            **paging,
        )
    )
    root = next((d for d in dtos if d.run_id == root_id), None)
    if root is None:
        return None
    children = [d for d in dtos if d.parent_run_id == root_id]
    return (
        Run._dto_to_run(experiment, root, clean_up=True),
        [Run._dto_to_run(experiment, child) for child in children],
    )


def configured_workspace() -> Any:
    """The workspace `config.json` names (`Workspace.from_config()`)."""
    return Workspace.from_config()
