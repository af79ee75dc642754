"""Train step (seed shape): write the model, upload the training data to the default datastore,
and tag the pipeline run with the challenger's accuracy (given, not trained: the test decides)."""

import argparse
import os
import pickle

from azureml.core import Run

parser = argparse.ArgumentParser()
parser.add_argument("--accuracy", type=float, required=True)
parser.add_argument("--output-dir", required=True)
args = parser.parse_args()

run = Run.get_context()
ws = run.experiment.workspace

os.makedirs(args.output_dir, exist_ok=True)
with open(os.path.join(args.output_dir, "model.pkl"), "wb") as out:
    pickle.dump({"kind": "iris-model", "accuracy": args.accuracy}, out)

# iris.csv travels in the snapshot, next to this script; the register step reads it back from
# the default datastore as a dataset.
datastore = ws.get_default_datastore()
datastore.upload_files(
    [os.path.abspath("iris.csv")], relative_root=os.getcwd(), overwrite=True, show_progress=False
)

run.parent.tag("accuracy", args.accuracy)
print(f"trained: accuracy {args.accuracy}")
