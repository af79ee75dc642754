"""`Registry` over the real `azureml-core` SDK: an Azure ML workspace, or the local workspace
under `mock_azureml()`.

Why the one module that imports azureml for the gate: SDK v1 is past its end of support, and an
azure-ai-ml or MLflow backend must be able to sit beside this one without the gate noticing. The
rules shared with the local workspace's classes (what "not found" is, finding a registration
whose answer was lost, probing for a race) live in `registry/_sdk.py`; this module adds the
SDK's `Model` class and the step's run, each read in one retry loop.
"""

from __future__ import annotations

import io
import posixpath
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import IO, Any

from azureml._restclient.constants import RUN_ORIGIN
from azureml._restclient.models import ArtifactContentInformationDto
from azureml._restclient.models_client import ModelsClient
from azureml.core import Dataset, Experiment, Model, Run, Workspace
from azureml.core.run import get_run

from champion._retry import call_with_retry
from champion.registry import NewVersion, ParentRun, StepRun
from champion.registry.sdk import SdkRegistry
from champion.registry.sdk_run import SdkRun, refused, step_run_of

__all__ = [
    "AzureMLParentRun",
    "AzureMLRegistry",
    "configured_workspace",
    "current_run",
    "parent_run",
]

#: Transfers at once when a model folder's files go up (the SDK's `upload_files` also overlaps
#: them): enough to hide each transfer's latency, few enough for a build agent's connection.
_PARALLEL_TRANSFERS = 8


class AzureMLRegistry(SdkRegistry):
    """The model registry of an `azureml.core.Workspace`. Azure ML has no registry lock: the
    gate re-reads the champion just before registering, and `race_detected` looks afterwards."""

    def __init__(self, workspace: Any) -> None:
        super().__init__(workspace, Model, Experiment, Dataset)

    def _checked_dataset_digest(self, name: str, version: int) -> str | None:
        """Under `mock_azureml()` the files are the local workspace's, and checked as the
        local backend checks them; on Azure ML there is nothing here to hash."""
        from champion.local.access import checked_dataset_digest

        return checked_dataset_digest(None, name, version)

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


class AzureMLParentRun(SdkRun):
    """`ParentRun` over an Azure ML pipeline run, adding the one thing the SDK's public calls
    lack: an artifact created in the same batch as the model's files and written later
    (`upload_new`'s `reserve`). A winner's decision record names the version the registration
    returns, so its bytes exist only after it; reserving its name with the model's files makes
    the record one blob transfer instead of a create call and a transfer."""

    def __init__(self, run: Any, steps: Sequence[StepRun] | None = None) -> None:
        super().__init__(run, steps)
        self._run = run  # the SDK's Run, untyped: its artifact client is not in `RunLike`
        self._reserved: dict[str, Any] = {}  # name -> (artifact, content information)

    def upload_new(self, files: Mapping[str, Path | bytes], reserve: Sequence[str] = ()) -> None:
        """What `Run.upload_files` does (one create call for every name, then the transfers,
        several at once), with the reserved names created too and their write URLs kept."""
        if not reserve:
            super().upload_new(files)
            return
        client = self._run._client.artifacts
        names = [*files, *reserve]
        with refused(names):
            created = client.create_empty_artifacts(RUN_ORIGIN, self._run._container, names)
        for name in reserve:
            self._reserved[name] = (
                created.artifacts[name],
                created.artifact_content_information[name],
            )

        def transfer(name: str) -> None:
            content = files[name]
            stream: IO[bytes]
            with (
                io.BytesIO(content) if isinstance(content, bytes) else open(content, "rb")
            ) as stream:
                client.upload_stream_to_existing_artifact(
                    stream,
                    created.artifacts[name],
                    created.artifact_content_information[name],
                    session=client.session,
                )

        if len(files) == 1:
            transfer(next(iter(files)))
            return
        with ThreadPoolExecutor(min(len(files), _PARALLEL_TRANSFERS)) as pool:
            for done in [pool.submit(transfer, name) for name in files]:
                done.result()  # the first failure is raised, after every transfer has ended

    def file_names(self) -> list[str]:
        """The run's artifact names, less the names reserved here and not yet written: those
        are this step's own, still to be filled (`upload_bytes`), not an earlier attempt's
        leftovers, so a listing taken after a retried batch does not step past them."""
        return [name for name in super().file_names() if name not in self._reserved]

    def upload_bytes(self, name: str, data: bytes) -> None:
        """A reserved name's bytes go to the write URL handed out when it was created; if
        storage refuses that URL (its SAS expired during a long model transfer), a fresh one is
        asked for once. The reservation stays until a transfer succeeds, so a retried call
        writes the same name."""
        reserved = self._reserved.get(name)
        if reserved is None:
            super().upload_bytes(name, data)
            return
        artifact, content = reserved
        client = self._run._client.artifacts
        try:
            client.upload_stream_to_existing_artifact(
                io.BytesIO(data), artifact, content, session=client.session
            )
        except Exception as exc:
            if not _forbidden(exc):
                raise
            uri = client.get_writeable_artifact_sas_uri(RUN_ORIGIN, self._run._container, name)
            fresh = ArtifactContentInformationDto(
                content_uri=uri, origin=RUN_ORIGIN, container=self._run._container, path=name
            )
            client.upload_stream_to_existing_artifact(
                io.BytesIO(data), artifact, fresh, session=client.session
            )
        del self._reserved[name]


def _forbidden(exc: BaseException) -> bool:
    """Whether storage refused a transfer's URL (HTTP 403): the SDK raises the storage error,
    or for a 403 an AzureMLException holding it as `inner_exception`."""
    for error in (exc, getattr(exc, "inner_exception", None)):
        if getattr(error, "status_code", None) == 403:
            return True
    return False


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
            return AzureMLParentRun(parent, steps=[step_run_of(child) for child in children])
    return AzureMLParentRun(
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
