"""The gate called in process: `register_if_better` on local runs, and the flow (`gate.gate`)
over any `Registry` and `ParentRun`.

Beside `test_register_step.py`, which runs the packaged step as a process: these are the same
behaviours one layer down (kedro's two layers), fast enough to try every branch, and they hold
the Protocols to what the flow needs. The in-memory backend (gate_targets.py) is shaped like the
MLflow one (an alias names the champion, metrics listed with the runs): the flow runs on it
unchanged; test_gate_scenarios.py runs the same scenarios on every backend.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
from gate_targets import AliasRegistry, MemoryRun

from champion import (
    ConflictError,
    MetricError,
    Outcome,
    Policy,
    RegisterRequest,
    get_registry,
    register_file_if_better,
    register_if_better,
)
from champion.artifact import inspect_artifact
from champion.gate import gate
from champion.local import Model
from champion.record import read_record
from champion.registry import StepRun
from champion.testing import make_pipeline_run

STEPS = {"train": {}, "register": {}}  # the metric on the pipeline run only


@pytest.fixture
def model(tmp_path: Path) -> Path:
    path = tmp_path / "model.pkl"
    path.write_bytes(b"weights")
    return path


def request(model: Path, **policy: object) -> RegisterRequest:
    return RegisterRequest("iris", model, Policy(**policy), build_number="42")  # type: ignore[arg-type]


# ---------------------------------------------------------------------- on the local workspace


def test_first_promoted_and_tie_in_process(local_ws, model):
    outcomes = []
    for accuracy in ("0.9", "0.95", "0.95"):
        tree = make_pipeline_run(local_ws, {"accuracy": accuracy}, STEPS)
        record = register_if_better(tree.steps["register"], request(model))
        outcomes.append((record.decision.outcome, record.registered_version))
    assert outcomes == [(Outcome.FIRST, 1), (Outcome.PROMOTED, 2), (Outcome.REJECTED, None)]
    champion = Model(local_ws, "iris")
    assert champion.properties["accuracy"] == "0.95"
    assert champion.properties["champion.previous_version"] == "1"
    assert json.loads(champion.properties["champion.policy"])["metric"] == "accuracy"


def test_the_stored_value_is_the_tag_s_number_read_once(local_ws, model):
    """`9.53e-1` is read once into the float compared; the version and the record keep its
    shortest form, the same number."""
    tree = make_pipeline_run(local_ws, {"accuracy": "9.53e-1"}, STEPS)
    record = register_if_better(tree.steps["register"], request(model))
    assert record.decision.challenger == 0.953
    assert Model(local_ws, "iris").properties["accuracy"] == "0.953"
    assert read_record(tree.parent)["challenger"] == "0.953"


def test_a_retried_step_finds_its_registration(local_ws, model):
    tree = make_pipeline_run(local_ws, {"accuracy": "0.9"}, STEPS)
    first = register_if_better(tree.steps["register"], request(model))
    again = register_if_better(tree.steps["register"], request(model))
    assert again.decision.outcome is Outcome.ALREADY_REGISTERED
    assert again.registered_version == first.registered_version == 1
    assert [m.version for m in Model.list(local_ws, name="iris")] == [1]


def test_bad_input_is_refused_before_anything_is_uploaded(local_ws, model):
    tree = make_pipeline_run(local_ws, {"accuracy": "95%"}, STEPS)
    with pytest.raises(MetricError, match="'95%'"):
        register_if_better(tree.steps["register"], request(model))
    assert tree.parent.get_file_names() == []


def test_outside_a_pipeline_with_a_registry_or_a_workspace(local_ws, model):
    first = register_file_if_better(local_ws, request(model), "0.9", "SVC")
    better = register_file_if_better(get_registry(local_ws), request(model), "0.91")
    assert (first.registered_version, better.registered_version) == (1, 2)
    history = get_registry(local_ws).versions("iris")
    assert [(v.version, v.properties["accuracy"]) for v in history] == [(1, "0.9"), (2, "0.91")]
    assert history[0].properties["model_type"] == "SVC"


# ---------------------------------------------------------------------- any backend: the flow


def run_gate(run: MemoryRun, registry: AliasRegistry, model: Path, **policy: object):
    req = request(model, **policy)
    return gate(run, registry, req, inspect_artifact(req.model_path))


def test_the_flow_runs_on_another_backend(model):
    registry = AliasRegistry()
    first = run_gate(MemoryRun({"accuracy": "0.9"}), registry, model)
    assert (first.decision.outcome, first.registered_version) == (Outcome.FIRST, 1)
    run = MemoryRun({"accuracy": "0.95"})
    promoted = run_gate(run, registry, model)
    assert (promoted.decision.outcome, registry.alias) == (Outcome.PROMOTED, 2)
    assert registry.versions_[1].properties["champion.previous_metric"] == "0.9"
    assert "outputs/iris/model.pkl" in run.files and "outputs/champion_decision.json" in run.files
    assert run.tags["champion.outcome"] == "promoted" and run.tags["champion.version"] == "2"
    again = run_gate(run, registry, model)
    assert again.decision.outcome is Outcome.ALREADY_REGISTERED


def test_a_race_the_backend_reports_is_recorded(model):
    registry = AliasRegistry(intruder=True)
    record = run_gate(MemoryRun({"accuracy": "0.9"}), registry, model)
    assert record.race_detected and record.registered_version == 2


def test_logged_metrics_count_when_no_tag_has_the_metric(model):
    train = StepRun("train-1", "train", {}, {"accuracy": 0.93})
    record = run_gate(MemoryRun(steps=[train]), AliasRegistry(), model)
    assert record.decision.challenger == 0.93
    assert record.challenger_source == "step run train-1 (train) metric 'accuracy'"
    tagged = MemoryRun({"accuracy": "0.91"}, {"accuracy": 0.5})
    assert run_gate(tagged, AliasRegistry(), model).decision.challenger == 0.91  # tags win


def test_two_training_runs_with_the_metric_are_a_conflict(model):
    steps = [StepRun(f"t{n}", "train", {"accuracy": "0.9"}) for n in (1, 2)]
    with pytest.raises(ConflictError, match="ambiguous"):
        run_gate(MemoryRun(steps=steps), AliasRegistry(), model)


def test_an_unscored_champion_fails_closed_unless_allowed(model):
    registry = AliasRegistry()
    run_gate(MemoryRun({"accuracy": "0.9"}), registry, model)
    registry.versions_[0] = replace(registry.versions_[0], properties={})
    with pytest.raises(Exception, match="has no 'accuracy' property"):
        run_gate(MemoryRun({"accuracy": "0.95"}), registry, model)
    allowed = run_gate(
        MemoryRun({"accuracy": "0.95"}), registry, model, allow_unscored_champion=True
    )
    assert allowed.decision.outcome is Outcome.PROMOTED
