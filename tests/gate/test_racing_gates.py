"""Racing gates on a registry whose champion is the latest version: the real `azureml.core` under
`mock_azureml()` (Azure ML minus the network), as real `champion register --backend azureml`
processes. Azure ML has no registry lock, so gates race; after a round the latest version must be
the best value decided so far, the losers' versions stay (history), and a worse version that
landed on top is covered by a copy of the best (`race_repaired`). A gate killed right before its
repair leaves the worse version on top; the next registration repairs it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

import pytest
from racing import clean_env, rounds

from champion.local import Model, Run
from champion.names import REPAIR_OF
from champion.record import read_record
from champion.testing import create_workspace

pytestmark = pytest.mark.slow

NAME = "iris"


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    create_workspace(tmp_path / "ws")
    (tmp_path / "model.pkl").write_bytes(b"weights")
    return tmp_path / "ws"


def argv(model: Path, value: str) -> list[str]:
    where = ["--backend", "azureml", "--model-name", NAME, "--model-path", str(model)]
    return [*where, "--metric-value", value]


def latest_value(ws_path: Path) -> str | None:
    from champion.local import Workspace

    ws = Workspace(str(ws_path))
    try:
        return str(Model(ws, NAME).properties["accuracy"])
    finally:
        ws._store.close()


def chain(ws_path: Path) -> list[Model]:
    from champion.local import Workspace

    ws = Workspace(str(ws_path))
    try:
        return sorted(Model.list(ws, name=NAME), key=lambda m: m.version)
    finally:
        ws._store.close()


def test_eight_racing_registers_per_round_end_on_the_best_under_mock_azureml(workspace, tmp_path):
    model = tmp_path / "model.pkl"
    env = clean_env(CHAMPION_WORKSPACE=str(workspace))
    lines = rounds(
        tmp_path,
        lambda value: argv(model, value),
        env,
        lambda: latest_value(workspace),
        under_mock=True,
    )
    versions = chain(workspace)
    copies = [m for m in versions if m.properties.get("champion.outcome") == "race_repaired"]
    by_version = {m.version: m for m in versions}
    for copy in copies:  # a repair holds a decided version's files and numbers, nothing else
        origin = by_version[int(copy.properties[REPAIR_OF])]
        assert origin.properties["champion.outcome"] in ("first", "promoted")
        assert copy.properties["accuracy"] == origin.properties["accuracy"]
        assert copy.properties["artifact_sha256"] == origin.properties["artifact_sha256"]
    print(f"\n[azure mock] {len(versions)} versions, {len(copies)} repair copies")
    print("\n".join(lines))


def _register(workspace: Path, model: Path, value: str, **env: str) -> subprocess.Popen[str]:
    command = [sys.executable, "-m", "champion.pipeline.sdk_shim", "-m", "champion.cli"]
    command += ["register", *argv(model, value)]
    return subprocess.Popen(
        command,
        env=clean_env(CHAMPION_WORKSPACE=str(workspace), **env),
        cwd=workspace.parent,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _wait_stopped(pid: int, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with open(f"/proc/{pid}/stat") as fh:
            if fh.read().split(")")[-1].split()[0] == "T":
                return
        time.sleep(0.05)
    raise AssertionError(f"process {pid} never reached its pause point")


def test_a_gate_killed_before_its_repair_is_repaired_by_the_next_registration(workspace, tmp_path):
    """A (0.6) decides against v1 (0.5) and stops before registering; B (0.9) registers v2. A
    registers v3, worse than v2, sees the race and is killed right before its repair: v3, the
    latest, is the champion, which no serial order gives. The next registration (C, 0.7, which
    beats v3) weighs the race it inherited and registers v2's files again on top."""
    model = tmp_path / "model.pkl"
    first = _register(workspace, model, "0.5")
    assert first.wait(timeout=300) == 0, first.communicate()
    slow = _register(
        workspace,
        model,
        "0.6",
        CHAMPION_PAUSE_AT="gate.decided",
        CHAMPION_CRASH_AT="race.repairing",
    )
    try:
        _wait_stopped(slow.pid)
        fast = _register(workspace, model, "0.9")
        out, err = fast.communicate(timeout=300)
        assert fast.returncode == 0 and "promoted as iris:2" in out, err
    finally:
        os.kill(slow.pid, signal.SIGCONT)
    slow.communicate(timeout=300)
    assert slow.returncode == -signal.SIGKILL
    assert [(m.version, m.properties["accuracy"]) for m in chain(workspace)] == [
        (1, "0.5"),
        (2, "0.9"),
        (3, "0.6"),
    ]

    late = _register(workspace, model, "0.7")
    out, err = late.communicate(timeout=300)
    assert late.returncode == 0, err
    assert "promoted as iris:4" in out and "the champion is v2" in out
    versions = chain(workspace)
    assert [(m.version, m.properties["accuracy"]) for m in versions][3:] == [
        (4, "0.7"),
        (5, "0.9"),
    ]
    assert versions[-1].properties[REPAIR_OF] == "2"
    assert Decimal(latest_value(workspace) or "0") == Decimal("0.9")
    from champion.local import Workspace

    ws = Workspace(str(workspace))
    try:
        record = read_record(Run.get(ws, versions[-1].run_id))
        assert record is not None and record["outcome"] == "race_repaired"
    finally:
        ws._store.close()
