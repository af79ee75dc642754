"""Where a local workspace keeps what on disk, and the checks on its folder that need no database.

<workspace>/workspace.db        the registry (SQLite)
<workspace>/blobs/sha256/ab/..  content-addressed bytes, named by their sha256
<workspace>/tmp/                staged uploads, not yet blobs
<workspace>/datastores/<name>/  the files of each datastore
<workspace>/staging.lock        held shared by writers while they stage, exclusively by gc
"""

from __future__ import annotations

import os
from pathlib import Path

from champion.errors import (
    ChampionError,
    InfrastructureError,
    PermissionDeniedError,
    WorkspaceStoreError,
)

DB_NAME = "workspace.db"
BLOBS_DIR = "blobs"
TMP_DIR = "tmp"
DATASTORES_DIR = "datastores"
STAGING_LOCK = "staging.lock"


def blob_relpath(digest: str) -> str:
    return f"{BLOBS_DIR}/sha256/{digest[:2]}/{digest}"


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
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
