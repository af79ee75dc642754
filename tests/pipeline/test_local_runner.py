"""The local pipeline runner: real subprocesses against a real local workspace.

The step scripts are tiny and written to tmp_path, so what is tested is the runner's contract
with a step (runs, names, tags, argv, environment, folders, logs, exit codes), not any library
code. The iris tests at the end run the real sample steps.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import os
import re
import textwrap
from pathlib import Path

import pytest

from champion.errors import InputError
from champion.local import Run, Workspace
from champion.pipeline import (
    DataReference,
    PipelineParameter,
    PipelineResult,
    PipelineSpec,
    Step,
    StepResult,
    load_pipeline_file,
    run_pipeline,
    sdk_shim,
)
from champion.pipeline.local import DRIVER_LOG

ROOT = Path(__file__).resolve().parents[2]
IRIS = ROOT / "pipelines" / "iris.py"

PRODUCE = """
import os, sys
from pathlib import Path
from champion.local import Run

args = sys.argv[1:]
out = args[args.index("--out") + 1]
run = Run.get_context()
run.set_tags({
    "argv_out": out,
    "env_out": os.environ.get("AZUREML_DATAREFERENCE_shared"),
    "build": args[args.index("--build") + 1],
    "cwd": os.getcwd(),
    "workspace": os.environ["CHAMPION_WORKSPACE"],
    "argv": " ".join(args),
})
os.makedirs(out, exist_ok=True)  # the job runtime gives a path, not a folder
Path(out, "payload.txt").write_text("made by produce")
print("produced into", out)
"""

CONSUME = """
import os, sys
from pathlib import Path
from champion.local import Run

