"""The local workspace's storage: every SQL statement and every byte written to disk lives here.

Why one module: the service's rules (version numbering that never reuses a number, tag filters,
newest-first ordering, artifact conflicts, property immutability) must be written once and serve
both faces of the local workspace, the `champion.local` classes and the real SDK under
`mock_azureml()`. The store therefore mirrors the service's data model, not the SDK's classes:

- runs, with tags/properties as JSON and a per-experiment run number;
- artifacts addressed like Azure's artifact service, `(origin, container, path)`, whose content is
  a content-addressed blob (`blobs/sha256/ab/<digest>`);
- assets, lists of artifact prefixes, which is what a model's `url` (`aml://asset/<id>`) points at;
- models, `(name, version)` rows, soft-deleted so that a version number is never handed out twice;
- datastores, datasets and the links from a model to them (`_store_data.py`, mixed in here).

Durability and sharing between processes: SQLite in WAL mode with `synchronous=FULL`, a busy
timeout, and `BEGIN IMMEDIATE` for every read-then-write, so two processes never compute the same
next version. A blob is streamed to a temp file and fsynced with no lock held, then renamed into
place inside the transaction that inserts the row naming it: a crash leaves at worst an orphan
file, never a row pointing at nothing, and gc (which decides under the same lock) cannot delete
a blob between "stored" and "referenced".

Opening never creates a workspace unless asked (`Store.create`), and readers (`read_only=True`)
open the database with `mode=ro`, take no lock and write nothing, so a read-only workspace can be
read and a long write never blocks a reader.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import io
import json
import os
import shutil
import sqlite3
import threading
import urllib.parse
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from champion.errors import InputError, NotAWorkspaceError, WorkspaceStoreError
from champion.failpoints import failpoint
from champion.local._export import (
    DIR_NOFOLLOW,
    make_dirs,
    move_into_place,
    preflight,
)
from champion.local._store_data import SCHEMA_V2, DataStoreMixin, migrate_1_to_2

SCHEMA_VERSION = 2
DB_NAME = "workspace.db"
BLOBS_DIR = "blobs"
TMP_DIR = "tmp"
CHUNK = 1024 * 1024
VERIFY_IN_PLACE_MAX = 4 * CHUNK  # stored blobs up to this size are compared, not replaced
BUSY_TIMEOUT_MS = 60_000

RUN_ORIGIN = "ExperimentRun"
UPLOAD_ORIGIN = "LocalUpload"

_SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE experiments (
    name TEXT PRIMARY KEY, id TEXT NOT NULL UNIQUE, created_utc TEXT NOT NULL,
    run_counter INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE runs (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id TEXT NOT NULL UNIQUE,
    experiment TEXT NOT NULL REFERENCES experiments(name),
    run_number INTEGER NOT NULL,
    parent_id TEXT, root_id TEXT NOT NULL,
    name TEXT, display_name TEXT, run_type TEXT,
    status TEXT NOT NULL,
    created_utc TEXT NOT NULL, start_utc TEXT, end_utc TEXT,
    tags TEXT NOT NULL DEFAULT '{}', properties TEXT NOT NULL DEFAULT '{}',
    data_container_id TEXT NOT NULL, error TEXT
);
CREATE INDEX runs_parent ON runs(parent_id, seq);
CREATE INDEX runs_root ON runs(root_id, seq);
CREATE TABLE metrics (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id TEXT NOT NULL, name TEXT NOT NULL, value TEXT NOT NULL, step INTEGER,
    logged_utc TEXT NOT NULL
);
CREATE INDEX metrics_run ON metrics(run_id, name, seq);
CREATE TABLE artifacts (
    origin TEXT NOT NULL, container TEXT NOT NULL, path TEXT NOT NULL,
    digest TEXT, size INTEGER NOT NULL DEFAULT 0, created_utc TEXT NOT NULL,
    PRIMARY KEY (origin, container, path)
);
CREATE TABLE assets (
    id TEXT PRIMARY KEY, name TEXT, prefixes TEXT NOT NULL, run_id TEXT, created_utc TEXT NOT NULL
);
CREATE TABLE models (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL, version INTEGER NOT NULL,
    asset_id TEXT NOT NULL, description TEXT,
    framework TEXT NOT NULL, framework_version TEXT,
    tags TEXT NOT NULL DEFAULT '{}', properties TEXT NOT NULL DEFAULT '{}',
    run_id TEXT, experiment_name TEXT, mime_type TEXT NOT NULL,
    created_utc TEXT NOT NULL, modified_utc TEXT, deleted INTEGER NOT NULL DEFAULT 0,
    UNIQUE (name, version)
);
CREATE INDEX models_name ON models(name, deleted, seq);
CREATE INDEX models_run ON models(run_id, name, deleted, seq);
CREATE TABLE model_kv (
    model_seq INTEGER NOT NULL REFERENCES models(seq),
    kind TEXT NOT NULL, key TEXT NOT NULL, value TEXT
);
CREATE INDEX model_kv_lookup ON model_kv(kind, key, value, model_seq);
CREATE INDEX model_kv_model ON model_kv(model_seq);
"""


def utcnow() -> str:
    """ISO-8601 with an explicit offset, the form the service returns."""
    return datetime.now(UTC).isoformat()


# --------------------------------------------------------------------------- records


@dataclass(frozen=True)
class RunRecord:
    """One run as the service stores it; the faces turn it into their own run objects."""

    run_id: str
    experiment: str
    run_number: int
    parent_id: str | None
    root_id: str
    name: str | None
    display_name: str | None
    run_type: str | None
    status: str
    created_utc: str
    start_utc: str | None
    end_utc: str | None
    tags: dict[str, str | None]
    properties: dict[str, str | None]
    data_container_id: str
    error: dict[str, Any] | None = None


@dataclass(frozen=True)
class ArtifactRecord:
    """An artifact path and the blob that holds its bytes (None until content is uploaded)."""

    origin: str
    container: str
    path: str
    digest: str | None
    size: int
    created_utc: str


@dataclass(frozen=True)
class AssetRecord:
    """What a model URL points at: artifact prefixes of the form origin/container/path."""

    id: str
    name: str | None
    prefixes: list[str]
    run_id: str | None
    created_utc: str


@dataclass(frozen=True)
class ModelRecord:
    """One registered model version."""

    name: str
    version: int
    asset_id: str
    description: str | None
    framework: str
    framework_version: str | None
    tags: dict[str, str | None]
    properties: dict[str, str | None]
    run_id: str | None
    experiment_name: str | None
    mime_type: str
    created_utc: str
    modified_utc: str | None
    deleted: bool = False
    seq: int = field(default=0, compare=False)
    resource_configuration: dict[str, Any] | None = None
    datasets: tuple[tuple[str, str], ...] = ()  # (scenario, saved dataset id)
    sample_input_dataset: str | None = None  # a saved dataset id
    sample_output_dataset: str | None = None

    @property
    def id(self) -> str:
        return f"{self.name}:{self.version}"

    @property
    def url(self) -> str:
        return f"aml://asset/{self.asset_id}"


@dataclass(frozen=True)
class StagedBlob:
    """Bytes streamed, hashed and fsynced into the workspace's tmp/, not yet a blob: the
    transaction that inserts the row naming them renames them into blobs/ (Store._publish)."""

    digest: str
    size: int
    path: Path


