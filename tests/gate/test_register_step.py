"""The register step end to end: `python -m champion.steps.register` as a real process on a local
workspace (through the `champion.testing` kit); the Azure snapshot's wrapper script once."""

from __future__ import annotations

import json
import re
import tempfile
from pathlib import Path
from typing import Any

import pytest

from champion.local import Model, Run
from champion.record import read_record


def decision_of(run: Run, tmp_path: Path) -> dict[str, object]:
    target = tmp_path / f"decision_{run.id}.json"
    run.download_file("outputs/champion_decision.json", str(target))
    return json.loads(target.read_text())


def seed_champion(pipeline, accuracy: str) -> None:
    result = pipeline.register(pipeline.new_run({"accuracy": accuracy}))
    assert result.exit_code == 0, result.stderr


# ---------------------------------------------------------------------- outcomes


def test_first_model_is_registered_with_everything_in_one_version(pipeline, tmp_path):
    run = pipeline.new_run({"accuracy": "0.9333", "best_model": "SVC"})
    result = pipeline.register(run, "--build-number", "20261122.1")

    assert result.exit_code == 0, result.stderr
    assert "first as iris:1" in result.stdout
    model = Model(pipeline.ws, "iris")
    assert model.version == 1
    assert model.run_id == run.parent.id  # registered through the parent run: links back
    assert model.properties["accuracy"] == "0.9333"
    assert model.properties["model_type"] == "SVC"
    assert model.properties["build_number"] == "20261122.1"
    assert len(model.properties["artifact_sha256"]) == 64
    assert model.tags["champion.outcome"] == "first"
    assert run.parent.get_tags()["champion.outcome"] == "first"
    assert run.parent.get_tags()["champion.version"] == "1"
    record = decision_of(run.parent, tmp_path)
    assert record["schema_version"] == 1
    assert record["outcome"] == "first" and record["registered_version"] == 1
    assert record["challenger"] == "0.9333" and record["champion"] is None
    assert record["build_number"] == "20261122.1"


def test_better_challenger_is_promoted(pipeline, tmp_path):
    seed_champion(pipeline, "0.9")
    run = pipeline.new_run({"accuracy": "0.95"})
    result = pipeline.register(run)

    assert result.exit_code == 0, result.stderr
    assert pipeline.versions() == [1, 2]
    assert Model(pipeline.ws, "iris").properties["champion.previous_version"] == "1"
    record = decision_of(run.parent, tmp_path)
    assert (record["outcome"], record["champion"], record["champion_version"]) == (
        "promoted",
        "0.9",
        1,
    )


@pytest.mark.parametrize("accuracy", ["0.85", "0.9"], ids=["loss", "tie"])
def test_loss_or_tie_keeps_the_champion(pipeline, tmp_path, accuracy):
    seed_champion(pipeline, "0.9")
    run = pipeline.new_run({"accuracy": accuracy})
    result = pipeline.register(run)

    assert result.exit_code == 0, result.stderr
    assert pipeline.versions() == [1]
    assert run.parent.get_tags()["champion.outcome"] == "rejected"
    assert "champion.version" not in run.parent.get_tags()
    assert decision_of(run.parent, tmp_path)["registered_version"] is None
    # the rejected challenger is still on the run, for audit
    assert "outputs/iris/model.pkl" in run.parent.get_file_names()


def test_fail_on_reject_exits_1(pipeline):
    seed_champion(pipeline, "0.9")
    result = pipeline.register(pipeline.new_run({"accuracy": "0.8"}), "--fail-on-reject")
    assert result.exit_code == 1
    assert pipeline.versions() == [1]


@pytest.mark.parametrize(("challenger", "expected"), [("0.4", [1, 2]), ("0.6", [1]), ("0.5", [1])])
def test_lower_is_better(pipeline, challenger, expected):
    first = pipeline.register(
        pipeline.new_run({"rmse": "0.5"}), "--metric", "rmse", "--lower-is-better"
    )
    assert first.exit_code == 0, first.stderr
    result = pipeline.register(
        pipeline.new_run({"rmse": challenger}), "--metric", "rmse", "--lower-is-better"
    )
    assert result.exit_code == 0, result.stderr
    assert pipeline.versions() == expected


@pytest.mark.parametrize(("challenger", "expected"), [("0.905", [1]), ("0.95", [1, 2])])
def test_min_delta_requires_a_real_improvement(pipeline, challenger, expected):
    seed_champion(pipeline, "0.9")
    result = pipeline.register(pipeline.new_run({"accuracy": challenger}), "--min-delta", "0.01")
    assert result.exit_code == 0, result.stderr
    assert pipeline.versions() == expected


