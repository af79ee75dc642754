"""Contract checks 32-40 (azureml-semantics.md, end): run files, tags, properties, metrics,
children, step runs and the offline context, identically on both faces."""

from __future__ import annotations

import io
import types
from pathlib import Path

import pytest
from azureml._common.exceptions import AzureMLAggregatedException
from azureml._restclient.exceptions import ServiceException
from azureml.core.run import _OfflineRun
from azureml.exceptions import RunEnvironmentException, UserErrorException

from champion.local import AzureMLTrapWarning

from .conftest import Target

# --------------------------------------------------------------------------- files


def test_c32_upload_file_accepts_paths_and_streams_only(target: Target) -> None:
    run = target.new_run()
    with pytest.raises(UserErrorException) as err:
        run.upload_file("outputs/a.bin", b"raw")
    assert "UnsupportedType: type <class 'bytes'> is invalid" in err.value.message
    assert run.get_file_names() == []
    run.upload_file("outputs/a.bin", "model.pkl")
    run.upload_file("outputs/b.bin", io.BytesIO(b"stream"))
    assert sorted(run.get_file_names()) == ["outputs/a.bin", "outputs/b.bin"]


def test_c33_uploading_a_name_twice_conflicts(target: Target) -> None:
    run = target.new_run()
    run.upload_file("outputs/a.bin", "model.pkl")
    with pytest.raises(AzureMLAggregatedException):
        run.upload_file("outputs/a.bin", io.BytesIO(b"other"))
    assert run.get_file_names() == ["outputs/a.bin"]
    run.download_file("outputs/a.bin", "back.bin")
    assert Path("back.bin").read_bytes() == b"pickled"


def test_c34_download_of_a_missing_artifact(target: Target) -> None:
    run = target.new_run()
    run.upload_file("outputs/a.bin", "model.pkl")
    with pytest.raises(UserErrorException) as err:
        run.download_file("outputs/missing")
    assert err.value.message.startswith("Cannot find the artifact 'outputs/missing'")
    assert not Path("missing").exists()


# --------------------------------------------------------------------------- tags and properties


def test_c35_run_tags(target: Target) -> None:
    run = target.new_run()
    run.set_tags({"n": 1})
    run.tag("flag")
    assert run.get_tags()["n"] == "1"
    assert "flag" in run.get_tags() and run.get_tags()["flag"] is None
    with pytest.raises(AttributeError, match="'str' object has no attribute 'items'"):
        run.set_tags("x")
    assert target.open_run(run.id).get_tags() == {"n": "1", "flag": None}


def test_c36_run_properties(target: Target) -> None:
    run = target.new_run()
    run.add_properties({"p": "1"})
    target.calls.clear()
    run.add_properties({})
    run.add_properties(None)
    assert target.calls == []
    with pytest.raises(ServiceException) as err:
        run.add_properties({"p": "2"})
    assert err.value.status_code is not None and 400 <= err.value.status_code < 500
    assert run.get_properties()["p"] == "1"


# --------------------------------------------------------------------------- metrics


def test_c37_log_and_get_metrics(target: Target) -> None:
    run = target.new_run()
    run.log("acc", 0.5)
    assert run.get_metrics() == {"acc": 0.5}
    run.log("acc", 0.7)
    assert run.get_metrics() == {"acc": [0.5, 0.7]}
    assert run.get_metrics(name="acc") == {"acc": [0.5, 0.7]}
    assert run.get_metrics(name="zzz") == {}
    with pytest.raises(UserErrorException) as err:
        run.log("x", [1])
    assert "run.log does not support list type" in err.value.message
    assert "x" not in run.get_metrics()


# --------------------------------------------------------------------------- children and steps


def test_c38_get_children_is_a_filtered_generator(target: Target) -> None:
    parent = target.new_run()
    keyed = target.new_run("keyed", parent=parent, tags={"k": "v", "o": "1"})
    other = target.new_run("other", parent=parent, tags={"k": "w"})
    plain = target.new_run("plain", parent=parent)
    children = parent.get_children()
    assert isinstance(children, types.GeneratorType)
    assert {c.id for c in children} == {keyed.id, other.id, plain.id}
    assert {c.id for c in parent.get_children(tags="k")} == {keyed.id, other.id}
    assert [c.id for c in parent.get_children(tags={"k": "v"})] == [keyed.id]
    assert [c.id for c in parent.get_children(tags={"k": "v", "o": "2"})] == []
    with pytest.warns(AzureMLTrapWarning, match=r"a list matches no run"):
        assert list(parent.get_children(tags=["k"])) == []


def test_c39_step_names_and_find_step_run(target: Target) -> None:
    pipeline = target.new_run(run_type="azureml.PipelineRun", experiment="pipe")
    for node, name in (("n1", "train"), ("n2", "register")):
        target.new_run(
            name,
            parent=pipeline,
            run_type="azureml.StepRun",
            tags={"azureml.nodeid": node, "azureml.pipeline": pipeline.id},
            experiment="pipe",
        )
    step = next(c for c in pipeline.get_children() if c.name == "register")
    assert step.parent.id == pipeline.id
    assert sorted(c.name for c in step.parent.get_children()) == ["register", "train"]
    found = step.parent.find_step_run("train")
    assert isinstance(found, list)
    assert [(r.name, r.get_tags()["azureml.nodeid"]) for r in found] == [("train", "n1")]
    assert step.parent.find_step_run("nope") == []


# --------------------------------------------------------------------------- offline context


def test_c40_offline_context(target: Target) -> None:
    offline = target.Run.get_context()
    assert isinstance(offline, _OfflineRun)
    assert not isinstance(offline, target.Run)
    assert offline.id.startswith("OfflineRun_")
    assert target.Run.get_context().id != offline.id  # a new object on every call
    for missing in ("parent", "get_tags", "register_model"):
        assert not hasattr(offline, missing)
    with pytest.raises(TypeError):
        offline.log("acc", 0.5, step=1)
    with pytest.raises(RunEnvironmentException) as err:
        target.Run.get_context(allow_offline=False)
    assert err.value.message.startswith("Could not load a submitted run")
