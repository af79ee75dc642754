"""Drive a pipeline file: run it on the local workspace, or validate, submit or publish it on
Azure ML.

    champion pipeline run|validate|submit|publish FILE [--data CSV] [--build-number N] [...]
    python FILE [--run|--validate|--submit|--publish] [...]       # when FILE ends with main()

Why a driver in the library: a pipeline file should hold its spec and nothing else (like a
kedro `pipeline.py`), so a second pipeline is a second spec, not a copy of this module. A
pipeline file defines `build_spec(*, ...) -> PipelineSpec`; its keyword parameters become
options of the command line (`seed: int = 42` is `--seed`, `model_name` is `--model-name`),
with their defaults and the descriptions of the docstring's `Args:` section. `data` is special:
locally the step gets the file's absolute path (steps run in a folder of their own); on Azure
ML the file is copied into the steps' snapshot, next to the scripts, and the step gets its name.

Names are checked before anything runs, in every mode: the spec's own rules (`spec.validate`:
experiment, step and data names, and `--model-name` / `--training-step-name` values of the
steps) and `--experiment`. Exit codes: a local run exits with its failing step's code (0 all
done, 1 rejected with --fail-on-reject, 2 bad input, 3 infrastructure, 4 canceled by a step, 124
a step ran past its timeout (--step-timeout), 128+N killed by signal N);
the Azure modes 0 done, 1 the pipeline run failed, 2 an invalid pipeline or option, 3 the
service failed or left no decision; 130 interrupted (Ctrl-C). Every error is one line on stderr,
`champion: error [CODE]: ...`, as the CLI's; a mistake in the pipeline file itself (a syntax
error, an exception in `build_spec`, a result that is not a PipelineSpec) names its `FILE:LINE`.

Under an Azure DevOps agent (TF_BUILD=True) everything printed is filtered so that no text read
from a run can start a logging command; only the verdict's own `##vso[task.setvariable ...]`
lines (champion_outcome, champion_version, champion_model) reach the agent.
"""

from __future__ import annotations

import argparse
import contextlib
import inspect
import json
import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Callable, Sequence
from importlib import metadata
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from champion import __version__, _env
from champion._usage import error_line
from champion.errors import ChampionError, InfrastructureError, InputError, from_environment
from champion.pipeline._console import PipeSafeStream, agent_safe_console
from champion.pipeline._options import (
    BUILD_NUMBER_ENV,
    DATA_OPTION,
    MODES,
    SpecOption,
    build_parser,
    spec_options,
)
from champion.pipeline._pipeline_file import SpecBuilder, build, builder_of, load_pipeline_file
from champion.pipeline._verdict import verdict
from champion.pipeline.spec import PipelineSpec, experiment_name_problem
from champion.record import devops_commands_for

if TYPE_CHECKING:  # the Azure modes import it when run: it needs the [pipelines] extra
    from champion.pipeline.azure import RunOutcome

__all__ = [
    "MODES",
    "SpecBuilder",
    "SpecOption",
    "agent_safe_console",
    "build_parser",
    "build_wheel",
    "main",
    "project_root",
    "spec_options",
]


# --------------------------------------------------------------------------- the spec's options


# --------------------------------------------------------------------------- command line


def main(
    argv: Sequence[str] | None = None,
    *,
    spec_builder: SpecBuilder | None = None,
    file: str | os.PathLike[str] | None = None,
    mode: str | None = None,
    prog: str | None = None,
) -> int:
    """Drive the pipeline `spec_builder` builds (or the `build_spec` of pipeline file `file`) in
    `mode` (None: from the mode flags, default a local run); return the exit code.

    Every error is one line on stderr, `champion: error [CODE]: ...`. Ctrl-C is one line too,
    `champion: interrupted`, and exit 130 (the runner has ended the running step's processes
    by then), so a pipeline file ending in `sys.exit(main(...))` needs nothing of its own."""
    try:
        return _main(argv, spec_builder, file, mode, prog)
    except KeyboardInterrupt:
        print("champion: interrupted", file=sys.stderr)
        return 130


