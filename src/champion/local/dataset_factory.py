"""`Dataset.Tabular` and `Dataset.File` of the local workspace, as azureml's `dataset_factory`
module has them: datasets over datastore paths.

A path is what the SDK accepts: a `(datastore, "path")` tuple, a `DataPath`, a `DataReference`, or
a list of them; a path may name a file, a folder or a glob (`"data/**/*.csv"`). A local path is
refused with the SDK's own message, because Azure refuses it too: put the file in a datastore
(`datastore.upload_files`) or use `Dataset.File.upload_directory`.
"""

from __future__ import annotations

import fnmatch
import os
import re
from typing import TYPE_CHECKING, Any

from champion.local import _sdk
from champion.local.abstract_dataset import AbstractDataset, describe_path
from champion.local.azure_storage_datastore import AbstractDatastore
from champion.local.datastore import Datastore
from champion.local.file_dataset import FileDataset
from champion.local.store import FILE, TABULAR, DataPathError
from champion.local.tabular_dataset import TabularDataset

_URL = re.compile(r"^(https?|adl|wasbs?|abfss?)://", re.IGNORECASE)
_BLOB_WITH_SAS = re.compile(r"^https?:\/\/\w*\.blob\.[\w\.\/]*\?.*", re.IGNORECASE)
_INVALID_PATH = (
    "Invalid argument type for `path`. It can be single value or a list of: string starting with "
    '"http://" or "https://", `azureml.data.datapath.DataPath` object, or tuple of '
    "`azureml.core.Datastore` object and string for relative path in the datastore.Url of blob "
    "can't contains SAS token, please use datastore instead."
)


if TYPE_CHECKING:
    from champion.local.workspace import Workspace


class TabularDatasetFactory:
    """`Dataset.Tabular`."""

    @staticmethod
    def from_delimited_files(
        path: Any,
        validate: bool = True,
        include_path: bool = False,
        infer_column_types: bool = True,
        set_column_types: Any = None,
        separator: str = ",",
        header: Any = True,
        partition_format: str | None = None,
        support_multi_line: bool = False,
        empty_as_string: bool = False,
        encoding: str = "utf8",
    ) -> TabularDataset:
        """A tabular dataset over delimited files; `validate` reads the first one now, as the
        SDK does, so a wrong path fails here and not in a later step."""
        if header in (True, "ALL_FILES_HAVE_SAME_HEADERS", "ONLY_FIRST_FILE_HAS_HEADERS"):
            header = True
        elif header in (False, "NO_HEADERS"):
            header = False
        elif isinstance(header, str) and header != "COMBINE_ALL_FILES_HEADERS":
            raise _sdk.user_error(
                "Unsupported header provided. The allowed values are NO_HEADERSONLY_FIRST_FILE_"
                "HAS_HEADERSCOMBINE_ALL_FILES_HEADERSALL_FILES_HAVE_SAME_HEADERS"
            )
        paths, workspace = _normalize_paths(path)
        definition = {
            "type": TABULAR,
            "paths": paths,
            "read": {
                "separator": separator,
                "header": bool(header),
                "encoding": encoding,
                "include_path": include_path,
                "infer_column_types": infer_column_types,
                "empty_as_string": empty_as_string,
            },
        }
        dataset: TabularDataset = TabularDataset._create(definition, workspace)
        if validate or infer_column_types:
            _validate_has_data(
                dataset,
                "Failed to validate the data.If data is inaccessible, please set validate to False."
                if validate
                else "Failed to infer column type.If data is inaccessible, please turn off "
                "inference.",
            )
        return dataset


