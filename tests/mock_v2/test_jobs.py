"""Jobs of the local workspace through azure-ai-ml: a pipeline run is a `PipelineJob`, its steps
are its children (read through run history, as on Azure), and `jobs.stream` reports a finished
run's summary or raises the SDK's `JobException` for a failed one."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from azure.ai.ml.entities import PipelineJob
from azure.ai.ml.exceptions import JobException
from azure.core.exceptions import ResourceNotFoundError

from champion.local.mock_v2 import MockAzureAIML


def test_a_pipeline_is_a_pipeline_job_and_its_steps_its_children(
    aml: MockAzureAIML, ml_client: Any
) -> None:
    store = aml.store
    pipeline = store.create_run("exp", run_type="azureml.PipelineRun", tags={"build": "7"})
    train = store.create_run("exp", parent_id=pipeline.run_id, name="train", status="Completed")
    register = store.create_run("exp", parent_id=pipeline.run_id, name="register")

    job = ml_client.jobs.get(pipeline.run_id)
    assert isinstance(job, PipelineJob)
    assert (job.name, job.tags, job.experiment_name) == (pipeline.run_id, {"build": "7"}, "exp")
    children = list(ml_client.jobs.list(parent_job_name=pipeline.run_id))
    assert [(c.name, c.display_name, c.status) for c in children] == [
        (register.run_id, "register", "Running"),
        (train.run_id, "train", "Completed"),
    ]  # newest first
    step = ml_client.jobs.get(train.run_id)  # a child: read through run history
    assert (step.name, step.status) == (train.run_id, "Completed")
    assert [j.name for j in ml_client.jobs.list()] == [pipeline.run_id]  # top-level jobs only


def test_an_unknown_job_is_not_found(ml_client: Any) -> None:
    with pytest.raises(ResourceNotFoundError):
        ml_client.jobs.get("no-such-job")


def test_stream_of_a_finished_job_prints_its_summary(
    aml: MockAzureAIML, ml_client: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    run = aml.store.create_run("exp", status="Completed")
    ml_client.jobs.stream(run.run_id)
    out = capsys.readouterr().out
    assert f"RunId: {run.run_id}" in out and "Execution Summary" in out


def test_stream_of_a_failed_job_raises_the_sdks_job_exception(
    aml: MockAzureAIML, ml_client: Any, ws_path: Path
) -> None:
    run = aml.store.create_run("exp")
    aml.store.update_run(
        run.run_id, status="Failed", error={"code": "UserError", "message": "bad data"}
    )
    with pytest.raises(JobException, match="bad data"):
        ml_client.jobs.stream(run.run_id)
