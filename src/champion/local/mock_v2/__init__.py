"""`mock_azure_ai_ml()`: the real, unmodified `azure-ai-ml` (`MLClient`), and MLflow, against a
local workspace folder.

Why: every new Azure ML project writes `azure-ai-ml` plus MLflow, and its registration logic
(which version is the champion, what "latest" means, what an archive hides) must be testable
on a laptop before it touches a real registry. Like `mock_azureml()` for v1, this replaces
only what talks to the network: `MLClient(..., transport=T)` hands `T` to every REST client,
so azure-core's pipeline and every line of the SDK run as shipped, and the answers come from
the same store as `champion.local` and `mock_azureml()`: one registry, three faces. A model
registered through `MLClient` is the row `azureml.core.Model` and `champion.local.Model` see.

    with mock_azure_ai_ml(tmp_path) as aml:
        ml_client = MLClient(DefaultAzureCredential(), sub, rg, ws)   # or aml.ml_client()
        ml_client.models.create_or_update(Model(name="m", path="model_dir"))

    @mock_azure_ai_ml
    def test_it(): ...

Inside the mock:

- every `MLClient` (one a script builds itself too, with `DefaultAzureCredential`,
  `ManagedIdentityCredential`, `AzureCliCredential`, ...) talks to the local workspace, which
  is chosen as `mock_azureml` chooses it (the argument, `$CHAMPION_WORKSPACE`, `.champion`);
- it serves model containers and versions (the service's rules: `store/model_versions.py`),
  local-path uploads and downloads into the workspace's datastore folders, datastore and
  workspace reads, `jobs.get`, `jobs.list(parent_job_name=)` and `jobs.stream` of local runs;
- MLflow reaches the same workspace: `MLFLOW_TRACKING_URI` names an MLflow-compatible endpoint
  the session serves on 127.0.0.1 (`tracking/`), so runs, metrics, tags and the model registry
  are the store's rows;
- nothing leaves the machine: a request the local workspace does not serve raises
  `UnmockedServiceCall` (a `BaseException`), naming the SDK operation and the REST path, and a
  socket guard refuses any connection that is not to this machine;
- calls Azure answers with a surprise warn with `AzureMLTrapWarning` (`traps.py`).

Importing this package imports no azure package; `start()` does.
"""

from __future__ import annotations

from champion.local._unmocked import UnmockedServiceCall
from champion.local.mock_v2.session import MockAzureAIML, activate, mock_azure_ai_ml

__all__ = ["MockAzureAIML", "UnmockedServiceCall", "activate", "mock_azure_ai_ml"]
