"""The gate called in process: `register_if_better` on local runs, and the flow (`gate.gate`)
over any `Registry` and `ParentRun`.

Beside `test_register_step.py`, which runs the packaged step as a process: these are the same
behaviours one layer down (kedro's two layers), fast enough to try every branch, and they hold
the Protocols to what the flow needs. The in-memory backend at the bottom is shaped like the
MLflow one that comes next (an alias names the champion, metrics listed with the runs): the flow
runs on it unchanged.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import replace
from pathlib import Path

import pytest

from champion import (
    ConflictError,
    MetricError,
    MetricRule,
    Outcome,
    Policy,
    RegisterRequest,
    RescoreRequest,
    TestDataError,
    get_registry,
    names,
    register_file_if_better,
    register_if_better,
)
from champion.artifact import inspect_artifact, model_files_digest
from champion.errors import InputError
from champion.gate import gate
from champion.local import Model
from champion.record import read_record
from champion.registry import (
    ChampionChange,
    DatasetVersion,
    DecisionEntry,
    ModelVersion,
    NewVersion,
    StepRun,
)
from champion.registry._decisions import entries_on_run, sort_entries
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


class MemoryRun:
    """A `ParentRun` kept in memory, shaped like an MLflow parent run: tags and metrics come
    with the run, step runs are its children."""

    def __init__(
        self,
        tags: Mapping[str, str | None] | None = None,
        metrics: Mapping[str, float] | None = None,
        steps: Sequence[StepRun] = (),
    ) -> None:
        self.id = "parent-1"
        self._tags = dict(tags or {})
        self._metrics = dict(metrics or {})
        self._steps = list(steps)
        self.files: dict[str, bytes] = {}

    @property
    def tags(self) -> Mapping[str, str | None]:
        return dict(self._tags)

    @property
    def metrics(self) -> Mapping[str, float]:
        return dict(self._metrics)

    def get_tags(self) -> Mapping[str, str | None]:
        return dict(self._tags)

    def step_runs(self) -> Sequence[StepRun]:
        return list(self._steps)

    def file_names(self) -> list[str]:
        return sorted(self.files)

    def upload_file(self, name: str, path: Path) -> None:
        assert name not in self.files, "artifacts are never overwritten"
        self.files[name] = path.read_bytes()

    def upload_bytes(self, name: str, data: bytes) -> None:
        assert name not in self.files
        self.files[name] = data

    def download_file(self, name: str, target: Path) -> None:
        target.write_bytes(self.files[name])

    def set_tags(self, tags: Mapping[str, str]) -> None:
        self._tags.update(tags)

    def remove_tags(self, keys: Sequence[str]) -> None:
        for key in keys:
            self._tags.pop(key, None)


class AliasRegistry:
    """A `Registry` kept in memory, shaped like MLflow's: the champion is the version holding
    the alias, registering creates the version with its metadata and then moves the alias; a
    rollback moves the alias back (no new version) and records the change on a run of its own."""

    def __init__(self, *, intruder: bool = False) -> None:
        self.versions_: list[ModelVersion] = []
        self.files: dict[int, dict[str, bytes]] = {}
        self.alias: int | None = None
        self.alias_history: list[int] = []
        self.record_runs: list[MemoryRun] = []
        self.intruder = intruder  # another writer registers while we do
        self.runs: list[MemoryRun] = []  # the runs decision_run made

    def champion(self, name: str) -> ModelVersion | None:
        return next((v for v in self.versions_ if v.version == self.alias), None)

    def registered_by(self, name: str, run_id: str) -> ModelVersion | None:
        return next((v for v in reversed(self.versions_) if v.run_id == run_id), None)

    def register(self, new: NewVersion) -> int:
        if self.intruder:
            self._add(NewVersion(new.name, "elsewhere", None, {"accuracy": "0.1"}, {}, "other"))
        version = self._add(new)
        self.alias = version
        self.alias_history.append(version)
        return version

    def _add(self, new: NewVersion) -> int:
        version = len(self.versions_) + 1
        run_id = new.run.id if new.run else None
        self.versions_.append(ModelVersion(new.name, version, dict(new.properties), {}, run_id))
        if isinstance(new.run, MemoryRun):
            prefix = new.path + "/"
            self.files[version] = {
                name[len(prefix) :]: data
                for name, data in new.run.files.items()
                if name.startswith(prefix)
            }
        return version

    def download(self, name: str, version: int, target: Path) -> Path:
        stored = self.versions_[version - 1]
        written = {}
        for relative, data in self.files[version].items():
            (target / name / relative).parent.mkdir(parents=True, exist_ok=True)
            (target / name / relative).write_bytes(data)
            written[f"{name}/{relative}"] = hashlib.sha256(data).hexdigest()
        assert model_files_digest(written) == stored.properties["artifact_sha256"]
        return target / name

    def make_champion(self, name: str, version: int, change: ChampionChange) -> int:
        assert self.alias == change.expected_champion
        self.alias = version
        self.alias_history.append(version)
        with self.decision_run(names.ROLLBACK_EXPERIMENT, f"rollback {name}") as run:
            self.record_runs.append(run)
            if change.record is not None:
                change.record(run, version)
        return version

    def dataset(self, name: str, version: int | None) -> DatasetVersion:
        raise InputError("no dataset registry here; pass a file", field="test_data", value=name)

    def serialised(self) -> contextlib.AbstractContextManager[None]:
        return contextlib.nullcontext()

    def staged(self, paths: Sequence[Path]) -> contextlib.AbstractContextManager[None]:
        return contextlib.nullcontext()

    def race_detected(self, name: str, compared_with: int | None, registered: int) -> bool:
        return any((compared_with or 0) < v.version < registered for v in self.versions_)

    def versions(self, name: str) -> list[ModelVersion]:
        return list(self.versions_)

    def decisions(self, name: str) -> Sequence[DecisionEntry]:
        # what an MLflow backend does: search runs by the model tag, read their records
        tagged = [run for run in self.runs if run.tags.get(names.MODEL_TAG) == name]
        return sort_entries(e for run in tagged for e in entries_on_run(run, name))

    @contextlib.contextmanager
    def decision_run(self, experiment: str, display_name: str) -> Iterator[MemoryRun]:
        run = MemoryRun()
        run.id = f"{experiment}-{len(self.runs) + 1}"
        self.runs.append(run)
        yield run


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


def test_outside_a_pipeline_another_backend_keeps_every_decision_on_a_run(model):
    registry = AliasRegistry()
    for value in ("0.9", "0.8", "0.95"):
        register_file_if_better(registry, request(model), value)
    assert [r.id for r in registry.runs] == [f"{names.REGISTER_EXPERIMENT}-{n}" for n in (1, 2, 3)]
    assert registry.runs[1].tags[names.MODEL_TAG] == "iris"
    history = registry.decisions("iris")
    assert [(e.outcome, e.challenger, e.registered_version) for e in history] == [
        ("first", "0.9", 1),
        ("rejected", "0.8", None),
        ("promoted", "0.95", 2),
    ]
    assert registry.versions_[1].properties["champion.parent_run_id"] == registry.runs[2].id


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


# ---------------------------------------------------------------------- any backend: policies


def gate_with(run: MemoryRun, registry: AliasRegistry, model: Path, **fields: object):
    req = replace(RegisterRequest("iris", model, Policy(), build_number="42"), **fields)  # type: ignore[arg-type]
    return gate(run, registry, req, inspect_artifact(model))


TWO = Policy.of(MetricRule("accuracy"), MetricRule("latency_ms", direction="lower"))


def test_several_metrics_on_another_backend_from_tags_and_logged_metrics(model):
    registry = AliasRegistry()
    train = StepRun("t1", "train", {"accuracy": "0.9"}, {"latency_ms": 120.0})
    gate_with(MemoryRun(steps=[train]), registry, model, policy=TWO)
    assert registry.versions_[0].properties["latency_ms"] == "120.0"
    slower = StepRun("t2", "train", {"accuracy": "0.95"}, {"latency_ms": 130.0})
    record = gate_with(MemoryRun(steps=[slower]), registry, model, policy=TWO)
    assert record.decision.outcome is Outcome.REJECTED
    assert record.decision.decided_by == "latency_ms"
    assert registry.alias == 1


def test_the_test_data_rule_on_another_backend(model):
    registry = AliasRegistry()
    gate_with(MemoryRun({"accuracy": "0.9", "champion.test_data": "dataset:t:1"}), registry, model)
    assert registry.versions_[0].properties["champion.test_data"] == "dataset:t:1"
    other = MemoryRun({"accuracy": "0.95", "champion.test_data": "dataset:t:2"})
    with pytest.raises(TestDataError) as caught:
        gate_with(other, registry, model)
    assert caught.value.exit_code == 2
    assert other.files == {}  # refused before any upload
    allowed = gate_with(other, registry, model, policy=Policy(allow_different_test_data=True))
    assert allowed.decision.outcome is Outcome.PROMOTED
    assert allowed.test_data == {
        "challenger": {"sha256": None, "reference": "dataset:t:2"},
        "champion": {"sha256": None, "reference": "dataset:t:1"},
        "same": False,
        "allowed_different": True,
        "rescored_on": None,
    }


def test_a_dry_run_on_another_backend_registers_and_uploads_nothing(model):
    registry = AliasRegistry()
    run = MemoryRun({"accuracy": "0.9"})
    record = gate_with(run, registry, model, dry_run=True)
    assert record.decision.outcome is Outcome.WOULD_PROMOTE
    assert registry.versions_ == [] and registry.alias is None
    assert list(run.files) == ["outputs/champion_decision.json"]
    assert run.tags["champion.dry_run"] == "true"


def test_rescoring_on_another_backend_downloads_through_the_registry(model, tmp_path):
    import joblib
    import pandas as pd
    from sklearn.dummy import DummyClassifier

    frame = pd.DataFrame({"x": [1, 2, 3, 4], "label": ["a", "b", "b", "b"]})
    test = tmp_path / "test.csv"
    frame.to_csv(test, index=False)
    always = {}
    for label in "ab":
        path = tmp_path / label / "model.pkl"
        path.parent.mkdir()
        joblib.dump(
            DummyClassifier(strategy="constant", constant=label).fit(frame[["x"]], frame["label"]),
            path,
        )
        always[label] = path
    registry = AliasRegistry()
    gate_with(MemoryRun({"accuracy": "0.9"}), registry, always["a"])  # 0.25 on the test data
    record = gate_with(
        MemoryRun({"accuracy": "0.8"}),
        registry,
        always["b"],  # 0.75 on the test data
        rescore=RescoreRequest(str(test)),
    )
    assert record.decision.outcome is Outcome.PROMOTED
    assert (record.decision.challenger, record.decision.champion) == (0.75, 0.25)


def test_a_rollback_on_an_alias_backend_moves_the_alias_and_records_it(model):
    from champion.rollback import rollback

    registry = AliasRegistry()
    gate_with(MemoryRun({"accuracy": "0.9"}), registry, model)
    gate_with(MemoryRun({"accuracy": "0.95"}), registry, model)
    record = rollback(registry, "iris", reason="v2 drifts")
    assert registry.alias == 1 and len(registry.versions_) == 2  # no new version
    assert registry.alias_history == [1, 2, 1]
    assert record.decision.outcome is Outcome.ROLLED_BACK
    assert (record.registered_version, record.rollback_of) == (1, 1)
    (run,) = registry.record_runs
    assert run.tags["champion.outcome"] == "rolled_back"
    (entry,) = registry.decisions("iris")  # the one decision recorded on a decision run
    assert (entry.outcome, entry.challenger, entry.registered_version) == ("rolled_back", "0.9", 1)
    # the next challenger is compared with v1's 0.9
    assert gate_with(MemoryRun({"accuracy": "0.92"}), registry, model).decision.promote
