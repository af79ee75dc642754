"""The data side of the local workspace's service: datastores, datasets and what links a model
to them. SQL and files only; `Store` mixes this in, so both faces still reach one service.

Why a module of its own: the model registry (`store.py`) and the data plane change for different
reasons, and the data plane has rules of its own, written once here:

- a datastore is a named folder inside the workspace, `datastores/<name>/`, standing in for a
  blob container or a file share; every workspace has `workspaceblobstore` (the default) and
  `workspacefilestore`, as every Azure ML workspace has. Files are written to a temp file and
  renamed into place, so a reader never sees half a file;
- a dataset definition is face-neutral JSON: its type (`Tabular` or `File`), its paths (each a
  datastore and a path inside it, which may name a file, a folder or a glob) and, for a tabular
  dataset, how to read it. Saving a definition gives it an id (the SDK's "saved dataset id");
  registering it gives it a name and a version, 1, 2, 3 per name, never reused;
- every saved and registered dataset stores a **content digest**: sha256 over the files its paths
  resolve to, in name order, each file contributing its path inside the datastore and the
  sha256 of its bytes (`content_digest`). Two datasets with the same digest hold the same files
  under the same names; the gate uses it to tell whether two metrics were measured on the same
  data. It is kept with the definition's properties (`champion.content_sha256`, which the SDK
  carries as the dataset's `_properties`) and read with `Store.dataset_digest(name, version)`.
  Datasets are references, as on Azure: a later read sees the files as they are then, and the
  digest records what they were when the version was registered;
- a model version may name a resource configuration, datasets by scenario and sample input and
  output datasets; they are stored with the version (`models` columns) and the dataset links are
  also indexed (`model_datasets`) for `Model.list(dataset_id=...)`.

The schema this adds is version 2; `migrate_1_to_2` upgrades a version 1 workspace in place.
"""

from __future__ import annotations

import contextlib
import fnmatch
import hashlib
import json
import os
import sqlite3
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from champion.local.store import Store

DATASTORES_DIR = "datastores"
DEFAULT_DATASTORE = "workspaceblobstore"
FILE_DATASTORE = "workspacefilestore"
BLOB_TYPE = "AzureBlob"
FILE_TYPE = "AzureFile"
TABULAR = "Tabular"
FILE = "File"
DIGEST_PROPERTY = "champion.content_sha256"
_CHUNK = 1024 * 1024
_GLOB = set("*?[")

#: Statements that turn a version 1 workspace into a version 2 one (also run on a fresh one).
SCHEMA_V2 = """
CREATE TABLE datastores (
    name TEXT PRIMARY KEY, type TEXT NOT NULL, container TEXT NOT NULL, account TEXT NOT NULL,
    protocol TEXT, endpoint TEXT, credential_type TEXT NOT NULL DEFAULT 'None',
    is_default INTEGER NOT NULL DEFAULT 0, created_utc TEXT NOT NULL
);
CREATE TABLE saved_datasets (
    id TEXT PRIMARY KEY, dataset_type TEXT NOT NULL, definition TEXT NOT NULL, dataflow TEXT,
    properties TEXT NOT NULL DEFAULT '{}', digest TEXT NOT NULL, created_utc TEXT NOT NULL
);
CREATE TABLE datasets (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    registered_id TEXT NOT NULL, name TEXT NOT NULL, version INTEGER NOT NULL,
    saved_id TEXT NOT NULL REFERENCES saved_datasets(id),
    description TEXT, tags TEXT NOT NULL DEFAULT '{}', digest TEXT NOT NULL,
    created_utc TEXT NOT NULL, unregistered INTEGER NOT NULL DEFAULT 0,
    UNIQUE (name, version)
);
CREATE INDEX datasets_saved ON datasets(saved_id);
CREATE TABLE model_datasets (
    model_seq INTEGER NOT NULL REFERENCES models(seq), scenario TEXT NOT NULL,
    dataset_id TEXT NOT NULL
);
CREATE INDEX model_datasets_id ON model_datasets(dataset_id, model_seq);
ALTER TABLE models ADD COLUMN resource_configuration TEXT;
ALTER TABLE models ADD COLUMN datasets TEXT NOT NULL DEFAULT '[]';
ALTER TABLE models ADD COLUMN sample_input_dataset TEXT;
ALTER TABLE models ADD COLUMN sample_output_dataset TEXT
"""