class Staging:
    """One writer's staging session (`Store.staging()`): stage files, hand the staged blobs to
    `add_artifacts`/`set_artifact_content`; what was never published is deleted at the end."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._staged: list[StagedBlob] = []

    def stage(self, source: str | os.PathLike[str] | IO[bytes]) -> StagedBlob:
        staged = self._store._stage(source)
        self._staged.append(staged)
        return staged

    def discard(self) -> None:
        for staged in self._staged:
            with contextlib.suppress(FileNotFoundError):
                staged.path.unlink()
        self._staged.clear()


# --------------------------------------------------------------------------- conflicts


class StoreConflict(Exception):
    """A write the service would refuse; each face turns it into the SDK's own exception."""


class ArtifactExists(StoreConflict):
    def __init__(self, origin: str, container: str, paths: Sequence[str]) -> None:
        self.origin, self.container, self.paths = origin, container, list(paths)
        super().__init__(
            ", ".join(
                f"Resource Conflict: ArtifactId {origin}/{container}/{p} already exists."
                for p in paths
            )
        )


class InvalidArtifactPath(StoreConflict):
    """An artifact name that could escape a download folder: absolute, a `..` segment, a
    backslash, a NUL or empty. (svc: Azure's exact rule is unverified; we refuse these so
    that `download()` can never write outside its target.)"""

    def __init__(self, path: str) -> None:
        self.path = path
        super().__init__(
            f"Invalid artifact path {path!r}: artifact names must be relative, use '/' and "
            "contain no '..' segment"
        )


def check_artifact_path(path: str) -> None:
    if (
        not path
        or path.startswith("/")
        or "\\" in path
        or "\x00" in path
        or any(part in ("", ".", "..") for part in path.split("/"))
    ):
        raise InvalidArtifactPath(path)


class PropertyConflict(StoreConflict):
    def __init__(self, keys: Sequence[str]) -> None:
        self.keys = list(keys)
        super().__init__("Properties are immutable: " + ",".join(keys))


def parse_filter_query(query: str | None) -> list[tuple[str, str | None]]:
    """The service's reading of the SDK's tag/property filter string, `"k1,k2=v2"`: a bare key
    means "present", `k=v` means "equals". The SDK joins items without escaping, so a value
    holding `,` or `=` cannot be expressed; we split exactly as such a string reads."""
    if not query:
        return []
    pairs: list[tuple[str, str | None]] = []
    for term in query.split(","):
        key, sep, value = term.partition("=")
        pairs.append((key, value if sep else None))
    return pairs


# --------------------------------------------------------------------------- the store


_open_stores: dict[tuple[int, str, bool], Store] = {}
_open_lock = threading.Lock()

STAGING_LOCK = "staging.lock"
SQLITE_CANTOPEN = 14


def _json(data: Mapping[str, Any] | Sequence[Any] | None) -> str:
    return json.dumps(data if data is not None else {}, sort_keys=False)


def _blob_relpath(digest: str) -> str:
    return f"{BLOBS_DIR}/sha256/{digest[:2]}/{digest}"


def is_workspace(path: str | os.PathLike[str]) -> bool:
    """A folder holding `workspace.db`: what discovery and `champion init` look for (whether its
    schema is ours is checked when it is opened)."""
    folder = Path(path)
    return folder.is_dir() and (folder / DB_NAME).is_file()


