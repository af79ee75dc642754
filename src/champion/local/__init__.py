"""The local workspace: `azureml.core`'s Workspace, Experiment, Run, Model, Datastore and
Dataset on a folder.

Code written for Azure ML runs against it unchanged (same names, signatures and exceptions), and
`mock_azureml()` makes the real SDK classes talk to the same folder, as moto does for AWS;
`mock_azure_ai_ml()` does the same for SDK v2 (`azure-ai-ml`) and MLflow.

Both return exactly what Azure ML returns, also where Azure quietly does something other than the
call reads like, and then warn with `AzureMLTrapWarning` (`pytest -W
error::champion.local.AzureMLTrapWarning` turns each such call into a failing test).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from champion.local._traps import AzureMLTrapWarning
from champion.local.dataset import Dataset
from champion.local.datastore import Datastore
from champion.local.file_dataset import FileDataset
from champion.local.model import Model
from champion.local.run import Experiment, Run
from champion.local.tabular_dataset import TabularDataset
from champion.local.workspace import Workspace

if TYPE_CHECKING:
    from champion.local.mock import MockAzureML, mock_azureml
    from champion.local.mock_v2 import MockAzureAIML, mock_azure_ai_ml

__all__ = [
    "AzureMLTrapWarning",
    "Dataset",
    "Datastore",
    "Experiment",
    "FileDataset",
    "MockAzureAIML",
    "MockAzureML",
    "Model",
    "Run",
    "TabularDataset",
    "Workspace",
    "mock_azure_ai_ml",
    "mock_azureml",
]


def __getattr__(name: str) -> Any:
    # The mock patches azureml at start(); importing it lazily keeps `import champion.local` light.
    if name in ("mock_azureml", "MockAzureML"):
        from champion.local import mock

        return getattr(mock, name)
    if name in ("mock_azure_ai_ml", "MockAzureAIML"):
        from champion.local import mock_v2

        return getattr(mock_v2, name)
    raise AttributeError(f"module 'champion.local' has no attribute {name!r}")
