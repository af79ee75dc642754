"""`champion pipeline run|validate FILE` with an Azure ML v2 pipeline file (`build_pipeline()`
returning a `PipelineJob`): the sample runs here with one command and validates offline with
the real SDK, a failed node's own exit code is the command's, and a mistake in the file is one
line. Real processes, the real azure-ai-ml, the sample file itself."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "pipelines" / "iris_v2.py"
CHAMPION = Path(sys.executable).parent / "champion"

pytestmark = pytest.mark.slow


def champion(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PATH": os.pathsep.join([str(CHAMPION.parent), os.environ["PATH"]])}
    env.pop("BUILD_BUILDNUMBER", None)
    env.pop("CHAMPION_WORKSPACE", None)
    return subprocess.run(
        [str(CHAMPION), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=900
    )


def test_the_sample_validates_offline_with_the_sdk(tmp_path):
    done = champion("pipeline", "validate", str(SAMPLE), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "the pipeline job is valid (4 nodes)" in done.stdout
    assert not (tmp_path / ".champion").exists()  # offline: no workspace, no run


def test_the_sample_runs_here_and_score_runs_only_after_a_win(tmp_path):
    """One command from the README, twice: the first model is registered and scored with; the
    same data again ties, nothing is registered and the score node does not run."""
    first = champion("pipeline", "run", str(SAMPLE), "--build-number", "1", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert "champion: first as iris:1" in first.stdout
    assert "node score: Completed" in first.stderr
    again = champion("pipeline", "run", str(SAMPLE), "--build-number", "2", cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert "champion: rejected" in again.stdout and "(build 2)" in again.stdout
    assert "node score: not run (condition" in again.stderr
    history = champion("models", "history", "iris", "--format", "json", cwd=tmp_path)
    outcomes = [(e["outcome"], e["version"]) for e in json.loads(history.stdout)]
    assert outcomes == [("first", 1), ("rejected", None)]


def test_a_data_file_that_is_not_there_is_refused_before_any_job_exists(tmp_path):
    """As Azure's upload refuses it at submission: one line naming the input and the path
    (not "no registered data asset"), exit 2, and the workspace holds no job."""
    done = champion("pipeline", "run", str(SAMPLE), "--data", "missing.csv", cwd=tmp_path)
    assert done.returncode == 2, done.stdout + done.stderr
    (line,) = [x for x in done.stderr.splitlines() if x.startswith("champion:")]
    assert "pipeline input 'iris_csv':" in line and "missing.csv' is not a file or folder" in line
    runs = champion("runs", "list", "--format", "json", cwd=tmp_path)
    assert runs.returncode == 0 and json.loads(runs.stdout) == []


V2_FILE = '''
"""A v2 pipeline whose training step logs no metric."""
import os

os.environ.setdefault("AZURE_ML_CLI_PRIVATE_FEATURES_ENABLED", "true")
from pathlib import Path

from azure.ai.ml import dsl, load_component

from champion.components import path

HERE = Path(__file__).resolve().parent


def build_pipeline(*, model_name: str = "m"{extra}):
    train = load_component(source=HERE / "train.yaml")
    register = load_component(source=path("register"))

    @dsl.pipeline(compute="serverless")
    def gate():
        trained = train()
        register(model=trained.outputs.model, model_name=model_name,
                 training_step_name="trained")
{body}
    return gate()
'''
TRAIN = """
$schema: https://azuremlschemas.azureedge.net/latest/commandComponent.schema.json
type: command
name: train
outputs:
  model: {type: uri_folder}
