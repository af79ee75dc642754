"""The sample pipeline: train on iris data, register the model only if it beats the champion, then
score the data with whatever is champion after that decision.

    python pipelines/iris.py                  # local workspace: $CHAMPION_WORKSPACE or .champion
    python pipelines/iris.py --build-number 42 --data sample_data/iris_noisy.csv
    python pipelines/iris.py --validate       # build the Azure ML pipeline offline and check it
    python pipelines/iris.py --submit --wait --build-number 42   # run it in the workspace
    python pipelines/iris.py --publish --build-number 42         # publish it, version 42
    champion pipeline run|validate|submit|publish pipelines/iris.py [options]   # the same

This file is the pipeline's spec and nothing else: `champion.pipeline.driver` runs it locally
or on Azure ML, and turns `build_spec`'s parameters into options (`--data`, `--seed`,
`--model-name`). The steps are champion's packaged modules, reached through the three-line
scripts in `steps/` that Azure ML's snapshot needs:

    train     train.py           --data CSV --seed N --output-dir <model_dir>
    register  register_model.py  --model-name iris --model-path <model_dir>
                                 --training-step-name train --build-number <build_number>
    score     score.py           --model-name iris --champion --data CSV --output <predictions>
              (after register)

`<model_dir>`, `<predictions>` are data references (Azure: PipelineData folders), `<build_number>`
a pipeline parameter (default "local"). The score step reads nothing of the register step's, so
it runs after it explicitly: it scores with the champion that decision left. No side effects.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

from champion.pipeline import DataReference, PipelineParameter, PipelineSpec, Step

ROOT = Path(__file__).resolve().parent.parent
SAMPLE_DATA = ROOT / "sample_data" / "iris.csv"


def build_spec(
    *, data: str = str(SAMPLE_DATA), seed: int = 42, model_name: str = "iris"
) -> PipelineSpec:
    """The train -> register -> score pipeline.

    No step reuses an earlier run on Azure ML (allow_reuse=False). Register: the decision is
    against the champion of *now*; a reused step would silently skip registration. Train: the
    metric reaches the register step as tags it sets on the pipeline run; a reused step does
    not run, so an unchanged rebuild (a README-only commit) would fail the register step.
    Score: a reused step would leave an earlier champion's predictions in place.

    Args:
        data: training CSV (columns sepal_length, sepal_width, petal_length, petal_width,
            species)
        seed: split and model seed
        model_name: the registered model's name
    """
    model_dir = DataReference("model_dir")
    build_number = PipelineParameter("build_number", "local")
    train = Step(
        name="train",
        script="train.py",
        arguments=("--data", data, "--seed", str(seed), "--output-dir", model_dir),
        outputs=(model_dir,),
        allow_reuse=False,
    )
    register = Step(
        name="register",
        script="register_model.py",
        arguments=(
            *("--model-name", model_name, "--model-path", model_dir),
            *("--training-step-name", "train", "--build-number", build_number),
        ),
        inputs=(model_dir,),
        allow_reuse=False,
    )
    predictions = DataReference("predictions")
    score = Step(
        name="score",
        script="score.py",
        arguments=(
            *("--model-name", model_name, "--champion"),
            *("--data", data, "--output", predictions),
        ),
        outputs=(predictions,),
        allow_reuse=False,
        run_after=("register",),
    )
    return PipelineSpec(
        name="iris-pipeline",
        steps=(train, register, score),
        source_directory=ROOT / "steps",
        parameters=(build_number,),
    )


def main(argv: Sequence[str] | None = None) -> int:
    """`python pipelines/iris.py [--local|--validate|--submit|--publish] ...`: the driver."""
    from champion.pipeline.driver import main as drive

    return drive(argv, spec_builder=build_spec, prog="iris.py")


if __name__ == "__main__":
    sys.exit(main())
