"""`mock_azureml()`: run the REAL `azureml.core` classes against a local workspace folder.

Why: code written for Azure ML (`Workspace`, `Experiment`, `Run`, `Model` from `azureml.core`) must
run unchanged in tests and on a laptop, and must see the same data as the `champion.local`
classes. Like moto's `mock_aws`, this patches the SDK only where it talks to the service (its REST
operations and its blob transfers), so every line of the SDK's client-side logic (validation,
message formatting, path handling, exception translation) still runs as shipped. The answers come
from `champion.local.store.Store`, the one place that holds the service's rules, so both faces of
the local workspace share one folder and one behaviour.

    with mock_azureml(tmp_path) as aml:
        ws = aml.workspace                  # or Workspace.from_config()
        Model.register(ws, "model.pkl", "m")

    @mock_azureml
    def test_it(): ...

With azureml-pipeline-core installed, the pipelines service is answered too: `Experiment.submit
(pipeline)`, `PublishedPipeline.submit` and `PipelineEndpoint.submit` run the submitted graph on
this machine and return a real `PipelineRun`; published pipelines and endpoints are kept in the
workspace; every compute target exists (it is this machine). `champion mock -- COMMAND`
(`champion.mock`) starts a mock in every Python process of a command.

No network is attempted while a mock is active: anything the local workspace does not answer
raises `UnmockedServiceCall` (naming the SDK member and why it needs Azure) instead of reaching
Azure; it is a `BaseException`, so a bare `except Exception:` in step code cannot hide it. The
SDK's own transport retries sit below the patch points, so a failure (including one injected
with `inject_fault`) surfaces at once.

Calls that Azure ML answers with something other than what they read like (a tags dict in a
`Model` lookup, a list filter in `get_children`, ...) warn with `AzureMLTrapWarning`, as the
local classes do; the SDK still does exactly what it does on Azure.

Importing this module does not import azureml; the SDK is imported when a mock starts.
"""

from __future__ import annotations

import os
from collections.abc import Callable

from champion.local._unmocked import UnmockedServiceCall
from champion.local.mock.faults import OPERATIONS
from champion.local.mock.session import MockAzureML, mock_azureml

__all__ = ["OPERATIONS", "MockAzureML", "UnmockedServiceCall", "activate", "mock_azureml"]


def activate(workspace: str | os.PathLike[str]) -> Callable[[], None]:
    """Start a mock on `workspace` for the rest of the process and return what stops it: the
    entry the launcher (`champion mock --`, `champion.mock.FAKES`) calls when a process first
    imports `azureml.core`. A folder that is not a workspace is refused, not created: the
    launcher creates its workspace before it starts anything."""
    from champion.errors import NotAWorkspaceError
    from champion.local.store import is_workspace

    if not is_workspace(workspace):
        raise NotAWorkspaceError(os.path.abspath(workspace))
    mock = mock_azureml(workspace)
    mock.start()
    return mock.stop
