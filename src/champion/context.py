"""Which backend this process talks to: the ONE table from which its run and registry are built.

Why one place: step code must not branch on "am I offline?" (the MLOpsPython habit of
`run.id.startswith('OfflineRun')`), and the gate must not branch on which workspace it was
given. The backend is chosen here from a small table; everything downstream sees the same
`Registry` and `ParentRun` Protocols (`champion.registry`).

- `CHAMPION_BACKEND=local|azureml|azureml-v2|mlflow` (or a command's `--backend`) chooses
  explicitly.
- Otherwise `AZUREML_RUN_ID` (set by Azure ML's job runtime) means azureml, or azureml-v2 when
  the job is a v2 one (`MLFLOW_TRACKING_URI` and an `AZURE_ML_INPUT_`/`AZURE_ML_OUTPUT_`
  variable: `champion._env.in_v2_job`); then `MLFLOW_RUN_ID` (MLflow's active run, set by the
  mlflow pipeline runner) means mlflow; anything else means the local workspace, whose runner
  sets `CHAMPION_WORKSPACE` and `CHAMPION_RUN_ID`.
- A run or workspace object handed in (a test's, the CLI's) carries its backend with it: a
  `champion.local` object is the local backend, a `champion.registry.azureml_v2` one is
  azureml-v2, a `champion.registry.mlflow` one is mlflow, any other SDK-shaped one is azureml
  (the real SDK, also under `mock_azureml()`).

Each backend's module is imported only when chosen, so the local path never imports azureml,
and nothing imports mlflow unless the mlflow backend is used.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from champion import _env
from champion.errors import InputError
from champion.registry import BackendOptions, ParentRun, Registry

__all__ = [
    "BACKENDS",
    "BACKEND_ENV",
    "backend_name",
    "control_outputs_of",
    "get_registry",
    "get_run",
    "get_workspace",
    "run_of",
]

BACKEND_ENV = _env.BACKEND


@dataclass(frozen=True)
class _Backend:
    run: Callable[[], Any]
    """The step's run, or the SDK's RunEnvironmentException outside one."""
    workspace: Callable[[], Any]
    """The configured workspace, for a process without a run."""
    registry: Callable[[Any, BackendOptions], Registry]
    """The registry of a workspace of this backend, with the options it was given."""
    parent: Callable[[Any], ParentRun | None]
    """The pipeline run of a step run of this backend, as a `ParentRun` (None: no parent)."""
    workspace_of: Callable[[Any], Any]
    """The workspace a run of this backend belongs to."""


def _local_parent(step_run: Any) -> ParentRun | None:
    from champion.registry.local import LocalParentRun

    parent = step_run.parent
    return None if parent is None else LocalParentRun(parent)


def _sdk_workspace_of(run: Any) -> Any:
    return run.experiment.workspace


def _local_run() -> Any:
    from champion._retry import classify
    from champion.local import Run

    try:
        return Run.get_context(allow_offline=False)
    except Exception as exc:
        # the SDK's 404, as Azure ML answers it; here the id came from the user's environment
        run_id = _env.run_id()
        if not run_id or classify(exc)[2] != 404:
            raise
        where = _env.workspace() or "the nearest .champion/ folder"
        raise InputError(
            f"{_env.RUN_ID}={run_id!r} names no run in the local workspace ({where}); set it "
            f"to a run of that workspace, point {_env.WORKSPACE} at the workspace that holds "
            "the run, or unset it to run outside a pipeline",
            field=_env.RUN_ID,
            value=run_id,
        ) from None


def _local_workspace() -> Any:
    from champion.local import Workspace

    return Workspace.from_config()


def _no_options(backend: str, options: BackendOptions) -> None:
    """Options only MLflow has are refused by the others before anything is read or written."""
    if options.given:
        flags = " and ".join(options.given)
        raise InputError(
            f"{flags} apply to an MLflow registry (--backend mlflow); the {backend} backend's "
            "champion is the latest version and it has no stages. Remove the option.",
            field=options.given[0],
            value=options.champion_alias or options.stage,
        )


def _local_registry(workspace: Any, options: BackendOptions) -> Registry:
    from champion.registry.local import LocalRegistry

    _no_options("local", options)
    return LocalRegistry(workspace)


def _azureml_run() -> Any:
    from champion.registry.azureml import current_run

    return current_run()


def _azureml_workspace() -> Any:
    from champion.registry.azureml import configured_workspace

    return configured_workspace()


def _azureml_parent(step_run: Any) -> ParentRun | None:
    from champion.registry.azureml import parent_run

    return parent_run(step_run)


def _azureml_registry(workspace: Any, options: BackendOptions) -> Registry:
    from champion.registry.azureml import AzureMLRegistry

    _no_options("azureml", options)
    return AzureMLRegistry(workspace)


def _mlflow_run() -> Any:
    from champion.registry.mlflow import current_run

    return current_run()


def _mlflow_workspace() -> Any:
    from champion.registry.mlflow import connect

    return connect()


def _mlflow_registry(workspace: Any, options: BackendOptions) -> Registry:
    from champion.registry.mlflow import MlflowRegistry

    return MlflowRegistry(workspace, alias=options.champion_alias, stage=options.stage)


def _mlflow_parent(step_run: Any) -> ParentRun | None:
    return step_run.parent_run()  # type: ignore[no-any-return]


def _mlflow_workspace_of(run: Any) -> Any:
    return run.workspace


def _v2_run() -> Any:
    from champion.registry.azureml_v2 import current_run

    return current_run()


def _v2_workspace() -> Any:
    from champion.registry.azureml_v2 import configured_workspace

    return configured_workspace()


def _v2_registry(workspace: Any, options: BackendOptions) -> Registry:
    from champion.registry.azureml_v2 import AzureMLV2Registry

    _no_options("azureml-v2", options)
    return AzureMLV2Registry(workspace)


def _v2_workspace_of(run: Any) -> Any:
    return run.v2_workspace


_BACKENDS: dict[str, _Backend] = {
    "local": _Backend(
        _local_run, _local_workspace, _local_registry, _local_parent, _sdk_workspace_of
    ),
    "azureml": _Backend(
        _azureml_run, _azureml_workspace, _azureml_registry, _azureml_parent, _sdk_workspace_of
    ),
    "mlflow": _Backend(
        _mlflow_run, _mlflow_workspace, _mlflow_registry, _mlflow_parent, _mlflow_workspace_of
    ),
    "azureml-v2": _Backend(_v2_run, _v2_workspace, _v2_registry, _mlflow_parent, _v2_workspace_of),
}
BACKENDS = tuple(_BACKENDS)
"""The backends' names, as `--backend` and `CHAMPION_BACKEND` take them."""


