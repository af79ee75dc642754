"""The score step (`python -m champion.steps.score`) as a real process inside a step run: it
scores with the champion or the version asked for, writes predictions that match loading that
version by hand, records which version made them, and fails closed on bad input."""

from __future__ import annotations

import json
from pathlib import Path

import joblib
import pandas as pd
import pytest

from champion.local import Dataset, Model, Run
from champion.testing import StepRunResult, make_pipeline_run, run_step, workspace_state

from .conftest import FEATURES, SAMPLE, IrisWorkspace

SCORE = "champion.steps.score"


def score(
    iris: IrisWorkspace, *args: str | Path, real_sdk: bool = False
) -> tuple[StepRunResult, Run]:
    """The step with `--model-name iris` (unless `args` name another) in a new pipeline run."""
    tree = make_pipeline_run(iris.ws, steps={"score": {}})
    named = args if "--model-name" in args else ("--model-name", "iris", *args)
    result = run_step(SCORE, *named, run=tree, step="score", real_sdk=real_sdk)
    return result, tree.steps["score"]


def with_ids(tmp_path: Path) -> Path:
    frame = pd.read_csv(SAMPLE)
    frame.insert(0, "ID", [f"flower-{i}" for i in range(len(frame))])
    path = tmp_path / "flowers.csv"
    frame.to_csv(path, index=False)
    return path


def by_hand(iris: IrisWorkspace, version: int, target: Path, data: Path) -> list[str]:
    """Load the registered version the way a user would (download, joblib.load) and predict."""
    downloaded = Path(Model(iris.ws, "iris", version=version).download(str(target)))
    model = joblib.load(downloaded if downloaded.is_file() else downloaded / "model.pkl")
    return [str(p) for p in model.predict(pd.read_csv(data)[FEATURES])]


def test_the_champion_scores_the_data_and_the_run_says_which_version(
    iris: IrisWorkspace, tmp_path: Path
) -> None:
    data = with_ids(tmp_path)
    out = tmp_path / "out"
    result, step_run = score(iris, "--champion", "--data", data, "--output", out)
    assert result.exit_code == 0, result.output

    predictions = pd.read_csv(out / "predictions.csv")
    assert list(predictions.columns) == ["ID", "prediction"]
    assert list(predictions["ID"]) == list(pd.read_csv(data)["ID"])
    assert list(predictions["prediction"]) == by_hand(iris, 2, tmp_path / "hand", data)
    assert list(predictions["prediction"]) == iris.predict(2, pd.read_csv(data))

    tags = Run.get(iris.ws, step_run.id).get_tags()
    assert (tags["champion.scored_model"], tags["champion.scored_version"]) == ("iris", "2")
    record = json.loads((out / "scoring.json").read_text())
    assert record == json.loads(Path(step_run.download_file(
        "outputs/champion_scoring.json", str(tmp_path / "record.json"))
        or tmp_path / "record.json").read_text())  # fmt: skip
    assert {k: record[k] for k in ("model", "version", "chosen_by", "rows", "id_column")} == {
        "model": "iris",
        "version": 2,
        "chosen_by": "champion",
        "rows": 150,
        "id_column": "ID",
    }
    assert result.stdout.strip().endswith(f"with iris:2 (the champion) -> {out}/predictions.csv")


def test_a_given_version_scores_in_small_chunks_with_the_same_result(
    iris: IrisWorkspace, tmp_path: Path
) -> None:
    whole, _ = score(iris, "--version", "1", "--data", SAMPLE, "--output", tmp_path / "whole")
    chunked, run = score(
        iris, "--version", "1", "--data", SAMPLE, "--output", tmp_path / "chunked",
        "--chunk-rows", "7",
    )  # fmt: skip
    assert whole.exit_code == 0 and chunked.exit_code == 0, whole.output + chunked.output
    text = (tmp_path / "chunked" / "predictions.csv").read_text()
    assert text == (tmp_path / "whole" / "predictions.csv").read_text()
    assert text.splitlines()[0] == "prediction"  # the sample has no id column
    assert text.splitlines()[1:] == by_hand(iris, 1, tmp_path / "hand", SAMPLE)
    assert by_hand(iris, 1, tmp_path / "h1", SAMPLE) != by_hand(iris, 2, tmp_path / "h2", SAMPLE)
    assert run.get_tags()["champion.scored_version"] == "1"


def test_a_registered_dataset_is_scored_like_its_file(iris: IrisWorkspace, tmp_path: Path) -> None:
    datastore = iris.ws.get_default_datastore()
    datastore.upload_files([str(SAMPLE)], relative_root=str(SAMPLE.parent), show_progress=False)
    table = Dataset.Tabular.from_delimited_files((datastore, "iris.csv"))
    table.register(iris.ws, "flowers")
    result, _ = score(iris, "--data", "dataset:flowers:1", "--output", tmp_path / "out")
    assert result.exit_code == 0, result.output
    predictions = (tmp_path / "out" / "predictions.csv").read_text().splitlines()[1:]
    assert predictions == by_hand(iris, 2, tmp_path / "hand", SAMPLE)
    record = json.loads((tmp_path / "out" / "scoring.json").read_text())
    assert record["data"] == "dataset:flowers:1" and record["data_sha256"]


