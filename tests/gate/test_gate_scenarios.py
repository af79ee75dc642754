"""The gate's scenarios on every registry it runs on: in memory (MLflow-shaped), the local
workspace, MLflow on a `sqlite:///` URI and a real `mlflow server` (see gate_targets.py).

One list of behaviours a user relies on, run in process against each target: first, win, loss,
tie, min-delta, floor, lower-is-better, a bad metric, an unscored champion, a retry, the record
on the pipeline run, dry runs, several metrics, the test-data rule, re-scoring (the champion
downloaded through the registry, verified) and a rollback (a new version where the champion is
the latest, the alias moved back on MLflow). The process-level ones (a crash between
registration and the alias move, 8 concurrent challengers, faults at the HTTP edge) are in
test_mlflow_gate.py.
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
    target_params,
)

from champion import (
    MetricError,
    MetricRule,
    Outcome,
    Policy,
    RegisterRequest,
    RescoreRequest,
    TestDataError,
    UnscoredChampionError,
)
from champion.rollback import rollback

OLD_DATA = "1" * 64  # the digest of data a champion was scored on long ago
NEW_DATA = "2" * 64


@pytest.fixture(params=target_params(TARGETS))
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


def ask(
    target: Target,
    model: Path,
    *,
    policy: Policy | None = None,
    dry: bool = False,
    rescore: RescoreRequest | None = None,
    **rule: object,
) -> RegisterRequest:
    return RegisterRequest(
        target.model_name,
        model,
        policy or Policy(**rule),  # type: ignore[arg-type]
        build_number="42",
        dry_run=dry,
        rescore=rescore,
    )


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


def test_a_dry_run_decides_and_records_but_registers_and_uploads_nothing(target, model):
    first = target.gate(target.pipeline_run({"accuracy": "0.9"}), ask(target, model, dry=True))
    assert first.decision.outcome is Outcome.WOULD_PROMOTE and first.registered_version is None
    assert target.versions() == [] and target.champion() is None
    decide(target, model, "0.9")
    made = target.pipeline_run({"accuracy": "0.95"})
    record = target.gate(made, ask(target, model, dry=True))
    assert record.decision.outcome is Outcome.WOULD_PROMOTE
    assert (target.versions(), target.champion()) == ([1], 1)
    assert made.parent.file_names() == ["outputs/champion_decision.json"]  # no model uploaded
    on_run = target.record(made)
    assert on_run is not None and on_run["outcome"] == "would_promote"
    worse = target.gate(target.pipeline_run({"accuracy": "0.5"}), ask(target, model, dry=True))
    assert worse.decision.outcome is Outcome.WOULD_REJECT


TWO = Policy.of(MetricRule("accuracy"), MetricRule("f1_macro", min_relative=0.01))


def test_every_metric_must_pass_and_the_winner_stores_them_all(target, model):
    def gate(accuracy: str, f1: str):
        made = target.pipeline_run({"accuracy": accuracy, "f1_macro": f1})
        return target.gate(made, ask(target, model, policy=TWO))

    assert gate("0.9", "0.8").decision.outcome is Outcome.FIRST
    rejected = gate("0.95", "0.805")  # accuracy passes; f1 misses its 1% relative margin
    assert rejected.decision.outcome is Outcome.REJECTED
    assert "f1_macro" in rejected.decision.reason
    promoted = gate("0.95", "0.9")
    assert (promoted.decision.outcome, target.champion()) == (Outcome.PROMOTED, 2)
    newest = target.registry().versions(target.model_name)[-1]
    assert (newest.properties["accuracy"], newest.properties["f1_macro"]) == ("0.95", "0.9")


def test_numbers_measured_on_other_test_data_are_refused_unless_allowed(target, model):
    decide_on = {"accuracy": "0.9", "champion.test_data_sha256": OLD_DATA}
    target.gate(target.pipeline_run(decide_on), ask(target, model))
    made = target.pipeline_run({"accuracy": "0.99", "champion.test_data_sha256": NEW_DATA})
    with pytest.raises(TestDataError, match="was scored on test data sha256 111111111111"):
        target.gate(made, ask(target, model))
    assert (target.versions(), made.parent.file_names()) == ([1], [])
    allowed = target.gate(made, ask(target, model, allow_different_test_data=True))
    assert allowed.decision.outcome is Outcome.PROMOTED
    assert allowed.test_data is not None and allowed.test_data["same"] is False
    newest = target.registry().versions(target.model_name)[-1]
    assert newest.properties["champion.test_data_sha256"] == NEW_DATA


def test_rescoring_downloads_the_champion_verified_and_decides_on_fresh_numbers(target, tmp_path):
    import joblib
    import pandas as pd
    from sklearn.dummy import DummyClassifier

    frame = pd.DataFrame({"x": [1, 2, 3, 4], "label": ["a", "b", "b", "b"]})
    test = tmp_path / "test.csv"
    frame.to_csv(test, index=False)
    always = {}
    for label in "ab":  # a constant "a" scores 0.25 on the test data, a constant "b" 0.75
        path = tmp_path / label / "model.pkl"
        path.parent.mkdir()
        fitted = DummyClassifier(strategy="constant", constant=label).fit(frame[["x"]], frame.label)
        joblib.dump(fitted, path)
        always[label] = path
    target.gate(
        target.pipeline_run({"accuracy": "0.99", "champion.test_data_sha256": OLD_DATA}),
        ask(target, always["a"]),
    )
    made = target.pipeline_run({"accuracy": "0.8"})  # would lose to the stored 0.99
    record = target.gate(made, ask(target, always["b"], rescore=RescoreRequest(str(test))))
    assert record.decision.outcome is Outcome.PROMOTED
    assert (record.decision.challenger, record.decision.champion) == (0.75, 0.25)
    newest = target.registry().versions(target.model_name)[-1]
    assert newest.properties["accuracy"] == "0.75"  # the number it won with


def test_a_rollback_makes_the_earlier_version_champion_and_the_next_challenger_meets_it(
    target, model
):
    decide(target, model, "0.9")
    decide(target, model, "0.95")
    record = rollback(target.registry(), target.model_name, reason="v2 drifts")
    assert record.decision.outcome is Outcome.ROLLED_BACK and record.rollback_of == 1
    champion = target.registry().champion(target.model_name)
    assert champion is not None and champion.properties["accuracy"] == "0.9"
    if target.name in ("memory", *MLFLOW_TARGETS):  # the alias moved back: no new version
        assert (target.versions(), champion.version, record.registered_version) == ([1, 2], 1, 1)
    else:  # the champion is the latest version: v1's files again, as v3
        assert (target.versions(), champion.version, record.registered_version) == ([1, 2, 3], 3, 3)
    assert champion.properties["champion.outcome"] == "rolled_back"
    assert champion.properties["champion.previous_version"] == "2"
    # 0.92 would lose to v2's 0.95; against the rolled-back champion's 0.9 it wins
    after, _ = decide(target, model, "0.92")
    assert after.decision.outcome is Outcome.PROMOTED
    assert (after.decision.champion, after.decision.champion_version) == (0.9, champion.version)


def test_every_decision_is_in_the_history_rejections_and_dry_runs_included(target, model):
    decide(target, model, "0.9")
    decide(target, model, "0.95")
    decide(target, model, "0.8")
    target.gate(target.pipeline_run({"accuracy": "0.99"}), ask(target, model, dry=True))
    rollback(target.registry(), target.model_name, reason="v2 drifts")
    entries = target.registry().decisions(target.model_name)
    assert [(e.outcome, e.challenger, e.champion_version) for e in entries] == [
        ("first", "0.9", None),
        ("promoted", "0.95", 1),
        ("rejected", "0.8", 2),
        ("would_promote", "0.99", 2),
        ("rolled_back", "0.9", 2),
    ]
    assert [e.registered_version for e in entries][:3] == [1, 2, None]
    assert entries[2].run_id is not None and "0.8" in (entries[2].reason or "")


@pytest.mark.parametrize("name", target_params(["memory", *MLFLOW_TARGETS]))
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
