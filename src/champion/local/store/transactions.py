"""One SQLite connection per workspace and process, and the transactions taken on it.

Every read-then-write is a `BEGIN IMMEDIATE` transaction, so the read that decides a write (the
next version number, an existing artifact) cannot go stale; nested calls are savepoints, which
lets a caller hold the write lock across lookup, decision and registration. Several reads that
must agree take a `snapshot()`. Any SQLite failure becomes one `WorkspaceStoreError` line.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from champion.errors import WorkspaceStoreError
from champion.local.store.layout import DB_NAME

BUSY_TIMEOUT_MS = 60_000


class Transactions:
    """The connection of one open workspace and its lock depth (set up by `Connection`)."""

    root: Path
    read_only: bool
    _conn: sqlite3.Connection
    _lock: threading.RLock
    _depth: int

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
