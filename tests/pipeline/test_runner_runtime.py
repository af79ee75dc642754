"""The local runner gives a step what Azure ML's job runtime gives it: its snapshot as working
directory and on sys.path, `./outputs` and `./logs` uploaded to its run however it ends,
datastore paths and datasets as inputs. Tiny real scripts in real processes."""

from __future__ import annotations

import json
import os
import textwrap
from pathlib import Path

import pytest

from champion.errors import InputError
from champion.local import Dataset, Run, Workspace
from champion.pipeline import DatasetInput, DatastoreInput, PipelineSpec, Step, run_pipeline
from champion.pipeline.local import CANCELED_EXIT_CODE, DRIVER_LOG, PipelineResult, StepResult

SNAPSHOT_STEP = """
import json, os, sys
from pathlib import Path
from champion.local import Run
from helpers.names import NAME  # a package at the snapshot root, from a script in a subfolder

here = Path(__file__).resolve().parent
settings = json.loads((here / "settings.json").read_text())
seen = sorted(p.as_posix() for p in Path(".").rglob("*") if p.is_file())
Path("written-by-the-step.txt").write_text("scratch")
Run.get_context().set_tags({
    "name": NAME,
    "setting": settings["value"],
    "cwd": os.getcwd(),
    "script": str(Path(__file__).resolve()),
    "seen": json.dumps(seen),
})
"""

FILES_STEP = """
import os, sys
from pathlib import Path
from champion.local import Run

Path("outputs/model").mkdir(parents=True)
Path("outputs/model/model.pkl").write_bytes(b"model bytes")
Path("outputs/secret-link").symlink_to("/etc/hostname")
Path("logs").mkdir(exist_ok=True)  # the job runtime made it
Path("logs/train.log").write_text("epoch 1")
Path("outputs/early.txt").write_text("uploaded by the step itself")
Run.get_context().upload_file("outputs/early.txt", "outputs/early.txt")
print("about to fail")
sys.exit(int(sys.argv[1]))
"""

INPUTS_STEP = """
import json, os, sys
from pathlib import Path
from champion.context import get_run

run = get_run()
datasets = run.input_datasets
direct = datasets["iris_direct"]
run.set_tags({
    "argv": json.dumps(sys.argv[1:]),
    "env_mounted": os.environ["AZUREML_DATAREFERENCE_raw"],
    "env_copied": os.environ["AZUREML_DATAREFERENCE_copied"],
    "mounted_text": Path(sys.argv[2]).read_text(),
    "copied_text": Path(sys.argv[4]).read_text(),
    "direct_name": direct.name,
    "direct_rows": str(len(direct.to_pandas_dataframe())),
    "files_folder": datasets["files"],
    "files": json.dumps(sorted(os.listdir(datasets["files"]))),
    "type": type(run).__module__,
    "details_inputs": json.dumps(sorted(
        (d["consumptionDetails"]["inputName"], d["consumptionDetails"]["mechanism"],
         d["dataset"].name)
        for d in run.get_details()["inputDatasets"]
    )),
})
"""


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
    return path


def test_a_step_runs_in_a_fresh_copy_of_its_source_directory(
    tmp_path: Path, local_ws: Workspace
) -> None:
    src = tmp_path / "src"
    write(src, "train/step.py", SNAPSHOT_STEP)
    write(src, "train/settings.json", json.dumps({"value": "from the snapshot"}))
    write(src, "helpers/__init__.py", "")
    write(src, "helpers/names.py", "NAME = 'sibling package'\n")
    write(src, "big/data.bin", "ignored by .amlignore")
    write(src, ".amlignore", "# not for the snapshot\nbig\n*.tmp\n")
    write(src, "notes.tmp", "ignored")
    (src / "__pycache__").mkdir()
    write(src, "__pycache__/x.pyc", "")
    spec = PipelineSpec("snapshot", (Step("s", "train/step.py", allow_reuse=False),), src)

    result = run_pipeline(spec, local_ws.path, stream_output=False)
    assert result.succeeded, result.summary()
    tags = Run.get(local_ws, result.steps[0].run_id).get_tags()
    assert (tags["name"], tags["setting"]) == ("sibling package", "from the snapshot")
    cwd = Path(str(tags["cwd"]))
    assert cwd.is_relative_to(local_ws.path / "pipeline-steps") and cwd != src
    assert tags["script"] == str(cwd / "train" / "step.py")
    seen = json.loads(str(tags["seen"]))
    assert "train/settings.json" in seen and "helpers/names.py" in seen
    assert not [p for p in seen if p.startswith(("big/", "__pycache__/")) or p.endswith(".tmp")]
    assert not (src / "written-by-the-step.txt").exists()  # the source directory is untouched

    again = run_pipeline(spec, local_ws.path, stream_output=False)  # fresh again: no leftovers
    seen_again = json.loads(str(Run.get(local_ws, again.steps[0].run_id).get_tags()["seen"]))
    assert "written-by-the-step.txt" not in seen_again


