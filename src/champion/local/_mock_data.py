"""The data plane behind `mock_azureml()`: datastores, the files in them, and datasets.

Why a module of its own: the registry's service (`_mock_service.py`) and the data plane reach the
SDK through different clients, and the data plane needs patch points of its own. Each one sits
where the SDK would leave the process, so the SDK's client-side code (argument checks, path
normalisation, dataflow building, the `Datastore`/`Dataset` objects) runs as shipped:

- `_DatastoreClient._get_client` and the `_restclient` factory every dataset module imported: a
  REST client on the fake endpoint that needs no token (the SDK's own factory asks the workspace
  for an Azure token, which the local workspace has not got);
- the generated `DataStoresOperations` and `DatasetOperations` methods the SDK calls (get, list,
  create, update, delete, default; ensure_saved, register, get by name/id, list, update,
  unregister), answered from the store, with the service's errors as the generated client
  raises them;
- the storage clients `AzureBlobDatastore`/`AzureFileDatastore` build (`BlobServiceClient`,
  `ShareClient`, `ShareDirectoryClient`, `ShareFileClient`): they read and write the datastore's
  folder inside the workspace;
- `_fetch_rslex_dataflow_yaml` (a raw GET of a dataset's dataflow) and `_fetch_v2_data_asset`;
- `azureml.dataprep`'s `_RsLexExecutor._ensure_dataflow`, the one door every dataflow execution
  goes through (reading a tabular dataset, listing or downloading a file dataset, validating
  one): an `azureml://.../datastores/<name>/paths/<path>` of this workspace becomes a `file://`
  path in the datastore's folder, so dataprep reads local files offline; any other remote path
  is refused before the Rust engine could reach the network. The dataset keeps its datastore
  URIs, as on Azure: only execution sees the local path.

`FileDataset.mount()` (a FUSE mount of Azure storage) is refused with `UnmockedServiceCall` before
the engine could try: the local classes' `mount()` (a copy) is local-face only.
"""

from __future__ import annotations

import inspect
import io
import json
import re
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import quote, unquote, urlparse

import azureml.data.azure_storage_datastore as storage_module
import yaml  # type: ignore[import-untyped]
from azureml._restclient import models as rest
from azureml._restclient.operations.data_stores_operations import DataStoresOperations
from azureml._restclient.operations.dataset_operations import DatasetOperations
from azureml._restclient.rest_client import RestClient
from azureml.data.datastore_client import _DatastoreClient
from msrest.authentication import BasicTokenAuthentication

from champion.local import _mock_dto as dto
from champion.local.mock import UnmockedServiceCall
from champion.local.store import (
    BLOB_TYPE,
    FILE,
    FILE_TYPE,
    TABULAR,
    DataPathError,
    DatasetConflict,
    DatasetRecord,
    DatastoreConflict,
    DatastoreRecord,
    SavedDatasetRecord,
)

if TYPE_CHECKING:
    from champion.local._mock_service import LocalService
    from champion.local.store import Store

#: Placeholder credential handed to a datastore that was registered with one: the local
#: workspace never stores secrets, but the SDK refuses to upload without a credential.
LOCAL_SECRET = "local-workspace-has-no-secret"
_SDK_TYPES = {TABULAR: "tabular", FILE: "file"}
_FROM_SDK_TYPE = {v: k for k, v in _SDK_TYPES.items()}
AZUREML_URI = re.compile(
    r"azureml://subscriptions/(?P<sub>[^/]+)/resourcegroups/(?P<rg>[^/]+)/workspaces/"
    r"(?P<ws>[^/]+)/datastores/(?P<ds>[^/]+)/paths/(?P<path>[^\"'\s]*)"
)
_PORTABLE_BASE = re.compile(
    r'(?P<head>GetPortablePath.*?\{\\"r\\": \[\\"Value\\", \\")(?P<base>[^\\"]+)'
    r'(?P<tail>\\"\]\}\]\]\])'  # the last argument: its list, the call and the body close
)
_REMOTE = re.compile(r"\b(?:https?|wasbs?|abfss?|adl|azureml|hdfs|dbfs)://[^\"'\s]*")
_DATASET_MODULES = (
    "azureml.data._dataset_rest_helper",
    "azureml.data.abstract_dataset",
    "azureml.data.tabular_dataset",
    "azureml.data.dataset_profile",
    "azureml.data.dataset_profile_run_config",
    "azureml.data._dataset_profile_run",
)


