"""Submit a pipeline, publish it, run the published pipeline, put it behind an endpoint with a
second version as the default, then schedule it."""

from azureml.core import Workspace
from azureml.pipeline.core import (
    Pipeline,
    PipelineEndpoint,
    PipelineParameter,
    PublishedPipeline,
    Schedule,
    ScheduleRecurrence,
)
from azureml.pipeline.steps import PythonScriptStep

ws = Workspace.from_config()
greeting = PipelineParameter(name="greeting", default_value="hello")
echo = PythonScriptStep(
    name="echo",
    script_name="echo.py",
    source_directory="steps",
    arguments=["--greeting", greeting],
    compute_target="cpu-cluster",
    allow_reuse=False,
)
pipeline = Pipeline(workspace=ws, steps=[echo])

run = pipeline.submit("echo", pipeline_parameters={"greeting": "submitted"})
print("Pipeline.submit:", run.wait_for_completion(show_output=False))

published = pipeline.publish(name="echo-pipeline", description="says hello", version="1")
assert PublishedPipeline.get(ws, id=published.id).version == "1"
print("published:", [(p.name, p.version) for p in PublishedPipeline.list(ws)])
run = published.submit(ws, "echo", pipeline_parameters={"greeting": "published"})
print("PublishedPipeline.submit:", run.wait_for_completion(show_output=False))

PipelineEndpoint.publish(ws, name="echo-endpoint", description="echo", pipeline=published)
second = pipeline.publish(name="echo-pipeline", description="says hello", version="2")
PipelineEndpoint.get(workspace=ws, name="echo-endpoint").add_default(second)
print("default version:", PipelineEndpoint.get(workspace=ws, name="echo-endpoint").default_version)
print("second:", second.id)

recurrence = ScheduleRecurrence(frequency="Day", interval=1)
Schedule.create(
    ws, name="nightly", pipeline_id=published.id, experiment_name="echo", recurrence=recurrence
)
print("not reached")