def test_floor_blocks_a_weak_first_model(pipeline, tmp_path):
    run = pipeline.new_run({"accuracy": "0.5"})
    result = pipeline.register(run, "--floor", "0.8")
    assert result.exit_code == 0, result.stderr
    assert pipeline.versions() == []
    assert decision_of(run.parent, tmp_path)["outcome"] == "rejected"


# ---------------------------------------------------------------------- where the metric comes from


def test_metric_falls_back_to_the_training_step_tags(pipeline, tmp_path):
    run = pipeline.new_run(step_tags={"accuracy": "0.91", "model_type": "KNeighborsClassifier"})
    result = pipeline.register(run)

    assert result.exit_code == 0, result.stderr
    model = Model(pipeline.ws, "iris")
    assert model.properties["accuracy"] == "0.91"
    assert model.properties["model_type"] == "KNeighborsClassifier"
    assert "step run" in decision_of(run.parent, tmp_path)["challenger_source"]


def test_parent_tag_wins_when_both_agree(pipeline, tmp_path):
    run = pipeline.new_run({"accuracy": "0.91"}, {"accuracy": "0.91"})
    assert pipeline.register(run).exit_code == 0
    assert "pipeline run" in decision_of(run.parent, tmp_path)["challenger_source"]


def test_step_with_another_name_is_not_read_and_the_names_seen_are_listed(pipeline):
    run = pipeline.new_run(step_tags={"accuracy": "0.91"}, step_name="prep")
    before = pipeline.snapshot()
    result = pipeline.register(run)
    assert result.exit_code == 2
    (line,) = result.stderr.splitlines()
    assert "no 'accuracy' tag" in line
    assert "step runs seen: 'prep', 'register'" in line
    assert pipeline.snapshot() == before


@pytest.mark.parametrize("real_sdk", [False, True], ids=["local", "real-sdk"])
def test_a_training_run_made_with_child_run_is_found_by_its_step_name(pipeline, real_sdk):
    """`parent.child_run(name="train")` is named "<parent name>>train" by the SDK: the gate
    matches the last segment, as a user who called it "train" expects."""
    run = pipeline.new_run()
    hand_made = run.parent.child_run(name="train")
    assert hand_made.name.endswith(">train")
    hand_made.set_tags({"accuracy": "0.91"})
    result = pipeline.register(run, real_sdk=real_sdk)
    assert result.exit_code == 0, result.stderr
    assert "first as iris:1" in result.stdout
    assert f"step run {hand_made.id} (train)" in read_record(run.parent)["challenger_source"]


def test_a_chained_and_an_exact_training_run_both_tagged_are_a_conflict(pipeline):
    run = pipeline.new_run(step_tags={"accuracy": "0.91"})
    run.parent.child_run(name="train").set_tags({"accuracy": "0.91"})
    before = pipeline.snapshot()
    result = pipeline.register(run)
    assert result.exit_code == 2
    assert "ambiguous" in result.stderr
    assert pipeline.snapshot() == before


def test_a_name_that_only_ends_like_the_step_is_not_the_step(pipeline):
    run = pipeline.new_run(step_name="prep")
    run.parent.child_run(name="pretrain").set_tags({"accuracy": "0.91"})
    result = pipeline.register(run)
    assert result.exit_code == 2
    assert ">pretrain'" in result.stderr  # listed among the names seen, and not read


# ---------------------------------------------------------------------- bad input changes nothing


BAD_VALUES = [
    "nan",
    "NaN",
    "inf",
    "-Infinity",
    "1e309",
    "95%",
    "0,95",
    "",
    "  ",
    "True",
    "0x1p-1",
    "95",
    "-0.01",
    "1e-400",  # underflows to 0.0: stored and compared as a number the tag does not say
    "1.00000000000000000001",  # outside [0, 1], though the float it rounds to is 1.0
]


@pytest.mark.parametrize("value", BAD_VALUES)
def test_bad_challenger_metric_exits_2_and_changes_nothing(pipeline, value):
    seed_champion(pipeline, "0.9")
    run = pipeline.new_run({"accuracy": value})
    before = pipeline.snapshot()

    result = pipeline.register(run)

    assert result.exit_code == 2, result.stdout + result.stderr
    assert "metric_invalid" in result.stderr
    assert repr(value) in result.stderr  # names the value
    assert f"pipeline run {run.parent.id}" in result.stderr  # names the source
    assert pipeline.snapshot() == before


