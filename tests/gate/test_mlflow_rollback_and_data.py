"""What the MLflow registry does for a rollback, a verified download and `--test-data
dataset:...`, on both MLflow targets (a `sqlite:///` URI in process and a real `mlflow server`).

A rollback on MLflow makes no version: the `champion` alias moves back, the earlier version is
tagged with the event (never its metric), and the decision record goes on a run of experiment
`champion-rollback`. Whatever stops it part way puts the alias and the tags back. A download is
checked against `artifact_sha256` before a file lands in the target. MLflow has no dataset
registry, so `dataset:NAME` test data is refused in one line, before anything is uploaded.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from gate_targets import MLFLOW_TARGETS, MlflowTarget, target_params

from champion import (
    ConflictError,
    InfrastructureError,
    InputError,
    Outcome,
    Policy,
    RegisterRequest,
    RescoreRequest,
)
from champion.registry import ChampionChange
from champion.rollback import rollback


@pytest.fixture(params=target_params(MLFLOW_TARGETS))
def target(request: pytest.FixtureRequest, tmp_path: Path) -> MlflowTarget:
    if request.param == "mlflow-sqlite":
        uri = request.getfixturevalue("mlflow_sqlite")
        return MlflowTarget(request.param, uri, tmp_path / "artifacts")
    return MlflowTarget(request.param, request.getfixturevalue("mlflow_server").url, None)


@pytest.fixture
def model(tmp_path: Path) -> Path:
    path = tmp_path / "model.pkl"
    path.write_bytes(b"weights")
    return path


def ask(target: MlflowTarget, model: Path, **extra: object) -> RegisterRequest:
    return RegisterRequest(target.model_name, model, Policy(), build_number="1", **extra)  # type: ignore[arg-type]


def two_versions(target: MlflowTarget, model: Path) -> None:
    for accuracy in ("0.9", "0.95"):
        target.gate(target.pipeline_run({"accuracy": accuracy}), ask(target, model))
    assert target.alias_holder() == 2


def version_tags(target: MlflowTarget, version: int) -> dict[str, str]:
    return dict(target.ws.client.get_model_version(target.model_name, str(version)).tags)


def rollback_runs(target: MlflowTarget) -> list:
    client = target.ws.client
    experiment = client.get_experiment_by_name("champion-rollback")
    if experiment is None:
        return []
    found = client.search_runs([experiment.experiment_id], max_results=1000)
    return [r for r in found if r.info.run_name == f"rollback {target.model_name}"]


# ---------------------------------------------------------------------- rollback


def test_a_rollback_moves_the_alias_back_tags_the_version_and_records_it(target, model):
    two_versions(target, model)
    v2_before = version_tags(target, 2)
    record = rollback(target.registry(), target.model_name, reason="v2 drifts")
    assert (record.decision.outcome, record.registered_version) == (Outcome.ROLLED_BACK, 1)
    assert target.alias_holder() == 1 and target.versions() == [1, 2]  # no new version
    tags = version_tags(target, 1)
    assert tags["accuracy"] == "0.9"  # its own metric, untouched
    assert tags["champion.outcome"] == "rolled_back" and tags["champion.rollback_of"] == "1"
    assert tags["champion.previous_version"] == "2"
    assert "v2 drifts" in tags["champion.reason"]
    assert version_tags(target, 2) == v2_before
    (run,) = rollback_runs(target)
    assert run.info.status == "FINISHED" and record.parent_run_id == run.info.run_id
    assert run.data.tags["champion.outcome"] == "rolled_back"
    files = [f.path for f in target.ws.client.list_artifacts(run.info.run_id)]
    assert files == ["champion_decision.json"]


def test_a_rollback_against_a_champion_that_moved_changes_nothing(target, model):
    two_versions(target, model)
    before = version_tags(target, 1)
    change = ChampionChange(
        properties={"champion.outcome": "rolled_back"},
        tags={},
        description="",
        expected_champion=1,  # the caller saw v1; the alias names v2
    )
    with pytest.raises(ConflictError, match="changed from v1 to v2 while rolling back"):
        target.registry().make_champion(target.model_name, 1, change)
    assert target.alias_holder() == 2 and version_tags(target, 1) == before
    (run,) = rollback_runs(target)
    assert run.info.status == "FAILED"


def test_a_rollback_stopped_part_way_puts_the_alias_and_tags_back(target, model):
    two_versions(target, model)
    before = version_tags(target, 1)

    def record(run, version):
        raise InfrastructureError("the record could not be uploaded")

    change = ChampionChange(
        properties={**before, "champion.outcome": "rolled_back", "champion.rollback_of": "1"},
        tags={},
        description="",
        expected_champion=2,
        record=record,
    )
    registry = target.registry()
    registry.champion(target.model_name)  # as rollback() does: the alias rule is known
    with pytest.raises(InfrastructureError, match="could not be uploaded"):
        registry.make_champion(target.model_name, 1, change)
    assert target.alias_holder() == 2
    assert version_tags(target, 1) == before  # the new tag removed, the changed one restored
    (run,) = rollback_runs(target)
    assert run.info.status == "FAILED"


def test_a_rollback_to_a_missing_version_is_refused(target, model):
    two_versions(target, model)
    with pytest.raises(InputError, match="there is no version 7"):
        rollback(target.registry(), target.model_name, reason="x", to=7)
    assert target.alias_holder() == 2 and rollback_runs(target) == []


# ---------------------------------------------------------------------- verified downloads


def test_a_download_is_verified_and_all_or_nothing(target, model, tmp_path):
    target.gate(target.pipeline_run({"accuracy": "0.9"}), ask(target, model))
    got = target.registry().download(target.model_name, 1, tmp_path / "one")
    assert got == tmp_path / "one" / target.model_name
    assert [p.name for p in got.iterdir()] == ["model.pkl"]  # MLflow's own file left out
    assert (got / "model.pkl").read_bytes() == b"weights"
    with pytest.raises(InputError, match="there is no version 5"):
        target.registry().download(target.model_name, 5, tmp_path / "five")


def test_a_tampered_version_is_never_written(tmp_path, mlflow_sqlite, model):
    target = MlflowTarget("mlflow-sqlite", mlflow_sqlite, tmp_path / "artifacts")
    target.gate(target.pipeline_run({"accuracy": "0.9"}), ask(target, model))
    source = Path(target.ws.client.get_model_version(target.model_name, "1").source)
    (source / "model.pkl").write_bytes(b"tampered")
    where = tmp_path / "download"
    with pytest.raises(InfrastructureError, match="do not hash to its registered"):
        target.registry().download(target.model_name, 1, where)
    assert list(where.iterdir()) == []


def test_a_version_without_a_digest_cannot_be_downloaded_for_use(target, model, tmp_path):
    target.register_unscored(model)
    with pytest.raises(InputError, match="has no artifact_sha256 tag"):
        target.registry().download(target.model_name, 1, tmp_path / "out")
    assert not (tmp_path / "out").exists()


# ---------------------------------------------------------------------- datasets


def test_dataset_test_data_is_refused_in_one_line_before_anything(target, model):
    target.gate(target.pipeline_run({"accuracy": "0.9"}), ask(target, model))
    made = target.pipeline_run({"accuracy": "0.95"})
    rescore = RescoreRequest("dataset:iris-test:2")
    with pytest.raises(InputError) as caught:
        target.gate(made, ask(target, model, rescore=rescore))
    message = caught.value.message
    assert message.startswith("--test-data dataset:iris-test:2: MLflow has no dataset registry")
    assert "pass --test-data PATH" in message and "\n" not in message
    assert caught.value.field == "--test-data"
    assert made.parent.file_names() == [] and target.versions() == [1]


def test_a_step_run_is_a_run_it_can_record_on(target):
    """The score step records on its own run: on MLflow the step's run is a `ParentRun` too."""
    from champion.registry import ParentRun
    from champion.registry.sdk_run import as_parent_run

    made = target.pipeline_run()
    own = as_parent_run(made.step)
    assert own is made.step and isinstance(own, ParentRun)
    own.upload_bytes("outputs/champion_scoring.json", b"{}")
    own.set_tags({"champion.scored_version": "1"})
    assert own.file_names() == ["outputs/champion_scoring.json"]
    assert own.get_tags()["champion.scored_version"] == "1"
