"""Test your own pipeline steps on a laptop: a fresh local workspace, runs shaped like an Azure ML
pipeline's, and your step run as a real process inside one of them.

Why a kit and not a recipe: a step is a process that finds its run through the environment
(`Run.get_context()`), looks at its pipeline run and its sibling steps, and leaves tags, files
and models behind. Testing it means building those runs exactly as Azure ML names and types them,
starting the step with the variables a runtime sets, and reading back what it decided. Each test
repeating that is how private details leak into users' suites; here it is written once.

`pip install champion` registers a pytest plugin (`champion.testing.plugin`, entry point
`pytest11`) whose fixtures wrap the functions below:

- `local_workspace`: a fresh `champion.local.Workspace` in `tmp_path` (also `$CHAMPION_WORKSPACE`);
- `pipeline_run(parent_tags=None, steps=None, experiment="pipeline")`: a `PipelineRunTree`;
- `run_step(script_or_module, *args, step="register", run=<latest tree>, real_sdk=False,
  env=None)`: a `StepRunResult`;
- `mock_azureml`: the real `azureml.core` classes answered by that workspace.

Without pytest, call `create_workspace`, `make_pipeline_run` and `run_step` directly.

    def test_my_step(pipeline_run, run_step, tmp_path):
        run = pipeline_run(steps={"train": {"accuracy": "0.93"}, "register": {}})
        (tmp_path / "model.pkl").write_bytes(b"weights")
        result = run_step("champion.steps.register", "--model-name", "m",
                          "--model-path", str(tmp_path / "model.pkl"), run=run)
        assert result.exit_code == 0 and result.decision["outcome"] == "first"

Importing this module imports neither azureml nor the local workspace: the plugin loads in every
pytest session of every project that has champion installed, and must cost those sessions
nothing.
"""

from __future__ import annotations

import locale
import os
import subprocess
import sys
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from champion import _env

if TYPE_CHECKING:
    from champion.local import Run, Workspace
    from champion.local.run import PipelineRun

__all__ = [
    "DEFAULT_STEPS",
    "PipelineRunTree",
    "StepRunResult",
    "create_workspace",
    "make_pipeline_run",
    "run_step",
    "workspace_state",
]

DEFAULT_STEPS: Mapping[str, Mapping[str, str]] = {"train": {"accuracy": "0.93"}, "register": {}}
"""The steps `make_pipeline_run` makes when given none: a tagged `train` and a `register`."""
DEFAULT_TIMEOUT_S = 600.0
STEPS_FOLDER = "pipeline-steps"  # where the local runner keeps its steps' working folders
# Variables a step must not inherit from the test process: they would point it at another run,
# another backend, or make it talk to an Azure DevOps agent.
_INHERITED_NOT = (
    _env.RUN_ID,
    _env.BACKEND,
    _env.DEVOPS_AGENT,
    _env.BUILD_NUMBER,
    _env.MLFLOW_RUN_ID,
)


def create_workspace(path: str | os.PathLike[str]) -> Workspace:
    """A new local workspace at `path`: the one place the kit (and our own tests) create one.
    Opening never creates a workspace (a mistyped path must not become an empty registry), so
    a test says where its workspace is made."""
    from champion.local import Workspace

    return Workspace.create(path)


# ---------------------------------------------------------------------- pipeline runs


@dataclass(frozen=True)
class PipelineRunTree:
    """A pipeline run and its step runs, as Azure ML makes them for a submitted pipeline.

    `parent` is the pipeline run (run type `azureml.PipelineRun`, so it has `find_step_run`);
    `steps[name]` is the run of the step called `name`: a child of `parent`, named and displayed
    as the step, with the `azureml.nodeid` and `azureml.pipeline` tags Azure ML sets."""

    workspace: Workspace
    parent: PipelineRun
    steps: Mapping[str, Run]

    @property
    def experiment(self) -> str:
        return str(self.parent.experiment.name)

    def add_step(self, name: str, tags: Mapping[str, Any] | None = None) -> Run:
        """Another step run under the same pipeline run (a retried step, a second training
        step), tagged with `tags`. `steps[name]` keeps the first run of that name."""
        return _step_run(self.workspace, self.parent, name, tags)

    @property
    def decision(self) -> dict[str, Any] | None:
        """The newest decision record on the pipeline run, whichever step call wrote it."""
        from champion.record import read_record

        return read_record(self.parent)


