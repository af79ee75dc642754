"""The sample pipeline: train on iris data, register the model only if it beats the champion, then
score the data with whatever is champion after that decision.

    python pipelines/iris.py                  # local workspace: $CHAMPION_WORKSPACE or .champion
    python pipelines/iris.py --build-number 42 --data sample_data/iris_noisy.csv
    python pipelines/iris.py --data sample_data/iris_clean.csv --rescore-champion
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
a pipeline parameter (default "local"). `--rescore-champion` adds `--test-output-dir <test_dir>`
to train and `--rescore-champion --test-data <test_dir>` to register. The score step reads nothing
of the register step's, so it runs after it explicitly: it scores with the champion that decision
left. Importing this has no side effects.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

from champion.pipeline import DataReference, PipelineParameter, PipelineSpec, Step

ROOT = Path(__file__).resolve().parent.parent
SAMPLE_DATA = ROOT / "sample_data" / "iris.csv"


def build_spec(
    *, data: str = str(SAMPLE_DATA), seed: int = 42, model_name: str = "iris",
    rescore_champion: bool = False, allow_different_test_data: bool = False,
    allow_unscored_champion: bool = False,
) -> PipelineSpec:  # fmt: skip
    """The train -> register -> score pipeline.

    No step reuses an earlier run on Azure ML (allow_reuse=False): a reused register step would
    silently skip registration (decided against the champion of *now*), a reused train step does
    not tag the new pipeline run, so the register step would fail on a rebuild, and a reused score
    step would leave an earlier champion's predictions in place.

    Args:
        data: training CSV (sepal_length, sepal_width, petal_length, petal_width, species)
        seed: split and model seed
        model_name: the registered model's name
        rescore_champion: decide on both models scored on this run's hold-out (loads pickles)
        allow_different_test_data: compare numbers measured on different test data
        allow_unscored_champion: let the model replace a champion that has no accuracy
    """
    model_dir = DataReference("model_dir")
    test_dir = DataReference("test_dir")
    predictions = DataReference("predictions")
    build_number = PipelineParameter("build_number", "local")
    train_outputs = (model_dir, test_dir) if rescore_champion else (model_dir,)
    test_output = ("--test-output-dir", test_dir) if rescore_champion else ()
    train = Step(
        "train",
        "train.py",
        ("--data", data, "--seed", str(seed), "--output-dir", model_dir, *test_output),
        outputs=train_outputs,
        allow_reuse=False,
    )
    rescore = ("--rescore-champion", "--test-data", test_dir) if rescore_champion else ()
    allowed = {
        "--allow-different-test-data": allow_different_test_data,
        "--allow-unscored-champion": allow_unscored_champion,
    }
    allow = tuple(flag for flag, given in allowed.items() if given)
    register = Step(
        "register",
        "register_model.py",
        (
            *("--model-name", model_name, "--model-path", model_dir),
            *("--training-step-name", "train", "--build-number", build_number, *rescore, *allow),
        ),
        inputs=train_outputs,
        allow_reuse=False,
    )
    score = Step(
        "score",
        "score.py",
        ("--model-name", model_name, "--champion", "--data", data, "--output", predictions),
        outputs=(predictions,),
        allow_reuse=False,
        run_after=("register",),
    )
    steps = (train, register, score)
    return PipelineSpec("iris-pipeline", steps, ROOT / "steps", parameters=(build_number,))


def main(argv: Sequence[str] | None = None) -> int:
    """`python pipelines/iris.py [--local|--validate|--submit|--publish] ...`: the driver."""
    from champion.pipeline.driver import main as drive

    return drive(argv, spec_builder=build_spec)


if __name__ == "__main__":
    sys.exit(main())