def _main(
    argv: Sequence[str] | None,
    spec_builder: SpecBuilder | None,
    file: str | os.PathLike[str] | None,
    mode: str | None,
    prog: str | None,
) -> int:
    name = _prog(prog, file)
    try:
        if spec_builder is not None:
            builder = spec_builder
        elif file is not None:
            from champion.pipeline import v2_local

            module = load_pipeline_file(file)
            if v2_local.is_v2_file(module):  # build_pipeline(): an Azure ML v2 job
                return v2_local.main(argv, module=module, mode=mode, prog=name)
            builder = builder_of(file)
        else:
            raise InputError("no pipeline file given", field="FILE")
        parser = build_parser(builder, prog=name, mode=mode, description=_summary(builder))
    except ChampionError as exc:
        _error(exc.code, exc.message)
        return exc.exit_code
    args = parser.parse_args(argv)
    with contextlib.redirect_stdout(PipeSafeStream(sys.stdout)):
        return _drive(parser, args, builder)


def _prog(prog: str | None, file: str | os.PathLike[str] | None) -> str | None:
    """How the user ran this, for the usage line and `see '... --help'`: `champion pipeline
    run FILE` (`prog` names the command); None for `python FILE` (the parser says that)."""
    if file is not None:
        return f"{prog or 'champion pipeline run'} {os.fspath(file)}"
    return prog


def _error(code: str, message: str) -> None:
    print(error_line(code, message), file=sys.stderr)


def _drive(parser: argparse.ArgumentParser, args: argparse.Namespace, builder: SpecBuilder) -> int:
    if args.wait and args.mode != "submit":
        parser.error("--wait applies to --submit (champion pipeline submit) only")
    if args.mode != "run" and (args.real_sdk or args.workspace is not None):
        parser.error("--real-sdk and --workspace apply to the local run only")
    if args.mode != "run" and args.backend not in (None, "local", "azureml"):
        parser.error("--backend mlflow applies to a run (champion pipeline run FILE) only")
    if args.backend == "mlflow" and (args.real_sdk or args.workspace is not None):
        parser.error(
            "--real-sdk and --workspace apply to the local workspace, not --backend mlflow"
        )
    if args.mode == "run":
        return _reporting(lambda: run_local(args, builder))
    under_agent = _env.under_devops_agent()
    with agent_safe_console(under_agent) as agent:
        return _reporting(lambda: run_azure(args, builder, agent=agent, under_agent=under_agent))


def _reporting(action: Callable[[], int]) -> int:
    """Run `action`; our errors and the SDK's become one line and their exit code."""
    try:
        return action()
    except Exception as exc:
        known = from_environment(exc)  # ours, or an OS/SQLite failure said in one line
        if known is not None:
            _error(known.code, known.message)
            return known.exit_code
        # the SDK or the service failed; its message says why
        _error(InfrastructureError.code, f"{type(exc).__name__}: {exc}")
        return 3


def _summary(builder: SpecBuilder) -> str | None:
    """The pipeline file's first docstring paragraph, for --help."""
    doc = inspect.getdoc(sys.modules.get(builder.__module__)) or inspect.getdoc(builder)
    return doc.split("\n\n")[0] if doc else None


def _spec_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    return {k[len("spec_") :]: v for k, v in vars(args).items() if k.startswith("spec_")}


def _check_names(spec: PipelineSpec, args: argparse.Namespace) -> None:
    """Every name the run will use, before anything runs."""
    _check_experiment(args)
    spec.check()


def _check_experiment(args: argparse.Namespace) -> None:
    problem = None if args.experiment is None else experiment_name_problem(args.experiment)
    if problem:
        raise InputError(f"--experiment: {problem}", field="--experiment", value=args.experiment)


# --------------------------------------------------------------------------- local


