"""Register step (seed shape): register the model only when it beats the champion.

The shape of the seed's iris register step, written for these tests: the training data as a
tabular dataset on the default datastore, a bare `except Exception` around the champion lookup
(no champion reads as 0), and `parentrun.register_model` with a sample input dataset and a
resource configuration."""

import argparse
import os

from azureml.core import Dataset, Model, Run
from azureml.core.resource_configuration import ResourceConfiguration

parser = argparse.ArgumentParser()
parser.add_argument("--model-name", required=True)
parser.add_argument("--model-dir", required=True)
args = parser.parse_args()

run = Run.get_context()
parentrun = run.parent
ws = run.experiment.workspace

datastore = ws.get_default_datastore()
iris = Dataset.Tabular.from_delimited_files(path=(datastore, "iris.csv"))
iris = iris.register(
    ws, name="iris-data", description="iris training data", create_new_version=True
)
print(f"dataset {iris.name}:{iris.version}, {len(iris.to_pandas_dataframe())} rows")

accuracy = float(parentrun.get_tags()["accuracy"])
try:
    champion = Model(ws, args.model_name)
    champion_accuracy = float(champion.properties["accuracy"])
except Exception:
    champion_accuracy = 0.0
print(f"challenger {accuracy} vs champion {champion_accuracy}")

if accuracy > champion_accuracy:
    artifact = f"outputs/{args.model_name}.pkl"
    parentrun.upload_file(artifact, os.path.join(args.model_dir, "model.pkl"))
    try:
        model = parentrun.register_model(
            model_name=args.model_name,
            model_path=artifact,
            tags={"area": "iris"},
            properties={"accuracy": accuracy},
            model_framework=Model.Framework.SCIKITLEARN,
            sample_input_dataset=iris,
            resource_configuration=ResourceConfiguration(cpu=1, memory_in_gb=0.5),
        )
        print(f"registered {model.name}:{model.version}")
    except Exception as e:
        print(f"registration failed: {e}")
else:
    print("the champion stays")
