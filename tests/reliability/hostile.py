"""Helpers for trying the workspace as a hostile user would: a folder made read-only for
real, a tiny disk that fills up, a damaged database page, and checks on how errors read."""

from __future__ import annotations

import contextlib
import os
import shutil
import sqlite3
import stat
import subprocess
import sys
import tempfile
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


# --------------------------------------------------------------------------- another user

AS_NOBODY = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"]


def shared_folder() -> Path:
    """A folder under /tmp that the user `nobody` may enter (pytest's own are owner-only)."""
    if os.geteuid() != 0:
        pytest.skip("needs root, to run champion as the unprivileged user nobody")
    if shutil.which("setpriv") is None:
        pytest.skip("needs setpriv (util-linux) to run champion as the user nobody")
    folder = Path(tempfile.mkdtemp(prefix="champion-shared-"))
    folder.chmod(0o755)
    probe = subprocess.run(
        [*AS_NOBODY, sys.executable, "-c", "import champion.cli"],
        cwd=folder,
        capture_output=True,
        text=True,
        check=False,
    )
    if probe.returncode != 0:
        shutil.rmtree(folder)
        pytest.skip(f"this Python cannot run as the user nobody: {probe.stderr.strip()[-200:]}")
    return folder


def as_nobody(
    *args: str, workspace: Path, cwd: Path, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """`python -m champion.cli ARGS` as the user nobody, who may read but not write what
    root owns with mode a+r,a-w (root ignores file modes: a test as root proves nothing)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHAMPION_")}
    env.pop("TF_BUILD", None)
    env.update(CHAMPION_WORKSPACE=str(workspace), HOME=str(cwd))
    return subprocess.run(
        [*AS_NOBODY, sys.executable, "-m", "champion.cli", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def readable_not_writable(folder: Path) -> None:
    """Every folder 0555 and file 0444: anyone may read it, nobody but root may write it (a
    CI cache restored by another user, or `chmod -R a-w` on one's own workspace)."""
    for path in [folder, *folder.rglob("*")]:
        path.chmod(0o555 if path.is_dir() else 0o444)


def writable_again(folder: Path) -> None:
    for path in [folder, *folder.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)


# --------------------------------------------------------------------------- index pages


def _varint(data: bytes, at: int) -> tuple[int, int]:
    value = 0
    for n in range(9):
        byte = data[at + n]
        if n == 8:
            return (value << 8) | byte, at + 9
        value = (value << 7) | (byte & 0x7F)
        if byte < 0x80:
            return value, at + n + 1
    raise AssertionError("unreachable")


def _value(serial: int, data: bytes, at: int) -> tuple[object, int]:
    sizes = {0: 0, 1: 1, 2: 2, 3: 3, 4: 4, 5: 6, 6: 8, 7: 8, 8: 0, 9: 0}
    if serial in (8, 9):
        return serial - 8, at
    if serial in sizes:
        size = sizes[serial]
        return (
            None if serial == 0 else int.from_bytes(data[at : at + size], "big", signed=True)
        ), at + size
    size = (serial - 12) // 2 if serial % 2 == 0 else (serial - 13) // 2
    raw = data[at : at + size]
    return (raw if serial % 2 == 0 else raw.decode()), at + size


def index_entries(db: Path, index: str) -> list[tuple[list[object], list[int]]]:
    """The entries of a one-page index (its root page a leaf, as a small workspace's is): each
    entry's values and the file offsets of their serial types in the record header."""
    with contextlib.closing(sqlite3.connect(db)) as conn:
        size = conn.execute("PRAGMA page_size").fetchone()[0]
    data = db.read_bytes()
    page = root_page(db, index)
    start = (page - 1) * size
    header = start + (100 if page == 1 else 0)
    assert data[header] == 0x0A, "the index outgrew one page"
    cells = int.from_bytes(data[header + 3 : header + 5], "big")
    entries = []
    for n in range(cells):
        cell = start + int.from_bytes(data[header + 8 + 2 * n : header + 10 + 2 * n], "big")
        _, record = _varint(data, cell)  # the payload's size
        header_size, at = _varint(data, record)
        serials, offsets = [], []
        while at < record + header_size:
            offsets.append(at)
            serial, at = _varint(data, at)
            serials.append(serial)
        values = []
        for serial in serials:
            value, at = _value(serial, data, at)
            values.append(value)
        entries.append((values, offsets))
    return entries


def flip_bit(db: Path, offset: int, bit: int = 0) -> None:
    with open(db, "r+b") as fh:
        fh.seek(offset)
        byte = fh.read(1)[0]
        fh.seek(offset)
        fh.write(bytes([byte ^ (1 << bit)]))
