"""One registry, several faces: a model registered through azure-ai-ml is the row
`champion.local.Model` and `azureml.core.Model` (under `mock_azureml`) see, with the same
version numbers, tags, properties and bytes; one registered through either of them is read and
downloaded through azure-ai-ml; MLflow inside the mock reads and writes the same versions."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from azure.ai.ml.entities import Model

from champion.local import Experiment, Workspace
from champion.local import Model as LocalModel
from champion.local.mock import mock_azureml
from champion.local.mock_v2 import MockAzureAIML

from .conftest import MODEL_FILES, tree

MLMODEL = (
    "flavors:\n  sklearn:\n    pickled_model: model.pkl\n"
    "  python_function:\n    loader_module: mlflow.sklearn\n"
)


def test_a_model_registered_through_azure_ai_ml_is_the_row_every_face_sees(
    ws_path: Path, workdir: Path, ml_client: Any
) -> None:
    ml_client.models.create_or_update(Model(name="m", path="mdir", properties={"accuracy": "0.9"}))
    ml_client.models.create_or_update(
        Model(name="m", path="model.pkl", tags={"t": 1}, properties={"accuracy": "0.95"})
    )

    local = LocalModel(Workspace(ws_path), "m")
    assert (local.version, local.tags, local.properties) == (2, {"t": "1"}, {"accuracy": "0.95"})
    first = LocalModel(Workspace(ws_path), "m", version=1)
    downloaded = Path(first.download(str(workdir / "local-out")))
    assert tree(downloaded) == {k.split("/", 1)[1]: v for k, v in MODEL_FILES.items()}

    import azureml.core

    with mock_azureml(ws_path) as v1:
        sdk_model = azureml.core.Model(v1.workspace, "m")
        assert (sdk_model.version, sdk_model.properties) == (2, {"accuracy": "0.95"})
        assert [m.version for m in azureml.core.Model.list(v1.workspace, name="m")] == [2, 1]


def test_a_model_registered_through_v1_is_read_and_downloaded_through_azure_ai_ml(
    ws_path: Path, workdir: Path, ml_client: Any
) -> None:
    ws = Workspace(ws_path)
    run = Experiment(ws, "exp").start_logging()
    run.upload_folder("outputs/model", "mdir")
    run.register_model("m", model_path="outputs/model", properties={"accuracy": "0.9"})

    model = ml_client.models.get("m", "1")
    assert model.properties == {"accuracy": "0.9"}
    assert model.job_name == run.id
    assert "/datastores/workspaceartifactstore/paths/ExperimentRun/" in model.path
    ml_client.models.download("m", "1", download_path=str(workdir / "v2-out"))
    assert tree(workdir / "v2-out" / "m") == {
        f"model/{k.split('/', 1)[1]}": v for k, v in MODEL_FILES.items()
    }
    assert ml_client.models.get("m", label="latest").version == "1"


def _log_mlflow_model(aml: MockAzureAIML, ws_path: Path) -> str:
    """A step process that logs an MLflow-format model folder as its run's artifacts."""
    run = Experiment(Workspace(ws_path), "train").start_logging()
    code = (
        "import mlflow, pathlib, tempfile\n"
        "d = pathlib.Path(tempfile.mkdtemp()) / 'model'; d.mkdir()\n"
        f"(d / 'MLmodel').write_text({MLMODEL!r})\n"
        "(d / 'model.pkl').write_bytes(b'pickled')\n"
        "with mlflow.start_run():\n"
        "    mlflow.log_artifacts(str(d), 'model')\n"
    )
    env = {**os.environ, "MLFLOW_RUN_ID": run.id}
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    return str(run.id)


def test_mlflow_and_azure_ai_ml_read_what_the_other_registered(
    aml: MockAzureAIML, ws_path: Path, workdir: Path, ml_client: Any
) -> None:
    import mlflow
    from mlflow import MlflowClient

    run_id = _log_mlflow_model(aml, ws_path)
    by_mlflow = mlflow.register_model(f"runs:/{run_id}/model", "iris")
    assert by_mlflow.version == "1"
    ml_client.models.create_or_update(Model(name="iris", path="model.pkl"))

    versions = MlflowClient().search_model_versions("name='iris'")
    assert sorted(v.version for v in versions) == ["1", "2"]
    seen = ml_client.models.get("iris", "1")
    assert (seen.type, seen.job_name) == ("mlflow_model", run_id)
    assert set(seen.flavors) == {"sklearn", "python_function"}
    assert LocalModel(Workspace(ws_path), "iris", version=1).run_id == run_id
    # MLflow loads the files of the version azure-ai-ml registered
    local = mlflow.artifacts.download_artifacts(
        MlflowClient().get_model_version_download_uri("iris", "2"), dst_path=str(workdir / "dl")
    )
    assert Path(local, "model.pkl").read_bytes() == b"pickled model"


def test_mlflow_registers_only_an_mlflow_format_model_as_azure_does(
    aml: MockAzureAIML, ws_path: Path
) -> None:
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    run = Experiment(Workspace(ws_path), "train").start_logging()
    run.upload_file("outputs/model.pkl", str(Path("model.pkl").resolve()))
    client = MlflowClient()
    with pytest.raises(MlflowException, match="registers only MLflow-format models"):
        client.create_model_version("m", f"runs:/{run.id}/outputs", run_id=run.id)
    assert aml.store.model_container("m") is None