args = sys.argv[1:]
folder = args[args.index("--in") + 1]
run = Run.get_context()
run.set_tags({
    "argv_in": folder,
    "env_in": os.environ.get("AZUREML_DATAREFERENCE_shared"),
    "read": Path(folder, "payload.txt").read_text(),
})
print("consumed", Path(folder, "payload.txt").read_text())
print("a line on stderr", file=sys.stderr)
"""

FAIL = """
import sys
print("about to fail")
sys.exit(3)
"""


def write(folder: Path, name: str, text: str) -> None:
    (folder / name).write_text(textwrap.dedent(text))


@pytest.fixture
def src(tmp_path: Path) -> Path:
    folder = tmp_path / "src"
    folder.mkdir()
    write(folder, "produce.py", PRODUCE)
    write(folder, "consume.py", CONSUME)
    write(folder, "fail.py", FAIL)
    return folder


def two_step_spec(src: Path) -> PipelineSpec:
    shared = DataReference("shared")
    build = PipelineParameter("build_number", "local")
    produce = Step("produce", "produce.py", ("--out", shared, "--build", build), outputs=(shared,))
    consume = Step("consume", "consume.py", ("--in", shared), inputs=(shared,), allow_reuse=False)
    # Declared consumer first: the runner must order by data dependencies, not by declaration.
    return PipelineSpec("local-runner-test", (consume, produce), src, (build,))


def children_by_name(parent: Run) -> dict[str, Run]:
    return {str(child.name): child for child in parent.get_children()}


def test_runs_steps_as_child_runs_of_one_pipeline_run(
    src: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    result = run_pipeline(
        two_step_spec(src), "ws", parameters={"build_number": "20240101.7"}, tags={"who": "test"}
    )
    assert result.succeeded and result.exit_code == 0
    assert [s.name for s in result.steps] == ["produce", "consume"]
    assert result.skipped == ()

    ws = Workspace(tmp_path / "ws")
    parent = Run.get(ws, result.run_id)
    assert parent.type == "azureml.PipelineRun"
    assert parent.experiment.name == "local-runner-test"
    assert parent.get_status() == "Completed"
    assert parent.tags["build_number"] == "20240101.7"
    assert parent.tags["who"] == "test"

    children = children_by_name(parent)
    assert set(children) == {"produce", "consume"}
    for name, child in children.items():
        assert child.display_name == name
        assert child.type == "azureml.StepRun"
        assert child.get_status() == "Completed"
        assert child.tags["azureml.pipeline"] == result.run_id
        assert re.fullmatch(r"[0-9a-f]{8}", str(child.tags["azureml.nodeid"]))
        assert child.parent is not None and child.parent.id == result.run_id
    assert {s.run_id for s in result.steps} == {c.id for c in children.values()}

    produce, consume = children["produce"].get_tags(), children["consume"].get_tags()
    # the data folder arrives in argv and in AZUREML_DATAREFERENCE_<name>, as on Azure
    out = Path(str(produce["argv_out"]))
    assert produce["env_out"] == str(out)
    assert out.is_dir() and out == tmp_path / "ws" / "pipeline-data" / result.run_id / "shared"
    assert consume["argv_in"] == consume["env_in"] == str(out)
    # a file step 1 wrote into its output is what step 2 reads
    assert consume["read"] == "made by produce"
    # the parameter value reached argv; the workspace is absolute; steps do not run in the repo
    assert produce["build"] == "20240101.7"
    assert produce["workspace"] == str(tmp_path / "ws")
    assert Path(str(produce["cwd"])).is_relative_to(tmp_path / "ws" / "pipeline-steps")

    out_text = capsys.readouterr().out
    assert "[produce] produced into" in out_text
    assert "[consume] consumed made by produce" in out_text
    assert "[consume] a line on stderr" in out_text


def test_step_output_is_uploaded_as_the_driver_log(src: Path, tmp_path: Path) -> None:
    result = run_pipeline(two_step_spec(src), tmp_path / "ws", stream_output=False)
    consume = children_by_name(Run.get(Workspace(tmp_path / "ws"), result.run_id))["consume"]
    assert DRIVER_LOG in consume.get_file_names()
    target = tmp_path / "log.txt"
    consume.download_file(DRIVER_LOG, str(target))
    log = target.read_text()
    assert "consumed made by produce" in log and "a line on stderr" in log
    assert "[consume]" not in log  # the log is the step's own output, unprefixed


def test_parameter_default_is_used_and_tagged(src: Path, tmp_path: Path) -> None:
    result = run_pipeline(two_step_spec(src), tmp_path / "ws", stream_output=False)
    parent = Run.get(Workspace(tmp_path / "ws"), result.run_id)
    assert parent.tags["build_number"] == "local"
    assert children_by_name(parent)["produce"].tags["build"] == "local"


def test_failing_step_fails_and_stops_the_pipeline(
    src: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = PipelineSpec(
        "local-runner-test",
        (Step("boom", "fail.py"), Step("after", "consume.py")),
        src,
    )
    result = run_pipeline(spec, tmp_path / "ws", stream_output=False)
    assert not result.succeeded
    assert result.exit_code == 3
    assert result.failed_step is not None and result.failed_step.name == "boom"
    assert result.skipped == ("after",)
    assert "boom exit 3" in result.summary() and "not run: after" in result.summary()
    assert capsys.readouterr().out == ""  # stream_output=False is quiet

    parent = Run.get(Workspace(tmp_path / "ws"), result.run_id)
    assert parent.get_status() == "Failed"
    children = children_by_name(parent)
    assert list(children) == ["boom"]  # the step after the failure never started
    assert children["boom"].get_status() == "Failed"
    assert DRIVER_LOG in children["boom"].get_file_names()


SCORE = """
import sys
from pathlib import Path
from champion.local import Run

