"""Build and submit the training pipeline (train, then register only a better model)."""

import argparse
import subprocess
import sys

from azureml.core import Experiment, Workspace
from azureml.core.compute import AmlCompute, ComputeTarget
from azureml.core.compute_target import ComputeTargetException
from azureml.pipeline.core import Pipeline, PipelineData, PipelineParameter
from azureml.pipeline.steps import PythonScriptStep

parser = argparse.ArgumentParser()
parser.add_argument("--accuracy", type=float, required=True)
parser.add_argument("--build-id", default="local")
args = parser.parse_args()

ws = Workspace.from_config()
print("workspace", ws.name)
try:
    cluster = ComputeTarget(workspace=ws, name="cpu-cluster")
except ComputeTargetException:
    config = AmlCompute.provisioning_configuration(vm_size="STANDARD_D2_V2", max_nodes=4)
    cluster = ComputeTarget.create(ws, "cpu-cluster", config)
    cluster.wait_for_completion(show_output=True)

model_dir = PipelineData("model_dir", datastore=ws.get_default_datastore())
accuracy = PipelineParameter(name="accuracy", default_value=0.5)
build_id = PipelineParameter(name="build_id", default_value="none")

train = PythonScriptStep(
    name="train",
    script_name="train.py",
    source_directory="steps",
    arguments=["--model-dir", model_dir, "--accuracy", accuracy],
    outputs=[model_dir],
    compute_target=cluster,
    allow_reuse=False,
)
register = PythonScriptStep(
    name="register",
    script_name="register.py",
    source_directory="steps",
    arguments=["--model-dir", model_dir, "--model-name", "iris-sdk", "--build-id", build_id],
    inputs=[model_dir],
    compute_target=cluster,
    allow_reuse=False,
)
pipeline = Pipeline(workspace=ws, steps=[train, register])
pipeline.validate()
run = Experiment(ws, "train-register").submit(
    pipeline, pipeline_parameters={"accuracy": args.accuracy, "build_id": args.build_id}
)
run.wait_for_completion(show_output=True)
print("pipeline run", run.id, run.get_status(), run.get_tags().get("registered_version"))

# a helper process the script starts sees the same workspace
child = "from azureml.core import Workspace; print('child sees', Workspace.from_config().name)"
subprocess.run([sys.executable, "-c", child], check=True)
