"""`champion pipeline run|validate|submit|publish FILE` and `python FILE`: a pipeline file that
holds only its spec, driven by the library. Real processes, real pipeline files in tmp_path,
tiny steps (so a local run takes a second)."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from champion.local import Run, Workspace
from champion.testing import create_workspace, workspace_state

ROOT = Path(__file__).resolve().parents[2]
IRIS = ROOT / "pipelines" / "iris.py"

STEP = """
import sys
from pathlib import Path
from champion.context import get_run

args = sys.argv[1:]
out = Path(args[args.index("--out") + 1])
out.mkdir()  # the job runtime gives a path to make, as on Azure ML
(out / "model.pkl").write_text(args[args.index("--data") + 1])
get_run().parent.tag("accuracy", args[args.index("--accuracy") + 1])
print("scored", args[args.index("--data") + 1])
"""

SPEC = '''
"""A two-step pipeline: score, then the packaged register step."""
import sys
from pathlib import Path

from champion.pipeline import DataReference, PipelineParameter, PipelineSpec, Step

HERE = Path(__file__).resolve().parent


def build_spec(*, data: str = "default.csv", accuracy: float = 0.9, model_name: str = "m",
               strict: bool = False):
    """Score and gate.

    Args:
        accuracy: what the score step claims
        model_name: the registered name
    """
    model = DataReference("model")
    build = PipelineParameter("build_number", "local")
    gate = ("--model-name", model_name, "--model-path", model, "--training-step-name", "score",
            "--build-number", build, *(("--fail-on-reject",) if strict else ()))
    return PipelineSpec(
        name="tiny",
        steps=(
            Step("score", "score.py", ("--data", data, "--accuracy", str(accuracy), "--out", model),
                 outputs=(model,)),
            Step("register", "register_model.py", gate, inputs=(model,)),
        ),
        source_directory=HERE / "steps",
        parameters=(build,),
    )
'''


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A user's project: a spec file, its score step and the register step's wrapper."""
    folder = tmp_path / "project"
    (folder / "steps").mkdir(parents=True)
    (folder / "steps" / "score.py").write_text(textwrap.dedent(STEP))
    wrapper = (ROOT / "steps" / "register_model.py").read_text()
    (folder / "steps" / "register_model.py").write_text(wrapper)
    (folder / "pipeline.py").write_text(SPEC)
    (folder / "data.csv").write_text("x\n1\n")
    return folder


