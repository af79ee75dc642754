"""Trust in the workspace's database, round 2: a workspace this user may read but not write,
values damaged inside rows, and an index whose damage would hide the champion. Each test
reproduces what a hostile user found on main."""

from __future__ import annotations

import contextlib
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from hostile import (
    as_nobody,
    close_stores,
    files_of,
    flip_bit,
    index_entries,
    one_line_error,
    readable_not_writable,
    root_page,
    shared_folder,
    writable_again,
)

from champion.errors import WorkspaceStoreError
from champion.local.store import Store


def champion(*args: str, workspace: Path) -> subprocess.CompletedProcess[str]:
    """`python -m champion.cli ARGS` as this (root) user."""
    return subprocess.run(
        [sys.executable, "-m", "champion.cli", "--workspace", str(workspace), *args],
        capture_output=True,
        text=True,
        timeout=120,
    )


def register(workspace: Path, model: Path, accuracy: str) -> subprocess.CompletedProcess[str]:
    model.write_bytes(f"a model scoring {accuracy}".encode())
    return champion(
        "register", "--model-name", "iris", "--model-path", str(model),
        "--metric-value", accuracy, workspace=workspace,
    )  # fmt: skip


def registered(workspace: Path, model: Path, *accuracies: str) -> None:
    for accuracy in accuracies:
        result = register(workspace, model, accuracy)
        assert result.returncode == 0, result.stderr


def _without_shm(files: dict[str, bytes]) -> dict[str, bytes]:
    """SQLite's shared-memory index is scratch space, not the workspace's content; so is an
    empty log, which a reader in a folder it may write opens."""
    return {
        name: data
        for name, data in files.items()
        if not name.endswith("-shm") and not (name.endswith("-wal") and data == b"")
    }


# --------------------------------------------------------------------------- row values


def _newest_run(ws: Path) -> str:
    """The run of the newest `champion register` (the one that registered iris:2)."""
    with contextlib.closing(sqlite3.connect(ws / "workspace.db")) as conn:
        return str(conn.execute("SELECT run_id FROM runs ORDER BY seq DESC").fetchone()[0])


DAMAGE = {
    "model properties": (
        'UPDATE models SET properties=\'{"accuracy": "0.9"\' WHERE version=2',
        'table models, row iris:2, column properties holds \'{"accuracy": "0.9"\', not JSON',
        [("models", "list"), ("models", "show", "iris"), ("models", "download", "iris")],
    ),
    "created_utc": (
        "UPDATE models SET created_utc='last tuesday' WHERE version=2",
        "table models, row iris:2, column created_utc holds 'last tuesday', not an ISO-8601",
        [("models", "list"), ("models", "show", "iris"), ("models", "download", "iris")],
    ),
    "version": (
        "UPDATE models SET version='2nd' WHERE version=2",
        "table models, row iris:2nd (seq 2), column version holds '2nd', not an integer",
        [("models", "list"), ("models", "history", "iris")],
    ),
    "run tags": (
        "UPDATE runs SET tags='[\"champion' WHERE run_id='{run}'",
        "table runs, row {run}, column tags holds '[\"champion', not JSON",
        [("runs", "list"), ("models", "history", "iris")],
    ),
}


