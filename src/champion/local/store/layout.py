"""Where a local workspace keeps what on disk, and the checks on its folder that need no database.

<workspace>/workspace.db        the registry (SQLite)
<workspace>/blobs/sha256/ab/..  content-addressed bytes, named by their sha256
<workspace>/tmp/                staged uploads, not yet blobs (`<32 hex digits>.part`)
<workspace>/datastores/<name>/  the files of each datastore
<workspace>/staging.lock        held shared by writers while they stage, exclusively by gc

`blobs/` and `tmp/` may be symlinks (the usual way to move storage to another disk), and the
folder they lead to may hold files of the user's. So the names the store gives its files are
defined here, once, and `champion gc` lists and deletes only files named so, in the folders
they belong in, reached without following any link below `blobs/` or `tmp/` (`own_files`,
`remove_own_file`).
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import stat
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path

from champion.errors import (
    ChampionError,
    InfrastructureError,
    PermissionDeniedError,
    WorkspaceStoreError,
    naming,
)

DB_NAME = "workspace.db"
BLOBS_DIR = "blobs"
TMP_DIR = "tmp"
DATASTORES_DIR = "datastores"
STAGING_LOCK = "staging.lock"
BLOB_ALGORITHM = "sha256"

_DIGEST = re.compile(r"[0-9a-f]{64}")
_FANOUT = re.compile(r"[0-9a-f]{2}")
_TEMP = re.compile(r"[0-9a-f]{32}\.part")
_NO_FOLLOW_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)


def blob_relpath(digest: str) -> str:
    return f"{BLOBS_DIR}/{BLOB_ALGORITHM}/{digest[:2]}/{digest}"


def temp_name() -> str:
    """The name of a new staged file in tmp/: the only kind of file gc clears there."""
    return f"{uuid.uuid4().hex}.part"


def own_files(root: Path, folder: str) -> list[tuple[str, ...]]:
    """The files the store made under `root/folder` (BLOBS_DIR or TMP_DIR), as their path
    parts below it, in name order: `(sha256, ab, <digest starting ab>)` in blobs/,
    `(<32 hex digits>.part,)` in tmp/. `folder` itself may be a link (storage moved to another
    disk); nothing below it is followed, and anything named otherwise is not the store's."""
    if folder == BLOBS_DIR:
        found: list[tuple[str, ...]] = []
        for fanout in _entries(root / folder, (BLOB_ALGORITHM,), dirs=True):
            parts = (BLOB_ALGORITHM, fanout)
            found.extend(
                (*parts, name)
                for name in _entries(root / folder, parts, dirs=False)
                if _is_own(folder, (*parts, name))
            )
        return found
    if folder == TMP_DIR:
        return [(n,) for n in _entries(root / folder, (), dirs=False) if _is_own(folder, (n,))]
    raise ValueError(f"the store keeps no files of its own in {folder!r}")


def remove_own_file(root: Path, folder: str, parts: Sequence[str], older_than: float) -> int | None:
    """Delete one file `own_files` listed, unless it changed since (no longer a regular file,
    or modified after `older_than`): its size, or None when it was left. The folders on the way
    are opened without following links and the file is unlinked relative to its folder, so a
    link swapped in meanwhile is never followed out of `root/folder`."""
    if not _is_own(folder, parts):
        return None
    *dirs, name = parts
    try:
        with _open_below(root / folder, dirs) as fd:
            info = os.stat(name, dir_fd=fd, follow_symlinks=False)
            if not stat.S_ISREG(info.st_mode) or info.st_mtime > older_than:
                return None
            os.unlink(name, dir_fd=fd)
    except FileNotFoundError:
        return None
    return info.st_size


def _is_own(folder: str, parts: Sequence[str]) -> bool:
    """Whether `parts` below `folder` is a name the store gives its own files there."""
    if folder == BLOBS_DIR and len(parts) == 3:
        algorithm, fanout, name = parts
        return (
            algorithm == BLOB_ALGORITHM
            and _FANOUT.fullmatch(fanout) is not None
            and _DIGEST.fullmatch(name) is not None
            and name.startswith(fanout)
        )
    return folder == TMP_DIR and len(parts) == 1 and _TEMP.fullmatch(parts[0]) is not None


