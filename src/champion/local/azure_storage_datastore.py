"""The datastore objects of the local workspace, as azureml's `azure_storage_datastore` module
has them: `AzureBlobDatastore` and `AzureFileDatastore`, each a folder inside the workspace
(`datastores/<name>/`) with the SDK's upload and download rules.

`path()`/`as_mount()`/`as_download()` return the SDK's own `DataReference` (a client-side object
that only needs the datastore's name), so `str(ref)` is `$AZUREML_DATAREFERENCE_<name>` exactly.
Getting, registering and choosing the default datastore is `Datastore` (`datastore.py`).
"""

from __future__ import annotations

import os
import re
import sys
from typing import TYPE_CHECKING, Any

from champion.local import _sdk
from champion.local.store import BLOB_TYPE, FILE_TYPE, DataPathError, DatastoreConflict

if TYPE_CHECKING:
    from champion.local.workspace import Workspace

#: The SDK's `AbstractAzureStorageDatastore._sanitize_regex`.
_LEADING_DOTS_AND_SLASHES = re.compile(r"^(\.*[/\\])*")


class AbstractDatastore:
    """What every datastore has: its workspace, name and type."""

    def __init__(self, workspace: Workspace, name: str, datastore_type: str) -> None:
        self._workspace = workspace
        self._name = name
        self._datastore_type = datastore_type

    @property
    def workspace(self) -> Workspace:
        return self._workspace

    @property
    def name(self) -> str:
        return self._name

    @property
    def datastore_type(self) -> str:
        return self._datastore_type

    def set_as_default(self) -> None:
        set_default_datastore(self._workspace, self._name)

    def unregister(self) -> None:
        unregister_datastore(self._workspace, self._name)

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, AbstractDatastore)
            and other._name == self._name
            and other._workspace == self._workspace
        )

    def __hash__(self) -> int:
        return hash((self._name, self._workspace))


class AbstractAzureStorageDatastore(AbstractDatastore):
    """A blob container or file share, kept as a folder; the SDK's upload/download rules."""

    def __init__(
        self,
        workspace: Workspace,
        name: str,
        datastore_type: str,
        container_name: str,
        account_name: str,
        sas_token: str | None = None,
        account_key: str | None = None,
        protocol: str | None = None,
        endpoint: str | None = None,
    ) -> None:
        super().__init__(workspace, name, datastore_type)
        self.container_name = container_name
        self.account_name = account_name
        self.sas_token = sas_token
        self.account_key = account_key
        self.protocol = protocol
        self.endpoint = endpoint
        self.credential_type = "Sas" if sas_token else "AccountKey" if account_key else "None"

    def __repr__(self) -> str:
        import json

        return json.dumps(
            {
                "name": self.name,
                "container_name": self.container_name,
                "account_name": self.account_name,
                "protocol": self.protocol,
                "endpoint": self.endpoint,
            },
            indent=2,
        )

    @property
    def is_sas(self) -> bool:
        """Deprecated in the SDK (use `credential_type`): whether a SAS token is the credential."""
        return bool(self.sas_token)

    # ------------------------------------------------------------------ data references

    def path(self, path: str | None = None, data_reference_name: str | None = None) -> Any:
        """The SDK's `DataReference` to `path` in this datastore (mount mode)."""
        from azureml.data.data_reference import DataReference

        return DataReference(datastore=self).path(path, data_reference_name)

    def as_mount(self) -> Any:
        return self.path().as_mount()

    def as_download(self, path_on_compute: str | None = None) -> Any:
        return self.path().as_download(path_on_compute)

    def as_upload(self, path_on_compute: str | None = None) -> Any:
        return self.path().as_upload(path_on_compute)

    # ------------------------------------------------------------------ files

    def upload(
        self,
        src_dir: str,
        target_path: str | None = None,
        overwrite: bool = False,
        show_progress: bool = True,
    ) -> Any:
        """Upload every file under `src_dir` to `target_path/<its path under src_dir>`; an
        existing file is skipped unless `overwrite`. Returns the `DataReference` of
        `target_path`, as the SDK does."""
        self._ensure_credential("Upload")
        src_dir = src_dir.rstrip("/\\")
        if not os.path.isdir(src_dir):
            raise _sdk.user_error("src_path must be a directory.")
        files = [os.path.join(d, f) for d, _, names in os.walk(src_dir) for f in names]
        pairs = _targets(files, target_path or "", src_dir)
        self._upload(pairs, overwrite, show_progress)
        return self._reference(target_path or "")

    def upload_files(
        self,
        files: list[str],
        relative_root: str | None = None,
        target_path: str | None = None,
        overwrite: bool = False,
        show_progress: bool = True,
    ) -> Any:
        """Upload `files` to `target_path/<path relative to relative_root>` (default root: the
        files' common path); a file outside the root is the SDK's UserErrorException."""
        root = relative_root or _common_path(files)
        for file in files:
            if root not in file and root != "/":
                raise _sdk.user_error(
                    f"relative_root: '{root}' is not part of the file_path: '{file}'."
                )
            if not os.path.isfile(file):
                raise _sdk.user_error(
                    f"'{file}' does not point to a file. Please upload the file to cloud first if "
                    "running in a cloud notebook."
                )
        pairs = _targets(files, target_path or "", root)
        self._upload(pairs, overwrite, show_progress)
        return self._reference(target_path or "")

    def download(
        self,
        target_path: str,
        prefix: str | None = None,
        overwrite: bool = False,
        show_progress: bool = True,
    ) -> int:
        """Copy the files whose path starts with `prefix` (all when None) to
        `target_path/<path>`; existing files are kept unless `overwrite`. Returns the count."""
        store = self._workspace._store
        try:
            files = store.datastore_files(self._name)
        except DataPathError as exc:
            raise _sdk.user_error(str(exc)) from None
        os.makedirs(target_path, exist_ok=True)
        count = 0
        for name, source in files:
            if prefix and not name.startswith(prefix):
                continue
            target = os.path.join(target_path, os.path.normpath(name))
            if not overwrite and os.path.exists(target):
                continue
            os.makedirs(os.path.dirname(target), exist_ok=True)
            _copy(source, target)
            count += 1
            _progress(show_progress, f"Downloaded {name}, {count} files out of an estimated total")
        return count

    def _upload(self, pairs: list[tuple[str, str]], overwrite: bool, show_progress: bool) -> int:
        """Every target is checked against the store's path rule before the first file is
        written, so a refused upload writes nothing (under `mock_azureml()` the same check runs
        where the SDK computes its targets)."""
        store = self._workspace._store
        try:
            for _, target in pairs:
                store.datastore_file(self._name, target)
        except DataPathError as exc:
            raise _sdk.user_error(str(exc)) from None
        _progress(show_progress, f"Uploading an estimated of {len(pairs)} files")
        count = 0
        for source, target in pairs:
            if store.datastore_write(self._name, target, source, overwrite=overwrite):
                count += 1
                _progress(
                    show_progress,
                    f"Uploaded {source}, {count} files out of an estimated total of {len(pairs)}",
                )
            else:
                _progress(show_progress, f"Target already exists. Skipping upload for {target}")
        _progress(show_progress, f"Uploaded {count} files")
        return count

    def _reference(self, target_path: str) -> Any:
        from azureml.data.data_reference import DataReference

        return DataReference(datastore=self, path_on_datastore=target_path)

    def _ensure_credential(self, action: str) -> None:
        if self.credential_type == "None":
            raise _sdk.user_error(
                f"{action} cannot be performed since the Azure Storage Blob datastore does not "
                "have an access key (account key) or SAS token. Please make sure the datastore "
                "has an access key or SAS token."
            )


