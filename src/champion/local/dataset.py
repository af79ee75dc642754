"""`Dataset` of the local workspace: tabular and file datasets over datastore paths.

Same names, signatures, rules and messages as azureml-core 1.61's `Dataset.Tabular`,
`Dataset.File`, `TabularDataset` and `FileDataset`, so a step that builds, registers and reads a
dataset runs unchanged. A path is what the SDK accepts: a `(datastore, "path")` tuple, a
`DataPath`, a `DataReference`, or a list of them; a path may name a file, a folder or a glob
(`"data/**/*.csv"`). A local path is refused with the SDK's own message, because Azure refuses it
too: put the file in a datastore (`datastore.upload_files`) or use `Dataset.File.upload_directory`.

The data is read with pandas (the SDK uses azureml-dataprep): same columns and values for
delimited files; `to_pandas_dataframe` infers column types as pandas does. Each saved or
registered version carries a content digest (`dataset._properties["champion.content_sha256"]`,
see `champion.local.store.datasets`).
"""

from __future__ import annotations

import builtins
import os
import re
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from champion.local import _sdk
from champion.local.store import (
    FILE,
    TABULAR,
    DataPathError,
    DatasetConflict,
    DatasetRecord,
    SavedDatasetRecord,
)

if TYPE_CHECKING:
    from champion.local.workspace import Workspace

_URL = re.compile(r"^(https?|adl|wasbs?|abfss?)://", re.IGNORECASE)
_BLOB_WITH_SAS = re.compile(r"^https?:\/\/\w*\.blob\.[\w\.\/]*\?.*", re.IGNORECASE)
_INVALID_PATH = (
    "Invalid argument type for `path`. It can be single value or a list of: string starting with "
    '"http://" or "https://", `azureml.data.datapath.DataPath` object, or tuple of '
    "`azureml.core.Datastore` object and string for relative path in the datastore.Url of blob "
    "can't contains SAS token, please use datastore instead."
)
_MODES = ("direct", "download", "mount")


class _Registration:
    """Who a dataset is in a workspace: its saved id, and its name and version once registered."""

    def __init__(
        self,
        workspace: Workspace,
        saved_id: str | None,
        registered_id: str | None = None,
        name: str | None = None,
        version: int | None = None,
        description: str | None = None,
        tags: dict[str, str | None] | None = None,
    ) -> None:
        self.workspace = workspace
        self.saved_id = saved_id
        self.registered_id = registered_id
        self.name = name
        self.version = version
        self.description = description
        self.tags = tags


