"""Drive an Azure ML v2 pipeline file: run it locally, validate it offline, or submit it.

    champion pipeline run|validate|submit FILE [--build-number N] [the file's own options]
    python FILE [--run|--validate|--submit [--wait]] [...]        # when FILE ends with main()

A v2 pipeline file defines `build_pipeline(*, ...)` returning an azure-ai-ml `PipelineJob`
(built with `@dsl.pipeline` from components, champion's among them: `champion.components`).
Its keyword parameters become options, as `build_spec`'s do for a v1 file; a `build_number`
parameter takes `--build-number` (default `$BUILD_BUILDNUMBER`), which is also the job's tag.

- `run`: the job is submitted with `ml_client.jobs.create_or_update` inside
  `mock_azure_ai_ml()` on the local workspace (`--workspace`, else `$CHAMPION_WORKSPACE`, else
  `.champion`), which runs every node here (`champion.local.mock_v2.pipeline_run`); exit 0 when
  the job completed, else the failed node's own exit code (2 bad input, 3 infrastructure).
- `validate`: the job is built and checked by the SDK's own validation, offline.
- `submit`: `create_or_update` on the workspace `config.json` names; `--wait` streams the job
  to its end, then prints the decision read from the pipeline job's record and, under an Azure
  DevOps agent, its output variables (`champion_outcome`, `champion_version`, ...).

Every error is one line, `champion: error [CODE]: ...`, as the CLI's.
"""

from __future__ import annotations

import argparse
import inspect
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from types import ModuleType
from typing import IO, Any

from champion import _env
from champion._usage import Parser, error_line
from champion.errors import ChampionError, InfrastructureError, InputError, from_environment
from champion.pipeline._options import add_mode_flags, add_spec_options, spec_options
from champion.pipeline._pipeline_file import _users_mistake, location

__all__ = ["BUILDER", "MODES", "is_v2_file", "main"]

BUILDER = "build_pipeline"
MODES = ("run", "validate", "submit")
BUILD_NUMBER = "build_number"
_RESERVED = frozenset(
    {"workspace", "experiment", "wait", "mode", "run", "local", "validate", "submit", "help"}
)
_FAILED_EXIT = "champion.exit_code"


def is_v2_file(module: ModuleType) -> bool:
    """Whether a pipeline file is a v2 one: it defines `build_pipeline` and no `build_spec`."""
    return callable(getattr(module, BUILDER, None)) and not callable(
        getattr(module, "build_spec", None)
    )


