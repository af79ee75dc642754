"""The sample training step: its pure functions, the sample data it ships with, its error exits.

The happy path needs a run (``champion.context``) and is covered end to end by the pipeline tests;
here only what runs without one: loading, training, saving, and the bad-input exits of the script.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import joblib
import pytest

from champion.steps import train

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "steps" / "train.py"  # the Azure snapshot's wrapper around the module
SAMPLE = ROOT / "sample_data"


def load_script(path: Path, name: str) -> ModuleType:
    """Import a script that is not in a package, under a name no other test module uses."""
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def best_accuracy(csv: Path, seed: int = 42) -> float:
    X, y = train.load_dataset(csv)
    return train.train_candidates(X, y, seed=seed)[0][2]


def write_csv(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


# --- load_dataset -------------------------------------------------------------------------------


def test_load_dataset_returns_the_four_features_and_string_species() -> None:
    X, y = train.load_dataset(SAMPLE / "iris.csv")
    assert list(X.columns) == list(train.FEATURES)
    assert X.shape == (150, 4)
    assert sorted(y.unique()) == ["setosa", "versicolor", "virginica"]


def test_load_dataset_names_a_missing_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope.csv"
    with pytest.raises(train.DatasetError, match="not found") as info:
        train.load_dataset(missing)
    assert str(missing) in str(info.value)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("sepal_length,sepal_width,petal_length,petal_width,label\n1,2,3,4,a\n", "species"),
        ("sepal_length,sepal_width,petal_length,species\n1,2,3,a\n", "petal_width"),
        ("sepal_length,sepal_width,petal_length,petal_width,species\n1,2,3,x,a\n", "non-numeric"),
        ("sepal_length,sepal_width,petal_length,petal_width,species\n1,2,3,,a\n", "empty values"),
        ("sepal_length,sepal_width,petal_length,petal_width,species\n1,2,3,4,a\n", "two species"),
        ("", "not a readable CSV"),
    ],
    ids=["label-misnamed", "column-missing", "non-numeric", "empty-cell", "one-class", "empty"],
)
def test_load_dataset_rejects_bad_content_naming_file_and_problem(
    tmp_path: Path, text: str, expected: str
) -> None:
    bad = write_csv(tmp_path / "bad.csv", text)
    with pytest.raises(train.DatasetError, match=expected) as info:
        train.load_dataset(bad)
    assert str(bad) in str(info.value)


# --- train_candidates ---------------------------------------------------------------------------


def test_train_candidates_is_deterministic_for_a_seed() -> None:
    X, y = train.load_dataset(SAMPLE / "iris.csv")
    first = train.train_candidates(X, y, seed=42, test_size=0.3)
    second = train.train_candidates(X, y, seed=42, test_size=0.3)
    assert [(name, acc) for name, _, acc in first] == [(name, acc) for name, _, acc in second]
    assert type(first[0][1]).__name__ == first[0][0]


def test_train_candidates_is_sorted_best_first_with_ties_by_name() -> None:
    # On iris_clean every candidate scores 1.0 at the default seed: the tie-break decides.
    X, y = train.load_dataset(SAMPLE / "iris_clean.csv")
    candidates = train.train_candidates(X, y)
    keys = [(-acc, name) for name, _, acc in candidates]
    assert keys == sorted(keys)
    assert len({name for name, _, _ in candidates}) == len(candidates) >= 3
    assert all(isinstance(acc, float) and 0.0 <= acc <= 1.0 for _, _, acc in candidates)


@pytest.mark.parametrize(
    ("rows", "expected"),
    [([0, 50, 51], "stratified"), ([0, 1, 50, 51], "cannot be trained on 2 rows")],
    ids=["one-row-class", "too-few-rows"],
)
def test_train_candidates_reports_data_too_small_as_bad_input(
    rows: list[int], expected: str
) -> None:
    X, y = train.load_dataset(SAMPLE / "iris.csv")
    with pytest.raises(train.DatasetError, match=expected):
        train.train_candidates(X.iloc[rows], y.iloc[rows], test_size=0.3)


# --- the sample data ----------------------------------------------------------------------------


def test_sample_files_make_the_challenger_win_or_lose_at_the_default_seed() -> None:
    clean = best_accuracy(SAMPLE / "iris_clean.csv")
    iris = best_accuracy(SAMPLE / "iris.csv")
    noisy = best_accuracy(SAMPLE / "iris_noisy.csv")
    assert clean > iris > noisy
    assert iris - noisy > 0.1, "the noisy file should lose clearly, not by one row"


def test_make_data_reproduces_the_committed_files(tmp_path: Path) -> None:
    make_data = load_script(SAMPLE / "make_data.py", "sample_data_make_data_under_test")
    make_data.main(tmp_path)
    for name in ("iris.csv", "iris_noisy.csv", "iris_clean.csv"):
        assert (tmp_path / name).read_bytes() == (SAMPLE / name).read_bytes(), name


# --- saving and arguments -----------------------------------------------------------------------


def test_save_model_writes_a_loadable_model_pkl_and_no_temp_file(tmp_path: Path) -> None:
    X, y = train.load_dataset(SAMPLE / "iris.csv")
    _, model, _ = train.train_candidates(X, y)[0]
    path = train.save_model(model, tmp_path / "new" / "dir")
    assert path == tmp_path / "new" / "dir" / "model.pkl"
    assert list(path.parent.iterdir()) == [path]
    assert (joblib.load(path).predict(X) == model.predict(X)).all()


def test_output_dir_comes_from_argv_then_the_azure_variable() -> None:
    env = {train.OUTPUT_ENV: "/from/env"}
    assert train.resolve_output_dir(Path("/from/argv"), env) == Path("/from/argv")
    assert train.resolve_output_dir(None, env) == Path("/from/env")
    assert train.resolve_output_dir(None, {train.OUTPUT_ENV: ""}) is None
    assert train.resolve_output_dir(None, {}) is None


@pytest.mark.parametrize("value", ["0", "1", "1.5", "-0.1", "abc"])
def test_test_size_outside_zero_one_is_a_usage_error(value: str) -> None:
    with pytest.raises(SystemExit) as info:
        train.build_parser().parse_args(
            ["--data", "d.csv", "--test-size", value, "--output-dir", "x"]
        )
    assert info.value.code == 2


# --- the script's error exits, as a real process (no run needed) --------------------------------


def run_script(*args: str, env_drop: tuple[str, ...] = ()) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items() if key not in env_drop}
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_script_exits_2_naming_a_missing_data_file(tmp_path: Path) -> None:
    missing = tmp_path / "missing.csv"
    out = tmp_path / "out"
    result = run_script("--data", str(missing), "--output-dir", str(out))
    assert result.returncode == 2
    assert str(missing) in result.stderr
    assert result.stdout == ""
    assert not (out / "model.pkl").exists()


def test_script_exits_2_without_an_output_folder() -> None:
    result = run_script("--data", str(SAMPLE / "iris.csv"), env_drop=(train.OUTPUT_ENV,))
    assert result.returncode == 2
    assert "--output-dir" in result.stderr
    assert train.OUTPUT_ENV in result.stderr


def test_the_module_and_the_snapshot_wrapper_refuse_to_train_outside_a_run(tmp_path: Path) -> None:
    """No run to tag: one line saying how to get one, exit 2, and no model written."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CHAMPION_", "AZUREML_"))}
    for launcher in ([str(SCRIPT)], ["-m", "champion.steps.train"]):
        out = tmp_path / launcher[-1].replace("/", "_")
        result = subprocess.run(
            [
                sys.executable,
                *launcher,
                "--data",
                str(SAMPLE / "iris.csv"),
                "--output-dir",
                str(out),
            ],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 2, result.stderr
        (line,) = result.stderr.splitlines()
        assert "not running inside a run" in line and "CHAMPION_RUN_ID" in line
        assert not out.exists()


def test_the_snapshot_wrapper_only_calls_the_packaged_module() -> None:
    code = [line for line in SCRIPT.read_text().splitlines() if line and not line.startswith('"')]
    assert code == ["import sys", "from champion.steps.train import main", "sys.exit(main())"]


# --- what the accuracy was measured on ----------------------------------------------------------


def test_the_test_data_tags_are_the_digest_of_the_hold_out_file_the_step_writes(
    tmp_path: Path,
) -> None:
    """The tag the gate compares is what `files_digest` (and `--test-data DIR`) computes for
    the `test.csv` the step writes: one rule on both sides."""
    from champion.testdata import files_digest

    X, y = train.load_dataset(SAMPLE / "iris.csv")
    csv = train.holdout_csv(X, y, seed=42, test_size=0.3)
    written = train.save_test_data(csv, tmp_path / "test_dir")
    tags = train.test_data_tags(SAMPLE / "iris.csv", csv, 42, 0.3)
    assert tags["champion.test_data_sha256"] == files_digest(written.parent)
    assert tags["champion.test_data_sha256"] == files_digest(written)
    assert tags["champion.test_data"] == "hold-out of iris.csv (seed 42, test size 0.3)"
    assert len(csv.decode().splitlines()) == 1 + 45  # a header and 30% of 150 rows


def test_other_data_or_another_seed_is_other_test_data() -> None:
    X, y = train.load_dataset(SAMPLE / "iris.csv")
    Xc, yc = train.load_dataset(SAMPLE / "iris_clean.csv")

    def digest(X, y, seed: int) -> str:
        csv = train.holdout_csv(X, y, seed=seed)
        return train.test_data_tags(Path("d.csv"), csv, seed, 0.3)["champion.test_data_sha256"]

    assert digest(X, y, 42) == digest(X, y, 42)
    assert len({digest(X, y, 42), digest(X, y, 7), digest(Xc, yc, 42)}) == 3


def test_a_refused_tag_exits_3_with_one_line_and_the_model_saved(tmp_path: Path) -> None:
    """The service refuses the tags (here a 400 on every run PATCH, through the real SDK): the
    step says what failed and where the model is, in one line, and exits 3, not a traceback."""
    from champion.local import Workspace
    from champion.testing import make_pipeline_run, run_step

    ws = Workspace.create(tmp_path / "ws")
    tree = make_pipeline_run(ws, steps={"train": {}, "register": {}})
    out = tmp_path / "out"
    result = run_step(
        "champion.steps.train",
        "--data", SAMPLE / "iris.csv", "--output-dir", out,
        run=tree, step="train", workspace=ws, real_sdk=True,
        env={"CHAMPION_MOCK_FAULTS": "runs.patch=400x99"},
    )  # fmt: skip
    assert result.exit_code == 3, result.output
    (line,) = result.stderr.strip().splitlines()
    assert "tagging the runs with the result failed" in line and str(out) in line
    assert (out / "model.pkl").is_file()
