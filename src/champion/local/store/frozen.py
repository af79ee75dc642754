"""Reading a WAL database that SQLite cannot coordinate on: no `-shm` file, and no right to
create one (a workspace another user owns, `chmod -R a-w`, a read-only mount).

Why this is needed: a reader of a WAL database shares the wal-index (`workspace.db-shm`) with
the writers. When that file and the log are absent and the folder is not writable, SQLite
refuses to open the database at all (SQLITE_READONLY_DIRECTORY, or CANTOPEN on a read-only
mount). A folder that holds a `-shm` file SQLite may read is no problem: SQLite reads it
read-only, and does so safely whether or not a writer is live.

What we do: read the database as it is, without SQLite's coordination, which is exact only
while nobody writes it. Nobody can be proved absent (another user, or root, may write where we
may not), so the read is made safe instead:

1. With no log, or an empty one, the database file is the whole registry: SQLite opens it
   with `immutable=1` (no lock, no -shm). A log holding changes (a copy made without its -shm
   file) can be read only through a wal-index, which SQLite builds in a folder it may write:
   the database and its log are copied to a private temp folder, and the copy is read.
2. We hold SQLite's own SHARED lock on the database file, as every SQLite reader does, for as
   long as the connection is open. A writer changes the database file only by checkpointing
   its log into it, and removes its log only on its last close, which SQLite does only under an
   EXCLUSIVE lock that our SHARED lock denies. So while we read, a writer that starts must
   leave its log in place.
3. After every read we check that the log is as it was (still absent, or the same file of the
   same size and times) and that the database file has the same inode, size and times. If
   anything changed, a writer came: what we read is thrown away and read again through
   SQLite's normal path, which the writer's `-wal` and `-shm` files now make possible.

A writer in SQLite's exclusive locking mode holds the EXCLUSIVE lock for its whole life: then
we cannot take ours, and say so instead of waiting. The lock is an open-file-description lock
where the platform has them (Linux): closing another descriptor of the same file in this
process (SQLite's own, for instance) does not release it, as it would a classic POSIX lock.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import shutil
import sqlite3
import struct
import tempfile
import urllib.parse
import weakref
from pathlib import Path

from champion.errors import InfrastructureError

# SQLite's lock bytes (os_unix.c): a SHARED lock is a read lock on SHARED_SIZE bytes from
# SHARED_FIRST, an EXCLUSIVE one a write lock on the same range.
PENDING_BYTE = 0x40000000
SHARED_FIRST = PENDING_BYTE + 2
SHARED_SIZE = 510

Signature = tuple[int, int, int, int, tuple[int, int, int, int] | None]


class FrozenFile:
    """The SHARED lock and the state of a database file read with `immutable=1` (see the
    module docstring); `unchanged()` says whether what was read since opening still holds."""

    def __init__(self, db_path: Path) -> None:
        self.db_path = db_path
        self.wal_path = db_path.with_name(db_path.name + "-wal")
        self._copy: Path | None = None
        self._fd = os.open(db_path, os.O_RDONLY | os.O_CLOEXEC)
        try:
            _shared_lock(self._fd, db_path)
            self._seen = self._signature()
        except BaseException:
            os.close(self._fd)
            raise

    def connect(self, timeout: float) -> sqlite3.Connection:
        """A connection that reads the database as it is now (1. in the module docstring)."""
        source, mode = self.db_path, "mode=ro&immutable=1"
        if not self.log_is_empty:
            self._copy = Path(tempfile.mkdtemp(prefix="champion-read-"))
            # removed by close(), or when the process exits without closing the store
            self._removal = weakref.finalize(self, shutil.rmtree, self._copy, ignore_errors=True)
            source, mode = self._copy / self.db_path.name, "mode=ro"
            shutil.copyfile(self.db_path, source)
            shutil.copyfile(self.wal_path, self._copy / self.wal_path.name)
        return sqlite3.connect(
            f"file:{urllib.parse.quote(str(source))}?{mode}",
            uri=True,
            timeout=timeout,
            isolation_level=None,
            check_same_thread=False,
        )

    @property
    def log_is_empty(self) -> bool:
        """No log, or an empty one: the database file alone is the registry."""
        wal = self._seen[4]
        return wal is None or wal[1] == 0

    def unchanged(self) -> bool:
        try:
            return self._signature() == self._seen
        except OSError:
            return False

    def close(self) -> None:
        """Release the lock (the caller has closed the connection) and remove any copy."""
        with contextlib.suppress(OSError):
            os.close(self._fd)
        if self._copy is not None:
            self._removal()
            self._copy = None

    def _signature(self) -> Signature:
        db = os.stat(self.db_path)
        try:
            log = os.stat(self.wal_path)
        except FileNotFoundError:
            wal = None
        else:
            wal = (log.st_ino, log.st_size, log.st_mtime_ns, log.st_ctime_ns)
        return (db.st_ino, db.st_size, db.st_mtime_ns, db.st_ctime_ns, wal)


def _shared_lock(fd: int, db_path: Path) -> None:
    try:
        if hasattr(fcntl, "F_OFD_SETLK") and struct.calcsize("l") == 8:
            # struct flock on 64-bit Linux: type, whence, start, len, pid (0 for OFD locks)
            request = struct.pack("hhqqi4x", fcntl.F_RDLCK, os.SEEK_SET, SHARED_FIRST,
                                  SHARED_SIZE, 0)  # fmt: skip
            fcntl.fcntl(fd, fcntl.F_OFD_SETLK, request)
        else:
            fcntl.lockf(fd, fcntl.LOCK_SH | fcntl.LOCK_NB, SHARED_SIZE, SHARED_FIRST)
    except OSError as exc:
        if exc.errno in (errno.EAGAIN, errno.EACCES):
            raise InfrastructureError(
                f"another process holds the workspace database {db_path} exclusively; nothing "
                "was read. Run the command again when it has finished.",
                field="workspace",
                value=str(db_path),
            ) from None
        raise InfrastructureError(
            f"cannot lock the workspace database {db_path} to read it safely ({exc.strerror}); "
            "nothing was read. Copy the workspace to a local folder you may write to.",
            field="workspace",
            value=str(db_path),
        ) from None
