"""The local workspace's storage: every SQL statement and every byte written to disk lives here.

Why one `Store`: the service's rules (version numbering that never reuses a number, tag filters,
newest-first ordering, artifact conflicts, property immutability) must be written once and serve
both faces of the local workspace, the `champion.local` classes and the real SDK under
`mock_azureml()`. The store therefore mirrors the service's data model, not the SDK's classes:

- runs, with tags/properties as JSON and a per-experiment run number (`runs.py`);
- artifacts addressed like Azure's artifact service, `(origin, container, path)`, whose content is
  a content-addressed blob (`blobs/sha256/ab/<digest>`), and assets, lists of artifact prefixes,
  which is what a model's `url` (`aml://asset/<id>`) points at (`artifacts.py`);
- models, `(name, version)` rows, soft-deleted so that a version number is never handed out twice
  (`models.py`), and the v2 registry's rules over the same rows: versions a client numbers,
  archive and stage, containers (`model_versions.py`);
- datastores, datasets and the links from a model to them (`datastores.py`, `datasets.py`);
- deployments, the versions a local server serves, which a delete must leave alone while it
  runs (`deployments.py`, with the process rule in `processes.py`).

One class, `Store`, composed of one mixin per job: opening the folder (`connection.py`), checking
and upgrading its schema (`schema.py`), transactions (`transactions.py`), blobs and staging
(`blobs.py`, no SQL), small blobs kept in the database (`inline.py`), verified exports
(`exports.py`), the rows above, and what verify and gc read (`inventory.py`). The records they
return are in `records.py`, the refusals in `exceptions.py`, the folder layout in `layout.py`.

Durability and sharing between processes: SQLite in WAL mode with `synchronous=FULL`, a busy
timeout, and `BEGIN IMMEDIATE` for every read-then-write, so two processes never compute the same
next version. A blob is streamed to a temp file and fsynced with no lock held, then renamed into
place inside the transaction that inserts the row naming it: a crash leaves at worst an orphan
file, never a row pointing at nothing, and gc (which decides under the same lock) cannot delete
a blob between "stored" and "referenced". Bytes already stored are not written again, and a few
KiB handed over in memory (the gate's decision record) are stored in the database by the commit
that writes their row: a registration costs a few commits, not a file and two fsyncs per blob.

Opening never creates a workspace unless asked (`Store.create`), and readers (`read_only=True`)
open the database with `mode=ro`, take no write lock and write nothing, so a workspace on a
read-only mount or one this user may not write can be read, and a long write never blocks a
reader (where SQLite cannot coordinate with writers, `frozen.py` reads the file safely without
it). Every stored value is decoded in one place (`columns.py`), so a damaged one is reported as
damage, naming its row.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

from champion.local.store.blobs import CHUNK, StagedBlob, Staging
from champion.local.store.columns import DamagedRow
from champion.local.store.connection import Connection
from champion.local.store.datasets import Datasets, content_digest
from champion.local.store.exceptions import (
    ArtifactExists,
    DataPathError,
    DatasetChanged,
    DatasetConflict,
    DatastoreConflict,
    DeploymentConflict,
    InvalidArtifactPath,
    InvalidModelVersion,
    ModelFilesMissing,
    ModelInUse,
    ModelPathChanged,
    ModelVersionDeleted,
    ModelVersionExists,
    ModelVersionRefused,
    PropertyConflict,
    StoreConflict,
    check_artifact_path,
)
from champion.local.store.exports import Exports
from champion.local.store.inline import INLINE_MAX
from champion.local.store.inventory import Inventory
from champion.local.store.layout import (
    BLOBS_DIR,
    DATASTORES_DIR,
    DB_NAME,
    TMP_DIR,
    is_workspace,
    own_files,
    remove_own_file,
)
from champion.local.store.model_versions import (
    ContainerRecord,
    ModelSource,
    ModelVersions,
    artifact_store_uri,
    model_uri,
    parse_model_version,
)
from champion.local.store.models import parse_filter_query
from champion.local.store.records import (
    ARCHIVED_STAGE,
    ARTIFACT_DATASTORE,
    BLOB_TYPE,
    DATASTORE_ORIGIN,
    DEFAULT_DATASTORE,
    DEFAULT_STAGE,
    DIGEST_PROPERTY,
    FILE,
    FILE_DATASTORE,
    FILE_TYPE,
    RUN_ORIGIN,
    TABULAR,
    UPLOAD_ORIGIN,
    ArtifactRecord,
    AssetRecord,
    DatasetRecord,
    DatastoreRecord,
    DeploymentRecord,
    ModelRecord,
    RunRecord,
    SavedDatasetRecord,
    utcnow,
)
from champion.local.store.runs import Runs
from champion.local.store.schema import SCHEMA_VERSION

__all__ = [
    "ARCHIVED_STAGE",
    "ARTIFACT_DATASTORE",
    "BLOBS_DIR",
    "BLOB_TYPE",
    "CHUNK",
    "DATASTORES_DIR",
    "DATASTORE_ORIGIN",
    "DB_NAME",
    "DEFAULT_DATASTORE",
    "DEFAULT_STAGE",
    "DIGEST_PROPERTY",
    "FILE",
    "FILE_DATASTORE",
    "FILE_TYPE",
    "INLINE_MAX",
    "RUN_ORIGIN",
    "SCHEMA_VERSION",
    "TABULAR",
    "TMP_DIR",
    "UPLOAD_ORIGIN",
    "ArtifactExists",
    "ArtifactRecord",
    "AssetRecord",
    "ContainerRecord",
    "DamagedRow",
    "DataPathError",
    "DatasetChanged",
    "DatasetConflict",
    "DatasetRecord",
    "DatastoreConflict",
    "DatastoreRecord",
    "DeploymentConflict",
    "DeploymentRecord",
    "InvalidArtifactPath",
    "InvalidModelVersion",
    "ModelFilesMissing",
    "ModelInUse",
    "ModelPathChanged",
    "ModelRecord",
    "ModelSource",
    "ModelVersionDeleted",
    "ModelVersionExists",
    "ModelVersionRefused",
    "PropertyConflict",
    "RunRecord",
    "SavedDatasetRecord",
    "StagedBlob",
    "Staging",
    "Store",
    "StoreConflict",
    "artifact_store_uri",
    "check_artifact_path",
    "content_digest",
    "is_workspace",
    "model_uri",
    "own_files",
    "parse_filter_query",
    "parse_model_version",
    "remove_own_file",
    "utcnow",
]

_open_stores: dict[tuple[int, str, bool], Store] = {}
_open_lock = threading.Lock()


class Store(Runs, ModelVersions, Datasets, Inventory, Exports, Connection):
    """One local workspace folder: `workspace.db` plus `blobs/`, `tmp/` and `datastores/`.

    Open it with `Store.open(path)`, which returns one shared instance per folder, mode and
    process, so that every local object of a workspace sees the same connection and the same
    lock depth. Opening never creates anything unless asked (`create=True`: `champion init`, the
    local runner), and a read-only store (`read_only=True`) never writes a byte nor takes the
    write lock: a workspace on a read-only mount, or one another process is writing a large
    model into, can always be read.
    """

    def __init__(self, root: Path, *, create: bool = False, read_only: bool = False) -> None:
        self._prestaged = {}
        super().__init__(root, create=create, read_only=read_only)

    @classmethod
    def open(
        cls, path: str | os.PathLike[str], *, create: bool = False, read_only: bool = False
    ) -> Store:
        """The shared store for a folder in this process (a forked child gets its own).

        Raises NotAWorkspaceError unless the folder is a workspace, or `create` is set."""
        root = Path(path).expanduser().resolve()
        key = (os.getpid(), str(root), read_only)
        with _open_lock:
            store = _open_stores.get(key)
            if store is None:
                store = cls(root, create=create, read_only=read_only)
                _open_stores[key] = store
            return store

    @classmethod
    def create(cls, path: str | os.PathLike[str]) -> Store:
        """Create a workspace in a new or empty folder, or open the one already there."""
        return cls.open(path, create=True)

    def close(self) -> None:
        with _open_lock:
            _open_stores.pop((os.getpid(), str(self.root), self.read_only), None)
        self._close_connection()
