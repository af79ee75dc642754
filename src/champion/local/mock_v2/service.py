"""The local service behind `mock_azure_ai_ml()`: the routes of every resource it answers, the
transport that carries them, and the patches that give that transport to whatever the SDK
builds.

Why apart from the session (`session.py`): this module imports azure-ai-ml (about 2 s of CPU),
which `champion.local.mock_v2` must not cost until a mock starts.

Patch points, each where the SDK would otherwise reach the network (azureml-v2-facts.md §2.1):

- `MLClient.__init__`: `transport=` defaults to the local one, so a client a script builds
  itself (with any credential) talks to the local workspace; `MLClient.from_config` finds
  config.json as always, and without one gives a client of the local workspace, as a job's
  runtime provides one (the selection rule of `mock_azureml`).
- `BlobServiceClient` where `_artifacts/_blob_storage_helper.py` builds it: the SDK's uploads
  and downloads get the transport too.
- `get_token` and `get_token_info` of azure-identity's credentials and of azure-ai-ml's
  `AzureMLOnBehalfOfCredential`: a token is handed out without asking anyone (azure-core >=
  1.38 asks `get_token_info`).
- The traps (`traps.py`) and the socket guard (`guard.py`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from azure.ai.ml import MLClient
from azure.ai.ml._artifacts import _blob_storage_helper
from azure.core.credentials import AccessToken, AccessTokenInfo
from azure.storage.blob import BlobServiceClient

from champion.local.mock_v2.blobs import BlobRoutes
from champion.local.mock_v2.guard import guard_patches
from champion.local.mock_v2.jobs import JobRoutes
from champion.local.mock_v2.models import ModelRoutes
from champion.local.mock_v2.transport import LocalTransport, Router
from champion.local.mock_v2.traps import ArchiveClock, trap_patches
from champion.local.mock_v2.workspace import WorkspaceRoutes
from champion.local.store import Store

Patch = tuple[object, str, object]
#: The names a client of the local workspace is made with when no config.json names one.
LOCAL_SUBSCRIPTION = "00000000-0000-0000-0000-000000000000"
LOCAL_RESOURCE_GROUP = "local"
LOCAL_WORKSPACE = "local"
TOKEN = "champion-local-token"


class LocalService:
    """The store, speaking Azure ML's v2 REST protocol to one `MockAzureAIML` session."""

    def __init__(self, store: Store, tracking_uri: Callable[[], str | None]) -> None:
        self.store = store
        self.clock = ArchiveClock()
        models = ModelRoutes(store, on_archive=self.clock.archived)
        self.router = Router(
            [
                *models.routes(),
                *WorkspaceRoutes(store, tracking_uri).routes(),
                *JobRoutes(store).routes(),
                *BlobRoutes(store).routes(),
            ]
        )
        self.transport = LocalTransport(self.router)

    def patches(self) -> list[Patch]:
        transport = self.transport
        original_init = vars(MLClient)["__init__"]
        original_from_config = vars(MLClient)["from_config"].__func__

        def __init__(self: Any, credential: Any, *args: Any, **kwargs: Any) -> None:
            kwargs.setdefault("transport", transport)
            original_init(self, credential, *args, **kwargs)

        def from_config(cls: Any, /, credential: Any, *, path: Any = None,
                        file_name: Any = None, **kwargs: Any) -> Any:  # fmt: skip
            try:
                return original_from_config(
                    cls, credential, path=path, file_name=file_name, **kwargs
                )
            except Exception as exc:
                if path is not None or "could not find config.json" not in str(exc).lower():
                    raise
            return cls(
                credential, LOCAL_SUBSCRIPTION, LOCAL_RESOURCE_GROUP, LOCAL_WORKSPACE, **kwargs
            )

        def blob_service_client(*args: Any, **kwargs: Any) -> BlobServiceClient:
            kwargs.setdefault("transport", transport)
            return BlobServiceClient(*args, **kwargs)

        patches: list[Patch] = [
            (MLClient, "__init__", __init__),
            (MLClient, "from_config", classmethod(from_config)),
            (_blob_storage_helper, "BlobServiceClient", blob_service_client),
            *credential_patches(),
            *trap_patches(self.clock),
            *guard_patches(),
        ]
        return patches


def credential_patches() -> list[Patch]:
    """`get_token` and `get_token_info` of every credential class a script may build, answered
    with a local token: nothing asks Entra ID, the managed identity endpoint or the Azure CLI."""
    import azure.identity
    from azure.ai.ml.identity import AzureMLOnBehalfOfCredential

    def get_token(self: Any, *scopes: Any, **kwargs: Any) -> AccessToken:
        return AccessToken(TOKEN, int(time.time()) + 3600)

    def get_token_info(self: Any, *scopes: Any, options: Any = None) -> AccessTokenInfo:
        return AccessTokenInfo(TOKEN, int(time.time()) + 3600)

    classes: list[type] = [AzureMLOnBehalfOfCredential]
    for name in dir(azure.identity):
        value = getattr(azure.identity, name)
        if isinstance(value, type) and name.endswith("Credential") and hasattr(value, "get_token"):
            classes.append(value)
    patches: list[Patch] = []
    for cls in classes:
        patches.append((cls, "get_token", get_token))
        patches.append((cls, "get_token_info", get_token_info))
    return patches
