"""Build and submit the data pipeline: prep -> train -> register, data passed as datasets."""

from azureml.core import Dataset, Experiment, Workspace
from azureml.data import OutputFileDatasetConfig
from azureml.pipeline.core import Pipeline, PipelineData
from azureml.pipeline.steps import PythonScriptStep

ws = Workspace.from_config()
datastore = ws.get_default_datastore()
try:
    raw = Dataset.get_by_name(ws, name="iris-raw")
except Exception:
    datastore.upload_files(["data/iris.csv"], target_path="iris", overwrite=True)
    raw = Dataset.Tabular.from_delimited_files(path=(datastore, "iris/iris.csv"))
    raw = raw.register(workspace=ws, name="iris-raw", create_new_version=True)

raw_input = raw.as_named_input("raw")
training_data = raw.as_named_input("training_data")
split = PipelineData("split", datastore=datastore)  # prep writes a file at this path
features = PipelineData("features", datastore=datastore)
prepared = OutputFileDatasetConfig(name="prepared").read_delimited_files()
prepared = prepared.register_on_complete(name="iris-prepared")

prep = PythonScriptStep(
    name="prep",
    script_name="prep.py",
    source_directory="steps",
    arguments=[
        "--raw",
        raw_input,
        "--split",
        split,
        "--features",
        features,
        "--prepared",
        prepared,
    ],
    inputs=[raw_input],
    outputs=[split, features, prepared],
    compute_target="cpu-cluster",
    allow_reuse=False,
)
train = PythonScriptStep(
    name="train",
    script_name="train.py",
    source_directory="steps",
    arguments=["--split", split],
    inputs=[
        split,
        features.as_dataset().parse_parquet_files().as_named_input("features"),
        prepared.as_input(name="prepared"),
    ],
    compute_target="cpu-cluster",
    allow_reuse=False,
)
register = PythonScriptStep(
    name="register",
    script_name="register.py",
    source_directory="steps",
    arguments=["--model-name", "iris-data"],
    inputs=[training_data],
    compute_target="cpu-cluster",
)  # allow_reuse left at its default, True: on Azure ML this step may be reused, not run
register.run_after(train)
run = Experiment(ws, "data-outputs").submit(Pipeline(ws, [prep, train, register]))
print("final status", run.wait_for_completion(show_output=False))
