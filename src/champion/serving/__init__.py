"""A local real-time endpoint with Azure ML's scoring contract: `champion serve NAME`.

What it does, in order: resolve the version (the one asked for, else the champion, through the
workspace's `Registry`); download it verified into a deployment folder laid out as an Azure ML
scoring container's (`<folder>/azureml-models/<name>/<version>/`, `AZUREML_MODEL_DIR` pointing
there); record a deployment in the local workspace (its name, the version, the port and this
process); then run Azure ML's inference HTTP server in this process on 127.0.0.1 with the entry
script (`init()`/`run(raw_data)`; without one, `score_sklearn.py` beside this file). When the
server stops, the deployment is marked stopped and the folder removed. While it runs, the
version cannot be deleted; if the process is killed, the deployment is no longer active because
its process is gone (`champion.local.store.processes`), so nothing stays locked.

The port is claimed first and held until the server stops (`_sockets.claim_port`), so a port
another process takes in the meantime cannot turn into a server that never started. The server
itself is `_server.py`, the only module that imports the `[serve]` extra (with gunicorn's
config module and worker beside it); importing this package imports neither it nor the extra.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from champion.errors import InfrastructureError, InputError

__all__ = ["DEFAULT_ENTRY_SCRIPT", "DEFAULT_PORT", "HOST", "Deployment", "serve"]

HOST = "127.0.0.1"
DEFAULT_PORT = 8890
DEFAULT_ENTRY_SCRIPT = Path(__file__).with_name("score_sklearn.py")
MODELS_FOLDER = "azureml-models"


@dataclass(frozen=True)
class Deployment:
    """What is being served: the deployment's name, the version, where, and with what."""

    name: str
    model: str
    version: int
    port: int
    entry_script: Path
    model_dir: Path

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}/score"


def require_server() -> None:
    """The `[serve]` extra is installed, or one line saying how to install it."""
    from champion._extras import is_installed, missing_message

    if not is_installed("serve"):
        raise InfrastructureError(
            missing_message("serve"),
            field="serve",
            value="azureml-inference-server-http",
        )


def serve(
    workspace: Any,
    name: str,
    *,
    version: int | None = None,
    entry_script: Path | None = None,
    port: int = DEFAULT_PORT,
    deployment_name: str | None = None,
    debug: bool = False,
    announce: Callable[[str], None] = print,
) -> None:
    """Serve `name` (`version`, else the champion) from the local `workspace` until stopped.

    Raises InputError for a missing entry script, a taken port or deployment name, no such
    model, version or champion, before anything is recorded, and for an entry script that
    cannot start (its file:line); returns when the server has stopped. `debug` keeps the
    tracebacks in the server's log."""
    from champion.context import get_registry
    from champion.local import access
    from champion.serving._setup import Setup
    from champion.serving._sockets import claim_port

    require_server()
    script = (entry_script or DEFAULT_ENTRY_SCRIPT).resolve()
    if not script.is_file():
        raise InputError(
            f"entry script not found: {script}", field="--entry-script", value=str(script)
        )
    listener = claim_port(HOST, port)
    try:
        registry = get_registry(workspace)
        if version is None:
            version = _champion_version(workspace, registry, name)
        folder = Path(tempfile.mkdtemp(prefix="champion-serve-"))
        try:
            model_dir = folder / MODELS_FOLDER / name / str(version)
            registry.download(name, version, model_dir)
            deployment = Deployment(deployment_name or name, name, version, port, script, model_dir)
            setup = Setup(listener, script, script == DEFAULT_ENTRY_SCRIPT.resolve(), folder, debug)
            with access.deployment(workspace, deployment.name, [(name, version)], port, script):
                announce(
                    f"champion: serving {name}:{version} as deployment {deployment.name} on "
                    f"{deployment.url} (entry script {script}); Ctrl-C stops it"
                )
                from champion.serving._server import run_server

                run_server(setup, model_dir)
        finally:
            shutil.rmtree(folder, ignore_errors=True)
    finally:
        listener.close()


def _champion_version(workspace: Any, registry: Any, name: str) -> int:
    """The champion's version, or the error saying which name was meant (the local
    workspace's names are cheap to list, so close ones are suggested)."""
    champion = registry.champion(name)
    if champion is None:
        from champion.local import Model
        from champion.registry.absent import no_champion

        names = [str(m.name) for m in Model.list(workspace, latest=True, expand=False)]
        raise no_champion(registry, name, names=names)
    return int(champion.version)
