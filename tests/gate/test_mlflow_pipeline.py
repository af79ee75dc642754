"""The sample pipeline on MLflow (`champion pipeline run pipelines/iris.py --backend mlflow`), as
a user runs it: what its steps wrote into their output folders outlives the run's temporary
folder, as artifacts of the step's own MLflow run, and the console says where."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]


def test_the_score_steps_predictions_are_kept_on_its_run(tmp_path: Path) -> None:
    for folder in ("pipelines", "steps", "sample_data"):
        shutil.copytree(ROOT / folder, tmp_path / folder)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CHAMPION_", "MLFLOW_"))}
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    env.update({"MLFLOW_TRACKING_URI": uri, "MLFLOW_DISABLE_TELEMETRY": "true"})
    champion = str(Path(sys.executable).parent / "champion")
    done = subprocess.run(
        [champion, "pipeline", "run", "pipelines/iris.py", "--backend", "mlflow"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    kept = re.search(r"\[score\] output predictions kept on MLflow run (\w+): (.*)", done.stdout)
    assert kept is not None, done.stdout[-3000:]
    run_id = kept.group(1)
    assert "predictions/predictions.csv" in kept.group(2)

    from champion.registry.mlflow import connect

    client = connect(uri).client
    run = client.get_run(run_id)
    assert run.info.run_name == "score" and run.info.status == "FINISHED"
    target = tmp_path / "downloaded"
    target.mkdir()
    csv = Path(client.download_artifacts(run_id, "predictions/predictions.csv", str(target)))
    record = Path(client.download_artifacts(run_id, "champion_scoring.json", str(target)))
    scoring = json.loads(record.read_text())
    # the very file the step scored: its digest is the one the step recorded on its run
    assert hashlib.sha256(csv.read_bytes()).hexdigest() == scoring["predictions_sha256"]
    assert scoring["rows"] == 150 and len(csv.read_text().splitlines()) == 151