class AbstractDataset:
    """What tabular and file datasets share: identity, registration, tags, lookups."""

    Tabular: type[TabularDatasetFactory]
    File: type[FileDatasetFactory]

    def __init__(self) -> None:
        if type(self) is AbstractDataset:
            raise _sdk.user_error("Cannot create instance of abstract class AbstractDataset")
        self._definition: dict[str, Any] = {}
        self._properties: dict[str, Any] = {}
        self._registration: _Registration | None = None
        self._workspace: Workspace | None = None

    @classmethod
    def _create(
        cls,
        definition: Mapping[str, Any],
        workspace: Workspace | None,
        *,
        properties: Mapping[str, Any] | None = None,
        registration: _Registration | None = None,
    ) -> Any:
        dataset = cls()
        dataset._definition = dict(definition)
        dataset._properties = dict(properties or {})
        dataset._registration = registration
        dataset._workspace = workspace
        return dataset

    # ------------------------------------------------------------------ identity

    @property
    def id(self) -> str | None:
        """The saved dataset id; saving an unsaved dataset of a known workspace first."""
        if self._registration is None:
            return None
        if self._registration.saved_id is None:
            self._ensure_saved(self._registration.workspace)
        return self._registration.saved_id

    @property
    def name(self) -> str | None:
        return None if self._registration is None else self._registration.name

    @property
    def version(self) -> int | None:
        return None if self._registration is None else self._registration.version

    @property
    def description(self) -> str | None:
        return None if self._registration is None else self._registration.description

    @property
    def tags(self) -> dict[str, str | None] | None:
        return None if self._registration is None else self._registration.tags

    def __repr__(self) -> str:
        import json

        return json.dumps(
            {
                "source": [_describe(p) for p in self._definition.get("paths", [])],
                "registration": None
                if self._registration is None
                else {
                    "id": self._registration.saved_id,
                    "name": self.name,
                    "version": self.version,
                    "workspace": repr(self._registration.workspace),
                },
            },
            indent=2,
        )

    def __str__(self) -> str:
        return f"{type(self).__name__}\n{self!r}"

    # ------------------------------------------------------------------ lookups

    @staticmethod
    def get_by_name(workspace: Workspace, name: str, version: Any = "latest", **kwargs: Any) -> Any:
        """A registered version (the latest by default), with the SDK's messages."""
        number: int | None = None
        if version != "latest" and version is not None:
            try:
                number = int(version)
            except (TypeError, ValueError):
                raise _sdk.user_error(
                    f"Invalid value {version} for version. Version value must be number or "
                    '"latest".'
                ) from None
        record = workspace._store.get_dataset(name, number)
        if record is None:
            # the SDK's handler reads its `version` after turning "latest" into None
            raise _sdk.user_error(
                f'Cannot find dataset registered with name "{name}" (version: {number}) in the '
                "workspace."
            )
        return _from_record(workspace, record)

    @staticmethod
    def get_by_id(workspace: Workspace, id: str, **kwargs: Any) -> Any:
        """A saved dataset by id: with its name and version when it is registered."""
        store = workspace._store
        registered = store.datasets_for_saved_id(id)
        if registered:
            return _from_record(workspace, registered[0])
        saved = store.get_saved_dataset(id)
        if saved is None:
            raise _sdk.user_error(f'Cannot find dataset with id "{id}" in the workspace.')
        return _from_saved(workspace, saved)

    @staticmethod
    def get_all(workspace: Workspace) -> dict[str, Any]:
        """The latest version of every registered dataset, by name (`ws.datasets`)."""
        return {r.name: _from_record(workspace, r) for r in workspace._store.list_datasets()}

    # ------------------------------------------------------------------ registration

    def register(
        self,
        workspace: Workspace,
        name: str,
        description: str | None = None,
        tags: Mapping[str, Any] | None = None,
        create_new_version: bool = False,
    ) -> Any:
        """Register under `name`: version 1, or with `create_new_version` the next version
        (the same definition over unchanged files returns the latest version as it is)."""
        saved_id = None
        if not create_new_version and self._registration is not None:
            saved_id = self._registration.saved_id
        if saved_id is None or workspace._store.get_saved_dataset(saved_id) is None:
            saved_id = self._save(workspace).id
        try:
            record = workspace._store.register_dataset(
                name,
                saved_id=saved_id,
                description=description,
                tags=_sdk.wire_str(tags),
                create_new_version=create_new_version,
            )
        except DatasetConflict:
            raise _sdk.user_error(
                f'There is already a dataset registered under name "{name}". Specify '
                "`create_new_version=True` to register the dataset as a new version. Use "
                "`update`, `add_tags`, or `remove_tags` to change only the description or tags."
            ) from None
        return _from_record(workspace, record)

    def _ensure_saved(self, workspace: Workspace) -> str:
        if self._registration is None or self._registration.saved_id is None:
            saved = self._save(workspace)
            if self._registration is None:
                self._registration = _Registration(workspace, saved.id)
            else:
                self._registration.saved_id = saved.id
            self._properties = dict(saved.properties)
        return str(self._registration.saved_id)

    def _save(self, workspace: Workspace) -> SavedDatasetRecord:
        try:
            return workspace._store.save_dataset(
                self._definition["type"], self._definition, properties=self._properties
            )
        except DataPathError as exc:
            raise _sdk.user_error(str(exc)) from None

    def update(self, description: str | None = None, tags: Mapping[str, Any] | None = None) -> Any:
        """Replace the description and/or tags (None keeps them). As in the SDK, an
        unregistered dataset gets an exception *returned*, not raised."""
        registration = self._registration
        if registration is None or registration.registered_id is None:
            return _sdk.user_error("To update this dataset it must be registered.")
        new_description = registration.description if description is None else description
        new_tags = registration.tags if tags is None else _sdk.wire_str(tags)
        return self._apply(new_description, new_tags)

    def add_tags(self, tags: Mapping[str, Any] | None = None) -> Any:
        registration = self._registration
        if registration is None or registration.registered_id is None:
            return _sdk.user_error("To add tags to this dataset it must be registered.")
        current = dict(registration.tags or {})
        clash = [k for k in set(tags or {}) & set(current) if current[k] != (tags or {})[k]]
        if clash:
            raise _sdk.user_error(
                f"Dataset already contains different values for tags with the following keys "
                f"{clash}"
            )
        return self._apply(self.description, {**current, **_sdk.wire_str(tags)})

    def remove_tags(self, tags: Sequence[str] | None = None) -> Any:
        registration = self._registration
        if registration is None or registration.registered_id is None:
            return _sdk.user_error("To remove tags from this dataset it must be registered.")
        kept = {k: v for k, v in (registration.tags or {}).items() if k not in set(tags or ())}
        return self._apply(self.description, kept)

    def _apply(self, description: str | None, tags: Mapping[str, str | None] | None) -> Any:
        registration = self._registration
        assert registration is not None and registration.name is not None
        record = registration.workspace._store.update_dataset(
            registration.name, description=description, tags=tags
        )
        registration.description, registration.tags = record.description, dict(record.tags)
        return _from_record(registration.workspace, record)

    def unregister_all_versions(self) -> None:
        registration = self._registration
        if registration is None or registration.registered_id is None:
            return
        assert registration.name is not None
        registration.workspace._store.unregister_dataset(registration.name)
        self._registration = None

    def as_named_input(self, name: str) -> DatasetConsumptionConfig:
        """How a run receives this dataset: `run.input_datasets[name]` (direct mode)."""
        return DatasetConsumptionConfig(name, self)

    # ------------------------------------------------------------------ files

    def _files(self) -> list[tuple[str, Path]]:
        workspace = self._workspace
        if workspace is None and self._registration is not None:
            workspace = self._registration.workspace
        if workspace is None:
            raise _sdk.user_error("Dataset definition is missing. Please check how it was created.")
        try:
            return workspace._store.dataset_files(self._definition)
        except DataPathError as exc:
            raise _sdk.user_error(str(exc)) from None


