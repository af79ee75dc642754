"""One step of a local pipeline run: its own process, run, snapshot, inputs, outputs and status.

Why apart from the runner's loop: this is the part that plays Azure ML's job runtime for one
step (what a `PythonScriptStep` gets and nothing more), and it is most of the runner's code.
See `champion.pipeline.local` for what a step gets and why.
"""

from __future__ import annotations

import fnmatch
import os
import shlex
import shutil
import sys
import time
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import IO

from champion import _env
from champion.errors import InputError
from champion.local import _traps
from champion.local.access import store_of
from champion.local.run import DATASET_INPUTS_ENV, RUN_ID_ENV, Run
from champion.local.store import DataPathError, Store
from champion.local.workspace import WORKSPACE_ENV, Workspace
from champion.pipeline._local_runs import (
    DRIVER_LOG,
    STEPS_FOLDER,
    UPLOADED_FOLDERS,
    StepResult,
    _say,
    create_step_run,
    node_id,
)
from champion.pipeline._process import run_in_own_group
from champion.pipeline.spec import (
    PipelineSpec,
    Step,
    resolve_arguments,
)

_SNAPSHOT_SKIP = ("__pycache__", ".git", _env.DEFAULT_WORKSPACE_FOLDER)


BACKEND_ENV = _env.BACKEND  # read by champion.context


SHIM_MODULE = "champion.pipeline.sdk_shim"


def _node_id(spec: PipelineSpec, step: Step) -> str:
    return node_id(spec.name, step.name)


def _run_step(
    spec: PipelineSpec,
    step: Step,
    *,
    store: Store,
    ws: Workspace,
    parent_id: str,
    data_paths: Mapping[str, Path],
    datasets: Mapping[str, str],
    values: Mapping[str, str],
    real_sdk: bool,
    stream_output: bool,
) -> StepResult:
    """Create the step's run, run its script to the end in a copy of its source directory,
    upload its outputs and logs, set its status."""
    root = ws.path
    run_id = str(uuid.uuid4())
    create_step_run(store, spec.name, parent_id, step.name, _node_id(spec, step), run_id=run_id)
    run = Run.get(ws, run_id)
    step_dir = root / STEPS_FOLDER / parent_id / run_id
    step_dir.mkdir(parents=True, exist_ok=True)
    cwd = step_dir / "cwd"
    log_path = step_dir / "70_driver_log.txt"
    try:
        _snapshot(spec.source_directory, cwd, workspace=root)
        _traps.mark_step_workdir(cwd, step=step.name, run_id=run_id)
        inputs = _step_inputs(step, ws, step_dir, datasets)
    except BaseException as exc:
        run.fail(error_details=f"the step could not be prepared: {exc!r}", error_code="SystemError")
        raise

    script = str(cwd / step.script)
    argv = resolve_arguments(step, {**data_paths, **inputs}, values)
    launcher = [sys.executable, "-m", SHIM_MODULE] if real_sdk else [sys.executable]
    command = [*launcher, script, *argv]
    env = _env.inherited()
    env.update(
        {
            WORKSPACE_ENV: str(root),
            RUN_ID_ENV: run_id,
            BACKEND_ENV: "azureml" if real_sdk else "local",
            "PYTHONUNBUFFERED": "1",
            # the snapshot root is importable from any script in it, as on Azure
            "PYTHONPATH": os.pathsep.join(filter(None, [str(cwd), _env.pythonpath()])),
        }
    )
    for ref in step.data_references:
        env[ref.env_var] = str(data_paths[ref.name])
    for source in step.datastore_inputs:
        env[source.env_var] = str(inputs[source.name])
    if step.dataset_inputs:
        env[DATASET_INPUTS_ENV] = ",".join(f"{d.name}:{d.mode}" for d in step.dataset_inputs)
        for item in step.dataset_inputs:
            env[item.name] = str(inputs[item.name])

    prefix = f"[{step.name}] "
    console = sys.stdout if stream_output else None
    _say(console, prefix, f"run {run_id}: {shlex.join(command)}")
    started = time.monotonic()
    try:
        code = _execute(
            command, cwd=cwd, env=env, log_path=log_path, prefix=prefix, console=console
        )
    except BaseException as exc:
        _upload_step_files(run, cwd, log_path)
        if isinstance(exc, KeyboardInterrupt):
            run.cancel()
        else:
            run.fail(error_details=f"the step could not be run: {exc!r}", error_code="SystemError")
        raise
    duration = time.monotonic() - started
    _upload_step_files(run, cwd, log_path)
    parent_status = store.get_run(parent_id)
    canceled = parent_status is not None and parent_status.status in ("Canceled", "CancelRequested")
    if canceled:
        run.cancel()
        _say(console, prefix, "the pipeline was canceled; no later step will start")
    elif code == 0:
        run.complete()
    else:
        run.fail(error_details=f"the step exited with code {code}", error_code="UserError")
    _say(console, prefix, f"exit code {code} after {duration:.1f}s")
    return StepResult(
        name=step.name, run_id=run_id, exit_code=code, duration=duration, canceled=canceled
    )