args = sys.argv[1:]
out = Path(args[args.index("--out") + 1])
out.mkdir()  # a path that does not exist yet, in a folder that does, as on Azure ML
(out / "model.pkl").write_bytes(b"weights " + args[args.index("--accuracy") + 1].encode())
Run.get_context().parent.tag("accuracy", args[args.index("--accuracy") + 1])
"""


def gated_spec(src: Path, accuracy: str, *register_args: str) -> PipelineSpec:
    """score -> register, the register step being the packaged one through its wrapper."""
    write(src, "score.py", SCORE)
    write(src, "register_model.py", (ROOT / "steps" / "register_model.py").read_text())
    model = DataReference("model")
    score = Step(
        "score",
        "score.py",
        ("--out", model, "--accuracy", accuracy),
        outputs=(model,),
        allow_reuse=False,
    )
    args = ("--model-name", "m", "--model-path", model, "--training-step-name", "score")
    register = Step(
        "register",
        "register_model.py",
        (*args, *register_args),
        inputs=(model,),
        allow_reuse=False,
    )
    return PipelineSpec("gated", (score, register), src)


def test_result_carries_each_steps_exit_code_and_the_decision(src: Path, tmp_path: Path) -> None:
    first = run_pipeline(gated_spec(src, "0.9"), tmp_path / "ws", stream_output=False)
    assert first.exit_codes == {"score": 0, "register": 0}
    assert first.decision is not None
    assert (first.decision["outcome"], first.decision["registered_version"]) == ("first", 1)
    assert first.decision["parent_run_id"] == first.run_id

    worse = gated_spec(src, "0.8", "--fail-on-reject")
    second = run_pipeline(worse, tmp_path / "ws", stream_output=False)
    assert second.exit_codes == {"score": 0, "register": 1}
    assert second.step("register").exit_code == second.exit_code == 1
    assert second.decision is not None and second.decision["outcome"] == "rejected"


def test_result_has_no_decision_when_no_step_wrote_one(src: Path, tmp_path: Path) -> None:
    result = run_pipeline(two_step_spec(src), tmp_path / "ws", stream_output=False)
    assert result.succeeded and result.decision is None
    assert result.exit_codes == {"produce": 0, "consume": 0}
    with pytest.raises(KeyError):
        result.step("register")


def test_invalid_spec_or_unknown_parameter_creates_no_run(src: Path, tmp_path: Path) -> None:
    bad = PipelineSpec("local-runner-test", (Step("z", "missing.py"),), src)
    with pytest.raises(InputError, match="script not found"):
        run_pipeline(bad, tmp_path / "ws")
    with pytest.raises(InputError, match="unknown pipeline parameter"):
        run_pipeline(two_step_spec(src), tmp_path / "ws", parameters={"buildnumber": "1"})
    assert not (tmp_path / "ws").exists()  # checked before anything, the workspace included


def test_exit_code_of_a_killed_step_reads_like_a_shell() -> None:
    killed = StepResult(name="s", run_id="r", exit_code=-9, duration=1.0)
    result = PipelineResult("p", "exp", Path("ws"), (killed,))
    assert not result.succeeded and result.exit_code == 137


# --- sdk_shim (no mock needed for its argument handling) ----------------------------------------


def test_sdk_shim_refuses_without_a_script_or_a_workspace(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert sdk_shim.main([]) == 2
    monkeypatch.delenv("CHAMPION_WORKSPACE", raising=False)
    assert sdk_shim.main([str(tmp_path / "x.py")]) == 2


def test_sdk_shim_exit_status_follows_sys_exit() -> None:
    assert sdk_shim._exit_status(None) == 0
    assert sdk_shim._exit_status(4) == 4


# --- pipeline files -----------------------------------------------------------------------------


def test_load_pipeline_file_imports_by_path_once(tmp_path: Path) -> None:
    module = load_pipeline_file(IRIS)
    assert load_pipeline_file(str(IRIS)) is module
    spec = module.build_spec(data="/data.csv", seed=1, model_name="m")
    assert [s.name for s in spec.steps] == ["train", "register", "score"]
    with pytest.raises(InputError, match="not found"):
        load_pipeline_file(tmp_path / "nope.py")


def test_iris_spec_carries_what_the_azure_builder_needs() -> None:
    iris = load_pipeline_file(IRIS)
    spec = iris.build_spec(data="/d.csv", seed=3, model_name="iris")
    train, register, score = spec.steps
    model_dir, predictions = DataReference("model_dir"), DataReference("predictions")
    build = PipelineParameter("build_number", "local")
    assert spec.source_directory == ROOT / "steps" and spec.parameters == (build,)
    assert train.script == "train.py" and train.outputs == (model_dir,)
    # a reused train step would not tag the new pipeline run with its metric
    assert not train.allow_reuse
    assert train.arguments == ("--data", "/d.csv", "--seed", "3", "--output-dir", model_dir)
    assert register.script == "register_model.py" and register.inputs == (model_dir,)
    assert register.arguments == (
        "--model-name",
        "iris",
        "--model-path",
        model_dir,
        "--training-step-name",
        "train",
        "--build-number",
        build,
    )
    assert register.allow_reuse is False
    # the score step scores with the champion the register step's decision left
    assert score.script == "score.py" and score.outputs == (predictions,) and not score.inputs
    assert score.run_after == ("register",) and score.allow_reuse is False
    assert score.arguments == (
        *("--model-name", "iris", "--champion", "--data", "/d.csv", "--output", predictions),
    )
    # the packaged train step has no data of its own: the spec names the bundled sample
    default = iris.build_spec().steps[0].arguments
    assert default[:2] == ("--data", str(ROOT / "sample_data" / "iris.csv"))


# --- end to end with the real sample steps ------------------------------------------------------


@pytest.mark.slow
def test_iris_train_step_tags_the_pipeline_run_with_accuracy(tmp_path: Path) -> None:
    iris = load_pipeline_file(IRIS)
    # the step runs in a copy of steps/, as on Azure: its data comes by absolute path
    spec = iris.build_spec(data=str(iris.SAMPLE_DATA))
    train_only = dataclasses.replace(spec, steps=(spec.step("train"),))
    result = run_pipeline(train_only, tmp_path / "ws", stream_output=False)
    assert result.succeeded, result.summary()
    parent = Run.get(Workspace(tmp_path / "ws"), result.run_id)
    accuracy = float(str(parent.get_tags()["accuracy"]))
    assert 0.5 < accuracy <= 1.0
    model_dir = tmp_path / "ws" / "pipeline-data" / result.run_id / "model_dir"
    assert (model_dir / "model.pkl").is_file()


@pytest.mark.slow
@pytest.mark.skipif(
    importlib.util.find_spec("champion.local.mock") is None,
    reason="champion.local.mock (mock_azureml) is not written yet",
)
def test_real_sdk_step_uses_azureml_core_against_the_local_workspace(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    write(src, "helper.py", "VALUE = 'sibling import works'\n")
    write(
        src,
        "sdk_step.py",
        """
        import os, sys
        from pathlib import Path
        from azureml.core import Run
        from helper import VALUE  # as `python sdk_step.py` would find it

        run = Run.get_context()
        run.tag("helper", VALUE)
        out = sys.argv[sys.argv.index("--out") + 1]
        run.tag("seen_by", type(run).__module__)
        run.tag("env_out", os.environ["AZUREML_DATAREFERENCE_out"])
        Path(out).write_text(run.id)  # the output path may be a file, as on Azure ML
        sys.exit(int(sys.argv[sys.argv.index("--code") + 1]))
        """,
    )
    out = DataReference("out")
    ok = PipelineSpec(
        "real-sdk-test",
        (Step("s", "sdk_step.py", ("--out", out, "--code", "0"), outputs=(out,)),),
        src,
    )
    result = run_pipeline(ok, tmp_path / "ws", real_sdk=True, stream_output=False)
    assert result.succeeded, result.summary()
    step = Run.get(Workspace(tmp_path / "ws"), result.steps[0].run_id)
    assert str(step.get_tags()["seen_by"]).startswith("azureml")
    assert step.get_tags()["helper"] == "sibling import works"
    written = tmp_path / "ws" / "pipeline-data" / result.run_id / "out"
    assert step.get_tags()["env_out"] == str(written)
    assert written.read_text() == step.id

    failing = dataclasses.replace(
        ok, steps=(dataclasses.replace(ok.steps[0], arguments=("--out", out, "--code", "4")),)
    )
    result = run_pipeline(failing, tmp_path / "ws", real_sdk=True, stream_output=False)
    assert result.exit_code == 4
    assert Run.get(Workspace(tmp_path / "ws"), result.run_id).get_status() == "Failed"


@pytest.mark.slow
def test_iris_main_runs_train_then_register(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    iris = load_pipeline_file(IRIS)
    code = iris.main(["--workspace", str(tmp_path / "ws"), "--build-number", "99"])
    out = capsys.readouterr().out
    assert code == 0, out
    summary = out.strip().splitlines()[-1]
    assert summary.startswith("pipeline iris-pipeline run ") and "Completed" in summary
    ws = Workspace(tmp_path / "ws")
    assert "iris" in ws.models
    assert os.fspath(tmp_path / "ws") in summary
