"""Every kind of input a step can be given: a DataReference, a DataPath pipeline parameter, a
registered file dataset downloaded, a tabular dataset directly, and an OutputFileDatasetConfig
with a destination of its own, read by the next step as a download."""

import argparse

from azureml.core import Dataset, Experiment, Workspace
from azureml.data import OutputFileDatasetConfig
from azureml.data.data_reference import DataReference
from azureml.data.datapath import DataPath, DataPathComputeBinding
from azureml.pipeline.core import Pipeline, PipelineParameter
from azureml.pipeline.steps import PythonScriptStep

parser = argparse.ArgumentParser()
parser.add_argument("--table", default="tables/b.csv")
args = parser.parse_args()

ws = Workspace.from_config()
store = ws.get_default_datastore()
store.upload(src_dir="data", target_path="tables", overwrite=True, show_progress=False)
files = Dataset.File.from_files(path=(store, "tables")).register(
    ws, "tables", create_new_version=True
)
table = Dataset.Tabular.from_delimited_files(path=(store, "tables/a.csv"))

reference = DataReference(store, data_reference_name="folder", path_on_datastore="tables")
table_path = PipelineParameter(name="table_path", default_value=DataPath(store, "tables/a.csv"))
table_input = (table_path, DataPathComputeBinding(mode="download"))
files_input = files.as_named_input("files").as_download()
direct_input = table.as_named_input("direct")
export = OutputFileDatasetConfig(name="export", destination=(store, "exports/{run-id}"))

write = PythonScriptStep(
    name="write",
    script_name="write.py",
    source_directory="steps",
    arguments=[
        "--folder",
        reference,
        "--table",
        table_input,
        "--files",
        files_input,
        "--direct",
        direct_input,
        "--export",
        export,
    ],
    inputs=[reference, table_input, files_input, direct_input],
    outputs=[export],
    compute_target="cpu-cluster",
    allow_reuse=False,
)
read = PythonScriptStep(
    name="read",
    script_name="read.py",
    source_directory="steps",
    arguments=["--export", export.as_input(name="exported").as_download()],
    compute_target="cpu-cluster",
    allow_reuse=False,
)
run = Experiment(ws, "inputs").submit(
    Pipeline(ws, [write, read]), pipeline_parameters={"table_path": DataPath(store, args.table)}
)
print("final status", run.wait_for_completion(show_output=False))
