"""Trust in the workspace's database, round 2: a workspace this user may read but not write,
values damaged inside rows, and an index whose damage would hide the champion. Each test
reproduces what a hostile user found on main."""

from __future__ import annotations

import contextlib
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from hostile import files_of, one_line_error


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
