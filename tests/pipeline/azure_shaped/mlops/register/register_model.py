"""Register step (MLOps-template shape): register the evaluate step's saved model."""

import json
import os

from champion.context import get_run

here = os.path.dirname(os.path.abspath(__file__))
with open(os.path.join(here, "..", "evaluate", "parameters.json")) as f:
    parameters = json.load(f)

run = get_run()
pipeline = run.parent
[evaluate] = pipeline.find_step_run("evaluate")
evaluate.download_file("outputs/model.pkl", "model.pkl")
accuracy = pipeline.get_tags()[parameters["metric"]]
pipeline.upload_file("outputs/model.pkl", "model.pkl")
model = pipeline.register_model(
    parameters["model_name"],
    model_path="outputs/model.pkl",
    properties={parameters["metric"]: accuracy},
)
print(f"registered {model.name}:{model.version}")
