"""Trust at the edges, the registry's side: no lost blobs, no crash on damage, no lock a reader
needs. Each test reproduces a defect found by trying the workspace as a hostile user would."""

from __future__ import annotations

import contextlib
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from hostile import close_stores, files_of, one_line_error, patch_page, read_only, root_page

from champion.local.maintenance import verify
from champion.local.store import Store

HOUR = 3600


def _blob_files(ws_path: Path) -> dict[str, bytes]:
    return files_of(ws_path / "blobs")


def _registered(pipeline, *accuracies: str, model_bytes: bytes | None = None) -> None:
    for accuracy in accuracies:
        run = pipeline.new_run({"accuracy": accuracy}, model_bytes=model_bytes)
        result = pipeline.register(run)
        assert result.exit_code == 0, result.stderr


# --------------------------------------------------------------------------- gc


def test_gc_refuses_a_damaged_database_and_deletes_nothing(pipeline, cli):
    """A page that silently hides rows made every blob look like an orphan: gc deleted them."""
    _registered(pipeline, "0.9", "0.95", "0.97")
    ws = pipeline.ws_path
    close_stores(ws)
    db = ws / "workspace.db"
    blobs = _blob_files(ws)
    seen = "SELECT DISTINCT digest FROM artifacts WHERE digest IS NOT NULL"  # what gc reads
    with contextlib.closing(sqlite3.connect(db)) as conn:
        rows = len(conn.execute(seen).fetchall())
    patch_page(db, root_page(db, "artifacts"), 3, b"\x00\x00")  # the page claims no rows
    with contextlib.closing(sqlite3.connect(db)) as conn:  # the damage is silent to a query
        assert len(conn.execute(seen).fetchall()) < rows

    result = cli("gc", "--min-age", "0", workspace=ws)

    assert result.returncode == 3
    line = one_line_error(result)
    assert "refusing to collect garbage" in line and "Nothing was deleted" in line
    assert _blob_files(ws) == blobs


GC_LOOP = """
import sys, time
from pathlib import Path
from champion.local.maintenance import gc
from champion.local.store import Store

ws, stop = sys.argv[1], Path(sys.argv[2])
store = Store.open(ws)
rounds = 0
while not stop.exists():
    gc(store, grace_seconds=0 if rounds % 2 else 3600)
    rounds += 1
print(rounds)
"""

REGISTER_LOOP = """
import sys
from champion.local import Model, Workspace

ws = Workspace(sys.argv[1])
for i in range(int(sys.argv[2])):
    Model.register(ws, f"m{i}.pkl", "m")
"""


@pytest.mark.slow
def test_gc_never_deletes_a_blob_a_registration_is_about_to_name(pipeline, tmp_path):
    """gc (with the default hour of grace, and with none) raced registrations of bytes that
    were already stored as old orphans: the new row named a blob gc had just deleted."""
    ws = pipeline.ws_path
    count = 150
    store = Store.open(ws)
    work = tmp_path / "work"
    work.mkdir()
    old = time.time() - 2 * HOUR
    for i in range(count):
        payload = f"model bytes {i}\n".encode() * 64
        (work / f"m{i}.pkl").write_bytes(payload)
        digest, _ = store.put_blob(work / f"m{i}.pkl")  # stored, named by no row: an orphan
        os.utime(store.blob_path(digest), (old, old))
    close_stores(ws)
    stop = tmp_path / "stop"
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHAMPION_")}
    collector = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(GC_LOOP), str(ws), str(stop)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        writer = subprocess.run(
            [sys.executable, "-c", textwrap.dedent(REGISTER_LOOP), str(ws), str(count)],
            env=env,
            cwd=work,
            capture_output=True,
            text=True,
            timeout=300,
        )
    finally:
        stop.touch()
        out, err = collector.communicate(timeout=120)
    assert writer.returncode == 0, writer.stderr
    assert collector.returncode == 0, err
    assert int(out) > 1  # gc really ran alongside

    report = verify(Store.open(ws))
    assert not [p for p in report.problems if "missing" in p], report.problems[:5]
    assert report.versions_checked == count


