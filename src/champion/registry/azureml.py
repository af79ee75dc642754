"""`Registry` over the real `azureml-core` SDK: an Azure ML workspace, or the local workspace
under `mock_azureml()`.

Why the one module that imports azureml for the gate: SDK v1 is past its end of support, and an
azure-ai-ml or MLflow backend must be able to sit beside this one without the gate noticing. The
rules shared with the local workspace's classes (what "not found" is, finding a registration
whose answer was lost, probing for a race) live in `registry/_sdk.py`; this module adds the
SDK's `Model` class and the step's run, each read in one retry loop.
"""

from __future__ import annotations

from typing import Any

from azureml.core import Dataset, Experiment, Model, Run, Workspace

from champion._retry import call_with_retry
from champion.registry.sdk import SdkRegistry

__all__ = ["AzureMLRegistry", "configured_workspace", "current_run"]


class AzureMLRegistry(SdkRegistry):
    """The model registry of an `azureml.core.Workspace`. Azure ML has no registry lock: the
    gate re-reads the champion just before registering, and `race_detected` looks afterwards."""

    def __init__(self, workspace: Any) -> None:
        super().__init__(workspace, Model, Experiment, Dataset)


def current_run() -> Any:
    """The step's run; raises the SDK's RunEnvironmentException outside a run."""
    # get_context() GETs the run: a transient failure at start-up is retried like any other
    return call_with_retry("loading the step's run", lambda: Run.get_context(allow_offline=False))


def configured_workspace() -> Any:
    """The workspace `config.json` names (`Workspace.from_config()`)."""
    return Workspace.from_config()
