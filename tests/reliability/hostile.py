"""Helpers for trying the workspace as a hostile user would: a folder made read-only for
real, a tiny disk that fills up, a damaged database page, and checks on how errors read."""

from __future__ import annotations

import contextlib
import os
import sqlite3
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from champion.local import store as store_module


def one_line_error(result: subprocess.CompletedProcess[str]) -> str:
    """The failure was reported as one line, with no traceback; returns that line."""
    lines = result.stderr.strip().splitlines()
    assert "Traceback" not in result.stderr, result.stderr
    assert len(lines) == 1, result.stderr
    return lines[0]


def close_stores(ws_path: Path) -> None:
    """Close this process's connections to a workspace, so its files are as a finished process
    leaves them (WAL checkpointed and removed) before a test damages or freezes them."""
    root = ws_path.resolve()
    for store in list(store_module._open_stores.values()):
        if store.root == root:
            store.close()


def files_of(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def root_page(db: Path, table: str) -> int:
    with contextlib.closing(sqlite3.connect(db)) as conn:
        row = conn.execute("SELECT rootpage FROM sqlite_master WHERE name=?", (table,)).fetchone()
    return int(row[0])


def patch_page(db: Path, page: int, offset: int, data: bytes) -> None:
    """Overwrite bytes of one page's header in place (page 1 starts after the file header)."""
    with contextlib.closing(sqlite3.connect(db)) as conn:
        size = conn.execute("PRAGMA page_size").fetchone()[0]
    start = (page - 1) * size + (100 if page == 1 else 0) + offset
    with open(db, "r+b") as fh:
        fh.seek(start)
        fh.write(data)


def _run(*command: str) -> bool:
    return subprocess.run(command, capture_output=True, check=False).returncode == 0


@contextlib.contextmanager
def read_only(folder: Path) -> Iterator[None]:
    """Make `folder` truly read-only for this test: a read-only bind mount when running as root
    (root ignores file modes), `chmod -R a-w` otherwise. Skips when neither is possible."""
    if os.geteuid() != 0:
        modes = {p: p.stat().st_mode for p in [folder, *folder.rglob("*")]}
        for path, mode in modes.items():
            path.chmod(stat.S_IMODE(mode) & ~0o222)
        try:
            yield
        finally:
            for path, mode in sorted(modes.items(), key=lambda item: len(item[0].parts)):
                path.chmod(stat.S_IMODE(mode))
        return
    if not (
        _run("mount", "--bind", str(folder), str(folder))
        and _run("mount", "-o", "remount,ro,bind", str(folder))
    ):
        _run("umount", str(folder))
        pytest.skip("running as root without permission to mount a read-only bind mount")
    try:
        yield
    finally:
        if not _run("umount", str(folder)):
            _run("umount", "-l", str(folder))


@contextlib.contextmanager
def small_disk(folder: Path, size: str = "1m") -> Iterator[bool]:
    """A tmpfs of `size` mounted on `folder` (True), or nothing (False) where this machine does
    not allow mounting; the caller then injects ENOSPC at the boundary instead."""
    folder.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0 or not _run(
        "mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)
    ):
        yield False
        return
    try:
        yield True
    finally:
        if not _run("umount", str(folder)):
            _run("umount", "-l", str(folder))