class Store(DataStoreMixin):
    """One local workspace folder: `workspace.db` plus `blobs/`, `tmp/` and `datastores/`.

    Open it with `Store.open(path)`, which returns one shared instance per folder, mode and
    process, so that every local object of a workspace sees the same connection and the same
    lock depth. Opening never creates anything unless asked (`create=True`: `champion init`, the
    local runner), and a read-only store (`read_only=True`) never writes a byte nor takes the
    write lock: a workspace on a read-only mount, or one another process is writing a large
    model into, can always be read.
    """

    def __init__(self, root: Path, *, create: bool = False, read_only: bool = False) -> None:
        self.root = root
        self.read_only = read_only
        self._lock = threading.RLock()
        self._depth = 0
        self._prestaged: dict[tuple[str, int, int, int, int], StagedBlob] = {}
        db_path = root / DB_NAME
        if create and not read_only:
            self._prepare_folder()
        elif root.exists() and not root.is_dir():
            raise NotAWorkspaceError(root, " (a file, not a folder)")
        elif not db_path.is_file():
            if self._has_blobs():
                raise self._orphaned_blobs()
            raise NotAWorkspaceError(root)
        if not read_only and not (os.access(root, os.W_OK) and os.access(db_path, os.W_OK)):
            raise WorkspaceStoreError(
                f"the workspace {root} is read-only here, and this command writes to it. "
                "Listing, showing, downloading and verifying work on a read-only workspace; "
                "to write, use a writable copy.",
                field="workspace",
                value=str(root),
            )
        try:
            self._conn = self._connect(db_path)
        except sqlite3.DatabaseError as exc:
            raise self._unreadable(exc) from exc
        self._conn.row_factory = sqlite3.Row
        try:
            self._conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
            # Schema first: a file that is not ours is refused before anything writes to it
            # (switching to WAL would rewrite its header and add -wal/-shm files).
            self._init_schema(create=create and not read_only)
            if not read_only:
                self._conn.execute("PRAGMA journal_mode=WAL")
                self._conn.execute("PRAGMA synchronous=FULL")
                self._conn.execute("PRAGMA foreign_keys=ON")
        except sqlite3.DatabaseError as exc:
            self._conn.close()
            raise self._unreadable(exc) from exc
        except BaseException:
            self._conn.close()
            raise
        if not read_only:
            _make_private_dir(root / TMP_DIR)

    def _prepare_folder(self) -> None:
        """Make the folder a workspace can be created in: new, empty, or a workspace already.
        A file, or a folder holding anything else, is refused: `champion init .` in a project
        must not scatter a registry among its files."""
        root = self.root
        if root.exists() and not root.is_dir():
            raise InputError(
                f"cannot create a workspace at {root}: it is a file; choose a folder",
                field="workspace",
                value=str(root),
            )
        if root.is_dir() and not (root / DB_NAME).is_file():
            if self._has_blobs():
                raise self._orphaned_blobs()
            ours = (TMP_DIR, BLOBS_DIR, STAGING_LOCK)
            others = sorted(
                p.name
                for p in root.iterdir()
                if p.name not in ours and not p.name.startswith(DB_NAME)  # another creator's
            )
            if others:
                raise InputError(
                    f"cannot create a workspace at {root}: the folder is not empty and not a "
                    f"champion workspace (it holds {', '.join(others[:3])}"
                    f"{', ...' if len(others) > 3 else ''}); choose a new or empty folder",
                    field="workspace",
                    value=str(root),
                )
        _make_private_dir(root, parents=True)
        fd = os.open(root / DB_NAME, os.O_RDWR | os.O_CREAT, 0o600)
        os.close(fd)

    def _connect(self, db_path: Path) -> sqlite3.Connection:
        timeout = BUSY_TIMEOUT_MS / 1000
        if not self.read_only:
            return sqlite3.connect(
                db_path, timeout=timeout, isolation_level=None, check_same_thread=False
            )
        uri = f"file:{urllib.parse.quote(str(db_path))}?mode=ro"
        conn = sqlite3.connect(
            uri, uri=True, timeout=timeout, isolation_level=None, check_same_thread=False
        )
        try:
            conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
            return conn
        except sqlite3.OperationalError as exc:
            conn.close()
            if getattr(exc, "sqlite_errorcode", 0) & 0xFF != SQLITE_CANTOPEN:
                raise
            wal = db_path.with_name(DB_NAME + "-wal")
            if wal.exists() and wal.stat().st_size > 0:
                raise WorkspaceStoreError(
                    f"the workspace database {db_path} cannot be read here: its write-ahead log "
                    f"{wal} needs a folder SQLite may write to. Copy the workspace to a "
                    "writable folder, or let the process that wrote it finish.",
                    field="workspace",
                    value=str(db_path),
                ) from exc
        # A WAL database with no log on a folder nobody can write: no writer can exist, so
        # SQLite may read the file as it is, without the shared-memory file it cannot create.
        return sqlite3.connect(
            f"{uri}&immutable=1",
            uri=True,
            timeout=timeout,
            isolation_level=None,
            check_same_thread=False,
        )

    def _unreadable(self, exc: sqlite3.DatabaseError) -> WorkspaceStoreError:
        db_path = self.root / DB_NAME
        return WorkspaceStoreError(
            f"the local workspace database {db_path} cannot be read ({exc}); it is not a "
            "champion workspace or it is corrupt. Run `champion verify` or restore it.",
            field="workspace",
            value=str(db_path),
        )

    def _has_blobs(self) -> bool:
        blobs = self.root / BLOBS_DIR
        return blobs.is_dir() and any(blobs.iterdir())

    def _orphaned_blobs(self) -> WorkspaceStoreError:
        return WorkspaceStoreError(
            f"the local workspace at {self.root} has blobs but no registry in {DB_NAME}; "
            "refusing to create an empty registry over existing data. Restore the database or "
            "choose another folder.",
            field="workspace",
            value=str(self.root),
        )

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
        self._conn.close()

    # ------------------------------------------------------------------ transactions

    def _tables(self) -> set[str]:
        return {
            r[0] for r in self._conn.execute("SELECT name FROM sqlite_master WHERE type='table'")
        }

    def _init_schema(self, *, create: bool) -> None:
        """Check the schema with a plain read (no lock: an existing workspace is opened while
        a writer holds it); only creating an empty database or upgrading an older one takes
        the write lock, and both re-read the schema under it."""
        tables = self._tables()
        if not tables and create:
            with self.transaction():
                tables = self._tables()
                if not tables:
                    if self._has_blobs():
                        raise self._orphaned_blobs()
                    self._create_schema()
                    return
        if not tables:
            raise WorkspaceStoreError(
                f"{self.root / DB_NAME} is an empty database: the workspace was never created "
                "completely, or its registry was lost. Restore it from a copy, or create a new "
                "workspace in another folder with 'champion init'.",
                field="schema_version",
                value=None,
            )
        if self._check_schema(tables) == "1":
            self._upgrade_from_1()

    def _create_schema(self) -> None:
        # one statement at a time: executescript() would COMMIT our transaction first
        for statement in _SCHEMA.split(";"):
            if statement.strip():
                self._conn.execute(statement)
        workspace_id, now = str(uuid.uuid4()), utcnow()
        self._conn.executemany(
            "INSERT INTO meta(key, value) VALUES (?, ?)",
            [("schema_version", "1"), ("workspace_id", workspace_id), ("created_utc", now)],
        )
        # a new workspace is a version 1 one, upgraded: the upgrade runs on every create
        migrate_1_to_2(self._conn, workspace_id, now)

    def _schema_version(self) -> str | None:
        row = self._conn.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
        return None if row is None else str(row[0])

    def _check_schema(self, tables: set[str]) -> str:
        """Refuse a database that is not ours or is newer than this code; returns its version
        ("1" for a workspace to upgrade)."""
        where = self.root / DB_NAME
        if "meta" not in tables:
            raise WorkspaceStoreError(
                f"{where} is a SQLite database but not a champion workspace (no schema version).",
                field="schema_version",
                value=None,
            )
        found = self._schema_version()
        if found not in ("1", str(SCHEMA_VERSION)):
            raise WorkspaceStoreError(
                f"{where} has schema version {found!r}; this champion reads version "
                f"{SCHEMA_VERSION}. Use the champion release that wrote it.",
                field="schema_version",
                value=found,
            )
        return str(found)

    def _upgrade_from_1(self) -> None:
        """Upgrade a version 1 workspace in place, in one write transaction (all of it or none
        of it). A read-only open cannot, and says how to upgrade rather than misread it."""
        where = self.root / DB_NAME
        if self.read_only:
            raise WorkspaceStoreError(
                f"{where} is a version 1 workspace, made by an older champion; this one reads "
                f"version {SCHEMA_VERSION}. Run a command that writes (e.g. 'champion gc') on a "
                "writable copy once to upgrade it in place; its data is kept.",
                field="schema_version",
                value="1",
            )
        with self.transaction():
            if self._schema_version() != "1":
                return  # another process upgraded it while we waited for the lock
            workspace_id = self._conn.execute(
                "SELECT value FROM meta WHERE key='workspace_id'"
            ).fetchone()[0]
            try:
                migrate_1_to_2(self._conn, str(workspace_id), utcnow())
            except sqlite3.DatabaseError as exc:  # rolled back by the transaction
                raise WorkspaceStoreError(
                    f"{where} is a version 1 workspace and could not be upgraded to version "
                    f"{SCHEMA_VERSION} ({exc}); it was left unchanged. Check free disk space "
                    "and permissions, then open it again.",
                    field="schema_version",
                    value="1",
                ) from exc

    def schema_drift(self) -> list[str]:
        """How the database's tables, columns and indexes differ from the schema this release
        writes: a hand-edited or half-migrated database is damage, even with the right version."""
        expected = sqlite3.connect(":memory:")
        try:
            expected.executescript(_SCHEMA)
            expected.executescript(SCHEMA_V2)
            want = _schema_shape(expected)
        finally:
            expected.close()
        with self._lock:
            have = _schema_shape(self._conn)
        problems = [f"missing {what}" for what in sorted(want - have)]
        problems += [f"unexpected {what}" for what in sorted(have - want)]
        return problems

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """A write transaction, taken with BEGIN IMMEDIATE so the read that decides a write
        (the next version, an existing artifact) cannot go stale. Nested calls become savepoints,
        which is what lets a caller hold the lock across lookup, decision and registration."""
        if self.read_only:
            raise WorkspaceStoreError(
                f"the workspace {self.root} was opened read-only; this command cannot write",
                field="workspace",
                value=str(self.root),
            )
        with self._lock:
            if self._depth == 0:
                self._execute_guarded("BEGIN IMMEDIATE")
            else:
                self._conn.execute(f"SAVEPOINT sp{self._depth}")
            self._depth += 1
            try:
                yield self._conn
            except BaseException as exc:
                self._depth -= 1
                with contextlib.suppress(sqlite3.DatabaseError):
                    if self._depth == 0:
                        self._conn.execute("ROLLBACK")
                    else:
                        self._conn.execute(f"ROLLBACK TO sp{self._depth}")
                        self._conn.execute(f"RELEASE sp{self._depth}")
                if isinstance(exc, sqlite3.DatabaseError):
                    raise self.database_error(exc) from exc
                raise
            self._depth -= 1
            if self._depth == 0:
                self._execute_guarded("COMMIT")
            else:
                self._conn.execute(f"RELEASE sp{self._depth}")

    @contextlib.contextmanager
    def snapshot(self) -> Iterator[None]:
        """Several reads that see one state of the registry (a deferred read transaction: no
        write lock, and WAL lets writers go on meanwhile)."""
        with self._lock:
            if self._depth > 0:
                yield
                return
            self._execute_guarded("BEGIN")
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
                with contextlib.suppress(sqlite3.DatabaseError):
                    self._conn.execute("COMMIT")

    def _execute_guarded(self, sql: str) -> None:
        try:
            self._conn.execute(sql)
        except sqlite3.DatabaseError as exc:
            raise self.database_error(exc) from exc

    def database_error(self, exc: sqlite3.DatabaseError) -> WorkspaceStoreError:
        """One line naming the database and what to do, for any SQLite failure."""
        db_path = self.root / DB_NAME
        name = getattr(exc, "sqlite_errorname", "") or ""
        if name.startswith("SQLITE_READONLY"):
            advice = "the workspace is read-only here; write to a writable copy"
        elif name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")):
            advice = (
                f"another process held the workspace for over {BUSY_TIMEOUT_MS // 1000} s; "
                "retry when it has finished"
            )
        elif name.startswith("SQLITE_FULL"):
            advice = "the disk is full; free space and retry"
        else:
            advice = "run `champion verify`; restore the workspace from a copy if it is damaged"
        return WorkspaceStoreError(
            f"the workspace database {db_path} failed: {exc}; {advice}",
            field="workspace",
            value=str(db_path),
        )

    def _query(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        with self._lock:
            try:
                return self._conn.execute(sql, params).fetchall()
            except sqlite3.DatabaseError as exc:
                raise self.database_error(exc) from exc

    @property
    def workspace_id(self) -> str:
        return str(self._query("SELECT value FROM meta WHERE key='workspace_id'")[0]["value"])

    # ------------------------------------------------------------------ experiments

    def get_or_create_experiment(self, name: str) -> str:
        """Return the experiment's id, creating it on first use as the service does."""
        rows = self._query("SELECT id FROM experiments WHERE name=?", (name,))
        if rows:
            return str(rows[0]["id"])
        with self.transaction() as c:
            row = c.execute("SELECT id FROM experiments WHERE name=?", (name,)).fetchone()
            if row:
                return str(row[0])
            exp_id = str(uuid.uuid4())
            c.execute(
                "INSERT INTO experiments(name, id, created_utc) VALUES (?, ?, ?)",
                (name, exp_id, utcnow()),
            )
            return exp_id

    def list_experiments(self) -> list[tuple[str, str]]:
        return [
            (r["name"], r["id"])
            for r in self._query("SELECT name, id FROM experiments ORDER BY name")
        ]

    # ------------------------------------------------------------------ runs

    def create_run(
        self,
        experiment: str,
        *,
        run_id: str | None = None,
        parent_id: str | None = None,
        name: str | None = None,
        display_name: str | None = None,
        run_type: str | None = None,
        status: str = "Running",
        tags: Mapping[str, str | None] | None = None,
        properties: Mapping[str, str | None] | None = None,
    ) -> RunRecord:
        self.get_or_create_experiment(experiment)
        run_id = (
            run_id or f"{experiment}_{uuid.uuid4().hex[:8]}_{int(datetime.now(UTC).timestamp())}"
        )
        now = utcnow()
        with self.transaction() as c:
            root_id = run_id
            if parent_id is not None:
                parent = c.execute(
                    "SELECT root_id FROM runs WHERE run_id=?", (parent_id,)
                ).fetchone()
                if parent is None:
                    raise KeyError(parent_id)
                root_id = parent[0]
            c.execute(
                "UPDATE experiments SET run_counter = run_counter + 1 WHERE name=?", (experiment,)
            )
            number = c.execute(
                "SELECT run_counter FROM experiments WHERE name=?", (experiment,)
            ).fetchone()[0]
            c.execute(
                "INSERT INTO runs(run_id, experiment, run_number, parent_id, root_id, name,"
                " display_name, run_type, status, created_utc, start_utc, tags, properties,"
                " data_container_id) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (
                    run_id,
                    experiment,
                    number,
                    parent_id,
                    root_id,
                    name,
                    display_name if display_name is not None else name,
                    run_type,
                    status,
                    now,
                    now,
                    _json(dict(tags or {})),
                    _json(dict(properties or {})),
                    f"dcid.{run_id}",
                ),
            )
        record = self.get_run(run_id)
        assert record is not None
        return record

    def get_run(self, run_id: str) -> RunRecord | None:
        rows = self._query("SELECT * FROM runs WHERE run_id=?", (run_id,))
        return _run(rows[0]) if rows else None

    def list_runs(self, experiment: str | None = None) -> list[RunRecord]:
        if experiment is None:
            rows = self._query("SELECT * FROM runs ORDER BY seq DESC")
        else:
            rows = self._query(
                "SELECT * FROM runs WHERE experiment=? ORDER BY seq DESC", (experiment,)
            )
        return [_run(r) for r in rows]

    def list_children(self, run_id: str, *, recursive: bool = False) -> list[RunRecord]:
        """Children newest first (the service orders by start time, descending)."""
        if not recursive:
            rows = self._query("SELECT * FROM runs WHERE parent_id=? ORDER BY seq DESC", (run_id,))
            return [_run(r) for r in rows]
        run = self.get_run(run_id)
        if run is None:
            return []
        rows = self._query("SELECT * FROM runs WHERE root_id=? ORDER BY seq DESC", (run.root_id,))
        records = [_run(r) for r in rows]
        by_parent: dict[str | None, list[RunRecord]] = {}
        for rec in records:
            by_parent.setdefault(rec.parent_id, []).append(rec)
        subtree: set[str] = set()
        frontier = [run_id]
        while frontier:
            current = frontier.pop()
            for child in by_parent.get(current, []):
                subtree.add(child.run_id)
                frontier.append(child.run_id)
        return [r for r in records if r.run_id in subtree]

    def update_run(
        self,
        run_id: str,
        *,
        set_tags: Mapping[str, str | None] | None = None,
        remove_tags: Iterable[str] | None = None,
        add_properties: Mapping[str, str | None] | None = None,
        status: str | None = None,
        display_name: str | None = None,
        error: Mapping[str, Any] | None = None,
    ) -> RunRecord:
        """Apply one PATCH to a run. A property key that exists with another value is refused,
        as the service refuses it; the same value again is accepted (svc: unverified, lenient)."""
        with self.transaction() as c:
            row = c.execute(
                "SELECT tags, properties FROM runs WHERE run_id=?", (run_id,)
            ).fetchone()
            if row is None:
                raise KeyError(run_id)
            tags: dict[str, str | None] = json.loads(row[0])
            props: dict[str, str | None] = json.loads(row[1])
            if set_tags:
                tags.update(set_tags)
            for key in remove_tags or ():
                tags.pop(key, None)
            if add_properties:
                clash = [k for k, v in add_properties.items() if k in props and props[k] != v]
                if clash:
                    raise PropertyConflict(clash)
                props.update(add_properties)
            assignments = ["tags=?", "properties=?"]
            params: list[Any] = [_json(tags), _json(props)]
            if status is not None:
                assignments.append("status=?")
                params.append(status)
                if status in ("Completed", "Failed", "Canceled"):
                    assignments.append("end_utc=?")
                    params.append(utcnow())
            if display_name is not None:
                assignments.append("display_name=?")
                params.append(display_name)
            if error is not None:
                assignments.append("error=?")
                params.append(_json(dict(error)))
            c.execute(f"UPDATE runs SET {', '.join(assignments)} WHERE run_id=?", [*params, run_id])
        record = self.get_run(run_id)
        assert record is not None
        return record

    # ------------------------------------------------------------------ metrics

    def log_metric(self, run_id: str, name: str, value: Any, step: int | None = None) -> None:
        with self.transaction() as c:
            c.execute(
                "INSERT INTO metrics(run_id, name, value, step, logged_utc) VALUES (?,?,?,?,?)",
                (run_id, name, json.dumps(value), step, utcnow()),
            )

    def get_metrics(self, run_id: str) -> dict[str, list[Any]]:
        """Every logged value per name, in log order."""
        out: dict[str, list[Any]] = {}
        for r in self._query(
            "SELECT name, value FROM metrics WHERE run_id=? ORDER BY seq", (run_id,)
        ):
            out.setdefault(r["name"], []).append(json.loads(r["value"]))
        return out

    # ------------------------------------------------------------------ blobs
    #
    # A blob enters the store in two steps. Staging streams, hashes and fsyncs the bytes into
    # tmp/ with no database lock held, so a 30 GiB upload blocks no reader and no writer. The
    # staged file becomes the blob (renamed into blobs/) inside the same write transaction that
    # inserts the row naming it, so `champion gc`, which decides under that lock, can never
    # delete a blob between "stored" and "referenced". While staging, a writer holds a shared
    # lock on staging.lock; gc clears tmp/ only when it gets that lock exclusively.

    @contextlib.contextmanager
    def staging(self) -> Iterator[Staging]:
        """A writer's staging session: its temp files are gc-proof until it ends, and those it
        did not publish are removed when it ends."""
        fd = self._staging_lock(fcntl.LOCK_SH)
        session = Staging(self)
        try:
            yield session
        finally:
            session.discard()
            os.close(fd)

    @contextlib.contextmanager
    def prestaged(self, paths: Iterable[str | os.PathLike[str]]) -> Iterator[None]:
        """Stage these files now, before the caller takes the registry lock; a later staging of
        the same unchanged file (same inode, size and mtime) takes the staged copy instead of
        reading it again. Why: `Model.register` uploads *and* registers in one call, and the
        gate must hold the registry across it; the slow part is done here, outside."""
        with self.staging() as session:
            keys = []
            for path in paths:
                staged = session.stage(path)
                key = _file_key(path)
                with self._lock:
                    self._prestaged[key] = staged
                keys.append(key)
            try:
                yield
            finally:
                with self._lock:
                    for key in keys:
                        self._prestaged.pop(key, None)

    def _take_prestaged(self, source: str | os.PathLike[str] | IO[bytes]) -> StagedBlob | None:
        if not isinstance(source, str | os.PathLike) or not self._prestaged:
            return None
        try:
            key = _file_key(source)
        except OSError:
            return None
        with self._lock:
            staged = self._prestaged.pop(key, None)
        return staged if staged is not None and staged.path.exists() else None

    def _staging_lock(self, operation: int) -> int:
        _make_private_dir(self.root / TMP_DIR)
        fd = os.open(self.root / STAGING_LOCK, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, operation)
        except BaseException:
            os.close(fd)
            raise
        return fd

    @contextlib.contextmanager
    def exclusive_staging(self) -> Iterator[bool]:
        """True while no writer is staging (and none can start): what gc needs to clear tmp/.
        False, at once, if one is: gc then leaves tmp/ for next time rather than wait."""
        try:
            fd = self._staging_lock(fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            os.close(fd)

    def _stage(self, source: str | os.PathLike[str] | IO[bytes]) -> StagedBlob:
        """Stream `source` into tmp/ in 1 MiB chunks (memory stays flat for any size), hashing
        as it goes, and fsync it. Call through `staging()`."""
        prestaged = self._take_prestaged(source)
        if prestaged is not None:
            return prestaged
        tmp = self.root / TMP_DIR / f"{uuid.uuid4().hex}.part"
        hasher = hashlib.sha256()
        size = 0
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "wb") as out, _reader(source) as src:
                while chunk := src.read(CHUNK):
                    hasher.update(chunk)
                    out.write(chunk)
                    size += len(chunk)
                out.flush()
                os.fsync(out.fileno())
            failpoint("blob.temp_written")
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
            raise
        return StagedBlob(hasher.hexdigest(), size, tmp)

    def _publish(self, staged: StagedBlob) -> None:
        """Inside the transaction that references it: the staged file becomes the blob.

        Bytes already stored under this digest are checked: a small stored blob equal to the
        fresh copy (which was hashed as it was written) stays, and the copy is dropped; any
        other is replaced by the fresh copy, so a stored blob that rotted since is repaired,
        never kept in place of the good bytes. A large one is replaced without reading it: one
        rename costs less than reading gigabytes under the lock."""
        if self._depth == 0:
            raise RuntimeError("a blob is published only inside the transaction naming it")
        final = self.blob_path(staged.digest)
        if staged.size <= VERIFY_IN_PLACE_MAX and _same_file_bytes(final, staged):
            staged.path.unlink()
        else:
            _make_private_dir(final.parent, parents=True)
            os.replace(staged.path, final)
            _fsync_dir(final.parent)
        failpoint("blob.renamed")

    def _require_blobs(self, digests: Iterable[str | None]) -> None:
        """Inside the referencing transaction: every blob a new row names is on disk, so no row
        ever names a missing blob (gc decides under this same lock)."""
        for digest in digests:
            if digest is not None and not self.blob_path(digest).is_file():
                raise self._missing_blob(digest)

    def put_blob(self, source: str | os.PathLike[str] | IO[bytes]) -> tuple[str, int]:
        """Store bytes once by their sha256 and return (digest, size). No row names the blob
        yet, so gc may remove it once it is older than its grace: writers that reference what
        they store use `staging()` and pass the staged blob to `add_artifacts` instead."""
        with self.staging() as session:
            staged = session.stage(source)
            with self.transaction():
                self._publish(staged)
        return staged.digest, staged.size

    def blob_path(self, digest: str) -> Path:
        return self.root / _blob_relpath(digest)

    def export_files(
        self,
        files: Sequence[tuple[str, str | None]],
        target_dir: str | os.PathLike[str],
        *,
        exist_ok: bool = False,
        check: Callable[[dict[str, str]], None] | None = None,
    ) -> list[str]:
        """Write artifacts `(relative path, digest)` under `target_dir`: all of them, or none.

        Every relative path is checked again with the rule registration uses (a workspace copied
        from elsewhere may hold rows no registration wrote), and no symlink is ever followed
        below `target_dir`. The bytes go to a fresh temp folder inside `target_dir`, each
        verified against its digest, then `check` sees `{relative path: sha256}` of exactly
        those files; only then are they moved into place, each with one rename (atomic per
        file when replacing, with `exist_ok`). Any failure leaves the target as it was.
        Returns the written paths (as `target_dir` joined with each relative path)."""
        names = [relative for relative, _ in files]
        _check_export_names(names)
        target = Path(target_dir)
        created = make_dirs(target)
        done = False
        try:
            root_fd = os.open(target, os.O_RDONLY | os.O_DIRECTORY)
            try:
                for relative in names:
                    preflight(root_fd, target, relative, exist_ok)
                temp = f".champion-download-{uuid.uuid4().hex[:12]}"
                os.mkdir(temp, 0o700, dir_fd=root_fd)
                try:
                    temp_fd = os.open(temp, DIR_NOFOLLOW, dir_fd=root_fd)
                    try:
                        written = {
                            relative: self._write_verified(digest, str(index), temp_fd)
                            for index, (relative, digest) in enumerate(files)
                        }
                        if check is not None:
                            check(written)
                        move_into_place(root_fd, temp_fd, target, names, exist_ok)
                    finally:
                        os.close(temp_fd)
                finally:
                    shutil.rmtree(temp, dir_fd=root_fd, ignore_errors=True)
            finally:
                os.close(root_fd)
            done = True
        except OSError as exc:
            if exc.filename is None or not os.path.isabs(os.fsdecode(exc.filename)):
                exc.filename, exc.filename2 = str(target), None  # named relative to a folder fd
            raise
        finally:
            if not done:
                for folder in reversed(created):
                    with contextlib.suppress(OSError):
                        folder.rmdir()
        return [os.path.join(target_dir, *relative.split("/")) for relative in names]

    def _write_verified(self, digest: str | None, name: str, folder_fd: int) -> str:
        """Copy a blob to `name` in the open folder, hashing as it goes; its sha256."""
        hasher = hashlib.sha256()
        try:
            source = open(self.blob_path(digest), "rb") if digest is not None else io.BytesIO()
        except FileNotFoundError as exc:
            raise self._missing_blob(digest) from exc
        with source:
            fd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o666,
                         dir_fd=folder_fd)  # fmt: skip
            with os.fdopen(fd, "wb") as out:
                while chunk := source.read(CHUNK):
                    hasher.update(chunk)
                    out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
        if digest is not None and hasher.hexdigest() != digest:
            raise WorkspaceStoreError(
                f"blob {digest} is corrupt (its content hashes to {hasher.hexdigest()}); "
                "nothing was written. Run `champion verify`.",
                field="blob",
                value=digest,
            )
        return hasher.hexdigest()

    def copy_blob(self, digest: str | None, target: str | os.PathLike[str]) -> None:
        """Write a blob to `target`, verifying its digest first-to-last.

        The bytes go to a temp file beside the target and replace it only once verified, so a
        corrupt or missing blob (or a crash mid-copy) never destroys or half-writes the file a
        user asked to overwrite."""
        target = Path(target)
        partial = target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}.part")
        hasher = hashlib.sha256()
        try:
            with open(partial, "wb") as out:
                if digest is not None:  # an artifact created but never given content is empty
                    with open(self.blob_path(digest), "rb") as src:
                        while chunk := src.read(CHUNK):
                            hasher.update(chunk)
                            out.write(chunk)
            if digest is not None and hasher.hexdigest() != digest:
                raise WorkspaceStoreError(
                    f"blob {digest} is corrupt (its content hashes to {hasher.hexdigest()}); "
                    "nothing was written. Run `champion verify`.",
                    field="blob",
                    value=digest,
                )
            os.replace(partial, target)
        except FileNotFoundError as exc:
            raise self._missing_blob(digest) from exc
        finally:
            with contextlib.suppress(FileNotFoundError):
                partial.unlink()

    def read_blob(self, digest: str | None) -> bytes:
        """Small-artifact convenience with the same digest check as copy_blob."""
        if digest is None:
            return b""
        try:
            data = self.blob_path(digest).read_bytes()
        except FileNotFoundError as exc:
            raise self._missing_blob(digest) from exc
        if hashlib.sha256(data).hexdigest() != digest:
            raise WorkspaceStoreError(f"blob {digest} is corrupt", field="blob", value=digest)
        return data

    def _missing_blob(self, digest: str | None) -> WorkspaceStoreError:
        return WorkspaceStoreError(
            f"blob {digest} is missing from {self.root / BLOBS_DIR}; the workspace has lost "
            "data. Run `champion verify`.",
            field="blob",
            value=digest,
        )

    # ------------------------------------------------------------------ artifacts

    def add_artifacts(
        self,
        origin: str,
        container: str,
        entries: Sequence[tuple[str, str | None, int]],
        blobs: Sequence[StagedBlob] = (),
    ) -> list[ArtifactRecord]:
        """Create artifacts `(path, digest, size)` all or none: an existing path is a conflict,
        as the service has no overwrite. `blobs`, staged by the caller, become blobs in the
        same transaction that inserts the rows naming them."""
        now = utcnow()
        for path, _, _ in entries:
            check_artifact_path(path)
        with self.transaction() as c:
            paths = [p for p, _, _ in entries]
            clash = [
                p
                for p in paths
                if c.execute(
                    "SELECT 1 FROM artifacts WHERE origin=? AND container=? AND path=?",
                    (origin, container, p),
                ).fetchone()
            ]
            dupes = sorted({p for p in paths if paths.count(p) > 1})
            if clash or dupes:
                raise ArtifactExists(origin, container, clash or dupes)
            for staged in {b.digest: b for b in blobs}.values():
                self._publish(staged)
            self._require_blobs(d for _, d, _ in entries)
            c.executemany(
                "INSERT INTO artifacts(origin, container, path, digest, size, created_utc)"
                " VALUES (?,?,?,?,?,?)",
                [(origin, container, p, d, s, now) for p, d, s in entries],
            )
        return [ArtifactRecord(origin, container, p, d, s, now) for p, d, s in entries]

    def set_artifact_content(
        self, origin: str, container: str, path: str, staged: StagedBlob
    ) -> None:
        """Fill an artifact created empty (the SDK creates, then uploads to a SAS URL); the
        staged bytes become its blob in the same transaction."""
        with self.transaction() as c:
            self._publish(staged)
            c.execute(
                "UPDATE artifacts SET digest=?, size=? WHERE origin=? AND container=? AND path=?",
                (staged.digest, staged.size, origin, container, path),
            )

    def get_artifact(self, origin: str, container: str, path: str) -> ArtifactRecord | None:
        rows = self._query(
            "SELECT * FROM artifacts WHERE origin=? AND container=? AND path=?",
            (origin, container, path),
        )
        return _artifact(rows[0]) if rows else None

    def list_artifacts(
        self, origin: str, container: str, prefix: str | None = None
    ) -> list[ArtifactRecord]:
        """Artifacts of a container in path order; with `prefix`, the exact path or anything
        under `prefix/` (whole segments only: `outputs/model` never matches `outputs/model2`)."""
        rows = self._query(
            "SELECT * FROM artifacts WHERE origin=? AND container=? ORDER BY path",
            (origin, container),
        )
        records = [_artifact(r) for r in rows]
        if prefix is None:
            return records
        stem = prefix.rstrip("/")
        return [a for a in records if a.path == stem or a.path.startswith(stem + "/")]

    # ------------------------------------------------------------------ assets

    def create_asset(
        self, prefixes: Sequence[str], *, name: str | None = None, run_id: str | None = None
    ) -> AssetRecord:
        asset = AssetRecord(uuid.uuid4().hex, name, list(prefixes), run_id, utcnow())
        with self.transaction() as c:
            c.execute(
                "INSERT INTO assets(id, name, prefixes, run_id, created_utc) VALUES (?,?,?,?,?)",
                (asset.id, name, _json(asset.prefixes), run_id, asset.created_utc),
            )
        return asset

    def get_asset(self, asset_id: str) -> AssetRecord | None:
        rows = self._query("SELECT * FROM assets WHERE id=?", (asset_id,))
        if not rows:
            return None
        r = rows[0]
        return AssetRecord(
            r["id"], r["name"], json.loads(r["prefixes"]), r["run_id"], r["created_utc"]
        )

    def asset_artifacts(self, asset_id: str) -> list[tuple[str, ArtifactRecord]]:
        """Resolve an asset to `(prefix, artifact)` pairs: what a model download writes."""
        asset = self.get_asset(asset_id)
        if asset is None:
            return []
        out: list[tuple[str, ArtifactRecord]] = []
        for prefix in asset.prefixes:
            origin, container, path = prefix.split("/", 2)
            out.extend((prefix, a) for a in self.list_artifacts(origin, container, path))
        return out

    def model_files(self, asset_id: str) -> list[tuple[str, ArtifactRecord]]:
        """Each file of a model and where a download puts it, relative to the download folder:
        as the SDK, strip `dirname(<path in the asset prefix>)`, so outputs/model.pkl lands as
        model.pkl. A row outside its prefix keeps a `..`, which the download refuses and
        verify reports."""
        plan = []
        for prefix, artifact in self.asset_artifacts(asset_id):
            strip = os.path.dirname(prefix.split("/", 2)[-1])
            relative = artifact.path
            if strip:
                inside = artifact.path.startswith(strip + "/")
                relative = artifact.path[len(strip) + 1 :] if inside else f"../{artifact.path}"
            plan.append((relative, artifact))
        return plan

    # ------------------------------------------------------------------ models

    def register_model(
        self,
        name: str,
        asset_id: str,
        *,
        tags: Mapping[str, str | None] | None = None,
        properties: Mapping[str, str | None] | None = None,
        description: str | None = None,
        framework: str | None = None,
        framework_version: str | None = None,
        run_id: str | None = None,
        experiment_name: str | None = None,
        mime_type: str = "application/json",
        resource_configuration: Mapping[str, Any] | None = None,
        datasets: Sequence[tuple[str, str]] = (),
        sample_input_dataset: str | None = None,
        sample_output_dataset: str | None = None,
    ) -> ModelRecord:
        """Register the next version of `name`: max(version, including deleted) + 1, in one
        transaction, so concurrent writers get distinct, contiguous numbers. The metadata Azure
        keeps with a version (resource configuration, dataset links by scenario, sample input
        and output datasets, each a saved dataset id) is stored in the same row."""
        now = utcnow()
        with self.transaction() as c:
            version = c.execute(
                "SELECT coalesce(max(version), 0) + 1 FROM models WHERE name=?", (name,)
            ).fetchone()[0]
            cur = c.execute(
                "INSERT INTO models(name, version, asset_id, description, framework,"
                " framework_version, tags, properties, run_id, experiment_name, mime_type,"
                " created_utc, resource_configuration, datasets, sample_input_dataset,"
                " sample_output_dataset) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (
                    name,
                    version,
                    asset_id,
                    description,
                    framework or "Custom",
                    framework_version,
                    _json(dict(tags or {})),
                    _json(dict(properties or {})),
                    run_id,
                    experiment_name,
                    mime_type,
                    now,
                    json.dumps(dict(resource_configuration)) if resource_configuration else None,
                    json.dumps([list(link) for link in datasets]),
                    sample_input_dataset,
                    sample_output_dataset,
                ),
            )
            self._index_kv(c, int(cur.lastrowid or 0), tags or {}, properties or {})
            self._link_model_datasets(c, int(cur.lastrowid or 0), datasets)
            failpoint("register.in_transaction")
        record = self.get_model(name, version)
        assert record is not None
        return record

    @staticmethod
    def _index_kv(
        c: sqlite3.Connection,
        seq: int,
        tags: Mapping[str, str | None],
        properties: Mapping[str, str | None],
    ) -> None:
        c.execute("DELETE FROM model_kv WHERE model_seq=?", (seq,))
        c.executemany(
            "INSERT INTO model_kv(model_seq, kind, key, value) VALUES (?,?,?,?)",
            [(seq, "t", k, v) for k, v in tags.items()]
            + [(seq, "p", k, v) for k, v in properties.items()],
        )

    def get_model(self, name: str, version: int) -> ModelRecord | None:
        rows = self._query(
            "SELECT * FROM models WHERE name=? AND version=? AND deleted=0", (name, version)
        )
        return _model(rows[0]) if rows else None

    def query_models(
        self,
        *,
        name: str | None = None,
        tags: Sequence[tuple[str, str | None]] = (),
        properties: Sequence[tuple[str, str | None]] = (),
        run_id: str | None = None,
        framework: str | None = None,
        latest_only: bool = False,
        limit: int | None = None,
        dataset_id: str | None = None,
    ) -> list[ModelRecord]:
        """Models newest first; each `(key, None)` filter means "key present", `(key, v)` means
        "key equals v"; all filters must hold. `latest_only` keeps the newest match per name;
        `dataset_id` keeps versions linked to that saved dataset."""
        filters = [
            (kind, key, value)
            for kind, pairs in (("t", tags), ("p", properties))
            for key, value in pairs
        ]
        # Drive the query from the most selective filter's index range (a key=value one if
        # any), so a tag search costs the number of matches, not the number of versions.
        filters.sort(key=lambda f: f[2] is None)
        source, params = "models m", []
        if filters:
            kind, key, value = filters.pop(0)
            source = "model_kv d CROSS JOIN models m ON m.seq = d.model_seq"
            where = ["d.kind=?", "d.key=?"] + (["d.value=?"] if value is not None else [])
            params += [kind, key] + ([value] if value is not None else [])
            where.append("m.deleted=0")
        else:
            where = ["m.deleted=0"]
        for column, wanted in (("m.name", name), ("m.run_id", run_id), ("m.framework", framework)):
            if wanted is not None:
                where.append(f"{column}=?")
                params.append(wanted)
        for kind, key, value in filters:
            clause = (
                "EXISTS (SELECT 1 FROM model_kv kv WHERE kv.model_seq=m.seq AND kv.kind=?"
                " AND kv.key=?"
            )
            params += [kind, key]
            if value is not None:
                clause += " AND kv.value=?"
                params.append(value)
            where.append(clause + ")")
        if dataset_id is not None:
            where.append(
                "EXISTS (SELECT 1 FROM model_datasets md WHERE md.model_seq=m.seq"
                " AND md.dataset_id=?)"
            )
            params.append(dataset_id)
        sql = f"SELECT m.* FROM {source} WHERE {' AND '.join(where)} ORDER BY m.seq DESC"
        if limit is not None and not latest_only:
            sql += f" LIMIT {int(limit)}"
        records = [_model(r) for r in self._query(sql, params)]
        if latest_only:
            newest: dict[str, ModelRecord] = {}
            for record in records:
                newest.setdefault(record.name, record)
            records = list(newest.values())
            if limit is not None:
                records = records[:limit]
        return records

    def update_model(
        self,
        name: str,
        version: int,
        *,
        tags: Mapping[str, str | None] | None = None,
        properties: Mapping[str, str | None] | None = None,
        description: str | None = None,
        add_datasets: Sequence[tuple[str, str]] = (),
        sample_input_dataset: str | None = None,
        sample_output_dataset: str | None = None,
        resource_configuration: Mapping[str, Any] | None = None,
    ) -> ModelRecord:
        """Replace tags and/or description; merge properties, refusing any existing key (the
        service treats model properties as immutable); add dataset links; replace the sample
        datasets and the resource configuration."""
        with self.transaction() as c:
            row = c.execute(
                "SELECT seq, tags, properties FROM models WHERE name=? AND version=? AND deleted=0",
                (name, version),
            ).fetchone()
            if row is None:
                raise KeyError(f"{name}:{version}")
            seq, new_tags = row[0], json.loads(row[1])
            new_props: dict[str, str | None] = json.loads(row[2])
            if tags is not None:
                new_tags = dict(tags)
            if properties:
                clash = [k for k in properties if k in new_props and new_props[k] != properties[k]]
                if clash:
                    raise PropertyConflict(clash)
                new_props.update(properties)
            sets, params = (
                ["tags=?", "properties=?", "modified_utc=?"],
                [_json(new_tags), _json(new_props), utcnow()],
            )
            if description is not None:
                sets.append("description=?")
                params.append(description)
            if add_datasets:
                old = c.execute("SELECT datasets FROM models WHERE seq=?", (seq,)).fetchone()[0]
                links = [*json.loads(old), *(list(link) for link in add_datasets)]
                sets.append("datasets=?")
                params.append(json.dumps(links))
                self._link_model_datasets(c, seq, add_datasets)
            for column, value in (
                ("sample_input_dataset", sample_input_dataset),
                ("sample_output_dataset", sample_output_dataset),
            ):
                if value is not None:
                    sets.append(f"{column}=?")
                    params.append(value)
            if resource_configuration is not None:
                sets.append("resource_configuration=?")
                params.append(json.dumps(dict(resource_configuration)))
            c.execute(f"UPDATE models SET {', '.join(sets)} WHERE seq=?", [*params, seq])
            self._index_kv(c, seq, new_tags, new_props)
        record = self.get_model(name, version)
        assert record is not None
        return record

    def delete_model(self, name: str, version: int) -> bool:
        """Soft delete: the row stays, so its version number is never handed out again."""
        with self.transaction() as c:
            cur = c.execute(
                "UPDATE models SET deleted=1, modified_utc=? WHERE name=? AND"
                " version=? AND deleted=0",
                (utcnow(), name, version),
            )
            return cur.rowcount == 1

    # ------------------------------------------------------------------ maintenance

    def all_models(self) -> list[ModelRecord]:
        """Every live version, oldest first (for verification)."""
        return [_model(r) for r in self._query("SELECT * FROM models WHERE deleted=0 ORDER BY seq")]

    def referenced_digests(self) -> set[str]:
        return {
            r["digest"]
            for r in self._query("SELECT DISTINCT digest FROM artifacts WHERE digest IS NOT NULL")
        }

    def all_artifacts(self) -> list[ArtifactRecord]:
        return [_artifact(r) for r in self._query("SELECT * FROM artifacts ORDER BY rowid")]

    def integrity_check(self) -> list[str]:
        """SQLite's own full check (pages, free list, every index against its table): empty
        when the file is sound. A page too damaged to read is reported, not raised."""
        try:
            rows = self._query("PRAGMA integrity_check")
        except WorkspaceStoreError as exc:
            return [str(exc.__cause__ or exc)]
        return [str(r[0]) for r in rows if r[0] != "ok"]


