"""The issue-14 scenarios, end to end: `python -m champion.steps.register` as a real process in a
pipeline run on a local workspace (through the `champion.testing` kit), and `champion models
rollback` as a real CLI process. Several metrics, relative margins, the test-data rule (refused,
allowed, re-scored), dry runs and rollback."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import joblib
import pandas as pd
import pytest
from sklearn.dummy import DummyClassifier
from sklearn.tree import DecisionTreeClassifier

from champion.local import Model
from champion.testdata import files_digest
from champion.testing import workspace_state

# The tables that are the model registry; runs, artifacts and metrics are the run side.
REGISTRY_TABLES = ("models", "model_kv", "model_datasets", "assets")
OLD_DATA = "1" * 64  # the digest of data the champion was scored on long ago


def registry_state(pipeline) -> dict[str, Any]:
    state = workspace_state(pipeline.ws_path)
    return {table: state["rows"][table] for table in REGISTRY_TABLES}


def record_of(result) -> dict[str, Any]:
    assert result.decision is not None, result.output
    return result.decision


def cli(pipeline, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CHAMPION_WORKSPACE": str(pipeline.ws_path)}
    env.pop("CHAMPION_RUN_ID", None)
    return subprocess.run(
        [sys.executable, "-m", "champion.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=pipeline.root,
    )


# ---------------------------------------------------------------------- several metrics

TWO_METRICS = ("--metric", "accuracy", "--metric", "f1_macro,min_relative=0.01")


def test_two_metrics_where_one_fails_is_rejected_and_the_record_names_it(pipeline):
    first = pipeline.register(
        pipeline.new_run({"accuracy": "0.9", "f1_macro": "0.8"}), *TWO_METRICS
    )
    assert first.exit_code == 0, first.output
    champion = Model(pipeline.ws, "iris")
    assert (champion.properties["accuracy"], champion.properties["f1_macro"]) == ("0.9", "0.8")

    run = pipeline.new_run({"accuracy": "0.95", "f1_macro": "0.805"})  # f1 +0.6%: not 1%
    result = pipeline.register(run, *TWO_METRICS)

    assert result.exit_code == 0, result.output
    assert pipeline.versions() == [1]
    record = record_of(result)
    assert record["outcome"] == "rejected"
    assert record["decided_by"] == "f1_macro"
    assert [(m["metric"], m["passed"]) for m in record["metrics"]] == [
        ("accuracy", True),
        ("f1_macro", False),
    ]
    assert record["metrics"][1]["comparison"] == ("0.805 > 0.8 + 0.0 and 0.805 >= 0.8 * (1 + 0.01)")
    assert [m["metric"] for m in record["policy"]["metrics"]] == ["accuracy", "f1_macro"]
    assert "decided by f1_macro" in result.stdout


def test_both_metrics_passing_promotes_and_stores_both(pipeline):
    pipeline.register(pipeline.new_run({"accuracy": "0.9", "f1_macro": "0.8"}), *TWO_METRICS)
    result = pipeline.register(
        pipeline.new_run({"accuracy": "0.95", "f1_macro": "0.81"}), *TWO_METRICS
    )
    assert result.exit_code == 0, result.output
    assert record_of(result)["outcome"] == "promoted"
    champion = Model(pipeline.ws, "iris")
    assert (champion.properties["accuracy"], champion.properties["f1_macro"]) == ("0.95", "0.81")


def test_a_policy_file_gives_the_same_policy(pipeline, tmp_path):
    policy = tmp_path / "policy.toml"
    policy.write_text(
        '[[metric]]\nname = "accuracy"\n\n[[metric]]\nname = "f1_macro"\nmin_relative = 0.01\n'
    )
    pipeline.register(pipeline.new_run({"accuracy": "0.9", "f1_macro": "0.8"}), *TWO_METRICS)
    result = pipeline.register(
        pipeline.new_run({"accuracy": "0.95", "f1_macro": "0.805"}), "--policy", str(policy)
    )
    assert result.exit_code == 0, result.output
    assert record_of(result)["decided_by"] == "f1_macro"


@pytest.mark.parametrize(
    ("extra", "says"),
    [
        (("--metric", "accuracy,min_detla=0.1"), "'min_detla=0.1' is not a setting"),
        (("--metric", "accuracy", "--metric", "f1", "--floor", "0.5"), "apply to one metric"),
        (("--policy", "missing.toml"), "--policy missing.toml: cannot read it"),
        (("--test-data", "t.csv"), "pass --rescore-champion too"),
        (("--rescore-champion",), "--rescore-champion needs --test-data"),
        (("--rescore-champion", "--test-data", "dataset:x:0"), "dataset:NAME[:VERSION]"),
    ],
)
def test_a_bad_policy_option_exits_2_and_changes_nothing(pipeline, extra, says):
    run = pipeline.new_run({"accuracy": "0.9"})
    before = pipeline.snapshot()
    result = pipeline.register(run, *extra)
    assert result.exit_code == 2, result.output
    assert says in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert pipeline.snapshot() == before


def test_a_second_metric_the_champion_lacks_fails_closed(pipeline):
    pipeline.register(pipeline.new_run({"accuracy": "0.9"}))
    before = pipeline.snapshot()
    result = pipeline.register(
        pipeline.new_run({"accuracy": "0.95", "f1_macro": "0.9"}, model_bytes=b"m"),
        *TWO_METRICS,
    )
    assert result.exit_code == 2, result.output
    assert "has no 'f1_macro' property" in result.stderr
    assert registry_state(pipeline) == {t: before["rows"][t] for t in REGISTRY_TABLES}


# ---------------------------------------------------------------------- relative margins


@pytest.mark.parametrize(
    ("challenger", "versions"),
    [("0.909", [1, 2]), ("0.90899", [1]), ("0.90901", [1, 2])],
    ids=["at-the-threshold", "just-below", "just-above"],
)
def test_relative_margin_at_just_below_and_just_above_the_threshold(pipeline, challenger, versions):
    """0.9 * (1 + 0.01) is 0.909 exactly (0.9090000000000001 in floats): 0.909 passes."""
    seeded = pipeline.register(pipeline.new_run({"accuracy": "0.9"}))
    assert seeded.exit_code == 0, seeded.output
    result = pipeline.register(
        pipeline.new_run({"accuracy": challenger}), "--metric", "accuracy,min_relative=0.01"
    )
    assert result.exit_code == 0, result.output
    assert pipeline.versions() == versions
    record = record_of(result)
    assert record["metrics"][0]["comparison"].endswith(f"{challenger} >= 0.9 * (1 + 0.01)")
    assert record["policy"]["min_relative"] == "0.01"


# ---------------------------------------------------------------------- the test-data rule


@pytest.fixture
def models(tmp_path: Path) -> dict[str, Path]:
    """Two real models and the test data: on it, the champion (always 'a') scores 0.5 and the
    challenger (a tree fit on it) 1.0, whatever their stored tags say."""
    test = tmp_path / "test_data" / "test.csv"
    test.parent.mkdir()
    frame = pd.DataFrame(
        {"x1": range(20), "x2": [n % 3 for n in range(20)], "label": ["a", "b"] * 10}
    )
    frame.to_csv(test, index=False)
    X, y = frame[["x1", "x2"]], frame["label"]
    paths = {"test": test}
    for name, model in (
        ("champion", DummyClassifier(strategy="constant", constant="a")),
        ("challenger", DecisionTreeClassifier(random_state=0)),
    ):
        folder = tmp_path / f"{name}_model"
        folder.mkdir()
        joblib.dump(model.fit(X, y), folder / "model.pkl")
        paths[name] = folder
    return paths


def seed_old_champion(pipeline, models) -> None:
    """v1 reports 0.99, measured long ago on other data."""
    run = pipeline.new_run({"accuracy": "0.99", "champion.test_data_sha256": OLD_DATA})
    result = pipeline.register(run, model_path=models["champion"])
    assert result.exit_code == 0, result.output
    assert Model(pipeline.ws, "iris").properties["champion.test_data_sha256"] == OLD_DATA


def test_different_test_data_refused_then_allowed_then_decided_on_rescored_numbers(
    pipeline, models
):
    seed_old_champion(pipeline, models)
    digest = files_digest(models["test"])
    tags = {"accuracy": "0.9", "champion.test_data_sha256": digest, "champion.test_data": "t"}

    # 1. refused: the numbers were measured on different data; nothing changes
    refused_run = pipeline.new_run(tags)
    before = pipeline.snapshot()
    refused = pipeline.register(refused_run, model_path=models["challenger"])
    assert refused.exit_code == 2, refused.output
    (line,) = refused.stderr.strip().splitlines()
    assert "champion iris:1 was scored on test data sha256 111111111111..." in line
    assert "the challenger on t (sha256 " in line
    assert "re-score the champion" in line and "--allow-different-test-data" in line
    assert pipeline.snapshot() == before

    # 2. accepted with the flag, and the choice recorded: 0.9 loses to the stored 0.99
    allowed = pipeline.register(
        pipeline.new_run(tags), "--allow-different-test-data", model_path=models["challenger"]
    )
    assert allowed.exit_code == 0, allowed.output
    record = record_of(allowed)
    assert record["outcome"] == "rejected"
    assert record["test_data"]["same"] is False
    assert record["test_data"]["allowed_different"] is True
    assert record["test_data"]["champion"] == {"sha256": OLD_DATA, "reference": None}
    assert record["policy"]["allow_different_test_data"] is True
    assert pipeline.versions() == [1]

    # 3. re-scored on the same data: the champion's stored 0.99 is 0.5 there; the result flips
    run = pipeline.new_run(tags)
    rescored = pipeline.register(
        run,
        "--rescore-champion",
        "--test-data",
        str(models["test"]),
        model_path=models["challenger"],
    )
    assert rescored.exit_code == 0, rescored.output
    record = record_of(rescored)
    assert record["outcome"] == "promoted"
    assert (record["challenger"], record["champion"]) == ("1.0", "0.5")
    assert record["rescored"]["metrics"]["accuracy"] == {
        "challenger": {"stored": "0.9", "rescored": "1.0"},
        "champion": {"stored": "0.99", "rescored": "0.5"},
    }
    assert record["rescored"]["test_data"] == {"sha256": digest, "reference": "test.csv"}
    assert "(re-scored)" in rescored.stdout
    new = Model(pipeline.ws, "iris")
    assert new.version == 2
    # the version keeps the numbers it won with, and the data they were measured on
    assert new.properties["accuracy"] == "1.0"
    assert new.properties["champion.test_data_sha256"] == digest
    assert new.properties["champion.previous_metric"] == "0.5"


def test_same_test_data_is_compared_as_before_and_recorded(pipeline):
    tags = {"accuracy": "0.9", "champion.test_data_sha256": "2" * 64}
    pipeline.register(pipeline.new_run(tags))
    result = pipeline.register(pipeline.new_run({**tags, "accuracy": "0.95"}))
    assert result.exit_code == 0, result.output
    assert record_of(result)["test_data"]["same"] is True
    assert pipeline.versions() == [1, 2]


def test_a_champion_without_test_data_is_compared_and_the_record_says_it_could_not_tell(
    pipeline,
):
    pipeline.register(pipeline.new_run({"accuracy": "0.9"}))
    result = pipeline.register(
        pipeline.new_run({"accuracy": "0.95", "champion.test_data_sha256": "3" * 64})
    )
    assert result.exit_code == 0, result.output
    test_data = record_of(result)["test_data"]
    assert test_data["same"] is None
    assert test_data["note"].startswith("not compared: the champion records")


def test_test_data_on_the_training_step_is_read_like_the_metric(pipeline):
    pipeline.register(pipeline.new_run({"accuracy": "0.9", "champion.test_data": "ds:1"}))
    result = pipeline.register(
        pipeline.new_run(step_tags={"accuracy": "0.95", "champion.test_data": "ds:2"})
    )
    assert result.exit_code == 2, result.output
    assert "was scored on test data ds:1, the challenger on ds:2" in result.stderr


def test_a_malformed_test_data_digest_is_refused(pipeline):
    result = pipeline.register(
        pipeline.new_run({"accuracy": "0.9", "champion.test_data_sha256": "abc"})
    )
    assert result.exit_code == 2
    assert "'abc', not a sha256" in result.stderr
    assert pipeline.versions() == []


def test_rescoring_a_metric_scikit_learn_cannot_score_is_refused_before_anything(pipeline, models):
    pipeline.register(pipeline.new_run({"latency_ms": "20"}), "--metric", "latency_ms:lower")
    run = pipeline.new_run({"latency_ms": "10"})
    before = pipeline.snapshot()
    result = pipeline.register(
        run,
        "--metric",
        "latency_ms:lower",
        "--rescore-champion",
        "--test-data",
        str(models["test"]),
    )
    assert result.exit_code == 2, result.output
    assert "'latency_ms' is not a scorer name" in result.stderr
    assert pipeline.snapshot() == before


def test_rescoring_through_the_real_sdk(pipeline, models):
    """The champion's verified download and the scoring, with azureml.core doing the calls."""
    seed_old_champion(pipeline, models)
    tags = {"accuracy": "0.9", "champion.test_data_sha256": files_digest(models["test"])}
    result = pipeline.register(
        pipeline.new_run(tags),
        "--rescore-champion",
        "--test-data",
        str(models["test"]),
        model_path=models["challenger"],
        real_sdk=True,
    )
    assert result.exit_code == 0, result.output
    record = record_of(result)
    assert (record["outcome"], record["champion"]) == ("promoted", "0.5")


