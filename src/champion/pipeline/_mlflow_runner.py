"""Run a `PipelineSpec` on MLflow: one parent run, one nested run per step, each step a real
process with `MLFLOW_RUN_ID` set.

Why the same shape as the local runner: a step written for the pipeline (the sample's train and
register steps) must run unchanged; only where its run lives changes. So each step gets its own
process, a fresh copy of the source directory as working directory (`champion.local.snapshots`),
its data references in argv and in `AZUREML_DATAREFERENCE_<name>`, and, when it ends, its
`./outputs`, `./logs` and console log logged to its nested run. MLflow's nesting is the
`mlflow.parentRunId` tag, which is how `mlflow.start_run(nested=True)` links runs and how the
register step finds its pipeline run and the training step's run.

The MLflow server or database is `$MLFLOW_TRACKING_URI` (a `sqlite:///` file is created on the
first run: the runner, like the local one, creates its registry; nothing else does). Folders
passed between steps live in a temporary folder removed afterwards, so each step's output
folders are kept the MLflow way when the step ends: logged to its nested run as
`<output name>/...` (the score step's `predictions/predictions.csv`), as Azure ML keeps a
PipelineData and the local runner its `pipeline-data/` folder; a line says where. Datastore and
dataset inputs are the local workspace's and Azure ML's; a spec with them is refused here.
"""

from __future__ import annotations

import os
import shlex
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from pathlib import Path

from champion import _env
from champion.errors import InputError
from champion.local import _traps
from champion.local.snapshots import copy_snapshot as _snapshot
from champion.pipeline._local_runs import UPLOADED_FOLDERS, PipelineResult, StepResult, _say
from champion.pipeline._local_step import _execute
from champion.pipeline.spec import PipelineSpec, Step, resolve_arguments, topological_order
from champion.registry import mlflow as backend

__all__ = ["DRIVER_LOG", "run_pipeline_mlflow"]

DRIVER_LOG = "logs/driver_log.txt"
"""The step's console, as an artifact of its nested run."""
_CLEARED = (_env.RUN_ID, _env.WORKSPACE, _env.AZUREML_RUN_ID, _env.MLFLOW_RUN_ID)


def run_pipeline_mlflow(
    spec: PipelineSpec,
    *,
    parameters: Mapping[str, str] | None = None,
    tags: Mapping[str, object] | None = None,
    stream_output: bool = True,
) -> PipelineResult:
    """Run every step of `spec` as a subprocess, each in a nested run of one MLflow run of
    experiment `spec.name`. Returns the result whatever the steps' exit codes."""
    from champion.pipeline.local import _parameter_values

    spec.check()
    _traps.check_pipeline_spec(spec)
    for step in spec.steps:
        if step.datastore_inputs or step.dataset_inputs:
            raise InputError(
                f"step {step.name!r} reads a datastore or dataset input, which only the local "
                "workspace and Azure ML have; on MLflow pass files as --data or DataReference",
                field="--backend",
                value="mlflow",
            )
    values = _parameter_values(spec, parameters)
    workspace = backend.connect(create=True)
    experiment = backend.experiment_id(workspace, spec.name)
    run_tags = {**{str(k): str(v) for k, v in (tags or {}).items()}, **values}
    parent_id = backend.start_run(workspace, experiment, spec.name, run_tags)
    results: list[StepResult] = []
    order = topological_order(spec)
    try:
        with tempfile.TemporaryDirectory(prefix=f"champion-{spec.name}-") as tmp:
            root = Path(tmp)
            data_paths = {ref.name: root / "data" / ref.name for s in order for ref in s.outputs}
            for folder in data_paths.values():
                folder.mkdir(parents=True)
            for step in order:
                result = _run_step(
                    spec,
                    step,
                    workspace,
                    experiment,
                    parent_id,
                    root,
                    data_paths,
                    values,
                    stream_output,
                )
                results.append(result)
                if not result.succeeded:
                    break
    except KeyboardInterrupt:
        backend.end_run(workspace, parent_id, "KILLED")
        raise
    except BaseException:
        backend.end_run(workspace, parent_id, "FAILED")
        raise
    outcome = PipelineResult(
        run_id=parent_id,
        experiment=spec.name,
        workspace=workspace.name,
        steps=tuple(results),
        skipped=tuple(step.name for step in order[len(results) :]),
        decision=_decision(workspace, parent_id),
    )
    backend.end_run(workspace, parent_id, "FINISHED" if outcome.succeeded else "FAILED")
    return outcome