class TabularDataset(AbstractDataset):
    """Delimited files read as one table."""

    def to_pandas_dataframe(
        self, on_error: str = "null", out_of_range_datetime: str = "null"
    ) -> Any:
        """Every file's rows, in file-name order, as one pandas DataFrame."""
        import pandas as pd

        read = dict(self._definition.get("read", {}))
        frames = []
        for name, path in self._files():
            header = read.get("header", True)
            frame = pd.read_csv(
                path,
                sep=read.get("separator", ","),
                header=0 if header else None,
                encoding=_encoding(read.get("encoding", "utf8")),
                dtype=None if read.get("infer_column_types", True) else str,
                keep_default_na=not read.get("empty_as_string", False),
            )
            if not header:
                frame.columns = [f"Column{i + 1}" for i in range(len(frame.columns))]
            if read.get("include_path"):
                frame.insert(0, "Path", "/" + name)
            frames.append(frame)
        if not frames:
            return pd.DataFrame()
        return pd.concat(frames, ignore_index=True)


class FileDataset(AbstractDataset):
    """Files in datastores, delivered as paths."""

    def to_path(self) -> builtins.list[str]:
        """Each file's path as `download()` lays it out, with a leading `/`: relative to the
        folder the dataset's path names (its folder for one file, the part before the first
        wildcard for a glob), as dataprep computes it."""
        return ["/" + relative for relative, _ in self._portable_files()]

    def _portable_files(self) -> builtins.list[tuple[str, Path]]:
        files = self._files()
        base = _portable_base(self._definition, [name for name, _ in files])
        return [(n[len(base) + 1 :] if base else n, path) for n, path in files]

    def download(
        self,
        target_path: str | None = None,
        overwrite: bool = False,
        ignore_not_found: bool = False,
    ) -> builtins.list[str]:
        """Copy the files under `target_path` (a fresh temporary folder when None) keeping
        their layout below their common folder; an existing file is an error unless
        `overwrite`. Returns the written paths."""
        files = self._portable_files()
        if not files and not ignore_not_found:
            raise _sdk.user_error("Failed to download: the dataset's paths match no file.")
        target = os.path.abspath(target_path or tempfile.mkdtemp(prefix="champion-dataset-"))
        plan = [(os.path.join(target, *relative.split("/")), src) for relative, src in files]
        if not overwrite:
            for destination, _ in plan:
                if os.path.exists(destination):
                    raise _sdk.user_error(
                        f'File "{destination}" already exists. Set overwrite=True to overwrite '
                        "it,                             or choose an empty target path."
                    )
        for destination, source in plan:
            os.makedirs(os.path.dirname(destination), exist_ok=True)
            shutil.copyfile(source, destination)
        return [destination for destination, _ in plan]

    def mount(self, mount_point: str | None = None, **kwargs: Any) -> _MountContext:
        """A context whose `mount_point` holds the files while it is open. Locally a copy
        stands in for the FUSE mount the SDK makes (which needs FUSE and Azure)."""
        return _MountContext(self, mount_point)

    def as_mount(self, path_on_compute: str | None = None) -> DatasetConsumptionConfig:
        return DatasetConsumptionConfig(_input_name(self), self, "mount", path_on_compute)

    def as_download(self, path_on_compute: str | None = None) -> DatasetConsumptionConfig:
        return DatasetConsumptionConfig(_input_name(self), self, "download", path_on_compute)