def _error(status: int, message: str, retry_after: float | None = None) -> Exception:
    """What a generated data-plane operation raises for an error reply: the SDK's datastore
    client turns a 4xx "(UserError)" into `UserErrorException`, its dataset helper reads the
    status code."""
    reply = dto.error_reply(status, message, retry_after)
    return cast(Exception, rest.ErrorResponseException(dto._DESERIALIZER, reply))


class DataService:
    """The store answering the SDK's data-plane calls for one `LocalService`."""

    def __init__(self, service: LocalService) -> None:
        self._service = service
        self.store: Store = service.store

    def _begin(self, operation: str) -> None:
        """Count the call; an injected fault fails it as that layer fails (the storage SDK's
        `AzureHttpError` for a file transfer, an error reply for the REST operations)."""
        storage = operation.startswith("datastore.")
        self._service._begin(operation, self._service._blob_error if storage else _error)

    # ------------------------------------------------------------------ patches

    def patches(self) -> list[tuple[object, str, object]]:
        import importlib

        def client(*args: Any, **kwargs: Any) -> Any:
            return RestClient(
                credentials=BasicTokenAuthentication({"access_token": "local"}),
                base_url=self._service.ENDPOINT,
            )

        patches: list[tuple[object, str, object]] = [
            (_DatastoreClient, "_get_client", staticmethod(client)),
            (storage_module, "BlobServiceClient", self._blob_service),
            (storage_module, "ShareClient", self._share_client),
            (storage_module, "ShareDirectoryClient", self._share_directory),
            (storage_module, "ShareFileClient", self._share_file),
            (storage_module, "FileProperties", _FileProperties),
        ]
        # each dataset module imported these helpers by name: patch every copy
        helpers = {
            "_restclient": client,
            "_fetch_rslex_dataflow_yaml": self._fetch_dataflow_yaml,
            "_fetch_v2_data_asset": self._fetch_v2_asset,
        }
        for module_name in _DATASET_MODULES:
            module = importlib.import_module(module_name)
            for attribute, replacement in helpers.items():
                if hasattr(module, attribute):
                    patches.append((module, attribute, replacement))
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
                (DataStoresOperations, name, _operation(DataStoresOperations, name, handler))
            )
        for name, handler in {
            "ensure_saved": self._dataset_save,
            "register": self._dataset_register,
            "get_dataset_by_name": self._dataset_by_name,
            "get_datasets_by_saved_dataset_id": self._datasets_by_saved_id,
            "get_by_id": self._dataset_by_saved_id,
            "list": self._dataset_list,
            "update_dataset": self._dataset_update,
            "unregister_dataset": self._dataset_unregister,
        }.items():
            patches.append((DatasetOperations, name, _operation(DatasetOperations, name, handler)))
        try:
            from azureml.dataprep.api._rslex_executor import _RsLexExecutor
        except ImportError:  # azureml-dataprep comes with the [pipelines] extra
            return patches
        original = vars(_RsLexExecutor)["_ensure_dataflow"]

        def ensure_dataflow(executor: Any, script: Any) -> Any:
            return original(executor, self.localize(script))

        patches.append((_RsLexExecutor, "_ensure_dataflow", ensure_dataflow))
        from azureml.dataprep.api.engineless_dataflow import EnginelessDataflow

        def mount(dataflow: Any, *args: Any, **kwargs: Any) -> Any:
            raise UnmockedServiceCall(
                "mock_azureml: a FUSE mount of Azure storage; the local workspace answers "
                "download() and to_path() instead",
                member="FileDataset.mount",
            )

        patches.append((EnginelessDataflow, "mount", mount))
        patches.append(self._location_patch())
        return patches

    def _location_patch(self) -> tuple[object, str, object]:
        """`FileDatasetFactory.upload_directory` copies with the engine's `Copier` to a
        destination made by `PyLocationInfo.from_uri(azureml://...)`: the same door, for writes.
        The engine's class cannot be patched, so its module name is a stand-in that builds the
        real objects, with this workspace's datastore URIs pointed at their folders."""
        import azureml.dataprep.rslex as rslex

        real = rslex.PyLocationInfo
        service = self

        class PyLocationInfo:
            def __new__(cls, *args: Any, **kwargs: Any) -> Any:
                return real(*args, **kwargs)

            @staticmethod
            def from_uri(uri: str, *args: Any, **kwargs: Any) -> Any:
                for match in AZUREML_URI.finditer(uri):
                    service.store.datastore_folder(match["ds"]).mkdir(parents=True, exist_ok=True)
                return real.from_uri(service.localize(uri), *args, **kwargs)

        return (rslex, "PyLocationInfo", PyLocationInfo)

    # ------------------------------------------------------------------ datastores

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
            raise _error(404, f"Datastore {p['name']} was not found")
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
        body = dto.wire(p["dto"], "DataStore")
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
            raise _error(400, f"{exc}") from None
        except DataPathError as exc:
            raise _error(400, f"{exc}") from None

    def _datastore_delete(self, p: Mapping[str, Any]) -> None:
        self._begin("datastores.delete")
        try:
            if not self.store.delete_datastore(p["name"]):
                raise _error(404, f"Datastore {p['name']} was not found")
        except DatastoreConflict as exc:
            raise _error(400, f"{exc}") from None

    def _datastore_set_default(self, p: Mapping[str, Any]) -> None:
        self._begin("datastores.set_default")
        try:
            self.store.set_default_datastore(p["name"])
        except DatastoreConflict as exc:
            raise _error(404, f"{exc}") from None

    def _datastore_for(self, account_url: str, container: str) -> DatastoreRecord:
        account = (urlparse(account_url).hostname or "").split(".", 1)[0]
        for record in self.store.list_datastores():
            if record.account == account and record.container == container:
                return record
        raise UnmockedServiceCall(
            f"mock_azureml: storage account {account!r}, container {container!r} is not a "
            "datastore of the local workspace; reaching it needs Azure Storage"
        )

    # ------------------------------------------------------------------ storage clients

    def _blob_service(self, account_url: str, credential: Any = None, **kwargs: Any) -> Any:
        return _BlobService(self, account_url)

    def _share_client(
        self, account_url: str, share_name: str, credential: Any = None, **kwargs: Any
    ) -> Any:
        return _ShareDirectory(self, self._datastore_for(account_url, share_name).name, "")

    def _share_directory(
        self,
        account_url: str,
        share_name: str,
        directory_path: str,
        credential: Any = None,
        **kwargs: Any,
    ) -> Any:
        name = self._datastore_for(account_url, share_name).name
        return _ShareDirectory(self, name, directory_path)

    def _share_file(
        self, account_url: str, share_name: str, file_path: str, credential: Any = None, **kw: Any
    ) -> Any:
        return _ShareFile(self, self._datastore_for(account_url, share_name).name, file_path)

    # ------------------------------------------------------------------ datasets

    def _dataset_save(self, p: Mapping[str, Any]) -> Any:
        self._begin("datasets.save")
        body = dto.wire(p["dataset"], "SavedDatasetDto")
        saved = self._save(body.dataset_type, body.dataflow_json, body.properties)
        return self._saved_dto(saved)

    def _save(
        self, sdk_type: str | None, dataflow: str | None, properties: Any
    ) -> SavedDatasetRecord:
        dataset_type = _FROM_SDK_TYPE.get(str(sdk_type), TABULAR)
        definition = self.definition_from_dataflow(dataset_type, dataflow or "")
        try:
            return self.store.save_dataset(
                dataset_type, definition, dataflow=dataflow, properties=dict(properties or {})
            )
        except DataPathError as exc:
            raise _error(400, f"{exc}") from None

    def _dataset_register(self, p: Mapping[str, Any]) -> Any:
        self._begin("datasets.register")
        body = dto.wire(p["dataset_dto"], "DatasetDto")
        latest = body.latest
        saved_id = getattr(latest, "saved_dataset_id", None)
        if not saved_id or self.store.get_saved_dataset(saved_id) is None:
            saved_id = self._save(body.dataset_type, latest.dataflow, latest.properties).id
        create_new_version = bool(p.get("if_exists_ok")) and bool(
            p.get("update_definition_if_exists")
        )
        try:
            record = self.store.register_dataset(
                body.name,
                saved_id=saved_id,
                description=body.description,
                tags=dto.as_str_dict(body.tags),
                create_new_version=create_new_version,
            )
        except DatasetConflict as exc:
            raise _error(409, f"{exc}") from None
        return self._dataset_dto(record)

    def _dataset_by_name(self, p: Mapping[str, Any]) -> Any:
        self._begin("datasets.get")
        version = p.get("version_id")
        record = self.store.get_dataset(p["dataset_name"], int(version) if version else None)
        if record is None:
            raise _error(404, f"Dataset {p['dataset_name']} was not found")
        return self._dataset_dto(record)

    def _datasets_by_saved_id(self, p: Mapping[str, Any]) -> Any:
        self._begin("datasets.get")
        records = self.store.datasets_for_saved_id(p["saved_dataset_id"])
        page = records[: int(p.get("page_size") or 10)]
        return rest.PaginatedResultDatasetDto(value=[self._dataset_dto(r) for r in page])

    def _dataset_by_saved_id(self, p: Mapping[str, Any]) -> Any:
        self._begin("datasets.get")
        saved = self.store.get_saved_dataset(p["id"])
        if saved is None:
            raise _error(404, f"Dataset {p['id']} was not found")
        return self._saved_dto(saved)

    def _dataset_list(self, p: Mapping[str, Any]) -> Any:
        self._begin("datasets.query")
        records = self.store.list_datasets()
        names = p.get("dataset_names")
        if names:
            records = [r for r in records if r.name in set(names)]
        return rest.PaginatedResultDatasetDto(
            value=[self._dataset_dto(r) for r in records], continuation_token=None
        )

    def _dataset_update(self, p: Mapping[str, Any]) -> Any:
        self._begin("datasets.update")
        body = dto.wire(p["new_dataset_dto"], "DatasetDto")
        name = body.name or self._name_of(p["dataset_id"])
        try:
            record = self.store.update_dataset(
                name,
                description=body.description,
                tags=dto.as_str_dict(body.tags) if body.tags is not None else None,
            )
        except KeyError:
            raise _error(404, f"Dataset {name} was not found") from None
        return self._dataset_dto(record)

    def _name_of(self, registered_id: str) -> str:
        for record in self.store.list_datasets():
            if record.registered_id == registered_id:
                return record.name
        raise _error(404, f"Dataset {registered_id} was not found")

    def _dataset_unregister(self, p: Mapping[str, Any]) -> None:
        self._begin("datasets.delete")
        if not self.store.unregister_dataset(p["name"]):
            raise _error(404, f"Dataset {p['name']} was not found")

    def _fetch_dataflow_yaml(self, workspace: Any, fetch_id: str) -> str:
        """The service's answer to GET .../dataversion/unregistered-<saved id>/versions/1: the
        dataflow as the Rust engine's YAML."""
        self._begin("datasets.get")
        saved = self.store.get_saved_dataset(fetch_id.removeprefix("unregistered-"))
        if saved is None:
            raise _error(404, f"Dataset {fetch_id} was not found")
        return _rs_yaml(self.dataflow_of(saved))

    def _fetch_v2_asset(self, workspace: Any, name: str, version: Any) -> Any:
        """The local workspace has no SDK v2 data assets: the service's 404."""
        self._begin("datasets.get")
        raise _error(404, f"Data asset {name} was not found")

    def _saved_dto(self, saved: SavedDatasetRecord) -> Any:
        return rest.SavedDatasetDto(
            id=saved.id,
            dataset_type=_SDK_TYPES[saved.dataset_type],
            properties=dict(saved.properties),
            dataflow_json=self.dataflow_of(saved),
        )

    def _dataset_dto(self, record: DatasetRecord) -> Any:
        created = datetime.fromisoformat(record.created_utc)
        return rest.DatasetDto(
            dataset_id=record.registered_id,
            name=record.name,
            description=record.description,
            tags=dict(record.tags),
            is_visible=True,
            dataset_type=_SDK_TYPES[record.saved.dataset_type],
            created_time=created,
            latest=rest.DatasetDefinitionDto(
                dataset_id=record.registered_id,
                version_id=str(record.version),
                dataflow=self.dataflow_of(record.saved),
                properties=dict(record.saved.properties),
                saved_dataset_id=record.saved.id,
                created_time=created,
            ),
        )

    # ------------------------------------------------------------------ dataflows

    def dataflow_of(self, saved: SavedDatasetRecord) -> str:
        """The SDK's dataflow JSON for a saved definition: as the SDK sent it, or, for one the
        local classes saved, built by the SDK's own factory over the same datastore paths."""
        if saved.dataflow:
            return saved.dataflow
        from azureml.core import Dataset, Datastore

        workspace = self._service.workspace
        paths = []
        for entry in saved.definition.get("paths", []):
            if "datastore" in entry:
                paths.append((Datastore.get(workspace, entry["datastore"]), entry["path"]))
            else:
                paths.append(entry["url"])
        if saved.dataset_type == FILE:
            dataset = Dataset.File.from_files(paths, validate=False)
        else:
            read = saved.definition.get("read", {})
            dataset = Dataset.Tabular.from_delimited_files(
                paths,
                validate=False,
                include_path=bool(read.get("include_path")),
                infer_column_types=False,
                separator=read.get("separator", ","),
                header=read.get("header", True),
                encoding=read.get("encoding", "utf8"),
            )
        return str(dataset._dataflow.to_json())

    def definition_from_dataflow(self, dataset_type: str, dataflow: str) -> dict[str, Any]:
        """The face-neutral definition (paths, how to read) of the SDK's dataflow JSON."""
        document = yaml.safe_load(_rs_yaml(dataflow)) or {}
        paths: list[dict[str, str]] = []
        for entry in document.get("paths", []):
            uri = next((str(entry[k]) for k in ("pattern", "file", "folder") if k in entry), "")
            match = AZUREML_URI.fullmatch(uri)
            if match:
                paths.append({"datastore": match["ds"], "path": unquote(match["path"])})
            else:
                paths.append({"url": uri})
        definition: dict[str, Any] = {"type": dataset_type, "paths": paths}
        for step in document.get("transformations", []) or []:
            if isinstance(step, dict) and "read_delimited" in step:
                options = step["read_delimited"] or {}
                definition["read"] = {
                    "separator": options.get("delimiter", ","),
                    "header": options.get("header", "all_files_same_headers") != "no_header",
                    "encoding": options.get("encoding", "utf8"),
                    "include_path": bool(options.get("include_path_column", False)),
                    "infer_column_types": options.get("infer_column_types", False),
                }
        return definition

    def localize(self, script: Any) -> Any:
        """A dataflow about to be executed, with this workspace's datastore URIs turned into
        its datastore folders; any other remote location refused (the engine would go out to
        the network, which no mock can stop once it is in native code)."""
        if isinstance(script, str):
            text = script
        elif hasattr(script, "_to_yaml_string"):
            text = script._to_yaml_string()
        elif hasattr(script, "to_yaml_string"):
            text = script.to_yaml_string()
        else:
            return script

        def local(match: re.Match[str]) -> str:
            try:
                folder = self.store.datastore_folder(match["ds"])
            except DataPathError as exc:
                raise UnmockedServiceCall(f"mock_azureml: {exc}") from None
            # the path part stays as dataprep quoted it (`*` and `/` kept: globs still work)
            uri = "file://" + quote(folder.as_posix(), safe="/")
            return f"{uri}/{match['path']}" if match["path"] else uri

        def local_base(match: re.Match[str]) -> str:
            # A file's portable path is its path relative to a base that dataprep computed from
            # the datastore URI ("<datastore>/<path>"); the local file's own id is its absolute
            # path, so the base must be the folder's, or every path comes out absolute.
            datastore, _, rest = match["base"].partition("/")
            if self.store.get_datastore(datastore) is None:
                return match.group(0)
            folder = self.store.datastore_folder(datastore)
            local_path = (folder / unquote(rest)).as_posix() if rest else folder.as_posix()
            return f"{match['head']}{local_path}{match['tail']}"

        rewritten = _PORTABLE_BASE.sub(local_base, AZUREML_URI.sub(local, text))
        remote = _REMOTE.search(rewritten)
        if remote:
            raise UnmockedServiceCall(
                f"mock_azureml: reading {remote.group(0)} needs the network; the local "
                "workspace reads only its own datastores (upload the data to one)"
            )
        return rewritten if rewritten != text or isinstance(script, str) else script


