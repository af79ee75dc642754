"""The sample Azure ML v2 pipeline: train on iris data, register the model only if it beats the
champion (champion's register component), then score the data only when it was promoted.

    champion pipeline run pipelines/iris_v2.py         # here, on the local workspace
    champion pipeline run pipelines/iris_v2.py --data sample_data/iris_noisy.csv
    champion pipeline validate pipelines/iris_v2.py    # build it with azure-ai-ml, offline
    champion pipeline submit pipelines/iris_v2.py --wait --build-number 42   # on Azure ML
    python pipelines/iris_v2.py [--run|--validate|--submit]                 # the same

Written in the SDK's own style: components loaded from YAML (`iris_v2/train.yaml`, and
`champion.components.path("register")` / `path("score")` shipped in champion's wheel), a
`@dsl.pipeline` function, and `dsl.condition` on the register component's `promoted` control
output. `build_pipeline` is all `champion.pipeline.v2_local` needs; its keyword parameters are
the command line's options. Importing this has no side effect but the one below.

`dsl.condition` is a private-preview feature of azure-ai-ml: the SDK builds and submits a job
that has one only when AZURE_ML_CLI_PRIVATE_FEATURES_ENABLED is true before azure.ai.ml is
imported, hence the first lines.
"""

from __future__ import annotations

import os

os.environ.setdefault("AZURE_ML_CLI_PRIVATE_FEATURES_ENABLED", "true")

import sys
from collections.abc import Sequence
from pathlib import Path

from azure.ai.ml import Input, dsl, load_component
from azure.ai.ml.dsl._condition import condition
from azure.ai.ml.entities import PipelineJob

from champion.components import path

HERE = Path(__file__).resolve().parent
SAMPLE_DATA = HERE.parent / "sample_data" / "iris.csv"


def build_pipeline(
    *, data: str = str(SAMPLE_DATA), seed: int = 42, model_name: str = "iris",
    build_number: str = "local", compute: str = "serverless", environment: str = "",
) -> PipelineJob:  # fmt: skip
    """train -> register (if better) -> score (only when promoted).

    Args:
        data: the iris CSV to train on and to score
        seed: the split and model seed
        model_name: the registered model's name
        build_number: stored on a registered version (champion pipeline ... --build-number)
        compute: the compute the nodes run on, on Azure ML (locally: here)
        environment: an Azure ML environment with champion installed, for champion's
            components on Azure ML (e.g. azureml:champion@latest; default: theirs)
    """
    train_component = load_component(source=HERE / "iris_v2" / "train.yaml")
    register_component = load_component(source=path("register"))
    score_component = load_component(source=path("score"))
    if environment:
        register_component.environment = score_component.environment = environment

    @dsl.pipeline(name="iris-v2", compute=compute, description="champion's v2 sample")
    def iris_v2(iris_csv, seed):  # type: ignore[no-untyped-def]  # no annotations: see below
        # node names are the variables': the register component reads the metrics of `train`
        train = train_component(data=iris_csv, seed=seed)
        register = register_component(
            model=train.outputs.model,
            model_name=model_name,
            training_step_name="train",
            build_number=build_number,
        )
        score = score_component(model_name=model_name, data=iris_csv)
        condition(register.outputs.promoted, true_block=score)

    data_path = Path(data).resolve()
    return iris_v2(iris_csv=Input(type="uri_file", path=str(data_path)), seed=seed)


def main(argv: Sequence[str] | None = None) -> int:
    """`python pipelines/iris_v2.py [--run|--validate|--submit] ...`: the v2 driver."""
    from champion.pipeline.v2_local import main as drive

    return drive(argv, builder=build_pipeline)


if __name__ == "__main__":
    sys.exit(main())
