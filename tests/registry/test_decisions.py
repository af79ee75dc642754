"""`Registry.decisions(name)`: every decision on a model, rejections included, read from the
records on the runs tagged with the model's name; on the local workspace's classes and on the
real SDK under `mock_azureml()` (the azureml backend), over the same store.

The decisions are made in process by the gate (`register_if_better` for pipeline runs,
`register_file_if_better` outside a pipeline), through the backend under test."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC
from pathlib import Path
from typing import Any

import pytest

from champion import Policy, RegisterRequest, get_registry, register_file_if_better
from champion.errors import InfrastructureError, MetricError
from champion.gate import register_if_better
from champion.local import Experiment, Model, Run, Workspace
from champion.names import DECISION_ARTIFACT, MODEL_TAG, REGISTER_EXPERIMENT
from champion.registry import DecisionEntry, Registry
from champion.registry._decisions import entry_of
from champion.testing import create_workspace, make_pipeline_run, workspace_state

STEPS = {"train": {}, "register": {}}


@dataclass
class Backend:
    """One workspace, seen through the backend under test."""

    local: Workspace  # the local face, to make pipeline runs and look at what was written
    workspace: Any  # the workspace the gate and the registry are given
    step_run: Callable[[Any], Any]  # a local step run as this backend's run object

    @property
    def registry(self) -> Registry:
        return get_registry(self.workspace)


@pytest.fixture(params=["local", "azureml"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    local = create_workspace(tmp_path / "ws")
    if request.param == "local":
        yield Backend(local, local, lambda run: run)
        return
    import azureml.core

    from champion.local import mock_azureml

    with mock_azureml(tmp_path / "ws") as mock:
        yield Backend(
            local, mock.workspace, lambda run: azureml.core.Run.get(mock.workspace, run.id)
        )


@pytest.fixture
def model(tmp_path: Path) -> Path:
    path = tmp_path / "model.pkl"
    path.write_bytes(b"weights")
    return path


def request_for(model: Path, name: str = "iris", **policy: Any) -> RegisterRequest:
    return RegisterRequest(name, model, Policy(**policy), build_number="42")


def in_pipeline(backend: Backend, model: Path, accuracy: str, name: str = "iris") -> str:
    tree = make_pipeline_run(backend.local, {"accuracy": accuracy}, STEPS)
    register_if_better(backend.step_run(tree.steps["register"]), request_for(model, name))
    return str(tree.parent.id)


def summary(entries: list[DecisionEntry]) -> list[tuple[Any, ...]]:
    return [
        (e.outcome, e.challenger, e.champion, e.champion_version, e.registered_version)
        for e in entries
    ]


def test_every_decision_oldest_first_rejections_included(backend: Backend, model: Path) -> None:
    first = in_pipeline(backend, model, "0.9")
    outside = register_file_if_better(backend.workspace, request_for(model), "0.85")
    promoted = in_pipeline(backend, model, "0.95")
    in_pipeline(backend, model, "0.5", name="other")  # another model: not in iris's history
    tie = in_pipeline(backend, model, "0.95")

    entries = list(backend.registry.decisions("iris"))

    assert summary(entries) == [
        ("first", "0.9", None, None, 1),
        ("rejected", "0.85", "0.9", 1, None),
        ("promoted", "0.95", "0.9", 1, 2),
        ("rejected", "0.95", "0.95", 2, None),
    ]
    assert [e.run_id for e in entries] == [first, outside.parent_run_id, promoted, tie]
    times = [e.time for e in entries]
    assert all(t is not None and t.tzinfo is not None for t in times)
    assert times == sorted(times)  # type: ignore[type-var]
    assert all(t.utcoffset().total_seconds() == 0 for t in times)  # type: ignore[union-attr]
    assert {e.record_name for e in entries} == {DECISION_ARTIFACT}
    assert {(e.metric, e.build_number, e.policy["metric"]) for e in entries} == {
        ("accuracy", "42", "accuracy")
    }
    assert "ties champion v2" in (entries[3].reason or "")
    assert entries[1].record["challenger_source"] == "--metric-value for 'accuracy'"
    assert list(backend.registry.decisions("never-decided")) == []


def test_a_register_outside_a_pipeline_leaves_a_run_holding_its_record(
    backend: Backend, model: Path
) -> None:
    record = register_file_if_better(backend.workspace, request_for(model, floor=0.9), "0.5")
    assert record.decision.outcome.value == "rejected"  # below the floor: nothing registered

    run = Run.get(backend.local, str(record.parent_run_id))
    assert run.experiment.name == REGISTER_EXPERIMENT
    assert run.display_name == "champion register iris"
    assert run.get_status() == "Completed"
    assert run.get_file_names() == [DECISION_ARTIFACT]
    tags = run.get_tags()
    assert (tags[MODEL_TAG], tags["champion.outcome"]) == ("iris", "rejected")
    assert Model.list(backend.local, name="iris") == []
    (entry,) = backend.registry.decisions("iris")
    assert (entry.outcome, entry.challenger, entry.run_id) == ("rejected", "0.5", run.id)

    winner = register_file_if_better(backend.workspace, request_for(model), "0.95")
    version = Model(backend.local, "iris")
    assert version.properties["champion.parent_run_id"] == winner.parent_run_id  # its record


def test_bad_input_outside_a_pipeline_leaves_no_run(backend: Backend, model: Path) -> None:
    before = workspace_state(backend.local)
    with pytest.raises(MetricError):
        register_file_if_better(backend.workspace, request_for(model), "95%")
    assert workspace_state(backend.local) == before
    assert REGISTER_EXPERIMENT not in backend.local.experiments


def test_a_retry_that_decided_differently_is_two_lines_of_one_run(local_ws: Workspace, model):
    seeded = make_pipeline_run(local_ws, {"accuracy": "0.99"}, STEPS)
    register_if_better(seeded.steps["register"], request_for(model))
    tree = make_pipeline_run(local_ws, {"accuracy": "0.9"}, STEPS)
    register_if_better(tree.steps["register"], request_for(model))  # rejected
    Model(local_ws, "iris", version=1).delete()
    register_if_better(tree.steps["register"], request_for(model))  # the retry: first

    entries = [e for e in get_registry(local_ws).decisions("iris") if e.run_id == tree.parent.id]
    assert [(e.outcome, e.record_name) for e in entries] == [
        ("rejected", DECISION_ARTIFACT),
        ("first", "outputs/champion_decision.2.json"),
    ]


def write_raw(ws: Workspace, record: dict[str, Any] | str, tags: dict[str, str]) -> Run:
    """A run holding `record` as its decision artifact, tagged `tags`: what another version of
    champion (or another helper's gate) may have left."""
    run = Experiment(ws, "elsewhere").start_logging()
    text = record if isinstance(record, str) else json.dumps(record)
    path = ws.path.parent / f"record-{run.id}.json"
    path.write_text(text)
    run.upload_file(DECISION_ARTIFACT, str(path))
    run.set_tags(tags)
    run.complete()
    return run


def test_a_record_without_a_time_takes_its_run_s_start(local_ws: Workspace) -> None:
    """Records written before champion recorded `decided_at`."""
    run = write_raw(
        local_ws,
        {"model_name": "iris", "outcome": "rejected", "metric": "accuracy", "challenger": "0.5"},
        {MODEL_TAG: "iris"},
    )
    (entry,) = get_registry(local_ws).decisions("iris")
    started = run.get_details()["startTimeUtc"]
    assert entry.time is not None and entry.time.tzinfo is UTC
    assert entry.time.isoformat().startswith(started[:19])


def test_a_run_tagged_for_a_model_its_record_does_not_name_adds_nothing(local_ws: Workspace):
    write_raw(local_ws, {"model_name": "other", "outcome": "first"}, {MODEL_TAG: "iris"})
    assert list(get_registry(local_ws).decisions("iris")) == []


def test_a_record_that_is_not_json_fails_the_history(local_ws: Workspace) -> None:
    run = write_raw(local_ws, "{not json", {MODEL_TAG: "iris"})
    with pytest.raises(InfrastructureError) as caught:
        get_registry(local_ws).decisions("iris")
    assert run.id in caught.value.message and DECISION_ARTIFACT in caught.value.message


# ---------------------------------------------------------------------- what a record may hold


def test_outcomes_of_dry_runs_and_rollbacks_pass_through() -> None:
    for outcome in ("would_promote", "would_reject", "rolled_back", "something_new"):
        raw = {"model_name": "iris", "outcome": outcome, "metric": "accuracy", "challenger": "0.9"}
        entry = entry_of(raw, run_id="r", record_name=DECISION_ARTIFACT, time=None)
        assert (entry.outcome, entry.challenger) == (outcome, "0.9")


@pytest.mark.parametrize(
    "shape",
    [
        {  # values per metric, the policy listing its metrics
            "policy": {"metrics": [{"metric": "f1"}, {"metric": "accuracy"}]},
            "challenger": {"f1": "0.81", "accuracy": "0.9"},
            "champion": {"f1": "0.8", "accuracy": "0.95"},
        },
        {  # top-level values of the primary metric, every comparison in a list
            "metric": "f1",
            "policy": {"metrics": ["f1", "accuracy"]},
            "challenger": "0.81",
            "champion": "0.8",
            "metrics": [
                {"metric": "f1", "challenger": "0.81", "champion": "0.8"},
                {"metric": "accuracy", "challenger": "0.9", "champion": "0.95"},
            ],
        },
    ],
    ids=["values-by-metric", "comparisons-listed"],
)
def test_a_record_of_several_metrics_shows_the_first_the_policy_lists(shape) -> None:
    from champion.registry._decisions import recorded_value

    raw = {"model_name": "iris", "outcome": "rejected", **shape}
    entry = entry_of(raw, run_id="r", record_name=DECISION_ARTIFACT, time=None)
    assert (entry.metric, entry.challenger, entry.champion) == ("f1", "0.81", "0.8")
    assert recorded_value(raw, "champion", "accuracy") == "0.95"
