"""A source directory copied as Azure ML snapshots it: the one rule for what a step's folder holds.

Why one place: the local runner copies the source directory into every step's working folder,
and the local pipelines service keeps a snapshot of each submitted step's `source_directory`
(as the service does when `Pipeline.submit` uploads it), so a later `PublishedPipeline.submit`
runs the code as it was published. Both must leave out the same files.
"""

from __future__ import annotations

import fnmatch
import shutil
from pathlib import Path

from champion import _env

__all__ = ["SNAPSHOT_SKIP", "copy_snapshot"]

#: Never part of a snapshot: caches, the repository, a local workspace folder.
SNAPSHOT_SKIP = ("__pycache__", ".git", _env.DEFAULT_WORKSPACE_FOLDER)


def copy_snapshot(source: Path, target: Path, *, workspace: Path | None = None) -> None:
    """A fresh copy of `source` at `target`, as Azure ML snapshots a step's source directory:
    without `__pycache__`, `.git`, `.champion`, the local workspace `workspace` (when it lives
    inside the source directory) and anything `.amlignore` lists (one glob per line, matched
    against a name or a path relative to the source directory; `#` comments). Links are copied
    as links, never followed."""
    source = Path(source).resolve()
    patterns: list[str] = []
    ignore_file = source / ".amlignore"
    if ignore_file.is_file():
        for line in ignore_file.read_text().splitlines():
            line = line.strip()
            if line and not line.startswith("#"):
                patterns.append(line.strip("/"))

    def ignore(folder: str, names: list[str]) -> set[str]:
        skipped = set()
        for name in names:
            path = Path(folder, name)
            relative = path.relative_to(source).as_posix()
            if (
                name in SNAPSHOT_SKIP
                or (workspace is not None and path.resolve() == workspace)
                or any(fnmatch.fnmatch(name, p) or fnmatch.fnmatch(relative, p) for p in patterns)
            ):
                skipped.add(name)
        return skipped

    shutil.copytree(source, target, symlinks=True, ignore=ignore)
