"""The sample pipeline: train on iris data, then register the model only if it beats the champion.

    python pipelines/iris.py                  # local workspace: $CHAMPION_WORKSPACE or .champion
    python pipelines/iris.py --build-number 42 --data sample_data/iris_noisy.csv
    python pipelines/iris.py --validate       # build the Azure ML pipeline offline and check it
    python pipelines/iris.py --submit --wait --build-number 42   # run it in the workspace
    python pipelines/iris.py --publish --build-number 42         # publish it, version 42

The pipeline is described once, as data (`build_spec`), so the local run and the Azure ML
pipeline (`champion.pipeline.azure`) are the same two steps with the same arguments:

    train     steps/train.py           --data CSV --seed N --output-dir <model_dir>
    register  steps/register_model.py  --model-name iris --model-path <model_dir>
                                       --training-step-name train --build-number <build_number>

`<model_dir>` is a data reference (Azure: a PipelineData folder) and `<build_number>` a pipeline
parameter (default "local"). On Azure the training CSV travels in the steps' snapshot, next to
the scripts, and `--data` names it there. Importing this file has no side effects; only `main`
runs anything. The exit status of a local run is the failing step's own exit code, so `make run`
fails loudly and with the reason (2 bad input, 3 infrastructure, 1 rejected with
--fail-on-reject). For the Azure modes: 0 done, 1 the pipeline run failed, 2 an invalid pipeline
or option, 3 the service failed or left no decision.

Under an Azure DevOps agent (TF_BUILD=True) everything printed is filtered so that no text read
from a run can start a logging command; only the verdict's own `##vso[task.setvariable ...]`
lines (champion_outcome, champion_version, champion_model) reach the agent.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from importlib import metadata
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from champion.errors import ChampionError, InputError, from_environment
from champion.local.workspace import resolve_workspace_path
from champion.pipeline import DataReference, PipelineParameter, PipelineSpec, Step
from champion.record import devops_commands_for, neutralize_logging_commands

if TYPE_CHECKING:  # the Azure modes import it when run: it needs the [pipelines] extra
    from champion.pipeline.azure import RunOutcome

ROOT = Path(__file__).resolve().parent.parent
STEPS_DIR = ROOT / "steps"
EXPERIMENT_NAME = "iris-pipeline"
TRAIN_STEP = "train"
REGISTER_STEP = "register"
DEFAULT_WORKSPACE = ".champion"
WORKSPACE_ENV = "CHAMPION_WORKSPACE"
BUILD_NUMBER_ENV = "BUILD_BUILDNUMBER"
DEFAULT_DATA = ROOT / "sample_data" / "iris.csv"
DEFAULT_COMPUTE_TARGET = "cpu-cluster"

SpecBuilder = Callable[..., PipelineSpec]
"""`build_spec`'s signature: keyword arguments data, seed, model_name."""


