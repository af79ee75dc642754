"""`champion gc` where `blobs/` and `tmp/` are symlinks to another disk, the usual way to move a
workspace's storage. It deleted the user's files in the linked-to folders (`results.csv`,
`notes.txt`) while `verify` said healthy: it took every file it found there for its own."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from hostile import close_stores, files_of

from champion.local.store import Store

A_TEMP_NAME = "0123456789abcdef0123456789abcdef.part"  # the pattern the store stages under


def _moved(ws: Path, folder: str, disk: Path) -> Path:
    """Move `ws/folder` to `disk/folder` and leave a symlink in its place."""
    target = disk / folder
    shutil.move(ws / folder, target)
    (ws / folder).symlink_to(target, target_is_directory=True)
    return target


def test_gc_through_linked_storage_deletes_only_its_own_files(pipeline, cli, tmp_path):
    run = pipeline.new_run({"accuracy": "0.9"}, model_bytes=b"the champion")
    assert pipeline.register(run).exit_code == 0
    ws = pipeline.ws_path
    orphan, _ = Store.open(ws).put_blob(_file(tmp_path / "orphan.bin", b"nobody names me"))
    close_stores(ws)
    disk = tmp_path / "disk"
    disk.mkdir()
    blobs = _moved(ws, "blobs", disk)
    tmp = _moved(ws, "tmp", disk)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("not the workspace's")
    # the user's own files in the folders the links lead to, named as the store never names
    (tmp / "results.csv").write_text("a,b\n1,2\n")
    (blobs / "notes.txt").write_text("my notes")
    (blobs / "sha256" / "notes.txt").write_text("more notes")
    (blobs / "sha256" / orphan[:2] / "notes.txt").write_text("and more")
    # links below blobs/ and tmp/, even ones named as the store names its files
    (tmp / A_TEMP_NAME).symlink_to(outside / "secret.txt")
    linked = "ab" + "0" * 62
    (outside / "fanout").mkdir()
    (outside / "fanout" / linked).write_text("a file outside, named like a blob")
    (blobs / "sha256" / "ab").symlink_to(outside / "fanout", target_is_directory=True)
    link_as_blob = "cd" + "1" * 62
    (blobs / "sha256" / "cd").mkdir()
    (blobs / "sha256" / "cd" / link_as_blob).symlink_to(outside / "secret.txt")
    stale = tmp / "fedcba9876543210fedcba9876543210.part"  # a crashed writer's leftover
    stale.write_bytes(b"half a model")
    before_outside = files_of(outside)

    result = cli("gc", "--min-age", "0", workspace=ws)

    assert result.returncode == 0, result.stderr
    assert not (blobs / "sha256" / orphan[:2] / orphan).exists()  # its own orphan: gone
    assert not stale.exists()  # its own stale temp file: gone
    assert (tmp / "results.csv").read_text() == "a,b\n1,2\n"
    assert (blobs / "notes.txt").read_text() == "my notes"
    assert (blobs / "sha256" / "notes.txt").read_text() == "more notes"
    assert (blobs / "sha256" / orphan[:2] / "notes.txt").read_text() == "and more"
    assert (tmp / A_TEMP_NAME).is_symlink()
    assert (blobs / "sha256" / "cd" / link_as_blob).is_symlink()
    assert files_of(outside) == before_outside
    verify = cli("verify", workspace=ws)
    assert verify.returncode == 0, verify.stdout + verify.stderr
    download = cli("models", "download", "iris", "--target", str(tmp_path / "dl"), workspace=ws)
    assert download.returncode == 0, download.stderr
    assert (tmp_path / "dl" / "iris" / "model.pkl").read_bytes() == b"the champion"


def _file(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    old = os.stat(path).st_mtime - 7200
    os.utime(path, (old, old))
    return path
