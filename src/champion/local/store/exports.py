"""Blobs out of the store: verified copies of one artifact, and a model's files written into a
user's folder all or nothing (the file-system side of that is `champion.local._export`)."""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import shutil
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path

from champion.errors import WorkspaceStoreError
from champion.local._export import (
    DIR_NOFOLLOW,
    make_dirs,
    move_into_place,
    preflight,
)
from champion.local.store.blobs import CHUNK
from champion.local.store.exceptions import InvalidArtifactPath, check_artifact_path
from champion.local.store.inline import InlineBlobs


class Exports(InlineBlobs):
    """Reading blobs back out, each checked against its digest."""

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
        source = self.open_blob(digest) if digest is not None else io.BytesIO()
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
                    with self.open_blob(digest) as src:
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
        with self.open_blob(digest) as source:
            data = source.read()
        if hashlib.sha256(data).hexdigest() != digest:
            raise WorkspaceStoreError(f"blob {digest} is corrupt", field="blob", value=digest)
        return data


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