def build_spec(
    *, data: str | None = None, seed: int = 42, model_name: str = "iris"
) -> PipelineSpec:
    """The train -> register pipeline.

    `data` is passed to the train step verbatim; None leaves `--data` out, so the step uses its
    own default (the bundled sample). Locally each step runs in a scratch folder, so give an
    absolute path (`main` does). Neither step reuses an earlier run on Azure ML
    (allow_reuse=False). The register step: whether to register is decided against the
    champion of *now*, and a reused step would silently skip registration. The train step: the
    metric reaches the register step as tags that train.py sets on the pipeline run, and a
    reused step does not run, so a rebuild with unchanged scripts and data (a README-only
    commit) would leave the new pipeline run without its `accuracy` tag and fail the register
    step; retraining the sample costs a minute of compute.
    """
    model_dir = DataReference("model_dir")
    build_number = PipelineParameter("build_number", "local")
    data_args = ["--data", data] if data is not None else []
    train = Step(
        name=TRAIN_STEP,
        script="train.py",
        arguments=(*data_args, "--seed", str(seed), "--output-dir", model_dir),
        outputs=(model_dir,),
        allow_reuse=False,
    )
    register = Step(
        name=REGISTER_STEP,
        script="register_model.py",
        arguments=(
            "--model-name",
            model_name,
            "--model-path",
            model_dir,
            "--training-step-name",
            TRAIN_STEP,
            "--build-number",
            build_number,
        ),
        inputs=(model_dir,),
        allow_reuse=False,
    )
    return PipelineSpec(
        name=EXPERIMENT_NAME,
        steps=(train, register),
        source_directory=STEPS_DIR,
        parameters=(build_number,),
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="iris.py",
        description="Train on iris data and register the model if it beats the champion.",
    )
    parser.add_argument(
        "--workspace",
        type=Path,
        default=None,
        help=f"local workspace folder, created if needed (default: ${WORKSPACE_ENV}, else the "
        f"nearest {DEFAULT_WORKSPACE}/ in this folder or its parents, else ./{DEFAULT_WORKSPACE})",
    )
    parser.add_argument("--data", default=None, help="training CSV (default: the bundled sample)")
    parser.add_argument("--seed", type=int, default=42, help="split and model seed (default: 42)")
    parser.add_argument(
        "--model-name", default="iris", help="registered model name (default: iris)"
    )
    parser.add_argument(
        "--build-number",
        default=os.environ.get(BUILD_NUMBER_ENV) or None,
        help=f"value of the build_number pipeline parameter (default: ${BUILD_NUMBER_ENV} when "
        "an Azure DevOps agent sets it, else the spec's default, 'local')",
    )
    # Where the pipeline runs: exactly one mode.
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument(
        "--local",
        dest="mode",
        action="store_const",
        const="local",
        help="run on the local workspace (the default)",
    )
    mode.add_argument(
        "--validate",
        dest="mode",
        action="store_const",
        const="validate",
        help="build the Azure ML pipeline offline (no account, no network), run the SDK's graph "
        "validation and print each step; exit 2 on any problem",
    )
    mode.add_argument(
        "--submit",
        dest="mode",
        action="store_const",
        const="submit",
        help="submit a run to the workspace in config.json",
    )
    mode.add_argument(
        "--publish",
        dest="mode",
        action="store_const",
        const="publish",
        help="publish the pipeline to the workspace, with the build number as its version",
    )
    parser.set_defaults(mode="local")
    parser.add_argument(
        "--real-sdk",
        action="store_true",
        help="run each step under mock_azureml(), for scripts that import azureml.core themselves",
    )
    azure = parser.add_argument_group("Azure ML (--validate, --submit, --publish)")
    azure.add_argument(
        "--wait",
        action="store_true",
        help="with --submit: wait for the run to end, then print the decision read from it",
    )
    azure.add_argument(
        "--experiment",
        default=None,
        help=f"experiment to submit to (default: the pipeline's name, {EXPERIMENT_NAME})",
    )
    azure.add_argument(
        "--compute-target",
        default=DEFAULT_COMPUTE_TARGET,
        help=f"AmlCompute cluster the steps run on (default: {DEFAULT_COMPUTE_TARGET})",
    )
    azure.add_argument(
        "--config",
        type=Path,
        default=None,
        help="workspace config.json, or the folder holding it (default: searched as "
        "Workspace.from_config() does, from the current folder up)",
    )
    azure.add_argument(
        "--wheel",
        type=Path,
        default=None,
        help="champion wheel to install in the steps' environment (default: built from this "
        "checkout with `pip wheel`)",
    )
    return parser


def main(argv: Sequence[str] | None = None, *, spec_builder: SpecBuilder = build_spec) -> int:
    """Run the pipeline in the chosen mode; return the exit code.

    `spec_builder` replaces `build_spec` (same keyword arguments), so a test can put a
    deliberately broken pipeline through exactly this command line."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.mode == "local":
        if args.wait:
            parser.error("--wait applies to --submit only")
        return run_local(args, spec_builder)
    if args.real_sdk or args.workspace is not None:
        parser.error("--real-sdk and --workspace apply to the local run only")
    if args.wait and args.mode != "submit":
        parser.error("--wait applies to --submit only")
    under_agent = os.environ.get("TF_BUILD", "").lower() == "true"
    with agent_safe_console(under_agent) as agent:
        try:
            return run_azure(args, spec_builder, agent=agent, under_agent=under_agent)
        except ChampionError as exc:
            print(f"iris.py: error: {exc}", file=sys.stderr)
            return exc.exit_code
        except Exception as exc:  # the SDK or the service failed; its message says why
            print(f"iris.py: error: {type(exc).__name__}: {exc}", file=sys.stderr)
            return 3


def run_local(args: argparse.Namespace, spec_builder: SpecBuilder = build_spec) -> int:
    """Run the pipeline locally and print a one-line summary; return the pipeline's exit code."""
    from champion.pipeline import run_pipeline

    # --workspace, else $CHAMPION_WORKSPACE, else the nearest .champion/ up from here, else a
    # new ./.champion: the local runner creates the workspace it is given.
    workspace, _ = resolve_workspace_path(args.workspace)
    # Each step runs in a copy of steps/ (its snapshot, as on Azure ML), which does not hold the
    # sample data: the CSV is passed by absolute path, the bundled sample when none is given.
    data = str(Path(args.data if args.data is not None else DEFAULT_DATA).resolve())
    parameters = {} if args.build_number is None else {"build_number": args.build_number}
    try:
        spec = spec_builder(data=data, seed=args.seed, model_name=args.model_name)
        result = run_pipeline(spec, workspace, parameters=parameters, real_sdk=args.real_sdk)
    except Exception as exc:  # a bad spec, or a workspace that cannot be created or opened
        known = from_environment(exc)
        if known is None:
            raise
        print(f"iris.py: error: {known.message}", file=sys.stderr)
        return known.exit_code
    print(result.summary())
    return result.exit_code


