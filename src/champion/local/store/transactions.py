"""One SQLite connection per workspace and process, and the transactions taken on it.

Every read-then-write is a `BEGIN IMMEDIATE` transaction, so the read that decides a write (the
next version number, an existing artifact) cannot go stale; nested calls are savepoints, which
lets a caller hold the write lock across lookup, decision and registration. Several reads that
must agree take a `snapshot()`. Any SQLite failure becomes one `WorkspaceStoreError` line.
A read of a database opened as an immutable file (`frozen.py`) is kept only if the file did not
change while it was read.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from champion.errors import InfrastructureError, WorkspaceStoreError
from champion.local.store.frozen import FrozenFile
from champion.local.store.layout import DB_NAME

BUSY_TIMEOUT_MS = 60_000
REREADS = 3  # reads of a frozen file thrown away because a writer came, before giving up


class ChangedWhileRead(InfrastructureError):
    """A database read as an immutable file changed while it was read (a writer came); not
    damage: reading again sees the writer's state."""


class Transactions:
    """The connection of one open workspace and its lock depth (set up by `Connection`)."""

    root: Path
    read_only: bool
    _conn: sqlite3.Connection
    _lock: threading.RLock
    _depth: int
    _frozen: FrozenFile | None

    def _reopen(self) -> None:
        """Open the database again (`Connection`)."""
        raise NotImplementedError

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
            if self._frozen is not None and not self._frozen.unchanged():
                self._reopen()  # a writer came since the last read: start on a fresh view
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
        if name.startswith(("SQLITE_CORRUPT", "SQLITE_NOTADB")):
            return WorkspaceStoreError(
                f"the workspace database {db_path} is damaged ({exc}); nothing was changed. "
                "Run `champion verify`, and restore the workspace from a copy.",
                field="workspace",
                value=str(db_path),
            )
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
            for _ in range(REREADS):
                try:
                    rows = self._conn.execute(sql, params).fetchall()
                except sqlite3.DatabaseError as exc:
                    if self._read_held():
                        raise self.database_error(exc) from exc
                    continue  # a page a writer was changing, not damage: read it again
                if self._read_held():
                    return rows
            raise self._changed_while_read()

    def _read_held(self) -> bool:
        """Whether what was just read can be trusted: always, unless the database was opened
        as an immutable file that has changed since (a writer came). Then the connection is
        opened again, and the caller reads again; inside a snapshot, whose earlier reads saw
        the old file, the command stops instead."""
        if self._frozen is None or self._frozen.unchanged():
            return True
        if self._depth > 0:
            raise self._changed_while_read()
        self._reopen()
        return False

    def _changed_while_read(self) -> ChangedWhileRead:
        db_path = self.root / DB_NAME
        return ChangedWhileRead(
            f"the workspace database {db_path} changed while this command read it (a process "
            "that may write it started writing); nothing was changed. Run the command again.",
            field="workspace",
            value=str(db_path),
        )

    @property
    def workspace_id(self) -> str:
        return str(self._query("SELECT value FROM meta WHERE key='workspace_id'")[0]["value"])

    @property
    def workspace_created(self) -> str:
        """When the workspace was created (ISO-8601): its resource's `systemData.createdAt`."""
        return str(self._query("SELECT value FROM meta WHERE key='created_utc'")[0]["value"])
