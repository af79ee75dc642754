"""Pipeline-definition scripts in the SDK's style run unchanged under `champion mock --`.

Each project in `azure_defined/` (see its README) is copied to a temporary folder with a
`config.json` naming an Azure workspace, and run as a user runs it: `champion mock -- python
SCRIPT`, a real process, whose pipelines run in real step processes on a real local workspace.
What is checked is what the user would see on Azure ML: the versions registered, the runs and
their statuses, what each step read and wrote, the processes that are left.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from champion.local import Dataset, Model, Run, Workspace

HERE = Path(__file__).resolve().parent / "azure_defined"
IRIS = Path(__file__).resolve().parents[2] / "sample_data" / "iris.csv"
CHAMPION = str(Path(sys.executable).parent / "champion")
#: What a checked-out project's config.json holds: a workspace on Azure, never reached here.
AZURE_CONFIG = {
    "subscription_id": "9a1c3f2e-0000-4000-8000-000000000042",
    "resource_group": "ml-prod",
    "workspace_name": "prod-ws",
}

pytestmark = pytest.mark.slow


def project(name: str, tmp_path: Path) -> Path:
    folder = tmp_path / name
    shutil.copytree(HERE / name, folder)
    (folder / "config.json").write_text(json.dumps(AZURE_CONFIG))
    return folder


def mock(folder: Path, *args: str, timeout: float = 900) -> subprocess.CompletedProcess[str]:
    """`champion mock -- python ARGS` in `folder`, with no CHAMPION_* variable of ours."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHAMPION_")}
    return subprocess.run(
        [CHAMPION, "mock", "--", sys.executable, *args],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,  # a hang fails the test with TimeoutExpired
    )


def pipeline_runs(ws: Workspace, experiment: str) -> list[Run]:
    """The experiment's pipeline runs, oldest first."""
    return list(reversed(list(ws.experiments[experiment].get_runs())))


def steps_of(run: Run) -> dict[str, Run]:
    return {str(child.name): child for child in run.get_children()}


def test_a_definition_script_submits_a_pipeline_that_registers_only_better_models(
    tmp_path: Path,
) -> None:
    folder = project("train_register", tmp_path)
    expected = {"0.8": [1], "0.7": [1], "0.9": [2, 1]}
    for accuracy, versions in expected.items():
        done = mock(folder, "build_pipeline.py", "--accuracy", accuracy, "--build-id", accuracy)
        assert done.returncode == 0, done.stdout + done.stderr
        ws = Workspace(folder / ".champion")
        assert [m.version for m in Model.list(ws, name="iris-sdk")] == versions
    # config.json names an Azure workspace: the script and the process it started got the local one
    assert "workspace .champion" in done.stdout and "child sees .champion" in done.stdout
    assert "prod-ws" not in done.stdout
    assert "Finished" in done.stdout  # wait_for_completion(show_output=True) streamed the steps

    champion = Model(ws, "iris-sdk")
    assert (champion.version, champion.tags) == (2, {"accuracy": "0.9", "build_id": "0.9"})
    runs = pipeline_runs(ws, "train-register")
    assert [r.get_status() for r in runs] == ["Completed"] * 3
    assert [r.get_tags()["registered_version"] for r in runs] == ["1", "none", "2"]
    assert [r.get_tags()["accuracy"] for r in runs] == ["0.8", "0.7", "0.9"]
    assert all(sorted(steps_of(r)) == ["register", "train"] for r in runs)


def test_step_outputs_reach_the_next_steps_as_files_and_datasets_as_on_azure(
    tmp_path: Path,
) -> None:
    folder = project("data_outputs", tmp_path)
    (folder / "data").mkdir()
    shutil.copyfile(IRIS, folder / "data" / "iris.csv")
    done = mock(folder, "build_pipeline.py")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "final status Finished" in done.stdout
    # the register step keeps allow_reuse=True: Azure ML may reuse it instead of running it
    assert "AzureMLTrapWarning" in done.stderr and "'register'" in done.stderr

    ws = Workspace(folder / ".champion")
    [run] = pipeline_runs(ws, "data-outputs")
    steps = steps_of(run)
    assert {name: step.get_status() for name, step in steps.items()} == {
        "prep": "Completed",
        "train": "Completed",
        "register": "Completed",
    }
    # prep wrote a file at its output path, its ./outputs and ./logs existed and were uploaded
    assert {"outputs/summary.txt", "logs/prep.log"} <= set(steps["prep"].get_file_names())
    # train read the file, the parquet folder as a table, the CSV output as a table
    metrics = steps["train"].get_metrics()
    assert (metrics["split_rows"], metrics["feature_rows"]) == (30, 150)
    assert (metrics["feature_columns"], metrics["prepared_rows"]) == (4, 100)
    given = steps["train"].get_details()["inputDatasets"]
    assert sorted(d["consumptionDetails"]["inputName"] for d in given) == ["features", "prepared"]
    assert all(d["consumptionDetails"]["mechanism"] == "Direct" for d in given)
    # the OutputFileDatasetConfig was registered when prep completed
    prepared = Dataset.get_by_name(ws, "iris-prepared")
    assert prepared.version == 1 and len(prepared.to_pandas_dataframe()) == 100
    # the model is registered with the data the register step was given
    model = Model(ws, "iris-data")
    assert [d.name for d in model.datasets["training data"]] == ["iris-raw"]


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    state = Path(f"/proc/{pid}/stat")
    return not (state.exists() and state.read_text().rsplit(")", 1)[1].split()[0] in "ZX")


