"""Contract checks 35-36, 38-40 and 52, and the run divergences: run tags and properties,
children, step runs, the offline context, cancel, and the run-history service's errors, the
same assertions on both faces (see README.md)."""

from __future__ import annotations

import io
import types

import pytest
from azureml._restclient.exceptions import ServiceException
from azureml.core.run import _OfflineRun
from azureml.exceptions import RunEnvironmentException

from champion.local import AzureMLTrapWarning

from .conftest import Target


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


def test_c52_cancel_a_run_and_a_pipeline_run(target: Target) -> None:
    run = target.new_run()
    run.cancel()
    assert run.get_status() == "Canceled"
    pipeline = target.new_run(run_type="azureml.PipelineRun")
    pipeline.cancel()
    assert target.open_run(pipeline.id).get_status() == "Canceled"


def test_run_property_conflict_has_the_same_status_on_both_faces(target: Target) -> None:
    run = target.new_run()
    run.add_properties({"p": "1"})
    with pytest.raises(ServiceException) as err:
        run.add_properties({"p": "2"})
    assert err.value.status_code == 409


def test_service_exception_can_be_printed(target: Target) -> None:
    run = target.new_run()
    run.add_properties({"p": "1"})
    with pytest.raises(ServiceException) as err:
        run.add_properties({"p": "2"})
    text = str(err.value)
    assert text.startswith("ServiceException:\n\tCode: ")
    assert "immutable" in text


def test_child_run_name_is_chained_to_the_parent_name(target: Target) -> None:
    parent = target.new_run()
    child = parent.child_run(name="kid")
    assert child.name == f"{parent.name or ''}>kid"
    assert [c.name for c in parent.get_children()] == [child.name]


def test_unknown_run_id_is_a_404_service_exception(target: Target) -> None:
    with pytest.raises(ServiceException) as err:
        target.open_run("missing")
    assert err.value.status_code == 404
    with pytest.raises(ServiceException):
        target.Run.get(target.ws, "missing")
    target.new_run().upload_file("outputs/a.bin", io.BytesIO(b"x"))  # the workspace still works