def _entries(top: Path, parts: Sequence[str], *, dirs: bool) -> list[str]:
    """The names of the real folders (`dirs`) or regular files in `top/parts`, reached without
    following a link below `top`; none when that folder is missing or is a link."""
    try:
        with _open_below(top, parts) as fd, os.scandir(fd) as it:
            if dirs:
                return sorted(e.name for e in it if e.is_dir(follow_symlinks=False))
            return sorted(e.name for e in it if e.is_file(follow_symlinks=False))
    except (FileNotFoundError, NotADirectoryError):
        return []
    except OSError as exc:
        if exc.errno == errno.ELOOP:  # a link where a folder of ours should be: not ours
            return []
        raise


@contextlib.contextmanager
def _open_below(top: Path, parts: Sequence[str]) -> Iterator[int]:
    """A descriptor of `top/parts`: `top` opened as it is (it may be a link), each part below
    it opened with O_NOFOLLOW relative to the one before."""
    fd = os.open(top, os.O_RDONLY | os.O_DIRECTORY | getattr(os, "O_CLOEXEC", 0))
    try:
        for part in parts:
            inner = os.open(part, _NO_FOLLOW_DIR, dir_fd=fd)
            os.close(fd)
            fd = inner
        yield fd
    finally:
        os.close(fd)


def is_workspace(path: str | os.PathLike[str]) -> bool:
    """A folder holding `workspace.db`: what discovery and `champion init` look for (whether its
    schema is ours is checked when it is opened)."""
    folder = Path(path)
    return folder.is_dir() and (folder / DB_NAME).is_file()


def has_blobs(root: Path) -> bool:
    blobs = root / BLOBS_DIR
    return blobs.is_dir() and any(blobs.iterdir())


def orphaned_blobs(root: Path) -> WorkspaceStoreError:
    return WorkspaceStoreError(
        f"the local workspace at {root} has blobs but no registry in {DB_NAME}; "
        "refusing to create an empty registry over existing data. Restore the database or "
        "choose another folder.",
        field="workspace",
        value=str(root),
    )


def unwritable(root: Path) -> ChampionError | None:
    """Why a command that writes cannot write this workspace, or None: the first of its
    files and folders a writer touches that this user may not write (the folder, the database
    and SQLite's files beside it, tmp/ and blobs/). Checked before anything is opened for
    writing, so the refusal changes nothing."""
    db = root / DB_NAME
    for path in (root, db, db.with_name(DB_NAME + "-wal"), db.with_name(DB_NAME + "-shm"),
                 root / TMP_DIR, root / BLOBS_DIR):  # fmt: skip
        if path.exists() and not os.access(path, os.W_OK):
            return not_writable(
                path,
                f"this command writes to the workspace {root}",
                "listing, showing, downloading and verifying work without writing; to write, "
                "use a writable copy",
            )
    return None


def not_writable(path: Path, why: str, advice: str) -> ChampionError:
    """The refusal for a path this user may not write: a read-only file system is the
    machine's (exit 3); a mode or an owner is the user's to change or work around (exit 2).
    Neither is damage."""
    if _read_only_mount(path):
        return InfrastructureError(
            f"{path} is on a read-only file system, and {why}; nothing was changed: {advice}.",
            field="workspace",
            value=str(path),
        )
    return PermissionDeniedError(
        f"permission denied: {path} is not writable by you, and {why}; nothing was changed: "
        f"{advice}.",
        field="workspace",
        value=str(path),
    )


def not_readable(path: Path) -> PermissionDeniedError:
    return PermissionDeniedError(
        f"permission denied: {path} is not readable by you; nothing was read. Ask its owner "
        "for read access, or use a copy you may read.",
        field="workspace",
        value=str(path),
    )


def _read_only_mount(path: Path) -> bool:
    try:
        return bool(os.statvfs(path).f_flag & os.ST_RDONLY)
    except OSError:
        return False


def make_private_dir(path: Path, *, parents: bool = False) -> None:
    """Workspace folders are owner-only: they hold models and run metadata."""
    path.mkdir(mode=0o700, parents=parents, exist_ok=True)


def fsync_dir(path: Path) -> None:
    with naming(path, "syncing the folder"):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