# --------------------------------------------------------------------------- helpers


def _run(r: sqlite3.Row) -> RunRecord:
    return RunRecord(
        run_id=r["run_id"],
        experiment=r["experiment"],
        run_number=r["run_number"],
        parent_id=r["parent_id"],
        root_id=r["root_id"],
        name=r["name"],
        display_name=r["display_name"],
        run_type=r["run_type"],
        status=r["status"],
        created_utc=r["created_utc"],
        start_utc=r["start_utc"],
        end_utc=r["end_utc"],
        tags=json.loads(r["tags"]),
        properties=json.loads(r["properties"]),
        data_container_id=r["data_container_id"],
        error=json.loads(r["error"]) if r["error"] else None,
    )


def _artifact(r: sqlite3.Row) -> ArtifactRecord:
    return ArtifactRecord(
        r["origin"], r["container"], r["path"], r["digest"], r["size"], r["created_utc"]
    )


def _model(r: sqlite3.Row) -> ModelRecord:
    return ModelRecord(
        name=r["name"],
        version=r["version"],
        asset_id=r["asset_id"],
        description=r["description"],
        framework=r["framework"],
        framework_version=r["framework_version"],
        tags=json.loads(r["tags"]),
        properties=json.loads(r["properties"]),
        run_id=r["run_id"],
        experiment_name=r["experiment_name"],
        mime_type=r["mime_type"],
        created_utc=r["created_utc"],
        modified_utc=r["modified_utc"],
        deleted=bool(r["deleted"]),
        seq=r["seq"],
        resource_configuration=(
            json.loads(r["resource_configuration"]) if r["resource_configuration"] else None
        ),
        datasets=tuple((str(s), str(i)) for s, i in json.loads(r["datasets"])),
        sample_input_dataset=r["sample_input_dataset"],
        sample_output_dataset=r["sample_output_dataset"],
    )


