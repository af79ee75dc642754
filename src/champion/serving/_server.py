"""The one module that starts Azure ML's inference HTTP server (`azureml-inference-server-http`,
the `[serve]` extra) in this process, bound to 127.0.0.1.

Why Azure ML's server and not a home-made one: it is the server Azure ML documents for running
and debugging entry scripts locally, and what its scoring containers run. It loads the entry
script, calls `init()` once per worker, passes each request body to `run()` exactly as Azure ML
does (a string for an undecorated `run(raw_data)`; `@rawhttp` and `@input_schema` work too),
answers `GET /` with "Healthy", turns `run`'s return value into JSON and an exception in `run`
into a 500, under gunicorn. So an entry script that works under `champion serve` works in an
Azure ML deployment, and one that fails there fails here first. It runs offline: Application
Insights stays off unless a key is configured.

One thing is changed: the package binds `0.0.0.0` (every interface, as a container must). A
local endpoint is for this machine only, so the host it binds is set to 127.0.0.1 before it
starts; everything else is the package's own code path (`azmlinfsrv`'s `run()`).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

HOST = "127.0.0.1"


def run_server(entry_script: Path, model_dir: Path, app_root: Path, port: int) -> None:
    """Serve until stopped (SIGTERM or Ctrl-C: gunicorn stops its workers, then exits with
    SystemExit). `AML_APP_ROOT` is the deployment's folder, holding `azureml-models/`, so
    `Model.get_model_path(name)` finds the model as in an Azure ML container; the entry script's
    folder is on `sys.path`, as the source directory of a deployment is."""
    from azureml_inference_server_http import amlserver

    os.environ["AML_APP_ROOT"] = str(app_root)
    os.environ["AZUREML_SOURCE_DIRECTORY"] = str(entry_script.parent)
    # gunicorn's control socket is one per user ($HOME/.gunicorn/gunicorn.ctl): two local
    # endpoints would take it from each other, and nothing here uses it
    os.environ["GUNICORN_CMD_ARGS"] = "--no-control-socket"
    amlserver.DEFAULT_HOST = HOST
    sys.argv = [
        "azmlinfsrv",
        *("--entry_script", str(entry_script)),
        *("--model_dir", str(model_dir)),
        *("--port", str(port)),
    ]
    master = os.getpid()
    try:
        amlserver.run()
    except BaseException as stop:
        # gunicorn forks its workers from inside run(): a worker ends by raising SystemExit up
        # this same stack. It must leave here, as gunicorn's own workers do, and never run
        # the cleanup written for the serving process (mark the deployment stopped, remove
        # the model folder) that sits above this call.
        if os.getpid() != master:
            code = stop.code if isinstance(stop, SystemExit) else 1
            os._exit(code if isinstance(code, int) else 1)
        raise
