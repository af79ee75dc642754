"""Azure DevOps: the verdict's output variables, text that must not start a logging command, and
`azure-pipelines.yml` wired to what the scripts print."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from champion.decision import Policy, decide
from champion.errors import InputError
from champion.local import Experiment
from champion.pipeline import driver, load_pipeline_file
from champion.record import (
    DecisionRecord,
    devops_commands,
    devops_commands_for,
    neutralize_logging_commands,
    read_record,
    write_record,
)

ROOT = Path(__file__).resolve().parents[2]
iris = load_pipeline_file(ROOT / "pipelines" / "iris.py")

# What the agent acts on: `##vso[` anywhere in a line, any case; `##[` formatting commands.
COMMAND = re.compile(r"##(vso)?\[", re.IGNORECASE)


def record(model_name: str = "iris", version: int | None = 3) -> DecisionRecord:
    return DecisionRecord(
        decision=decide(0.97, 0.95, Policy("accuracy")),
        model_name=model_name,
        registered_version=version,
        build_number="20240611.4",
        challenger_source="parent run",
        parent_run_id="run-1",
        artifact_path="outputs/iris",
        artifact_sha256="ab" * 32,
    )


# --- output variables ---------------------------------------------------------------------------


def test_variables_from_a_record_read_back_equal_the_register_steps_own() -> None:
    for rec in (record(), record(version=None), record(model_name="iris.v2-b_1")):
        assert devops_commands_for(rec.to_dict()) == devops_commands(rec)
    assert devops_commands_for(record().to_dict()) == [
        "##vso[task.setvariable variable=champion_outcome;isOutput=true]promoted",
        "##vso[task.setvariable variable=champion_version;isOutput=true]3",
        "##vso[task.setvariable variable=champion_model;isOutput=true]iris",
        "##vso[task.setvariable variable=champion_dry_run;isOutput=true]false",
    ]


def test_a_dry_run_says_so_in_its_variables_and_an_old_record_is_no_dry_run() -> None:
    dry = DecisionRecord(
        decision=decide(0.97, 0.95, Policy("accuracy")).as_dry_run(),
        model_name="iris",
        registered_version=None,
        build_number="7",
        challenger_source="parent run",
        parent_run_id="run-1",
        artifact_path=None,
        artifact_sha256="ab" * 32,
    )
    assert (
        devops_commands_for(dry.to_dict())
        == devops_commands(dry)
        == [
            "##vso[task.setvariable variable=champion_outcome;isOutput=true]would_promote",
            "##vso[task.setvariable variable=champion_version;isOutput=true]",
            "##vso[task.setvariable variable=champion_model;isOutput=true]iris",
            "##vso[task.setvariable variable=champion_dry_run;isOutput=true]true",
        ]
    )
    written_before_dry_runs = {k: v for k, v in record().to_dict().items() if k != "dry_run"}
    assert devops_commands_for(written_before_dry_runs)[-1].endswith("]false")


@pytest.mark.parametrize(
    "change",
    [
        {"outcome": "promoted]\n##vso[task.complete result=Failed]"},
        {"outcome": "PROMOTED"},
        {"outcome": None},
        {"registered_version": "3;isOutput=false"},
        {"registered_version": 0},
        {"model_name": "iris\n##vso[task.setvariable variable=x]y"},
        {"model_name": "iris;x"},
        {"model_name": "-iris"},
        {"dry_run": "true]\n##vso[task.complete result=Failed]"},
        {"dry_run": 1},
    ],
)
def test_a_record_value_of_the_wrong_shape_is_refused(change: dict[str, Any]) -> None:
    with pytest.raises(InputError, match="not what a register step writes"):
        devops_commands_for({**record().to_dict(), **change})


def test_read_record_returns_what_write_record_left_on_the_run(make_workspace) -> None:
    run = Experiment(make_workspace(), "e").start_logging()
    assert read_record(run) is None
    written = write_record(run, record())
    assert read_record(run) == written
    assert written["outcome"] == "promoted" and written["registered_version"] == 3


# --- text printed under the agent ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("plain text; 95% ]", "plain text; 95% ]"),
        ("x ##vso[task.setvariable variable=a]b", "x #%23vso[task.setvariable variable=a]b"),
        ("##VsO[task.complete]", "#%23VsO[task.complete]"),
        ("##[error]boom", "#%23[error]boom"),
        ("###vso[x]", "#%23#vso[x]"),
        ("a\r\n##vso[x]", "a%0D%0A#%23vso[x]"),
        ("a\u2028b\x85c\x0bd", "a%2028b%85c%0Bd"),
    ],
)
def test_neutralize_logging_commands(text: str, shown: str) -> None:
    assert neutralize_logging_commands(text) == shown


@given(st.text())
def test_neutralized_text_never_holds_a_command_or_a_line_break(text: str) -> None:
    shown = neutralize_logging_commands(text)
    assert "##" not in shown
    assert len(shown.splitlines()) <= 1 and "\n" not in shown and "\r" not in shown


def test_the_agent_console_filters_stdout_and_stderr(capsys: pytest.CaptureFixture[str]) -> None:
    with driver.agent_safe_console(True) as agent:
        print("#", end="")
        print("#vso[task.setvariable variable=a]b")
        print("##[error] from stderr", file=driver.sys.stderr)
        print("tail without newline ##vso[x]", end="")
        agent.write("##vso[task.setvariable variable=ours;isOutput=true]1\n")
    captured = capsys.readouterr()
    assert captured.out.splitlines() == [
        "#%23vso[task.setvariable variable=a]b",
        "##vso[task.setvariable variable=ours;isOutput=true]1",
        "tail without newline #%23vso[x]",
    ]
    assert captured.err == "#%23[error] from stderr\n"


def test_without_the_agent_the_console_is_untouched(capsys: pytest.CaptureFixture[str]) -> None:
    with driver.agent_safe_console(False) as agent:
        print("##vso[task.setvariable variable=a]b")
        assert agent is driver.sys.stdout
    assert capsys.readouterr().out == "##vso[task.setvariable variable=a]b\n"


# --- azure-pipelines.yml ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def build() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((ROOT / "azure-pipelines.yml").read_text())
    return loaded


def stage(build: dict[str, Any], name: str) -> dict[str, Any]:
    return next(s for s in build["stages"] if s["stage"] == name)


def job(stage_: dict[str, Any], name: str) -> dict[str, Any]:
    return next(j for j in stage_["jobs"] if j["job"] == name)


def test_the_build_tests_first_with_make_test(build: dict[str, Any]) -> None:
    assert [s["stage"] for s in build["stages"]] == ["Test", "Train", "Deploy"]
    test = job(stage(build, "Test"), "test")
    scripts = [step.get("script") for step in test["steps"]]
    assert "make test" in scripts
    assert 0 < test["timeoutInMinutes"] <= 30  # a hung test ends the job well before 60 min
    assert ".venv/bin/python pipelines/iris.py --validate" in scripts
    assert stage(build, "Train")["dependsOn"] == "Test"


def test_the_build_submits_with_the_build_number_under_the_service_connection(
    build: dict[str, Any],
) -> None:
    submit = job(stage(build, "Train"), "submit")
    (task,) = [s for s in submit["steps"] if s.get("task") == "AzureCLI@2"]
    assert task["inputs"]["azureSubscription"] == "${{ variables.serviceConnection }}"
    script = task["inputs"]["inlineScript"]
    command = " ".join(script.replace("\\\n", " ").split())
    assert ".venv/bin/python pipelines/iris.py --submit --wait" in command
    assert '--build-number "$BUILD_NUMBER"' in command and "--config config.json" in command
    assert task["env"]["BUILD_NUMBER"] == "$(Build.BuildNumber)"
    # No macro is pasted into script text (only $(az ...), a shell command substitution).
    assert re.findall(r"\$\((?!az )[^)]*\)", script) == []
    install = next(s["script"] for s in submit["steps"] if "script" in s)
    assert "pip install --quiet '.[pipelines]'" in install and "pip wheel" in install
    assert "pip check" in install
    options = {
        o
        for action in driver.build_parser(iris.build_spec, prog="iris.py")._actions
        for o in action.option_strings
    }
    for flag in re.findall(r"--[a-z-]+", command.split("pipelines/iris.py")[1]):
        assert flag in options, flag


def test_later_jobs_read_the_variables_the_script_sets(build: dict[str, Any]) -> None:
    train = stage(build, "Train")
    (task,) = [s for s in job(train, "submit")["steps"] if s.get("task") == "AzureCLI@2"]
    step_name = task["name"]
    names = [line.split("variable=")[1].split(";")[0] for line in devops_commands(record())]
    assert names == ["champion_outcome", "champion_version", "champion_model", "champion_dry_run"]
    verdict = job(train, "verdict")
    assert verdict["dependsOn"] == "submit"
    assert verdict["variables"]["outcome"] == (
        f"$[ dependencies.submit.outputs['{step_name}.champion_outcome'] ]"
    )
    deploy = stage(build, "Deploy")
    assert (
        f"dependencies.Train.outputs['submit.{step_name}.champion_outcome']" in deploy["condition"]
    )
    condition = " ".join(deploy["condition"].split())
    assert "'first', 'promoted', 'already_registered')," in condition
    assert (
        f"ne(dependencies.Train.outputs['submit.{step_name}.champion_dry_run'], 'true'))"
        in condition
    )
    assert deploy["variables"]["modelVersion"] == (
        f"$[ stageDependencies.Train.submit.outputs['{step_name}.champion_version'] ]"
    )