class AzureBlobDatastore(AbstractAzureStorageDatastore):
    """A blob container (locally: the folder `datastores/<name>/`)."""

    def __init__(
        self,
        workspace: Workspace,
        name: str,
        container_name: str,
        account_name: str,
        sas_token: str | None = None,
        account_key: str | None = None,
        protocol: str | None = None,
        endpoint: str | None = None,
        request_session: Any = None,
        workspace_msi_has_access: bool = False,
        subscription_id: str | None = None,
        resource_group: str | None = None,
        service_data_access_auth_identity: Any = None,
    ) -> None:
        super().__init__(
            workspace, name, BLOB_TYPE, container_name, account_name, sas_token, account_key,
            protocol, endpoint,
        )  # fmt: skip
        self.subscription_id = subscription_id
        self.resource_group = resource_group


class AzureFileDatastore(AbstractAzureStorageDatastore):
    """A file share (locally: the folder `datastores/<name>/`)."""

    def __init__(
        self,
        workspace: Workspace,
        name: str,
        container_name: str,
        account_name: str,
        sas_token: str | None = None,
        account_key: str | None = None,
        protocol: str | None = None,
        endpoint: str = "core.windows.net",
        request_session: Any = None,
    ) -> None:
        super().__init__(
            workspace, name, FILE_TYPE, container_name, account_name, sas_token, account_key,
            protocol, endpoint,
        )  # fmt: skip

    def _ensure_credential(self, action: str) -> None:
        """The SDK checks credentials only for blob uploads; a file share tries and fails at
        the service, which the local folder never does."""


def set_default_datastore(workspace: Workspace, name: str) -> None:
    """Make `name` the workspace's default datastore, with the SDK's error."""
    try:
        workspace._store.set_default_datastore(name)
    except DatastoreConflict as exc:
        raise _sdk.user_error(f"(UserError) {exc}") from None


def unregister_datastore(workspace: Workspace, name: str) -> None:
    """Unregister `name` (its folder stays), with the SDK's errors."""
    try:
        found = workspace._store.delete_datastore(name)
    except DatastoreConflict as exc:
        raise _sdk.user_error(f"(UserError) {exc}") from None
    if not found:
        raise _sdk.user_error(f"(UserError) Datastore {name} was not found")


def _targets(files: list[str], target_path: str, root: str) -> list[tuple[str, str]]:
    """(local file, path in the datastore) as the SDK names them: relative to `root`, under
    `target_path` with its leading run of `/`, `./` and `../` removed (the SDK's
    `_sanitize_target_path`); the store's rule then refuses a `..` left inside."""
    prefix = _LEADING_DOTS_AND_SLASHES.sub("", target_path)
    pairs = []
    for file in files:
        relative = os.path.relpath(file, root or ".") if root != "/" else file.lstrip("/")
        name = relative.replace(os.sep, "/")
        pairs.append((file, f"{prefix.rstrip('/')}/{name}" if prefix else name))
    return pairs


def _common_path(files: list[str]) -> str:
    """The SDK's `common_path`: a single file's folder ("" for a bare name), else the folder
    segments all files share ("/" for absolute paths that share only the root)."""
    if not files:
        return ""
    if len(files) == 1:
        return os.path.split(files[0])[0]
    common = files[0].replace("\\", "/").split("/")
    for file in files[1:]:
        parts = file.replace("\\", "/").split("/")
        pairs = enumerate(zip(common, parts, strict=False))
        length = next((i for i, (a, b) in pairs if a != b), None)
        common = common[: min(len(common), len(parts)) if length is None else length]
        if not common:
            return ""
    return "/".join(common) or "/"


def _copy(source: Any, target: str) -> None:
    import shutil

    shutil.copyfile(source, target)


def _progress(show: bool, message: str) -> None:
    if show:
        sys.stdout.write(message + "\n")
