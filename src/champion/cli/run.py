"""`champion run`: a pipeline file on the local workspace."""

from __future__ import annotations

import argparse
from pathlib import Path

from champion.cli import _output
from champion.cli._app import Commands
from champion.errors import InputError


def add_to(commands: Commands) -> None:
    run = commands.command(
        "run",
        cmd_run,
        help="run a pipeline file on the local workspace",
        description="Run a pipeline file (e.g. pipelines/iris.py) locally; arguments after "
        "the file go to its main(). Its output is the pipeline's own (no --json).",
        examples=[
            "champion run pipelines/iris.py",
            "champion run pipelines/iris.py --data sample_data/iris_clean.csv",
        ],
        formats=_output.TEXT,
        passthrough=True,
    )
    run.add_argument("pipeline_file", type=Path, help="a pipeline file with a main(argv)")
    run.add_argument(
        "pipeline_args", nargs=argparse.REMAINDER, help="arguments for the pipeline's main()"
    )


def cmd_run(args: argparse.Namespace) -> int:
    from champion.pipeline.local import load_pipeline_file

    if not args.pipeline_file.is_file():
        raise InputError(
            f"pipeline file {str(args.pipeline_file)!r} does not exist",
            field="pipeline_file",
            value=str(args.pipeline_file),
        )
    module = load_pipeline_file(args.pipeline_file)
    pipeline_args = list(args.pipeline_args)
    if args.workspace is not None:
        pipeline_args = ["--workspace", str(args.workspace), *pipeline_args]
    return int(module.main(pipeline_args))
