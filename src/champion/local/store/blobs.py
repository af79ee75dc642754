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
import os
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from champion._failpoints import failpoint
from champion.errors import WorkspaceStoreError
from champion.local.store.layout import (
    BLOBS_DIR,
    STAGING_LOCK,
    TMP_DIR,
    blob_relpath,
    fsync_dir,
    make_private_dir,
)
from champion.local.store.transactions import Transactions

CHUNK = 1024 * 1024
VERIFY_IN_PLACE_MAX = 4 * CHUNK  # stored blobs up to this size are compared, not replaced


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

    def __init__(self, store: Blobs) -> None:
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
        return staged if staged is not None and staged.path.exists() else None

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
            make_private_dir(final.parent, parents=True)
            os.replace(staged.path, final)
            fsync_dir(final.parent)
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
        return self.root / blob_relpath(digest)

    def _missing_blob(self, digest: str | None) -> WorkspaceStoreError:
        return WorkspaceStoreError(
            f"blob {digest} is missing from {self.root / BLOBS_DIR}; the workspace has lost "
            "data. Run `champion verify`.",
            field="blob",
            value=digest,
        )


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
