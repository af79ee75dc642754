"""Opening a workspace folder: refusing what is not a workspace, creating one only when asked,
connecting to its database (read-write, or read-only without writing a byte) and checking its
schema before anything writes to it.

A workspace this user may not write is refused to a writer before anything is opened (a
permission, or a read-only mount: never called damage), and still opened by a reader: through
SQLite's own read-only path where SQLite can coordinate with writers, else as a guarded
immutable file (`frozen.py`), never in a way that could read a torn state.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import urllib.parse
from pathlib import Path

from champion.errors import InputError, NotAWorkspaceError, WorkspaceStoreError
from champion.local.store.frozen import FrozenFile
from champion.local.store.layout import (
    BLOBS_DIR,
    DB_NAME,
    STAGING_LOCK,
    TMP_DIR,
    has_blobs,
    make_private_dir,
    not_readable,
    orphaned_blobs,
    unwritable,
)
from champion.local.store.schema import SchemaChecks
from champion.local.store.transactions import BUSY_TIMEOUT_MS, REREADS

SQLITE_READONLY = 8
SQLITE_CANTOPEN = 14
CACHE_KIB = 16 * 1024  # SQLite's page cache per connection (its default is 2 MiB)


class Connection(SchemaChecks):
    """An open workspace folder and its database connection."""

    def __init__(self, root: Path, *, create: bool = False, read_only: bool = False) -> None:
        self.root = root
        self.read_only = read_only
        self._lock = threading.RLock()
        self._depth = 0
        self._frozen = None
        db_path = root / DB_NAME
        if create and not read_only:
            self._prepare_folder()
        elif root.exists() and not root.is_dir():
            raise NotAWorkspaceError(root, " (a file, not a folder)")
        elif root.is_dir() and not os.access(root, os.R_OK | os.X_OK):
            raise not_readable(root)
        elif not db_path.is_file():
            if has_blobs(root):
                raise orphaned_blobs(root)
            raise NotAWorkspaceError(root)
        refusal = unwritable(root) if not read_only else None
        if refusal is not None:
            raise refusal
        if not os.access(db_path, os.R_OK):
            raise not_readable(db_path)
        self._open(create=create and not read_only)
        if not read_only:
            make_private_dir(root / TMP_DIR)

    def _open(self, *, create: bool) -> None:
        """Connect, set the connection up and check (or create, or upgrade) the schema; again
        if a frozen file changed meanwhile (a writer came: see `frozen.py`)."""
        for _ in range(REREADS):
            if self._open_once(create=create):
                return
            self._close_connection()
        raise self._changed_while_read()

    def _open_once(self, *, create: bool) -> bool:
        """False when what was read cannot be kept: a frozen file changed while it was read."""
        db_path = self.root / DB_NAME
        read_only = self.read_only
        try:
            self._conn = self._connect(db_path)
        except sqlite3.DatabaseError as exc:
            raise self._unreadable(exc) from exc
        self._conn.row_factory = sqlite3.Row
        try:
            self._conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
            # Schema first: a file that is not ours is refused before anything writes to it
            # (switching to WAL would rewrite its header and add -wal/-shm files).
            self._init_schema(create=create)
            # Statement journals and sorts in memory: no temp file is created, written and
            # deleted inside a registration's transaction. A larger page cache keeps the
            # indexes a registration touches in memory as the registry grows.
            self._conn.execute("PRAGMA temp_store=MEMORY")
            self._conn.execute(f"PRAGMA cache_size=-{CACHE_KIB}")
            if not read_only:
                self._conn.execute("PRAGMA journal_mode=WAL")
                self._conn.execute("PRAGMA synchronous=FULL")
                self._conn.execute("PRAGMA foreign_keys=ON")
        except sqlite3.DatabaseError as exc:
            if self._frozen is not None and not self._frozen.unchanged():
                return False  # a page a writer was changing, not damage
            self._close_connection()
            raise self._unreadable(exc) from exc
        except BaseException:
            self._close_connection()
            raise
        return self._frozen is None or self._frozen.unchanged()

    def _reopen(self) -> None:
        """Open the database again: what an immutable read saw changed under it (a writer
        came), so its connection and page cache are thrown away. SQLite's own read-only path
        usually works now, on the writer's -wal and -shm files."""
        self._close_connection()
        self._open(create=False)

    def _close_connection(self) -> None:
        self._conn.close()
        if self._frozen is not None:
            self._frozen.close()
            self._frozen = None

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
            if has_blobs(root):
                raise orphaned_blobs(root)
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
        make_private_dir(root, parents=True)
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
            # no -shm file, and no right to create one (READONLY_DIRECTORY; CANTOPEN on a
            # read-only mount): anything else is the file's own problem
            if getattr(exc, "sqlite_errorcode", 0) & 0xFF not in (SQLITE_CANTOPEN, SQLITE_READONLY):
                raise
        frozen = FrozenFile(db_path)
        try:
            conn = frozen.connect(timeout)
        except BaseException:
            frozen.close()
            raise
        self._frozen = frozen
        return conn

    def _unreadable(self, exc: sqlite3.DatabaseError) -> WorkspaceStoreError:
        db_path = self.root / DB_NAME
        return WorkspaceStoreError(
            f"the local workspace database {db_path} cannot be read ({exc}); it is not a "
            "champion workspace or it is corrupt. Run `champion verify` or restore it.",
            field="workspace",
            value=str(db_path),
        )
