"""The local backend writes a decision in few commits: an uploaded file waits, staged, for the
gate's next commit (the version, or the decision record) and lands with it, all or nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from champion.local import Experiment, Model, Run, Workspace
from champion.registry import NewVersion
from champion.registry.local import LocalParentRun, LocalRegistry


@pytest.fixture
def parent(make_workspace, tmp_path: Path) -> tuple[Workspace, Run, LocalParentRun, Path]:
    ws = make_workspace()
    run = Experiment(ws, "pipeline").start_logging()
    model = tmp_path / "model.pkl"
    model.write_bytes(b"model bytes")
    return ws, run, LocalParentRun(run), model


def _version(run: LocalParentRun, name: str = "iris") -> NewVersion:
    return NewVersion(
        name=name,
        path="outputs/iris",
        run=run,
        properties={"accuracy": "0.9"},
        tags={},
        description="accuracy=0.9",
    )


def test_an_uploaded_file_lands_with_the_version_that_registers_it(parent) -> None:
    ws, run, adapter, model = parent
    adapter.upload_file("outputs/iris/model.pkl", model)
    assert Run.get(ws, run.id).get_file_names() == []  # staged, not yet an artifact

    version = LocalRegistry(ws).register(_version(adapter))

    assert version == 1
    assert Run.get(ws, run.id).get_file_names() == ["outputs/iris/model.pkl"]
    assert Model(ws, "iris").run_id == run.id


def test_an_uploaded_file_lands_with_the_decision_record_when_nothing_registers(parent) -> None:
    ws, run, adapter, model = parent
    adapter.upload_file("outputs/iris/model.pkl", model)

    adapter.upload_bytes("outputs/champion_decision.json", b'{"outcome": "rejected"}')

    assert Run.get(ws, run.id).get_file_names() == [
        "outputs/champion_decision.json",
        "outputs/iris/model.pkl",
    ]
    assert list((ws.path / "tmp").iterdir()) == []


def test_a_failed_registration_leaves_no_artifact_behind(parent) -> None:
    ws, run, adapter, model = parent
    adapter.upload_file("outputs/iris/model.pkl", model)

    with pytest.raises(Exception, match="model_path"):
        LocalRegistry(ws).register(
            NewVersion("iris", "outputs/elsewhere", adapter, {}, {}, "nothing there")
        )

    assert Run.get(ws, run.id).get_file_names() == []
    assert Model.list(ws, name="iris") == []


def test_an_upload_to_a_name_the_run_has_is_refused_at_once(parent) -> None:
    _, run, adapter, model = parent
    run.upload_file("outputs/iris/model.pkl", str(model))
    with pytest.raises(Exception, match="already exists"):
        adapter.upload_file("outputs/iris/model.pkl", model)


def test_a_batch_refused_for_a_taken_name_stages_nothing(parent) -> None:
    """A rejection's batch (model + record) whose record name another writer took: refused whole,
    so the model uploaded again afterwards lands once, with the record under its next name."""
    from champion.registry import ArtifactConflict

    ws, run, adapter, model = parent
    run.upload_file("outputs/champion_decision.json", __file__)  # another step's record
    with pytest.raises(ArtifactConflict):
        adapter.upload_new(
            {"outputs/iris/model.pkl": model, "outputs/champion_decision.json": b"{}"}
        )

    adapter.upload_file("outputs/iris/model.pkl", model)
    adapter.upload_bytes("outputs/champion_decision.2.json", b"{}")

    assert Run.get(ws, run.id).get_file_names() == [
        "outputs/champion_decision.2.json",
        "outputs/champion_decision.json",
        "outputs/iris/model.pkl",
    ]