def _snapshot(source: Path, target: Path, *, workspace: Path) -> None:
    """A fresh copy of the source directory, as Azure ML snapshots it for a step: without
    `__pycache__`, `.git`, `.champion`, the local workspace (when it lives inside the source
    directory) and anything `.amlignore` lists (one glob per line, matched against a name or
    a path relative to the source directory; `#` comments)."""
    source = Path(source).resolve()
    patterns: list[str] = []
    ignore_file = source / ".amlignore"
    if ignore_file.is_file():
        for line in ignore_file.read_text().splitlines():
            line = line.strip()
            if line and not line.startswith("#"):
                patterns.append(line.strip("/"))

    def ignore(folder: str, names: list[str]) -> set[str]:
        skipped = set()
        for name in names:
            path = Path(folder, name)
            relative = path.relative_to(source).as_posix()
            if (
                name in _SNAPSHOT_SKIP
                or path.resolve() == workspace
                or any(fnmatch.fnmatch(name, p) or fnmatch.fnmatch(relative, p) for p in patterns)
            ):
                skipped.add(name)
        return skipped

    shutil.copytree(source, target, symlinks=True, ignore=ignore)


def _step_inputs(
    step: Step, ws: Workspace, step_dir: Path, datasets: Mapping[str, str]
) -> dict[str, Path | str]:
    """What each datastore and dataset input of a step resolves to: a datastore path in place
    (mount) or a copy under the step's folder (download); a dataset's saved id (direct) or a
    folder holding its files (download, mount)."""
    from champion.local.dataset import Dataset

    store = store_of(ws)
    resolved: dict[str, Path | str] = {}
    for source in step.datastore_inputs:
        try:
            place = (
                store.datastore_file(source.datastore, source.path)
                if source.path.strip("/.")
                else store.datastore_folder(source.datastore)
            )
        except DataPathError as exc:
            raise InputError(
                f"step {step.name!r}: datastore input {source.name!r}: {exc}",
                field="DatastoreInput",
                value=source.name,
            ) from None
        if source.mode == "download":
            copy = step_dir / "inputs" / source.name / place.name
            copy.parent.mkdir(parents=True, exist_ok=True)
            if place.is_dir():
                shutil.copytree(place, copy)
            elif place.is_file():
                shutil.copyfile(place, copy)
            place = copy
        resolved[source.name] = place
    for item in step.dataset_inputs:
        saved_id = datasets[f"{step.name}/{item.name}"]
        if item.mode == "direct":
            resolved[item.name] = saved_id
            continue
        folder = step_dir / "inputs" / item.name
        Dataset.get_by_id(ws, saved_id).download(str(folder), overwrite=True)
        resolved[item.name] = folder
    return resolved


def _execute(
    command: list[str],
    *,
    cwd: Path,
    env: Mapping[str, str],
    log_path: Path,
    prefix: str,
    console: IO[str] | None,
) -> int:
    """Run the step to the end of its process group (`_process`), copying its merged
    stdout/stderr byte for byte to the log and, line by line with the step's prefix, to the
    console. Returns the exit code.

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
            return run_in_own_group(command, cwd=cwd, env=env, stdout=sink)
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