def backend_name() -> str:
    """The backend this process was started for (see the module docstring)."""
    explicit = _env.backend()
    if explicit:
        if explicit not in _BACKENDS:
            raise InputError(
                f"{BACKEND_ENV}={explicit!r} is not a backend; use one of {sorted(_BACKENDS)}",
                field=BACKEND_ENV,
                value=explicit,
            )
        return explicit
    if _env.azureml_run_id():
        return "azureml-v2" if _env.in_v2_job() else "azureml"
    return "mlflow" if _env.mlflow_run_id() else "local"


def _backend_of(obj: object) -> _Backend:
    """The backend an object belongs to, told by its class's module (no import)."""
    module = type(obj).__module__
    if module.startswith("champion.registry.azureml_v2"):
        return _BACKENDS["azureml-v2"]
    if module.startswith("champion.registry.mlflow"):
        return _BACKENDS["mlflow"]
    return _BACKENDS["local" if module.startswith("champion.local") else "azureml"]


def get_run() -> Any:
    """The run this step belongs to. Raises the SDK's RunEnvironmentException outside a run,
    rather than handing back an offline run that silently drops tags and registrations."""
    return _BACKENDS[backend_name()].run()


def get_workspace(run: Any = None) -> Any:
    """The run's workspace when there is a run, else the configured one."""
    if run is not None:
        return _backend_of(run).workspace_of(run)
    return _BACKENDS[backend_name()].workspace()


def get_registry(
    workspace: object = None, options: BackendOptions | None = None, *, backend: str | None = None
) -> Registry:
    """The registry of `workspace` (a `champion.local.Workspace`, an `azureml.core.Workspace` or
    a `champion.registry.mlflow.MlflowWorkspace`), or of the workspace `backend` (default: the
    one this process is configured for) is configured with. A `Registry` is returned as it is."""
    if all(callable(getattr(type(workspace), m, None)) for m in ("champion", "register")):
        return workspace  # type: ignore[return-value]  # a Registry already
    options = options or BackendOptions()
    if workspace is None:
        row = _BACKENDS[backend or backend_name()]
        return row.registry(row.workspace(), options)
    return _backend_of(workspace).registry(workspace, options)


def run_of(
    step_run: object, options: BackendOptions | None = None
) -> tuple[str, ParentRun | None, Registry]:
    """For the step's run as the SDK gives it: its id, its pipeline run (None when it has no
    parent) and the registry of its workspace, built by the same backend."""
    backend = _backend_of(step_run)
    run: Any = step_run
    registry = backend.registry(backend.workspace_of(run), options or BackendOptions())
    return str(run.id), backend.parent(run), registry


def control_outputs_of(step_run: object) -> Callable[[Mapping[str, object]], None]:
    """How the step run `step_run` hands control outputs (`is_control: true`, what
    `dsl.condition` reads) to its pipeline; InputError where its backend has none (only an
    Azure ML v2 job does)."""
    write = getattr(step_run, "set_control_outputs", None)
    if not callable(write):
        raise InputError(
            "--control-outputs hands `promoted` to an Azure ML v2 pipeline; this step runs on "
            f"the {_backend_name_of(step_run)} backend, which has no control outputs. Remove "
            "the option, or run the step in a v2 pipeline (--backend azureml-v2)",
            field="--control-outputs",
            value=None,
        )
    return write  # type: ignore[no-any-return]


def _backend_name_of(obj: object) -> str:
    row = _backend_of(obj)
    return next(name for name, backend in _BACKENDS.items() if backend is row)
