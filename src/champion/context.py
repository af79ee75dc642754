"""Where a step gets its run: the ONE switch between `azureml.core` and `champion.local`.

Why one place: step code must not branch on "am I offline?" (the MLOpsPython habit of
`run.id.startswith('OfflineRun')`). The backend is chosen here from a small table, by the
environment the step runs in, and everything downstream sees the same Run/Model API.

- `CHAMPION_BACKEND=local|azureml` chooses explicitly.
- Otherwise `AZUREML_RUN_ID` (set by Azure ML's job runtime) means azureml; anything else means
  the local workspace, whose runner sets `CHAMPION_WORKSPACE` and `CHAMPION_RUN_ID`.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from champion.errors import InputError

BACKEND_ENV = "CHAMPION_BACKEND"


def _local_run() -> Any:
    from champion.local import Run

    return Run.get_context(allow_offline=False)


def _azureml_run() -> Any:
    from azureml.core import Run

    from champion.retry import call_with_retry

    # get_context() GETs the run: a transient failure at start-up is retried like any other
    return call_with_retry("loading the step's run", lambda: Run.get_context(allow_offline=False))


def _local_workspace() -> Any:
    from champion.local import Workspace

    return Workspace.from_config()


def _azureml_workspace() -> Any:
    from azureml.core import Workspace

    return Workspace.from_config()


_BACKENDS: dict[str, tuple[Callable[[], Any], Callable[[], Any]]] = {
    "local": (_local_run, _local_workspace),
    "azureml": (_azureml_run, _azureml_workspace),
}


def backend_name() -> str:
    explicit = os.environ.get(BACKEND_ENV)
    if explicit:
        if explicit not in _BACKENDS:
            raise InputError(
                f"{BACKEND_ENV}={explicit!r} is not a backend; use one of {sorted(_BACKENDS)}",
                field=BACKEND_ENV,
                value=explicit,
            )
        return explicit
    return "azureml" if os.environ.get("AZUREML_RUN_ID") else "local"


def get_run() -> Any:
    """The run this step belongs to. Raises the SDK's RunEnvironmentException outside a run,
    rather than handing back an offline run that silently drops tags and registrations."""
    return _BACKENDS[backend_name()][0]()


def get_workspace(run: Any = None) -> Any:
    """The run's workspace when there is a run, else the configured one."""
    if run is not None:
        return run.experiment.workspace
    return _BACKENDS[backend_name()][1]()


def model_class(workspace: Any) -> Any:
    """The `Model` class that belongs with this workspace object (local or azureml)."""
    from champion.local import Workspace as LocalWorkspace

    if isinstance(workspace, LocalWorkspace):
        from champion.local import Model as LocalModel

        return LocalModel
    from azureml.core import Model

    return Model


def registry_lock(workspace: Any) -> contextlib.AbstractContextManager[Any]:
    """Hold the registry while the champion is looked up, compared and replaced.

    The local workspace can: one SQLite write transaction (BEGIN IMMEDIATE) spans the lookup,
    the decision and the registration, so racing challengers are serialised and the final
    champion is always the best. Azure ML has no such lock; there the gate re-reads the champion
    before registering and verifies afterwards (see gate.py)."""
    from champion.local import Workspace as LocalWorkspace

    if isinstance(workspace, LocalWorkspace):
        return workspace._store.transaction()
    return contextlib.nullcontext()


def staged_upload(workspace: Any, paths: Sequence[Path]) -> contextlib.AbstractContextManager[Any]:
    """Upload these files' bytes before `registry_lock` is taken, where the backend can.

    The local workspace streams and hashes them into its tmp/ now, and `Model.register` inside
    the lock then takes the staged copies: the lock is held for the lookup, the decision and a
    rename, never for copying a large model. Azure ML holds no lock, so there is nothing to do."""
    from champion.local import Workspace as LocalWorkspace

    if isinstance(workspace, LocalWorkspace) and paths:
        return workspace._store.prestaged(paths)
    return contextlib.nullcontext()


def latest_model(workspace: Any, name: str) -> Any:
    """`Model(ws, name)`: the latest version of `name`, or None for the local workspace when
    there is none. Azure's answer to "none" is the SDK's ModelNotFound exception (the caller
    tells it apart); the local workspace answers directly, because building the SDK's exception
    imports azureml (~600 modules, ~0.6 s) on a first model's otherwise light path."""
    from champion.local import Workspace as LocalWorkspace

    if isinstance(workspace, LocalWorkspace):
        from champion.local import Model as LocalModel

        found = workspace._store.query_models(name=name, limit=1)
        return LocalModel(workspace, _record=found[0], expand=False) if found else None
    return model_class(workspace)(workspace, name, expand=False)