class _MountContext:
    def __init__(self, dataset: FileDataset, mount_point: str | None) -> None:
        self._dataset = dataset
        self.mount_point = mount_point or tempfile.mkdtemp(prefix="champion-mount-")

    def start(self) -> None:
        self._dataset.download(self.mount_point, overwrite=True, ignore_not_found=True)

    def stop(self) -> None:
        shutil.rmtree(self.mount_point, ignore_errors=True)

    def __enter__(self) -> _MountContext:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


class DatasetConsumptionConfig:
    """How a run consumes a dataset: `direct` (the dataset object), `download` or `mount`
    (a folder path), under `name` in `run.input_datasets` and the environment."""

    def __init__(
        self, name: str, dataset: Any, mode: str = "direct", path_on_compute: str | None = None
    ) -> None:
        mode = mode.lower()
        if mode not in _MODES:
            raise _sdk.user_error(
                f"Invalid mode '{mode}'. Mode can only be mount, download or direct"
            )
        if mode != "direct" and isinstance(dataset, TabularDataset):
            raise _sdk.user_error(f"TabularDataset does not support {mode}. Only FileDataset does.")
        if not re.fullmatch(r"[A-Za-z_]\w*", name or ""):
            raise _sdk.user_error(
                f"Invalid name {name!r}. Dataset input name can only contain alphanumeric and "
                "underscore characters and must not start with a number."
            )
        self.name = name
        self.dataset = dataset
        self.mode = mode
        self.path_on_compute = path_on_compute

    def as_download(self, path_on_compute: str | None = None) -> DatasetConsumptionConfig:
        return DatasetConsumptionConfig(self.name, self.dataset, "download", path_on_compute)

    def as_mount(self, path_on_compute: str | None = None) -> DatasetConsumptionConfig:
        return DatasetConsumptionConfig(self.name, self.dataset, "mount", path_on_compute)


