"""The sample pipeline: train on iris data, then register the model only if it beats the champion.

    python pipelines/iris.py                  # local workspace: $CHAMPION_WORKSPACE or .champion
    python pipelines/iris.py --build-number 42 --data sample_data/iris_noisy.csv

The pipeline is described once, as data (`build_spec`), so the local run here and the Azure ML
submission (a later `--submit`/`--publish`) are the same two steps with the same arguments:

    train     steps/train.py           --data CSV --seed N --output-dir <model_dir>
    register  steps/register_model.py  --model-name iris --model-path <model_dir>
                                       --training-step-name train --build-number <build_number>

`<model_dir>` is a data reference (Azure: a PipelineData folder) and `<build_number>` a pipeline
parameter (default "local"). Importing this file has no side effects; only `main` runs anything.
The exit status is the failing step's own exit code, so `make run` fails loudly and with the
reason (2 bad input, 3 infrastructure, 1 rejected with --fail-on-reject).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from champion.errors import InputError
from champion.pipeline import DataReference, PipelineParameter, PipelineSpec, Step

ROOT = Path(__file__).resolve().parent.parent
STEPS_DIR = ROOT / "steps"
EXPERIMENT_NAME = "iris-pipeline"
TRAIN_STEP = "train"
REGISTER_STEP = "register"
DEFAULT_WORKSPACE = ".champion"
WORKSPACE_ENV = "CHAMPION_WORKSPACE"
BUILD_NUMBER_ENV = "BUILD_BUILDNUMBER"


def build_spec(
    *, data: str | None = None, seed: int = 42, model_name: str = "iris"
) -> PipelineSpec:
    """The train -> register pipeline.

    `data` is passed to the train step verbatim; None leaves `--data` out, so the step uses its
    own default (the bundled sample). Locally each step runs in a scratch folder, so give an
    absolute path (`main` does). The register step never reuses an earlier run
    (allow_reuse=False): whether to register is decided against the champion of *now*.
    """
    model_dir = DataReference("model_dir")
    build_number = PipelineParameter("build_number", "local")
    data_args = ["--data", data] if data is not None else []
    train = Step(
        name=TRAIN_STEP,
        script="train.py",
        arguments=(*data_args, "--seed", str(seed), "--output-dir", model_dir),
        outputs=(model_dir,),
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
        help=f"local workspace folder (default: ${WORKSPACE_ENV}, else {DEFAULT_WORKSPACE})",
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
    # Where the pipeline runs. Only the local runner exists today; --validate, --submit and
    # --publish (Azure ML) belong in this group, so that exactly one mode is chosen.
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument(
        "--local",
        dest="mode",
        action="store_const",
        const="local",
        help="run on the local workspace (the default)",
    )
    parser.set_defaults(mode="local")
    parser.add_argument(
        "--real-sdk",
        action="store_true",
        help="run each step under mock_azureml(), for scripts that import azureml.core themselves",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the pipeline locally and print a one-line summary; return the pipeline's exit code."""
    from champion.pipeline import run_pipeline

    args = build_parser().parse_args(argv)
    workspace = args.workspace or Path(os.environ.get(WORKSPACE_ENV) or DEFAULT_WORKSPACE)
    # Steps run in a scratch folder, so a relative path must be made absolute here.
    data = str(Path(args.data).resolve()) if args.data is not None else None
    parameters = {} if args.build_number is None else {"build_number": args.build_number}
    try:
        spec = build_spec(data=data, seed=args.seed, model_name=args.model_name)
        result = run_pipeline(spec, workspace, parameters=parameters, real_sdk=args.real_sdk)
    except InputError as exc:
        print(f"iris.py: error: {exc}", file=sys.stderr)
        return exc.exit_code
    print(result.summary())
    return result.exit_code


if __name__ == "__main__":
    sys.exit(main())
