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

Statuses follow Azure: a step run is Completed on exit code 0, Failed otherwise; the first failing
step stops the pipeline (later steps get no run) and fails the parent run. A step that cancels
the pipeline (`run.parent.cancel()`, as a template's evaluate step does when the new model is
worse) ends Canceled with the parent, and no later step starts: the result's status is
"Canceled" and its exit code `CANCELED_EXIT_CODE` (4). Ctrl-C cancels both.
"""

from __future__ import annotations

import contextlib
import fnmatch
import hashlib
import importlib.util
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import IO, Any

from champion.errors import InputError
from champion.local import _traps
from champion.local.run import DATASET_INPUTS_ENV, RUN_ID_ENV, Run
from champion.local.store import DataPathError, Store
from champion.local.workspace import WORKSPACE_ENV, Workspace
from champion.pipeline.spec import (
    PipelineSpec,
    Step,
    resolve_arguments,
    topological_order,
)

__all__ = [
    "CANCELED_EXIT_CODE",
    "DRIVER_LOG",
    "PIPELINE_RUN_TYPE",
    "STEP_RUN_TYPE",
    "PipelineResult",
    "StepResult",
    "load_pipeline_file",
    "run_pipeline",
]

PIPELINE_RUN_TYPE = "azureml.PipelineRun"
STEP_RUN_TYPE = "azureml.StepRun"
DRIVER_LOG = "logs/azureml/70_driver_log.txt"
#: Exit code of a pipeline a step canceled (`run.parent.cancel()`): not a success (later steps
#: did not run), not a failure (nothing broke); distinct so a build can tell.
CANCELED_EXIT_CODE = 4
#: Folders of a step's working directory uploaded to its run when it ends, as Azure ML does.
UPLOADED_FOLDERS = ("outputs", "logs")
_SNAPSHOT_SKIP = ("__pycache__", ".git", ".champion")
DATA_FOLDER = "pipeline-data"
STEPS_FOLDER = "pipeline-steps"
BACKEND_ENV = "CHAMPION_BACKEND"  # read by champion.context
SHIM_MODULE = "champion.pipeline.sdk_shim"
_TERMINATE_GRACE_S = 10.0


@dataclass(frozen=True)
class StepResult:
    """How one step ended. `exit_code` is as the OS reported it: negative means the step was
    killed by that signal (subprocess's convention)."""

    name: str
    run_id: str
    exit_code: int
    duration: float
    canceled: bool = False  # the pipeline was canceled while this step ran

    @property
    def succeeded(self) -> bool:
        return self.exit_code == 0 and not self.canceled


@dataclass(frozen=True)
class PipelineResult:
    """How a pipeline run ended: the parent run, each step that ran, the steps never started,
    and the decision a register step recorded on the pipeline run (`decision`: the newest
    `outputs/champion_decision*.json` as a dict, None when no step wrote one), so a caller or a
    test reads the verdict from the result rather than from the console."""

    run_id: str
    experiment: str
    workspace: Path
    steps: tuple[StepResult, ...]
    skipped: tuple[str, ...] = ()
    decision: dict[str, Any] | None = None

    @property
    def exit_codes(self) -> dict[str, int]:
        """Each step that ran, by name, with its exit code (negative: killed by that signal)."""
        return {step.name: step.exit_code for step in self.steps}

    def step(self, name: str) -> StepResult:
        """The step called `name`; KeyError if it did not run (see `skipped`)."""
        for step in self.steps:
            if step.name == name:
                return step
        raise KeyError(name)

    @property
    def canceled_step(self) -> StepResult | None:
        """The step during which the pipeline was canceled, if it was."""
        return next((s for s in self.steps if s.canceled), None)

    @property
    def failed_step(self) -> StepResult | None:
        """The step that stopped the pipeline by failing, if one did."""
        return next((s for s in self.steps if not s.succeeded and not s.canceled), None)

    @property
    def succeeded(self) -> bool:
        return self.failed_step is None and self.canceled_step is None and not self.skipped

    @property
    def exit_code(self) -> int:
        """0; `CANCELED_EXIT_CODE` for a canceled pipeline; else the failing step's exit code as
        a shell reports it (128+N for signal N), so a caller can `sys.exit()` with it and `make`
        fails with the step's own code."""
        if self.canceled_step is not None:
            return CANCELED_EXIT_CODE
        failed = self.failed_step
        if failed is None:
            return 0 if not self.skipped else 1
        return failed.exit_code if failed.exit_code > 0 else 128 - failed.exit_code

    @property
    def status(self) -> str:
        if self.canceled_step is not None:
            return "Canceled"
        return "Completed" if self.succeeded else "Failed"

    def summary(self) -> str:
        """One line for a console: outcome, parent run, and each step's exit code and time."""
        steps = ", ".join(
            f"{s.name} {'canceled the pipeline, ' if s.canceled else ''}exit {s.exit_code} in "
            f"{s.duration:.1f}s"
            for s in self.steps
        )
        line = f"pipeline {self.experiment} run {self.run_id}: {self.status} ({steps or 'no steps'}"
        if self.skipped:
            line += f"; not run: {', '.join(self.skipped)}"
        return f"{line}) in workspace {self.workspace}"


def create_pipeline_run(
    store: Store,
    experiment: str,
    *,
    run_id: str | None = None,
    tags: Mapping[str, str | None] | None = None,
) -> str:
    """A pipeline's parent run, shaped as Azure ML makes it (so the real SDK rehydrates it into
    `PipelineRun`); returns its id."""
    record = store.create_run(
        experiment,
        run_id=run_id or str(uuid.uuid4()),
        display_name=experiment,
        run_type=PIPELINE_RUN_TYPE,
        tags=tags,
        properties={"azureml.runsource": PIPELINE_RUN_TYPE},
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
    store = ws._store
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


def node_id(pipeline: str, step_name: str) -> str:
    """An 8-hex-digit node id like Azure's, stable for the same pipeline and step name; the
    `azureml.nodeid` tag of the step's run (`champion.testing` makes its step runs with it)."""
    return hashlib.sha256(f"{pipeline}/{step_name}".encode()).hexdigest()[:8]


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
    env = dict(os.environ)
    env.update(
        {
            WORKSPACE_ENV: str(root),
            RUN_ID_ENV: run_id,
            BACKEND_ENV: "azureml" if real_sdk else "local",
            "PYTHONUNBUFFERED": "1",
            # the snapshot root is importable from any script in it, as on Azure
            "PYTHONPATH": os.pathsep.join(filter(None, [str(cwd), os.environ.get("PYTHONPATH")])),
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

    store = ws._store
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
    """Run the command to the end, copying its merged stdout/stderr byte for byte to the log and,
    line by line with the step's prefix, to the console. Returns the exit code.

    One merged pipe keeps the lines in the order the step wrote them and cannot deadlock (there
    is no second pipe to fill up). If the runner is interrupted the step is terminated too, so
    no orphan keeps writing into the workspace."""
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            command,
            cwd=cwd,
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        try:
            assert proc.stdout is not None
            for line in iter(proc.stdout.readline, b""):
                log.write(line)
                log.flush()
                if console is not None:
                    text = line.decode("utf-8", errors="replace").rstrip("\r\n")
                    console.write(f"{prefix}{text}\n")
                    console.flush()
            return proc.wait()
        except BaseException:
            _stop(proc)
            raise
        finally:
            if proc.stdout is not None:
                proc.stdout.close()


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=_TERMINATE_GRACE_S)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


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


def _say(console: IO[str] | None, prefix: str, message: str) -> None:
    if console is not None:
        console.write(f"{prefix}{message}\n")
        console.flush()


# --------------------------------------------------------------------------- pipeline files

_MODULE_NAME_UNSAFE = re.compile(r"\W")


def load_pipeline_file(path: str | os.PathLike[str]) -> ModuleType:
    """Import a pipeline file (e.g. `pipelines/iris.py`) by path and return the module, so a CLI
    can call its `main` or `build_spec` without the file being on sys.path or in a package.

    The module gets a name derived from the file's absolute path, so two files called `iris.py`
    in different folders do not replace each other, and loading the same file again returns the
    module already loaded instead of executing it twice.
    """
    file = Path(path).expanduser().resolve()
    if not file.is_file():
        raise InputError(
            f"pipeline file not found: {file}", field="pipeline file", value=os.fspath(path)
        )
    digest = hashlib.sha256(str(file).encode()).hexdigest()[:12]
    name = f"_champion_pipeline_{_MODULE_NAME_UNSAFE.sub('_', file.stem)}_{digest}"
    loaded = sys.modules.get(name)
    if loaded is not None:
        return loaded
    module_spec = importlib.util.spec_from_file_location(name, file)
    if module_spec is None or module_spec.loader is None:
        raise InputError(
            f"{file} cannot be imported as a Python module; a pipeline file ends in .py",
            field="pipeline file",
            value=os.fspath(path),
        )
    module = importlib.util.module_from_spec(module_spec)
    # Registered before executing, as import does: dataclasses and pickling look modules up here.
    sys.modules[name] = module
    try:
        module_spec.loader.exec_module(module)
    except BaseException:
        with contextlib.suppress(KeyError):
            del sys.modules[name]
        raise
    return module
