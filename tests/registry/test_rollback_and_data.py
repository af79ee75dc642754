"""What the rollback and `--rescore-champion` need of a backend, on both SDK-shaped registries:
the real azureml.core under mock_azureml() and the local classes, over the same kind of store.
A verified download (a digest that does not match is refused), `make_champion` (a new version
holding the earlier files, made through a run of the rollback experiment), and a registered
tabular dataset read with its content digest."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from champion import Outcome, Policy, RegisterRequest, register_file_if_better
from champion.errors import InputError, WorkspaceStoreError
from champion.local import Dataset, Model, Run, Workspace, mock_azureml
from champion.registry.azureml import AzureMLRegistry
from champion.registry.local import LocalRegistry
from champion.rollback import rollback
from champion.testdata import files_digest
from champion.testing import create_workspace


@pytest.fixture(params=["local", "azureml"])
def registry(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    ws = create_workspace(tmp_path / "ws")
    if request.param == "local":
        yield LocalRegistry(ws)
        return
    with mock_azureml(tmp_path / "ws") as mock:
        yield AzureMLRegistry(mock.workspace)


def local_ws(tmp_path: Path) -> Workspace:
    return Workspace(tmp_path / "ws")


def register(tmp_path: Path, value: str, data: bytes) -> int:
    model = tmp_path / "trained" / f"{value}.pkl"
    model.parent.mkdir(exist_ok=True)
    model.write_bytes(data)
    record = register_file_if_better(
        local_ws(tmp_path), RegisterRequest("iris", model, Policy()), value
    )
    assert record.registered_version is not None
    return record.registered_version


def test_a_verified_download_writes_the_registered_files(registry, tmp_path):
    register(tmp_path, "0.9", b"first model")
    path = registry.download("iris", 1, tmp_path / "target")
    assert path.read_bytes() == b"first model"


def test_a_download_whose_digest_does_not_match_is_refused(registry, tmp_path, monkeypatch):
    (tmp_path / "m.pkl").write_bytes(b"model")
    monkeypatch.chdir(tmp_path)
    Model.register(local_ws(tmp_path), "m.pkl", "iris", properties={"artifact_sha256": "0" * 64})
    with pytest.raises(WorkspaceStoreError, match="not its registered artifact_sha256"):
        registry.download("iris", 1, tmp_path / "target")
    Model.register(local_ws(tmp_path), "m.pkl", "iris")  # v2: no digest to check
    with pytest.raises(InputError, match="has no artifact_sha256"):
        registry.download("iris", 2, tmp_path / "target2")
    with pytest.raises(InputError, match="there is no version 9"):
        registry.download("iris", 9, tmp_path / "target3")


def test_a_rollback_registers_the_earlier_files_again_through_a_run(registry, tmp_path):
    register(tmp_path, "0.9", b"first model")
    register(tmp_path, "0.95", b"second model")
    record = rollback(registry, "iris", reason="second model drifts", to=1)
    ws = local_ws(tmp_path)
    now = Model(ws, "iris")
    assert now.version == 3 and record.registered_version == 3
    assert now.properties["accuracy"] == "0.9"
    assert now.properties["champion.outcome"] == Outcome.ROLLED_BACK.value
    assert now.properties["champion.rollback_of"] == "1"
    assert (
        now.properties["artifact_sha256"]
        == Model(ws, "iris", version=1).properties["artifact_sha256"]
    )
    run = Run.get(ws, now.run_id)
    assert run.experiment.name == "champion-rollback"
    assert run.get_status() == "Completed"
    assert run.get_tags()["champion.outcome"] == "rolled_back"
    assert registry.download("iris", 3, tmp_path / "back").read_bytes() == b"first model"


def test_a_registered_dataset_is_read_with_its_digest(registry, tmp_path):
    ws = local_ws(tmp_path)
    csv = tmp_path / "test.csv"
    csv.write_text("x,label\n1,a\n2,b\n")
    datastore = ws.get_default_datastore()
    datastore.upload_files([str(csv)], relative_root=str(tmp_path), overwrite=True)
    Dataset.Tabular.from_delimited_files((datastore, "test.csv")).register(ws, "iris-test")
    found = registry.dataset("iris-test", None)
    assert (found.name, found.version) == ("iris-test", 1)
    assert list(found.frame["label"]) == ["a", "b"]
    file_hash = hashlib.sha256(csv.read_bytes()).hexdigest()
    assert found.sha256 == hashlib.sha256(f"test.csv\0{file_hash}\n".encode()).hexdigest()
    assert found.sha256 == files_digest(csv)  # the file's own digest: one rule for both
    with pytest.raises(InputError, match="no registered dataset nope"):
        registry.dataset("nope", None)