def run_local(args: argparse.Namespace, builder: SpecBuilder) -> int:
    """Run the pipeline on the local workspace, print a one-line summary; return the pipeline's
    exit code (the failing step's own)."""
    from champion.local.workspace import resolve_workspace_path
    from champion.pipeline.local import run_pipeline

    if args.backend == "mlflow":
        return run_on_mlflow(args, builder)
    # --workspace, else $CHAMPION_WORKSPACE, else the nearest .champion/ up from here, else a
    # new ./.champion: the local runner creates the workspace it is given.
    workspace, _ = resolve_workspace_path(args.workspace)
    kwargs = _spec_kwargs(args)
    if kwargs.get(DATA_OPTION) is not None:  # steps run in a folder of their own
        kwargs[DATA_OPTION] = str(Path(kwargs[DATA_OPTION]).resolve())
    spec = build(builder, kwargs)
    _check_names(spec, args)
    parameters = {} if args.build_number is None else {"build_number": args.build_number}
    real_sdk = args.real_sdk or args.backend == "azureml"
    result = run_pipeline(
        spec,
        workspace,
        parameters=parameters,
        real_sdk=real_sdk,
        step_timeout=getattr(args, "step_timeout", None),
    )
    print(result.summary())
    return result.exit_code


def run_on_mlflow(args: argparse.Namespace, builder: SpecBuilder) -> int:
    """Run the pipeline on MLflow ($MLFLOW_TRACKING_URI): a parent run, a nested run per step."""
    from champion.pipeline._mlflow_runner import run_pipeline_mlflow

    if getattr(args, "step_timeout", None) is not None:
        raise InputError(
            "--step-timeout works with the local workspace only, not with --backend mlflow",
            field="--step-timeout",
            value=args.step_timeout,
        )
    kwargs = _spec_kwargs(args)
    if kwargs.get(DATA_OPTION) is not None:  # steps run in a folder of their own
        kwargs[DATA_OPTION] = str(Path(kwargs[DATA_OPTION]).resolve())
    spec = build(builder, kwargs)
    _check_names(spec, args)
    parameters = {} if args.build_number is None else {"build_number": args.build_number}
    result = run_pipeline_mlflow(spec, parameters=parameters)
    print(result.summary())
    return result.exit_code


# --------------------------------------------------------------------------- Azure ML