@pytest.mark.parametrize("code", [0, 3])
def test_outputs_and_logs_reach_the_step_run_however_it_ends(
    tmp_path: Path, local_ws: Workspace, code: int
) -> None:
    src = tmp_path / "src"
    write(src, "step.py", FILES_STEP)
    spec = PipelineSpec("files", (Step("s", "step.py", (str(code),), allow_reuse=False),), src)
    result = run_pipeline(spec, local_ws.path, stream_output=False)
    assert result.exit_code == code
    run = Run.get(local_ws, result.steps[0].run_id)
    assert run.get_status() == ("Completed" if code == 0 else "Failed")
    assert sorted(run.get_file_names()) == [
        DRIVER_LOG,
        "logs/train.log",
        "outputs/early.txt",
        "outputs/model/model.pkl",
    ]  # the link is not followed, the step's own upload is not repeated
    run.download_file("outputs/model/model.pkl", str(tmp_path / "m.pkl"))
    assert (tmp_path / "m.pkl").read_bytes() == b"model bytes"


def test_datastore_and_dataset_inputs(tmp_path: Path, local_ws: Workspace) -> None:
    data = tmp_path / "data"
    write(data, "raw/table.csv", "a,b\n1,2\n")
    write(data, "images/1.txt", "one")
    write(data, "images/sub/2.txt", "two")
    datastore = local_ws.get_default_datastore()
    datastore.upload(str(data), show_progress=False)
    Dataset.Tabular.from_delimited_files((datastore, "raw/table.csv")).register(local_ws, "table")
    Dataset.File.from_files((datastore, "images")).register(local_ws, "images")

    src = tmp_path / "src"
    write(src, "step.py", INPUTS_STEP)
    raw = DatastoreInput("raw", "raw/table.csv")
    copied = DatastoreInput("copied", "raw/table.csv", mode="download")
    direct = DatasetInput("iris_direct", "table")
    files = DatasetInput("files", "images", version="1", mode="download")
    step = Step(
        "s",
        "step.py",
        ("--raw", raw, "--copied", copied, "--table", direct),
        inputs=(raw, copied, direct, files),
        allow_reuse=False,
    )
    spec = PipelineSpec("inputs", (step,), src)
    for real_sdk in (False, True):
        result = run_pipeline(spec, local_ws.path, real_sdk=real_sdk, stream_output=False)
        assert result.succeeded, result.summary()
        tags = Run.get(local_ws, result.steps[0].run_id).get_tags()
        in_store = local_ws.path / "datastores" / "workspaceblobstore" / "raw" / "table.csv"
        table_id = Dataset.get_by_name(local_ws, "table").id
        assert json.loads(str(tags["argv"])) == [
            "--raw", str(in_store), "--copied", tags["env_copied"], "--table", table_id,
        ]  # fmt: skip
        assert tags["env_mounted"] == str(in_store)
        assert Path(str(tags["env_copied"])) != in_store and tags["copied_text"] == "a,b\n1,2\n"
        assert tags["mounted_text"] == "a,b\n1,2\n"
        assert (tags["direct_name"], tags["direct_rows"]) == ("table", "1")
        assert json.loads(str(tags["files"])) == ["1.txt", "sub"]
        assert str(tags["type"]).startswith("azureml" if real_sdk else "champion")
        # what a register step reads to record the training data with the model
        assert json.loads(str(tags["details_inputs"])) == [
            ["files", "Download", "images"], ["iris_direct", "Direct", "table"],
        ]  # fmt: skip


def test_an_unknown_dataset_input_creates_no_run(tmp_path: Path, local_ws: Workspace) -> None:
    src = tmp_path / "src"
    write(src, "step.py", "print('never')\n")
    missing = DatasetInput("data", "nope")
    spec = PipelineSpec("inputs", (Step("s", "step.py", inputs=(missing,)),), src)
    with pytest.raises(InputError, match="names dataset 'nope' version latest, which is not"):
        run_pipeline(spec, local_ws.path, stream_output=False)
    assert list(local_ws.experiments) == []


def test_a_canceled_pipeline_reads_canceled_with_its_own_exit_code() -> None:
    canceled = StepResult("evaluate", "r", exit_code=0, duration=1.0, canceled=True)
    result = PipelineResult("p", "exp", Path("ws"), (canceled,), skipped=("register",))
    assert (result.status, result.exit_code, result.succeeded) == (
        "Canceled",
        CANCELED_EXIT_CODE,
        False,
    )
    assert result.failed_step is None and result.canceled_step is canceled
    failed_after_cancel = StepResult("evaluate", "r", exit_code=1, duration=1.0, canceled=True)
    assert PipelineResult("p", "e", Path("w"), (failed_after_cancel,)).exit_code == 4
    assert os.environ.get("CHAMPION_RUN_ID") is None


NEEDS_AZURE = """
from azureml.core import Run

run = Run.get_context()
try:
    targets = run.experiment.workspace.webservices
except Exception:
    targets = {}  # would hide the call on a mock whose refusal were an ordinary error
print("not reached", targets)
"""


def test_a_step_that_needs_azure_stops_with_one_line_and_exit_3(
    tmp_path: Path, local_ws: Workspace
) -> None:
    src = tmp_path / "src"
    script = write(src, "step.py", NEEDS_AZURE)
    spec = PipelineSpec("azure-only", (Step("s", "step.py", allow_reuse=False),), src)
    result = run_pipeline(spec, local_ws.path, real_sdk=True, stream_output=False)
    assert result.exit_code == 3 and result.status == "Failed"
    run = Run.get(local_ws, result.steps[0].run_id)
    run.download_file(DRIVER_LOG, str(tmp_path / "log.txt"))
    log = (tmp_path / "log.txt").read_text()
    assert "not reached" not in log
    # the step's line in its snapshot copy, then the SDK member and why
    assert f"/cwd/{script.name}:6: Workspace.webservices needs Azure: deployments" in log
    assert "Traceback" not in log