# ---------------------------------------------------------------------- dry runs


def test_a_dry_run_leaves_the_registry_byte_for_byte_unchanged(pipeline):
    pipeline.register(pipeline.new_run({"accuracy": "0.9"}))
    before = registry_state(pipeline)
    stored = workspace_state(pipeline.ws_path)

    run = pipeline.new_run({"accuracy": "0.95"})
    result = pipeline.register(run, "--dry-run", env={"TF_BUILD": "True"})

    assert result.exit_code == 0, result.output
    assert registry_state(pipeline) == before
    assert pipeline.versions() == [1]
    record = record_of(result)
    assert (record["outcome"], record["dry_run"], record["promote"]) == (
        "would_promote",
        True,
        False,
    )
    assert record["registered_version"] is None and record["artifact_path"] is None
    tags = run.parent.get_tags()
    assert tags["champion.outcome"] == "would_promote"
    assert tags["champion.dry_run"] == "true"
    assert "champion.version" not in tags
    # nothing but the record was stored (its few KiB in the workspace's database, beside its
    # artifact row): the model itself was not even uploaded
    assert run.parent.get_file_names() == ["outputs/champion_decision.json"]
    after = workspace_state(pipeline.ws_path)
    assert after["blobs"] == stored["blobs"]
    assert len(after["rows"]["inline_blobs"]) == len(stored["rows"]["inline_blobs"]) + 1
    assert "##vso[task.setvariable variable=champion_outcome;isOutput=true]would_promote" in (
        result.stdout
    )
    assert "##vso[task.setvariable variable=champion_dry_run;isOutput=true]true" in result.stdout


