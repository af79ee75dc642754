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

What is changed, and only through the hooks the package and gunicorn offer: it serves on the
port `champion serve` claimed on 127.0.0.1 (the package binds every interface, as a container
must); gunicorn's worker is the threaded one, with every wait on a client bounded
(`_gunicorn`, `_worker`, `_sockets`); the body of a scoring request is read whole, at most 16
MiB, before the one `run()` at a time (`_guard`); the log's tracebacks are cut to one line
unless --debug (`_logs`, through the deployment's logging.json, which the package loads from
AML_APP_ROOT unless the entry script's folder has its own); and a worker that cannot start says
why, for `serve` to exit with (`_worker`).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from champion.errors import InfrastructureError
from champion.serving._setup import Setup, install

HOST = "127.0.0.1"
LOG_CONFIG = "logging.json"
FORMATTER = "champion.serving._logs.OneLine"


def run_server(setup: Setup, model_dir: Path) -> None:
    """Serve until stopped (SIGTERM or Ctrl-C: gunicorn stops its workers, then returns).

    Raises the worker's reason when the entry script could not start (InputError for the
    user's script, 2), InfrastructureError when the server stopped for another reason.
    `AML_APP_ROOT` is the deployment's folder, holding `azureml-models/`, so
    `Model.get_model_path(name)` finds the model as in an Azure ML container; the entry
    script's folder is on `sys.path`, as the source directory of a deployment is."""
    from azureml_inference_server_http import amlserver

    install(setup)
    _write_log_config(setup, Path(amlserver.__file__).with_name(LOG_CONFIG))
    os.environ["AML_APP_ROOT"] = str(setup.folder)
    os.environ["AZUREML_SOURCE_DIRECTORY"] = str(setup.entry_script.parent)
    os.environ["GUNICORN_CMD_ARGS"] = "--config python:champion.serving._gunicorn"
    amlserver.DEFAULT_HOST = HOST
    sys.argv = [
        "azmlinfsrv",
        *("--entry_script", str(setup.entry_script)),
        *("--model_dir", str(model_dir)),
        *("--port", str(setup.listener.getsockname()[1])),
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
        if not isinstance(stop, SystemExit):
            raise  # interrupted
        if stop.code in (0, None):
            return  # gunicorn's way of saying it stopped, on SIGTERM or Ctrl-C
        raise setup.boot_failure() or InfrastructureError(
            f"the inference server stopped before it served (gunicorn exited {stop.code}); "
            "the lines above say why",
            field="serve",
            value=stop.code,
        ) from None


def _write_log_config(setup: Setup, package_config: Path) -> None:
    """The package's own logging.json with our formatter, in AML_APP_ROOT where the package
    looks first; an entry script that brings its own logging.json keeps it."""
    if (setup.entry_script.parent / LOG_CONFIG).is_file():
        return
    config = json.loads(package_config.read_text(encoding="utf-8"))
    for formatter in config.get("formatters", {}).values():
        formatter["class"] = FORMATTER
    (setup.folder / LOG_CONFIG).write_text(json.dumps(config), encoding="utf-8")