@pytest.mark.parametrize("damage", list(DAMAGE))
def test_a_damaged_value_in_a_row_is_named_as_damage_not_a_traceback(tmp_path, damage):
    """A model's properties JSON, a run's tags JSON, a created_utc that is no timestamp and a
    version that is no integer crashed verify and models list/show/download with a
    JSONDecodeError (or ValueError) traceback. Verify now lists the row as a PROBLEM, and
    every other command names it in one line and exits 3, changing nothing."""
    ws = tmp_path / "ws"
    assert champion("init", str(ws), workspace=ws).returncode == 0
    registered(ws, tmp_path / "model.pkl", "0.8", "0.9")
    sql, says, commands = DAMAGE[damage]
    run = _newest_run(ws)
    with contextlib.closing(sqlite3.connect(ws / "workspace.db")) as conn:
        conn.execute(sql.replace("{run}", run))
        conn.commit()
    says = says.replace("{run}", run)
    before = _without_shm(files_of(ws))

    checked = champion("verify", workspace=ws)
    results = {
        c: champion(*c, *(["--target", str(tmp_path / "out")] if "download" in c else []),
                    workspace=ws)
        for c in commands
    }  # fmt: skip

    assert checked.returncode == 3, checked.stdout + checked.stderr
    assert "Traceback" not in checked.stderr
    assert f"PROBLEM  damaged row: {says}" in checked.stdout
    for command, result in results.items():
        assert result.returncode == 3, (command, result.stdout, result.stderr)
        line = one_line_error(result)
        assert "the workspace database is damaged" in line and says in line, (command, line)
        assert "champion verify" in line
    assert _without_shm(files_of(ws)) == before
    assert not (tmp_path / "out").exists()


# --------------------------------------------------------------------------- permissions


@pytest.fixture
def shared() -> Iterator[Path]:
    folder = shared_folder()
    yield folder
    writable_again(folder)
    shutil.rmtree(folder)


def _workspace_of_another_user(shared: Path, files: str) -> Path:
    """A workspace root owns, which `nobody` may read but not write, holding iris:1 (0.8) and
    iris:2 (0.9), with SQLite's files beside it as `files` says:

    - closed: no -wal and no -shm (every writer closed): SQLite cannot read it without
      creating a -shm file, in a folder nobody may write;
    - log-without-shm: iris:2 only in the write-ahead log, copied without its -shm file (a
      cache that kept only some files): the log must be read, and needs a wal-index;
    - writer-connected: a process of root's still holds the database open (-wal and -shm
      there, iris:2 only in the log)."""
    ws = shared / "ws"
    result = champion("init", str(ws), workspace=ws)
    assert result.returncode == 0, result.stderr
    model = shared / "model.pkl"
    registered(ws, model, "0.8")
    if files == "closed":
        registered(ws, model, "0.9")
    else:
        holder = sqlite3.connect(ws / "workspace.db", isolation_level=None)
        holder.execute("PRAGMA wal_autocheckpoint=0")
        holder.execute("SELECT count(*) FROM models").fetchone()  # a reader: no checkpoint
        registered(ws, model, "0.9")  # its last close cannot checkpoint: iris:2 in the log
        if files == "log-without-shm":
            copy = shared / "copy"
            shutil.copytree(ws, copy, ignore=shutil.ignore_patterns("*-shm"))
            holder.close()
            shutil.rmtree(ws)
            copy.rename(ws)
        else:
            _holders.append(holder)
    assert (ws / "workspace.db-wal").exists() == (files != "closed")
    readable_not_writable(ws)
    return ws


_holders: list[sqlite3.Connection] = []


@pytest.fixture(autouse=True)
def _close_holders() -> Iterator[None]:
    yield
    while _holders:
        _holders.pop().close()


@pytest.mark.parametrize("files", ["closed", "log-without-shm", "writer-connected"])
def test_a_workspace_you_may_not_write_can_be_listed_shown_downloaded_and_verified(shared, files):
    """As a user who may read but not write the workspace, every reading command said
    "attempt to write a readonly database ... it is not a champion workspace or it is corrupt"
    and verify called it DAMAGED (the existing test used a read-only mount, which SQLite
    treats differently). Each now reads it, the newest commit included, and writes nothing."""
    ws = _workspace_of_another_user(shared, files)
    target = shared / "out"
    target.mkdir(mode=0o777)
    target.chmod(0o777)
    before = _without_shm(files_of(ws))
    names = sorted(p.name for p in ws.iterdir())

    results = {
        "list": as_nobody("models", "list", workspace=ws, cwd=shared),
        "show": as_nobody("models", "show", "iris", "--json", workspace=ws, cwd=shared),
        "history": as_nobody("models", "history", "iris", workspace=ws, cwd=shared),
        "runs": as_nobody("runs", "list", workspace=ws, cwd=shared),
        "download": as_nobody(
            "models", "download", "iris", "--target", str(target / "iris"), workspace=ws, cwd=shared
        ),
        "verify": as_nobody("verify", workspace=ws, cwd=shared),
    }

    for name, result in results.items():
        assert result.returncode == 0, (name, result.stdout, result.stderr)
    assert '"version": 2' in results["show"].stdout  # the commit in the log was read
    assert "healthy" in results["verify"].stdout
    assert "(sha256 verified)" in results["download"].stdout
    assert (target / "iris" / "model.pkl").read_bytes() == b"a model scoring 0.9"
    assert _without_shm(files_of(ws)) == before  # not a byte written
    assert sorted(p.name for p in ws.iterdir()) == names  # nor a file created


