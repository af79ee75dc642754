"""`Datastore` of the local workspace: get, register and manage the datastores of a workspace.

A step written for Azure ML reads and writes data through datastores: `ws.get_default_datastore()`,
`datastore.upload(...)`, `(datastore, "iris.csv")` as a dataset path. Locally each datastore is a
folder inside the workspace (`datastores/<name>/`), so the same calls work with no storage
account; the rules (names, default, what `upload` skips, what `download` writes) are the
service's and live in the store, shared with the real SDK under `mock_azureml()`.

Returned objects are `AzureBlobDatastore` or `AzureFileDatastore`
(`champion.local.azure_storage_datastore`), as the SDK returns.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

from champion.local import _sdk
from champion.local.azure_storage_datastore import (
    AbstractAzureStorageDatastore,
    AbstractDatastore,
    AzureBlobDatastore,
    AzureFileDatastore,
    set_default_datastore,
    unregister_datastore,
)
from champion.local.store import (
    BLOB_TYPE,
    FILE_TYPE,
    DataPathError,
    DatastoreConflict,
    DatastoreRecord,
)

if TYPE_CHECKING:
    from champion.local.workspace import Workspace

__all__ = [
    "AbstractAzureStorageDatastore",
    "AbstractDatastore",
    "AzureBlobDatastore",
    "AzureFileDatastore",
    "Datastore",
    "datastore_object",
]


class Datastore:
    """`azureml.core.Datastore`: get, register and manage the datastores of a workspace.

    `Datastore(ws, name)` returns the datastore object itself (an `AzureBlobDatastore` or
    `AzureFileDatastore`), or the default one when `name` is None."""

    def __new__(cls, workspace: Workspace, name: str | None = None) -> Any:
        if name is None:
            return Datastore.get_default(workspace)
        return Datastore.get(workspace, name)

    def __init__(self, workspace: Workspace, name: str | None = None) -> None:
        self.workspace = workspace
        self.name = name

    def set_as_default(self) -> None:
        Datastore._set_default(self.workspace, str(self.name))

    def unregister(self) -> None:
        Datastore._unregister(self.workspace, str(self.name))

    @staticmethod
    def _unregister(workspace: Workspace, name: str) -> None:
        unregister_datastore(workspace, name)

    @staticmethod
    def get(workspace: Workspace, datastore_name: str) -> Any:
        record = workspace._store.get_datastore(datastore_name)
        if record is None:
            raise _sdk.user_error(f"(UserError) Datastore {datastore_name} was not found")
        return datastore_object(workspace, record)

    @staticmethod
    def get_default(workspace: Workspace) -> Any:
        return datastore_object(workspace, workspace._store.default_datastore())

    @staticmethod
    def register_azure_blob_container(
        workspace: Workspace,
        datastore_name: str,
        container_name: str,
        account_name: str,
        sas_token: str | None = None,
        account_key: str | None = None,
        protocol: str | None = None,
        endpoint: str | None = None,
        overwrite: bool = False,
        create_if_not_exists: bool = False,
        skip_validation: bool = False,
        blob_cache_timeout: int | None = None,
        grant_workspace_access: bool = False,
        subscription_id: str | None = None,
        resource_group: str | None = None,
    ) -> Any:
        """Record the container (never its secret) and back it with a local folder."""
        return Datastore._register(
            workspace, datastore_name, BLOB_TYPE, container_name, account_name, sas_token,
            account_key, protocol, endpoint, overwrite,
        )  # fmt: skip

    @staticmethod
    def register_azure_file_share(
        workspace: Workspace,
        datastore_name: str,
        file_share_name: str,
        account_name: str,
        sas_token: str | None = None,
        account_key: str | None = None,
        protocol: str | None = None,
        endpoint: str | None = None,
        overwrite: bool = False,
        create_if_not_exists: bool = False,
        skip_validation: bool = False,
    ) -> Any:
        """Record the share (never its secret) and back it with a local folder."""
        return Datastore._register(
            workspace, datastore_name, FILE_TYPE, file_share_name, account_name, sas_token,
            account_key, protocol, endpoint, overwrite,
        )  # fmt: skip

    @staticmethod
    def _register(
        workspace: Workspace,
        name: str,
        kind: str,
        container: str,
        account: str,
        sas_token: str | None,
        account_key: str | None,
        protocol: str | None,
        endpoint: str | None,
        overwrite: bool,
    ) -> Any:
        if any(c.isupper() for c in name):
            sys.stderr.write(
                f"Datastore name {name} contains capital letters. They will be converted to "
                "lowercase letters.\n"
            )
        credential = "Sas" if sas_token else "AccountKey" if account_key else "None"
        try:
            record = workspace._store.register_datastore(
                name,
                type=kind,
                container=container,
                account=account,
                protocol=protocol,
                endpoint=endpoint,
                credential_type=credential,
                overwrite=overwrite,
            )
        except (DatastoreConflict, DataPathError) as exc:
            raise _sdk.user_error(f"(UserError) {exc}") from None
        return datastore_object(workspace, record)

    @staticmethod
    def _set_default(workspace: Workspace, name: str) -> None:
        set_default_datastore(workspace, name)


# ---------------------------------------------------------------------- helpers

#: What `Datastore.get` hands out for a datastore registered with a credential: the local
#: workspace keeps no secrets, but the SDK's classes refuse to upload without one.
LOCAL_SECRET = "local-workspace-has-no-secret"


def datastore_object(
    workspace: Workspace, record: DatastoreRecord
) -> AbstractAzureStorageDatastore:
    key = LOCAL_SECRET if record.credential_type == "AccountKey" else None
    sas = LOCAL_SECRET if record.credential_type == "Sas" else None
    if record.type == FILE_TYPE:
        return AzureFileDatastore(
            workspace, record.name, record.container, record.account, sas, key,
            record.protocol, record.endpoint or "core.windows.net",
        )  # fmt: skip
    return AzureBlobDatastore(
        workspace, record.name, record.container, record.account, sas, key, record.protocol,
        record.endpoint,
    )  # fmt: skip
