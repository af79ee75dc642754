"""`champion serve NAME` and `champion deployments list`: a local real-time endpoint with Azure
ML's scoring contract, and the deployments the local workspace records for it."""

from __future__ import annotations

import argparse
from pathlib import Path

from champion.cli import _output
from champion.cli._app import Commands, model_name, open_workspace, version_number
from champion.cli._output import Column, short_when


def add_to(commands: Commands) -> None:
    serve = commands.command(
        "serve",
        cmd_serve,
        help="serve a model over HTTP on 127.0.0.1 (Azure ML's scoring contract)",
        description="Serve the champion of NAME (or --version) with Azure ML's inference "
        'server on 127.0.0.1 until Ctrl-C: POST /score with {"data": [...]} returns run()\'s '
        "JSON, GET / answers health. The entry script defines init() and run(raw_data) and "
        "finds the model through AZUREML_MODEL_DIR or Model.get_model_path(NAME); without "
        "--entry-script a default one for joblib/scikit-learn models answers with the "
        "predictions. While it runs the version is a deployment of the workspace and cannot "
        "be deleted. Needs the [serve] extra.",
        examples=[
            "champion serve iris",
            "champion serve iris --version 2 --port 8891 --entry-script score.py",
        ],
        formats=_output.TEXT,
        passthrough=True,
    )
    serve.add_argument("name", type=model_name, help="the model's registered name")
    serve.add_argument(
        "--version", type=version_number, help="the version to serve (default: the champion)"
    )
    serve.add_argument(
        "--entry-script",
        type=Path,
        metavar="FILE",
        help="scoring script with init() and run(raw_data) (default: champion's for "
        "joblib/scikit-learn models)",
    )
    serve.add_argument(
        "--port", type=port_number, default=8890, help="port on 127.0.0.1 (default: 8890)"
    )
    serve.add_argument(
        "--deployment-name",
        type=model_name,
        metavar="NAME",
        help="the deployment's name in 'champion deployments list' (default: the model's)",
    )

    deployments = commands.group(
        "deployments",
        help="models served by 'champion serve'",
        description="The deployments the local workspace records: what 'champion serve' "
        "serves or served, and whether its process still runs.",
        examples=["champion deployments list", "champion deployments list --json"],
    )
    deployments.command(
        "list",
        cmd_list,
        help="every deployment, newest first, with its status",
        description="Every deployment, newest first. status: running (its process serves), "
        "stopped (it stopped cleanly), gone (its process ended without stopping: killed or "
        "crashed). Only a running deployment keeps its versions from being deleted.",
        examples=["champion deployments list", "champion deployments list --format csv"],
    )


def port_number(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number") from None
    if not 1 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number (1 to 65535)")
    return value


def cmd_serve(args: argparse.Namespace) -> int:
    from champion.serving import serve

    ws = open_workspace(args, write=True)
    serve(
        ws,
        args.name,
        version=args.version,
        entry_script=args.entry_script,
        port=args.port,
        deployment_name=args.deployment_name,
        debug=args.debug,
        announce=lambda text: print(text, flush=True),
    )
    print("champion: the server stopped; the deployment is recorded as stopped", flush=True)
    return 0


_LIST = (
    Column("name", "deployment"),
    Column("model", "model"),
    Column("versions", "version(s)"),
    Column("status", "status"),
    Column("port", "port"),
    Column("pid", "pid"),
    Column("started", "started (UTC)", short_when),
    Column("stopped", "stopped (UTC)", short_when),
    Column("entry_script", None),
)


def cmd_list(args: argparse.Namespace) -> int:
    from champion.local.access import deployments

    rows = [
        {
            "name": d.name,
            "model": ", ".join(sorted({m for m, _ in d.models})),
            "versions": ", ".join(f"{m}:{v}" for m, v in d.models),
            "status": d.status,
            "port": d.port,
            "pid": d.pid,
            "started": d.started_utc,
            "stopped": d.stopped_utc,
            "entry_script": d.entry_script,
        }
        for d in deployments(open_workspace(args))
    ]
    _output.records(_LIST, rows)
    return 0
