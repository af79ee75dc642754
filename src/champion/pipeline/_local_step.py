"""One step of a local pipeline run: its own process, run, snapshot, inputs, outputs and status.

Why apart from the runner's loop: this is the part that plays Azure ML's job runtime for one
step (what a `PythonScriptStep` gets and nothing more), and it is most of the runner's code.
See `champion.pipeline.local` for what a step gets and why; its data (folders, datastore
paths, datasets) is delivered by `champion.pipeline._step_data`.
"""

from __future__ import annotations

import json
import os
import shlex
import sys
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from champion import _env
from champion.errors import InputError
from champion.local import _traps
from champion.local.plan import Plan, PlanStep
from champion.local.run import RUN_ID_ENV, Run
from champion.local.snapshots import copy_snapshot
from champion.local.workspace import WORKSPACE_ENV
from champion.names import INPUT_DATASETS_PROPERTY
from champion.pipeline._local_runs import (
    DRIVER_LOG,
    STEPS_FOLDER,
    UPLOADED_FOLDERS,
    StepResult,
    _say,
    create_step_run,
)
from champion.pipeline._process import StepTimedOut, Stopped, run_in_own_group
from champion.pipeline._step_data import StepData, bind_step

BACKEND_ENV = _env.BACKEND  # read by champion.context


SHIM_MODULE = "champion.pipeline.sdk_shim"


@dataclass(frozen=True)
class StepSettings:
    """How the runner runs every step of one pipeline run: the console (None: quiet) and the
    timeout of a step whose plan gives none (None: no limit)."""

    console: IO[str] | None
    step_timeout: float | None = None


def run_plan_step(plan: Plan, step: PlanStep, data: StepData, settings: StepSettings) -> StepResult:
    """Create the step's run, run its script to the end in a copy of its source directory with
    its data delivered, upload its outputs and logs, set its status. The step is stopped (and
    Canceled) as soon as its pipeline run is canceled, and ended when it runs past its timeout."""
    store, ws, parent_id = data.store, data.ws, data.parent_id
    root = ws.path
    run_id = str(uuid.uuid4())
    create_step_run(store, plan.experiment, parent_id, step.name, step.node_id, run_id=run_id)
    run = Run.get(ws, run_id)
    step_dir = root / STEPS_FOLDER / parent_id / run_id
    step_dir.mkdir(parents=True, exist_ok=True)
    cwd = step_dir / "cwd"
    log_path = step_dir / "70_driver_log.txt"
    try:
        copy_snapshot(Path(step.source), cwd, workspace=root)
        for folder in UPLOADED_FOLDERS:  # the job runtime creates them before the script starts
            if not (cwd / folder).exists():
                (cwd / folder).mkdir()
        _traps.mark_step_workdir(cwd, step=step.name, run_id=run_id)
        bound = bind_step(data, step, run_id=run_id, step_dir=step_dir)
        if bound.lineage:
            store.update_run(
                run_id, add_properties={INPUT_DATASETS_PROPERTY: json.dumps(bound.lineage)}
            )
        argv = _argv(step, bound.values, plan.parameters)
    except BaseException as exc:
        run.fail(error_details=f"the step could not be prepared: {exc!r}", error_code="SystemError")
        raise

    script = str(cwd / step.script)
    launcher = [sys.executable, "-m", SHIM_MODULE] if plan.sdk else [sys.executable]
    command = [*launcher, script, *argv]
    env = _environment(plan, step, cwd=cwd, root=root, run_id=run_id, bound_env=bound.env)

    prefix = f"[{step.name}] "
    console = settings.console
    timeout = step.timeout if step.timeout is not None else settings.step_timeout
    _say(console, prefix, f"run {run_id}: {shlex.join(command)}")
    started = time.monotonic()
    canceled = timed_out = False
    try:
        code = _execute(
            command,
            cwd=cwd,
            env=env,
            log_path=log_path,
            prefix=prefix,
            console=console,
            timeout=timeout,
            stop=data.canceled,
        )
    except Stopped as stopped:
        code, canceled = stopped.returncode, True
    except StepTimedOut as ended:
        code, timed_out = ended.returncode, True
    except BaseException as exc:
        _upload_step_files(run, cwd, log_path)
        if isinstance(exc, KeyboardInterrupt):
            run.cancel()
        else:
            run.fail(error_details=f"the step could not be run: {exc!r}", error_code="SystemError")
        raise
    duration = time.monotonic() - started
    _upload_step_files(run, cwd, log_path)
    canceled = canceled or data.canceled()
    if timed_out:
        # As Azure ML does past `max_run_duration_seconds`: the run is canceled, with why.
        store.update_run(
            run_id,
            status="Canceled",
            error={
                "message": f"the step ran longer than its timeout of {timeout:g} s and was ended",
                "code": "StepTimeout",
            },
        )
        _say(console, prefix, f"timed out after {timeout:g}s: the step was ended")
    elif canceled:
        run.cancel()
        _say(console, prefix, "the pipeline was canceled; no later step will start")
    elif code == 0:
        try:
            data.register_outputs(step, run_id=run_id)
        except Exception as exc:
            run.fail(
                error_details=f"the step's output could not be registered: {exc}",
                error_code="UserError",
            )
            _say(console, prefix, f"its output could not be registered: {exc}")
            return StepResult(step.name, run_id, 1, time.monotonic() - started)
        run.complete()
    else:
        run.fail(error_details=f"the step exited with code {code}", error_code="UserError")
    _say(console, prefix, f"exit code {code} after {duration:.1f}s")
    return StepResult(
        name=step.name,
        run_id=run_id,
        exit_code=code,
        duration=duration,
        canceled=canceled and not timed_out,
        timeout=timeout if timed_out else None,
    )


