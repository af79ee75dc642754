"""The workspace database's schema, how an older workspace is upgraded, and how an open
database is checked against what this release writes.

Version 1 is the registry (runs, metrics, artifacts, assets, models); version 2 adds the data
plane (datastores, datasets, the links from a model to them); version 3 adds deployments (the
models `champion serve` is serving, which a version delete must not pull from under it); version
4 keeps small blobs (a decision record) in the database, stored by the commit that writes the
row naming them; version 5 adds what Azure ML's v2 model registry keeps per version (archived,
stage, the asset's uri, type, flavors and job), an index of live versions in creation order
(versions a client numbers itself need not be created in order), and blob metadata. A new
workspace is created as version 1 and upgraded step by step, so every upgrade runs on every
create; an older workspace is upgraded through the same steps, all of them in one transaction.
"""

from __future__ import annotations

import json
import sqlite3
import uuid
from collections.abc import Callable

from champion.errors import WorkspaceStoreError
from champion.local.store.layout import DB_NAME, has_blobs, orphaned_blobs
from champion.local.store.records import (
    BLOB_TYPE,
    DEFAULT_DATASTORE,
    FILE_DATASTORE,
    FILE_TYPE,
    utcnow,
)
from champion.local.store.transactions import Transactions

SCHEMA_VERSION = 5

SCHEMA_V1 = """
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


#: Statements that turn a version 2 workspace into a version 3 one (also run on a fresh one).
#: A deployment is a served process: its pid, the kernel's start time of that pid (so a reused
#: pid is not mistaken for the server) and the host it ran on decide whether it is still active.
SCHEMA_V3 = """
CREATE TABLE deployments (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL, port INTEGER NOT NULL, pid INTEGER NOT NULL, process_token TEXT,
    host TEXT NOT NULL, entry_script TEXT, started_utc TEXT NOT NULL, stopped_utc TEXT
);
CREATE INDEX deployments_name ON deployments(name, stopped_utc);
CREATE TABLE deployment_models (
    deployment_id INTEGER NOT NULL REFERENCES deployments(id),
    model_name TEXT NOT NULL, version INTEGER NOT NULL
);
CREATE INDEX deployment_models_model ON deployment_models(model_name, version, deployment_id)
"""


def migrate_2_to_3(c: sqlite3.Connection, workspace_id: str, now: str) -> None:
    """Upgrade a version 2 workspace in place, inside the caller's transaction: the deployment
    tables (empty: nothing was served before)."""
    for statement in SCHEMA_V3.split(";"):
        if statement.strip():
            c.execute(statement)
    c.execute("UPDATE meta SET value='3' WHERE key='schema_version'")


#: Statements that turn a version 3 workspace into a version 4 one (also run on a fresh one).
#: Small blobs by digest, as blobs/ holds the others (`store/inline.py`).
SCHEMA_V4 = """
CREATE TABLE inline_blobs (digest TEXT PRIMARY KEY, content BLOB NOT NULL)
"""


def migrate_3_to_4(c: sqlite3.Connection, workspace_id: str, now: str) -> None:
    """Upgrade a version 3 workspace in place, inside the caller's transaction: the table of
    small blobs (empty: every blob of an older workspace is a file)."""
    for statement in SCHEMA_V4.split(";"):
        if statement.strip():
            c.execute(statement)
    c.execute("UPDATE meta SET value='4' WHERE key='schema_version'")


#: Statements that turn a version 4 workspace into a version 5 one (also run on a fresh one).
#: `stage` NULL is the service's default stage; `spec` is the v2 asset description (JSON) of a
#: version registered through azure-ai-ml. `models_created` finds the newest live version of a
#: name without the version index, which no longer agrees with creation order once a client may
#: create version 3 after version 7; `latest_model` reads both creation-order indexes.
SCHEMA_V5 = """
ALTER TABLE models ADD COLUMN archived INTEGER NOT NULL DEFAULT 0;
ALTER TABLE models ADD COLUMN stage TEXT;
ALTER TABLE models ADD COLUMN spec TEXT;
CREATE INDEX models_created ON models(name, seq) WHERE deleted = 0;
CREATE TABLE blob_metadata (
    datastore TEXT NOT NULL, path TEXT NOT NULL, metadata TEXT NOT NULL,
    PRIMARY KEY (datastore, path)
)
"""


def migrate_4_to_5(c: sqlite3.Connection, workspace_id: str, now: str) -> None:
    """Upgrade a version 4 workspace in place, inside the caller's transaction: every existing
    version is active, in the default stage, with no v2 description."""
    for statement in SCHEMA_V5.split(";"):
        if statement.strip():
            c.execute(statement)
    c.execute("UPDATE meta SET value='5' WHERE key='schema_version'")


def _upgrades_from(version: str) -> list[Callable[[sqlite3.Connection, str, str], None]]:
    """The steps from `version` to this release's, looked up when called (tests replace one)."""
    steps = {
        "1": "migrate_1_to_2",
        "2": "migrate_2_to_3",
        "3": "migrate_3_to_4",
        "4": "migrate_4_to_5",
    }
    names = list(steps.values())[list(steps).index(version) :]
    return [globals()[name] for name in names]