@pytest.mark.parametrize("option", [("--stage", "Production"), ("--champion-alias", "prod")])
def test_mlflow_only_options_are_refused_on_the_local_workspace(pipeline, option):
    seed_champion(pipeline, "0.9")
    run = pipeline.new_run({"accuracy": "0.95"})
    before = pipeline.snapshot()
    result = pipeline.register(run, *option)
    assert result.exit_code == 2, result.stdout + result.stderr
    (line,) = result.stderr.strip().splitlines()
    assert f"{option[0]} apply to an MLflow registry (--backend mlflow)" in line
    assert pipeline.snapshot() == before


def test_missing_metric_exits_2_and_changes_nothing(pipeline):
    run = pipeline.new_run({"best_model": "SVC"})
    before = pipeline.snapshot()
    result = pipeline.register(run)
    assert result.exit_code == 2
    assert pipeline.snapshot() == before


def test_parent_and_step_disagreeing_is_a_conflict(pipeline):
    run = pipeline.new_run({"accuracy": "0.91"}, {"accuracy": "0.95"})
    before = pipeline.snapshot()
    result = pipeline.register(run)
    assert result.exit_code == 2
    assert "ambiguous" in result.stderr and "0.91" in result.stderr and "0.95" in result.stderr
    assert pipeline.snapshot() == before


def test_two_step_runs_of_that_name_both_carrying_the_metric_is_a_conflict(pipeline):
    run = pipeline.new_run(step_tags={"accuracy": "0.91"})
    run.tree.add_step("train", {"accuracy": "0.91"})  # e.g. a retried training step
    before = pipeline.snapshot()
    result = pipeline.register(run)
    assert result.exit_code == 2
    assert "ambiguous" in result.stderr
    assert pipeline.snapshot() == before


def test_champion_without_metric_fails_closed(pipeline, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "old.pkl").write_bytes(b"old model")
    Model.register(pipeline.ws, "old.pkl", "iris")  # no accuracy property
    run = pipeline.new_run({"accuracy": "0.99"})
    before = pipeline.snapshot()

    result = pipeline.register(run)

    assert result.exit_code == 2
    assert "iris:1" in result.stderr and "champion_unscored" in result.stderr
    assert pipeline.snapshot() == before

    allowed = pipeline.register(run, "--allow-unscored-champion")
    assert allowed.exit_code == 0, allowed.stderr
    assert pipeline.versions() == [1, 2]
    record = decision_of(run.parent, tmp_path)
    assert record["policy"]["allow_unscored_champion"] is True


@pytest.mark.parametrize("stored", ["95%", "1e-400", "0.99999999999999999999"])
def test_champion_with_unparsable_metric_fails_closed(pipeline, tmp_path, monkeypatch, stored):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "old.pkl").write_bytes(b"old model")
    Model.register(pipeline.ws, "old.pkl", "iris", properties={"accuracy": stored})
    run = pipeline.new_run({"accuracy": "0.99"})
    before = pipeline.snapshot()
    result = pipeline.register(run, "--allow-unscored-champion")
    assert result.exit_code == 2
    assert "model iris:1 property 'accuracy'" in result.stderr and repr(stored) in result.stderr
    assert pipeline.snapshot() == before


@pytest.mark.parametrize(
    ("flag", "value", "reason"),
    [
        ("--floor", "1e-400", "underflows to 0.0"),
        ("--min-delta", "0.00000000000000000001e-400", "underflows to 0.0"),
        ("--floor", "0.99999999999999999999", "stored and compared as 1.0"),
        ("--min-delta", "0.0_1", "not a plain decimal"),  # float() takes underscores
        ("--min-delta", "nan", "not a plain decimal"),
    ],
)
def test_policy_flags_are_parsed_as_exactly_as_metrics(pipeline, flag, value, reason):
    run = pipeline.new_run({"accuracy": "0.9"})
    before = pipeline.snapshot()
    result = pipeline.register(run, flag, value)
    assert result.exit_code == 2, result.stdout + result.stderr
    (line,) = result.stderr.splitlines()
    assert "policy_invalid" in line and flag in line and repr(value) in line and reason in line
    assert pipeline.snapshot() == before


@pytest.mark.parametrize("name", ["../x", "/abs", "a/b", "a:b", "-lead", "x" * 256, "é", ""])
def test_invalid_model_name_exits_2(pipeline, name):
    run = pipeline.new_run({"accuracy": "0.9"})
    before = pipeline.snapshot()
    result = pipeline.register(run, f"--model-name={name}")
    assert result.exit_code == 2
    assert "model_name" in result.stderr or "model name" in result.stderr
    assert pipeline.snapshot() == before


