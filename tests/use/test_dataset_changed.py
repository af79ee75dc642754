"""The score step's `--data dataset:NAME:VERSION` after the dataset's file changed in its
datastore: it scored the new rows and recorded the registration-time sha256 as what it read.
Both backends the step takes (the local workspace, and the real SDK under `mock_azureml()`)
refuse, exit 2, and score nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from champion.local import Dataset
from champion.testing import make_pipeline_run, run_step, workspace_state

from .conftest import SAMPLE, IrisWorkspace
from .test_score_step import SCORE


@pytest.mark.parametrize("real_sdk", [False, True], ids=["local", "real-sdk"])
def test_a_dataset_changed_since_it_was_registered_is_not_scored(
    iris: IrisWorkspace, tmp_path: Path, real_sdk: bool
) -> None:
    datastore = iris.ws.get_default_datastore()
    datastore.upload_files([str(SAMPLE)], relative_root=str(SAMPLE.parent), show_progress=False)
    Dataset.Tabular.from_delimited_files((datastore, "iris.csv")).register(iris.ws, "flowers")
    fewer = tmp_path / "iris.csv"
    fewer.write_text("\n".join(SAMPLE.read_text().splitlines()[:11]) + "\n")
    datastore.upload_files(
        [str(fewer)], relative_root=str(tmp_path), overwrite=True, show_progress=False
    )
    tree = make_pipeline_run(iris.ws, steps={"score": {}})
    before = workspace_state(iris.path)

    result = run_step(
        SCORE, "--model-name", "iris", "--data", "dataset:flowers:1", "--output",
        tmp_path / "out", run=tree, step="score", real_sdk=real_sdk,
    )  # fmt: skip

    assert result.exit_code == 2, result.output
    assert "dataset flowers:1's file iris.csv changed since it was registered" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "out" / "predictions.csv").exists()
    assert workspace_state(iris.path) == before
