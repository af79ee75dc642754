"""The main job as README tells it, through the CLI a user types: first model, a tie that keeps
the champion; a challenger scored on other test data refused, then re-scored on the same rows
(a tie: its 1.0 was the easier test data's), then let through on purpose; a worse one that
loses on the same rows; all in `models history` (every decision, the rejections too; a refused
input is no decision) and `runs list`. Every run that gets past the register step ends with the
score step's predictions by the champion of that moment."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import joblib
import pandas as pd
import pytest

from champion.local import Model, Workspace
from champion.steps.train import FEATURES as SAMPLE_FEATURES

ROOT = Path(__file__).resolve().parents[2]
FEATURES = list(SAMPLE_FEATURES)


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
    clean, noisy = (
        str(ROOT / "sample_data/iris_clean.csv"),
        str(ROOT / "sample_data/iris_noisy.csv"),
    )
    story = [
        ([], 0, "first as iris:1"),
        ([], 0, "rejected"),  # the same rows, the same accuracy: a tie keeps the champion
        (["--data", clean], 2, "was scored on test data hold-out of iris.csv"),
        (["--data", clean, "--rescore-champion"], 0, "vs champion 1.0 v1 (re-scored)"),
        (["--data", clean, "--allow-different-test-data"], 0, "promoted as iris:2"),
        (["--data", noisy, "--rescore-champion"], 0, "rejected"),
    ]
    scored = []
    for extra, code, says in story:
        result = champion(ws, "run", "pipelines/iris.py", *extra)
        assert result.returncode == code, result.stdout[-2000:] + result.stderr[-2000:]
        assert says in result.stdout + result.stderr
        score_lines = [x for x in result.stdout.splitlines() if x.startswith("[score] champion:")]
        if code != 0:  # a refused register stops the pipeline: nothing is scored
            assert score_lines == []
            continue
        # every run that gets past register ends with the champion's predictions, and says
        # which version made them
        (line,) = score_lines
        scored.append((line.split(" with ")[1].split()[0], Path(line.split(" -> ")[1])))
    assert [version for version, _ in scored] == ["iris:1", "iris:1", "iris:1", "iris:2", "iris:2"]
    # the last predictions are iris:2's on iris_noisy.csv, as loading iris:2 by hand gives
    downloaded = Path(Model(Workspace(ws), "iris", version=2).download(str(tmp_path / "hand")))
    model = joblib.load(downloaded)  # a one-file model: download() returns the file
    rows = pd.read_csv(noisy)
    by_hand = [str(p) for p in model.predict(rows[FEATURES])]
    assert pd.read_csv(scored[-1][1])["prediction"].tolist() == by_hand

    history = champion(ws, "models", "history", "iris", "--json")
    assert history.returncode == 0, history.stderr
    decisions = json.loads(history.stdout)
    assert [(d["outcome"], d["version"]) for d in decisions] == [
        ("first", 1),
        ("rejected", None),  # the tie keeps the champion
        ("rejected", None),  # re-scored on the same rows: a tie again
        ("promoted", 2),  # other test data, let through on purpose
        ("rejected", None),  # the noisy challenger loses on the same rows
    ]
    first, tie, rescored, win, loss = decisions
    assert tie["challenger"] == tie["champion"] == first["challenger"]
    assert rescored["challenger"] == rescored["champion"]
    assert float(win["challenger"]) > float(first["challenger"]) > float(loss["challenger"])
    assert (win["champion_version"], loss["champion_version"]) == (1, 2)

    table = champion(ws, "models", "history", "iris")
    assert "5 decision(s) on accuracy" in table.stdout
    assert "the champion is iris:2" in table.stdout

    runs = champion(ws, "runs", "list")
    outcomes = [line.split()[3] for line in runs.stdout.splitlines()[2:]]
    assert sorted(outcomes) == ["-", "first", "promoted", "rejected", "rejected", "rejected"]
    as_json = json.loads(champion(ws, "runs", "list", "--json").stdout)
    assert sorted(run["outcome"] or "-" for run in as_json) == sorted(outcomes)
