"""Content-addressed blobs: staging bytes into the workspace, and making them blobs.

A blob enters the store in two steps. Staging streams, hashes and fsyncs the bytes into tmp/ with
no database lock held, so a 30 GiB upload blocks no reader and no writer. The staged file becomes
the blob (renamed into blobs/) inside the same write transaction that inserts the row naming it,
so `champion gc`, which decides under that lock, can never delete a blob between "stored" and
"referenced". While staging, a writer holds a shared lock on staging.lock; gc clears tmp/ only
when it gets that lock exclusively. No SQL here: the rows are the other mixins' business.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import io
import itertools
import os
import queue
import stat
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from champion._digest import recent_digest
from champion._failpoints import failpoint
from champion.errors import WorkspaceStoreError, naming
from champion.local.store.layout import (
    BLOBS_DIR,
    STAGING_LOCK,
    TMP_DIR,
    blob_relpath,
    fsync_dir,
    make_private_dir,
    temp_name,
)
from champion.local.store.transactions import Transactions

CHUNK = 1024 * 1024
VERIFY_IN_PLACE_MAX = 4 * CHUNK  # stored blobs up to this size are compared, not replaced
QUEUE_DEPTH = 6  # chunks read but not yet hashed: the memory a large upload holds
WRITEBACK_EVERY = 32 * CHUNK
# posix_fadvise(DONTNEED) on dirty pages starts their write-back at once, asynchronously
# (Linux); elsewhere the writer thread fdatasyncs instead.
_FADVISE: int | None = getattr(os, "POSIX_FADV_DONTNEED", None)


@dataclass(frozen=True)
class StagedBlob:
    """Bytes hashed and made durable in the workspace's tmp/ (`path`), not yet a blob: the
    transaction that inserts the row naming them renames them into blobs/ (Store._publish).
    `path` is None when the blob of `digest` already held exactly these bytes: nothing was
    written. `data` keeps small content (up to VERIFY_IN_PLACE_MAX) in memory."""

    digest: str
    size: int
    path: Path | None
    data: bytes | None = field(default=None, repr=False)


class Staging:
    """One writer's staging session (`Store.staging()`): stage files, hand the staged blobs to
    `add_artifacts`/`set_artifact_content`; what was never published is deleted at the end."""

    def __init__(self, store: Blobs) -> None:
        self._store = store
        self._staged: list[StagedBlob] = []

    def stage(self, source: str | os.PathLike[str] | IO[bytes]) -> StagedBlob:
        staged = self._store._stage(source)
        self._staged.append(staged)
        return staged

    def discard(self) -> None:
        for staged in self._staged:
            if staged.path is not None:
                with contextlib.suppress(FileNotFoundError):
                    staged.path.unlink()
        self._staged.clear()


class Blobs(Transactions):
    """Staging, publishing and locating blobs (see the module docstring)."""

    _prestaged: dict[tuple[str, int, int, int, int], StagedBlob]

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
        if staged is None or (staged.path is not None and not staged.path.exists()):
            return None
        return staged

    def _staging_lock(self, operation: int) -> int:
        make_private_dir(self.root / TMP_DIR)
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
        """Hash `source` and make its bytes durable in tmp/, unless they are stored already.
        Call through `staging()`.

        Small content (up to VERIFY_IN_PLACE_MAX) is read into memory and hashed first: when
        the blob of that digest holds exactly these bytes, nothing is written at all (a model
        registered again, a retried upload), and the staged blob keeps the bytes, so that
        publishing can still store them if gc removed the blob meanwhile. Anything larger is
        streamed in chunks (memory stays flat for any size): an I/O thread reads, writes and
        starts the write-back as it goes while this thread hashes, so hashing, copying and the
        disk overlap, and the bytes hashed are exactly the bytes written."""
        prestaged = self._take_prestaged(source)
        if prestaged is not None:
            return prestaged
        with _reader(source) as src:
            if _file_size(src) > VERIFY_IN_PLACE_MAX:  # large: stream it, hold no head
                return self._write_temp(_chunks(src), None)
            head: list[bytes] = []
            size = 0
            while size <= VERIFY_IN_PLACE_MAX and (chunk := _read(src)):
                head.append(chunk)
                size += len(chunk)
            if size <= VERIFY_IN_PLACE_MAX:
                data = b"".join(head)
                hint = (
                    recent_digest(os.fspath(source))
                    if isinstance(source, str | os.PathLike)
                    else None
                )
                if hint is not None and _holds(self.blob_path(hint), data):
                    # the stored blob of the digest the gate computed holds exactly these bytes
                    return StagedBlob(hint, size, None, data)
                digest = hashlib.sha256(data).hexdigest()
                if _holds(self.blob_path(digest), data):
                    return StagedBlob(digest, size, None, data)
                return self._write_temp(iter((data,)), data, digest)
            return self._write_temp(itertools.chain(head, _chunks(src)), None)

    def _write_temp(
        self, chunks: Iterator[bytes], data: bytes | None, digest: str | None = None
    ) -> StagedBlob:
        """Write `chunks` to a new file in tmp/, hashing them, and fsync it. `digest`: that of
        `data`, when the caller has just computed it."""
        tmp = self.root / TMP_DIR / temp_name()
        with naming(tmp, "staging a blob at"):  # a failed write() names no file
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            try:
                try:
                    if data is not None:
                        _write_all(fd, data)
                        digest, size = digest or hashlib.sha256(data).hexdigest(), len(data)
                    else:
                        digest, size = _pipelined_copy(chunks, fd)
                    os.fsync(fd)
                finally:
                    os.close(fd)
                failpoint("blob.temp_written")
            except BaseException:
                with contextlib.suppress(FileNotFoundError):
                    tmp.unlink()
                raise
        return StagedBlob(digest, size, tmp, data)

    def _publish(self, staged: StagedBlob) -> None:
        """Inside the transaction that references it: the staged bytes become the blob.

        Bytes found stored when they were staged need nothing, unless the blob is gone since
        (gc removes unreferenced blobs under this same lock): then they are written now. A
        staged copy of small bytes is compared with the stored blob: equal, the blob stays and
        the copy is dropped; different (a blob that rotted since), the fresh copy replaces it,
        so bad bytes are repaired, never kept in place of the good ones. A large one replaces
        the stored blob without reading it: one rename costs less than reading gigabytes
        under the lock."""
        if self._depth == 0:
            raise RuntimeError("a blob is published only inside the transaction naming it")
        final = self.blob_path(staged.digest)
        if staged.path is None:
            if not final.is_file():
                assert staged.data is not None
                self._publish(self._write_temp(iter((staged.data,)), staged.data))
                return
        elif staged.data is not None and _holds(final, staged.data):
            staged.path.unlink()
        else:
            with naming(final, "storing the blob"):
                make_private_dir(final.parent, parents=True)
                os.replace(staged.path, final)
                fsync_dir(final.parent)
        failpoint("blob.renamed")

    def _require_blobs(self, digests: Iterable[str | None]) -> None:
        """Inside the referencing transaction: every blob a new row names is on disk, so no row
        ever names a missing blob (gc decides under this same lock)."""
        for digest in digests:
            if digest is not None and not self._has_blob(digest):
                raise self._missing_blob(digest)

    def _has_blob(self, digest: str) -> bool:
        return self.blob_path(digest).is_file()

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
        return self.root / blob_relpath(digest)

    def _missing_blob(self, digest: str | None) -> WorkspaceStoreError:
        return WorkspaceStoreError(
            f"blob {digest} is missing from {self.root / BLOBS_DIR}; the workspace has lost "
            "data. Run `champion verify`.",
            field="blob",
            value=digest,
        )


def _holds(path: Path, data: bytes) -> bool:
    """Whether the stored blob at `path` holds exactly `data` (small: read it whole)."""
    try:
        if path.stat().st_size != len(data):
            return False
        with open(path, "rb") as stored:
            return stored.read(len(data) + 1) == data
    except FileNotFoundError:
        return False


def _file_size(src: IO[bytes]) -> int:
    """The size of a regular file behind `src` (0 when it is a stream: unknown)."""
    try:
        info = os.fstat(src.fileno())
    except (AttributeError, OSError, io.UnsupportedOperation):
        return 0
    return info.st_size if stat.S_ISREG(info.st_mode) else 0


def _chunks(src: IO[bytes]) -> Iterator[bytes]:
    while chunk := _read(src):
        yield chunk


def _read(src: IO[bytes]) -> bytes:
    """A chunk of the source; its failure is named as a read of it, not as the write of the
    staged file it happens inside."""
    name = getattr(src, "name", None)
    with naming(name if isinstance(name, str) else None, "reading the upload source"):
        return src.read(CHUNK)


def _write_all(fd: int, data: bytes | memoryview) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _pipelined_copy(chunks: Iterator[bytes], fd: int) -> tuple[str, int]:
    """Copy `chunks` to `fd` and hash them, on two cores: an I/O thread reads each chunk,
    hands it to this thread to hash, writes it and starts its write-back every
    WRITEBACK_EVERY bytes, while this thread only hashes (the longer job: hashing runs at
    about the speed of the disk). At most QUEUE_DEPTH chunks wait to be hashed. The bytes
    hashed are the very objects written. Returns (sha256, size); raises what either thread
    raised, after the I/O thread has stopped."""
    ready: queue.Queue[bytes | None] = queue.Queue(maxsize=QUEUE_DEPTH)
    failed: list[BaseException] = []
    stop = threading.Event()

    def copy() -> None:
        written = synced = 0
        try:
            for chunk in chunks:
                if stop.is_set():
                    return
                ready.put(chunk)
                _write_all(fd, chunk)
                written += len(chunk)
                if written - synced >= WRITEBACK_EVERY:
                    _start_writeback(fd, synced, written - synced)
                    synced = written
        except BaseException as exc:  # handed to the hashing thread
            failed.append(exc)
        finally:
            ready.put(None)

    thread = threading.Thread(target=copy, name="champion-blob-copy", daemon=True)
    thread.start()
    hasher = hashlib.sha256()
    size = 0
    try:
        while (chunk := ready.get()) is not None:
            hasher.update(chunk)
            size += len(chunk)
    finally:
        stop.set()
        while thread.is_alive():  # unblock a copier waiting on a full queue
            with contextlib.suppress(queue.Empty):
                ready.get(timeout=0.05)
        thread.join()
    if failed:
        raise failed[0]
    return hasher.hexdigest(), size


def _start_writeback(fd: int, offset: int, length: int) -> None:
    """Have the kernel start writing these bytes of `fd` to disk without waiting for them
    (so the final fsync finds little left to do); where it cannot, fdatasync now."""
    if _FADVISE is not None:
        os.posix_fadvise(fd, offset, length, _FADVISE)
    else:
        os.fdatasync(fd)


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
