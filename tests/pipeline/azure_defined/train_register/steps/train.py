"""Train: write the model and report its accuracy on the pipeline run."""

import argparse
import os
import pickle

from azureml.core import Run

parser = argparse.ArgumentParser()
parser.add_argument("--model-dir", required=True)
parser.add_argument("--accuracy", type=float, required=True)
args = parser.parse_args()

run = Run.get_context()
os.makedirs(args.model_dir, exist_ok=True)
with open(os.path.join(args.model_dir, "model.pkl"), "wb") as handle:
    pickle.dump({"kind": "demo", "accuracy": args.accuracy}, handle)
run.log("accuracy", args.accuracy)
run.parent.tag("accuracy", str(args.accuracy))
print("trained, accuracy", args.accuracy)