def _argv(step: PlanStep, values: Mapping[str, str], parameters: Mapping[str, str]) -> list[str]:
    """The step's argv, as the job runtime builds it: each port replaced by what it delivered
    (a path, or a dataset's id in direct mode), each parameter by the run's value."""
    argv = []
    for kind, value in step.arguments:
        if kind == "literal":
            argv.append(value)
        elif kind == "port":
            if value not in values:
                raise InputError(
                    f"step {step.name!r}: argument {value!r} names no input or output of the step",
                    field="arguments",
                    value=value,
                )
            argv.append(values[value])
        elif kind == "parameter":
            if value not in parameters:
                raise InputError(
                    f"step {step.name!r}: pipeline parameter {value!r} has no value",
                    field="parameters",
                    value=value,
                )
            argv.append(parameters[value])
        else:
            raise InputError(
                f"step {step.name!r}: unknown argument kind {kind!r}", field="arguments", value=kind
            )
    return argv


def _environment(
    plan: Plan,
    step: PlanStep,
    *,
    cwd: Path,
    root: Path,
    run_id: str,
    bound_env: Mapping[str, str],
) -> dict[str, str]:
    """The step's environment: the runner's, the step's own variables (its run configuration's),
    then what the job runtime sets (workspace, run, data), which the step cannot override. Steps
    of a plan that uses the real SDK also pass the fake on to the Python processes they start."""
    env = _env.inherited()
    env.update(dict(step.environment))
    env.update(
        {
            WORKSPACE_ENV: str(root),
            RUN_ID_ENV: run_id,
            BACKEND_ENV: "azureml" if plan.sdk else "local",
            "PYTHONUNBUFFERED": "1",
            # the snapshot root is importable from any script in it, as on Azure
            "PYTHONPATH": os.pathsep.join(filter(None, [str(cwd), _env.pythonpath()])),
        }
    )
    env.update(bound_env)
    if plan.sdk:
        from champion.mock import child_environment

        env = child_environment(root, env)
    return env


def _execute(
    command: list[str],
    *,
    cwd: Path,
    env: Mapping[str, str],
    log_path: Path,
    prefix: str,
    console: IO[str] | None,
    timeout: float | None = None,
    stop: Callable[[], bool] | None = None,
) -> int:
    """Run the step to the end of its process group (`_process`), copying its merged
    stdout/stderr byte for byte to the log and, line by line with the step's prefix, to the
    console. Returns the exit code; `Stopped` when `stop` said so, `StepTimedOut` past
    `timeout` (the group is ended either way).

    One merged pipe keeps the lines in the order the step wrote them and cannot deadlock (there
    is no second pipe to fill up). If the runner is interrupted the step's group is ended too,
    so no orphan keeps writing into the workspace."""
    pending = bytearray()

    def show(line: bytes | bytearray) -> None:
        if console is not None:
            text = line.decode("utf-8", errors="replace").rstrip("\r\n")
            console.write(f"{prefix}{text}\n")
            console.flush()

    with open(log_path, "wb") as log:

        def sink(chunk: bytes) -> None:
            log.write(chunk)
            log.flush()
            pending.extend(chunk)
            *lines, rest = pending.split(b"\n")
            for line in lines:
                show(line)
            pending[:] = rest

        try:
            return run_in_own_group(
                command, cwd=cwd, env=env, stdout=sink, timeout=timeout, stop=stop
            )
        finally:
            if pending:
                show(bytes(pending))


def _upload_step_files(run: Run, cwd: Path, log_path: Path) -> None:
    """What Azure ML uploads when a step ends, however it ended: every file under `./outputs`
    and `./logs` of its working directory (as `outputs/...`, `logs/...`), then its console log
    as `logs/azureml/70_driver_log.txt`. A name the step already uploaded itself is left as it
    is (artifacts have no overwrite); links and other non-regular files are not followed.

    A failed upload must not hide the step's own outcome, so it is reported and not raised."""
    names: list[str] = []
    paths: list[str] = []
    for folder in UPLOADED_FOLDERS:
        base = cwd / folder
        if not base.is_dir() or base.is_symlink():
            continue
        for path in sorted(base.rglob("*")):
            if path.is_file() and not path.is_symlink():
                names.append(f"{folder}/{path.relative_to(base).as_posix()}")
                paths.append(str(path))
    if log_path.is_file():
        names.append(DRIVER_LOG)
        paths.append(str(log_path))
    try:
        existing = set(run.get_file_names())
        keep = [i for i, name in enumerate(names) if name not in existing]
        if keep:
            run.upload_files([names[i] for i in keep], [paths[i] for i in keep])
    except Exception as exc:
        sys.stderr.write(f"warning: could not upload the step's files to run {run.id}: {exc}\n")