# ---------------------------------------------------------------------- factories


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
        from champion.local.datastore import Datastore

        datastore = Datastore.get(workspace, entry["datastore"])
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


AbstractDataset.Tabular = TabularDatasetFactory
AbstractDataset.File = FileDatasetFactory


class Dataset:
    """`azureml.core.Dataset` as code uses it today: the factories and the lookups
    (`Dataset.Tabular`, `Dataset.File`, `get_by_name`, `get_by_id`, `get_all`). The SDK's
    deprecated members of this class (its constructor, `get`, `from_delimited_files`, ...) are
    not here."""

    Tabular = TabularDatasetFactory
    File = FileDatasetFactory
    get_by_name = AbstractDataset.get_by_name
    get_by_id = AbstractDataset.get_by_id
    get_all = AbstractDataset.get_all


# ---------------------------------------------------------------------- helpers


def _normalize_paths(path: Any) -> tuple[list[dict[str, str]], Workspace | None]:
    """The SDK's `_validate_and_normalize_path`, to face-neutral path entries; the workspace
    is the one the datastores belong to."""
    from champion.local.datastore import AbstractDatastore

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
        from champion.local.datastore import AbstractDatastore

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
        missing = ", ".join(_describe(p) for p in dataset._definition.get("paths", []))
        raise DatasetValidationError(
            f"{message}\nExecutionError: Cannot find the file or folder {missing} (no file "
            "matches it in the datastore)"
        )


def _from_saved(workspace: Workspace, saved: SavedDatasetRecord) -> Any:
    cls = TabularDataset if saved.dataset_type == TABULAR else FileDataset
    return cls._create(
        saved.definition,
        workspace,
        properties=saved.properties,
        registration=_Registration(workspace, saved.id),
    )


def _from_record(workspace: Workspace, record: DatasetRecord) -> Any:
    dataset = _from_saved(workspace, record.saved)
    dataset._registration = _Registration(
        workspace,
        record.saved_id,
        record.registered_id,
        record.name,
        record.version,
        record.description,
        dict(record.tags),
    )
    return dataset


def _describe(entry: Mapping[str, Any]) -> str:
    if "datastore" in entry:
        return f"{entry['datastore']}/{entry.get('path', '')}"
    return str(entry.get("url"))


def _portable_base(definition: Mapping[str, Any], names: Sequence[str]) -> str:
    """The folder a file dataset's paths are relative to (dataprep's `_find_path_prefix`):
    for one path, the part before the first wildcard of a glob, the folder of a single file, or
    the folder itself; for several paths (which dataprep does not reduce) the longest folder
    every file is under."""
    paths = [p for p in definition.get("paths", []) if "datastore" in p]
    if len(paths) == 1:
        pattern = str(paths[0].get("path", "")).strip("/")
        while pattern.startswith("./"):
            pattern = pattern[2:]
        if "*" in pattern:
            return "/".join(pattern.split("*")[0].split("/")[:-1])
        if names == [pattern]:
            return pattern.rpartition("/")[0]
        return pattern
    folders = [n.split("/")[:-1] for n in names]
    common: list[str] = []
    for parts in zip(*folders, strict=False):
        if len(set(parts)) != 1:
            break
        common.append(parts[0])
    return "/".join(common)


def _input_name(dataset: AbstractDataset) -> str:
    return re.sub(r"\W", "_", dataset.name or "input") or "input"


def _encoding(name: str) -> str:
    return {"utf8": "utf-8", "utf8bom": "utf-8-sig", "iso88591": "iso-8859-1"}.get(name, name)


def _fnmatch(name: str, pattern: str) -> bool:
    import fnmatch

    return fnmatch.fnmatch(name, pattern)
