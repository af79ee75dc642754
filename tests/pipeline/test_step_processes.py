"""A step's processes end with the step, wherever champion runs one: the local runner, the
MLflow runner and the testing kit's `run_step`. A step that leaves a daemon holding its stdout
used to keep the pipeline waiting for the daemon's whole life. Real pipeline files, real step
scripts that fork, real `champion` processes; Linux's /proc says which processes still run."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from champion.testing import create_workspace, make_pipeline_run, run_step

pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").is_file(), reason="reads /proc")

# Forks a child that keeps the step's stdout and stderr open and sleeps 1000 s, then exits at
# once, as a step that starts a server and forgets it does.
LEAVES_A_DAEMON = """
import os, sys, time
from pathlib import Path

pid = os.fork()
if pid == 0:
    time.sleep(1000)
    os._exit(0)
Path(sys.argv[1]).write_text(str(pid))
print("left daemon", pid, flush=True)
"""

PIPELINE = '''
from pathlib import Path
from champion.pipeline import PipelineSpec, Step

def build_spec(*, pid_file: str = "pid"):
    """Leave a daemon, then another step."""
    steps = (
        Step("leave", "leave.py", (pid_file,)),
        Step("after", "after.py", (), run_after=("leave",)),
    )
    return PipelineSpec("daemon", steps, Path(__file__).resolve().parent / "steps")
'''


def running(pid: int) -> bool:
    """Whether `pid` still runs (a zombie has ended: where init does not reap orphans, as in
    some containers, it stays one)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat[stat.rfind(")") + 2] not in "ZX"


@pytest.fixture
def pid_file(tmp_path: Path) -> Iterator[Path]:
    """Where the step writes its daemon's pid; the daemon is killed afterwards whatever the
    test found, so a failing run leaves nothing behind."""
    path = tmp_path / "daemon.pid"
    yield path
    if path.is_file():
        with contextlib.suppress(ProcessLookupError):
            os.kill(int(path.read_text()), signal.SIGKILL)


def project(tmp_path: Path) -> Path:
    folder = tmp_path / "project"
    (folder / "steps").mkdir(parents=True)
    (folder / "steps" / "leave.py").write_text(textwrap.dedent(LEAVES_A_DAEMON))
    (folder / "steps" / "after.py").write_text("print('after ran')\n")
    (folder / "pipeline.py").write_text(textwrap.dedent(PIPELINE))
    return folder


@pytest.mark.parametrize("backend", ["local", "mlflow"])
def test_a_daemon_left_by_a_step_neither_holds_the_pipeline_nor_outlives_it(
    tmp_path: Path, pid_file: Path, backend: str
) -> None:
    folder = project(tmp_path)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CHAMPION_", "AZUREML_"))}
    env["CHAMPION_WORKSPACE"] = str(tmp_path / "ws")
    env["MLFLOW_TRACKING_URI"] = f"sqlite:///{tmp_path / 'mlflow.db'}"
    run = ["pipeline", "run", "pipeline.py", "--pid-file", str(pid_file)]
    done = subprocess.run(
        [sys.executable, "-m", "champion.cli", "--backend", backend, *run],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,  # without the fix: waits 1000 s for the daemon
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "[leave] left daemon" in done.stdout and "[after] after ran" in done.stdout
    assert not running(int(pid_file.read_text()))


def test_run_step_returns_when_the_step_exits_and_ends_its_daemon(
    tmp_path: Path, pid_file: Path
) -> None:
    script = tmp_path / "leave.py"
    script.write_text(textwrap.dedent(LEAVES_A_DAEMON))
    tree = make_pipeline_run(create_workspace(tmp_path / "ws"))
    result = run_step(script, str(pid_file), run=tree, timeout=120)  # without the fix: timeout
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("left daemon")
    assert not running(int(pid_file.read_text()))


def children_of(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError):
            text = stat.read_text()
            if int(text[text.rfind(")") + 2 :].split()[1]) == pid:
                found.append(int(stat.parent.name))
    return found


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_text().replace("\0", " ")
    except OSError:
        return ""


def group_members(group: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError):
            text = stat.read_text()
            fields = text[text.rfind(")") + 2 :].split()
            if int(fields[2]) == group and fields[0] not in "ZX":
                found.append(int(stat.parent.name))
    return found


ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    "command",
    [
        [sys.executable, str(ROOT / "pipelines" / "iris.py")],
        [sys.executable, "-m", "champion.cli", "run", str(ROOT / "pipelines" / "iris.py")],
    ],
    ids=["python-iris", "champion-run"],
)
def test_ctrl_c_while_a_step_runs_is_one_line_exit_130_and_ends_the_step(
    tmp_path: Path, command: list[str]
) -> None:
    fifo = tmp_path / "data.csv"
    os.mkfifo(fifo)  # the train step blocks opening it: it is running when Ctrl-C comes
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CHAMPION_", "AZUREML_"))}
    env["CHAMPION_WORKSPACE"] = str(tmp_path / "ws")
    proc = subprocess.Popen(
        [*command, "--data", str(fifo)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        for line in proc.stdout:  # bounded by the step blocking, not by the data
            if line.startswith("[train] run "):
                break
        steps: list[int] = []
        for _ in range(600):  # the runner starts the step just after saying so
            steps = [p for p in children_of(proc.pid) if "train.py" in cmdline(p)]
            if steps:
                break
            time.sleep(0.05)
        (step,) = steps
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err
    assert err.splitlines() == ["champion: interrupted"]
    assert group_members(step) == []  # the step and anything it started
