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

The server itself is `_server.py`, the only module that imports the `[serve]` extra; importing
this package imports neither it nor the extra.
"""

from __future__ import annotations

import contextlib
import errno
import shutil
import socket
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from importlib import util
from pathlib import Path
from typing import Any

from champion.errors import InfrastructureError, InputError

__all__ = ["DEFAULT_ENTRY_SCRIPT", "DEFAULT_PORT", "HOST", "Deployment", "check_port", "serve"]

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
    if util.find_spec("azureml_inference_server_http") is None:
        raise InfrastructureError(
            "champion serve needs Azure ML's inference server: pip install 'champion[serve]'",
            field="serve",
            value="azureml-inference-server-http",
        )


def check_port(port: int) -> None:
    """Refuse a port another process listens on, before anything is downloaded or recorded."""
    with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as probe:
        try:
            probe.bind((HOST, port))
        except OSError as exc:
            taken = exc.errno in (errno.EADDRINUSE, errno.EACCES)
            raise InputError(
                f"port {port} on {HOST} "
                + ("is in use" if taken else f"cannot be used ({exc.strerror})")
                + "; choose another with --port",
                field="--port",
                value=port,
            ) from None


def serve(
    workspace: Any,
    name: str,
    *,
    version: int | None = None,
    entry_script: Path | None = None,
    port: int = DEFAULT_PORT,
    deployment_name: str | None = None,
    announce: Callable[[str], None] = print,
) -> None:
    """Serve `name` (`version`, else the champion) from the local `workspace` until stopped.

    Raises InputError for a missing entry script, a taken port or deployment name, no such
    version or no champion, before anything is recorded; returns when the server has stopped."""
    from champion.context import get_registry
    from champion.local import access

    require_server()
    script = (entry_script or DEFAULT_ENTRY_SCRIPT).resolve()
    if not script.is_file():
        raise InputError(
            f"entry script not found: {script}", field="--entry-script", value=str(script)
        )
    check_port(port)
    registry = get_registry(workspace)
    if version is None:
        champion = registry.champion(name)
        if champion is None:
            raise InputError(
                f"model {name!r} has no champion yet: no version is registered",
                field="name",
                value=name,
            )
        version = champion.version
    folder = Path(tempfile.mkdtemp(prefix="champion-serve-"))
    try:
        model_dir = folder / MODELS_FOLDER / name / str(version)
        registry.download(name, version, model_dir)
        deployment = Deployment(deployment_name or name, name, version, port, script, model_dir)
        with access.deployment(workspace, deployment.name, [(name, version)], port, script):
            announce(
                f"champion: serving {name}:{version} as deployment {deployment.name} on "
                f"{deployment.url} (entry script {script}); Ctrl-C stops it"
            )
            from champion.serving._server import run_server

            with contextlib.suppress(SystemExit):  # gunicorn's way of saying it has stopped
                run_server(script, model_dir, folder, port)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
