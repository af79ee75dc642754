"""`champion models convert-onnx`: a version that onnxruntime reproduces is registered as
NAME-onnx with its lineage and the check's figures; one it does not reproduce is refused and
nothing is registered."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from champion.local import Model
from champion.testing import workspace_state

from .conftest import FEATURES, SAMPLE, IrisWorkspace, champion_cli

onnxruntime = pytest.importorskip("onnxruntime")


def convert(iris: IrisWorkspace, *args: str) -> tuple[int, str, str]:
    return champion_cli("--workspace", str(iris.path), "models", "convert-onnx", "iris", *args)


def test_a_faithful_conversion_is_registered_with_its_lineage_and_figures(
    iris: IrisWorkspace, tmp_path: Path
) -> None:
    code, out, err = convert(iris, "--version", "1", "--sample", str(SAMPLE), "--json")
    assert code == 0, err
    report = json.loads(out)
    diff = report.pop("max_probability_diff")
    assert 0 <= diff <= 1e-5  # float32 leaf probabilities: a few 1e-9 off
    assert report == {
        "name": "iris-onnx",
        "version": 1,
        "converted_from": "iris:1",
        "model_type": "DecisionTreeClassifier",
        "rows": 150,
        "labels_equal": True,
        "tolerance": 1e-05,
    }
    onnx = Model(iris.ws, "iris-onnx")
    assert (onnx.version, onnx.model_framework, onnx.tags) == (
        1,
        "Onnx",
        {"converted_from": "iris:1"},
    )
    assert {k: onnx.properties[k] for k in onnx.properties if k.startswith("onnx_check.")} == {
        "onnx_check.rows": "150",
        "onnx_check.labels_equal": "True",
        "onnx_check.max_probability_diff": repr(diff),
        "onnx_check.tolerance": "1e-05",
        "onnx_check.sample": "iris.csv",
    }

    # the registered file, downloaded verified, predicts what iris:1 predicts
    code, out, err = champion_cli(
        "--workspace", str(iris.path), "--json", "models", "download", "iris-onnx",
        "--target", str(tmp_path / "got"),
    )  # fmt: skip
    assert code == 0 and json.loads(out)["verified"] is True, err
    session = onnxruntime.InferenceSession(
        json.loads(out)["path"], providers=["CPUExecutionProvider"]
    )
    frame = pd.read_csv(SAMPLE)
    labels = session.run(None, {"input": frame[FEATURES].to_numpy(dtype="float32")})[0]
    assert list(labels) == iris.predict(1, frame)


def test_verify_knows_a_conversion_needs_no_metric_of_its_own(iris: IrisWorkspace) -> None:
    """`champion verify` warned "model iris-onnx:1 has no 'accuracy' property (unscored)"
    about the version convert-onnx itself registered: a conversion is scored by the version
    it names in `converted_from`, and carries its check's figures instead."""
    code, _, err = convert(iris, "--version", "1", "--sample", str(SAMPLE))
    assert code == 0, err

    code, out, err = champion_cli("--workspace", str(iris.path), "--json", "verify")

    assert code == 0, out + err
    report = json.loads(out)
    assert report["healthy"] is True
    assert report["versions_checked"] == 3
    assert report["warnings"] == []


def test_a_conversion_that_predicts_differently_is_refused(iris: IrisWorkspace) -> None:
    """The champion, k-nearest neighbours: onnxruntime breaks ties between equally distant
    neighbours its own way, so some class probabilities move by 1/k."""
    before = workspace_state(iris.path)
    code, out, err = convert(iris, "--sample", str(SAMPLE))
    assert code == 2, out + err
    (line,) = [x for x in err.splitlines() if x.startswith("champion: error")]
    assert "the ONNX conversion of iris:2 (KNeighborsClassifier) does not predict" in line
    assert "class probabilities differ by up to 0.2 (allowed 1e-05)" in line
    assert "nothing was registered" in line
    assert workspace_state(iris.path) == before
    assert Model.list(iris.ws, name="iris-onnx") == []


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (("--sample", "nope.csv"), "sample file not found: nope.csv"),
        (("--version", "7", "--sample", str(SAMPLE)), "there is no version 7 of model 'iris'"),
    ],
)
def test_bad_input_exits_2_and_registers_nothing(
    iris: IrisWorkspace, args: tuple[str, ...], says: str
) -> None:
    before = workspace_state(iris.path)
    code, _, err = convert(iris, *args)
    assert code == 2 and says in err, err
    assert workspace_state(iris.path) == before


def test_a_sample_without_the_models_columns_is_refused(
    iris: IrisWorkspace, tmp_path: Path
) -> None:
    sample = tmp_path / "short.csv"
    sample.write_text("sepal_length,sepal_width\n1,2\n")
    code, _, err = convert(iris, "--version", "1", "--sample", str(sample))
    assert code == 2 and "missing column(s) petal_length, petal_width" in err, err


def test_importing_champion_imports_none_of_the_extras() -> None:
    """The [serve] and [onnx] extras load only when a command uses them."""
    probe = (
        "import sys, champion, champion.cli, champion.scoring, champion.serving, "
        "champion.onnx_convert, champion.steps.score\n"
        "extras = {'azureml_inference_server_http', 'gunicorn', 'flask', 'skl2onnx', "
        "'onnxruntime', 'onnx'}\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in extras))"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=True
    )
    assert done.stdout.strip() == "[]"
