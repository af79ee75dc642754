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
- `<workspace>/pipeline-data/<parent id>/<data reference>/`: the folders passed between steps;
- `<workspace>/pipeline-steps/<parent id>/<step run id>/`: the step's working directory (`cwd/`,
  a copy of the source directory without `__pycache__`, `.git`, the workspace itself and what
  `.amlignore` lists), downloaded inputs (`inputs/`), its console log, also uploaded to the
  step run as `logs/azureml/70_driver_log.txt`, and `champion-step.json`, which lets
  `Run.get_context()` warn when a process started in the step lost the step's run variables
  (it returns an offline run, as Azure's SDK does).

A step ends as a job on Azure ML ends, with its main process: whatever it left running in its
process group (a daemon holding its stdout, a forgotten server) is ended then, and the runner
does not wait for it (`champion.pipeline._process`).

Statuses follow Azure: a step run is Completed on exit code 0, Failed otherwise; the first failing
step stops the pipeline (later steps get no run) and fails the parent run. A step that cancels
the pipeline (`run.parent.cancel()`, as a template's evaluate step does when the new model is
worse) ends Canceled with the parent, and no later step starts: the result's status is
"Canceled" and its exit code `CANCELED_EXIT_CODE` (4). Ctrl-C cancels both.
"""

from __future__ import annotations

import os
import sys
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from champion.errors import InputError
from champion.local import _traps
from champion.local.access import store_of
from champion.local.run import Run
from champion.local.store import Store
from champion.local.workspace import Workspace
from champion.names import PIPELINE_RUN_TYPE, STEP_RUN_TYPE
from champion.pipeline._local_runs import (
    CANCELED_EXIT_CODE,
    DATA_FOLDER,
    DRIVER_LOG,
    PipelineResult,
    StepResult,
    create_pipeline_run,
    create_step_run,
    node_id,
)
from champion.pipeline._local_step import _run_step
from champion.pipeline._pipeline_file import load_pipeline_file
from champion.pipeline.spec import (
    PipelineSpec,
    topological_order,
)

__all__ = [
    "CANCELED_EXIT_CODE",
    "DRIVER_LOG",
    "PIPELINE_RUN_TYPE",
    "STEP_RUN_TYPE",
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
) -> PipelineResult:
    """Run every step of `spec` as a subprocess against the local workspace folder `workspace`.

    `parameters` override the spec's pipeline parameter defaults (unknown names are an
    InputError, as a typo must not silently run with the default). With `real_sdk=True` each
    step runs under `mock_azureml()`, so scripts that import `azureml.core` themselves work.
    `stream_output=False` keeps the console quiet; the logs are uploaded either way.

    Returns a PipelineResult whatever the steps' exit codes; raises InputError for an invalid
    spec, and re-raises anything that interrupts the runner itself after marking the runs.
    """
    spec.check()
    _traps.check_pipeline_spec(spec)  # the runner runs every step; Azure may reuse some
    values = _parameter_values(spec, parameters)
    order = topological_order(spec)
    root = Path(workspace).expanduser().resolve()
    ws = Workspace.create(root, exist_ok=True)  # the runner creates its workspace (README)
    store = store_of(ws)
    datasets = _dataset_ids(spec, store)

    parent_id = str(uuid.uuid4())
    # Parameters last: the tag must be the value the steps actually received.
    parent_tags = {**_as_tags(tags or {}), **values}
    create_pipeline_run(store, spec.name, run_id=parent_id, tags=parent_tags)
    parent = Run.get(ws, parent_id)

    data_paths: dict[str, Path] = {}
    results: list[StepResult] = []
    # Everything after the parent run exists is inside the try: the run never stays "Running".
    try:
        for step in order:
            for ref in step.outputs:
                folder = root / DATA_FOLDER / parent_id / ref.name
                folder.mkdir(parents=True, exist_ok=True)
                data_paths[ref.name] = folder
        for step in order:
            result = _run_step(
                spec,
                step,
                store=store,
                ws=ws,
                parent_id=parent_id,
                data_paths=data_paths,
                datasets=datasets,
                values=values,
                real_sdk=real_sdk,
                stream_output=stream_output,
            )
            results.append(result)
            if not result.succeeded:
                break
    except KeyboardInterrupt:
        parent.cancel()
        raise
    except BaseException as exc:
        parent.fail(error_details=f"the local runner failed: {exc!r}", error_code="SystemError")
        raise

    outcome = PipelineResult(
        run_id=parent_id,
        experiment=spec.name,
        workspace=root,
        steps=tuple(results),
        skipped=tuple(step.name for step in order[len(results) :]),
        decision=_decision(parent),
    )
    failed = outcome.failed_step
    if outcome.canceled_step is not None:
        pass  # the parent is Canceled already: that is how the runner learned of it
    elif failed is None:
        parent.complete()
    else:
        parent.fail(
            error_details=f"step {failed.name!r} failed with exit code {failed.exit_code}",
            error_code="UserError",
        )
    return outcome


def _decision(parent: Run) -> dict[str, Any] | None:
    """The newest decision record on the pipeline run. A record that cannot be read must not
    hide how the steps ended, so that is reported and None returned."""
    from champion.record import read_record

    try:
        return read_record(parent)
    except Exception as exc:
        sys.stderr.write(f"warning: could not read the decision record of run {parent.id}: {exc}\n")
        return None


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


def _dataset_ids(spec: PipelineSpec, store: Store) -> dict[str, str]:
    """Each dataset input's saved dataset id, resolved before any run exists, as Azure resolves
    `Dataset.get_by_name` when the pipeline is built: an unknown name is the user's mistake."""
    found: dict[str, str] = {}
    for step in spec.steps:
        for item in step.dataset_inputs:
            version = None if item.version == "latest" else int(item.version)
            record = store.get_dataset(item.dataset, version)
            if record is None:
                raise InputError(
                    f"step {step.name!r}: dataset input {item.name!r} names dataset "
                    f"{item.dataset!r} version {item.version}, which is not registered in "
                    f"workspace {store.root}; register it first (Dataset.register)",
                    field="DatasetInput.dataset",
                    value=item.dataset,
                )
            found[f"{step.name}/{item.name}"] = record.saved_id
    return found