def migrate_1_to_2(c: sqlite3.Connection, workspace_id: str, now: str) -> None:
    """Upgrade a version 1 workspace in place, inside the caller's transaction: the data tables,
    the model columns, and the two datastores every workspace has."""
    for statement in SCHEMA_V2.split(";"):
        if statement.strip():
            c.execute(statement)
    suffix = workspace_id.replace("-", "")[:24]
    c.executemany(
        "INSERT INTO datastores(name, type, container, account, protocol, endpoint,"
        " credential_type, is_default, created_utc) VALUES (?,?,?,?,?,?,?,?,?)",
        [
            (DEFAULT_DATASTORE, BLOB_TYPE, f"azureml-blobstore-{suffix}", "championlocal",
             "https", "core.windows.net", "AccountKey", 1, now),
            (FILE_DATASTORE, FILE_TYPE, f"azureml-filestore-{suffix}", "championlocal",
             "https", "core.windows.net", "AccountKey", 0, now),
        ],
    )  # fmt: skip
    c.execute("UPDATE meta SET value='2' WHERE key='schema_version'")


# --------------------------------------------------------------------------- records


@dataclass(frozen=True)
class DatastoreRecord:
    """A datastore as the service stores it: what `register_azure_blob_container` was given
    (secrets are never stored), and whether it is the workspace's default."""

    name: str
    type: str
    container: str
    account: str
    protocol: str | None
    endpoint: str | None
    credential_type: str
    is_default: bool


@dataclass(frozen=True)
class SavedDatasetRecord:
    """A dataset definition the service has saved: the SDK's "saved dataset", by id."""

    id: str
    dataset_type: str
    definition: dict[str, Any]
    dataflow: str | None
    properties: dict[str, Any]
    digest: str
    created_utc: str


@dataclass(frozen=True)
class DatasetRecord:
    """One registered version of a named dataset, and the saved definition it points at."""

    registered_id: str
    name: str
    version: int
    saved: SavedDatasetRecord
    description: str | None
    tags: dict[str, str | None]
    digest: str
    created_utc: str

    @property
    def saved_id(self) -> str:
        return self.saved.id


class DatastoreConflict(Exception):
    """A datastore write the service refuses (a name taken, an unknown name)."""


class DatasetConflict(Exception):
    """A dataset registration the service refuses: the name exists and no new version was
    asked for."""

    def __init__(self, name: str) -> None:
        self.name = name
        super().__init__(f"There is already a dataset registered under name {name!r}")


class DataPathError(Exception):
    """A dataset path the local workspace cannot resolve to files (an unknown datastore, a URL,
    a path escaping its datastore)."""


# --------------------------------------------------------------------------- digest


def file_sha256(path: Path) -> str:
    hasher = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            hasher.update(chunk)
    return hasher.hexdigest()


def content_digest(files: Sequence[tuple[str, Path]]) -> str:
    """sha256 over `(name, file)` pairs in name order: each contributes its name, a NUL, the
    sha256 of its bytes and a newline, so renaming a file or changing a byte changes the digest,
    and where the workspace lives does not."""
    outer = hashlib.sha256()
    for name, path in sorted(files, key=lambda pair: pair[0]):
        outer.update(f"{name}\0{file_sha256(path)}\n".encode())
    return outer.hexdigest()


# --------------------------------------------------------------------------- the mixin


