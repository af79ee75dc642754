"""`champion register`: the same gate for a model trained outside a pipeline, as a process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from champion.local import Model, Run, Workspace


def cli(ws: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CHAMPION_WORKSPACE": str(ws)}
    env.pop("CHAMPION_RUN_ID", None)
    return subprocess.run(
        [sys.executable, "-m", "champion.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ws.parent,
    )


def register(ws: Path, model: Path, value: str, *extra: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CHAMPION_WORKSPACE": str(ws)}
    env.pop("CHAMPION_RUN_ID", None)
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "champion.cli",
            "register",
            "--model-name",
            "iris",
            "--model-path",
            str(model),
            "--metric-value",
            value,
            *extra,
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ws.parent,
    )


@pytest.fixture
def model(tmp_path: Path) -> Path:
    elsewhere = tmp_path / "trained" / "model.pkl"  # outside the CWD: Model.register's rule
    elsewhere.parent.mkdir()
    elsewhere.write_bytes(b"a model trained by hand")
    return elsewhere


def test_first_then_loss_then_win(tmp_path, model):
    ws = tmp_path / "ws"
    created = cli(ws, "init")  # $CHAMPION_WORKSPACE names the folder to create
    assert created.returncode == 0, created.stderr
    assert f"created workspace {ws}" in created.stdout
    first = register(ws, model, "0.9", "--build-number", "7", "--model-type", "SVC")
    assert first.returncode == 0, first.stderr
    assert "first as iris:1" in first.stdout
    assert f"champion: workspace {ws}" in first.stdout  # every write says where it wrote

    loss = register(ws, model, "0.85", "--fail-on-reject")
    assert loss.returncode == 1
    win = register(ws, model, "0.95")
    assert win.returncode == 0, win.stderr

    champion = Model(Workspace(ws), "iris")
    assert champion.version == 2
    assert champion.properties["accuracy"] == "0.95"
    assert champion.properties["champion.previous_version"] == "1"
    assert Model(Workspace(ws), "iris", version=1).properties["build_number"] == "7"
    assert champion.run_id is None  # workspace-level registration: no run to link


@pytest.mark.parametrize(
    "value", ["95%", "nan", "1.5", "", "1e-400", "1.00000000000000000001", "4.9e-324"]
)
def test_bad_metric_value_exits_2_and_changes_nothing(pipeline, model, value):
    ws = pipeline.ws_path
    assert register(ws, model, "0.9").returncode == 0
    before = pipeline.snapshot()
    result = register(ws, model, value)
    assert result.returncode == 2
    assert "--metric-value" in result.stderr and repr(value) in result.stderr
    assert pipeline.snapshot() == before


def test_a_policy_flag_a_float_would_change_exits_2_and_changes_nothing(pipeline, model):
    ws = pipeline.ws_path
    assert register(ws, model, "0.9").returncode == 0
    before = pipeline.snapshot()
    result = register(ws, model, "0.95", "--min-delta", "1e-400")
    assert result.returncode == 2
    assert "--min-delta" in result.stderr and "'1e-400' underflows to 0.0" in result.stderr
    assert pipeline.snapshot() == before


@pytest.mark.parametrize("spelling", ["loss:LOWER", "loss:Lower", "loss:low"])
def test_a_direction_not_spelt_exactly_is_refused_not_read_as_a_name(pipeline, model, spelling):
    # It was read as a metric named "loss:LOWER", higher is better: a loss 3x worse won.
    ws = pipeline.ws_path
    first = register(ws, model, "loss=0.1", "--metric", "loss:lower", "--metric-value", "x=1")
    assert first.returncode == 2  # (x is no metric of the policy: nothing registered)
    assert register(ws, model, "loss=0.1", "--metric", "loss:lower").returncode == 0
    before = pipeline.snapshot()
    worse = register(ws, model, f"{spelling}=0.3", "--metric", spelling)
    assert worse.returncode == 2
    assert f"--metric '{spelling}'" in worse.stderr and "is not a direction" in worse.stderr
    assert worse.stderr.count("\n") == 1
    assert pipeline.snapshot() == before


@pytest.mark.parametrize("nest", ["a = " + "[" * 5_000 + "]" * 5_000, "a" + ".a" * 50_000 + " = 1"])
def test_a_policy_file_nested_too_deeply_is_the_user_s_mistake(pipeline, model, tmp_path, nest):
    # tomllib recursed to a RecursionError: "internal error ... a bug in champion", exit 1.
    policy = tmp_path / "deep.toml"
    policy.write_text(nest + "\n")
    before = pipeline.snapshot()
    result = register(pipeline.ws_path, model, "0.9", "--policy", str(policy))
    assert result.returncode == 2, result.stderr
    assert "deep.toml" in result.stderr and result.stderr.count("\n") == 1
    assert "internal error" not in result.stderr and "Traceback" not in result.stderr
    assert pipeline.snapshot() == before


@pytest.mark.parametrize("kind", ["fifo", "/dev/zero"])
def test_a_policy_that_is_not_a_regular_file_is_refused_unread(pipeline, model, tmp_path, kind):
    policy = tmp_path / "policy.toml"
    if kind == "fifo":
        os.mkfifo(policy)  # no writer: opening it to read would wait forever
    else:
        policy.symlink_to(kind)  # reading it would never end
    result = register(pipeline.ws_path, model, "0.9", "--policy", str(policy))  # timeout=120
    assert result.returncode == 2, result.stderr
    assert "not a regular file" in result.stderr and result.stderr.count("\n") == 1


def test_missing_model_path_exits_2(tmp_path, make_workspace):
    ws = make_workspace().path
    result = register(ws, tmp_path / "missing.pkl", "0.9")
    assert result.returncode == 2
    assert "missing.pkl" in result.stderr


def test_several_metrics_a_dry_run_and_the_test_data_rule_outside_a_pipeline(
    pipeline, model, tmp_path
):
    ws = pipeline.ws_path
    two = ("--metric", "accuracy", "--metric", "latency_ms:lower")
    test = tmp_path / "test.csv"
    test.write_text("x,label\n1,a\n")
    first = register(
        ws, model, "accuracy=0.9", "--metric-value", "latency_ms=120", *two,
        "--test-data", str(test),
    )  # fmt: skip
    assert first.returncode == 0, first.stderr
    stored = Model(Workspace(ws), "iris").properties
    assert (stored["accuracy"], stored["latency_ms"]) == ("0.9", "120.0")
    assert stored["champion.test_data"] == "test.csv"

    before = pipeline.snapshot()
    dry = register(
        ws, model, "accuracy=0.95", "--metric-value", "latency_ms=100", *two,
        "--test-data", str(test), "--dry-run", "--json",
    )  # fmt: skip
    assert dry.returncode == 0, dry.stderr
    said = json.loads(dry.stdout)
    assert said["outcome"] == "would_promote"
    after = pipeline.snapshot()
    registry = ("models", "model_kv", "model_datasets", "assets")
    assert {t: after["rows"][t] for t in registry} == {t: before["rows"][t] for t in registry}
    # the one thing written: the record, on the dry run's own run, for the model's history
    run = Run.get(Workspace(ws), said["parent_run_id"])
    assert run.experiment.name == "champion-register"
    assert run.get_file_names() == ["outputs/champion_decision.json"]
    assert run.get_tags()["champion.dry_run"] == "true"
    before = pipeline.snapshot()

    other = tmp_path / "other.csv"
    other.write_text("x,label\n2,b\n")
    refused = register(
        ws, model, "accuracy=0.95", "--metric-value", "latency_ms=100", *two,
        "--test-data", str(other),
    )  # fmt: skip
    assert refused.returncode == 2
    assert "champion iris:1 was scored on test data test.csv" in refused.stderr
    assert pipeline.snapshot() == before


@pytest.mark.parametrize(
    ("values", "says"),
    [
        (("0.9",), "is one value, but the policy compares accuracy, latency_ms"),
        (("accuracy=0.9",), "no --metric-value for 'latency_ms'"),
        (("accuracy=0.9", "--metric-value", "f1=0.3"), "names f1, which the policy"),
        (("accuracy=0.9", "--metric-value", "0.3"), "give each as NAME=VALUE"),
    ],
)
def test_metric_values_must_match_the_metrics(pipeline, model, values, says):
    result = register(
        pipeline.ws_path, model, *values, "--metric", "accuracy", "--metric", "latency_ms:lower"
    )
    assert result.returncode == 2
    assert says in result.stderr
