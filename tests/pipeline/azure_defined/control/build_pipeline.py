"""Three pipelines that end early: a step cancels its own pipeline, the script cancels one while
its step runs, and a step runs past its run configuration's max_run_duration_seconds."""

import os
import sys
import time

from azureml.core import Experiment, Workspace
from azureml.core.runconfig import RunConfiguration
from azureml.pipeline.core import Pipeline, StepSequence
from azureml.pipeline.steps import PythonScriptStep

ws = Workspace.from_config()
experiment = Experiment(ws, "control")
marks = os.path.abspath("marks")  # each step writes its pid here when it starts
os.makedirs(marks, exist_ok=True)


def step(name, script, runconfig=None):
    return PythonScriptStep(
        name=name,
        script_name=script,
        source_directory="steps",
        arguments=["--marks", marks, "--name", name],
        compute_target="cpu-cluster",
        runconfig=runconfig,
        allow_reuse=False,
    )


# 1. the evaluate step finds the new model worse: it cancels the pipeline, then waits for its run
evaluate, after = step("evaluate", "cancel_self.py"), step("after", "sleep.py")
run = experiment.submit(Pipeline(ws, StepSequence(steps=[evaluate, after])))
print("self-canceled:", run.wait_for_completion(show_output=False, raise_on_error=False))

# 2. the script cancels the pipeline while its step runs
run = experiment.submit(Pipeline(ws, [step("slow", "sleep.py")]))
deadline = time.time() + 300
while not os.path.exists(os.path.join(marks, "slow.pid")):
    if time.time() > deadline:
        sys.exit("the slow step never started")
    time.sleep(0.5)
run.cancel()
print("canceled:", run.wait_for_completion(show_output=False, raise_on_error=False))

# 3. a step that runs longer than its run configuration allows
config = RunConfiguration()
config.max_run_duration_seconds = 20
run = experiment.submit(Pipeline(ws, [step("stuck", "sleep.py", runconfig=config)]))
print("timed out:", run.wait_for_completion(show_output=False, raise_on_error=False))
