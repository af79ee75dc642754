"""A v2 pipeline written in the SDK's own style (components loaded from YAML, `@dsl.pipeline`,
`dsl.condition`), submitted with `ml_client.jobs.create_or_update` under `mock_azure_ai_ml()`,
or, with WORKSPACE `-`, as a user's own script that knows nothing of champion's fakes: under
`champion mock -- python v2_pipeline.py - ...` (the workspace is the launcher's).

    python v2_pipeline.py WORKSPACE SCENARIO OUT_JSON ACCURACY [ACCURACY ...]

SCENARIO: `gate` (train logs accuracy with MLflow, champion's register component decides,
score runs only when `promoted`), `metrics-file` (train hands its metrics over as a JSON file
to the register component's `metrics` input), `failing` (train exits 1). OUT_JSON gets, per
run, the job's name and status and its children's statuses, then the model's versions.
"""

import os

os.environ["AZURE_ML_CLI_PRIVATE_FEATURES_ENABLED"] = "true"  # dsl.condition, as on Azure

import contextlib
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
TRAIN = """
$schema: https://azuremlschemas.azureedge.net/latest/commandComponent.schema.json
type: command
name: train
inputs:
  accuracy: {type: number}
  fail: {type: string, default: "no"}
outputs:
  model: {type: uri_folder}
code: ./v2_code
environment: azureml:AzureML-sklearn-1.5-ubuntu20.04-py38-cpu@latest
command: >-
  python train.py --accuracy ${{inputs.accuracy}} --model ${{outputs.model}}
  --fail ${{inputs.fail}}
"""
TRAIN_WITH_FILE = TRAIN.replace(
    "outputs:\n  model: {type: uri_folder}",
    "outputs:\n  model: {type: uri_folder}\n  metrics: {type: uri_file}",
).replace("--fail ${{inputs.fail}}", "--fail ${{inputs.fail}} --metrics ${{outputs.metrics}}")
SCORE = """
$schema: https://azuremlschemas.azureedge.net/latest/commandComponent.schema.json
type: command
name: score
outputs:
  scored: {type: uri_folder}
code: ./v2_code
environment: azureml:AzureML-sklearn-1.5-ubuntu20.04-py38-cpu@latest
command: python score.py --out ${{outputs.scored}}
"""


def main() -> int:
    workspace, scenario, out, *accuracies = sys.argv[1:]
    (HERE / "train.yaml").write_text(TRAIN_WITH_FILE if scenario == "metrics-file" else TRAIN)
    (HERE / "score.yaml").write_text(SCORE)
    results = []
    if workspace == "-":  # under the launcher: the SDK is faked from its first import on
        session: contextlib.AbstractContextManager[object] = contextlib.nullcontext()
    else:
        from champion.local.mock_v2 import mock_azure_ai_ml

        session = mock_azure_ai_ml(workspace)
    with session:
        from azure.ai.ml import MLClient, dsl, load_component
        from azure.ai.ml.dsl._condition import condition
        from azure.identity import DefaultAzureCredential

        from champion.components import path

        train_component = load_component(source=HERE / "train.yaml")
        score_component = load_component(source=HERE / "score.yaml")
        register_component = load_component(source=path("register"))

        @dsl.pipeline(compute="serverless", description="train, register if better, score")
        def iris_pipeline(accuracy: float, fail: str = "no"):
            # a node is named after its variable: the register component reads the metrics of
            # the node called `train` (its training_step_name)
            train = train_component(accuracy=accuracy, fail=fail)
            metrics = train.outputs.metrics if scenario == "metrics-file" else None
            register = register_component(
                model=train.outputs.model,
                model_name="iris",
                training_step_name="train",
                metrics=metrics,
                build_number="42",
            )
            score = score_component()
            condition(register.outputs.promoted, true_block=score)

        ml_client = MLClient(DefaultAzureCredential(), "sub", "rg", "ws")
        for accuracy in accuracies:
            job = iris_pipeline(
                accuracy=float(accuracy), fail="yes" if scenario == "failing" else "no"
            )
            returned = ml_client.jobs.create_or_update(job, experiment_name="iris-v2")
            ml_client.jobs.stream(returned.name) if returned.status == "Completed" else None
            children = {
                child.display_name: child.status
                for child in ml_client.jobs.list(parent_job_name=returned.name)
            }
            fetched = ml_client.jobs.get(returned.name)
            results.append({"name": returned.name, "status": fetched.status, "children": children})
        try:
            versions = [
                [int(m.version), m.properties.get("accuracy")]
                for m in ml_client.models.list("iris")
            ]
        except Exception:  # no model of that name yet
            versions = []
    Path(out).write_text(json.dumps({"runs": results, "versions": sorted(versions)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
