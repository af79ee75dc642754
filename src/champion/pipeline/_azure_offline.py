"""Build Azure ML pipeline objects with no Azure account, so a build can check them first.

Why a module of its own: `Pipeline(ws, steps)` calls the service four times while it builds
(azureml-semantics.md §4): service discovery when it creates its experiment, the pipelines
endpoint and default data types when it creates its workflow provider, the default datastore, and
the compute target when given by name. Offline each of those is replaced here, and nothing else:

- `ServiceContext._fetch_endpoints` returns fixed endpoints on the discard port of loopback
  (`champion.local._offline`, shared with `mock_azureml()`), so a request that slipped through
  would be refused at once instead of waiting on DNS and retries;
- the `Workspace` is built with `_disable_service_check`, `_workspace_id` and `_location`, and an
  authentication that refuses every token request;
- the workflow provider is `OfflineWorkflowProvider`: it answers the three lookups of the
  dry run `graph.validate()` ends with as an empty workspace would, and refuses every other
  service call with a message that says so (a MagicMock would answer anything, and hide a call
  we did not expect behind an object that looks like an answer);
- the default datastore is an explicit `AzureBlobDatastore`, whose constructor is local;
- the compute target is a `(name, type)` tuple, which the builder never looks up.

The SDK's own step constructors, graph builder and `graph.validate()` then run as shipped. This
module imports azureml at module level; `champion.pipeline.azure` imports it only when asked to
validate, so a local run never pays for it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, NoReturn

from azureml.core import Workspace
from azureml.core.authentication import AbstractAuthentication
from azureml.data.azure_storage_datastore import AzureBlobDatastore

from champion.local._offline import (
    OFFLINE_ORIGIN,
    OFFLINE_SUBSCRIPTION_ID,
    service_discovery_answered,
)

__all__ = ["OfflineServiceError", "OfflineSession", "OfflineWorkflowProvider", "offline_session"]

#: What the SDK believes every service endpoint is, offline (loopback, the discard port).
OFFLINE_ENDPOINT = f"{OFFLINE_ORIGIN}/champion-offline"
SUBSCRIPTION_ID = OFFLINE_SUBSCRIPTION_ID
RESOURCE_GROUP = "offline"
WORKSPACE_NAME = "offline"
WORKSPACE_ID = "00000000-0000-0000-0000-000000000001"
LOCATION = "offline"
DATASTORE_NAME = "workspaceblobstore"  # the name every workspace's default blob datastore has


class OfflineServiceError(RuntimeError):
    """Raised when offline validation reaches for the Azure ML service it does not have."""


def _refuse(what: str) -> NoReturn:
    raise OfflineServiceError(
        f"{what} needs the Azure ML service; offline validation builds and checks the pipeline "
        "objects only (use --submit or --publish with a workspace to go further)"
    )


class _OfflineAuthentication(AbstractAuthentication):  # type: ignore[misc]
    """Credentials that refuse every token request: offline, no call may reach Azure."""

    def __init__(self) -> None:
        super().__init__(cloud="AzureCloud")  # a known cloud name: no metadata download

    def _get_arm_token(self) -> NoReturn:
        _refuse("an Azure Resource Manager token")

    def _get_graph_token(self) -> NoReturn:
        _refuse("a Microsoft Graph token")

    def _get_azureml_client_token(self, resource: Any = None) -> NoReturn:
        _refuse("an Azure ML token")

    def _get_all_subscription_ids(self) -> NoReturn:
        _refuse("listing subscriptions")

    def _get_workspace(self, subscription_id: Any, resource_group: Any, name: Any) -> NoReturn:
        _refuse("looking up the workspace")

    def get_authentication_header(self) -> NoReturn:
        _refuse("an authentication header")

    def get_token(self, *scopes: Any, **kwargs: Any) -> NoReturn:
        _refuse("a token")


class _Refusing:
    """Stands in for one of the workflow provider's service clients: every method refuses."""

    def __init__(self, name: str) -> None:
        self._name = name

    def __getattr__(self, attribute: str) -> Callable[..., NoReturn]:
        if attribute.startswith("__"):  # copy/pickle probes must see a plain object
            raise AttributeError(attribute)

        def refuse(*args: Any, **kwargs: Any) -> NoReturn:
            _refuse(f"{self._name}.{attribute}")

        return refuse


class _OfflineServiceCaller(_Refusing):
    """Where `Pipeline` reads the pipelines endpoint (`_service_caller._service_endpoint`)."""

    _service_endpoint = OFFLINE_ENDPOINT


class _OfflineDataTypes(_Refusing):
    def ensure_default_datatypes(self) -> None:
        """Nothing to ensure: offline there is no service whose data types could be missing."""


class _OfflineModules(_Refusing):
    def find_module_by_fingerprint(self, fingerprint: str) -> None:
        """Offline no step has been created before, so each is new (never reused)."""
        return None


class _OfflineDataSources(_Refusing):
    def find_datasource_by_fingerprint(self, fingerprint: str) -> None:
        """Offline no data source exists yet."""
        return None


class OfflineWorkflowProvider:
    """The `_workflow_provider` a `Pipeline` is built with offline.

    The graph builder only stores the providers. `graph.validate()` ends with a dry-run
    `finalize`, which asks three questions, answered here as a workspace with nothing in it
    would: the default data types exist, no step and no data source was created before. The
    SDK still computes every step's fingerprint (hashing its snapshot) and resolves every port.
    Anything else (creating, submitting, publishing) raises OfflineServiceError naming the call.
    """

    def __init__(self) -> None:
        self._service_caller = _OfflineServiceCaller("pipelines service")
        self.datatype_provider = _OfflineDataTypes("datatype_provider")
        self.module_provider = _OfflineModules("module_provider")
        self.datasource_provider = _OfflineDataSources("datasource_provider")
        for name in (
            "graph_provider",
            "step_run_provider",
            "pipeline_run_provider",
            "published_pipeline_provider",
            "port_data_reference_provider",
            "schedule_provider",
            "pipeline_endpoint_provider",
            "azure_ml_module_version_provider",
            "azure_ml_module_provider",
            "pipeline_draft_provider",
        ):
            setattr(self, name, _Refusing(name))


@dataclass(frozen=True)
class OfflineSession:
    """What `Pipeline(...)` needs offline; valid only inside `offline_session()`."""

    workspace: Any
    datastore: Any
    workflow_provider: OfflineWorkflowProvider


@contextlib.contextmanager
def offline_session() -> Iterator[OfflineSession]:
    """Patch service discovery for the duration and yield a workspace, datastore and workflow
    provider with which the SDK builds and validates a pipeline without any network call."""
    with service_discovery_answered(OFFLINE_ENDPOINT):
        workspace = Workspace(
            SUBSCRIPTION_ID,
            RESOURCE_GROUP,
            WORKSPACE_NAME,
            auth=_OfflineAuthentication(),
            _disable_service_check=True,
            _workspace_id=WORKSPACE_ID,
            _location=LOCATION,
        )
        datastore = AzureBlobDatastore(workspace, DATASTORE_NAME, "offline", "offline")
        yield OfflineSession(workspace, datastore, OfflineWorkflowProvider())
