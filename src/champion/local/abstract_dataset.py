"""What tabular and file datasets share, as azureml's `abstract_dataset` module has it: identity,
lookups (`get_by_name`, `get_by_id`, `get_all`), registration and tags, and how a run consumes a
dataset (`as_named_input`).

Same names, signatures, rules and messages as azureml-core 1.61, so a step that builds,
registers and reads a dataset runs unchanged. Each saved or registered version carries a content
digest (`dataset._properties["champion.content_sha256"]`, see `champion.local.store.datasets`).
The kinds are `TabularDataset` (`tabular_dataset.py`) and `FileDataset` (`file_dataset.py`); the
factories that make them are `Dataset.Tabular` and `Dataset.File` (`dataset_factory.py`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

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

    #: `Dataset.Tabular` and `Dataset.File`, as the SDK has them here too (set by `dataset.py`).
    Tabular: ClassVar[type[Any]]
    File: ClassVar[type[Any]]

    #: The kind of definition a concrete class reads (`Tabular` or `File`), and the class of each
    #: kind: a dataset read back from the store is made as its kind's class.
    _kind: ClassVar[str | None] = None
    _classes: ClassVar[dict[str, type[AbstractDataset]]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        kind = vars(cls).get("_kind")
        if kind is not None:
            AbstractDataset._classes.setdefault(kind, cls)

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
                "source": [describe_path(p) for p in self._definition.get("paths", [])],
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
        if mode != "direct" and isinstance(dataset, AbstractDataset) and dataset._kind == TABULAR:
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


def _from_saved(workspace: Workspace, saved: SavedDatasetRecord) -> Any:
    cls = AbstractDataset._classes[TABULAR if saved.dataset_type == TABULAR else FILE]
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


def describe_path(entry: Mapping[str, Any]) -> str:
    if "datastore" in entry:
        return f"{entry['datastore']}/{entry.get('path', '')}"
    return str(entry.get("url"))