def test_missing_or_empty_model_path_exits_2(pipeline, tmp_path):
    run = pipeline.new_run({"accuracy": "0.9"})
    empty_dir = tmp_path / "empty"
    empty_dir.mkdir()
    zero = tmp_path / "zero.pkl"
    zero.write_bytes(b"")
    before = pipeline.snapshot()
    for path in (tmp_path / "missing", empty_dir, zero):
        result = pipeline.register(run, model_path=path)
        assert result.exit_code == 2, (path, result.stderr)
        assert str(path) in result.stderr
    assert pipeline.snapshot() == before


def test_no_parent_run_exits_2(pipeline):
    lonely = pipeline.lonely_run()
    lonely.set_tags({"accuracy": "0.9"})
    before = pipeline.snapshot()
    result = pipeline.register(lonely)
    assert result.exit_code == 2
    assert "no parent run" in result.stderr
    assert pipeline.snapshot() == before


def test_a_run_id_naming_no_run_exits_2_with_one_line_naming_it(pipeline):
    run = pipeline.new_run({"accuracy": "0.9"})
    before = pipeline.snapshot()
    result = pipeline.register(run, env={"CHAMPION_RUN_ID": "no-such-run"})
    assert result.exit_code == 2, result.stderr
    (line,) = result.stderr.splitlines()  # no traceback
    assert "CHAMPION_RUN_ID='no-such-run'" in line and "names no run" in line
    assert pipeline.snapshot() == before


@pytest.mark.parametrize("real_sdk", [False, True], ids=["local", "real-sdk"])
def test_outside_any_run_exits_2_with_one_line_saying_what_to_do(pipeline, real_sdk):
    before = pipeline.snapshot()
    result = pipeline.register(None, real_sdk=real_sdk)
    assert result.exit_code == 2, result.stderr
    (line,) = result.stderr.splitlines()  # no traceback
    assert "not running inside a run" in line
    assert "CHAMPION_RUN_ID" in line and "champion register" in line
    assert pipeline.snapshot() == before


# ---------------------------------------------------------------------- retries and folders


def test_retry_of_the_same_parent_run_registers_nothing_new(pipeline, tmp_path):
    run = pipeline.new_run({"accuracy": "0.9"})
    first = pipeline.register(run)
    again = pipeline.register(run)

    assert (first.exit_code, again.exit_code) == (0, 0)
    assert pipeline.versions() == [1]
    assert "already_registered as iris:1" in again.stdout
    # the first verdict stays on the run, in the JSON and in the tags alike
    assert run.parent.get_tags()["champion.outcome"] == "first"
    assert decision_of(run.parent, tmp_path)["outcome"] == "first"
    assert records_on(run.parent) == ["outputs/champion_decision.json"]  # no second record


def records_on(run: Run) -> list[str]:
    """The decision records on the run, oldest first: champion_decision.json, then .2, .3..."""
    files = Run.get(run.experiment.workspace, run.id).get_file_names()
    numbered = [re.fullmatch(r"outputs/champion_decision(?:\.([0-9]+))?\.json", f) for f in files]
    return [m.group(0) for m in sorted(filter(None, numbered), key=lambda m: int(m[1] or 1))]


def champion_tags(run: Run) -> dict[str, str]:
    tags = Run.get(run.experiment.workspace, run.id).get_tags()
    return {k: v for k, v in tags.items() if k.startswith("champion.")}


