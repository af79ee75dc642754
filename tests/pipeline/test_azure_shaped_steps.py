"""Azure-shaped step code runs unchanged in the local runner (`azure_shaped/README.md`).

Real processes, the real SDK under `mock_azureml()` (`--real-sdk`) or the local classes, one
local workspace; each pipeline is run the way `champion run` runs it. What is checked is what a
user would see on Azure: which versions exist, what a step run holds, which steps started, the
statuses and the exit code.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from champion.local import Dataset, Model, Run, Workspace
from champion.pipeline import DataReference, PipelineSpec, Step, run_pipeline
from champion.pipeline.local import CANCELED_EXIT_CODE, DRIVER_LOG

HERE = Path(__file__).resolve().parent / "azure_shaped"
IRIS = Path(__file__).resolve().parents[2] / "sample_data" / "iris.csv"

pytestmark = pytest.mark.slow


def _copy(name: str, tmp_path: Path) -> Path:
    source = tmp_path / name
    shutil.copytree(HERE / name, source)
    return source


# --- the seed's register step ---------------------------------------------------------------


def seed_spec(source: Path, accuracy: float) -> PipelineSpec:
    model_dir = DataReference("model_dir")
    return PipelineSpec(
        "seed-shape",
        (
            Step(
                "train",
                "train.py",
                ("--accuracy", str(accuracy), "--output-dir", model_dir),
                outputs=(model_dir,),
                allow_reuse=False,
            ),
            Step(
                "register",
                "register.py",
                ("--model-name", "iris", "--model-dir", model_dir),
                inputs=(model_dir,),
                allow_reuse=False,
            ),
        ),
        source,
    )


def test_seed_register_step_registers_v1_then_only_a_better_v2(
    tmp_path: Path, local_ws: Workspace
) -> None:
    source = _copy("seed", tmp_path)
    shutil.copyfile(IRIS, source / "iris.csv")

    def run(accuracy: float) -> None:
        result = run_pipeline(
            seed_spec(source, accuracy), local_ws.path, real_sdk=True, stream_output=False
        )
        assert result.succeeded, result.summary()

    run(0.9)
    assert [m.version for m in Model.list(local_ws, name="iris")] == [1]
    run(0.85)  # worse: the champion stays
    assert [m.version for m in Model.list(local_ws, name="iris")] == [1]
    run(0.95)
    assert [m.version for m in Model.list(local_ws, name="iris")] == [2, 1]

    champion = Model(local_ws, "iris")
    assert champion.version == 2 and champion.properties["accuracy"] == "0.95"
    assert champion.model_framework == "ScikitLearn"
    configuration = champion.resource_configuration
    assert (configuration.cpu, configuration.memory_in_gb) == (1, 0.5)
    sample = champion.sample_input_dataset
    assert sample is not None and sample.name == "iris-data"
    assert sample.to_pandas_dataframe().shape == (150, 5)
    # the same data each time: one dataset version, whose digest is the file's content
    assert [d.version for d in [Dataset.get_by_name(local_ws, "iris-data")]] == [1]
    digest = local_ws._store.dataset_digest("iris-data", 1)
    assert sample._properties["champion.content_sha256"] == digest
    uploaded = local_ws.path / "datastores" / "workspaceblobstore" / "iris.csv"
    assert uploaded.read_bytes() == IRIS.read_bytes()


# --- the MLOps template's evaluate step ------------------------------------------------------


def mlops_spec(source: Path, accuracy: float) -> PipelineSpec:
    return PipelineSpec(
        "mlops-shape",
        (
            Step(
                "evaluate",
                "evaluate/evaluate_model.py",
                ("--accuracy", str(accuracy)),
                allow_reuse=False,
            ),
            Step("register", "register/register_model.py", allow_reuse=False),
        ),
        source,
    )


@pytest.mark.parametrize("real_sdk", [False, True], ids=["local", "real-sdk"])
def test_evaluate_step_cancels_the_pipeline_on_a_worse_model(
    tmp_path: Path, local_ws: Workspace, real_sdk: bool
) -> None:
    source = _copy("mlops", tmp_path)

    first = run_pipeline(
        mlops_spec(source, 0.9), local_ws.path, real_sdk=real_sdk, stream_output=False
    )
    assert first.succeeded and first.exit_code == 0, first.summary()
    assert Model(local_ws, "iris-mlops").version == 1
    evaluate = Run.get(local_ws, first.steps[0].run_id)
    files = evaluate.get_file_names()
    assert {"outputs/model.pkl", "logs/evaluation.txt", DRIVER_LOG} <= set(files)

    worse = run_pipeline(
        mlops_spec(source, 0.8), local_ws.path, real_sdk=real_sdk, stream_output=False
    )
    assert worse.status == "Canceled" and worse.exit_code == CANCELED_EXIT_CODE
    assert [s.name for s in worse.steps] == ["evaluate"] and worse.skipped == ("register",)
    assert "evaluate canceled the pipeline" in worse.summary()
    parent = Run.get(local_ws, worse.run_id)
    assert parent.get_status() == "Canceled"
    [evaluate_run] = parent.get_children()  # the register step never started
    assert evaluate_run.get_status() == "Canceled"
    # what the canceled step wrote still reached its run
    assert {"outputs/model.pkl", "logs/evaluation.txt"} <= set(evaluate_run.get_file_names())
    evaluate_run.download_file("outputs/model.pkl", str(tmp_path / "candidate.pkl"))
    assert (tmp_path / "candidate.pkl").stat().st_size > 0
    assert [m.version for m in Model.list(local_ws, name="iris-mlops")] == [1]