def test_the_real_sdk_path_scores_the_same(iris: IrisWorkspace, tmp_path: Path) -> None:
    """Under `mock_azureml()` the step takes the Azure ML backend (the real SDK's Model and
    download), as it does in an Azure ML pipeline."""
    result, run = score(iris, "--data", SAMPLE, "--output", tmp_path / "out", real_sdk=True)
    assert result.exit_code == 0, result.output
    predictions = (tmp_path / "out" / "predictions.csv").read_text().splitlines()[1:]
    assert predictions == by_hand(iris, 2, tmp_path / "hand", SAMPLE)
    assert run.get_tags()["champion.scored_version"] == "2"


def test_a_retried_step_keeps_its_first_record(iris: IrisWorkspace, tmp_path: Path) -> None:
    tree = make_pipeline_run(iris.ws, steps={"score": {}})
    for _ in range(2):
        done = run_step(SCORE, "--model-name", "iris", "--data", SAMPLE, "--output",
                        tmp_path / "out", run=tree, step="score")  # fmt: skip
        assert done.exit_code == 0, done.output
    names = [n for n in tree.steps["score"].get_file_names() if "scoring" in n]
    assert sorted(names) == ["outputs/champion_scoring.2.json", "outputs/champion_scoring.json"]


# ---------------------------------------------------------------------- failing closed


def bad_csv(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "bad.csv"
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--data", "nope.csv"], "data file not found: nope.csv"),
        (["--data", "dataset:"], "is not dataset:NAME"),
        (["--data", "dataset:missing"], "no registered dataset missing (latest)"),
        (["--version", "9"], "there is no version 9 of model 'iris'"),
        (["--model-name", "other"], "there is no model 'other'"),
        (["--version", "0"], "'0' must be 1 or more"),
        (["--version", "1", "--champion"], "not allowed with argument"),
    ],
)
def test_bad_input_exits_2_and_writes_nothing(
    iris: IrisWorkspace, tmp_path: Path, args: list[str], says: str
) -> None:
    full = ["--data", str(SAMPLE), *args] if "--data" not in args else args
    if "--model-name" not in full:
        full = ["--model-name", "iris", *full]
    tree = make_pipeline_run(iris.ws, steps={"score": {}})
    before = workspace_state(iris.path)
    result = run_step(SCORE, *full, "--output", tmp_path / "out", run=tree, step="score")
    assert result.exit_code == 2, result.output
    assert says in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "out").exists()
    assert workspace_state(iris.path) == before


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("sepal_length,sepal_width\n1,2\n", "missing column(s) petal_length, petal_width"),
        (
            "sepal_length,sepal_width,petal_length,petal_width\n1,2,3,4\n1,2,x,4\n",
            "column 'petal_length' is not numeric (data row 2 holds 'x')",
        ),
        ("sepal_length,sepal_width,petal_length,petal_width\n1,2,,4\n", "has an empty value"),
    ],
)
def test_bad_rows_leave_no_predictions(
    iris: IrisWorkspace, tmp_path: Path, text: str, says: str
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "predictions.csv").write_text("earlier\n")
    result, run = score(iris, "--data", bad_csv(tmp_path, text), "--output", out,
                        "--chunk-rows", "1")  # fmt: skip
    assert result.exit_code == 2, result.output
    assert says in result.stderr
    assert (out / "predictions.csv").read_text() == "earlier\n"  # untouched
    assert sorted(p.name for p in out.iterdir()) == ["predictions.csv"]
    assert "champion.scored_version" not in run.get_tags()


def test_an_unverifiable_version_is_never_loaded(
    iris: IrisWorkspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A version registered by hand has no artifact_sha256: its bytes cannot be checked, so
    they are not unpickled."""
    (tmp_path / "hand.pkl").write_bytes(b"not checked, not loaded")
    monkeypatch.chdir(tmp_path)  # the SDK's rule: a model_path inside the working directory
    Model.register(iris.ws, "hand.pkl", "iris")
    result, _ = score(iris, "--data", SAMPLE, "--output", tmp_path / "out")
    assert result.exit_code == 2, result.output
    assert "iris:3 has no artifact_sha256 property" in result.stderr


def test_a_corrupt_blob_exits_3_and_nothing_is_scored(iris: IrisWorkspace, tmp_path: Path) -> None:
    model = Model(iris.ws, "iris", version=2)
    [(_, artifact)] = iris.ws._store.model_files(model._asset_id)
    blob = iris.ws._store.blob_path(artifact.digest)
    blob.chmod(0o644)
    blob.write_bytes(b"tampered")
    result, run = score(iris, "--data", SAMPLE, "--output", tmp_path / "out")
    assert result.exit_code == 3, result.output
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "out").exists()
    assert "champion.scored_version" not in run.get_tags()


def test_outside_a_run_it_says_how_to_give_it_one(iris: IrisWorkspace, tmp_path: Path) -> None:
    result = run_step(SCORE, "--model-name", "iris", "--data", SAMPLE, "--output",
                      tmp_path / "out", run=None, workspace=iris.ws)  # fmt: skip
    assert result.exit_code == 2, result.output
    assert "not running inside a run" in result.stderr
