"""The "done when" of issue 23: scripts written only against azure-ai-ml and MLflow, unchanged,
do their work on the local workspace with the network off (the mock's guard and this suite's
own), through the real SDKs.

- register a folder model twice (versions 1 and 2), read it back by version and by
  `label="latest"`, list, archive, list again, download and compare bytes;
- get a pipeline job and its children, and read a child's MLflow metrics by its name, the
  metrics having been logged by a step process through MLflow alone.
"""

from __future__ import annotations

import json
import os
import runpy
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from champion.local import Workspace
from champion.local.mock_v2 import MockAzureAIML
from champion.testing import make_pipeline_run

from .conftest import MODEL_FILES, tree

SCRIPTS = Path(__file__).with_name("scripts")


def run_script(
    name: str, *args: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> Any:
    """Run a user's script in this process (inside the mock), as `python name args...`."""
    capsys.readouterr()
    monkeypatch.setattr(sys, "argv", [name, *args])
    runpy.run_path(str(SCRIPTS / name), run_name="__main__")
    return json.loads(capsys.readouterr().out.strip().splitlines()[-1])


def test_a_script_registers_a_folder_twice_reads_lists_archives_and_downloads_it(
    aml: MockAzureAIML,
    workdir: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seen = run_script(
        "register_and_read.py", "mdir", str(workdir / "out"), capsys=capsys, monkeypatch=monkeypatch
    )

    assert seen["registered"] == ["1", "2"]
    assert seen["by_version"] == {
        "version": "1",
        "tags": {"accuracy": "0.93"},  # tag values are stored as strings
        "properties": {"accuracy": "0.93"},
    }
    assert seen["latest"] == "2"
    assert seen["listed"] == ["2", "1"]  # newest first
    assert seen["listed_after_archive"] == ["2"]  # archived versions vanish from the list
    assert seen["listed_all"] == ["2", "1"]  # ListViewType.ALL brings them back
    assert seen["archived_stage"] == "Archived"
    downloaded = tree(workdir / "out" / "iris")
    assert downloaded == {f"mdir/{k.split('/', 1)[1]}": v for k, v in MODEL_FILES.items()}
    # nothing was asked of the network: every round trip went to the local service
    assert {c.operation.split(".")[0] for c in aml.calls} <= {
        "ModelVersions", "ModelContainers", "Datastores", "Blob", "Container"
    }  # fmt: skip


def test_a_script_reads_a_job_its_children_and_their_mlflow_metrics_by_name(
    aml: MockAzureAIML,
    ws_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pipeline = make_pipeline_run(
        Workspace(ws_path),
        parent_tags={"build": "20261206.1"},
        steps={"train": None, "register": None},
    )
    train = pipeline.steps["train"]
    # the step runs as its own process, with only MLflow, inside the job's run
    env = {**os.environ, "MLFLOW_RUN_ID": train.id}
    done = subprocess.run(
        [sys.executable, str(SCRIPTS / "train_step.py")],
        env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr

    seen = run_script("read_job.py", pipeline.parent.id, capsys=capsys, monkeypatch=monkeypatch)

    assert seen["job"] == {
        "name": pipeline.parent.id,
        "type": "pipeline",
        "status": "Running",
        "tags": {"build": "20261206.1"},
    }
    assert set(seen["children"]) == {"train", "register"}
    trained = seen["children"]["train"]
    assert trained["name"] == train.id
    assert trained["metrics"] == {"accuracy": 0.953}  # the latest value
    assert trained["tags"]["best_model"] == "SVC"
    # the same run, read by the v1 face: one workspace
    assert train.get_metrics()["accuracy"] == [0.91, 0.953]
    assert train.get_tags()["best_model"] == "SVC"
