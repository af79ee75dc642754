"""Say which greeting this run was given, on the pipeline run."""

import argparse

from azureml.core import Run

parser = argparse.ArgumentParser()
parser.add_argument("--greeting", required=True)
args = parser.parse_args()
Run.get_context().parent.tag("greeting", args.greeting)
print(args.greeting)