code: .
environment: azureml:AzureML-sklearn-1.5-ubuntu20.04-py38-cpu@latest
command: mkdir -p ${{outputs.model}} && echo w > ${{outputs.model}}/model.pkl
"""


def write(tmp_path: Path, extra: str = "", body: str = "") -> Path:
    project = tmp_path / "project"
    project.mkdir(exist_ok=True)
    (project / "train.yaml").write_text(TRAIN)
    file = project / "pipeline.py"
    file.write_text(V2_FILE.format(extra=extra, body=textwrap.indent(body, " " * 4)))
    return file


def test_a_failed_node_s_exit_code_is_the_command_s(tmp_path):
    """The register step refuses a challenger without its metric (exit 2, the user's to fix):
    `champion pipeline run` exits 2 too, as a DevOps job must see it, after its one line."""
    file = write(tmp_path)
    done = champion("pipeline", "run", str(file), cwd=tmp_path)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "register: Failed (exit code 2" in done.stderr
    assert "no 'accuracy'" in done.stderr
    assert "Traceback" not in done.stdout + done.stderr


def test_submit_wait_of_a_job_that_failed_exits_1_saying_so(tmp_path):
    """`champion pipeline submit FILE --wait` under `champion mock --` (submitted to the
    local workspace, as a DevOps job would to Azure): `jobs.stream` raises for a failed job,
    and the command says the job failed (exit 1), not that the service did."""
    file = write(tmp_path)
    submit = [str(CHAMPION), "pipeline", "submit", str(file), "--wait"]
    done = champion("mock", "--workspace", str(tmp_path / "ws"), "--", *submit, cwd=tmp_path)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "ended Failed" in done.stdout
    assert "JobException" not in done.stdout + done.stderr


@pytest.mark.parametrize(
    ("extra", "body", "expected"),
    [
        (", seed", "", "build_pipeline parameter 'seed' has no default"),
        ("", "raise ValueError('no such data')", "pipeline.py:"),
        ("", "return 42", "build_pipeline returned a int, not a PipelineJob"),
    ],
    ids=["no-default", "raises", "not-a-job"],
)
def test_a_mistake_in_the_v2_file_is_one_line_and_exit_2(tmp_path, extra, body, expected):
    if body.startswith("return"):
        file = write(tmp_path)
        file.write_text(file.read_text().replace("    return gate()", "    " + body))
    else:
        file = write(tmp_path, extra=extra.replace("seed", "seed: int"), body=body)
    done = champion("pipeline", "run", str(file), cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    (line,) = done.stderr.strip().splitlines()
    assert line.startswith("champion: error [") and expected in line, line
    assert not (tmp_path / ".champion").exists() or not any(
        (tmp_path / ".champion").glob("pipeline-data/*")
    )


def test_python_file_runs_the_sample_s_own_main(tmp_path):
    """`python pipelines/iris_v2.py --validate`: the file's `main()` is the same driver."""
    done = subprocess.run(
        [sys.executable, str(SAMPLE), "--validate", "--data", str(ROOT / "sample_data/iris.csv")],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    assert "valid (4 nodes)" in done.stdout


def test_the_v2_devops_build_submits_with_options_the_driver_has_and_reads_its_variables():
    """azure-pipelines-v2.yml: every flag its submit passes is an option of the v2 driver for
    the sample, no macro is pasted into script text, and later jobs read the variables the
    driver sets (the v1 build's names)."""
    import re

    import yaml

    from champion.decision import Policy, decide
    from champion.pipeline import load_pipeline_file, v2_local
    from champion.record import DecisionRecord, devops_commands

    build = yaml.safe_load((ROOT / "azure-pipelines-v2.yml").read_text())
    train = next(s for s in build["stages"] if s["stage"] == "Train")
    submit = next(j for j in train["jobs"] if j["job"] == "submit")
    (task,) = [s for s in submit["steps"] if s.get("task") == "AzureCLI@2"]
    script = task["inputs"]["inlineScript"]
    command = " ".join(script.replace("\\\n", " ").split())
    assert ".venv/bin/champion pipeline submit pipelines/iris_v2.py --wait" in command
    assert '--build-number "$BUILD_NUMBER"' in command
    assert task["env"]["BUILD_NUMBER"] == "$(Build.BuildNumber)"
    for step in [s for stage in build["stages"] for j in stage["jobs"] for s in j["steps"]]:
        text = step.get("script") or step.get("inputs", {}).get("inlineScript") or ""
        assert re.findall(r"\$\((?!az )[^)]*\)", text) == [], text
    parser = v2_local._parser(load_pipeline_file(SAMPLE).build_pipeline, "iris_v2.py", "submit")
    options = {o for action in parser._actions for o in action.option_strings}
    for flag in re.findall(r"--[a-z-]+", command.split("pipelines/iris_v2.py")[1]):
        assert flag in options, flag
    record = DecisionRecord(
        decision=decide(0.97, 0.95, Policy("accuracy")), model_name="iris",
        registered_version=3, build_number="7", challenger_source="parent run",
        parent_run_id="run-1", artifact_path="outputs/iris", artifact_sha256="ab" * 32,
    )  # fmt: skip
    names = [line.split("variable=")[1].split(";")[0] for line in devops_commands(record)]
    verdict = next(j for j in train["jobs"] if j["job"] == "verdict")
    assert verdict["variables"]["outcome"] == (
        f"$[ dependencies.submit.outputs['{task['name']}.{names[0]}'] ]"
    )


INPUTS_FILE = '''
"""One node reading a registered data asset, a datastore path and a local file."""
from azure.ai.ml import Input, command, dsl


def build_pipeline(*, tag: str = "x"):
    show = command(
        command="cat ${{inputs.asset}} ${{inputs.stored}} ${{inputs.here}} > ${{outputs.out}}/all",
        inputs={"asset": Input(type="uri_file"), "stored": Input(type="uri_file"),
                "here": Input(type="uri_file")},
        outputs={"out": {"type": "uri_folder"}},
        environment="azureml:AzureML-sklearn-1.5-ubuntu20.04-py38-cpu@latest",
    )

    @dsl.pipeline(compute="serverless")
    def read():
        show(asset=Input(type="uri_file", path="azureml:rows:1"),
             stored=Input(type="uri_file",
                          path="azureml://datastores/workspaceblobstore/paths/in/b.txt"),
             here=Input(type="uri_file", path="c.txt"))
    return read()
'''


def test_inputs_are_data_assets_datastore_paths_and_local_files(tmp_path):
    """`${{inputs.x}}` becomes the local path Azure would mount: a registered data asset's
    file, a datastore path's file, a local file (relative to the pipeline file)."""
    from champion.local import Dataset, Datastore, Workspace

    project = tmp_path / "project"
    project.mkdir()
    (project / "pipeline.py").write_text(INPUTS_FILE)
    (project / "c.txt").write_text("local\n")
    for name, text in (("a.txt", "asset\n"), ("b.txt", "stored\n")):
        (tmp_path / name).write_text(text)
    ws = Workspace.create(str(project / ".champion"))
    store = Datastore.get(ws, "workspaceblobstore")
    store.upload_files([str(tmp_path / "a.txt")], relative_root=str(tmp_path), target_path="ds")
    store.upload_files([str(tmp_path / "b.txt")], relative_root=str(tmp_path), target_path="in")
    Dataset.File.from_files((store, "ds/a.txt")).register(ws, "rows")
    ws._store.close()
    done = champion("pipeline", "run", str(project / "pipeline.py"), cwd=project)
    assert done.returncode == 0, done.stdout + done.stderr
    (out,) = (project / ".champion" / "pipeline-data").glob("*/*/out/all")
    assert out.read_text() == "asset\nstored\nlocal\n"
