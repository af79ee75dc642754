"""A refusal that tells the user what to pass names options of the entry they ran, and passing
each one goes through: the sample pipeline file (`python pipelines/iris.py`), `champion
register`, and the register step (`python -m champion.steps.register`). The sample's
test-data refusal used to suggest `--test-data`, which `pipelines/iris.py` rejects. Real
processes, the sample's real data and steps."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import joblib
import pandas as pd
import pytest

from champion.steps.train import FEATURES, LABEL
from champion.testing import create_workspace

ROOT = Path(__file__).resolve().parents[2]
IRIS = ROOT / "pipelines" / "iris.py"
DATA = ROOT / "sample_data"

pytestmark = pytest.mark.slow


def run(ws: Path, *command: str | Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CHAMPION_", "AZUREML_"))}
    env["CHAMPION_WORKSPACE"] = str(ws)
    return subprocess.run(
        [sys.executable, *map(str, command)],
        cwd=ws.parent,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


def refusal(done: subprocess.CompletedProcess[str], code: str) -> list[str]:
    """The options the refusal `code` tells the user to pass."""
    assert done.returncode == 2, done.stdout[-2000:] + done.stderr[-2000:]
    (line,) = [x for x in (done.stdout + done.stderr).splitlines() if f"[{code}]:" in x]
    flags = re.findall(r"(?<![\w-])--[a-z][a-z-]*[a-z]", line)
    assert flags, line
    return flags


def offered(help_command: subprocess.CompletedProcess[str]) -> set[str]:
    assert help_command.returncode == 0, help_command.stderr
    return set(re.findall(r"--[a-z][a-z-]*[a-z]", help_command.stdout))


def unscored_champion(ws: Path) -> Path:
    """iris:1, a real model the gate registered on its f1 alone: it has no accuracy, which
    the sample and `champion register` compare by default. Returns its file."""
    frame = pd.read_csv(DATA / "iris.csv")
    from sklearn.tree import DecisionTreeClassifier

    model = DecisionTreeClassifier(random_state=0).fit(frame[list(FEATURES)], frame[LABEL])
    path = ws.parent / "by-hand" / "model.pkl"
    path.parent.mkdir()
    joblib.dump(model, path)
    registered = run(
        ws, "-m", "champion.cli", "register", "--model-name", "iris", "--model-path", path,
        "--metric", "f1", "--metric-value", "0.9",
    )  # fmt: skip
    assert registered.returncode == 0, registered.stderr
    return path


def test_the_sample_pipelines_refusals_name_its_own_options_and_they_work(
    tmp_path: Path,
) -> None:
    ws = tmp_path / "ws"
    create_workspace(ws)
    assert run(ws, IRIS).returncode == 0  # iris:1, scored on iris.csv's hold-out
    clean = ("--data", DATA / "iris_clean.csv")
    options = offered(run(ws, IRIS, "--help"))
    hinted = refusal(run(ws, IRIS, *clean), "test_data_differs")
    assert set(hinted) <= options, (hinted, sorted(options))
    for flag in hinted:
        followed = run(ws, IRIS, *clean, flag)
        assert followed.returncode == 0, (flag, followed.stdout[-2000:] + followed.stderr)

    other = tmp_path / "other" / "ws"
    create_workspace(other)
    unscored_champion(other)
    hinted = refusal(run(other, IRIS), "champion_unscored")
    assert set(hinted) <= options, (hinted, sorted(options))
    for flag in hinted:
        followed = run(other, IRIS, flag)
        assert followed.returncode == 0, (flag, followed.stdout[-2000:] + followed.stderr)


def test_champion_registers_refusals_name_its_options_and_the_steps(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    create_workspace(ws)
    model = unscored_champion(ws)
    cli = ("-m", "champion.cli", "register", "--model-name", "iris", "--model-path", model)
    register = (*cli, "--metric-value", "0.95", "--test-data", DATA / "iris_clean.csv")
    options = offered(run(ws, *cli[:3], "--help"))
    step_options = offered(run(ws, "-m", "champion.steps.register", "--help"))

    hinted = refusal(run(ws, *register), "champion_unscored")
    assert set(hinted) <= options & step_options, (hinted, sorted(options & step_options))
    for flag in hinted:
        followed = run(ws, *register, flag, "--dry-run")
        assert followed.returncode == 0, (flag, followed.stderr)

    assert run(ws, *register, "--allow-unscored-champion").returncode == 0  # iris:2, scored
    moved = (*cli, "--metric-value", "0.99", "--test-data", DATA / "iris_noisy.csv")
    hinted = refusal(run(ws, *moved), "test_data_differs")
    assert set(hinted) <= options & step_options, (hinted, sorted(options & step_options))
    for flag in hinted:
        followed = run(ws, *moved, flag, "--dry-run")
        assert followed.returncode == 0, (flag, followed.stderr)
