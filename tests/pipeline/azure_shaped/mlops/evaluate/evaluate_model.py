"""Evaluate step (MLOps-template shape): save the candidate and stop the pipeline when it is not
better than the champion, so the register step after it never starts."""

import argparse
import json
import os
import pickle

from util.model_helper import champion_metric  # a sibling package at the snapshot root

from champion.context import get_run

here = os.path.dirname(os.path.abspath(__file__))
with open(os.path.join(here, "parameters.json")) as f:
    parameters = json.load(f)

parser = argparse.ArgumentParser()
parser.add_argument("--accuracy", type=float, required=True)
args = parser.parse_args()

run = get_run()
os.makedirs("outputs", exist_ok=True)
with open("outputs/model.pkl", "wb") as out:
    pickle.dump({"accuracy": args.accuracy}, out)
os.makedirs("logs", exist_ok=True)
with open("logs/evaluation.txt", "w") as out:
    out.write(f"candidate {args.accuracy}\n")

run.log(parameters["metric"], args.accuracy)
champion = champion_metric(run, parameters["model_name"], parameters["metric"])
print(f"candidate {args.accuracy}, champion {champion}")
if champion is not None and args.accuracy <= champion:
    print("the candidate is not better: canceling the pipeline")
    run.parent.cancel()
else:
    run.parent.tag(parameters["metric"], args.accuracy)
