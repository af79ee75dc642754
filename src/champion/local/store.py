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
next version. A blob is streamed to a temp file, fsynced and renamed into place before any row
refers to it, so a crash leaves at worst an orphan file, never a row pointing at nothing.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sqlite3
import threading
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from champion.errors import WorkspaceStoreError
from champion.failpoints import failpoint
from champion.local._store_data import DataStoreMixin, migrate_1_to_2

SCHEMA_VERSION = 2
DB_NAME = "workspace.db"
BLOBS_DIR = "blobs"
TMP_DIR = "tmp"
CHUNK = 1024 * 1024
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


_open_stores: dict[tuple[int, str], Store] = {}
_open_lock = threading.Lock()


def _json(data: Mapping[str, Any] | Sequence[Any] | None) -> str:
    return json.dumps(data if data is not None else {}, sort_keys=False)


def _blob_relpath(digest: str) -> str:
    return f"{BLOBS_DIR}/sha256/{digest[:2]}/{digest}"


class Store(DataStoreMixin):
    """One local workspace folder: `workspace.db` plus `blobs/`, `tmp/` and `datastores/`.

    Open it with `Store.open(path)`, which returns one shared instance per folder and process, so
    that every local object of a workspace sees the same connection and the same lock depth.
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self._lock = threading.RLock()
        self._depth = 0
        _make_private_dir(root)
        db_path = root / DB_NAME
        if not db_path.exists() and self._has_blobs():
            raise self._orphaned_blobs()
        fd = os.open(db_path, os.O_RDWR | os.O_CREAT, 0o600)
        os.close(fd)
        self._conn = sqlite3.connect(
            db_path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None, check_same_thread=False
        )
        self._conn.row_factory = sqlite3.Row
        try:
            self._conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
            # Schema first: a file that is not ours is refused before anything writes to it
            # (switching to WAL would rewrite its header and add -wal/-shm files).
            self._init_schema()
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=FULL")
            self._conn.execute("PRAGMA foreign_keys=ON")
        except sqlite3.DatabaseError as exc:
            self._conn.close()
            raise WorkspaceStoreError(
                f"the local workspace database {db_path} cannot be read ({exc}); it is not a "
                "champion workspace or it is corrupt. Run `champion verify` or restore it.",
                field="workspace",
                value=str(db_path),
            ) from exc
        except WorkspaceStoreError:
            self._conn.close()
            raise
        _make_private_dir(root / TMP_DIR)

    def _has_blobs(self) -> bool:
        blobs = self.root / BLOBS_DIR
        return blobs.exists() and any(blobs.iterdir())

    def _orphaned_blobs(self) -> WorkspaceStoreError:
        return WorkspaceStoreError(
            f"the local workspace at {self.root} has blobs but no registry in {DB_NAME}; "
            "refusing to create an empty registry over existing data. Restore the database or "
            "choose another folder.",
            field="workspace",
            value=str(self.root),
        )

    @classmethod
    def open(cls, path: str | os.PathLike[str]) -> Store:
        """The shared store for a folder in this process (a forked child gets its own)."""
        root = Path(path).expanduser().resolve()
        key = (os.getpid(), str(root))
        with _open_lock:
            store = _open_stores.get(key)
            if store is None:
                store = cls(root)
                _open_stores[key] = store
            return store

    def close(self) -> None:
        with _open_lock:
            _open_stores.pop((os.getpid(), str(self.root)), None)
        self._conn.close()

    # ------------------------------------------------------------------ transactions

    def _init_schema(self) -> None:
        with self.transaction():
            tables = {
                r[0]
                for r in self._conn.execute("SELECT name FROM sqlite_master WHERE type='table'")
            }
            if not tables:
                if self._has_blobs():
                    raise self._orphaned_blobs()
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
                return
            self._check_schema(tables)

    def _check_schema(self, tables: set[str]) -> None:
        """Refuse a database that is not ours or is newer than this code; upgrade a version 1
        workspace in place (inside the open's transaction: all of it or none of it)."""
        where = self.root / DB_NAME
        if "meta" not in tables:
            raise WorkspaceStoreError(
                f"{where} is a SQLite database but not a champion workspace (no schema version).",
                field="schema_version",
                value=None,
            )
        row = self._conn.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
        found = row[0] if row else None
        if found == "1":
            workspace_id = self._conn.execute(
                "SELECT value FROM meta WHERE key='workspace_id'"
            ).fetchone()[0]
            try:
                migrate_1_to_2(self._conn, str(workspace_id), utcnow())
            except sqlite3.DatabaseError as exc:
                raise WorkspaceStoreError(
                    f"{where} is a version 1 workspace and could not be upgraded to version "
                    f"{SCHEMA_VERSION} ({exc}); it was left unchanged. Check free disk space and "
                    "permissions, then open it again.",
                    field="schema_version",
                    value=found,
                ) from exc
            return
        if found != str(SCHEMA_VERSION):
            raise WorkspaceStoreError(
                f"{where} has schema version {found!r}; this champion reads version "
                f"{SCHEMA_VERSION}. Use the champion release that wrote it.",
                field="schema_version",
                value=found,
            )

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """A write transaction, taken with BEGIN IMMEDIATE so the read that decides a write
        (the next version, an existing artifact) cannot go stale. Nested calls become savepoints,
        which is what lets a caller hold the lock across lookup, decision and registration."""
        with self._lock:
            if self._depth == 0:
                self._conn.execute("BEGIN IMMEDIATE")
            else:
                self._conn.execute(f"SAVEPOINT sp{self._depth}")
            self._depth += 1
            try:
                yield self._conn
            except BaseException:
                self._depth -= 1
                if self._depth == 0:
                    self._conn.execute("ROLLBACK")
                else:
                    self._conn.execute(f"ROLLBACK TO sp{self._depth}")
                    self._conn.execute(f"RELEASE sp{self._depth}")
                raise
            self._depth -= 1
            if self._depth == 0:
                self._conn.execute("COMMIT")
            else:
                self._conn.execute(f"RELEASE sp{self._depth}")

    def _query(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        with self._lock:
            return self._conn.execute(sql, params).fetchall()

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

    def put_blob(self, source: str | os.PathLike[str] | IO[bytes]) -> tuple[str, int]:
        """Store bytes once by their sha256 and return (digest, size).

        Streams in 1 MiB chunks (memory stays flat for any size), fsyncs the temp file, then
        renames it into place and fsyncs the folder: only then may a row name the digest."""
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
            digest = hasher.hexdigest()
            final = self.root / _blob_relpath(digest)
            if final.exists():
                tmp.unlink()
                os.utime(final)  # fresh mtime: `champion gc` spares blobs younger than its grace
            else:
                _make_private_dir(final.parent, parents=True)
                os.replace(tmp, final)
                _fsync_dir(final.parent)
                failpoint("blob.renamed")
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
            raise
        return digest, size

    def blob_path(self, digest: str) -> Path:
        return self.root / _blob_relpath(digest)

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
        self, origin: str, container: str, entries: Sequence[tuple[str, str | None, int]]
    ) -> list[ArtifactRecord]:
        """Create artifacts `(path, digest, size)` all or none: an existing path is a conflict,
        as the service has no overwrite."""
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
            c.executemany(
                "INSERT INTO artifacts(origin, container, path, digest, size, created_utc)"
                " VALUES (?,?,?,?,?,?)",
                [(origin, container, p, d, s, now) for p, d, s in entries],
            )
        return [ArtifactRecord(origin, container, p, d, s, now) for p, d, s in entries]

    def set_artifact_content(
        self, origin: str, container: str, path: str, digest: str, size: int
    ) -> None:
        """Fill an artifact created empty (the SDK creates, then uploads to a SAS URL)."""
        with self.transaction() as c:
            c.execute(
                "UPDATE artifacts SET digest=?, size=? WHERE origin=? AND container=? AND path=?",
                (digest, size, origin, container, path),
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

    def integrity_check(self) -> list[str]:
        rows = self._query("PRAGMA integrity_check")
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
