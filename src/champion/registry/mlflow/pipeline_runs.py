"""The runs a pipeline runner makes on MLflow: an experiment found or made, a parent run and a
nested run per step (linked as `mlflow.start_run(nested=True)` links them), their files, their
end; and a run read back as a `ParentRun`. Apart from `runs.py`, whose job is the runs the gate
and step code read and write."""

from __future__ import annotations

import functools
import posixpath
from collections.abc import Mapping, Sequence
from pathlib import Path

from champion.registry.mlflow._calls import PARENT_TAG, MlflowCallError, _remote, _translated
from champion.registry.mlflow.runs import MlflowParentRun, MlflowWorkspace

__all__ = ["end_run", "experiment_id", "log_files", "run_of", "start_run"]


def experiment_id(workspace: MlflowWorkspace, name: str) -> str:
    """The id of experiment `name`, created if new (a concurrent creator is fine)."""
    client = workspace.client

    def attempt() -> str:
        found = _translated(lambda: client.get_experiment_by_name(name))
        if found is not None:
            return str(found.experiment_id)
        try:
            return str(_translated(lambda: client.create_experiment(name)))
        except MlflowCallError as exc:
            if exc.error_code != "RESOURCE_ALREADY_EXISTS":
                raise
            return str(_translated(lambda: client.get_experiment_by_name(name)).experiment_id)

    return _remote(f"finding or creating experiment {name!r}", attempt)


def start_run(
    workspace: MlflowWorkspace,
    experiment: str,
    name: str,
    tags: Mapping[str, str],
    parent_id: str | None = None,
) -> str:
    """A run named `name` (a nested one under `parent_id`), as `mlflow.start_run(nested=True)`
    links it: the `mlflow.parentRunId` tag. Returns its id."""
    linked = {**tags, **({PARENT_TAG: parent_id} if parent_id else {})}
    run = _remote(
        f"starting run {name!r}",
        lambda: workspace.client.create_run(experiment, run_name=name, tags=linked),
    )
    return str(run.info.run_id)


def end_run(workspace: MlflowWorkspace, run_id: str, status: str) -> None:
    """`status`: FINISHED, FAILED or KILLED."""
    _remote(f"ending run {run_id}", lambda: workspace.client.set_terminated(run_id, status=status))


def log_files(workspace: MlflowWorkspace, run_id: str, files: Sequence[tuple[str, Path]]) -> None:
    """Log each local file as the artifact path given (`logs/driver_log.txt`)."""
    run = _remote(f"loading run {run_id}", lambda: workspace.client.get_run(run_id))
    repo = workspace.artifact_repository(str(run.info.artifact_uri))
    for name, path in files:
        folder, base = posixpath.split(name)
        if path.name != base:
            raise ValueError(f"{path} cannot be logged as {name}: the file names differ")
        _remote(f"logging {name}", functools.partial(repo.log_artifact, str(path), folder or None))


def run_of(workspace: MlflowWorkspace, run_id: str) -> MlflowParentRun:
    """Run `run_id` as a `ParentRun` (to read a pipeline run's decision record back)."""
    run = _remote(f"loading run {run_id}", lambda: workspace.client.get_run(run_id))
    return MlflowParentRun(workspace, run)