def test_a_dry_run_reject_never_fails_the_build(pipeline):
    pipeline.register(pipeline.new_run({"accuracy": "0.9"}))
    run = pipeline.new_run({"accuracy": "0.8"})
    result = pipeline.register(run, "--dry-run", "--fail-on-reject")
    assert result.exit_code == 0, result.output
    assert record_of(result)["outcome"] == "would_reject"
    assert "would_reject: accuracy 0.8" in result.stdout


def test_a_real_run_after_a_dry_run_retags_the_run(pipeline):
    run = pipeline.new_run({"accuracy": "0.9"})
    assert pipeline.register(run, "--dry-run").exit_code == 0
    real = pipeline.register(run)
    assert real.exit_code == 0, real.output
    tags = run.parent.get_tags()
    assert (tags["champion.outcome"], tags["champion.version"]) == ("first", "1")
    assert "champion.dry_run" not in tags
    assert tags["champion.record"] == "outputs/champion_decision.2.json"


# ---------------------------------------------------------------------- rollback


def test_rollback_to_v1_then_a_new_challenger_is_compared_with_v1(pipeline):
    assert pipeline.register(pipeline.new_run({"accuracy": "0.9"})).exit_code == 0
    assert pipeline.register(pipeline.new_run({"accuracy": "0.95"})).exit_code == 0

    rolled = cli(pipeline, "models", "rollback", "iris", "--to", "1", "--reason", "v2 drifts")
    assert rolled.returncode == 0, rolled.stderr
    assert "rolled_back as iris:3" in rolled.stdout
    v1, v3 = Model(pipeline.ws, "iris", version=1), Model(pipeline.ws, "iris")
    assert v3.version == 3
    assert v3.properties["accuracy"] == "0.9"
    assert v3.properties["champion.outcome"] == "rolled_back"
    assert v3.properties["champion.rollback_of"] == "1"
    assert v3.properties["champion.previous_version"] == "2"
    assert v3.properties["artifact_sha256"] == v1.properties["artifact_sha256"]
    assert "v2 drifts" in v3.properties["champion.reason"]

    # 0.92 would lose to v2's 0.95; against the rolled-back champion (v1's 0.9) it wins
    result = pipeline.register(pipeline.new_run({"accuracy": "0.92"}))
    assert result.exit_code == 0, result.output
    record = record_of(result)
    assert (record["outcome"], record["champion"], record["champion_version"]) == (
        "promoted",
        "0.9",
        3,
    )

    history = json.loads(cli(pipeline, "models", "history", "iris", "--json").stdout)
    assert [(v["version"], v["outcome"]) for v in history] == [
        (1, "first"),
        (2, "promoted"),
        (3, "rolled_back"),
        (4, "promoted"),
    ]


