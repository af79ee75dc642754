"""Evaluate: the new model is worse, so the pipeline is canceled; then wait for this run."""

import argparse
import os

from azureml.core import Run

parser = argparse.ArgumentParser()
parser.add_argument("--marks", required=True)
parser.add_argument("--name", required=True)
args = parser.parse_args()

with open(os.path.join(args.marks, f"{args.name}.pid"), "w") as mark:
    mark.write(str(os.getpid()))
run = Run.get_context()
print("the new model is worse than the registered one: canceling the pipeline")
run.parent.cancel()
run.wait_for_completion(show_output=False)  # Azure ML ends this step while it waits
print("not reached")