def make_pipeline_run(
    workspace: Workspace,
    parent_tags: Mapping[str, Any] | None = None,
    steps: Mapping[str, Mapping[str, Any] | None] | None = None,
    experiment: str = "pipeline",
) -> PipelineRunTree:
    """A pipeline run in `experiment` tagged with `parent_tags`, and one step run per entry of
    `steps` (step name -> that run's tags; default `DEFAULT_STEPS`), in that order.

    Tags are stored as the service stores them (str of each value). The runs stay "Running", as
    they are while a pipeline's steps execute."""
    from champion.local import Run
    from champion.local.access import store_of
    from champion.local.run import PipelineRun
    from champion.pipeline.local import create_pipeline_run

    chosen = DEFAULT_STEPS if steps is None else steps
    tags = {str(k): None if v is None else str(v) for k, v in (parent_tags or {}).items()}
    parent = Run.get(workspace, create_pipeline_run(store_of(workspace), experiment, tags=tags))
    assert isinstance(parent, PipelineRun)  # the run type makes it one, as in the SDK
    children = {name: _step_run(workspace, parent, name, tags) for name, tags in chosen.items()}
    return PipelineRunTree(workspace, parent, children)


def _step_run(workspace: Workspace, parent: Run, name: str, tags: Mapping[str, Any] | None) -> Run:
    from champion.local import Run
    from champion.local.access import store_of
    from champion.pipeline.local import create_step_run, node_id

    experiment = str(parent.experiment.name)
    store = store_of(workspace)
    run = Run.get(
        workspace, create_step_run(store, experiment, parent.id, name, node_id(experiment, name))
    )
    if tags:
        run.set_tags(dict(tags))
    return run


# ---------------------------------------------------------------------- running a step


@dataclass(frozen=True)
class StepRunResult:
    """How one `run_step` call ended.

    `output` is the step's stdout followed by its stderr (also apart in `stdout` / `stderr`).
    `decision` is the decision record the call wrote on the pipeline run, as a dict, or None
    when it wrote none (a failed step, a step that is not a register step, or a retry that
    restated an earlier decision: `PipelineRunTree.decision` reads the newest one whoever wrote
    it). `cwd` is the fresh folder the step ran in, with whatever it left there."""

    exit_code: int
    stdout: str
    stderr: str
    decision: dict[str, Any] | None
    command: tuple[str, ...]
    cwd: Path
    run_id: str | None = None
    env: Mapping[str, str] = field(default_factory=dict, repr=False)

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


def run_step(
    script_or_module: str | os.PathLike[str],
    *args: str | os.PathLike[str],
    run: PipelineRunTree | Run | None,
    step: str = "register",
    workspace: Workspace | None = None,
    real_sdk: bool = False,
    env: Mapping[str, str | None] | None = None,
    cwd: str | os.PathLike[str] | None = None,
    timeout: float | None = DEFAULT_TIMEOUT_S,
) -> StepRunResult:
    """Run a step as a real process inside a run, as the local pipeline runner does.

    `script_or_module` is a script path (ends in `.py` or names a file; relative to the current
    working folder) run as `python SCRIPT`, or a module (`"champion.steps.register"`) run as
    `python -m MODULE` with the current working folder on `PYTHONPATH`, as from a shell there.

    The process gets the run through the variables the runner sets (`CHAMPION_WORKSPACE`,
    `CHAMPION_RUN_ID`, `CHAMPION_BACKEND=local`): `run` is a `PipelineRunTree` (the step run
    `run.steps[step]` is used), a single `Run`, or None for "outside any run" (then pass
    `workspace`). With `real_sdk=True` it runs under `mock_azureml()` instead, so a step that
    imports `azureml.core` itself gets the real SDK against the same workspace. `env` adds
    variables (None removes one); the step does not inherit `CHAMPION_RUN_ID`,
    `CHAMPION_BACKEND`, `TF_BUILD`, `BUILD_BUILDNUMBER`, `MLFLOW_RUN_ID` or any `AZUREML_*` from
    the test.

    The step runs in a fresh folder (`StepRunResult.cwd`), as a pipeline step does, so give
    paths in `args` absolute (pytest's `tmp_path` is)."""
    step_run = _step_of(run, step)
    ws = workspace if workspace is not None else _workspace_of(run)
    target = os.fspath(script_or_module)
    argv = [os.fspath(arg) for arg in args]
    is_script = target.endswith(".py") or os.sep in target or Path(target).is_file()
    launcher = (
        [sys.executable, "-m", "champion.pipeline.sdk_shim"] if real_sdk else [sys.executable]
    )
    if is_script:
        script = Path(target).expanduser().resolve()
        if not script.is_file():
            raise FileNotFoundError(f"step script not found: {script}")
        command = [*launcher, str(script), *argv]
    else:
        command = [*launcher, "-m", target, *argv]
    full_env = _step_env(ws, step_run, real_sdk=real_sdk, module=not is_script, extra=env)
    folder = Path(cwd) if cwd is not None else _fresh_folder(ws, step_run)
    pipeline_run = _pipeline_run_of(ws, step_run)
    before = _record_names(pipeline_run)
    from champion.pipeline._process import run_in_own_group

    out, err = bytearray(), bytearray()
    try:  # as the runner runs it: the step's process group ends with the step
        code = run_in_own_group(
            command, cwd=folder, env=full_env, stdout=out.extend, stderr=err.extend, timeout=timeout
        )
    except subprocess.TimeoutExpired as exc:
        raise subprocess.TimeoutExpired(
            command, exc.timeout, output=_text(out), stderr=_text(err)
        ) from None
    return StepRunResult(
        exit_code=code,
        stdout=_text(out),
        stderr=_text(err),
        decision=_new_decision(pipeline_run, before),
        command=tuple(command),
        cwd=folder,
        run_id=None if step_run is None else step_run.id,
        env=full_env,
    )