def test_a_rollback_leaves_a_decision_record_and_the_same_files(pipeline, tmp_path):
    pipeline.register(pipeline.new_run({"accuracy": "0.9"}, model_bytes=b"the first model"))
    pipeline.register(pipeline.new_run({"accuracy": "0.95"}, model_bytes=b"the second"))
    rolled = cli(pipeline, "models", "rollback", "iris", "--reason", "undo", "--json")
    assert rolled.returncode == 0, rolled.stderr
    record = json.loads(rolled.stdout)
    assert (record["outcome"], record["rollback_of"], record["registered_version"]) == (
        "rolled_back",
        1,
        3,
    )
    assert (record["challenger"], record["champion"], record["champion_version"]) == (
        "0.9",
        "0.95",
        2,
    )
    from champion.local import Run

    run = Run.get(pipeline.ws, record["parent_run_id"])
    assert run.get_tags()["champion.outcome"] == "rolled_back"
    assert run.get_status() == "Completed"
    target = tmp_path / "download"
    got = cli(pipeline, "models", "download", "iris", "--target", str(target), "--json")
    assert got.returncode == 0, got.stderr
    assert json.loads(got.stdout)["verified"] is True
    assert (target / "iris" / "model.pkl").read_bytes() == b"the first model"


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (("--to", "7", "--reason", "x"), "there is no version 7 of 'iris' (versions: 1, 2)"),
        (("--to", "2", "--reason", "x"), "iris:2 already is the champion"),
        (("--to", "1", "--reason", " "), "--reason is empty"),
        (("--to", "1", "--reason", "x", "--metric", "f1"), "iris:1 has no 'f1' property"),
    ],
)
def test_a_rollback_that_cannot_be_done_exits_2_and_changes_nothing(pipeline, args, says):
    pipeline.register(pipeline.new_run({"accuracy": "0.9"}))
    pipeline.register(pipeline.new_run({"accuracy": "0.95"}))
    before = pipeline.snapshot()
    result = cli(pipeline, "models", "rollback", "iris", *args)
    assert result.returncode == 2, result.stderr
    assert says in result.stderr
    assert pipeline.snapshot() == before