@pytest.mark.parametrize("command", [("register",), ("gc",)], ids=" ".join)
def test_a_write_to_a_workspace_you_may_not_write_is_permission_denied(shared, command):
    """Writing commands said the same "readonly database ... corrupt" line, exit 3."""
    ws = _workspace_of_another_user(shared, "closed")
    model = shared / "challenger.pkl"
    model.write_bytes(b"a better model")
    model.chmod(0o644)
    args = (
        ["register", "--model-name", "iris", "--model-path", str(model), "--metric-value", "0.99"]
        if command == ("register",)
        else ["gc", "--min-age", "0"]
    )
    before = files_of(ws)

    result = as_nobody(*args, workspace=ws, cwd=shared)

    assert result.returncode == 2, result.stderr
    line = one_line_error(result)
    assert f"permission denied: {ws} is not writable by you" in line
    assert "damage" not in line and "corrupt" not in line
    assert files_of(ws) == before


def test_a_database_you_may_not_read_is_permission_denied_not_damage(shared):
    ws = _workspace_of_another_user(shared, "closed")
    (ws / "workspace.db").chmod(0o400)

    results = [as_nobody(*c, workspace=ws, cwd=shared) for c in (("verify",), ("models", "list"))]

    for result in results:
        assert result.returncode == 2, result.stdout + result.stderr
        line = one_line_error(result)
        assert f"permission denied: {ws / 'workspace.db'} is not readable by you" in line
        assert "DAMAGED" not in result.stdout


def test_a_reader_of_a_frozen_file_sees_a_writer_that_comes_later(tmp_path):
    """A reader that opened a database it could not coordinate on (a read-only view, no -shm)
    read the file as it was; a writer that comes later (through a path it may write) must not
    leave it reading a stale or half-checkpointed file."""
    ws = tmp_path / "ws"
    store = Store.create(ws)
    asset = store.create_asset(["x/model.pkl"])
    store.register_model("iris", asset.id, properties={"accuracy": "0.8"})
    close_stores(ws)
    view = tmp_path / "view"  # the same folder, read-only: the reader's path to it
    view.mkdir()
    if not (_mount("--bind", str(ws), str(view)) and _mount("-o", "remount,ro,bind", str(view))):
        subprocess.run(["umount", str(view)], check=False)
        pytest.skip("cannot make a read-only bind mount here")
    try:
        reader = Store.open(view, read_only=True)
        assert [m.version for m in reader.query_models(name="iris", limit=1)] == [1]
        assert not (ws / "workspace.db-shm").exists()  # none, and none can be created there
        writer = Store.open(ws)
        writer.register_model("iris", asset.id, properties={"accuracy": "0.9"})
        writer.close()  # its last close: it would checkpoint and remove its log, if it could

        assert [m.version for m in reader.query_models(name="iris", limit=1)] == [2]
        reader.close()
    finally:
        subprocess.run(["umount", str(view)], check=False)


def _mount(*args: str) -> bool:
    return subprocess.run(["mount", *args], capture_output=True, check=False).returncode == 0


# --------------------------------------------------------------------------- an index


