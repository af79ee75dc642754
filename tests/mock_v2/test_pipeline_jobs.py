"""v2 pipelines run locally: `ml_client.jobs.create_or_update(pipeline_job)` under
`mock_azure_ai_ml()` runs every node as a process, with Azure's environment, and champion's
register component gates what comes after it.

Each test runs a real script (`scripts/v2_pipeline.py`, written in the SDK's own style) in a
process of its own, and reads the result as a user would: the jobs and their children through
`MLClient`, the versions, and `champion models history` from the command line.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

SCRIPTS = Path(__file__).parent / "scripts"
CHAMPION = Path(sys.executable).parent / "champion"

pytestmark = pytest.mark.slow


def run_pipeline(
    tmp_path: Path, scenario: str, *accuracies: str, launcher: bool = False
) -> dict[str, Any]:
    """Run the script on the workspace `tmp_path/ws`: under `mock_azure_ai_ml()`, or, with
    `launcher`, as a script of the user's own under `champion mock --`."""
    project = tmp_path / "project"
    if not project.exists():
        project.mkdir()
        shutil.copy(SCRIPTS / "v2_pipeline.py", project)
        shutil.copytree(SCRIPTS / "v2_code", project / "v2_code")
    out = tmp_path / f"{scenario}.json"
    script = ["python", "v2_pipeline.py", "-" if launcher else str(tmp_path / "ws")]
    prefix = [str(CHAMPION), "mock", "--workspace", str(tmp_path / "ws"), "--"] if launcher else []
    env = {**os.environ, "PATH": os.pathsep.join([str(CHAMPION.parent), os.environ["PATH"]])}
    done = subprocess.run(
        [*prefix, *script, scenario, str(out), *accuracies],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    result: dict[str, Any] = json.loads(out.read_text())
    result["console"] = done.stderr
    return result


def history(tmp_path: Path) -> list[dict[str, Any]]:
    done = subprocess.run(
        [
            str(CHAMPION),
            "models",
            "history",
            "iris",
            "--workspace",
            str(tmp_path / "ws"),
            "--format",
            "json",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    found: list[dict[str, Any]] = json.loads(done.stdout)
    return found


def test_three_runs_register_the_winners_only_and_promoted_gates_the_score_step(tmp_path):
    """The issue's bar: a pipeline in the SDK's own style, submitted with
    `ml_client.jobs.create_or_update` by a script that knows nothing of champion's fakes, under
    `champion mock --`."""
    result = run_pipeline(tmp_path, "gate", "0.8", "0.7", "0.9", launcher=True)
    first, loss, win = result["runs"]
    assert [r["status"] for r in result["runs"]] == ["Completed"] * 3
    assert result["versions"] == [[1, "0.8"], [2, "0.9"]]
    # the score node ran after each win, and never after the loss
    assert first["children"] == {"train": "Completed", "register": "Completed",
                                 "score": "Completed"}  # fmt: skip
    assert loss["children"] == {"train": "Completed", "register": "Completed"}
    assert win["children"]["score"] == "Completed"
    assert "node score: not run (condition" in result["console"]
    decisions = [(e["outcome"], e["challenger"], e["version"]) for e in history(tmp_path)]
    assert decisions == [("first", "0.8", 1), ("rejected", "0.7", None), ("promoted", "0.9", 2)]
    # every process of every node started cleanly under the launcher's fakes
    assert "Error" not in result["console"] and "Traceback" not in result["console"]
    # each node said once where its environment would have mattered
    assert "matter only on Azure; it runs here in this Python" in result["console"]


def test_the_metrics_file_output_is_the_register_component_s_metrics_input(tmp_path):
    result = run_pipeline(tmp_path, "metrics-file", "0.85")
    assert result["versions"] == [[1, "0.85"]]
    (entry,) = history(tmp_path)
    assert entry["outcome"] == "first" and entry["challenger"] == "0.85"


def test_a_failed_node_fails_the_pipeline_and_no_later_node_starts(tmp_path):
    result = run_pipeline(tmp_path, "failing", "0.9")
    (run,) = result["runs"]
    assert run["status"] == "Failed"
    assert run["children"] == {"train": "Failed"}
    assert result["versions"] == []
    assert "training failed: no data" in result["console"]
