"""Register the model only when it beats the registered one."""

import argparse
import os
import shutil

from azureml.core import Model, Run
from azureml.exceptions import WebserviceException

parser = argparse.ArgumentParser()
parser.add_argument("--model-dir", required=True)
parser.add_argument("--model-name", required=True)
parser.add_argument("--build-id", required=True)
args = parser.parse_args()

run = Run.get_context()
ws = run.experiment.workspace
accuracy = float(run.parent.get_tags()["accuracy"])
try:
    best = float(Model(ws, name=args.model_name).tags["accuracy"])
except WebserviceException:
    best = None
if best is None or accuracy > best:
    # the SDK registers files under the working directory only
    shutil.copyfile(os.path.join(args.model_dir, "model.pkl"), "model.pkl")
    model = Model.register(
        workspace=ws,
        model_path="model.pkl",
        model_name=args.model_name,
        tags={"accuracy": str(accuracy), "build_id": args.build_id},
    )
    run.parent.tag("registered_version", str(model.version))
    print("registered version", model.version)
else:
    run.parent.tag("registered_version", "none")
    print("kept the champion:", best, ">=", accuracy)
