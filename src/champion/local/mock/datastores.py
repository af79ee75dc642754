"""Datastores: the generated `DataStoresOperations` (get, default, list, create, update, delete,
set default) answered from the store's datastore rows, and the storage clients that
`AzureBlobDatastore`/`AzureFileDatastore` build, answered by the datastore's folder
(`storage.py`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import azureml.data.azure_storage_datastore as storage_module
from azureml._restclient import models as rest
from azureml._restclient.operations.data_stores_operations import DataStoresOperations
from azureml.data.datastore_client import _DatastoreClient
from azureml.exceptions import UserErrorException

from champion.local._unmocked import UnmockedServiceCall
from champion.local.mock.backend import ClientFamily, Patch, local_rest_client, replace_operation
from champion.local.mock.storage import (
    BlobService,
    FileProperties,
    ShareDirectory,
    ShareFile,
    datastore_for,
)
from champion.local.mock.wire import data_plane_error, wire
from champion.local.store import (
    BLOB_TYPE,
    FILE_TYPE,
    DataPathError,
    DatastoreConflict,
    DatastoreRecord,
)

#: Placeholder credential handed to a datastore that was registered with one: the local
#: workspace never stores secrets, but the SDK refuses to upload without a credential.
LOCAL_SECRET = "local-workspace-has-no-secret"


class DatastoreService(ClientFamily):
    """Datastore rows, and the storage clients over their folders."""

    def patches(self) -> list[Patch]:
        patches: list[Patch] = [
            (_DatastoreClient, "_get_client", staticmethod(local_rest_client)),
            (storage_module, "BlobServiceClient", self._blob_service),
            (storage_module, "ShareClient", self._share_client),
            (storage_module, "ShareDirectoryClient", self._share_directory),
            (storage_module, "ShareFileClient", self._share_file),
            (storage_module, "FileProperties", FileProperties),
            (
                storage_module.AbstractAzureStorageDatastore,
                "_get_upload_from_files",
                self._checked_targets(),
            ),
        ]
        for name, handler in {
            "get": self._datastore_get,
            "get_default": self._datastore_get_default,
            "list": self._datastore_list,
            "create": self._datastore_create,
            "update": self._datastore_update,
            "delete": self._datastore_delete,
            "set_default": self._datastore_set_default,
        }.items():
            patches.append(
                (DataStoresOperations, name, replace_operation(DataStoresOperations, name, handler))
            )
        return patches

    def _begin(self, operation: str) -> None:
        self.backend.begin(operation, data_plane_error)

    def _checked_targets(self) -> Any:
        """The SDK's `_get_upload_from_files` (where `upload` and `upload_files` of both kinds
        of datastore compute each file's path in the datastore), with every path checked by the
        store's rule before the first transfer, as the local classes check it: the SDK's upload
        tasks log a failed transfer and go on, so a refusal there would pass unnoticed."""
        original = vars(storage_module.AbstractAzureStorageDatastore)["_get_upload_from_files"]
        store = self.store

        def get_upload_from_files(datastore: Any, *args: Any, **kwargs: Any) -> Any:
            pairs = original(datastore, *args, **kwargs)
            try:
                for _, target in pairs:
                    store.datastore_file(datastore.name, target)
            except DataPathError as exc:
                raise UserErrorException(str(exc)) from None
            return pairs

        return get_upload_from_files

    def _datastore_dto(self, record: DatastoreRecord, *, secret: bool = True) -> Any:
        credential = record.credential_type if secret else "None"
        return rest.DataStore(
            name=record.name,
            data_store_type=rest.DataStoreType(record.type),
            has_been_validated=True,
            tags={},
            azure_storage_section=rest.AzureStorage(
                account_name=record.account,
                container_name=record.container,
                endpoint=record.endpoint,
                protocol=record.protocol,
                credential_type=credential,
                account_key=LOCAL_SECRET if credential == "AccountKey" else None,
                sas_token=LOCAL_SECRET if credential == "Sas" else None,
                is_sas=credential == "Sas",
            ),
        )

    def _datastore_get(self, p: Mapping[str, Any]) -> Any:
        self._begin("datastores.get")
        record = self.store.get_datastore(p["name"])
        if record is None:
            raise data_plane_error(404, f"Datastore {p['name']} was not found")
        return self._datastore_dto(record)

    def _datastore_get_default(self, p: Mapping[str, Any]) -> Any:
        self._begin("datastores.get_default")
        return self._datastore_dto(self.store.default_datastore())

    def _datastore_list(self, p: Mapping[str, Any]) -> Any:
        """Every datastore (the service lists without secrets) in one page."""
        self._begin("datastores.list")
        records = self.store.list_datastores()
        wanted = p.get("data_store_names")
        if wanted:
            records = [r for r in records if r.name in {str(n).lower() for n in wanted}]
        return rest.PaginatedDataStoreList(
            value=[self._datastore_dto(r, secret=bool(p.get("include_secret"))) for r in records],
            continuation_token=None,
        )

    def _datastore_create(self, p: Mapping[str, Any]) -> None:
        self._begin("datastores.create")
        self._datastore_write(p, overwrite=False)

    def _datastore_update(self, p: Mapping[str, Any]) -> None:
        self._begin("datastores.create")
        self._datastore_write(p, overwrite=True)

    def _datastore_write(self, p: Mapping[str, Any], *, overwrite: bool) -> None:
        body = wire(p["dto"], "DataStore")
        kind = getattr(body.data_store_type, "value", body.data_store_type)
        section = body.azure_storage_section
        if kind not in (BLOB_TYPE, FILE_TYPE) or section is None:
            raise UnmockedServiceCall(
                f"mock_azureml: Datastore.register_* for a {kind} datastore needs Azure; the "
                "local workspace keeps Azure blob containers and file shares (as folders)"
            )
        credential = "Sas" if section.sas_token else "AccountKey" if section.account_key else "None"
        try:
            self.store.register_datastore(
                body.name,
                type=str(kind),
                container=section.container_name,
                account=section.account_name,
                protocol=section.protocol,
                endpoint=section.endpoint,
                credential_type=credential,
                overwrite=overwrite,
            )
        except DatastoreConflict as exc:
            raise data_plane_error(400, f"{exc}") from None
        except DataPathError as exc:
            raise data_plane_error(400, f"{exc}") from None

    def _datastore_delete(self, p: Mapping[str, Any]) -> None:
        self._begin("datastores.delete")
        try:
            if not self.store.delete_datastore(p["name"]):
                raise data_plane_error(404, f"Datastore {p['name']} was not found")
        except DatastoreConflict as exc:
            raise data_plane_error(400, f"{exc}") from None

    def _datastore_set_default(self, p: Mapping[str, Any]) -> None:
        self._begin("datastores.set_default")
        try:
            self.store.set_default_datastore(p["name"])
        except DatastoreConflict as exc:
            raise data_plane_error(404, f"{exc}") from None

    # ------------------------------------------------------------------ storage clients

    def _blob_service(self, account_url: str, credential: Any = None, **kwargs: Any) -> Any:
        return BlobService(self.backend, account_url)

    def _share_client(
        self, account_url: str, share_name: str, credential: Any = None, **kwargs: Any
    ) -> Any:
        return ShareDirectory(
            self.backend, datastore_for(self.store, account_url, share_name).name, ""
        )

    def _share_directory(
        self,
        account_url: str,
        share_name: str,
        directory_path: str,
        credential: Any = None,
        **kwargs: Any,
    ) -> Any:
        name = datastore_for(self.store, account_url, share_name).name
        return ShareDirectory(self.backend, name, directory_path)

    def _share_file(
        self, account_url: str, share_name: str, file_path: str, credential: Any = None, **kw: Any
    ) -> Any:
        return ShareFile(
            self.backend, datastore_for(self.store, account_url, share_name).name, file_path
        )
