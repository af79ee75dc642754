"""Pipeline and step runs, shaped as Azure ML makes them: the one place that says how.

Why in the local workspace: the local runner, the testing kit and the local pipelines service
behind `mock_azureml()` (which creates the run `Experiment.submit(pipeline)` returns) all make
these runs, and the real SDK must rehydrate every one of them into its `PipelineRun` and
`StepRun` (run types, names, the `azureml.nodeid` and `azureml.pipeline` tags it reads).
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Mapping

from champion.local.store import Store
from champion.names import PIPELINE_RUN_TYPE, STEP_RUN_TYPE

__all__ = ["create_pipeline_run", "create_step_run", "node_id"]


def create_pipeline_run(
    store: Store,
    experiment: str,
    *,
    run_id: str | None = None,
    tags: Mapping[str, str | None] | None = None,
    properties: Mapping[str, str | None] | None = None,
    status: str = "Running",
) -> str:
    """A pipeline's parent run, shaped as Azure ML makes it (so the real SDK rehydrates it into
    `PipelineRun`); returns its id."""
    record = store.create_run(
        experiment,
        run_id=run_id or str(uuid.uuid4()),
        display_name=experiment,
        run_type=PIPELINE_RUN_TYPE,
        status=status,
        tags=tags,
        properties={"azureml.runsource": PIPELINE_RUN_TYPE, **dict(properties or {})},
    )
    return record.run_id


def create_step_run(
    store: Store,
    experiment: str,
    parent_id: str,
    step_name: str,
    node_id: str,
    *,
    run_id: str | None = None,
) -> str:
    """A step's run: named like the step and tagged with its node and pipeline, as Azure ML
    does (the SDK's StepRun reads `azureml.nodeid`); returns its id."""
    record = store.create_run(
        experiment,
        run_id=run_id or str(uuid.uuid4()),
        parent_id=parent_id,
        name=step_name,
        display_name=step_name,
        run_type=STEP_RUN_TYPE,
        tags={"azureml.nodeid": node_id, "azureml.pipeline": parent_id},
        properties={"azureml.runsource": STEP_RUN_TYPE, "StepType": "PythonScriptStep"},
    )
    return record.run_id


def node_id(pipeline: str, step_name: str) -> str:
    """An 8-hex-digit node id like Azure's, stable for the same pipeline and step name; the
    `azureml.nodeid` tag of the step's run (`champion.testing` makes its step runs with it)."""
    return hashlib.sha256(f"{pipeline}/{step_name}".encode()).hexdigest()[:8]
