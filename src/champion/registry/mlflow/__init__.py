"""`Registry` and `ParentRun` over an MLflow tracking server and model registry: the one package
that imports mlflow.

Why a backend of its own: the MLflow model registry is the one most teams have (open-source
servers, Databricks, Azure ML workspaces), and it has no champion/challenger gate: aliases move
unconditionally and their history is not kept. This module gives the gate's flow
(`champion.gate`) what it needs from MLflow, with the same fail-closed rules as on Azure ML:

- **runs**: the step's run is MLflow's active run (`MLFLOW_RUN_ID`); its pipeline run is the
  run its `mlflow.parentRunId` tag names; the step runs are the runs whose tag names the
  pipeline run (one `search_runs`, which also brings their logged metrics). The gate's artifact
  names (`outputs/<model>/...`, `outputs/champion_decision.json`) are stored as MLflow artifacts
  without the `outputs/` prefix (`<model>/...`, `champion_decision.json`), read and written
  through the run's artifact repository (never the client's run-artifact helpers, which in
  MLflow 3 also search logged models, an API Azure ML's endpoint answers with 404);
- **the champion** is the version holding the alias (`champion`, or `--champion-alias`); a
  model with no version yet has none. A model whose versions exist but none holds the alias
  (its holder was deleted) has an unknown champion, never none: ChampionUnknownError, exit 2,
  naming the versions and how to set the alias. Where the server has no aliases (404
  ENDPOINT_NOT_FOUND or 501 on the alias call), the latest version, and the decision record
  says which rule was used;
- **registering** is `create_model_version(name, source, run_id=<pipeline run>, tags=<the
  version's metadata>, description)`, one call (`create_registered_model` first if the name is
  new), then the alias moves: re-read before the move, verified after; another writer's move in
  between is `race_detected`. A crash between the two calls leaves the old champion; the retry
  finds its version by `run_id` and finishes the move (`registered_by`), never a second version.
  Each move made is kept for the decision record (`alias_move`); a call failing after the move
  says that the alias names the new version (RegisteredThenFailedError), and the gate still
  records the decision where it can;
- `--stage` also transitions a winner (`archive_existing_versions=True`), for teams still on
  stages (deprecated by MLflow since 2.9);
- **a rollback** (`make_champion`) makes no version: the alias moves back to the earlier
  version (checked against the champion the caller saw before, verified after), the version
  is tagged with the event where its tags differ (never its metric), and the decision record
  goes on a run of experiment `champion-rollback`. A failure part way puts the tags and the
  alias back. Where the server has no aliases, the earlier version's files (verified) are
  logged to that run and registered again as a new version, as on Azure ML;
- **downloads** are all or nothing: the version's files land in a temporary folder beside the
  target, are checked against `artifact_sha256`, and only then moved into place;
- **datasets**: MLflow has no dataset registry, so `--test-data dataset:...` is refused;
- **decisions** (`champion models history`): every run tagged `champion.model=<name>` in any
  experiment (one `search_runs`, filtered by the server), each record read off its run: the
  rejections MLflow's registry never saw, and the alias moves it does not keep, as the records
  say them (never inferred from a version's outcome). A decision made
  outside a pipeline (`champion register`, a rollback) gets a run of its own (`decision_run`),
  which also holds the model's files when it registers one.

Every MLflow call is one remote call in one retry loop (`champion._retry`); MLflow's own
HTTP retries are turned off for our client (`MLFLOW_HTTP_REQUEST_MAX_RETRIES=0` unless set), so
loops never nest. Only "no such model" (RESOURCE_DOES_NOT_EXIST) is an answer; 401, 403, any
other 4xx, and 5xx or timeouts once retries are spent, fail closed with InfrastructureError.

The package: `_installed` (imported first: without the `[mlflow]` extra, every way in says how
to install it, in one line), `_calls` (how a call is made, errors translated, shared names),
`runs` (the workspace, runs as `ParentRun`s, pipeline runs), `registry` (`MlflowRegistry`),
`_alias` (the champion alias: its holder, its moves), `_files` (verified downloads),
`_rollback`, `_history` and `_race` (three of the registry's jobs, apart: rollbacks, the
history, racing gates brought to the best decision), `reader` (the CLI's reads,
saving a scikit-learn model as an MLflow model).
"""

from __future__ import annotations

from champion.registry.mlflow import _installed  # noqa: F401  (first: how to install mlflow)
from champion.registry.mlflow._calls import (
    DEFAULT_ALIAS,
    PARENT_TAG,
    STAGES,
    MlflowCallError,
    check_alias,
    check_stage,
    version_of,
)
from champion.registry.mlflow.pipeline_runs import (
    end_run,
    experiment_id,
    log_files,
    run_of,
    start_run,
)
from champion.registry.mlflow.reader import MlflowReader, save_sklearn_model
from champion.registry.mlflow.registry import MlflowRegistry
from champion.registry.mlflow.runs import (
    MlflowParentRun,
    MlflowRun,
    MlflowWorkspace,
    artifact_path,
    connect,
    current_run,
)

__all__ = [
    "DEFAULT_ALIAS",
    "PARENT_TAG",
    "STAGES",
    "MlflowCallError",
    "MlflowParentRun",
    "MlflowReader",
    "MlflowRegistry",
    "MlflowRun",
    "MlflowWorkspace",
    "artifact_path",
    "check_alias",
    "check_stage",
    "connect",
    "current_run",
    "end_run",
    "experiment_id",
    "log_files",
    "run_of",
    "save_sklearn_model",
    "start_run",
    "version_of",
]
