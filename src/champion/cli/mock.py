"""`champion mock -- COMMAND [ARGS...]`: a command with the real Azure ML SDKs answered by the
local workspace, in its process and every Python process it starts (`champion.mock`)."""

from __future__ import annotations

import argparse

from champion._usage import seconds
from champion.cli import _output
from champion.cli._app import Commands


def add_to(commands: Commands) -> None:
    parser = commands.command(
        "mock",
        cmd_mock,
        help="run a command with the real Azure ML SDKs pointed at the local workspace",
        description="Run COMMAND (and every Python process it starts) with azureml-core, and "
        "azure-ai-ml where its fake is installed, answered by the local workspace: "
        "Workspace.from_config() is the local workspace whatever config.json says, "
        "Experiment.submit(pipeline) runs the pipeline on this machine, and nothing leaves it. "
        "The workspace is created if new. Exit status: the command's.",
        examples=[
            "champion mock -- python ml_service/pipelines/build_train_pipeline.py",
            "champion mock --step-timeout 600 -- pytest tests/",
        ],
        formats=_output.TEXT,
        passthrough=True,
    )
    parser.add_argument(
        "--step-timeout",
        type=seconds,
        metavar="SECONDS",
        help="end a step of a submitted pipeline that runs longer than this, unless its run "
        "configuration sets max_run_duration_seconds (default: no limit)",
    )
    parser.add_argument(
        "mock_command",
        nargs=argparse.REMAINDER,
        metavar="-- COMMAND [ARGS...]",
        help="the command to run, after --",
    )


def cmd_mock(args: argparse.Namespace) -> int:
    from champion.mock._run import launch

    command = list(args.mock_command)
    if command[:1] == ["--"]:
        command = command[1:]
    return launch(command, args.workspace, step_timeout=args.step_timeout)
