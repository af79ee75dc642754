"""Register the train step's model with the data it was trained on."""

import argparse

from azureml.core import Run

parser = argparse.ArgumentParser()
parser.add_argument("--model-name", required=True)
args = parser.parse_args()

run = Run.get_context()
datasets = [("training data", item["dataset"]) for item in run.get_details()["inputDatasets"]]
[train_run] = run.parent.find_step_run("train")
model = train_run.register_model(
    model_name=args.model_name, model_path="outputs/model.pkl", datasets=datasets
)
print("registered", model.name, model.version, "with", len(datasets), "dataset(s)")