def test_registering_bytes_whose_stored_blob_rotted_repairs_it(pipeline, tmp_path, cli):
    """Storing bytes already stored kept the stored (corrupt) blob and dropped the good copy:
    the new champion could never be downloaded."""
    _registered(pipeline, "0.9", model_bytes=b"the same model bytes")
    ws = pipeline.ws_path
    (blob,) = (p for p in (ws / "blobs").rglob("*") if _holds(p, b"the same model bytes"))
    blob.write_bytes(b"bit rot!! same size.")
    assert len(b"bit rot!! same size.") == len(b"the same model bytes")

    _registered(pipeline, "0.95", model_bytes=b"the same model bytes")
    result = cli("models", "download", "iris", "--target", str(tmp_path / "out"), workspace=ws)

    assert result.returncode == 0, result.stderr
    assert (tmp_path / "out" / "iris" / "model.pkl").read_bytes() == b"the same model bytes"
    assert blob.read_bytes() == b"the same model bytes"


def _holds(path: Path, data: bytes) -> bool:
    return path.is_file() and path.read_bytes() == data


# --------------------------------------------------------------------------- readers


def test_models_list_and_verify_answer_while_a_writer_holds_the_lock(pipeline, cli):
    """Every open took the write lock, so one long write (a large model) blocked every
    reader; past the busy timeout they failed."""
    _registered(pipeline, "0.9")
    ws = pipeline.ws_path
    writer = sqlite3.connect(ws / "workspace.db", isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")
    try:
        listing = cli("models", "list", workspace=ws, timeout=30)
        checked = cli("verify", workspace=ws, timeout=30)
    finally:
        writer.execute("ROLLBACK")
        writer.close()
    assert listing.returncode == 0, listing.stderr
    assert "iris" in listing.stdout
    assert checked.returncode == 0, checked.stdout


def test_a_register_streams_its_model_without_holding_the_lock(pipeline, cli, tmp_path):
    """`champion register` copied the model into the workspace while holding the registry's
    write lock: a large model held every other writer (and, past 60 s, failed them)."""
    _registered(pipeline, "0.9")
    ws = pipeline.ws_path
    model = tmp_path / "by-hand.pkl"
    model.write_bytes(b"a larger model" * 4096)
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHAMPION_")}
    env.update(CHAMPION_WORKSPACE=str(ws), CHAMPION_PAUSE_AT="blob.temp_written")
    command = [sys.executable, "-m", "champion.cli", "register", "--model-name", "iris"]
    command += ["--model-path", str(model), "--metric-value", "0.99"]
    proc = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while _state(proc.pid) != "T":  # stopped with the model streamed into tmp/
            assert proc.poll() is None, "the writer never paused after streaming its model"
            assert time.monotonic() < deadline
            time.sleep(0.01)
        other = sqlite3.connect(ws / "workspace.db", timeout=1, isolation_level=None)
        try:
            other.execute("BEGIN IMMEDIATE")  # another writer gets the lock at once
            other.execute("ROLLBACK")
        finally:
            other.close()
    finally:
        _resume_until_done(proc)
    assert proc.returncode == 0, proc.stderr.read() if proc.stderr else ""
    assert "promoted as iris:2" in (proc.stdout.read() if proc.stdout else b"").decode()


def _resume_until_done(proc: subprocess.Popen[bytes]) -> None:
    """Let a paused writer go on; it stops again at the next blob it streams (the decision
    record's, after the model's), so resume it each time until it exits."""
    deadline = time.monotonic() + 120
    while proc.poll() is None and time.monotonic() < deadline:
        with contextlib.suppress(ProcessLookupError, FileNotFoundError):
            if _state(proc.pid) == "T":
                os.kill(proc.pid, signal.SIGCONT)
        time.sleep(0.01)
    proc.wait(timeout=10)


def _state(pid: int) -> str:
    with open(f"/proc/{pid}/stat") as fh:
        return fh.read().rsplit(")", 1)[1].split()[0]


@pytest.mark.parametrize("live", [False, True], ids=["closed", "writer-connected"])
def test_a_read_only_workspace_can_be_listed_shown_downloaded_and_verified(
    pipeline, cli, tmp_path, live
):
    """Every open took BEGIN IMMEDIATE: a read-only workspace (a mounted artifact, a CI cache)
    could not even be listed, and the message blamed corruption."""
    _registered(pipeline, "0.9", "0.95")
    ws = pipeline.ws_path
    close_stores(ws)
    keep = sqlite3.connect(ws / "workspace.db", isolation_level=None) if live else None
    if keep is not None:  # a process still connected: the -wal and -shm files are there
        keep.execute("SELECT count(*) FROM models").fetchone()
    before = _without_shm(files_of(ws))
    try:
        with read_only(ws):
            results = {
                "list": cli("models", "list", workspace=ws),
                "show": cli("models", "show", "iris", workspace=ws),
                "history": cli("models", "history", "iris", workspace=ws),
                "download": cli(
                    "models", "download", "iris", "--target", str(tmp_path / "out"), workspace=ws
                ),
                "runs": cli("runs", "list", workspace=ws),
                "verify": cli("verify", workspace=ws),
            }
        after = _without_shm(files_of(ws))
    finally:
        if keep is not None:
            keep.close()
    for name, result in results.items():
        assert result.returncode == 0, (name, result.stdout, result.stderr)
    assert "healthy" in results["verify"].stdout
    assert "(sha256 verified)" in results["download"].stdout
    assert (tmp_path / "out" / "iris" / "model.pkl").is_file()
    assert after == before  # not a byte written


def _without_shm(files: dict[str, bytes]) -> dict[str, bytes]:
    """SQLite's shared-memory index is scratch space, not the workspace's content."""
    return {name: data for name, data in files.items() if not name.endswith("-shm")}


def _without_sqlite_scratch(files: dict[str, bytes]) -> dict[str, bytes]:
    """Also an empty write-ahead log: a reader of a WAL database in a writable folder opens
    one (SQLite's own coordination between readers and writers), holding no change."""
    return {
        name: data
        for name, data in _without_shm(files).items()
        if not (name.endswith("-wal") and data == b"")
    }


# --------------------------------------------------------------------------- damage


def _malformed(pipeline) -> Path:
    """A workspace whose `models` and `runs` tables each start on an unreadable page."""
    _registered(pipeline, "0.9", "0.95")
    ws = pipeline.ws_path
    close_stores(ws)
    db = ws / "workspace.db"
    for table in ("models", "runs"):
        patch_page(db, root_page(db, table), 0, b"\x42")  # not a b-tree page type
    return ws


def test_verify_reports_a_malformed_page_as_damage(pipeline, cli):
    """verify died with a traceback (exit 1) on exactly the damage it exists to report."""
    ws = _malformed(pipeline)
    before = _without_sqlite_scratch(files_of(ws))

    result = cli("verify", workspace=ws)

    assert result.returncode == 3, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    assert "PROBLEM" in result.stdout and "malformed" in result.stdout
    assert "DAMAGED" in result.stdout
    assert _without_sqlite_scratch(files_of(ws)) == before  # changes nothing


@pytest.mark.parametrize(
    "command",
    [("models", "list"), ("models", "history", "iris"), ("runs", "list"), ("gc",)],
    ids=" ".join,
)
def test_commands_on_a_malformed_database_fail_in_one_line(pipeline, cli, command):
    ws = _malformed(pipeline)
    blobs = _blob_files(ws)

    result = cli(*command, workspace=ws)

    assert result.returncode == 3
    line = one_line_error(result)
    assert str(ws / "workspace.db") in line or "refusing" in line
    assert "verify" in line
    assert _blob_files(ws) == blobs
