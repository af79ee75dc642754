"""`Registry` and `ParentRun` over Azure ML through SDK v2 (`azure-ai-ml`): the `azureml-v2`
backend. With `champion.local.mock_v2`, the one package that imports azure.ai.ml for the gate.

Why a backend of its own: a v2 job has no `Run.get_context()`; Azure ML v2 splits the service in
two, and so does this backend. Models go through `MLClient` (`registry.py`, over `_sdk.py`);
runs, metrics, tags and decision records go through the MLflow every v2 job is given
(`runs.py`, reusing the MLflow backend's runs). What stays as on v1, so one workspace keeps one
history whichever SDK a step used:

- the champion is the latest live version (the most recently created active one);
- the model's files and the decision record are artifacts of the pipeline run under the same
  names (`outputs/<model>/...`, `outputs/champion_decision.json`), and every decision run is
  tagged `champion.model=<name>`: `champion models history NAME` lists v1's and v2's decisions
  in one timeline, through either backend;
- a rollback registers the old version's files again as the newest version.

Chosen by `CHAMPION_BACKEND=azureml-v2` (`--backend azureml-v2`), or inside a v2 job (see
`champion.context`). azure-ai-ml is imported only when a model is read or registered: the v1
step's start never imports this package.
"""

from __future__ import annotations

from champion.registry.azureml_v2.registry import AzureMLV2Registry, job_artifacts_uri
from champion.registry.azureml_v2.runs import (
    CONTROL_OUTPUTS,
    AzureMLV2Workspace,
    V2ParentRun,
    V2Run,
    configured_workspace,
    current_run,
)

__all__ = [
    "CONTROL_OUTPUTS",
    "AzureMLV2Registry",
    "AzureMLV2Workspace",
    "V2ParentRun",
    "V2Run",
    "configured_workspace",
    "current_run",
    "job_artifacts_uri",
]