def schema_shape(conn: sqlite3.Connection) -> set[str]:
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


class SchemaChecks(Transactions):
    """Checking the schema of the database just opened, creating or upgrading it."""

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
                    if has_blobs(self.root):
                        raise orphaned_blobs(self.root)
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
        found = self._check_schema(tables)
        if found != str(SCHEMA_VERSION):
            self._upgrade_from(found)

    def _create_schema(self) -> None:
        # one statement at a time: executescript() would COMMIT our transaction first
        for statement in SCHEMA_V1.split(";"):
            if statement.strip():
                self._conn.execute(statement)
        workspace_id, now = str(uuid.uuid4()), utcnow()
        self._conn.executemany(
            "INSERT INTO meta(key, value) VALUES (?, ?)",
            [("schema_version", "1"), ("workspace_id", workspace_id), ("created_utc", now)],
        )
        # a new workspace is a version 1 one, upgraded: every upgrade runs on every create
        for upgrade in _upgrades_from("1"):
            upgrade(self._conn, workspace_id, now)

    def _schema_version(self) -> str | None:
        row = self._conn.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
        return None if row is None else str(row[0])

    def _check_schema(self, tables: set[str]) -> str:
        """Refuse a database that is not ours or is newer than this code; returns its version
        (an older one is a workspace to upgrade)."""
        where = self.root / DB_NAME
        if "meta" not in tables:
            raise WorkspaceStoreError(
                f"{where} is a SQLite database but not a champion workspace (no schema version).",
                field="schema_version",
                value=None,
            )
        found = self._schema_version()
        if found not in {str(v) for v in range(1, SCHEMA_VERSION + 1)}:
            raise WorkspaceStoreError(
                f"{where} has schema version {found!r}; this champion reads version "
                f"{SCHEMA_VERSION}. Use the champion release that wrote it.",
                field="schema_version",
                value=found,
            )
        return str(found)

    def _upgrade_from(self, version: str) -> None:
        """Upgrade an older workspace in place, every step in one write transaction (all of it
        or none of it). A read-only open cannot, and says how to upgrade rather than misread
        it."""
        where = self.root / DB_NAME
        if self.read_only:
            raise WorkspaceStoreError(
                f"{where} is a version {version} workspace, made by an older champion; this one "
                f"reads version {SCHEMA_VERSION}. Run a command that writes (e.g. 'champion gc') "
                "on a writable copy once to upgrade it in place; its data is kept.",
                field="schema_version",
                value=version,
            )
        with self.transaction():
            found = self._schema_version()
            if found == str(SCHEMA_VERSION):
                return  # another process upgraded it while we waited for the lock
            workspace_id = self._conn.execute(
                "SELECT value FROM meta WHERE key='workspace_id'"
            ).fetchone()[0]
            try:
                for upgrade in _upgrades_from(str(found)):
                    upgrade(self._conn, str(workspace_id), utcnow())
            except sqlite3.DatabaseError as exc:  # rolled back by the transaction
                raise WorkspaceStoreError(
                    f"{where} is a version {found} workspace and could not be upgraded to "
                    f"version {SCHEMA_VERSION} ({exc}); it was left unchanged. Check free disk "
                    "space and permissions, then open it again.",
                    field="schema_version",
                    value=str(found),
                ) from exc

    def schema_drift(self) -> list[str]:
        """How the database's tables, columns and indexes differ from the schema this release
        writes: a hand-edited or half-migrated database is damage, even with the right version."""
        expected = sqlite3.connect(":memory:")
        try:
            expected.executescript(SCHEMA_V1)
            expected.executescript(SCHEMA_V2)
            expected.executescript(SCHEMA_V3)
            expected.executescript(SCHEMA_V4)
            expected.executescript(SCHEMA_V5)
            want = schema_shape(expected)
        finally:
            expected.close()
        with self._lock:
            have = schema_shape(self._conn)
        problems = [f"missing {what}" for what in sorted(want - have)]
        problems += [f"unexpected {what}" for what in sorted(have - want)]
        return problems
