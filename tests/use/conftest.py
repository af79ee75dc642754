"""Using the champion: a local workspace holding two gated versions of `iris`, trained here on
the sample data, as the score step, `champion serve` and `champion models convert-onnx` find
them.

Both versions are registered through the gate (`champion register`), so each carries the
`artifact_sha256` a verified download checks: iris:1 a decision tree (accuracy 0.90), iris:2
k-nearest neighbours (0.95, the champion). Each is fitted on a DataFrame, so it knows its
feature names and ignores the `species` column of the sample data.
"""

from __future__ import annotations

import contextlib
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import joblib
import pandas as pd
import pytest

from champion.local import Workspace
from champion.local import store as store_module
from champion.testing import create_workspace

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "sample_data" / "iris.csv"
FEATURES = ["sepal_length", "sepal_width", "petal_length", "petal_width"]


@dataclass
class IrisWorkspace:
    ws: Workspace
    path: Path
    models: dict[int, Any]  # version -> the fitted estimator that was registered

    def predict(self, version: int, frame: pd.DataFrame) -> list[Any]:
        """What the version predicts, from the estimator this test fitted (not the registry)."""
        return list(self.models[version].predict(frame[FEATURES]))


def champion_cli(*args: str) -> tuple[int, str, str]:
    """`champion ...` in this process: exit code, stdout, stderr."""
    from champion.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(args))
    return code, out.getvalue(), err.getvalue()


def register(ws_path: Path, model: Any, folder: Path, accuracy: str) -> int:
    folder.mkdir(parents=True)
    joblib.dump(model, folder / "model.pkl")
    code, out, err = champion_cli(
        "--workspace", str(ws_path), "--json", "register", "--model-name", "iris",
        "--model-path", str(folder), "--metric-value", accuracy, "--model-framework",
        "ScikitLearn",
    )  # fmt: skip
    assert code == 0, err
    return int(json.loads(out)["registered_version"])


@pytest.fixture
def iris(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[IrisWorkspace]:
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.tree import DecisionTreeClassifier

    monkeypatch.delenv("CHAMPION_WORKSPACE", raising=False)
    monkeypatch.delenv("CHAMPION_RUN_ID", raising=False)
    before = set(store_module._open_stores)
    ws_path = tmp_path / "ws"
    ws = create_workspace(ws_path)
    frame = pd.read_csv(SAMPLE)
    models: dict[int, Any] = {}
    for accuracy, estimator in (
        ("0.9", DecisionTreeClassifier(random_state=0, max_depth=2)),
        ("0.95", KNeighborsClassifier()),
    ):
        estimator.fit(frame[FEATURES], frame["species"])
        version = register(ws_path, estimator, tmp_path / f"trained-{accuracy}", accuracy)
        models[version] = estimator
    assert sorted(models) == [1, 2]
    yield IrisWorkspace(ws, ws_path, models)
    for key in set(store_module._open_stores) - before:
        opened = store_module._open_stores.get(key)
        if opened is not None:
            opened.close()
