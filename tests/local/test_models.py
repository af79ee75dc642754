"""Models and the runs that register them, beyond the contract checks: listing by run,
`version=` over tag filters, `model.run`, and the whole-segment rule for model paths."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from azureml.exceptions import (
    ModelPathNotFoundException,
)

from champion.local import AzureMLTrapWarning, Experiment, Model, Run, Workspace
from champion.local.store import RUN_ORIGIN


def _files(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def _run_with_model_file(ws: Workspace, experiment: str = "exp") -> Run:
    run = Experiment(ws, experiment).start_logging()
    run.upload_file("outputs/model.pkl", io.BytesIO(b"model"))
    return run


def test_model_list_filters_by_registering_run(ws: Workspace, in_tmp: Path) -> None:
    first, second = _run_with_model_file(ws), _run_with_model_file(ws)
    first.register_model("m", model_path="outputs/model.pkl")  # m:1
    first.register_model("m", model_path="outputs/model.pkl")  # m:2
    second.register_model("m", model_path="outputs/model.pkl")  # m:3
    second.register_model("n", model_path="outputs/model.pkl")  # n:1
    (in_tmp / "model.pkl").write_bytes(b"model")
    Model.register(ws, "model.pkl", "m")  # m:4, no run

    assert [m.id for m in Model.list(ws, run_id=first.id)] == ["m:2", "m:1"]
    assert [m.id for m in Model.list(ws, run_id=second.id)] == ["n:1", "m:3"]
    assert [m.id for m in Model.list(ws, name="m", run_id=second.id)] == ["m:3"]
    assert Model.list(ws, run_id="no-such-run") == []


def test_version_wins_over_tag_filters(ws: Workspace) -> None:
    run = _run_with_model_file(ws)
    run.register_model("m", model_path="outputs/model.pkl")
    run.register_model("m", model_path="outputs/model.pkl", tags={"a": "1"})
    run.register_model("m", model_path="outputs/model.pkl")

    assert Model(ws, "m", tags=["a"]).version == 2
    with pytest.warns(AzureMLTrapWarning, match="with version= Azure ML fetches m:1"):
        assert Model(ws, "m", tags=["a"], version=1).version == 1
    with pytest.warns(AzureMLTrapWarning, match="with version= Azure ML fetches m:3"):
        assert Model(ws, "m", tags=[["a", "1"]], version="3").version == 3


def test_model_run_is_the_registering_run(ws: Workspace, in_tmp: Path) -> None:
    run = _run_with_model_file(ws, "training")
    registered = run.register_model("m", model_path="outputs/model.pkl")
    (in_tmp / "model.pkl").write_bytes(b"model")
    uploaded = Model.register(ws, "model.pkl", "plain")

    for model in (registered, Model(ws, "m"), Model.list(ws, name="m")[0]):
        assert isinstance(model.run, Run)
        assert model.run == run
        assert model.run.experiment.name == "training"
    assert Model(ws, "m", expand=False).run is None
    assert uploaded.run is None
    assert Model(ws, "plain").run is None


def test_path_prefixes_match_whole_segments_only(ws: Workspace, in_tmp: Path) -> None:
    run = Experiment(ws, "exp").start_logging()
    run.upload_file("outputs/model/a.bin", io.BytesIO(b"in the folder"))
    run.upload_file("outputs/model/sub/c.bin", io.BytesIO(b"deeper"))
    run.upload_file("outputs/model2/b.bin", io.BytesIO(b"a sibling folder"))
    run.upload_file("outputs/model.txt", io.BytesIO(b"a sibling file"))
    store, container = ws._store, run._container

    def paths(prefix: str) -> list[str]:
        return [a.path for a in store.list_artifacts(RUN_ORIGIN, container, prefix)]

    in_folder = ["outputs/model/a.bin", "outputs/model/sub/c.bin"]
    assert paths("outputs/model") == in_folder
    assert paths("outputs/model/") == in_folder
    assert paths("outputs/model2/b.bin") == ["outputs/model2/b.bin"]
    assert paths("outputs/mod") == []

    model = run.register_model("m", model_path="outputs/model")
    assert model.download(str(in_tmp / "t")) == str(in_tmp / "t" / "model")
    assert _files(in_tmp / "t") == {"model/a.bin": b"in the folder", "model/sub/c.bin": b"deeper"}
    with pytest.raises(ModelPathNotFoundException, match="outputs/mod "):
        run.register_model("m", model_path="outputs/mod")
