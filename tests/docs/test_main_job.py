"""The sample story as docs/tutorials/sample-story.md tells it, command by command, in a fresh
copy of the sample: `make run` (its Makefile recipe), a tie that keeps the champion; a challenger
scored on other test data refused, then re-scored on the same rows (a tie: its 1.0 was the easier
test data's), then let through on purpose; a worse one that loses on the same rows; a rollback;
all in `models history` (every decision, the rejections too; a refused input is no decision),
its plot, and `runs list`. Every run that gets past the register step ends with the score step's
predictions by the champion of that moment."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import joblib
import pandas as pd
import pytest
from doc_pages import commands, run_by

from champion.local import Model, Workspace
from champion.steps.train import FEATURES as SAMPLE_FEATURES

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "docs/tutorials/sample-story.md"
BIN = Path(sys.executable).parent
FEATURES = list(SAMPLE_FEATURES)
PIPELINE = ".venv/bin/python pipelines/iris.py"
CLEAN, NOISY = "--data sample_data/iris_clean.csv", "--data sample_data/iris_noisy.csv"
STORY = [  # the page's commands in order: exit code, what the output says
    ("make run", 0, ["first as iris:1", "1 decision(s) on accuracy"]),
    (PIPELINE, 0, ["rejected"]),  # the same rows, the same accuracy: a tie keeps the champion
    (f"{PIPELINE} {CLEAN}", 2, ["was scored on test data hold-out of iris.csv"]),
    (f"{PIPELINE} {CLEAN} --rescore-champion", 0, ["vs champion 1.0 v1 (re-scored)"]),
    (f"{PIPELINE} {CLEAN} --allow-different-test-data", 0, ["promoted as iris:2"]),
    (f"{PIPELINE} {NOISY} --rescore-champion", 0, ["rejected"]),
    (
        '.venv/bin/champion models rollback iris --reason "v2 only won on easier test data"',
        0,
        ["rolled_back as iris:3"],
    ),
    (".venv/bin/champion models history iris --plot history.png", 0, ["6 decision(s)"]),
]


def make_run() -> str:
    """`make run`'s recipe from the Makefile, as the shell lines make would run."""
    lines = (ROOT / "Makefile").read_text().split("\nrun:", 1)[1].split("\n\n", 1)[0]
    recipe = [line.strip() for line in lines.splitlines()[1:] if line.startswith("\t")]
    return "\n".join(line.replace("$(BIN)", ".venv/bin") for line in recipe)


def shell(script: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CHAMPION_", "MLFLOW_"))}
    return subprocess.run(
        ["bash", "-e", "-o", "pipefail", "-c", script],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_the_page_tells_the_story_this_test_runs() -> None:
    said = [command for block in run_by("test_main_job.py", PAGE) for command in commands(block)]
    assert said == [command for command, _, _ in STORY]
    assert make_run().splitlines() == [
        ".venv/bin/python pipelines/iris.py",
        ".venv/bin/champion models history iris",
    ]


@pytest.mark.slow
def test_the_sample_story_first_tie_refusal_win_loss_rollback(tmp_path: Path) -> None:
    project = tmp_path / "project"
    for folder in ("pipelines", "steps", "sample_data"):
        shutil.copytree(ROOT / folder, project / folder)
    (project / ".venv").symlink_to(BIN.parent)
    scored = []
    for command, code, says in STORY:
        result = shell(make_run() if command == "make run" else command, project)
        output = result.stdout + result.stderr
        assert result.returncode == code, f"{command}: {output[-3000:]}"
        assert all(text in output for text in says), f"{command}: {output[-3000:]}"
        score_lines = [x for x in result.stdout.splitlines() if x.startswith("[score] champion:")]
        if "pipelines/iris.py" not in command and command != "make run":
            continue
        if code != 0:  # a refused register stops the pipeline: nothing is scored
            assert score_lines == []
            continue
        # every run that gets past register ends with the champion's predictions, and says
        # which version made them
        (line,) = score_lines
        scored.append((line.split(" with ")[1].split()[0], project / line.split(" -> ")[1]))
    assert [version for version, _ in scored] == ["iris:1", "iris:1", "iris:1", "iris:2", "iris:2"]
    # the last predictions are iris:2's on iris_noisy.csv, as loading iris:2 by hand gives
    ws = project / ".champion"
    downloaded = Path(Model(Workspace(ws), "iris", version=2).download(str(tmp_path / "hand")))
    model = joblib.load(downloaded)  # a one-file model: download() returns the file
    rows = pd.read_csv(ROOT / "sample_data/iris_noisy.csv")
    by_hand = [str(p) for p in model.predict(rows[FEATURES])]
    assert pd.read_csv(scored[-1][1])["prediction"].tolist() == by_hand

    assert (project / "history.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    history = shell(".venv/bin/champion models history iris --json", project)
    decisions = json.loads(history.stdout)
    assert [(d["outcome"], d["version"]) for d in decisions] == [
        ("first", 1),
        ("rejected", None),  # the tie keeps the champion
        ("rejected", None),  # re-scored on the same rows: a tie again
        ("promoted", 2),  # other test data, let through on purpose
        ("rejected", None),  # the noisy challenger loses on the same rows
        ("rolled_back", 3),  # iris:1's files again, as the newest version
    ]
    first, tie, rescored, win, loss, back = decisions
    assert tie["challenger"] == tie["champion"] == first["challenger"]
    assert rescored["challenger"] == rescored["champion"]
    assert float(win["challenger"]) > float(first["challenger"]) > float(loss["challenger"])
    assert (win["champion_version"], loss["champion_version"]) == (1, 2)
    assert back["challenger"] == first["challenger"]

    table = shell(".venv/bin/champion models history iris", project)
    assert "the champion is iris:3" in table.stdout

    runs = shell(".venv/bin/champion runs list", project)
    outcomes = [line.split()[3] for line in runs.stdout.splitlines()[2:]]
    expected = ["-", "first", "promoted", "rejected", "rejected", "rejected", "rolled_back"]
    assert sorted(outcomes) == expected
    as_json = json.loads(shell(".venv/bin/champion runs list --json", project).stdout)
    assert sorted(run["outcome"] or "-" for run in as_json) == sorted(outcomes)
