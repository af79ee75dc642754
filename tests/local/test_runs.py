"""Experiments and runs beyond the contract checks: experiment names, how a step finds its run
(`Run.get_context()` and `$CHAMPION_RUN_ID`), and run trees (`get_children(recursive=True)`)."""

from __future__ import annotations

from pathlib import Path

import pytest
from azureml._restclient.exceptions import ServiceException
from azureml.core.run import _OfflineRun
from azureml.exceptions import (
    RunEnvironmentException,
    UserErrorException,
)

from champion.local import Experiment, Run, Workspace


@pytest.mark.parametrize("name", ["a.b", "-a", "a b", ""])
def test_an_invalid_experiment_name_is_refused(ws: Workspace, name: str) -> None:
    with pytest.raises(UserErrorException, match="Experiment name must be"):
        Experiment(ws, name)
    assert ws.experiments == {}


@pytest.mark.parametrize("name", ["ok-name_1", "1abc"])
def test_a_valid_experiment_is_created_once(ws: Workspace, name: str) -> None:
    first = Experiment(ws, name)
    assert Experiment(ws, name).id == first.id
    assert list(ws.experiments) == [name]


def test_get_context_returns_the_run_named_by_the_environment(
    ws: Workspace, in_tmp: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    parent = Experiment(ws, "pipeline").start_logging()
    step = parent.child_run("register")
    monkeypatch.setenv("CHAMPION_WORKSPACE", "ws")  # relative, as the local runner may set it
    monkeypatch.setenv("CHAMPION_RUN_ID", step.id)

    run = Run.get_context()

    assert isinstance(run, Run)
    assert run.id == step.id
    assert run.name == f"{parent.name or ''}>register"  # the SDK chains child run names
    assert run.parent is not None and run.parent.id == parent.id
    assert run.parent is run.parent  # looked up once, as the SDK caches it
    run.parent.tag("accuracy", 0.953)
    assert parent.get_tags() == {"accuracy": "0.953"}


def test_get_context_with_an_unknown_run_id_fails_loudly(
    ws: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CHAMPION_WORKSPACE", str(ws.path))
    monkeypatch.setenv("CHAMPION_RUN_ID", "no-such-run")
    with pytest.raises(ServiceException, match="no-such-run") as caught:
        Run.get_context()
    assert caught.value.status_code == 404  # what run history answers for an unknown run


def test_get_context_outside_a_step_is_the_sdks_offline_run(
    ws: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CHAMPION_WORKSPACE", str(ws.path))  # a workspace alone names no run

    run = Run.get_context()

    assert isinstance(run, _OfflineRun)
    assert not isinstance(run, Run)
    assert run.id.startswith("OfflineRun_")
    with pytest.raises(RunEnvironmentException):
        Run.get_context(allow_offline=False)
    with pytest.raises(RunEnvironmentException):
        Run.get_submitted_run()


def test_recursive_children_are_the_subtree_without_the_run_itself(ws: Workspace) -> None:
    experiment = Experiment(ws, "pipeline")
    parent = experiment.start_logging()
    first = parent.child_run("train")
    second = parent.child_run("register")
    grandchild = first.child_run("fold")
    experiment.start_logging().child_run("unrelated")
    grandchild.tag("k", "v")

    assert [r.id for r in parent.get_children()] == [second.id, first.id]  # newest first
    assert {r.id for r in parent.get_children(recursive=True)} == {
        first.id,
        second.id,
        grandchild.id,
    }
    assert [r.id for r in first.get_children(recursive=True)] == [grandchild.id]
    assert list(grandchild.get_children(recursive=True)) == []
    assert [r.id for r in parent.get_children(recursive=True, tags="k")] == [grandchild.id]