def _champion_index_entry(ws: Path) -> list[int]:
    """The serial-type offsets of the `models_name` entry of the champion, iris:3."""
    db = ws / "workspace.db"
    with contextlib.closing(sqlite3.connect(db)) as conn:
        seq = conn.execute("SELECT seq FROM models WHERE name='iris' AND version=3").fetchone()[0]
    [offsets] = [
        offsets
        for values, offsets in index_entries(db, "models_name")
        if values[:3] == ["iris", 0, seq]
    ]
    return offsets


def test_a_flipped_bit_in_the_models_name_index_cannot_promote_a_worse_model(tmp_path):
    """One bit flipped in the `models_name` index (the champion's entry now says "deleted")
    hid the champion: verify reported it (exit 3), but register promoted 0.6 over the real
    champion 0.9. Register now refuses: exit 3, one line saying the workspace is damaged and
    to run `champion verify`, and registers nothing."""
    ws = tmp_path / "ws"
    assert champion("init", str(ws), workspace=ws).returncode == 0
    model = tmp_path / "model.pkl"
    registered(ws, model, "0.5", "0.7", "0.9")
    close_stores(ws)
    db = ws / "workspace.db"
    offsets = _champion_index_entry(ws)
    flip_bit(db, offsets[1])  # the `deleted` column's serial type: 8 (the integer 0) -> 9 (1)
    with contextlib.closing(sqlite3.connect(db)) as conn:  # the damage is silent to a query
        hidden = conn.execute(  # the lookup register made
            "SELECT version FROM models WHERE name='iris' AND deleted=0 ORDER BY seq DESC LIMIT 1"
        ).fetchone()
        assert hidden == (2,)
    before = _without_shm(files_of(ws))

    result = register(ws, tmp_path / "challenger.pkl", "0.6")

    assert result.returncode == 3, result.stdout + result.stderr
    line = one_line_error(result)
    assert "is damaged" in line and "champion verify" in line
    assert "promoted" not in result.stdout
    with contextlib.closing(sqlite3.connect(db)) as conn:
        assert conn.execute("SELECT count(*) FROM models NOT INDEXED").fetchone() == (3,)
    assert _without_shm(files_of(ws)) == before  # nothing registered, no record, no run
    checked = champion("verify", workspace=ws)
    assert checked.returncode == 3 and "models_name" in checked.stdout


def test_no_single_bit_flip_in_the_models_name_index_changes_the_champion(tmp_path):
    """Every single-bit flip in the used bytes of the `models_name` index page (several
    models, several versions): the champion lookup answers the true champion or refuses the
    workspace as damaged. Before, 76 of these flips answered another version, or none."""
    ws = tmp_path / "ws"
    store = Store.create(ws)
    asset = store.create_asset(["x/model.pkl"])
    for name, accuracy in [("iris", "0.5"), ("other", "0.7"), ("iris", "0.8"),
                           ("other", "0.6"), ("iris", "0.9"), ("zeta", "0.1")]:  # fmt: skip
        store.register_model(name, asset.id, properties={"accuracy": accuracy})
    close_stores(ws)
    db = ws / "workspace.db"
    with contextlib.closing(sqlite3.connect(db)) as conn:
        size = conn.execute("PRAGMA page_size").fetchone()[0]
    original = db.read_bytes()
    start = (root_page(db, "models_name") - 1) * size
    used = [i for i in range(size) if original[start + i] != 0]
    flipped = tmp_path / "flipped"
    flipped.mkdir()
    wrong, refused = [], 0
    for offset in used:
        for bit in range(8):
            damaged = bytearray(original)
            damaged[start + offset] ^= 1 << bit
            (flipped / "workspace.db").write_bytes(bytes(damaged))
            reader = Store(flipped, read_only=True)
            try:
                found = [m.id for m in reader.query_models(name="iris", limit=1)]
                if found != ["iris:3"]:
                    wrong.append((offset, bit, found))
            except WorkspaceStoreError:
                refused += 1
            finally:
                reader.close()
    assert wrong == []
    assert refused > 0  # the sweep did reach the entries