def main(
    argv: Sequence[str] | None = None,
    *,
    builder: Callable[..., Any] | None = None,
    module: ModuleType | None = None,
    mode: str | None = None,
    prog: str | None = None,
) -> int:
    """Drive the job `builder` (or `module.build_pipeline`) builds in `mode` (None: from the
    mode flags, default run); return the exit code."""
    try:
        found = builder or getattr(module, BUILDER, None)
        if not callable(found):
            raise InputError(f"no {BUILDER}() to call", field="pipeline file")
        parser = _parser(found, prog, mode)
        args = parser.parse_args(argv)
        return _drive(args, found)
    except KeyboardInterrupt:
        print("champion: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        known = from_environment(exc)
        if known is None:
            known = _spec_error(exc)
        if known is not None:
            print(error_line(known.code, known.message), file=sys.stderr)
            return known.exit_code
        print(error_line(InfrastructureError.code, f"{type(exc).__name__}: {exc}"), file=sys.stderr)
        return 3


def _spec_error(exc: BaseException) -> ChampionError | None:
    """The local run's refusal of a job it cannot run as written: the user's to fix."""
    if type(exc).__name__ == "PipelineSpecError":
        return InputError(str(exc), field="pipeline job", value=None)
    return None


# --------------------------------------------------------------------------- the command line


def _parser(builder: Callable[..., Any], prog: str | None, mode: str | None) -> Any:
    doc = inspect.getdoc(sys.modules.get(builder.__module__)) or inspect.getdoc(builder) or ""
    parser = Parser(prog=prog, description=doc.split("\n\n")[0] or None)
    parser.add_argument(
        "--workspace",
        type=Path,
        default=None,
        help=f"run: the local workspace folder, created if needed (default: ${_env.WORKSPACE}, "
        f"else ./{_env.DEFAULT_WORKSPACE_FOLDER})",
    )
    parser.add_argument(
        "--build-number",
        default=_env.build_number(),
        help="the job's build_number tag, and build_pipeline's build_number (default: "
        f"${_env.BUILD_NUMBER} when an Azure DevOps agent sets it)",
    )
    parser.add_argument("--experiment", default=None, help="the job's experiment name")
    parser.add_argument(
        "--wait",
        action="store_true",
        help="submit: stream the job to its end, then print the decision read from it",
    )
    group = parser.add_argument_group(f"the pipeline's own options (its {BUILDER})")
    options = spec_options(builder, BUILDER, reserved=_RESERVED, skip=frozenset({BUILD_NUMBER}))
    add_spec_options(group, options, BUILDER)
    if mode is None:
        add_mode_flags(parser, MODES)
    else:
        parser.set_defaults(mode=mode)
    return parser


# --------------------------------------------------------------------------- the modes


def _drive(args: argparse.Namespace, builder: Callable[..., Any]) -> int:
    if args.mode not in MODES:
        raise InputError(
            f"a v2 pipeline file is run, validated or submitted; {args.mode!r} is for a v1 file",
            field="mode",
            value=args.mode,
        )
    if args.wait and args.mode != "submit":
        raise InputError("--wait applies to submit only", field="--wait", value=None)
    if args.workspace is not None and args.mode != "run":
        raise InputError("--workspace applies to a run only", field="--workspace", value=None)
    if args.mode == "run":
        return _run(args, builder)
    job = _build(args, builder)
    if args.mode == "validate":
        return _validate(job)
    return _submit(args, job)


def _build(args: argparse.Namespace, builder: Callable[..., Any]) -> Any:
    """`builder(**options)`: what it raises is a mistake in the user's file (FILE:LINE); a
    result that is not a PipelineJob says what to return."""
    from azure.ai.ml.entities import PipelineJob

    kwargs = {k[len("spec_") :]: v for k, v in vars(args).items() if k.startswith("spec_")}
    if BUILD_NUMBER in inspect.signature(builder).parameters and args.build_number is not None:
        kwargs[BUILD_NUMBER] = args.build_number
    code = getattr(builder, "__code__", None)
    files = set() if code is None else {Path(code.co_filename).resolve()}
    try:
        job = builder(**kwargs)
    except KeyboardInterrupt:
        raise
    except BaseException as exc:
        raise _users_mistake(exc, files, f"in {BUILDER}") from None
    if not isinstance(job, PipelineJob):
        raise InputError(
            f"{location(builder)}: {BUILDER} returned a {type(job).__name__}, not a "
            "PipelineJob; return the job a @dsl.pipeline function builds",
            field=BUILDER,
            value=type(job).__name__,
        )
    if args.build_number is not None:
        job.tags = {**(job.tags or {}), BUILD_NUMBER: str(args.build_number)}
    return job


def _run(args: argparse.Namespace, builder: Callable[..., Any]) -> int:
    from champion.local.mock_v2 import mock_azure_ai_ml

    workspace = args.workspace or _env.workspace() or Path.cwd() / _env.DEFAULT_WORKSPACE_FOLDER
    with mock_azure_ai_ml(workspace) as aml:
        job = _build(args, builder)
        ml_client = aml.ml_client()
        done = ml_client.jobs.create_or_update(job, experiment_name=args.experiment)
        status = _status(done)
        print(f"champion: pipeline job {done.name}: {status} in workspace {workspace}")
        _print_decision(ml_client, done.name, None)
        if status == "Completed":
            return 0
        return _failed_exit_code(ml_client, done.name)


def _status(job: Any) -> str:
    """A job's status as Azure names it (the SDK's enum, or its string)."""
    return str(getattr(job.status, "value", job.status))


def _failed_exit_code(ml_client: Any, name: str) -> int:
    """The failed node's exit code as a shell reports it, else 1."""
    for child in ml_client.jobs.list(parent_job_name=name):
        if child.status == "Failed":
            text = (child.properties or {}).get(_FAILED_EXIT)
            if text and str(text).lstrip("-").isdigit():
                code = int(text)
                return code if code > 0 else 128 - code
    return 1


def _validate(job: Any) -> int:
    result = job._validate()  # the validation jobs.create_or_update runs before it submits
    if result.passed:
        print(f"champion: the pipeline job is valid ({len(job.jobs)} nodes)")
        return 0
    for path, message in sorted(result.error_messages.items()):
        print(error_line(InputError.code, f"{path}: {message}"), file=sys.stderr)
    return 2


def _submit(args: argparse.Namespace, job: Any) -> int:
    from azure.ai.ml import MLClient
    from azure.identity import DefaultAzureCredential

    try:
        ml_client = MLClient.from_config(DefaultAzureCredential())
    except Exception as exc:
        if "config.json" not in str(exc):
            raise
        raise InputError(
            "no Azure ML workspace: submit reads config.json (from this folder up); download "
            "it from the studio, or run `az ml workspace show` to write one",
            field="config.json",
            value=None,
        ) from None
    submitted = ml_client.jobs.create_or_update(job, experiment_name=args.experiment)
    url = f": {submitted.studio_url}" if submitted.studio_url else ""
    print(f"champion: submitted pipeline job {submitted.name}{url}")
    if not args.wait:
        return 0
    from azure.ai.ml.exceptions import JobException

    try:
        ml_client.jobs.stream(submitted.name)
    except JobException:  # the job ended Failed or Canceled: its status says so, below
        pass
    done = ml_client.jobs.get(submitted.name)
    agent = sys.stdout if _env.under_devops_agent() else None
    found = _print_decision(ml_client, submitted.name, agent)
    if _status(done) != "Completed":
        print(error_line("run_failed", f"pipeline job {done.name} ended {_status(done)}"))
        return 1
    return 0 if found else 3


def _print_decision(ml_client: Any, name: str, agent: IO[str] | None) -> bool:
    """The decision the register component recorded on the pipeline job (through MLflow, as
    on Azure), in one line, and its DevOps output variables when `agent` is given."""
    from champion.pipeline._verdict import verdict
    from champion.record import devops_commands_for, read_record
    from champion.registry.azureml_v2 import AzureMLV2Workspace
    from champion.registry.azureml_v2.runs import pipeline_run

    workspace = AzureMLV2Workspace.of_client(ml_client)
    record = read_record(pipeline_run(workspace, name))
    if record is None:
        print("champion: no decision was recorded on the pipeline job")
        return False
    print(f"champion: {verdict(record)}")
    if agent is not None:
        for line in devops_commands_for(record):
            agent.write(line + "\n")
        agent.flush()
    return True


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main(sys.argv[1:], module=sys.modules.get("__main__")))
