"""Run a `PipelineSpec` on the local workspace, the way Azure ML runs it on a cluster.

Why real subprocesses and real runs: the point of the local runner is that a step script which
works here works unchanged as a `PythonScriptStep`. So each step gets what Azure ML's job runtime
gives it and nothing more: its own process; its own child run of one pipeline run; a fresh copy
of the source directory (its snapshot) as working directory and on `sys.path`, so it can open
`parameters.json` beside its script and import sibling packages; data folders and datastore
paths in argv and in `AZUREML_DATAREFERENCE_<name>`; its datasets in `run.input_datasets`; and,
when it ends (however it ends), `./outputs` and `./logs` uploaded to its run. A step that only
worked because it shared the runner's interpreter, globals or working directory would fail on
Azure; here it fails first.

What is created for one call of `run_pipeline`:

- one parent run in experiment `spec.name`, run type `azureml.PipelineRun`, tagged with the
  caller's tags and the value of every pipeline parameter (`build_number=...`);
- per step, in dependency order, one child run named after the step, run type `azureml.StepRun`,
  tagged `azureml.nodeid` and `azureml.pipeline` (the parent's id), as Azure tags step runs;
- `<workspace>/pipeline-data/<parent id>/<data reference>`: the data passed between steps (a
  step gets the path, whose folder exists, and makes a folder or a file there);
- `<workspace>/pipeline-steps/<parent id>/<step run id>/`: the step's working directory (`cwd/`,
  a copy of the source directory without `__pycache__`, `.git`, the workspace itself and what
  `.amlignore` lists), downloaded inputs (`inputs/`), its console log, also uploaded to the
  step run as `logs/azureml/70_driver_log.txt`, and `champion-step.json`, which lets
  `Run.get_context()` warn when a process started in the step lost the step's run variables
  (it returns an offline run, as Azure's SDK does).

A step ends as a job on Azure ML ends, with its main process: whatever it left running in its
process group (a daemon holding its stdout, a forgotten server) is ended then, and the runner
does not wait for it (`champion.pipeline._process`). It is also ended when the pipeline is
canceled while it runs, and when it runs past its timeout (`Step(timeout=...)`, else
`step_timeout`): SIGTERM to its process group, SIGKILL after a grace.

Statuses follow Azure: a step run is Completed on exit code 0, Failed otherwise; the first failing
step stops the pipeline (later steps get no run) and fails the parent run. A step that cancels
the pipeline (`run.parent.cancel()`, as a template's evaluate step does when the new model is
worse) ends Canceled with the parent, and no later step starts: the result's status is
"Canceled" and its exit code `CANCELED_EXIT_CODE` (4); the step is stopped if it does not end
by itself. A step that runs past its timeout is Canceled with an error saying so, the pipeline
Failed, exit code `TIMEOUT_EXIT_CODE` (124). Ctrl-C cancels both.

The spec is compiled to a plan (`champion.local.plan`, `_spec_plan`) and the plan is run
(`_plan_run`): the same runner runs the graphs a user's own script submits through the SDK
under `mock_azureml()` (`champion.pipeline.submitted`).
"""

from __future__ import annotations

import os
import sys
import uuid
from collections.abc import Mapping
from pathlib import Path

from champion.errors import InputError
from champion.local import _traps
from champion.local.access import store_of
from champion.local.workspace import Workspace
from champion.names import PIPELINE_RUN_TYPE, STEP_RUN_TYPE
from champion.pipeline._local_runs import (
    CANCELED_EXIT_CODE,
    DRIVER_LOG,
    TIMEOUT_EXIT_CODE,
    PipelineResult,
    StepResult,
    create_pipeline_run,
    create_step_run,
    node_id,
)
from champion.pipeline._pipeline_file import load_pipeline_file
from champion.pipeline._plan_run import run_plan
from champion.pipeline._spec_plan import spec_plan
from champion.pipeline.spec import PipelineSpec

__all__ = [
    "CANCELED_EXIT_CODE",
    "DRIVER_LOG",
    "PIPELINE_RUN_TYPE",
    "STEP_RUN_TYPE",
    "TIMEOUT_EXIT_CODE",
    "PipelineResult",
    "StepResult",
    "create_pipeline_run",
    "create_step_run",
    "load_pipeline_file",
    "node_id",
    "run_pipeline",
]


def run_pipeline(
    spec: PipelineSpec,
    workspace: str | os.PathLike[str],
    *,
    parameters: Mapping[str, str] | None = None,
    real_sdk: bool = False,
    tags: Mapping[str, object] | None = None,
    stream_output: bool = True,
    step_timeout: float | None = None,
) -> PipelineResult:
    """Run every step of `spec` as a subprocess against the local workspace folder `workspace`.

    `parameters` override the spec's pipeline parameter defaults (unknown names are an
    InputError, as a typo must not silently run with the default). With `real_sdk=True` each
    step runs under `mock_azureml()`, so scripts that import `azureml.core` themselves work.
    `stream_output=False` keeps the console quiet; the logs are uploaded either way.
    `step_timeout` (seconds) ends a step that runs longer, unless the step has its own
    `timeout`.

    Returns a PipelineResult whatever the steps' exit codes; raises InputError for an invalid
    spec, and re-raises anything that interrupts the runner itself after marking the runs.
    """
    spec.check()
    _traps.check_pipeline_spec(spec)  # the runner runs every step; Azure may reuse some
    if step_timeout is not None and not step_timeout > 0:
        raise InputError(
            f"step timeout {step_timeout!r} must be a number of seconds above 0",
            field="step_timeout",
            value=step_timeout,
        )
    values = _parameter_values(spec, parameters)
    root = Path(workspace).expanduser().resolve()
    ws = Workspace.create(root, exist_ok=True)  # the runner creates its workspace (README)
    store = store_of(ws)
    plan = spec_plan(spec, store, values, sdk=real_sdk)  # datasets resolved: no run yet

    parent_id = str(uuid.uuid4())
    # Parameters last: the tag must be the value the steps actually received.
    parent_tags = {**_as_tags(tags or {}), **values}
    create_pipeline_run(store, spec.name, run_id=parent_id, tags=parent_tags)
    return run_plan(
        plan,
        ws,
        parent_id=parent_id,
        console=sys.stdout if stream_output else None,
        step_timeout=step_timeout,
    )


def _parameter_values(spec: PipelineSpec, given: Mapping[str, str] | None) -> dict[str, str]:
    values = spec.parameter_defaults()
    unknown = sorted(set(given or {}) - set(values))
    if unknown:
        raise InputError(
            f"unknown pipeline parameter(s) {', '.join(unknown)} for pipeline {spec.name!r}; "
            f"it declares: {', '.join(values) or 'none'}",
            field="parameters",
            value=unknown,
        )
    values.update({name: str(value) for name, value in (given or {}).items()})
    return values


def _as_tags(values: Mapping[str, object]) -> dict[str, str | None]:
    """What the service stores for tag values: str() of each, None kept (as Run.set_tags)."""
    return {str(k): None if v is None else str(v) for k, v in values.items()}