def run_azure(
    args: argparse.Namespace,
    builder: SpecBuilder,
    *,
    agent: IO[str] | None = None,
    under_agent: bool = False,
) -> int:
    """validate, submit [--wait] or publish. A `data` file is copied into the steps' snapshot
    and passed by name, since on Azure ML a step sees its snapshot and nothing else of this
    checkout. `agent` is where the verdict's DevOps lines go, unfiltered."""
    from champion.pipeline import azure

    kwargs = _spec_kwargs(args)
    snapshot_files: dict[str, Path] = {}
    if kwargs.get(DATA_OPTION) is not None:
        data = Path(kwargs[DATA_OPTION]).resolve()
        snapshot_files[data.name] = data
        kwargs[DATA_OPTION] = data.name
    spec = build(builder, kwargs)
    compute = azure.Compute(args.compute_target)

    if args.mode == "validate":
        _check_experiment(args)  # the spec's own names are among the problems reported below
        champion = f"champion=={__version__}"  # the uploaded wheel at submit
        environment = azure.environment_spec(champion)
        report = azure.validate_offline(
            spec, compute=compute, environment=environment, snapshot_files=snapshot_files
        )
        state = "valid" if report.ok else f"{len(report.problems)} problem(s)"
        sdk = f"azureml-pipeline-core {metadata.version('azureml-pipeline-core')}"
        print(f"Azure ML pipeline {spec.name}: {state} (built and checked offline with {sdk})")
        for line in report.lines:
            print(line)
        if not report.ok:
            _error(InputError.code, f"pipeline {spec.name!r} is not valid:")
            for problem in report.problems:
                print(f"  - {problem}", file=sys.stderr)
            return 2
        return 0

    _check_names(spec, args)
    if args.mode == "publish" and not args.build_number:
        raise InputError(
            f"--publish needs --build-number (or ${BUILD_NUMBER_ENV}): it is the version",
            field="--build-number",
        )
    workspace = azure.load_workspace(args.config, non_interactive=under_agent)
    with tempfile.TemporaryDirectory(prefix="champion-submit-") as tmp:
        wheel = args.wheel if args.wheel is not None else build_wheel(Path(tmp) / "dist")
        tagged = azure.content_tagged_wheel(wheel, Path(tmp) / "upload")
        environment = azure.environment_spec(azure.upload_wheel(workspace, tagged))
        staged = azure.stage_snapshot(spec, Path(tmp) / "snapshot", snapshot_files)
        built = azure.build_pipeline(staged, workspace, compute=compute, environment=environment)
        problems = built.validate()
        if problems:
            raise InputError(
                f"pipeline {spec.name!r} is not valid: {'; '.join(problems)}", field="pipeline"
            )
        if args.mode == "publish":
            published = built.publish(version=args.build_number)
            print(f"published {published.name} version {published.version}: {published.id}")
            print(f"endpoint: {published.endpoint}")
            return 0
        parameters = {} if args.build_number is None else {"build_number": args.build_number}
        run = built.submit(args.experiment or spec.name, parameters=parameters)
    print(f"submitted pipeline run {run.id}: {run.get_portal_url()}")
    if not args.wait:
        return 0
    outcome = azure.wait_for_decision(run)
    return report_outcome(outcome, agent=agent if under_agent else None)


def report_outcome(outcome: RunOutcome, *, agent: IO[str] | None) -> int:
    """Print how the run ended and its decision; with `agent`, write the DevOps output
    variables there. 0 success, 1 the run failed, 3 no usable decision."""
    print(f"pipeline run {outcome.run_id}: {outcome.status}")
    record = outcome.record
    if record is not None:
        print(f"champion: {verdict(record)}")
        print(json.dumps(record, indent=2, sort_keys=True))
        if agent is not None:
            for line in devops_commands_for(record):  # values checked and escaped
                agent.write(line + "\n")
            agent.flush()
    for problem in outcome.problems:
        _error(InfrastructureError.code, problem)
    if outcome.succeeded:
        return 0
    return 3 if outcome.status in {"Finished", "Completed"} else 1


# --------------------------------------------------------------------------- champion's wheel


def project_root() -> Path | None:
    """The source checkout champion is installed from (an editable install), or None when it
    is installed from a wheel: the folder above `champion/` holding a pyproject.toml that names
    the `champion` project."""
    import champion

    for folder in Path(champion.__file__).resolve().parents[1:4]:
        pyproject = folder / "pyproject.toml"
        if pyproject.is_file() and re.search(
            r'^name\s*=\s*"champion"', pyproject.read_text(encoding="utf-8"), re.M
        ):
            return folder
    return None


def build_wheel(dest: Path) -> Path:
    """Build champion's wheel from its checkout into `dest` (pip wheel, no dependencies)."""
    root = project_root()
    if root is None:
        raise InputError(
            "champion is installed from a wheel, not a checkout, so there is nothing to build; "
            "pass that wheel with --wheel (e.g. `pip download champion --no-deps -d dist`)",
            field="--wheel",
        )
    command = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet"]
    command += ["--wheel-dir", str(dest), str(root)]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    wheels = sorted(dest.glob("champion-*.whl"))
    if done.returncode != 0 or not wheels:
        raise ChampionError(
            f"could not build champion's wheel ({' '.join(command)}):\n{done.stderr.strip()}\n"
            "build one with `pip wheel --no-deps -w dist .` and pass --wheel",
            field="--wheel",
        )
    return wheels[-1]


# --------------------------------------------------------------------------- console
