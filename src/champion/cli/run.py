"""`champion run` and `champion pipeline`: drive a pipeline file, locally or on Azure ML.

Both hand the file to the library's driver (`champion.pipeline.driver`), which reads the
file's `build_spec` and turns its parameters into options; the output is the pipeline's own
(no `--json`).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from champion.cli import _output
from champion.cli._app import Commands

_MODES = (
    ("run", "run it on the local workspace", "--data sample_data/iris_clean.csv"),
    ("validate", "build the Azure ML pipeline offline and check it", ""),
    ("submit", "submit a run to the Azure ML workspace in config.json", "--wait"),
    ("publish", "publish it to Azure ML, version = --build-number", "--build-number 42"),
)


def add_to(commands: Commands) -> None:
    run = commands.command(
        "run",
        cmd_run,
        help="run a pipeline file (as `python FILE`; same as `champion pipeline run`)",
        description="Run a pipeline file (e.g. pipelines/iris.py) on the local workspace, with "
        "the options of `python FILE` (--validate, --submit, --publish choose Azure ML). Its "
        "output is the pipeline's own (no --json).",
        examples=[
            "champion run pipelines/iris.py",
            "champion run pipelines/iris.py --data sample_data/iris_clean.csv",
        ],
        formats=_output.TEXT,
        passthrough=True,
    )
    _file_arguments(run)

    pipeline = commands.group(
        "pipeline",
        help="run, validate, submit or publish a pipeline file",
        description="Drive a pipeline file, a module defining build_spec(*, ...) -> "
        "PipelineSpec: locally, or on Azure ML. Options after FILE include the file's own "
        "(its build_spec parameters); `champion pipeline MODE FILE --help` lists them.",
        examples=[f"champion pipeline {mode} pipelines/iris.py" for mode, _, _ in _MODES],
    )
    for mode, text, example in _MODES:
        sub = pipeline.command(
            mode,
            cmd_pipeline,
            help=text,
            description=f"{text[0].upper()}{text[1:]}.",
            examples=[f"champion pipeline {mode} pipelines/iris.py {example}".rstrip()],
            formats=_output.TEXT,
            passthrough=True,
        )
        sub.set_defaults(pipeline_mode=mode)
        _file_arguments(sub)


def _file_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("pipeline_file", type=Path, metavar="FILE", help="the pipeline file")
    parser.add_argument(
        "pipeline_args",
        nargs=argparse.REMAINDER,
        metavar="...",
        help="--data, --build-number, the file's own options; FILE --help lists them",
    )


def cmd_run(args: argparse.Namespace) -> int:
    """`champion run FILE ...`: `python FILE ...` through the driver (mode flags included)."""
    from champion.pipeline.driver import main as drive

    return drive(_pipeline_args(args), file=args.pipeline_file, prog="champion run")


def cmd_pipeline(args: argparse.Namespace) -> int:
    from champion.pipeline.driver import main as drive

    mode = args.pipeline_mode
    return drive(
        _pipeline_args(args, local=mode == "run"),
        file=args.pipeline_file,
        mode=mode,
        prog=f"champion pipeline {mode}",
    )


def _pipeline_args(args: argparse.Namespace, *, local: bool = True) -> list[str]:
    """The arguments after FILE, with the global --workspace passed on to a local run."""
    if args.workspace is None or not local:
        return list(args.pipeline_args)
    return ["--workspace", str(args.workspace), *args.pipeline_args]