def champion(cwd: Path, *args: str, ws: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("CHAMPION_", "AZUREML_"))
        and k not in ("TF_BUILD", "BUILD_BUILDNUMBER")
    }
    if ws is not None:
        env["CHAMPION_WORKSPACE"] = str(ws)
    return subprocess.run(
        [sys.executable, "-m", "champion.cli", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def one_error_line(done: subprocess.CompletedProcess[str], code: str = "input_invalid") -> str:
    """The one line every entry's error is, the CLI's form: `champion: error [CODE]: ...`."""
    (line,) = done.stderr.splitlines()  # one line, no traceback
    assert line.startswith(f"champion: error [{code}]: "), line
    return line


# --- run ----------------------------------------------------------------------------------------


def test_pipeline_run_runs_the_spec_locally_with_its_options(project: Path, tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    create_workspace(ws)
    done = champion(
        project,
        "--workspace",
        str(ws),
        "pipeline",
        "run",
        "pipeline.py",
        "--data",
        "data.csv",
        "--accuracy",
        "0.95",
        "--build-number",
        "17",
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"[score] scored {project / 'data.csv'}" in done.stdout  # made absolute for the step
    assert "first as m:1" in done.stdout
    summary = done.stdout.strip().splitlines()[-1]
    assert summary.startswith("pipeline tiny run ") and "Completed" in summary
    (parent,) = [r for r in Workspace(ws).experiments["tiny"].get_runs()]
    assert parent.get_tags()["accuracy"] == "0.95" and parent.get_tags()["build_number"] == "17"


def test_the_rejection_exit_code_comes_through_and_champion_run_is_an_alias(
    project: Path, tmp_path: Path
) -> None:
    ws = tmp_path / "ws"
    create_workspace(ws)
    assert champion(project, "pipeline", "run", "pipeline.py", ws=ws).returncode == 0
    worse = champion(
        project, "run", "pipeline.py", "--accuracy", "0.5", "--strict", "--local", ws=ws
    )
    assert worse.returncode == 1, worse.stdout + worse.stderr
    assert "register exit 1" in worse.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--model-name", "my model"), "--model-name 'my model': model name 'my model' is invalid"),
        (("--accuracy", "high"), "argument --accuracy: invalid float value: 'high'"),
        (("--nope",), "unrecognized arguments: --nope"),
    ],
)
def test_bad_options_are_refused_before_anything_runs(
    project: Path, tmp_path: Path, args: tuple[str, ...], message: str
) -> None:
    ws = tmp_path / "ws"
    create_workspace(ws)
    before = workspace_state(ws)
    done = champion(project, "pipeline", "run", "pipeline.py", *args, ws=ws)
    assert done.returncode == 2
    (line,) = done.stderr.splitlines()  # one line, no usage text before it
    assert line.startswith("champion: error [") and message in line
    assert "Traceback" not in done.stderr and "[score]" not in done.stdout
    assert workspace_state(ws) == before  # no run was even created


@pytest.mark.parametrize(
    "command",
    [
        ("champion", "pipeline", "submit", "pipeline.py", "--nope"),
        ("champion", "run", "pipeline.py", "--wait"),
        ("python", str(IRIS), "--nope"),
        ("python", "-m", "champion.steps.register", "--model-name", "m"),
        ("python", "-m", "champion.steps.train", "--seed", "x"),
        ("python", "-m", "champion.steps.score", "--nope"),
        ("python", str(ROOT / "steps" / "register_model.py"), "--nope"),
    ],
    ids=["pipeline-submit", "champion-run", "python-iris", "register", "train", "score", "snap"],
)
def test_every_usage_error_is_the_clis_one_line_and_its_help_hint_runs(
    project: Path, command: tuple[str, ...]
) -> None:
    """argparse's own `PROG: error:` after a usage text was a second format next to the CLI's;
    and `see '... --help'` must be a command the user can run where they are."""

    def typed(words: list[str] | tuple[str, ...]) -> subprocess.CompletedProcess[str]:
        program = {"champion": [sys.executable, "-m", "champion.cli"], "python": [sys.executable]}
        return subprocess.run(
            [*program[words[0]], *words[1:]],
            cwd=project,
            capture_output=True,
            text=True,
            timeout=120,
            env={k: v for k, v in os.environ.items() if not k.startswith("CHAMPION_")},
        )

    done = typed(command)
    assert done.returncode == 2, done.stderr
    (line,) = done.stderr.splitlines()
    hint = re.fullmatch(r"champion: error \[usage\]: .+; see '(.+) --help'", line)
    assert hint is not None, line
    assert typed([*shlex.split(hint.group(1)), "--help"]).returncode == 0, hint.group(1)


def test_a_bad_model_name_is_refused_by_every_mode_before_anything_runs(project: Path) -> None:
    """No config.json here: submit and publish must fail on the name, not on the workspace."""
    for mode in ("validate", "submit", "publish"):
        done = champion(
            project, "pipeline", mode, "pipeline.py", "--model-name", "my model",
            "--build-number", "1",
        )  # fmt: skip
        assert done.returncode == 2, (mode, done.stderr)
        assert "--model-name 'my model'" in done.stderr, mode
        assert "config.json" not in done.stderr and "Traceback" not in done.stderr
    iris = subprocess.run(
        [sys.executable, str(IRIS), "--validate", "--model-name", "my model"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert iris.returncode == 2
    assert "  - spec: step 'register': --model-name 'my model'" in iris.stderr


def test_an_invalid_experiment_is_refused(project: Path) -> None:
    done = champion(project, "pipeline", "submit", "pipeline.py", "--experiment", "my exp")
    assert done.returncode == 2
    assert "--experiment: Experiment name must be" in one_error_line(done)


def test_submit_without_a_config_json_is_one_line_exit_2(project: Path) -> None:
    done = champion(project, "pipeline", "submit", "pipeline.py", "--data", "data.csv")
    assert done.returncode == 2, done.stderr
    line = one_error_line(done)
    assert "no config.json" in line and "--config" in line
    iris = subprocess.run(
        [sys.executable, str(IRIS), "--submit"],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=120,
        env={k: v for k, v in os.environ.items() if k != "TF_BUILD"},
    )
    assert iris.returncode == 2
    assert "no config.json" in one_error_line(iris)


# --- pipeline files -----------------------------------------------------------------------------


def test_the_files_options_and_their_descriptions_are_in_the_help(project: Path) -> None:
    done = champion(project, "pipeline", "run", "pipeline.py", "--help")
    assert done.returncode == 0
    help_text = " ".join(done.stdout.split())
    assert "A two-step pipeline: score, then the packaged register step." in help_text
    assert "--accuracy ACCURACY what the score step claims (default: 0.9)" in help_text
    assert "--strict, --no-strict" in help_text
    assert "--wait" not in help_text  # a local run's options only


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("x = 1\n", "defines no build_spec()"),
        ("def build_spec(data): ...\n", "build_spec parameter 'data' has no default"),
        ("def build_spec(*, wheel='w'): ...\n", "clashes with the driver's own --wheel"),
    ],
)
def test_a_file_that_is_not_a_pipeline_spec_is_one_line_exit_2(
    tmp_path: Path, source: str, message: str
) -> None:
    (tmp_path / "not_a_pipeline.py").write_text(source)
    done = champion(tmp_path, "pipeline", "run", "not_a_pipeline.py")
    assert done.returncode == 2
    assert message in one_error_line(done)


BROKEN = {
    "syntax": ("def build_spec(*, x=1):\n    return 1 +\n", "broken.py:2: SyntaxError"),
    "import": ("import no_such_module_here\n", "broken.py:1: ModuleNotFoundError"),
    "none": ("def build_spec(*, x=1):\n    pass\n", "broken.py:1: build_spec returned None"),
    "dict": ("def build_spec(*, x=1):\n    return {}\n", "broken.py:1: build_spec returned a dict"),
    "raises": (
        "def even(x):\n    raise ValueError('x must be even')\n\n"
        "def build_spec(*, x=1):\n    return even(x)\n",
        "broken.py:2: ValueError: x must be even",
    ),
    "champion raises": (
        "from champion.pipeline import DataReference\n\n"
        "def build_spec(*, x=1):\n    DataReference('not a name')\n",
        "broken.py:4: PipelineData name: [not a name] is not a valid",
    ),
}
MAIN = """
import sys
from champion.pipeline.driver import main
sys.exit(main(spec_builder=build_spec))
"""


@pytest.mark.parametrize("case", BROKEN)
def test_a_mistake_in_the_pipeline_file_is_one_line_naming_its_line_exit_2(
    tmp_path: Path, case: str
) -> None:
    """A syntax error, a failed import, an exception in build_spec or a result that is not a
    PipelineSpec is the user's: exit 2 and FILE:LINE, not "a bug in champion" (1) or "the
    service failed" (3), from every entry that loads a pipeline file."""
    source, says = BROKEN[case]
    (tmp_path / "broken.py").write_text(source)
    for entry in (("pipeline", "run"), ("pipeline", "validate"), ("pipeline", "submit"), ("run",)):
        done = champion(tmp_path, *entry, "broken.py")
        assert done.returncode == 2, (entry, done.stderr)
        assert one_error_line(done).startswith(f"champion: error [input_invalid]: {says}"), entry
    if case in ("syntax", "import"):
        return  # `python broken.py` stops in Python itself, before champion is reached
    (tmp_path / "broken.py").write_text(source + MAIN)
    done = subprocess.run(
        [sys.executable, "broken.py"], cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 2, done.stderr
    assert one_error_line(done).startswith(f"champion: error [input_invalid]: {says}")


def test_a_missing_file_is_one_line_exit_2(tmp_path: Path) -> None:
    done = champion(tmp_path, "pipeline", "validate", "nope.py")
    assert done.returncode == 2
    assert "pipeline file not found" in one_error_line(done)


def test_pipeline_alone_prints_its_own_help(tmp_path: Path) -> None:
    done = champion(tmp_path, "pipeline")
    assert done.returncode == 2
    assert done.stdout.startswith("usage: champion pipeline")
    for mode in ("run", "validate", "submit", "publish"):
        assert mode in done.stdout


def test_iris_is_only_its_spec() -> None:
    """The sample pipeline file holds its spec; the driver is the library's."""
    source = IRIS.read_text()
    assert len(source.splitlines()) <= 115  # three steps, their options and docstrings
    for leftover in ("argparse", "subprocess", "def run_azure", "agent_safe_console"):
        assert leftover not in source


@pytest.mark.slow
def test_python_iris_still_runs_the_sample_end_to_end(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    create_workspace(ws)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CHAMPION_", "AZUREML_"))}
    done = subprocess.run(
        [sys.executable, str(IRIS), "--workspace", str(ws), "--build-number", "5"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert "[register] champion: first as iris:1" in done.stdout
    (parent,) = Workspace(ws).experiments["iris-pipeline"].get_runs()
    assert Run.get(Workspace(ws), parent.id).get_tags()["champion.outcome"] == "first"


def test_a_reader_that_stops_early_changes_no_exit_code(project: Path) -> None:
    """`... | head -1`: the rest of the output is dropped, no traceback, and the exit code is
    still the command's (2 for an invalid pipeline, whose problems come after the first line)."""
    for args, code in ((), 0), (("--model-name", "a b"), 2):
        shell = subprocess.run(
            f"{sys.executable} -m champion.cli pipeline validate pipeline.py --data data.csv "
            f"{' '.join(repr(a) for a in args)} | head -1; exit ${{PIPESTATUS[0]}}",
            shell=True,
            executable="/bin/bash",
            cwd=project,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert shell.returncode == code, shell.stderr
        assert shell.stdout.startswith("Azure ML pipeline tiny:") and shell.stdout.count("\n") == 1
        assert "BrokenPipe" not in shell.stderr and "Traceback" not in shell.stderr


def test_output_to_a_closed_pipe_is_dropped_and_the_exit_code_kept(
    project: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from champion.pipeline import driver, load_pipeline_file

    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader is gone: every write raises BrokenPipeError
    closed = os.fdopen(write_end, "w", buffering=1)
    monkeypatch.setattr(sys, "stdout", closed)
    spec = load_pipeline_file(project / "pipeline.py").build_spec
    try:
        code = driver.main(["--validate", "--model-name", "a b"], spec_builder=spec, prog="p")
    finally:
        monkeypatch.undo()
        closed.close()  # its descriptor now points at /dev/null: closing raises nothing
    assert code == 2
    err = capsys.readouterr().err
    assert "champion: error [input_invalid]: pipeline 'tiny' is not valid:" in err