def test_a_rollback_to_what_the_champion_already_is_is_refused_each_time(pipeline):
    """Rolling back to v1 while the champion was v1's rollback copy succeeded again and
    again, each time adding an identical version."""
    pipeline.register(pipeline.new_run({"accuracy": "0.9"}))
    pipeline.register(pipeline.new_run({"accuracy": "0.95"}))
    first = cli(pipeline, "models", "rollback", "iris", "--to", "1", "--reason", "v2 drifts")
    assert first.returncode == 0, first.stderr
    before = pipeline.snapshot()
    for to, says in (("1", "iris:1 already is the champion: iris:3 is iris:1 rolled back"),
                     ("3", "iris:3 already is the champion")):  # fmt: skip
        again = cli(pipeline, "models", "rollback", "iris", "--to", to, "--reason", "again")
        assert again.returncode == 2, again.stderr
        assert says in again.stderr
    assert pipeline.snapshot() == before
    back = cli(pipeline, "models", "rollback", "iris", "--to", "2", "--reason", "v2 after all")
    assert back.returncode == 0, back.stderr  # a different version is still a rollback


def test_a_version_without_its_metric_cannot_be_rolled_back_to(pipeline, tmp_path, monkeypatch):
    (tmp_path / "unscored.pkl").write_bytes(b"m")
    monkeypatch.chdir(tmp_path)  # Model.register takes paths under the working folder only
    Model.register(pipeline.ws, model_path="unscored.pkl", model_name="iris")  # no properties
    pipeline.register(pipeline.new_run({"accuracy": "0.9"}), "--allow-unscored-champion")
    before = pipeline.snapshot()
    result = cli(pipeline, "models", "rollback", "iris", "--to", "1", "--reason", "x")
    assert result.returncode == 2
    assert "iris:1 has no 'accuracy' property" in result.stderr
    assert pipeline.snapshot() == before


