"""The gate's scenarios on every registry it runs on: in memory (MLflow-shaped), the local
workspace, MLflow on a `sqlite:///` URI and a real `mlflow server` (see gate_targets.py).

One list of behaviours a user relies on, run in process against each target: first, win, loss,
tie, min-delta, floor, lower-is-better, a bad metric, an unscored champion, a retry, and the
record on the pipeline run. The process-level ones (a crash between registration and the alias
move, 8 concurrent challengers, faults at the HTTP edge) are in test_mlflow_gate.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from gate_targets import (
    MLFLOW_TARGETS,
    TARGETS,
    AzureMLTarget,
    LocalTarget,
    MemoryTarget,
    MlflowTarget,
    Target,
)

from champion import (
    MetricError,
    Outcome,
    Policy,
    RegisterRequest,
    UnscoredChampionError,
)


@pytest.fixture(params=TARGETS)
def target(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Target]:
    if request.param == "azureml":
        azure = AzureMLTarget(tmp_path)
        yield azure
        azure.close()
    else:
        yield _target(request.param, request, tmp_path)


@pytest.fixture
def model(tmp_path: Path) -> Path:
    path = tmp_path / "model.pkl"
    path.write_bytes(b"weights")
    return path


def ask(target: Target, model: Path, **policy: object) -> RegisterRequest:
    return RegisterRequest(target.model_name, model, Policy(**policy), build_number="42")  # type: ignore[arg-type]


def decide(target: Target, model: Path, value: str, metric: str = "accuracy", **policy: object):
    made = target.pipeline_run({metric: value})
    return target.gate(made, ask(target, model, metric=metric, **policy)), made


def test_first_is_registered_with_its_metadata_and_becomes_champion(target, model):
    record, made = decide(target, model, "0.9333")
    assert (record.decision.outcome, record.registered_version) == (Outcome.FIRST, 1)
    assert target.champion() == 1
    (version,) = target.registry().versions(target.model_name)
    assert version.properties["accuracy"] == "0.9333"
    assert version.properties["build_number"] == "42"
    assert len(version.properties["artifact_sha256"]) == 64
    assert version.run_id == made.parent.id  # linked to the pipeline run


def test_a_better_challenger_is_promoted(target, model):
    decide(target, model, "0.9")
    record, _ = decide(target, model, "0.95")
    assert (record.decision.outcome, record.registered_version) == (Outcome.PROMOTED, 2)
    assert target.champion() == 2
    newest = target.registry().versions(target.model_name)[-1]
    assert newest.properties["champion.previous_version"] == "1"
    assert newest.properties["champion.previous_metric"] == "0.9"


@pytest.mark.parametrize("value", ["0.85", "0.9"], ids=["loss", "tie"])
def test_a_loss_or_a_tie_keeps_the_champion(target, model, value):
    decide(target, model, "0.9")
    record, made = decide(target, model, value)
    assert record.decision.outcome is Outcome.REJECTED and record.registered_version is None
    assert (target.champion(), target.versions()) == (1, [1])
    # the rejected challenger is still on the run, for audit
    assert f"outputs/{target.model_name}/model.pkl" in made.parent.file_names()


@pytest.mark.parametrize(("value", "expected"), [("0.905", [1]), ("0.95", [1, 2])])
def test_min_delta_asks_for_a_real_improvement(target, model, value, expected):
    decide(target, model, "0.9")
    decide(target, model, value, min_delta=0.01)
    assert target.versions() == expected


def test_the_floor_blocks_a_weak_first_model(target, model):
    record, _ = decide(target, model, "0.5", floor=0.8)
    assert record.decision.outcome is Outcome.REJECTED
    assert (target.champion(), target.versions()) == (None, [])


def test_lower_is_better(target, model):
    outcomes = [
        decide(target, model, value, metric="rmse", direction="lower")[0].decision.outcome
        for value in ("0.5", "0.4", "0.6")
    ]
    assert outcomes == [Outcome.FIRST, Outcome.PROMOTED, Outcome.REJECTED]
    assert (target.champion(), target.versions()) == (2, [1, 2])


def test_a_bad_metric_is_refused_before_anything_is_uploaded(target, model):
    made = target.pipeline_run({"accuracy": "95%"})
    with pytest.raises(MetricError, match="'95%'"):
        target.gate(made, ask(target, model))
    assert made.parent.file_names() == []
    assert target.versions() == []


def test_an_unscored_champion_fails_closed_unless_allowed(target, model):
    target.register_unscored(model)
    made = target.pipeline_run({"accuracy": "0.95"})
    with pytest.raises(UnscoredChampionError, match="has no 'accuracy' property"):
        target.gate(made, ask(target, model))
    assert target.versions() == [1]
    allowed = target.gate(made, ask(target, model, allow_unscored_champion=True))
    assert allowed.decision.outcome is Outcome.PROMOTED
    assert target.champion() == 2


def test_a_retry_of_the_same_pipeline_run_registers_nothing_new(target, model):
    made = target.pipeline_run({"accuracy": "0.9"})
    first = target.gate(made, ask(target, model))
    again = target.gate(made, ask(target, model))
    assert again.decision.outcome is Outcome.ALREADY_REGISTERED
    assert again.registered_version == first.registered_version == 1
    assert target.versions() == [1]


def test_the_record_and_tags_are_on_the_pipeline_run(target, model):
    _, made = decide(target, model, "0.9")
    on_run = target.record(made)
    assert on_run is not None and on_run["outcome"] == "first"
    assert on_run["registered_version"] == 1 and on_run["challenger"] == "0.9"
    assert on_run["champion_rule"] == target.registry().champion_rule
    tags = made.parent.get_tags()
    assert tags["champion.outcome"] == "first" and tags["champion.version"] == "1"
    assert tags["champion.record"] == "outputs/champion_decision.json"


@pytest.mark.parametrize("name", ["memory", *MLFLOW_TARGETS])
def test_a_logged_metric_counts_when_no_tag_has_it(name, request, tmp_path, model):
    """MLflow lists a run's metrics with it: a training step that only logged the metric is
    read (the local workspace lists tags only)."""
    target = _target(name, request, tmp_path)
    made = target.pipeline_run(step_metrics={"accuracy": 0.93})
    record = target.gate(made, ask(target, model))
    assert record.decision.challenger == 0.93
    assert record.challenger_source.endswith("(train) metric 'accuracy'")


def _target(name: str, request: pytest.FixtureRequest, tmp_path: Path) -> Target:
    if name == "memory":
        return MemoryTarget()
    if name == "local":
        return LocalTarget(tmp_path)
    if name == "mlflow-sqlite":
        return MlflowTarget(name, request.getfixturevalue("mlflow_sqlite"), tmp_path / "art")
    assert name in MLFLOW_TARGETS
    return MlflowTarget(name, request.getfixturevalue("mlflow_server").url, None)