# --------------------------------------------------------------------------- storage fakes


class _BlobService:
    """`BlobServiceClient` over a datastore folder: the calls `AzureBlobDatastore` makes."""

    def __init__(self, data: DataService, account_url: str) -> None:
        self._data, self._account_url = data, account_url

    def get_blob_client(self, container: str, blob: str, **kwargs: Any) -> _Blob:
        record = self._data._datastore_for(self._account_url, container)
        return _Blob(self._data, record.name, blob)

    def get_container_client(self, container: str, **kwargs: Any) -> _Container:
        record = self._data._datastore_for(self._account_url, container)
        return _Container(self._data, record.name)


class _Blob:
    def __init__(self, data: DataService, datastore: str, path: str) -> None:
        self._data, self._datastore, self._path = data, datastore, path

    def exists(self, **kwargs: Any) -> bool:
        self._data._begin("datastore.list")
        return self._data.store.datastore_file(self._datastore, self._path).is_file()

    def upload_blob(
        self, data: Any, blob_type: Any = None, overwrite: bool = False, **kw: Any
    ) -> Any:
        self._data._begin("datastore.upload")
        source = io.BytesIO(data) if isinstance(data, bytes | bytearray) else data
        if not self._data.store.datastore_write(
            self._datastore, self._path, source, overwrite=overwrite
        ):
            from azure.core.exceptions import ResourceExistsError

            raise ResourceExistsError(f"The specified blob already exists: {self._path}")
        return {}

    def download_blob(self, **kwargs: Any) -> _Download:
        self._data._begin("datastore.download")
        return _Download(self._data.store.datastore_file(self._datastore, self._path))