def test_rescoring_on_a_registered_dataset_is_the_same_data_as_its_file(pipeline, models):
    """`--test-data dataset:NAME` reads a registered tabular dataset; its content digest is
    the file's, so the version registered stores the identity a later challenger tagged with
    `files_digest(test.csv)` is compared with as the same data."""
    from champion.local import Dataset

    datastore = pipeline.ws.get_default_datastore()
    datastore.upload_files(
        [str(models["test"])], relative_root=str(models["test"].parent), overwrite=True
    )
    Dataset.Tabular.from_delimited_files((datastore, "test.csv")).register(pipeline.ws, "holdout")
    seed_old_champion(pipeline, models)
    digest = files_digest(models["test"])
    result = pipeline.register(
        pipeline.new_run({"accuracy": "0.9", "champion.test_data_sha256": digest}),
        "--rescore-champion",
        "--test-data",
        "dataset:holdout",
        model_path=models["challenger"],
    )
    assert result.exit_code == 0, result.output
    assert record_of(result)["rescored"]["test_data"] == {
        "sha256": digest,
        "reference": "dataset:holdout:1",
    }
    stored = Model(pipeline.ws, "iris").properties
    assert stored["champion.test_data_sha256"] == digest
    assert stored["champion.test_data"] == "dataset:holdout:1"
    same = pipeline.register(
        pipeline.new_run({"accuracy": "1.0", "champion.test_data_sha256": digest})
    )
    assert same.exit_code == 0, same.output
    assert record_of(same)["test_data"]["same"] is True


def test_the_rescore_flag_warns_that_loading_a_pickle_runs_code():
    from champion.cli import build_parser

    warning = "loading a pickle runs code"
    step = subprocess.run(
        [sys.executable, "-m", "champion.steps.register", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert warning in " ".join(step.stdout.split())
    register = build_parser()._subparsers._group_actions[0].choices["register"]  # type: ignore[union-attr]
    assert warning in " ".join(register.format_help().split())
    policies = Path(__file__).resolve().parents[2] / "docs" / "how-to" / "policies.md"
    assert "**Loading a pickle runs code.**" in policies.read_text()


def test_a_dry_run_and_the_test_data_rule_through_the_real_sdk(pipeline):
    tags = {"accuracy": "0.9", "champion.test_data_sha256": "4" * 64}
    assert pipeline.register(pipeline.new_run(tags), real_sdk=True).exit_code == 0
    before = registry_state(pipeline)
    other = {"accuracy": "0.95", "champion.test_data_sha256": "5" * 64}
    refused = pipeline.register(pipeline.new_run(other), real_sdk=True)
    assert refused.exit_code == 2, refused.output
    assert "was scored on test data sha256 444444444444..." in refused.stderr
    dry = pipeline.register(
        pipeline.new_run(other), "--dry-run", "--allow-different-test-data", real_sdk=True
    )
    assert dry.exit_code == 0, dry.output
    assert record_of(dry)["outcome"] == "would_promote"
    assert registry_state(pipeline) == before
