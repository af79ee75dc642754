"""`champion score` as a user runs it from a shell, with no run: the console script as a real
process over a real local workspace (and a real `mlflow server`). It scores with the champion or
the version asked for, writes what loading that version by hand predicts, says which version
made the predictions and where they went, and refuses bad input in one line with nothing written
and the registry untouched."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import joblib
import pandas as pd
import pytest

from champion.local import Dataset, Model
from champion.testing import workspace_state

from .conftest import FEATURES, SAMPLE, IrisWorkspace

CHAMPION = str(Path(sys.executable).parent / "champion")
TIMEOUT_S = 240


def run_champion(
    *args: str | Path, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """The console script, with none of the developer's CHAMPION_* variables; bounded."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("CHAMPION_", "MLFLOW_"))}
    return subprocess.run(
        [CHAMPION, *map(str, args)],
        env={**clean, **(env or {})},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
    )


def score(iris: IrisWorkspace, *args: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    return run_champion("score", "iris", "--workspace", iris.path, *args, cwd=cwd)


def with_ids(folder: Path) -> Path:
    frame = pd.read_csv(SAMPLE)
    frame.insert(0, "ID", [f"flower-{i}" for i in range(len(frame))])
    path = folder / "flowers.csv"
    frame.to_csv(path, index=False)
    return path


def by_hand(model_file: Path, data: Path) -> list[str]:
    """What a downloaded model file predicts, loaded the way a user would."""
    model = joblib.load(model_file)
    return [str(p) for p in model.predict(pd.read_csv(data)[FEATURES])]


def local_by_hand(iris: IrisWorkspace, version: int, target: Path, data: Path) -> list[str]:
    downloaded = Path(Model(iris.ws, "iris", version=version).download(str(target)))
    return by_hand(downloaded if downloaded.is_file() else downloaded / "model.pkl", data)


def test_the_champion_scores_a_csv_and_the_line_says_which_version(
    iris: IrisWorkspace, tmp_path: Path
) -> None:
    data = with_ids(tmp_path)
    before = workspace_state(iris.path)
    done = score(iris, "--data", data, "--output", "predictions.csv", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == (
        "champion: scored 150 rows of flowers.csv with iris:2 (the champion) -> predictions.csv"
    )
    predictions = pd.read_csv(tmp_path / "predictions.csv")
    assert list(predictions.columns) == ["ID", "prediction"]
    assert list(predictions["ID"]) == list(pd.read_csv(data)["ID"])
    assert list(predictions["prediction"]) == local_by_hand(iris, 2, tmp_path / "hand", data)

    asked = score(iris, "--version", "1", "--data", data, "--output", "v1.csv", "--json",
                  "--chunk-rows", "7", cwd=tmp_path)  # fmt: skip
    assert asked.returncode == 0, asked.stderr
    doc = json.loads(asked.stdout)
    assert {k: doc[k] for k in ("model", "version", "chosen_by", "rows", "id_column")} == {
        "model": "iris",
        "version": 1,
        "chosen_by": "version",
        "rows": 150,
        "id_column": "ID",
    }
    assert doc["predictions"] == "v1.csv" and doc["backend"] == "local"
    v1 = list(pd.read_csv(tmp_path / "v1.csv")["prediction"])
    assert v1 == local_by_hand(iris, 1, tmp_path / "hand1", data) != list(predictions["prediction"])
    assert workspace_state(iris.path) == before  # scoring reads the registry, never writes it
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


def test_a_registered_dataset_is_scored_like_its_file(iris: IrisWorkspace, tmp_path: Path) -> None:
    datastore = iris.ws.get_default_datastore()
    datastore.upload_files([str(SAMPLE)], relative_root=str(SAMPLE.parent), show_progress=False)
    Dataset.Tabular.from_delimited_files((datastore, "iris.csv")).register(iris.ws, "flowers")
    done = score(iris, "--data", "dataset:flowers", "--output", "out.csv", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "rows of dataset:flowers:1 with iris:2" in done.stdout
    predictions = (tmp_path / "out.csv").read_text().splitlines()[1:]
    assert predictions == local_by_hand(iris, 2, tmp_path / "hand", SAMPLE)


def test_overwrite_replaces_an_existing_plain_file(iris: IrisWorkspace, tmp_path: Path) -> None:
    (tmp_path / "out.csv").write_text("earlier\n")
    done = score(iris, "--data", SAMPLE, "--output", "out.csv", "--overwrite", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    lines = (tmp_path / "out.csv").read_text().splitlines()
    assert lines[1:] == local_by_hand(iris, 2, tmp_path / "hand", SAMPLE)


# ---------------------------------------------------------------------- refusals


def _existing(folder: Path) -> list[str]:
    (folder / "out.csv").write_text("earlier\n")
    return ["--data", str(SAMPLE), "--output", "out.csv"]


def _symlink(folder: Path) -> list[str]:
    (folder / "elsewhere.csv").write_text("earlier\n")
    (folder / "out.csv").symlink_to(folder / "elsewhere.csv")
    return ["--data", str(SAMPLE), "--output", "out.csv", "--overwrite"]


def _hardlink(folder: Path) -> list[str]:
    (folder / "elsewhere.csv").write_text("earlier\n")
    os.link(folder / "elsewhere.csv", folder / "out.csv")
    return ["--data", str(SAMPLE), "--output", "out.csv", "--overwrite"]


def _folder(folder: Path) -> list[str]:
    (folder / "out.csv").mkdir()
    return ["--data", str(SAMPLE), "--output", "out.csv", "--overwrite"]


def _fifo_output(folder: Path) -> list[str]:
    os.mkfifo(folder / "out.csv")  # opening it to write would block until a reader comes
    return ["--data", str(SAMPLE), "--output", "out.csv", "--overwrite"]


def _fifo_data(folder: Path) -> list[str]:
    os.mkfifo(folder / "rows.csv")  # reading it would block until a writer comes
    return ["--data", "rows.csv", "--output", "out.csv"]


def _linked_data(folder: Path) -> list[str]:
    (folder / "rows.csv").symlink_to(SAMPLE)
    return ["--data", "rows.csv", "--output", "out.csv"]


def _bad_rows(folder: Path) -> list[str]:
    (folder / "out.csv").write_text("earlier\n")
    (folder / "rows.csv").write_text(
        "sepal_length,sepal_width,petal_length,petal_width\n1,2,3,4\n1,2,x,4\n"
    )
    return ["--data", "rows.csv", "--output", "out.csv", "--overwrite", "--chunk-rows", "1"]


def _simple(*args: str) -> Callable[[Path], list[str]]:
    return lambda folder: list(args)


REFUSALS: dict[str, tuple[Callable[[Path], list[str]], str]] = {
    "existing output": (_existing, "--output out.csv already exists; nothing was written. Pass "
                        "--overwrite to replace it"),
    "output a symlink": (_symlink, "--output out.csv is a symlink; champion writes predictions "
                         "only to a new or a plain file"),
    "output a hardlink": (_hardlink, "--output out.csv is a hardlink shared with another file"),
    "output a folder": (_folder, "--output out.csv is a folder"),
    "output a FIFO": (_fifo_output, "--output out.csv is a FIFO (named pipe)"),
    "output in a missing folder": (
        _simple("--data", str(SAMPLE), "--output", "nowhere/out.csv"),
        "--output nowhere/out.csv: the folder nowhere does not exist",
    ),
    "data missing": (_simple("--data", "nope.csv", "--output", "out.csv"),
                     "data file not found: nope.csv"),
    "data a FIFO": (_fifo_data, "--data 'rows.csv' is a FIFO (named pipe); refusing to read it"),
    "data a symlink": (_linked_data, "--data 'rows.csv' is a symlink; refusing to read it"),
    "data spec malformed": (_simple("--data", "dataset:", "--output", "out.csv"),
                            "--data 'dataset:' is not dataset:NAME[:VERSION]"),
    "no such dataset": (_simple("--data", "dataset:nope:2", "--output", "out.csv"),
                        "there is no registered dataset nope:2"),
    "bad rows": (_bad_rows, "rows.csv: column 'petal_length' is not numeric (data row 2 holds "
                 "'x')"),
    "no such version": (_simple("--version", "9", "--data", str(SAMPLE), "--output", "out.csv"),
                        "there is no version 9 of model 'iris'"),
    "azureml backend": (
        _simple("--data", str(SAMPLE), "--output", "out.csv", "--backend", "azureml"),
        "champion score reads the local workspace or an MLflow registry",
    ),
    "alias on the local backend": (
        _simple("--data", str(SAMPLE), "--output", "out.csv", "--champion-alias", "prod"),
        "--champion-alias apply to an MLflow registry",
    ),
}  # fmt: skip


def folder_state(folder: Path) -> dict[str, Any]:
    """Every entry of `folder` with its kind and, for a plain file, its bytes."""
    state: dict[str, Any] = {}
    for path in sorted(folder.rglob("*")):
        if path.is_symlink() or not path.is_file():
            state[str(path.relative_to(folder))] = "link" if path.is_symlink() else "other"
        else:
            state[str(path.relative_to(folder))] = path.read_bytes()
    return state


@pytest.mark.parametrize("case", list(REFUSALS), ids=list(REFUSALS))
def test_bad_input_is_one_line_exit_2_and_nothing_is_written(
    iris: IrisWorkspace, tmp_path: Path, case: str
) -> None:
    make, says = REFUSALS[case]
    folder = tmp_path / "here"
    folder.mkdir()
    args = make(folder)
    before, files = workspace_state(iris.path), folder_state(folder)
    try:
        done = score(iris, *args, cwd=folder)
    except subprocess.TimeoutExpired:  # a FIFO opened would block: the bound must not be hit
        pytest.fail(f"champion score blocked for {TIMEOUT_S}s on {case}")
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stderr.startswith("champion: error [") and done.stderr.count("\n") == 1
    assert says in done.stderr and "Traceback" not in done.stderr
    assert done.stdout == ""
    assert folder_state(folder) == files  # no predictions, no temp file, the old file as it was
    assert workspace_state(iris.path) == before


def test_an_unknown_name_suggests_the_close_one(iris: IrisWorkspace, tmp_path: Path) -> None:
    done = run_champion("score", "irs", "--workspace", iris.path, "--data", SAMPLE, "--output",
                        "out.csv", cwd=tmp_path)  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert "there is no model 'irs' (did you mean 'iris'?)" in done.stderr
    assert not (tmp_path / "out.csv").exists()


def test_a_tampered_version_exits_3_and_nothing_is_written(
    iris: IrisWorkspace, tmp_path: Path
) -> None:
    model = Model(iris.ws, "iris", version=2)
    [(_, artifact)] = iris.ws._store.model_files(model._asset_id)
    blob = iris.ws._store.blob_path(artifact.digest)
    blob.chmod(0o644)
    blob.write_bytes(b"tampered")
    here = tmp_path / "here"
    here.mkdir()
    done = score(iris, "--data", SAMPLE, "--output", "out.csv", cwd=here)
    assert done.returncode == 3, done.stderr
    assert done.stderr.startswith("champion: error [") and "Traceback" not in done.stderr
    assert list(here.iterdir()) == []


# ---------------------------------------------------------------------- MLflow


@pytest.mark.slow
def test_on_an_mlflow_server_the_alias_holder_scores(
    iris: IrisWorkspace, tmp_path: Path, mlflow_server: Any
) -> None:
    """The two estimators of `iris` gated into a real `mlflow server` under a name of this
    test's own: the better one holds the alias, and scores; --version 1 scores the other."""
    name = f"score-{uuid.uuid4().hex[:8]}"
    env = {"MLFLOW_TRACKING_URI": mlflow_server.url}
    for version, accuracy in ((1, "0.9"), (2, "0.95")):
        folder = tmp_path / f"model-{version}"
        folder.mkdir()
        joblib.dump(iris.models[version], folder / "model.pkl")
        registered = run_champion(
            "register", "--backend", "mlflow", "--model-name", name, "--model-path", folder,
            "--metric-value", accuracy, "--model-framework", "ScikitLearn", "--json",
            cwd=tmp_path, env=env,
        )  # fmt: skip
        assert registered.returncode == 0, registered.stderr
        assert json.loads(registered.stdout)["registered_version"] == version

    done = run_champion("score", name, "--backend", "mlflow", "--data", SAMPLE, "--output",
                        "champion.csv", cwd=tmp_path, env=env)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert f"with {name}:2 (the champion) -> champion.csv" in done.stdout
    champion_rows = (tmp_path / "champion.csv").read_text().splitlines()[1:]
    assert champion_rows == by_hand(tmp_path / "model-2" / "model.pkl", SAMPLE)

    asked = run_champion("score", name, "--backend", "mlflow", "--version", "1", "--data",
                         SAMPLE, "--output", "v1.csv", "--json", cwd=tmp_path, env=env)  # fmt: skip
    assert asked.returncode == 0, asked.stderr
    assert json.loads(asked.stdout)["backend"] == "mlflow"
    v1_rows = (tmp_path / "v1.csv").read_text().splitlines()[1:]
    assert v1_rows == by_hand(tmp_path / "model-1" / "model.pkl", SAMPLE) != champion_rows

    refused = run_champion("score", name, "--backend", "mlflow", "--data", SAMPLE, "--output",
                           "champion.csv", cwd=tmp_path, env=env)  # fmt: skip
    assert refused.returncode == 2 and "already exists" in refused.stderr
    assert (tmp_path / "champion.csv").read_text().splitlines()[1:] == champion_rows


def test_a_file_that_appears_while_scoring_is_not_overwritten(
    iris: IrisWorkspace, tmp_path: Path
) -> None:
    """Without --overwrite the predictions are linked into place, which fails if another
    process created the file after the check: its bytes stay, and no temp file is left."""
    from champion.errors import InputError
    from champion.scoring import write_predictions

    target = tmp_path / "here" / "out.csv"
    target.parent.mkdir()

    def rows_while_someone_writes() -> Any:
        yield pd.read_csv(SAMPLE).head(5)
        target.write_text("someone else's\n")  # between the check and the rename
        yield pd.read_csv(SAMPLE).tail(5)

    with pytest.raises(InputError, match="already exists; nothing was written"):
        write_predictions(
            iris.models[2], rows_while_someone_writes(), target, where="iris.csv", replace=False
        )
    assert target.read_text() == "someone else's\n"
    assert [p.name for p in target.parent.iterdir()] == ["out.csv"]
