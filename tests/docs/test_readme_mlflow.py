"""The MLflow how-to (docs/how-to/mlflow.md), run as written: the sample pipeline three times on
a SQLite database (first, a better and a worse challenger), the history, loading
`models:/iris@champion`, then the UI's server started on that database and the champion read
through its REST API, then a rollback, a verified download and a dry run, and the history
again."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import urllib.request
from pathlib import Path

import pytest
from doc_pages import run_by

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "docs/how-to/mlflow.md"
BLOCKS = [block.text for block in run_by("test_readme_mlflow.py", PAGE)]

pytestmark = pytest.mark.slow


def test_the_mlflow_page_works_as_written(tmp_path: Path) -> None:
    for folder in ("pipelines", "steps", "sample_data"):
        shutil.copytree(ROOT / folder, tmp_path / folder)
    (tmp_path / ".venv").symlink_to(ROOT / ".venv")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CHAMPION_", "MLFLOW_"))}
    env.update({"MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "true"})
    run, ui, later = BLOCKS
    done = _bash(run, tmp_path, env)
    assert "the champion is iris:2 (accuracy 1.0), the version holding alias 'champion'" in (
        done.stdout
    )
    assert _decisions(done.stdout) == [
        ("first", "-> v1"),
        ("promoted", "v1 -> v2"),
        ("rejected", "-"),
    ]
    assert "(re-scored)" in done.stdout  # the noisy challenger met the champion on its rows
    # each run's score step scored the rows with the champion it found through the registry
    assert "scored 150 rows of iris.csv with iris:1 (the champion)" in done.stdout
    assert "scored 150 rows of iris_noisy.csv with iris:2 (the champion)" in done.stdout
    assert "['setosa' 'setosa' 'setosa']" in done.stdout  # models:/iris@champion predicts
    assert (tmp_path / "mlflow.db").is_file() and (tmp_path / "mlruns").is_dir()

    from champion.testing.mlflow import SERVER_ENV, free_port

    port = free_port()
    command = ui.split("#", 1)[0].strip().replace("--port 5000", f"--port {port}")
    server = subprocess.Popen(
        ["bash", "-c", f"exec {command}"],
        cwd=tmp_path,
        env={**env, **SERVER_ENV},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        alias = f"http://127.0.0.1:{port}/api/2.0/mlflow/registered-models/alias?name=iris&alias=champion"
        answer = _get_when_up(alias, server)
        assert answer["model_version"]["version"] == "2"
        assert answer["model_version"]["aliases"] == ["champion"]
    finally:
        os.killpg(server.pid, 9)
        server.wait(timeout=30)

    export = run.splitlines()[0]  # the same shell, as a reader's: the first block's export
    assert export.startswith("export MLFLOW_TRACKING_URI=")
    done = _bash(f"{export}\n{later}", tmp_path, env)
    assert "rolled_back as iris:1" in done.stdout and "(sha256 verified)" in done.stdout
    assert "would_promote" in done.stdout
    assert (tmp_path / "out" / "iris" / "MLmodel").is_file()
    assert "the champion is iris:1 (accuracy 0.9777777777777777)" in done.stdout
    assert _decisions(done.stdout) == [
        ("first", "-> v1"),
        ("promoted", "v1 -> v2"),
        ("rejected", "-"),
        ("rolled_back", "v2 -> v1"),
        ("would_promote", "-"),
    ]


def _bash(script: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        ["bash", "-e", "-o", "pipefail", "-c", script],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done


def _decisions(stdout: str) -> list[tuple[str, str]]:
    """(decision, alias move) of each row of the last history table printed."""
    tables = stdout.split("decided (UTC)")
    rows = [line for line in tables[-1].splitlines() if re.match(r"\d{4}-\d\d-\d\d ", line)]
    found = []
    for row in rows:
        cells = re.split(r"\s{2,}", row)  # date and time are one cell: one space between
        found.append((cells[2], cells[6]))
    return found


def _get_when_up(url: str, server: subprocess.Popen[bytes]) -> dict:
    import time

    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        assert server.poll() is None, "the UI's server exited"
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                return json.loads(response.read())
        except OSError:
            time.sleep(0.5)
    raise AssertionError(f"no answer from {url}")
