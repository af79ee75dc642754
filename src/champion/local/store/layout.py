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

from champion.errors import WorkspaceStoreError

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


def make_private_dir(path: Path, *, parents: bool = False) -> None:
    """Workspace folders are owner-only: they hold models and run metadata."""
    path.mkdir(mode=0o700, parents=parents, exist_ok=True)


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