class _Download:
    def __init__(self, path: Path) -> None:
        self._path = path

    def readall(self) -> bytes:
        return self._path.read_bytes()


class _BlobItem:
    def __init__(self, name: str, size: int) -> None:
        self.name, self.size = name, size


class _Container:
    def __init__(self, data: DataService, datastore: str) -> None:
        self._data, self._datastore = data, datastore

    def list_blobs(self, name_starts_with: str | None = None, **kwargs: Any) -> Iterator[_BlobItem]:
        self._data._begin("datastore.list")
        prefix = name_starts_with or ""
        for name, path in self._data.store.datastore_files(self._datastore):
            if name.startswith(prefix):
                yield _BlobItem(name, path.stat().st_size)


class _FileProperties:
    """Stands for the file share SDK's `FileProperties` (the datastore's `isinstance` check)."""

    def __init__(self, name: str, size: int) -> None:
        self.name, self.size = name, size


class _DirectoryProperties:
    def __init__(self, name: str) -> None:
        self.name = name


class _ShareDirectory:
    """`ShareClient`/`ShareDirectoryClient` over a folder of a file-share datastore."""

    def __init__(self, data: DataService, datastore: str, directory: str) -> None:
        self._data, self._datastore = data, datastore
        self._directory = directory.strip("/")

    def _folder(self) -> Path:
        folder = self._data.store.datastore_folder(self._datastore)
        if not self._directory:
            return folder
        return self._data.store.datastore_file(self._datastore, self._directory)

    def exists(self, **kwargs: Any) -> bool:
        self._data._begin("datastore.list")
        return self._folder().is_dir()

    def create_directory(self, **kwargs: Any) -> None:
        self._folder().mkdir(parents=True, exist_ok=True)

    def upload_file(self, file_name: str, data: Any, **kwargs: Any) -> None:
        self._data._begin("datastore.upload")
        path = f"{self._directory}/{file_name}" if self._directory else file_name
        self._data.store.datastore_write(self._datastore, path, data, overwrite=True)

    def list_directories_and_files(
        self, name_starts_with: str | None = None, **kwargs: Any
    ) -> list[Any]:
        self._data._begin("datastore.list")
        folder = self._folder()
        if not folder.is_dir():
            return []
        entries: list[Any] = []
        for child in sorted(folder.iterdir()):
            if name_starts_with and not child.name.startswith(name_starts_with):
                continue
            if child.is_dir():
                entries.append(_DirectoryProperties(child.name))
            elif not child.name.endswith(".part"):
                entries.append(_FileProperties(child.name, child.stat().st_size))
        return entries