@pytest.mark.parametrize("real_sdk", [False, True], ids=["local", "real-sdk"])
def test_a_retry_that_decides_differently_gets_a_new_record_and_tags(pipeline, real_sdk):
    """Rejected, then the champion is deleted and the step retried: the retry registers a
    version, and the run's newest record and its tags must say so (a build reads them to
    decide whether to deploy), while the rejection stays on the run as history."""
    seed_champion(pipeline, "0.95")
    run = pipeline.new_run({"accuracy": "0.9"})
    assert pipeline.register(run, real_sdk=real_sdk).exit_code == 0
    again = pipeline.register(run, real_sdk=real_sdk)  # same verdict: no second record
    assert again.exit_code == 0 and "rejected" in again.stdout
    assert records_on(run.parent) == ["outputs/champion_decision.json"]
    Model(pipeline.ws, "iris", version=1).delete()

    retried = pipeline.register(run, real_sdk=real_sdk)

    assert retried.exit_code == 0, retried.stderr
    assert "first as iris:2" in retried.stdout
    assert pipeline.versions() == [2]
    first, second = "outputs/champion_decision.json", "outputs/champion_decision.2.json"
    assert records_on(run.parent) == [first, second]
    newest = read_record(Run.get(pipeline.ws, run.parent.id))
    assert newest is not None
    assert (newest["outcome"], newest["registered_version"]) == ("first", 2)
    assert champion_tags(run.parent) == {
        "champion.outcome": "first",
        "champion.version": "2",
        "champion.record": second,
        "champion.model": "iris",
    }
    old = record_at(run.parent, first)
    assert (old["outcome"], old["registered_version"], old["champion_version"]) == (
        "rejected",
        None,
        1,
    )

    # Retried again: it finds version 2 registered by this run and restates it, no new record.
    restated = pipeline.register(run, real_sdk=real_sdk)
    assert "already_registered as iris:2" in restated.stdout
    assert records_on(run.parent) == [first, second]
    assert champion_tags(run.parent)["champion.record"] == second

    # Version 2 deleted, a better champion registered meanwhile: the next retry is rejected,
    # and the run's version tag, which no longer describes the newest record, is removed.
    Model(pipeline.ws, "iris", version=2).delete()
    seed_champion(pipeline, "0.99")
    rejected = pipeline.register(run, real_sdk=real_sdk)
    assert rejected.exit_code == 0 and "rejected" in rejected.stdout
    third = "outputs/champion_decision.3.json"
    assert records_on(run.parent) == [first, second, third]
    assert champion_tags(run.parent) == {
        "champion.outcome": "rejected",
        "champion.record": third,
        "champion.model": "iris",
    }
    assert read_record(Run.get(pipeline.ws, run.parent.id))["champion_version"] == 3


def record_at(run: Run, name: str) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        target = Path(tmp) / "record.json"
        Run.get(run.experiment.workspace, run.id).download_file(name, str(target))
        return json.loads(target.read_text())


def test_retry_with_different_bytes_is_a_conflict(pipeline):
    run = pipeline.new_run({"accuracy": "0.9"}, model_bytes=b"first")
    seed = pipeline.register(run, "--floor", "0.95")  # rejected, but the artifact is uploaded
    assert seed.exit_code == 0
    (run.model_dir / "model.pkl").write_bytes(b"other bytes")
    result = pipeline.register(run)
    assert result.exit_code == 2
    assert "conflict" in result.stderr and "sha256" in result.stderr
    assert pipeline.versions() == []


def test_folder_model_is_registered_and_downloads_whole(pipeline, tmp_path):
    run = pipeline.new_run({"accuracy": "0.9"})
    (run.model_dir / "conf").mkdir()
    (run.model_dir / "conf" / "labels.json").write_text('["a", "b"]')
    result = pipeline.register(run)
    assert result.exit_code == 0, result.stderr

    target = Model(pipeline.ws, "iris").download(str(tmp_path / "dl"))
    assert Path(target) == tmp_path / "dl" / "iris"
    assert (Path(target) / "model.pkl").read_bytes() == b"model 1"
    assert (Path(target) / "conf" / "labels.json").read_text() == '["a", "b"]'


def test_single_file_model(pipeline, tmp_path):
    run = pipeline.new_run({"accuracy": "0.9"})
    result = pipeline.register(run, model_path=run.model_dir / "model.pkl")
    assert result.exit_code == 0, result.stderr
    target = Model(pipeline.ws, "iris").download(str(tmp_path / "dl"))
    assert Path(target) == tmp_path / "dl" / "iris" / "model.pkl"


def test_devops_variables_are_printed_under_an_agent(pipeline):
    run = pipeline.new_run({"accuracy": "0.9"})
    result = pipeline.register(run, env={"TF_BUILD": "True"})
    assert result.exit_code == 0, result.stderr
    assert "##vso[task.setvariable variable=champion_outcome;isOutput=true]first" in result.stdout
    assert "##vso[task.setvariable variable=champion_version;isOutput=true]1" in result.stdout


@pytest.mark.parametrize("real_sdk", [False, True], ids=["local", "real-sdk"])
def test_the_azure_snapshots_wrapper_script_runs_the_packaged_step(pipeline, real_sdk):
    wrapper = Path(__file__).resolve().parents[2] / "steps" / "register_model.py"
    run = pipeline.new_run({"accuracy": "0.9"})
    result = pipeline.register(run, step=str(wrapper), real_sdk=real_sdk)
    assert result.exit_code == 0, result.output
    assert "first as iris:1" in result.stdout
    assert result.decision is not None and result.decision["registered_version"] == 1