def test_canceling_or_timing_out_stops_the_running_step_and_every_wait_returns(
    tmp_path: Path,
) -> None:
    folder = project("control", tmp_path)
    done = mock(folder, "build_pipeline.py")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "self-canceled: Canceled" in done.stdout
    assert "canceled: Canceled" in done.stdout
    assert "timed out: Failed" in done.stdout

    marks = folder / "marks"
    started = sorted(p.stem for p in marks.glob("*.pid"))
    assert started == ["evaluate", "slow", "stuck"]  # `after` never started
    for mark in marks.glob("*.pid"):
        assert not pid_alive(int(mark.read_text())), f"step {mark.stem} is still running"

    ws = Workspace(folder / ".champion")
    runs = pipeline_runs(ws, "control")
    assert [r.get_status() for r in runs] == ["Canceled", "Canceled", "Failed"]
    statuses = [{n: s.get_status() for n, s in steps_of(r).items()} for r in runs]
    assert statuses == [{"evaluate": "Canceled"}, {"slow": "Canceled"}, {"stuck": "Canceled"}]
    stuck = steps_of(runs[2])["stuck"]
    error = stuck.get_details()["error"]["error"]
    assert error["code"] == "StepTimeout" and "longer than its timeout of 20 s" in error["message"]


def test_published_pipelines_and_endpoints_are_kept_and_a_schedule_runs_only_on_azure(
    tmp_path: Path,
) -> None:
    folder = project("published", tmp_path)
    done = mock(folder, "publish.py")
    assert done.returncode == 3, done.stdout + done.stderr  # the Schedule, at the end
    lines = done.stdout.splitlines()
    assert "Pipeline.submit: Finished" in lines
    assert "published: [('echo-pipeline', '1')]" in lines
    assert "PublishedPipeline.submit: Finished" in lines
    assert "default version: 1" in lines
    assert "not reached" not in done.stdout
    refusal = [line for line in done.stderr.splitlines() if line.startswith("champion mock:")]
    assert len(refusal) == 1, done.stderr
    assert "publish.py:43: Schedule.create needs Azure" in refusal[0]
    assert "runs only on Azure" in refusal[0]
    second = next(line.split()[-1] for line in lines if line.startswith("second:"))

    again = mock(folder, "submit_endpoint.py")  # another process, later
    assert again.returncode == 0, again.stdout + again.stderr
    assert "PipelineEndpoint.submit: Finished" in again.stdout
    assert f"pipeline id: {second}" in again.stdout  # the endpoint's new default version
    assert "step: echo Finished" in again.stdout

    ws = Workspace(folder / ".champion")
    greetings = [r.get_tags()["greeting"] for r in pipeline_runs(ws, "echo")]
    assert greetings == ["submitted", "published", "endpoint"]


def test_every_kind_of_input_is_delivered_as_the_job_runtime_delivers_it(tmp_path: Path) -> None:
    folder = project("inputs", tmp_path)
    (folder / "data").mkdir()
    (folder / "data" / "a.csv").write_text("x,y\n1,2\n3,4\n")
    (folder / "data" / "b.csv").write_text("x,y\n5,6\n")
    done = mock(folder, "build_pipeline.py", "--table", "tables/b.csv")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "final status Finished" in done.stdout

    ws = Workspace(folder / ".champion")
    [run] = pipeline_runs(ws, "inputs")
    assert json.loads(run.get_tags()["seen"]) == {
        "folder": ["a.csv", "b.csv"],  # a DataReference to a datastore folder, in place
        "table": "x,y\n5,6",  # the DataPath parameter's submitted value, downloaded
        "files": ["a.csv", "b.csv"],  # a file dataset as_download(): its files, in argv too
        "files_in_argv": True,
        "direct_rows": 2,  # a tabular dataset, direct: the dataset, its id in argv
        "direct_in_argv": True,
    }
    write = steps_of(run)["write"]
    given = {
        d["consumptionDetails"]["inputName"]: d["consumptionDetails"]["mechanism"]
        for d in write.get_details()["inputDatasets"]
    }
    assert given == {"files": "Download", "direct": "Direct"}
    # the OutputFileDatasetConfig went to its destination, {run-id} being the write step's run
    exported = folder / ".champion" / "datastores" / "workspaceblobstore" / "exports" / write.id
    assert (exported / "seen.json").is_file()