def _check_export_names(names: Sequence[str]) -> None:
    """The registration rule again, plus: no two files, and no file that is another's folder."""
    for name in names:
        try:
            check_artifact_path(name)
        except InvalidArtifactPath:
            raise WorkspaceStoreError(
                f"the workspace names a model file {name!r}, a path that could escape the "
                "download folder; nothing was written. The workspace may have been tampered "
                "with: run `champion verify`.",
                field="artifact_path",
                value=name,
            ) from None
    folders = {"/".join(n.split("/")[:i]) for n in names for i in range(1, n.count("/") + 1)}
    clash = sorted({n for n in names if names.count(n) > 1} | (set(names) & folders))
    if clash:
        raise WorkspaceStoreError(
            f"the workspace lists {', '.join(map(repr, clash))} twice, or as a file and a "
            "folder; nothing was written. Run `champion verify`.",
            field="artifact_path",
            value=clash[0],
        )


def _schema_shape(conn: sqlite3.Connection) -> set[str]:
    """Tables with their columns and types, and indexes with their tables, as comparable text."""
    shape: set[str] = set()
    rows = conn.execute(
        "SELECT type, name, tbl_name FROM sqlite_master WHERE name NOT LIKE 'sqlite%' ORDER BY name"
    ).fetchall()
    for kind, name, table in rows:
        if kind == "table":
            shape.add(f"table {name}")
            for column in conn.execute(f"PRAGMA table_info({json.dumps(name)})"):
                shape.add(f"column {name}.{column[1]} {column[2]}")
        else:
            shape.add(f"{kind} {name} on {table}")
    return shape


def _same_file_bytes(path: Path, staged: StagedBlob) -> bool:
    """Whether the stored blob at `path` holds exactly the staged bytes (read both: small)."""
    try:
        if path.stat().st_size != staged.size:
            return False
        with open(path, "rb") as stored, open(staged.path, "rb") as fresh:
            while chunk := fresh.read(CHUNK):
                if stored.read(len(chunk)) != chunk:
                    return False
            return stored.read(1) == b""
    except FileNotFoundError:
        return False


def _file_key(path: str | os.PathLike[str]) -> tuple[str, int, int, int, int]:
    """Identity of a file's current content, as far as stat can tell."""
    info = os.stat(path)
    return (os.path.realpath(path), info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns)


@contextlib.contextmanager
def _reader(source: str | os.PathLike[str] | IO[bytes]) -> Iterator[IO[bytes]]:
    if isinstance(source, str | os.PathLike):
        with open(source, "rb") as fh:
            yield fh
    else:
        yield source


def _make_private_dir(path: Path, *, parents: bool = False) -> None:
    """Workspace folders are owner-only: they hold models and run metadata."""
    path.mkdir(mode=0o700, parents=parents, exist_ok=True)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
