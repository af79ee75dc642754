"""What Azure ML's job runtime does that a step relies on, run as `champion run FILE` runs it:
an output is a path that does not exist yet, `./outputs` and `./logs` exist when the script
starts, a canceled pipeline stops its running step (which may be waiting on itself), and a step
that runs past its timeout is ended. Real pipeline files, real `champion` processes, tiny steps
written as real scripts write them."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from champion.local import Run, Workspace
from champion.pipeline import DataReference, PipelineSpec, Step, run_pipeline
from champion.pipeline.local import TIMEOUT_EXIT_CODE

CHAMPION = str(Path(sys.executable).parent / "champion")

WRITE_A_FILE = """
import sys
import pandas as pd

out = sys.argv[sys.argv.index("--out") + 1]
pd.DataFrame({"x": [1, 2, 3]}).to_csv(out, index=False)  # the output path, as a file
with open("outputs/report.txt", "w") as report:  # no makedirs: the runtime made ./outputs
    report.write("3 rows")
with open("logs/train.log", "w") as log:
    log.write("done")
"""

READ_THE_FILE = """
import sys
import pandas as pd
from champion.context import get_run

rows = len(pd.read_csv(sys.argv[sys.argv.index("--in") + 1]))
get_run().parent.tag("rows", str(rows))
"""

CANCEL_THEN_WAIT = """
import os, sys, time
from champion.context import get_run

with open(sys.argv[1], "w") as mark:
    mark.write(str(os.getpid()))
run = get_run()
run.parent.cancel()  # the new model is worse: stop the pipeline
while run.get_status() not in ("Canceled", "Completed", "Failed"):
    time.sleep(0.2)  # the step waits for its own run, as run.wait_for_completion() does
print("not reached")
"""

SLEEP = """
import os, sys, time

with open(sys.argv[1], "w") as mark:
    mark.write(str(os.getpid()))
time.sleep(600)
"""

PIPELINE_FILE = """
from pathlib import Path
from champion.pipeline import PipelineSpec, Step

HERE = Path(__file__).resolve().parent


def build_spec() -> PipelineSpec:
    marks = str(HERE / "marks")
    return PipelineSpec(
        "{name}",
        (
            Step("first", "{script}", (marks + "/first.pid",), allow_reuse=False),
            Step("second", "{script}", (marks + "/second.pid",), run_after=("first",),
                 allow_reuse=False),
        ),
        HERE / "src",
    )
"""


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
    return path


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return not (stat.exists() and stat.read_text().rsplit(")", 1)[1].split()[0] in "ZX")


def champion_run(
    folder: Path, *args: str, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHAMPION_")}
    return subprocess.run(
        [CHAMPION, "run", "pipeline.py", "--workspace", "ws", *args],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,  # a step left running would hang the command: TimeoutExpired fails
    )


def test_an_output_is_a_path_to_make_and_outputs_and_logs_exist_at_start(
    tmp_path: Path, local_ws: Workspace
) -> None:
    src = tmp_path / "src"
    write(src, "train.py", WRITE_A_FILE)
    write(src, "score.py", READ_THE_FILE)
    table = DataReference("table")
    spec = PipelineSpec(
        "runtime",
        (
            Step("train", "train.py", ("--out", table), outputs=(table,), allow_reuse=False),
            Step("score", "score.py", ("--in", table), inputs=(table,), allow_reuse=False),
        ),
        src,
    )
    result = run_pipeline(spec, local_ws.path, stream_output=False)
    assert result.succeeded, result.summary()
    assert Run.get(local_ws, result.run_id).get_tags()["rows"] == "3"
    train = Run.get(local_ws, result.step("train").run_id)
    assert {"outputs/report.txt", "logs/train.log"} <= set(train.get_file_names())


def test_a_step_that_cancels_its_pipeline_and_waits_for_itself_is_stopped(tmp_path: Path) -> None:
    write(tmp_path, "src/evaluate.py", CANCEL_THEN_WAIT)
    write(tmp_path, "pipeline.py", PIPELINE_FILE.format(name="cancel", script="evaluate.py"))
    (tmp_path / "marks").mkdir()
    done = champion_run(tmp_path)
    assert done.returncode == 4, done.stdout + done.stderr  # canceled, not failed
    assert "not reached" not in done.stdout
    pid = int((tmp_path / "marks" / "first.pid").read_text())
    assert not pid_alive(pid)
    assert not (tmp_path / "marks" / "second.pid").exists()  # no later step started
    ws = Workspace(tmp_path / "ws")
    [parent] = ws.experiments["cancel"].get_runs()
    assert parent.get_status() == "Canceled"
    assert [(c.name, c.get_status()) for c in parent.get_children()] == [("first", "Canceled")]


@pytest.mark.parametrize("where", ["option", "spec"])
def test_a_step_past_its_timeout_is_ended_and_the_pipeline_fails(
    tmp_path: Path, where: str
) -> None:
    write(tmp_path, "src/sleep.py", SLEEP)
    text = PIPELINE_FILE.format(name="stuck", script="sleep.py")
    if where == "spec":
        text = text.replace(
            '"sleep.py", (marks + "/first.pid",),',
            '"sleep.py", (marks + "/first.pid",), timeout=3,',
        )
    write(tmp_path, "pipeline.py", text)
    (tmp_path / "marks").mkdir()
    done = champion_run(tmp_path, *(["--step-timeout", "3"] if where == "option" else []))
    assert done.returncode == TIMEOUT_EXIT_CODE, done.stdout + done.stderr
    assert "first timed out after 3s" in done.stdout
    assert not pid_alive(int((tmp_path / "marks" / "first.pid").read_text()))
    assert not (tmp_path / "marks" / "second.pid").exists()
    ws = Workspace(tmp_path / "ws")
    [parent] = ws.experiments["stuck"].get_runs()
    assert parent.get_status() == "Failed"
    [first] = parent.get_children()
    assert first.get_status() == "Canceled"
    assert "longer than its timeout of 3 s" in first.get_details()["error"]["error"]["message"]


def test_a_step_timeout_that_is_not_a_positive_number_is_a_usage_error(tmp_path: Path) -> None:
    write(tmp_path, "src/sleep.py", SLEEP)
    write(tmp_path, "pipeline.py", PIPELINE_FILE.format(name="stuck", script="sleep.py"))
    done = champion_run(tmp_path, "--step-timeout", "0")
    assert done.returncode == 2
    assert done.stderr.startswith("champion: error [usage]:") and "'0'" in done.stderr
    assert not (tmp_path / "ws").exists()
