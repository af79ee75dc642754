"""`champion.testing` through its pytest fixtures, used exactly as a user's test uses them (the
plugin is loaded from the installed package's `pytest11` entry point, not from our conftest)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from champion.local import Model, Run, Workspace
from champion.local.run import PipelineRun
from champion.testing import make_pipeline_run, run_step, workspace_state

TAG_PARENT = """
import sys
from champion.context import get_run

run = get_run()
run.parent.tag("accuracy", sys.argv[1])
print("tagged", run.name, "in", run.parent.id)
print("a warning", file=sys.stderr)
"""

AZURE_STEP = """
import os
from azureml.core import Run

run = Run.get_context()
print(type(run).__module__, run.parent.get_tags()["build_number"], os.environ.get("MY_SETTING"))
"""


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
    return path


# ------------------------------------------------------------- local_workspace, pipeline_run


def test_local_workspace_is_fresh_and_is_the_tests_default(local_workspace, tmp_path):
    assert local_workspace.path == tmp_path / "workspace"
    assert os.environ["CHAMPION_WORKSPACE"] == str(local_workspace.path)
    assert list(local_workspace.models) == [] and list(local_workspace.experiments) == []
    assert Workspace.from_config().path == local_workspace.path


def test_pipeline_run_is_shaped_as_azure_ml_makes_one(pipeline_run, local_workspace):
    tree = pipeline_run(parent_tags={"build_number": 42})

    assert tree.workspace is local_workspace and tree.experiment == "pipeline"
    assert isinstance(tree.parent, PipelineRun) and tree.parent.type == "azureml.PipelineRun"
    assert tree.parent.get_tags() == {"build_number": "42"}  # stored as the service stores it
    assert list(tree.steps) == ["train", "register"]  # the default steps
    for name, step in tree.steps.items():
        assert (step.name, step.display_name, step.type) == (name, name, "azureml.StepRun")
        assert step.parent.id == tree.parent.id
        assert re.fullmatch(r"[0-9a-f]{8}", step.get_tags()["azureml.nodeid"])
        assert step.get_tags()["azureml.pipeline"] == tree.parent.id
        assert tree.parent.find_step_run(name) == [step]
    assert tree.steps["train"].get_tags()["accuracy"] == "0.93"
    assert "accuracy" not in tree.steps["register"].get_tags()
    assert tree.decision is None


def test_pipeline_run_steps_and_experiment_are_as_given(pipeline_run):
    tree = pipeline_run(steps={"prep": None, "fit": {"rmse": 0.5}}, experiment="nightly")
    assert tree.experiment == "nightly" and list(tree.steps) == ["prep", "fit"]
    assert tree.steps["fit"].get_tags()["rmse"] == "0.5"
    retried = tree.add_step("fit", {"rmse": "0.4"})  # e.g. a retried step: a second run
    assert {r.id for r in tree.parent.find_step_run("fit")} == {tree.steps["fit"].id, retried.id}
    assert tree.steps["fit"].get_tags()["rmse"] == "0.5"  # steps[name] stays the first


def test_the_real_sdk_sees_the_same_runs(pipeline_run, mock_azureml):
    import azureml.core

    tree = pipeline_run()
    parent = azureml.core.Run.get(mock_azureml.workspace, tree.parent.id)
    assert isinstance(parent, azureml.core.Run)
    assert parent.type == "azureml.PipelineRun"
    names = sorted(child.name for child in parent.get_children())
    assert names == ["register", "train"]
    assert mock_azureml.workspace.get_run(tree.steps["train"].id).get_tags()["accuracy"] == "0.93"


# --------------------------------------------------------------------- run_step


def test_a_script_runs_as_a_process_in_its_step_run(pipeline_run, run_step, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write(tmp_path, "steps/tag_parent.py", TAG_PARENT)
    tree = pipeline_run(steps={"train": {}, "register": {}})

    first = run_step("steps/tag_parent.py", "0.91", step="train")  # relative to the test's cwd
    second = run_step("steps/tag_parent.py", "0.92", step="train", run=tree)

    assert first.exit_code == 0, first.output
    assert first.stdout == f"tagged train in {tree.parent.id}\n"
    assert first.stderr == "a warning\n" and first.output == first.stdout + first.stderr
    assert first.decision is None  # not a register step
    assert first.run_id == tree.steps["train"].id
    assert first.cwd != second.cwd and first.cwd.is_dir()  # a fresh folder each time
    assert tree.parent.get_tags()["accuracy"] == "0.92"
    assert not (tmp_path / "outputs").exists()


def test_the_packaged_register_step_leaves_its_decision(pipeline_run, run_step, tmp_path):
    model = tmp_path / "model.pkl"
    model.write_bytes(b"weights")
    args = ("--model-name", "iris", "--model-path", model)

    pipeline_run()
    first = run_step("champion.steps.register", *args)
    assert first.exit_code == 0, first.output
    assert first.decision is not None
    assert (first.decision["outcome"], first.decision["registered_version"]) == ("first", 1)

    again = run_step("champion.steps.register", *args)  # a retry restates: no new record
    assert again.exit_code == 0 and "already_registered as iris:1" in again.stdout
    assert again.decision is None

    tree = pipeline_run(steps={"train": {"accuracy": "0.5"}, "register": {}})
    worse = run_step("champion.steps.register", *args, "--fail-on-reject", run=tree)
    assert worse.exit_code == 1
    assert worse.decision is not None and worse.decision["outcome"] == "rejected"
    assert tree.decision == worse.decision


def test_a_step_runs_in_a_test_session_that_holds_many_open_files(pipeline_run, run_step, tmp_path):
    """A long session (a user's suite, or ours) can hold more than 1,024 descriptors; waiting for
    the step's exit must not depend on the number its pidfd gets (`select()` refused any past
    1,024: "filedescriptor out of range in select()")."""
    write(tmp_path, "steps/tag_parent.py", TAG_PARENT)
    tree = pipeline_run(steps={"train": {}, "register": {}})
    held: list[int] = []
    try:
        while not held or held[-1] < 1100:
            held.append(os.open(os.devnull, os.O_RDONLY))
        result = run_step(tmp_path / "steps/tag_parent.py", "0.91", step="train", run=tree)
    finally:
        for fd in held:
            os.close(fd)
    assert result.exit_code == 0, result.output
    assert tree.parent.get_tags()["accuracy"] == "0.91"


def test_real_sdk_runs_a_step_written_for_azureml_core(pipeline_run, run_step, tmp_path):
    write(tmp_path, "azure_step.py", AZURE_STEP)
    pipeline_run(parent_tags={"build_number": "7"})
    result = run_step(
        tmp_path / "azure_step.py", step="train", real_sdk=True, env={"MY_SETTING": "on"}
    )
    assert result.exit_code == 0, result.output
    assert result.stdout.split() == ["azureml.core.run", "7", "on"]


def test_the_step_does_not_inherit_the_tests_run_or_agent(pipeline_run, run_step, monkeypatch):
    monkeypatch.setenv("CHAMPION_RUN_ID", "not-this-one")
    monkeypatch.setenv("TF_BUILD", "True")
    monkeypatch.setenv("AZUREML_RUN_ID", "nor-this")
    monkeypatch.setenv("KEPT", "yes")
    tree = pipeline_run()
    code = "import os; print(os.environ['CHAMPION_RUN_ID'], os.environ.get('TF_BUILD'), " + (
        "os.environ.get('AZUREML_RUN_ID'), os.environ.get('KEPT'), os.environ.get('GONE'))"
    )
    script = write(tree.workspace.path.parent, "print_env.py", code)
    result = run_step(script, step="train", env={"GONE": None, "KEPT": "yes"})
    assert result.stdout.split() == [tree.steps["train"].id, "None", "None", "yes", "None"]


def test_a_step_finds_outputs_and_logs_made_as_on_azure_ml(pipeline_run, run_step, tmp_path):
    tree = pipeline_run()
    script = write(
        tmp_path,
        "report.py",
        "open('outputs/report.txt', 'w').write('ok'); open('logs/run.log', 'w').write('ok')",
    )
    result = run_step(script, step="train", run=tree)
    assert result.exit_code == 0, result.output
    assert (result.cwd / "outputs" / "report.txt").read_text() == "ok"


def test_a_module_of_the_users_project_runs_with_python_m(
    pipeline_run, run_step, tmp_path, monkeypatch
):
    write(tmp_path, "my_project/__init__.py", "")
    write(tmp_path, "my_project/score.py", TAG_PARENT)
    monkeypatch.chdir(tmp_path)  # as `python -m my_project.score` from the project folder
    tree = pipeline_run()
    result = run_step("my_project.score", "0.88", step="train")
    assert result.exit_code == 0, result.output
    assert tree.parent.get_tags()["accuracy"] == "0.88"


@pytest.mark.parametrize("real_sdk", [False, True], ids=["local", "real-sdk"])
def test_outside_any_run_the_register_step_says_what_to_do(
    run_step, local_workspace, real_sdk, tmp_path
):
    before = workspace_state(local_workspace)
    result = run_step(
        "champion.steps.register",
        "--model-name",
        "m",
        "--model-path",
        tmp_path,
        run=None,
        real_sdk=real_sdk,
    )
    assert result.exit_code == 2
    (line,) = result.stderr.splitlines()
    assert "CHAMPION_RUN_ID" in line and "champion register" in line
    assert result.run_id is None and result.decision is None
    assert workspace_state(local_workspace) == before


def test_misuse_is_explained(pipeline_run, run_step):
    with pytest.raises(RuntimeError, match=r"make one first with pipeline_run"):
        run_step("champion.steps.register")
    pipeline_run()
    with pytest.raises(KeyError, match=r"no step 'score'.*'train', 'register'"):
        run_step("champion.steps.register", step="score")
    with pytest.raises(FileNotFoundError, match="step script not found"):
        run_step("no/such/step.py", step="train")


# --------------------------------------------------------------------- without pytest's fixtures


def test_the_functions_work_without_the_fixtures(tmp_path):
    from champion.testing import create_workspace

    ws = create_workspace(tmp_path / "ws")
    tree = make_pipeline_run(ws, {"accuracy": "0.9"}, {"register": None})
    model = tmp_path / "m.pkl"
    model.write_bytes(b"m")
    before = workspace_state(ws)
    result = run_step(
        "champion.steps.register", "--model-name", "m", "--model-path", model, run=tree
    )
    assert result.exit_code == 0, result.output
    assert Model(ws, "m").version == 1
    assert workspace_state(ws) != before
    assert Run.get(ws, tree.parent.id).get_tags()["champion.outcome"] == "first"
    with pytest.raises(FileNotFoundError, match="no local workspace"):
        workspace_state(tmp_path / "nowhere")
    assert not (tmp_path / "nowhere").exists()


def test_loading_the_plugin_imports_neither_azureml_nor_the_workspace() -> None:
    probe = (
        "import sys, champion.testing.plugin; "
        "print(sorted({m.split('.')[0] for m in sys.modules if m.startswith(('azureml', "
        "'champion.local', 'champion.pipeline', 'sklearn', 'pandas'))}))"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.strip() == "[]"
