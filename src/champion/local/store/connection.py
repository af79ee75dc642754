"""Opening a workspace folder: refusing what is not a workspace, creating one only when asked,
connecting to its database (read-write, or read-only without writing a byte) and checking its
schema before anything writes to it."""

from __future__ import annotations

import os
import sqlite3
import threading
import urllib.parse
from pathlib import Path

from champion.errors import InputError, NotAWorkspaceError, WorkspaceStoreError
from champion.local.store.layout import (
    BLOBS_DIR,
    DB_NAME,
    STAGING_LOCK,
    TMP_DIR,
    has_blobs,
    make_private_dir,
    orphaned_blobs,
)
from champion.local.store.schema import SchemaChecks
from champion.local.store.transactions import BUSY_TIMEOUT_MS

SQLITE_CANTOPEN = 14
CACHE_KIB = 16 * 1024  # SQLite's page cache per connection (its default is 2 MiB)


class Connection(SchemaChecks):
    """An open workspace folder and its database connection."""

    def __init__(self, root: Path, *, create: bool = False, read_only: bool = False) -> None:
        self.root = root
        self.read_only = read_only
        self._lock = threading.RLock()
        self._depth = 0
        db_path = root / DB_NAME
        if create and not read_only:
            self._prepare_folder()
        elif root.exists() and not root.is_dir():
            raise NotAWorkspaceError(root, " (a file, not a folder)")
        elif not db_path.is_file():
            if has_blobs(root):
                raise orphaned_blobs(root)
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
            self._conn.close()
            raise self._unreadable(exc) from exc
        except BaseException:
            self._conn.close()
            raise
        if not read_only:
            make_private_dir(root / TMP_DIR)

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
