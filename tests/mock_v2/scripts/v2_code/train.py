"""A training command as a v2 user writes one: it logs its accuracy with MLflow (Azure ML gives
the job its MLflow run) and writes a model folder to its output; with --metrics it also writes
the metrics as a JSON file."""

import argparse
import json
import sys
from pathlib import Path

import mlflow

parser = argparse.ArgumentParser()
parser.add_argument("--accuracy", type=float, required=True)
parser.add_argument("--model", required=True)
parser.add_argument("--metrics", default=None)
parser.add_argument("--fail", default="no")
args = parser.parse_args()
if args.fail == "yes":
    print("training failed: no data", file=sys.stderr)
    sys.exit(1)
if args.metrics:
    Path(args.metrics).write_text(json.dumps({"accuracy": args.accuracy}))
else:
    mlflow.log_metric("accuracy", args.accuracy)
model = Path(args.model)
model.mkdir(parents=True, exist_ok=True)
(model / "model.pkl").write_bytes(f"a model scoring {args.accuracy}".encode())
print(f"trained: accuracy {args.accuracy}")