def _run_step(
    spec: PipelineSpec,
    step: Step,
    workspace: backend.MlflowWorkspace,
    experiment: str,
    parent_id: str,
    root: Path,
    data_paths: Mapping[str, Path],
    values: Mapping[str, str],
    stream_output: bool,
) -> StepResult:
    run_id = backend.start_run(workspace, experiment, step.name, {}, parent_id=parent_id)
    step_dir = root / "steps" / step.name
    cwd = step_dir / "cwd"
    log_path = step_dir / "driver_log.txt"
    step_dir.mkdir(parents=True)
    _snapshot(spec.source_directory, cwd, workspace=root)
    command = [sys.executable, str(cwd / step.script), *resolve_arguments(step, data_paths, values)]
    env = {k: v for k, v in _env.inherited().items() if k not in _CLEARED}
    env.update(
        {
            _env.MLFLOW_TRACKING_URI: workspace.tracking_uri,
            _env.MLFLOW_REGISTRY_URI: workspace.registry_uri,
            _env.MLFLOW_RUN_ID: run_id,
            "MLFLOW_EXPERIMENT_ID": experiment,
            _env.BACKEND: "mlflow",
            "PYTHONUNBUFFERED": "1",
            "PYTHONPATH": os.pathsep.join(filter(None, [str(cwd), _env.pythonpath()])),
        }
    )
    for ref in step.data_references:
        env[ref.env_var] = str(data_paths[ref.name])
    prefix = f"[{step.name}] "
    console = sys.stdout if stream_output else None
    _say(console, prefix, f"MLflow run {run_id}: {shlex.join(command)}")
    started = time.monotonic()
    try:
        code = _execute(
            command, cwd=cwd, env=env, log_path=log_path, prefix=prefix, console=console
        )
    except BaseException:
        _log_step_files(workspace, run_id, cwd, log_path)
        backend.end_run(workspace, run_id, "KILLED")
        raise
    duration = time.monotonic() - started
    _log_step_files(workspace, run_id, cwd, log_path)
    outputs = {ref.name: data_paths[ref.name] for ref in step.outputs}
    _keep_outputs(workspace, run_id, outputs, lambda line: _say(console, prefix, line))
    backend.end_run(workspace, run_id, "FINISHED" if code == 0 else "FAILED")
    _say(console, prefix, f"exit code {code} after {duration:.1f}s")
    return StepResult(name=step.name, run_id=run_id, exit_code=code, duration=duration)


def _log_step_files(
    workspace: backend.MlflowWorkspace, run_id: str, cwd: Path, log_path: Path
) -> None:
    """What the local runner uploads, as artifacts of the step's run; a failure to log is
    reported, never allowed to hide how the step ended."""
    files: list[tuple[str, Path]] = []
    for folder in UPLOADED_FOLDERS:
        base = cwd / folder
        if base.is_dir() and not base.is_symlink():
            files += [
                (f"{folder}/{p.relative_to(base).as_posix()}", p)
                for p in sorted(base.rglob("*"))
                if p.is_file() and not p.is_symlink()
            ]
    if log_path.is_file():
        files.append((DRIVER_LOG, log_path))
    try:
        backend.log_files(workspace, run_id, files)
    except Exception as exc:
        sys.stderr.write(f"warning: could not log the step's files to run {run_id}: {exc}\n")


def _keep_outputs(
    workspace: backend.MlflowWorkspace,
    run_id: str,
    outputs: Mapping[str, Path],
    say: Callable[[str], None],
) -> None:
    """Each output folder the step wrote, logged to its run as `<name>/...` before the
    temporary folder holding it is removed; one line says where each went, or that it was not
    kept (the step's own exit code stands either way)."""
    for name, folder in outputs.items():
        files = [
            (f"{name}/{p.relative_to(folder).as_posix()}", p)
            for p in sorted(folder.rglob("*"))
            if p.is_file() and not p.is_symlink()
        ]
        if not files:
            continue
        try:
            backend.log_files(workspace, run_id, files)
        except Exception as exc:
            sys.stderr.write(
                f"warning: output {name} was NOT kept on run {run_id} ({exc}); its files are "
                "removed when the pipeline ends\n"
            )
            continue
        shown = ", ".join(n for n, _ in files[:5]) + (", ..." if len(files) > 5 else "")
        say(f"output {name} kept on MLflow run {run_id}: {shown}")


def _decision(workspace: backend.MlflowWorkspace, parent_id: str) -> dict[str, object] | None:
    from champion.record import read_record

    try:
        return read_record(backend.run_of(workspace, parent_id))
    except Exception as exc:
        sys.stderr.write(f"warning: could not read the decision record of run {parent_id}: {exc}\n")
        return None