def _text(output: bytes | bytearray) -> str:
    """A step's output as `subprocess.run(..., text=True)` decodes it (the locale's encoding,
    universal newlines), undecodable bytes shown rather than raised."""
    text = bytes(output).decode(locale.getpreferredencoding(False), errors="replace")
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _step_of(run: PipelineRunTree | Run | None, step: str) -> Run | None:
    if not isinstance(run, PipelineRunTree):
        return run
    try:
        return run.steps[step]
    except KeyError:
        raise KeyError(
            f"no step {step!r} in pipeline run {run.parent.id}; its steps are "
            f"{', '.join(map(repr, run.steps)) or 'none'} (pass step=NAME, or add it with "
            "pipeline_run(steps={...}))"
        ) from None


def _workspace_of(run: PipelineRunTree | Run | None) -> Workspace:
    if run is None:
        raise TypeError("run_step(run=None) runs outside any run: pass workspace= too")
    if isinstance(run, PipelineRunTree):
        return run.workspace
    return run.experiment.workspace


def _pipeline_run_of(workspace: Workspace, step_run: Run | None) -> Run | None:
    """The run a register step records on, read afresh through the workspace's folder (the
    caller's objects may hold a connection the test has since closed)."""
    from champion.local import Run, Workspace

    if step_run is None:
        return None
    current = Run.get(Workspace(workspace.path), step_run.id)
    parent: Run | None = current.parent
    return parent if parent is not None else current


def _step_env(
    workspace: Workspace,
    step_run: Run | None,
    *,
    real_sdk: bool,
    module: bool,
    extra: Mapping[str, str | None] | None,
) -> dict[str, str]:
    env = {
        k: v
        for k, v in _env.inherited().items()
        if k not in _INHERITED_NOT and not k.startswith("AZUREML_")
    }
    env[_env.WORKSPACE] = str(workspace.path)
    env["PYTHONUNBUFFERED"] = "1"
    if not real_sdk:  # under the real SDK the shim selects the azureml backend itself
        env[_env.BACKEND] = "local"
    if step_run is not None:
        env[_env.RUN_ID] = step_run.id
    if module:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [os.getcwd(), _env.pythonpath()]))
    for key, value in (extra or {}).items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return env


def _fresh_folder(workspace: Workspace, step_run: Run | None) -> Path:
    """A new working folder where the local runner keeps its steps' ones, holding `outputs/`
    and `logs/`, as Azure ML's job runtime (and the local runner) make them before a step
    starts."""
    owner = "no-run" if step_run is None else step_run.id
    folder = workspace.path / STEPS_FOLDER / "tests" / owner / uuid.uuid4().hex[:12]
    folder.mkdir(parents=True)
    for made in ("outputs", "logs"):
        (folder / made).mkdir()
    return folder


def _record_names(pipeline_run: Run | None) -> set[str]:
    from champion.record import record_names

    if pipeline_run is None:
        return set()
    return set(record_names(pipeline_run.get_file_names()))


def _new_decision(pipeline_run: Run | None, before: set[str]) -> dict[str, Any] | None:
    from champion.record import newest_record

    if pipeline_run is None:
        return None
    newest = newest_record(pipeline_run)
    if newest is None or newest[0] in before:
        return None
    return newest[1]


# ---------------------------------------------------------------------- "nothing changed"


def workspace_state(workspace: Workspace | str | os.PathLike[str]) -> dict[str, Any]:
    """Every row of every table and every stored file of a local workspace, as comparable data.

    Take it before a step that must refuse its input and compare after: equal means the
    registry, the runs and the files are exactly as they were, which is what a refusal owes."""
    import sqlite3

    root = Path(workspace.path if hasattr(workspace, "path") else workspace)
    database = root / "workspace.db"
    if not database.is_file():  # connecting would create an empty one
        raise FileNotFoundError(f"no local workspace at {root} (no workspace.db)")
    conn = sqlite3.connect(database)
    try:
        tables = [
            r[0]
            for r in conn.execute(
                "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%'"
            )
        ]
        rows = {t: sorted(map(repr, conn.execute(f"SELECT * FROM {t}"))) for t in tables}
    finally:
        conn.close()
    blobs = root / "blobs"
    files = sorted(str(p.relative_to(root)) for p in blobs.rglob("*") if p.is_file())
    return {"rows": rows, "blobs": files}