def run_azure(
    args: argparse.Namespace,
    spec_builder: SpecBuilder = build_spec,
    *,
    agent: IO[str] | None = None,
    under_agent: bool = False,
) -> int:
    """--validate, --submit [--wait] or --publish. The training CSV is copied into the steps'
    snapshot and passed by name, since on Azure ML a step sees its snapshot and nothing else
    of this checkout. `agent` is where the verdict's DevOps lines go, unfiltered."""
    from champion.pipeline import azure

    data = Path(args.data).resolve() if args.data is not None else DEFAULT_DATA
    snapshot_files = {data.name: data}
    spec = spec_builder(data=data.name, seed=args.seed, model_name=args.model_name)
    compute = azure.Compute(args.compute_target)

    if args.mode == "validate":
        champion = f"champion=={metadata.version('champion')}"  # the uploaded wheel at --submit
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
            print(f"iris.py: error: pipeline {spec.name!r} is not valid:", file=sys.stderr)
            for problem in report.problems:
                print(f"  - {problem}", file=sys.stderr)
            return 2
        return 0

    spec.check()
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
    return report_outcome(azure.wait_for_decision(run), agent=agent if under_agent else None)


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
        print(f"iris.py: error: {problem}", file=sys.stderr)
    if outcome.succeeded:
        return 0
    return 3 if outcome.status in {"Finished", "Completed"} else 1


def verdict(record: Mapping[str, Any]) -> str:
    """One line from a decision record read back from a run, like the register step's own."""
    version = record.get("registered_version")
    registered = f" as {record.get('model_name')}:{version}" if version else ""
    champion = record.get("champion") or "-"
    return (
        f"{record.get('outcome')}{registered}: {record.get('metric')} "
        f"{record.get('challenger')} vs champion {champion}; {record.get('reason')} "
        f"(build {record.get('build_number')})"
    )


def build_wheel(dest: Path) -> Path:
    """Build champion's wheel from this checkout into `dest` (pip wheel, no dependencies)."""
    command = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet"]
    command += ["--wheel-dir", str(dest), str(ROOT)]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    wheels = sorted(dest.glob("champion-*.whl"))
    if done.returncode != 0 or not wheels:
        raise ChampionError(
            f"could not build champion's wheel ({' '.join(command)}):\n{done.stderr.strip()}\n"
            "build one with `pip wheel --no-deps -w dist .` and pass --wheel",
            field="--wheel",
        )
    return wheels[-1]


class _AgentSafeStream(io.TextIOBase):
    """Passes text on line by line with every logging command neutralized. A partial line is
    held back until its end: `#` now and `#vso[` later would still make one command."""

    def __init__(self, target: IO[str]) -> None:
        self._target = target
        self._pending = ""

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        *lines, self._pending = (self._pending + text).split("\n")
        for line in lines:
            self._target.write(neutralize_logging_commands(line) + "\n")
        return len(text)

    def flush(self) -> None:
        self._target.flush()

    def finish(self) -> None:
        if self._pending:
            self._target.write(neutralize_logging_commands(self._pending) + "\n")
            self._pending = ""
        self._target.flush()


@contextlib.contextmanager
def agent_safe_console(enabled: bool) -> Iterator[IO[str]]:
    """When `enabled`, filter stdout and stderr (ours and the SDK's) through
    `neutralize_logging_commands` and yield the real stdout, the one channel left for
    commands we mean; otherwise change nothing."""
    real = sys.stdout
    if not enabled:
        yield real
        return
    out, err = _AgentSafeStream(sys.stdout), _AgentSafeStream(sys.stderr)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            yield real
    finally:
        out.finish()
        err.finish()


if __name__ == "__main__":
    sys.exit(main())
