"""The main job as README tells it, through the CLI a user types: first model, a tie that keeps
the champion, a better challenger that wins, a worse one that loses; all in `models history`,
the rejections too."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def champion(ws: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CHAMPION_WORKSPACE": str(ws)}
    env.pop("CHAMPION_RUN_ID", None)
    return subprocess.run(
        [sys.executable, "-m", "champion.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=300,
    )


@pytest.mark.slow
def test_readme_story_first_tie_win_loss(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    for data in (None, None, "sample_data/iris_clean.csv", "sample_data/iris_noisy.csv"):
        extra = ["--data", str(ROOT / data)] if data else []
        result = champion(ws, "run", "pipelines/iris.py", *extra)
        assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]

    history = champion(ws, "models", "history", "iris", "--json")
    assert history.returncode == 0, history.stderr
    decisions = json.loads(history.stdout)
    assert [(d["outcome"], d["version"]) for d in decisions] == [
        ("first", 1),
        ("rejected", None),  # the tie keeps the champion
        ("promoted", 2),
        ("rejected", None),  # the noisy challenger loses
    ]
    first, tie, win, loss = decisions
    assert tie["challenger"] == tie["champion"] == first["challenger"]
    assert float(win["challenger"]) > float(first["challenger"]) > float(loss["challenger"])
    assert (win["champion_version"], loss["champion_version"]) == (1, 2)

    table = champion(ws, "models", "history", "iris")
    assert "4 decision(s) on accuracy" in table.stdout
    assert "the champion is iris:2" in table.stdout

    runs = champion(ws, "runs", "list")
    outcomes = [line.split()[3] for line in runs.stdout.splitlines()[2:]]
    assert sorted(outcomes) == ["first", "promoted", "rejected", "rejected"]
    as_json = json.loads(champion(ws, "runs", "list", "--json").stdout)
    assert sorted(run["outcome"] for run in as_json) == sorted(outcomes)
