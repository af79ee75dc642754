"""SIGKILL the register step at each named crash point (champion._failpoints), then reopen.

After every crash the registry holds the old state or the complete new state, `champion verify`
finds no damage, and re-running the same pipeline run finishes without a duplicate version.
"""

from __future__ import annotations

import signal

import pytest

from champion.local import Model, Run, Workspace
from champion.local.maintenance import gc, verify
from champion.local.store import Store

TRIALS = 3
POINTS = [
    "blob.temp_written",
    "blob.renamed",
    "register.in_transaction",
    "gate.registered",
    "record.uploaded",
]


def _reopen(path) -> Workspace:
    Store.open(path).close()  # drop this process's cached connection: read as a new process
    return Workspace(path)


@pytest.mark.slow
@pytest.mark.parametrize("trial", range(TRIALS))
@pytest.mark.parametrize("point", POINTS)
def test_crash_leaves_old_or_complete_state_and_rerun_finishes(pipeline, point, trial):
    champion_run = pipeline.new_run({"accuracy": "0.9"}, model_bytes=b"champion %d" % trial)
    assert pipeline.register(champion_run).exit_code == 0
    run = pipeline.new_run({"accuracy": "0.95"}, model_bytes=b"challenger %d" % trial)

    crashed = pipeline.register(run, env={"CHAMPION_CRASH_AT": point})

    assert crashed.exit_code == -signal.SIGKILL, crashed.stdout + crashed.stderr
    ws = _reopen(pipeline.ws_path)
    versions = sorted(int(m.version) for m in Model.list(ws, name="iris"))
    assert versions in ([1], [1, 2]), versions  # old state, or the complete new one
    if versions == [1, 2]:
        new = Model(ws, "iris", version=2)
        assert new.properties["accuracy"] == "0.95"  # complete: metric stored with the version
        assert point in ("gate.registered", "record.uploaded")
    report = verify(ws._store)
    assert report.healthy, report.problems

    rerun = pipeline.register(run)

    assert rerun.exit_code == 0, rerun.stderr
    ws = _reopen(pipeline.ws_path)
    assert sorted(int(m.version) for m in Model.list(ws, name="iris")) == [1, 2]
    parent = Run.get(ws, run.parent.id)
    expected = "already_registered" if point == "gate.registered" else "promoted"
    assert parent.get_tags()["champion.outcome"] == expected
    assert parent.get_tags()["champion.version"] == "2"
    assert parent.get_tags()["champion.record"] == "outputs/champion_decision.json"
    # one verdict, one record: the rerun restates what the killed attempt recorded
    assert [f for f in parent.get_file_names() if "champion_decision" in f] == [
        "outputs/champion_decision.json"
    ]
    assert verify(ws._store).healthy


@pytest.mark.slow
def test_gc_removes_what_a_crash_left_and_nothing_else(pipeline, tmp_path):
    run = pipeline.new_run({"accuracy": "0.9"}, model_bytes=b"left behind")
    assert pipeline.register(run, env={"CHAMPION_CRASH_AT": "blob.temp_written"}).exit_code < 0
    survivor = pipeline.new_run({"accuracy": "0.9"}, model_bytes=b"kept")
    assert pipeline.register(survivor).exit_code == 0
    ws = _reopen(pipeline.ws_path)
    stale = verify(ws._store).warnings
    assert any("stale temp file" in w for w in stale)

    assert gc(ws._store, grace_seconds=3600).removed_temp_files == []  # too young to touch
    report = gc(ws._store, grace_seconds=0)

    assert len(report.removed_temp_files) == 1
    assert not any("stale temp file" in w for w in verify(ws._store).warnings)
    target = Model(ws, "iris").download(str(tmp_path / "dl"))
    assert (tmp_path / "dl" / "iris" / "model.pkl").read_bytes() == b"kept", target


def test_verify_reports_a_corrupt_or_missing_blob(pipeline):
    run = pipeline.new_run({"accuracy": "0.9"}, model_bytes=b"to be damaged")
    assert pipeline.register(run).exit_code == 0
    ws = _reopen(pipeline.ws_path)
    blobs = sorted(p for p in (pipeline.ws_path / "blobs").rglob("*") if p.is_file())
    blobs[0].write_bytes(b"bit rot")
    blobs[-1].unlink() if len(blobs) > 1 else None

    report = verify(ws._store)

    assert not report.healthy
    assert any("corrupt" in p for p in report.problems)


def test_cli_verify_exits_3_on_damage_and_gc_reports(pipeline, tmp_path):
    import os
    import subprocess
    import sys

    run = pipeline.new_run({"accuracy": "0.9"}, model_bytes=b"precious")
    assert pipeline.register(run).exit_code == 0

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "CHAMPION_WORKSPACE": str(pipeline.ws_path)}
        return subprocess.run(
            [sys.executable, "-m", "champion.cli", *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )

    healthy = cli("verify")
    assert healthy.returncode == 0, healthy.stdout
    assert "healthy" in healthy.stdout
    assert "removed 0 orphan blob(s)" in cli("gc", "--min-age", "0").stdout
    for blob in (pipeline.ws_path / "blobs").rglob("*"):
        if blob.is_file() and blob.read_bytes() == b"precious":
            blob.write_bytes(b"rotten")
    damaged = cli("verify")
    assert damaged.returncode == 3
    assert "PROBLEM" in damaged.stdout and "corrupt" in damaged.stdout