class DataStoreMixin:
    """Datastore, dataset and model-link operations of `Store` (see the module docstring)."""

    root: Path

    def _store(self) -> Store:
        return self  # type: ignore[return-value]

    # ------------------------------------------------------------------ datastores

    def list_datastores(self) -> list[DatastoreRecord]:
        rows = self._store()._query("SELECT * FROM datastores ORDER BY name")
        return [_datastore(r) for r in rows]

    def get_datastore(self, name: str) -> DatastoreRecord | None:
        rows = self._store()._query(
            "SELECT * FROM datastores WHERE name=?", (_datastore_key(name),)
        )
        return _datastore(rows[0]) if rows else None

    def default_datastore(self) -> DatastoreRecord:
        rows = self._store()._query("SELECT * FROM datastores WHERE is_default=1")
        return _datastore(rows[0])

    def register_datastore(
        self,
        name: str,
        *,
        type: str,
        container: str,
        account: str,
        protocol: str | None = None,
        endpoint: str | None = None,
        credential_type: str = "None",
        overwrite: bool = False,
    ) -> DatastoreRecord:
        """Record a blob container or file share; the service lowercases the name. An existing
        name is a conflict unless `overwrite`, which replaces its description (its folder and
        files stay)."""
        key = _datastore_key(name)
        _check_segment(key, "datastore name")
        store = self._store()
        with store.transaction() as c:
            exists = c.execute("SELECT 1 FROM datastores WHERE name=?", (key,)).fetchone()
            if exists and not overwrite:
                raise DatastoreConflict("Another datastore with the same name already exists")
            values = (type, container, account, protocol, endpoint, credential_type)
            if exists:
                c.execute(
                    "UPDATE datastores SET type=?, container=?, account=?, protocol=?,"
                    " endpoint=?, credential_type=? WHERE name=?",
                    (*values, key),
                )
            else:
                c.execute(
                    "INSERT INTO datastores(name, type, container, account, protocol, endpoint,"
                    " credential_type, is_default, created_utc) VALUES (?,?,?,?,?,?,?,0,?)",
                    (key, *values, _now()),
                )
        record = self.get_datastore(key)
        assert record is not None
        return record

    def set_default_datastore(self, name: str) -> None:
        key = _datastore_key(name)
        with self._store().transaction() as c:
            if c.execute("SELECT 1 FROM datastores WHERE name=?", (key,)).fetchone() is None:
                raise DatastoreConflict(f"Datastore {name} was not found")
            c.execute("UPDATE datastores SET is_default = (name = ?)", (key,))

    def delete_datastore(self, name: str) -> bool:
        """Unregister a datastore; the default cannot go, and its folder stays (on Azure the
        storage account outlives the datastore)."""
        with self._store().transaction() as c:
            row = c.execute(
                "SELECT is_default FROM datastores WHERE name=?", (_datastore_key(name),)
            ).fetchone()
            if row is None:
                return False
            if row[0]:
                raise DatastoreConflict("The default datastore cannot be deleted")
            c.execute("DELETE FROM datastores WHERE name=?", (_datastore_key(name),))
            return True

    def datastore_folder(self, name: str) -> Path:
        """The folder behind a datastore (not created here: it appears with its first file)."""
        key = _datastore_key(name)
        if self.get_datastore(key) is None:
            raise DataPathError(f"datastore {name!r} is not registered in this workspace")
        return self.root / DATASTORES_DIR / key

    def datastore_write(
        self, name: str, path: str, source: str | os.PathLike[str] | Any, *, overwrite: bool
    ) -> bool:
        """Write one file into a datastore from a path or a binary stream; False (nothing
        written) if it exists and not `overwrite`. Temp file, fsync, rename: never half a file."""
        target = self.datastore_file(name, path)
        if target.exists() and not overwrite:
            return False
        if target.is_dir():
            raise DataPathError(f"{path!r} is a folder in datastore {name!r}, not a file")
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}.part")
        try:
            with open(partial, "wb") as out:
                if isinstance(source, str | os.PathLike):
                    with open(source, "rb") as src:
                        while chunk := src.read(_CHUNK):
                            out.write(chunk)
                else:
                    while chunk := source.read(_CHUNK):
                        out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
            os.replace(partial, target)
        finally:
            with contextlib.suppress(FileNotFoundError):
                partial.unlink()
        return True

    def datastore_file(self, name: str, path: str) -> Path:
        """Where `path` of datastore `name` lives; refuses a path that would leave the folder."""
        folder = self.datastore_folder(name)
        parts = [p for p in path.replace("\\", "/").split("/") if p not in ("", ".")]
        if not parts or ".." in parts:
            raise DataPathError(f"{path!r} is not a file path inside datastore {name!r}")
        return folder.joinpath(*parts)

    def datastore_files(self, name: str, pattern: str = "") -> list[tuple[str, Path]]:
        """`(path inside the datastore, file)` for what `pattern` names, in name order: one file,
        every file under a folder (or the whole datastore for ""), or a glob where `**` spans
        folders. The rule a dataset path follows, and the one its digest is computed over."""
        folder = self.datastore_folder(name)
        text = pattern.replace("\\", "/").lstrip("/")
        while text.startswith("./"):
            text = text[2:]
        parts = [p for p in text.split("/") if p not in ("", ".")]
        if ".." in parts:
            raise DataPathError(f"{pattern!r} leaves datastore {name!r}")
        if not folder.is_dir():
            return []
        every = sorted(
            (p.relative_to(folder).as_posix(), p)
            for p in folder.rglob("*")
            if p.is_file() and not p.name.endswith(".part")
        )
        stem = "/".join(parts)
        if not any(ch in _GLOB for ch in stem):
            return [(n, p) for n, p in every if not stem or n == stem or n.startswith(stem + "/")]
        return [(n, p) for n, p in every if _glob_match(n, stem)]

    # ------------------------------------------------------------------ datasets

    def dataset_files(self, definition: Mapping[str, Any]) -> list[tuple[str, Path]]:
        """Every file a definition's paths resolve to (a file named twice counts once)."""
        found: dict[str, Path] = {}
        for entry in definition.get("paths", []):
            if "datastore" not in entry:
                raise DataPathError(
                    f"{entry.get('url', entry)!r} is not a datastore path; the local workspace "
                    "reads only its own datastores (no network)"
                )
            found.update(self.datastore_files(str(entry["datastore"]), str(entry.get("path", ""))))
        return sorted(found.items())

    def dataset_content_digest(self, definition: Mapping[str, Any]) -> str:
        return content_digest(self.dataset_files(definition))

    def save_dataset(
        self,
        dataset_type: str,
        definition: Mapping[str, Any],
        *,
        dataflow: str | None = None,
        properties: Mapping[str, Any] | None = None,
    ) -> SavedDatasetRecord:
        """Save a definition (the SDK's `ensure_saved`): a fresh id, the digest of its files
        now. `dataflow` keeps the SDK's own serialisation, for the SDK to read back."""
        if dataset_type not in (TABULAR, FILE):
            raise ValueError(f"dataset type must be {TABULAR!r} or {FILE!r}, not {dataset_type!r}")
        digest = self.dataset_content_digest(definition)
        record = SavedDatasetRecord(
            id=str(uuid.uuid4()),
            dataset_type=dataset_type,
            definition=dict(definition),
            dataflow=dataflow,
            properties={**dict(properties or {}), DIGEST_PROPERTY: digest},
            digest=digest,
            created_utc=_now(),
        )
        with self._store().transaction() as c:
            c.execute(
                "INSERT INTO saved_datasets(id, dataset_type, definition, dataflow, properties,"
                " digest, created_utc) VALUES (?,?,?,?,?,?,?)",
                (
                    record.id,
                    dataset_type,
                    json.dumps(record.definition),
                    dataflow,
                    json.dumps(record.properties),
                    digest,
                    record.created_utc,
                ),
            )
        return record

    def get_saved_dataset(self, saved_id: str) -> SavedDatasetRecord | None:
        rows = self._store()._query("SELECT * FROM saved_datasets WHERE id=?", (saved_id,))
        return _saved(rows[0]) if rows else None

    def register_dataset(
        self,
        name: str,
        *,
        saved_id: str,
        description: str | None = None,
        tags: Mapping[str, str | None] | None = None,
        create_new_version: bool = False,
    ) -> DatasetRecord:
        """Register a saved definition under `name`: version 1 for a new name; for an existing
        one a conflict unless `create_new_version`. A new version is made only when something
        changed: the same definition over the same files (same digest) returns the latest
        version as it is (svc: Azure keys this on the definition alone and lets an old version
        read new files; here changed files make a new version, so a digest never lies)."""
        store = self._store()
        with store.transaction() as c:
            saved_row = c.execute("SELECT * FROM saved_datasets WHERE id=?", (saved_id,))
            saved = _saved(saved_row.fetchone())
            latest = c.execute(
                "SELECT d.*, s.definition AS s_definition FROM datasets d JOIN saved_datasets s"
                " ON s.id = d.saved_id WHERE d.name=? AND d.unregistered=0"
                " ORDER BY d.version DESC LIMIT 1",
                (name,),
            ).fetchone()
            if latest is not None:
                if not create_new_version:
                    raise DatasetConflict(name)
                same = json.loads(latest["s_definition"]) == saved.definition
                if same and latest["digest"] == saved.digest:
                    found = self.get_dataset(name, int(latest["version"]))
                    assert found is not None
                    return found
            registered_id = (
                latest["registered_id"]
                if latest is not None
                else _registered_id(c, name) or str(uuid.uuid4())
            )
            version = c.execute(
                "SELECT coalesce(max(version), 0) + 1 FROM datasets WHERE name=?", (name,)
            ).fetchone()[0]
            c.execute(
                "INSERT INTO datasets(registered_id, name, version, saved_id, description, tags,"
                " digest, created_utc) VALUES (?,?,?,?,?,?,?,?)",
                (
                    registered_id,
                    name,
                    version,
                    saved.id,
                    description,
                    json.dumps(dict(tags or {})),
                    saved.digest,
                    _now(),
                ),
            )
        record = self.get_dataset(name, int(version))
        assert record is not None
        return record

    def get_dataset(self, name: str, version: int | None = None) -> DatasetRecord | None:
        """A registered version, or the latest one when `version` is None."""
        sql = "SELECT * FROM datasets WHERE name=? AND unregistered=0"
        params: list[Any] = [name]
        if version is not None:
            sql += " AND version=?"
            params.append(int(version))
        rows = self._store()._query(sql + " ORDER BY version DESC LIMIT 1", params)
        return self._dataset(rows[0]) if rows else None

    def datasets_for_saved_id(self, saved_id: str) -> list[DatasetRecord]:
        rows = self._store()._query(
            "SELECT * FROM datasets WHERE saved_id=? AND unregistered=0 ORDER BY version DESC",
            (saved_id,),
        )
        return [self._dataset(r) for r in rows]

    def list_datasets(self) -> list[DatasetRecord]:
        """The latest version of every registered name, in name order."""
        rows = self._store()._query(
            "SELECT * FROM datasets d WHERE unregistered=0 AND version = (SELECT max(version)"
            " FROM datasets x WHERE x.name = d.name AND x.unregistered=0) ORDER BY name"
        )
        return [self._dataset(r) for r in rows]

    def update_dataset(
        self,
        name: str,
        *,
        description: str | None = None,
        tags: Mapping[str, str | None] | None = None,
    ) -> DatasetRecord:
        """Replace the latest version's description and/or tags (the service's PATCH)."""
        latest = self.get_dataset(name)
        if latest is None:
            raise KeyError(name)
        with self._store().transaction() as c:
            if description is not None:
                c.execute(
                    "UPDATE datasets SET description=? WHERE name=? AND version=?",
                    (description, name, latest.version),
                )
            if tags is not None:
                c.execute(
                    "UPDATE datasets SET tags=? WHERE name=? AND version=?",
                    (json.dumps(dict(tags)), name, latest.version),
                )
        updated = self.get_dataset(name, latest.version)
        assert updated is not None
        return updated

    def unregister_dataset(self, name: str) -> bool:
        """Unregister every version of `name`; its numbers are never handed out again."""
        with self._store().transaction() as c:
            cur = c.execute(
                "UPDATE datasets SET unregistered=1 WHERE name=? AND unregistered=0", (name,)
            )
            return cur.rowcount > 0

    def dataset_digest(self, name: str, version: int | None = None) -> str:
        """The content digest stored with a registered version (the latest when None): what
        the gate compares to tell whether two metrics were measured on the same data."""
        record = self.get_dataset(name, version)
        if record is None:
            raise KeyError(f"{name}:{version or 'latest'}")
        return record.digest

    def _dataset(self, r: sqlite3.Row) -> DatasetRecord:
        saved = self.get_saved_dataset(r["saved_id"])
        assert saved is not None
        return DatasetRecord(
            registered_id=r["registered_id"],
            name=r["name"],
            version=r["version"],
            saved=saved,
            description=r["description"],
            tags=json.loads(r["tags"]),
            digest=r["digest"],
            created_utc=r["created_utc"],
        )

    # ------------------------------------------------------------------ model links

    @staticmethod
    def _link_model_datasets(
        c: sqlite3.Connection, seq: int, links: Sequence[tuple[str, str]]
    ) -> None:
        c.executemany(
            "INSERT INTO model_datasets(model_seq, scenario, dataset_id) VALUES (?,?,?)",
            [(seq, scenario, dataset_id) for scenario, dataset_id in links],
        )


