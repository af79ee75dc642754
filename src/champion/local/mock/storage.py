"""Azure Storage, as far as a datastore uses it: the `BlobServiceClient` and file-share clients
that `AzureBlobDatastore`/`AzureFileDatastore` build, over the datastore's folder inside the
workspace. A storage account and container that is not a datastore of the local workspace is
refused with `UnmockedServiceCall`: reaching it needs Azure Storage. A path the store's rule
refuses (`store.datastores`: `..`, NUL, a link inside the datastore) is the SDK's
`UserErrorException`, as the local classes raise it."""

from __future__ import annotations

import contextlib
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from champion.local._unmocked import UnmockedServiceCall
from champion.local.mock.backend import Backend
from champion.local.store import DataPathError, DatastoreRecord, Store


def datastore_for(store: Store, account_url: str, container: str) -> DatastoreRecord:
    """The datastore a storage account URL and container name stand for."""
    account = (urlparse(account_url).hostname or "").split(".", 1)[0]
    for record in store.list_datastores():
        if record.account == account and record.container == container:
            return record
    raise UnmockedServiceCall(
        f"mock_azureml: storage account {account!r}, container {container!r} is not a "
        "datastore of the local workspace; reaching it needs Azure Storage"
    )


@contextlib.contextmanager
def _refused() -> Iterator[None]:
    try:
        yield
    except DataPathError as exc:
        from azureml.exceptions import UserErrorException

        raise UserErrorException(str(exc)) from None


class _Transfers:
    """Counts each storage call; an injected fault fails it as the storage SDK fails
    (`AzureHttpError`)."""

    _backend: Backend
    _datastore: str

    def _begin(self, operation: str) -> None:
        self._backend.begin(operation, self._backend.blob_error)

    def _file(self, path: str) -> Path:
        with _refused():
            return self._backend.store.datastore_file(self._datastore, path)


class BlobService:
    """`BlobServiceClient` over a datastore folder: the calls `AzureBlobDatastore` makes."""

    def __init__(self, backend: Backend, account_url: str) -> None:
        self._backend, self._account_url = backend, account_url

    def get_blob_client(self, container: str, blob: str, **kwargs: Any) -> _Blob:
        record = datastore_for(self._backend.store, self._account_url, container)
        return _Blob(self._backend, record.name, blob)

    def get_container_client(self, container: str, **kwargs: Any) -> _Container:
        record = datastore_for(self._backend.store, self._account_url, container)
        return _Container(self._backend, record.name)


class _Blob(_Transfers):
    def __init__(self, backend: Backend, datastore: str, path: str) -> None:
        self._backend, self._datastore, self._path = backend, datastore, path

    def exists(self, **kwargs: Any) -> bool:
        self._begin("datastore.list")
        return self._file(self._path).is_file()

    def upload_blob(
        self, data: Any, blob_type: Any = None, overwrite: bool = False, **kw: Any
    ) -> Any:
        self._begin("datastore.upload")
        source = io.BytesIO(data) if isinstance(data, bytes | bytearray) else data
        with _refused():
            written = self._backend.store.datastore_write(
                self._datastore, self._path, source, overwrite=overwrite
            )
        if not written:
            from azure.core.exceptions import ResourceExistsError

            raise ResourceExistsError(f"The specified blob already exists: {self._path}")
        return {}

    def download_blob(self, **kwargs: Any) -> _Download:
        self._begin("datastore.download")
        return _Download(self._file(self._path))


class _Download:
    def __init__(self, path: Path) -> None:
        self._path = path

    def readall(self) -> bytes:
        return self._path.read_bytes()


class _BlobItem:
    def __init__(self, name: str, size: int) -> None:
        self.name, self.size = name, size


class _Container(_Transfers):
    def __init__(self, backend: Backend, datastore: str) -> None:
        self._backend, self._datastore = backend, datastore

    def list_blobs(self, name_starts_with: str | None = None, **kwargs: Any) -> Iterator[_BlobItem]:
        self._begin("datastore.list")
        prefix = name_starts_with or ""
        with _refused():
            files = self._backend.store.datastore_files(self._datastore)
        for name, path in files:
            if name.startswith(prefix):
                yield _BlobItem(name, path.stat().st_size)


class FileProperties:
    """Stands for the file share SDK's `FileProperties` (the datastore's `isinstance` check)."""

    def __init__(self, name: str, size: int) -> None:
        self.name, self.size = name, size


class _DirectoryProperties:
    def __init__(self, name: str) -> None:
        self.name = name


class ShareDirectory(_Transfers):
    """`ShareClient`/`ShareDirectoryClient` over a folder of a file-share datastore."""

    def __init__(self, backend: Backend, datastore: str, directory: str) -> None:
        self._backend, self._datastore = backend, datastore
        self._directory = directory.strip("/")

    def _folder(self) -> Path:
        if not self._directory:
            return self._backend.store.datastore_folder(self._datastore)
        return self._file(self._directory)

    def exists(self, **kwargs: Any) -> bool:
        self._begin("datastore.list")
        return self._folder().is_dir()

    def create_directory(self, **kwargs: Any) -> None:
        self._folder().mkdir(parents=True, exist_ok=True)

    def upload_file(self, file_name: str, data: Any, **kwargs: Any) -> None:
        self._begin("datastore.upload")
        path = f"{self._directory}/{file_name}" if self._directory else file_name
        with _refused():
            self._backend.store.datastore_write(self._datastore, path, data, overwrite=True)

    def list_directories_and_files(
        self, name_starts_with: str | None = None, **kwargs: Any
    ) -> list[Any]:
        self._begin("datastore.list")
        folder = self._folder()
        if not folder.is_dir():
            return []
        with _refused():  # the rule's check of what is below: no link, FIFO or device
            self._backend.store.datastore_files(self._datastore, self._directory)
        entries: list[Any] = []
        for child in sorted(folder.iterdir()):
            if name_starts_with and not child.name.startswith(name_starts_with):
                continue
            if child.is_dir():
                entries.append(_DirectoryProperties(child.name))
            elif not child.name.endswith(".part"):
                entries.append(FileProperties(child.name, child.stat().st_size))
        return entries


class ShareFile(_Transfers):
    """`ShareFileClient` over a file of a file-share datastore."""

    def __init__(self, backend: Backend, datastore: str, path: str) -> None:
        self._backend, self._datastore, self._path = backend, datastore, path

    def get_file_properties(self, **kwargs: Any) -> FileProperties:
        self._begin("datastore.list")
        target = self._file(self._path)
        if not target.is_file():
            from azure.core.exceptions import ResourceNotFoundError

            raise ResourceNotFoundError(f"The specified resource does not exist: {self._path}")
        return FileProperties(target.name, target.stat().st_size)

    def download_file(self, **kwargs: Any) -> _Download:
        self._begin("datastore.download")
        return _Download(self._file(self._path))
