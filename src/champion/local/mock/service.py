"""The local service behind `mock_azureml()`: the SDK's REST operations answered from the Store.

Why apart from the session (`session.py`): this module and the client families it gathers import
azureml at module level (they need the SDK's classes to patch them and to build their DTOs), and
`champion.local.mock` must stay importable without azureml. `MockAzureML.start()` imports it.

Patch points, each at the service boundary (the SDK notes, azureml-semantics.md §7), one module
per SDK client family, each turning a REST call into one store call:

- `runs.py`: `ClientBase._execute_with_arguments`, which every generated REST operation other than
  the model, asset and artifact ones reaches: run history and experiments; any other operation is
  refused with `UnmockedServiceCall`. And `SnapshotsClient.create_snapshot`.
- `metrics.py`: `MetricsClient` and `RunClient.wait_for_metrics_ingest`.
- `models.py`: `ModelsClient`/`AssetsClient._execute_with_workspace_arguments`.
- `artifacts.py`: `ArtifactsClient._execute_with_workspace_arguments` and the blob transfer
  functions where the SDK imported them.
- `pipeline_service.py`, `pipelines.py`: with azureml-pipeline-core, the pipelines service:
  modules, data sources, graphs, submissions (run on this machine), published pipelines,
  pipeline endpoints, and what a `PipelineRun`/`StepRun` asks about itself.
- `compute.py`: compute targets (every one this machine), as pipeline definitions look them up.
- `datastores.py`, `storage.py`, `datasets.py`, `dataflows.py`: the data plane.

And here:

- `ServiceContext._fetch_endpoints`: fixed endpoints, no discovery call.
- Guards, so that nothing reaches the network: `msrest.ServiceClient.send` (any generated
  client's request), `requests.adapters.HTTPAdapter.send` for the fake endpoint only, and
  `LocalAuthentication` (`backend.py`), whose every token request raises (Resource Manager,
  datastores, compute). Each raises `UnmockedServiceCall`.
- `Workspace.from_config`, `Workspace.get` and `Run.get_context`, which read local configuration,
  not the service.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import msrest.service_client
from azureml.core import Experiment, Run, Workspace
from azureml.core.run import _SubmittedRun
from requests.adapters import HTTPAdapter

from champion import _env
from champion.local._offline import discovery_patch
from champion.local._unmocked import UnmockedServiceCall
from champion.local.mock.artifacts import ArtifactService
from champion.local.mock.backend import (
    ENDPOINT,
    ENDPOINT_ORIGIN,
    Backend,
    ClientFamily,
    Patch,
    as_method,
)
from champion.local.mock.compute import ComputeTargets
from champion.local.mock.dataflows import Dataflows
from champion.local.mock.datasets import DatasetService
from champion.local.mock.datastores import DatastoreService
from champion.local.mock.faults import Fault
from champion.local.mock.metrics import Metrics
from champion.local.mock.models import ModelRegistry
from champion.local.mock.pipeline_service import PipelineService
from champion.local.mock.pipelines import Pipelines
from champion.local.mock.runs import RunHistory
from champion.local.store import Store

#: The SDK's own `Workspace.from_config`, taken before any mock patches it (mocks nest).
_SDK_FROM_CONFIG = vars(Workspace)["from_config"].__func__


class LocalService:
    """The store, speaking the service's protocol to one `MockAzureML` session."""

    def __init__(self, store: Store, record: Callable[[str], Fault | None]) -> None:
        self.store = store
        self.backend = Backend(store, record)
        self.workspace = self.backend.workspace
        self._context_runs: dict[str, Any] = {}
        dataflows = Dataflows(self.backend)
        pipelines = PipelineService(self.backend)
        self._families: list[ClientFamily] = [
            RunHistory(self.backend),
            Metrics(self.backend),
            ModelRegistry(self.backend),
            ArtifactService(self.backend),
            pipelines,
            Pipelines(self.backend, pipelines),
            ComputeTargets(self.backend),
            DatastoreService(self.backend),
            DatasetService(self.backend, dataflows),
            dataflows,
        ]

    def new_workspace(self) -> Any:
        return self.backend.new_workspace()

    def patches(self) -> list[Patch]:
        """(owner, attribute, replacement) for every patch point; `MockAzureML` applies them and
        restores the originals."""
        original_get_context = vars(Run)["get_context"]

        def get_context(
            cls: Any,
            /,
            allow_offline: bool = True,
            used_for_context_manager: bool = False,
            **kwargs: Any,
        ) -> Any:
            run_id = _env.run_id()
            if not run_id:
                return original_get_context.__func__(
                    cls,
                    allow_offline=allow_offline,
                    used_for_context_manager=used_for_context_manager,
                    **kwargs,
                )
            return self._context_run(run_id, fresh=used_for_context_manager, **kwargs)

        def refuse_request(client: Any, request: Any, *args: Any, **kwargs: Any) -> Any:
            raise UnmockedServiceCall(
                f"mock_azureml: the local workspace does not answer {request.method} {request.url}"
            )

        original_adapter_send = vars(HTTPAdapter)["send"]

        def adapter_send(adapter: Any, request: Any, *args: Any, **kwargs: Any) -> Any:
            # Only the fake endpoint is refused; other HTTP traffic of the process is not ours.
            if str(request.url).startswith(ENDPOINT_ORIGIN):
                refuse_request(adapter, request)
            return original_adapter_send(adapter, request, *args, **kwargs)

        patches: list[Patch] = [
            discovery_patch(ENDPOINT),
            (msrest.service_client.ServiceClient, "send", as_method(refuse_request, "send")),
            (HTTPAdapter, "send", as_method(adapter_send, "send")),
            (Workspace, "from_config", staticmethod(self._from_config)),
            (Workspace, "get", staticmethod(lambda *a, **k: self.new_workspace())),
            (Run, "get_context", classmethod(get_context)),
        ]  # fmt: skip
        for family in self._families:
            patches.extend(family.patches())
        return patches

    def _from_config(
        self,
        path: Any = None,
        auth: Any = None,
        _logger: Any = None,
        _file_name: Any = None,
    ) -> Any:
        """The SDK's own `from_config`: it looks for config.json (or `_file_name`) where it
        always does, refuses a `path` where there is none, and opens what the file names with
        `Workspace.get`, which the mock answers with the local workspace (every workspace is the
        local one inside a mock). With no `path` and no file anywhere, the local workspace, as
        a job's runtime provides one."""
        from azureml.exceptions import UserErrorException

        try:
            return _SDK_FROM_CONFIG(path, auth, _logger, _file_name)
        except UserErrorException as exc:
            if path is None and "could not be found" in str(exc):
                return self.new_workspace()
            raise

    # ------------------------------------------------------------------ run context

    def _context_run(self, run_id: str, *, fresh: bool, **kwargs: Any) -> Any:
        """What `Run.get_context()` returns in a submitted step: a `_SubmittedRun` (a `Run`),
        memoised per run like `_SubmittedRun._get_instance`, but per session so that a run never
        outlives the store it was read from."""
        if not fresh and run_id in self._context_runs:
            return self._context_runs[run_id]
        record = self.backend.run_record(run_id)
        experiment = Experiment(
            self.workspace,
            record.experiment,
            _id=self.backend.experiment_id(record.experiment),
            _create_in_cloud=False,
        )
        run = _SubmittedRun(experiment, run_id, **kwargs)
        if not fresh:
            self._context_runs[run_id] = run
        return run