# --------------------------------------------------------------------------- helpers


def _now() -> str:
    from champion.local.store import utcnow

    return utcnow()


def _datastore_key(name: str) -> str:
    """The service lowercases datastore names (the SDK warns about capitals, then sends them)."""
    return name.lower()


def _check_segment(name: str, what: str) -> None:
    if not name or "/" in name or "\\" in name or name in (".", ".."):
        raise DataPathError(f"{what} {name!r} must be one folder name")


def _glob_match(name: str, pattern: str) -> bool:
    """rslex's glob over datastore paths: `*` and `?` stay inside one folder, `**` spans any
    number of folders (including none)."""
    return _glob_parts(name.split("/"), pattern.split("/"))


def _glob_parts(names: list[str], patterns: list[str]) -> bool:
    if not patterns:
        return not names
    head, rest = patterns[0], patterns[1:]
    if head == "**":
        return any(_glob_parts(names[i:], rest) for i in range(len(names) + 1))
    if not names or not fnmatch.fnmatchcase(names[0], head):
        return False
    return _glob_parts(names[1:], rest)


def _registered_id(c: sqlite3.Connection, name: str) -> str | None:
    """A name keeps its registered id across versions, even after it was unregistered."""
    row = c.execute(
        "SELECT registered_id FROM datasets WHERE name=? ORDER BY version DESC LIMIT 1", (name,)
    ).fetchone()
    return str(row[0]) if row else None


def _datastore(r: sqlite3.Row) -> DatastoreRecord:
    return DatastoreRecord(
        name=r["name"],
        type=r["type"],
        container=r["container"],
        account=r["account"],
        protocol=r["protocol"],
        endpoint=r["endpoint"],
        credential_type=r["credential_type"],
        is_default=bool(r["is_default"]),
    )


def _saved(r: sqlite3.Row) -> SavedDatasetRecord:
    return SavedDatasetRecord(
        id=r["id"],
        dataset_type=r["dataset_type"],
        definition=json.loads(r["definition"]),
        dataflow=r["dataflow"],
        properties=json.loads(r["properties"]),
        digest=r["digest"],
        created_utc=r["created_utc"],
    )


def iter_definition_paths(definition: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    """`(datastore, path)` of each datastore path of a definition."""
    for entry in definition.get("paths", []):
        if "datastore" in entry:
            yield str(entry["datastore"]), str(entry.get("path", ""))
