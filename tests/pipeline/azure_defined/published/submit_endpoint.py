"""Another process, later: run the endpoint's default pipeline."""

from azureml.core import Workspace
from azureml.pipeline.core import PipelineEndpoint

ws = Workspace.from_config()
endpoint = PipelineEndpoint.get(workspace=ws, name="echo-endpoint")
run = endpoint.submit("echo", pipeline_parameters={"greeting": "endpoint"})
print("PipelineEndpoint.submit:", run.wait_for_completion(show_output=False))
print("pipeline id:", run.properties.get("azureml.pipelineid"))
for step in run.get_steps():
    print("step:", step.name, step.get_status())