class FileDatasetFactory:
    """`Dataset.File`."""

    @staticmethod
    def from_files(
        path: Any, validate: bool = True, partition_format: str | None = None, is_file: bool = False
    ) -> FileDataset:
        paths, workspace = _normalize_paths(path)
        dataset: FileDataset = FileDataset._create({"type": FILE, "paths": paths}, workspace)
        if validate:
            _validate_has_data(
                dataset,
                "Failed to validate the data.If data is inaccessible, please set validate to "
                "False.",
            )
        return dataset

    @staticmethod
    def upload_directory(
        src_dir: str,
        target: Any,
        pattern: str | None = None,
        overwrite: bool = False,
        show_progress: bool = True,
    ) -> FileDataset:
        """Upload a local folder to `target` (a `(datastore, path)` tuple or DataPath) and
        return the file dataset over what was uploaded."""
        ((entry,), workspace) = _normalize_paths(target)
        if workspace is None or "datastore" not in entry:
            raise _sdk.user_error("target must be a (datastore, path) tuple or a DataPath")
        if not os.path.isdir(src_dir):
            raise _sdk.user_error(f"src_dir {src_dir!r} is not a directory")
        datastore = Datastore.get(workspace, entry["datastore"])
        try:  # the SDK copies to the path as given: its leading `../` is not dropped here
            workspace._store.datastore_pattern(entry["datastore"], entry["path"])
        except DataPathError as exc:
            raise _sdk.user_error(str(exc)) from None
        files = sorted(
            os.path.join(d, f)
            for d, _, names in os.walk(src_dir)
            for f in names
            if pattern is None or _fnmatch(f, pattern)
        )
        if files:
            datastore.upload_files(
                files, relative_root=src_dir, target_path=entry["path"],
                overwrite=overwrite, show_progress=show_progress,
            )  # fmt: skip
        return FileDatasetFactory.from_files((datastore, entry["path"]), validate=False)


def _normalize_paths(path: Any) -> tuple[list[dict[str, str]], Workspace | None]:
    """The SDK's `_validate_and_normalize_path`, to face-neutral path entries; the workspace
    is the one the datastores belong to."""
    if path is None:
        raise _sdk.user_error(_INVALID_PATH)
    items = path if isinstance(path, list) else [path]
    if not items:
        raise _sdk.user_error(_INVALID_PATH)
    if all(isinstance(p, str) for p in items):
        if any(not _URL.match(p) or _BLOB_WITH_SAS.match(p) for p in items):
            raise _sdk.user_error(_INVALID_PATH)
        return [{"url": p} for p in items], None
    entries: list[dict[str, str]] = []
    workspace: Workspace | None = None
    for item in items:
        datastore, relative = _datastore_and_path(item)
        if not isinstance(datastore, AbstractDatastore):
            raise _sdk.user_error(_INVALID_PATH)
        workspace = workspace or datastore.workspace
        entries.append({"datastore": datastore.name, "path": relative or ""})
    return entries, workspace


def _datastore_and_path(item: Any) -> tuple[Any, str | None]:
    if isinstance(item, tuple):
        if len(item) == 2 and isinstance(item[0], AbstractDatastore) and isinstance(item[1], str):
            return item[0], item[1]
        raise _sdk.user_error(
            "Invalid tuple for path. Please make sure the tuple consists of a datastore and a "
            "path/SQL query"
        )
    kind = type(item).__name__
    if kind == "DataPath":  # the SDK's own class, over a local datastore
        return item._datastore, item.path_on_datastore
    if kind == "DataReference":
        return item.datastore, item.path_on_datastore
    raise _sdk.user_error(_INVALID_PATH)


def _validate_has_data(dataset: AbstractDataset, message: str) -> None:
    from azureml.data.dataset_error_handling import DatasetValidationError

    try:
        files = dataset._files()
    except Exception as exc:  # the SDK wraps whatever stopped the read
        raise DatasetValidationError(f"{message}\n{exc}") from None
    if not files:
        missing = ", ".join(describe_path(p) for p in dataset._definition.get("paths", []))
        raise DatasetValidationError(
            f"{message}\nExecutionError: Cannot find the file or folder {missing} (no file "
            "matches it in the datastore)"
        )


def _fnmatch(name: str, pattern: str) -> bool:
    return fnmatch.fnmatch(name, pattern)