class _ShareFile:
    def __init__(self, data: DataService, datastore: str, path: str) -> None:
        self._data, self._datastore, self._path = data, datastore, path

    def get_file_properties(self, **kwargs: Any) -> _FileProperties:
        self._data._begin("datastore.list")
        target = self._data.store.datastore_file(self._datastore, self._path)
        if not target.is_file():
            from azure.core.exceptions import ResourceNotFoundError

            raise ResourceNotFoundError(f"The specified resource does not exist: {self._path}")
        return _FileProperties(target.name, target.stat().st_size)

    def download_file(self, **kwargs: Any) -> _Download:
        self._data._begin("datastore.download")
        return _Download(self._data.store.datastore_file(self._datastore, self._path))


# --------------------------------------------------------------------------- helpers


def _operation(owner: type, name: str, handler: Callable[[dict[str, Any]], Any]) -> Any:
    """A replacement for a generated REST operation: its arguments named as the original
    declares them, then answered by `handler`."""
    signature = inspect.signature(getattr(owner, name))

    def operation(ops: Any, *args: Any, **kwargs: Any) -> Any:
        bound = signature.bind(ops, *args, **kwargs)
        params = dict(bound.arguments)
        params.update(params.pop("operation_config", {}) or {})
        return handler(params)

    operation.__name__ = name
    operation.__qualname__ = f"mock_azureml.{owner.__name__}.{name}"
    return operation


def _rs_yaml(dataflow: str) -> str:
    """The Rust engine's YAML inside the SDK's dataflow JSON (or the YAML itself)."""
    text = dataflow.strip()
    if not text.startswith("{"):
        return dataflow
    meta = json.loads(text).get("meta") or {}
    return str(meta.get("RsDataflow", ""))


def quote_path(path: str) -> str:
    """A datastore path as dataprep writes it into a URI (`/` and `*` kept)."""
    return quote(path, "/*")
