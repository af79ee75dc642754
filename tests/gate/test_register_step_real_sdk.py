"""The same register step, run against the REAL azureml.core classes under mock_azureml().

This is the Azure path minus the network: the SDK's own Run/Model code builds the REST calls,
and the local workspace answers them, so what passes here is what the step does in Azure ML.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from champion.local import Model


def test_first_win_and_loss_through_the_real_sdk(pipeline, tmp_path):
    first_run = pipeline.new_run({"accuracy": "0.9", "best_model": "SVC"})
    first = pipeline.register(first_run, "--build-number", "41", real_sdk=True)
    assert first.exit_code == 0, first.stderr
    assert "first as iris:1" in first.stdout

    win_run = pipeline.new_run({"accuracy": "0.95"})
    win = pipeline.register(win_run, "--build-number", "42", real_sdk=True)
    assert win.exit_code == 0, win.stderr
    assert "promoted as iris:2" in win.stdout

    loss = pipeline.register(pipeline.new_run({"accuracy": "0.93"}), real_sdk=True)
    assert loss.exit_code == 0, loss.stderr
    assert "rejected" in loss.stdout

    assert pipeline.versions() == [1, 2]
    champion = Model(pipeline.ws, "iris")
    assert champion.run_id == win_run.parent.id
    assert champion.properties["accuracy"] == "0.95"
    assert champion.properties["build_number"] == "42"
    assert "model_type" not in champion.properties  # the winning run had no model_type tag
    assert Model(pipeline.ws, "iris", version=1).properties["model_type"] == "SVC"
    target = tmp_path / "decision.json"
    win_run.parent.download_file("outputs/champion_decision.json", str(target))
    record = json.loads(target.read_text())
    assert (record["outcome"], record["registered_version"]) == ("promoted", 2)


def test_bad_metric_through_the_real_sdk_changes_nothing(pipeline):
    run = pipeline.new_run({"accuracy": "nan"})
    before = pipeline.snapshot()
    result = pipeline.register(run, real_sdk=True)
    assert result.exit_code == 2
    assert "'nan'" in result.stderr
    assert pipeline.snapshot() == before


def test_retry_through_the_real_sdk_registers_once(pipeline):
    run = pipeline.new_run({"accuracy": "0.9"})
    assert pipeline.register(run, real_sdk=True).exit_code == 0
    again = pipeline.register(run, real_sdk=True)
    assert again.exit_code == 0, again.stderr
    assert "already_registered as iris:1" in again.stdout
    assert pipeline.versions() == [1]


def test_models_registered_by_either_face_are_one_registry(pipeline, tmp_path: Path):
    assert pipeline.register(pipeline.new_run({"accuracy": "0.9"})).exit_code == 0
    real = pipeline.register(pipeline.new_run({"accuracy": "0.91"}), real_sdk=True)
    assert real.exit_code == 0, real.stderr
    local = pipeline.register(pipeline.new_run({"accuracy": "0.92"}))
    assert local.exit_code == 0, local.stderr
    assert pipeline.versions() == [1, 2, 3]


FAST_RETRIES = {"CHAMPION_RETRY_BASE_SECONDS": "0.001"}


@pytest.mark.parametrize(("status", "times"), [(500, 5), (503, 5), (429, 5), (401, 1), (403, 1)])
def test_a_lookup_failure_that_is_not_model_not_found_registers_nothing(pipeline, status, times):
    """The failure the public versions of this step read as "no champion": here it exits 3,
    after retrying the transient ones (5xx, 429) until they are exhausted."""
    seed = pipeline.register(pipeline.new_run({"accuracy": "0.9"}), real_sdk=True)
    assert seed.exit_code == 0, seed.stderr
    run = pipeline.new_run({"accuracy": "0.99"})
    before = pipeline.snapshot()

    result = pipeline.register(
        run,
        real_sdk=True,
        env={"CHAMPION_MOCK_FAULTS": f"models.query={status}x{times}", **FAST_RETRIES},
    )

    assert result.exit_code == 3, result.stdout + result.stderr
    assert f"HTTP {status}" in result.stderr
    if times > 1:
        assert "failed after 5 attempts" in result.stderr
    assert pipeline.versions() == [1]
    assert pipeline.snapshot() == before


def test_transient_failures_are_retried_and_the_step_succeeds(pipeline):
    run = pipeline.new_run({"accuracy": "0.99"})
    faults = "models.query=503x2,artifacts.upload=500,models.register=429,runs.patch=502"
    result = pipeline.register(
        run, real_sdk=True, env={"CHAMPION_MOCK_FAULTS": faults, **FAST_RETRIES}
    )
    assert result.exit_code == 0, result.stderr
    assert "first as iris:1" in result.stdout
    assert pipeline.versions() == [1]


def test_a_lookup_failure_with_no_champion_yet_registers_nothing(pipeline):
    run = pipeline.new_run({"accuracy": "0.99"})
    before = pipeline.snapshot()
    result = pipeline.register(
        run, real_sdk=True, env={"CHAMPION_MOCK_FAULTS": "models.query=503x5", **FAST_RETRIES}
    )
    assert result.exit_code == 3
    assert pipeline.versions() == []
    assert pipeline.snapshot() == before


def test_a_failed_registration_call_exits_3_and_leaves_no_version(pipeline):
    run = pipeline.new_run({"accuracy": "0.99"})
    result = pipeline.register(
        run, real_sdk=True, env={"CHAMPION_MOCK_FAULTS": "models.register=400"}
    )
    assert result.exit_code == 3
    assert "registering iris failed" in result.stderr
    assert pipeline.versions() == []


def test_a_registration_committed_before_a_timeout_is_found_not_repeated(pipeline, tmp_path):
    """The service registered the version, the client timed out: the retry must find that
    version by the pipeline run's id instead of registering a second one."""
    seed = pipeline.register(pipeline.new_run({"accuracy": "0.9"}), real_sdk=True)
    assert seed.exit_code == 0, seed.stderr
    run = pipeline.new_run({"accuracy": "0.95"})
    result = pipeline.register(
        run,
        real_sdk=True,
        env={"CHAMPION_MOCK_FAULTS": "models.register=timeout-after-commit", **FAST_RETRIES},
    )
    assert result.exit_code == 0, result.stderr
    assert "promoted as iris:2" in result.stdout
    assert pipeline.versions() == [1, 2]  # not [1, 2, 3]


def test_timeouts_are_retried(pipeline):
    run = pipeline.new_run({"accuracy": "0.9"})
    faults = "models.query=timeout x2,runs.get=timeout,artifacts.create=timeout"
    result = pipeline.register(
        run, real_sdk=True, env={"CHAMPION_MOCK_FAULTS": faults, **FAST_RETRIES}
    )
    assert result.exit_code == 0, result.stderr
    assert pipeline.versions() == [1]
