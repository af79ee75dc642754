"""champion's v2 components: shipped files that the real `azure.ai.ml.load_component` accepts,
with the interface a pipeline relies on, running the packaged steps."""

from __future__ import annotations

import re

import pytest
from azure.ai.ml import load_component

from champion.components import NAMES, load, path
from champion.errors import InputError


def test_the_register_component_loads_with_the_sdk_and_has_its_interface():
    component = load_component(source=path("register"))
    assert component.name == "champion_register"
    assert component.command.startswith("python -m champion.steps.register")
    required = {k for k, v in component.inputs.items() if not v.optional}
    assert required == {"model", "model_name"}
    assert component.inputs["model"].type == "uri_folder"
    assert component.inputs["metrics"].type == "uri_file" and component.inputs["metrics"].optional
    for option in ("metric", "min_delta", "floor", "lower_is_better", "allow_unscored_champion",
                   "allow_different_test_data", "dry_run", "build_number"):  # fmt: skip
        assert component.inputs[option].type == "string" and component.inputs[option].optional
    assert component.outputs["decision"].type == "uri_file"
    assert component.outputs["promoted"].type == "boolean"
    assert "is_control: true" in path("register").read_text()  # what Azure reads for it
    assert component.environment.conda_file is not None


def test_every_option_of_the_register_component_is_an_option_of_the_step(capsys):
    """The component passes nothing the step would refuse: each `--flag` its command writes is
    one the step's parser lists."""
    from champion.steps.register import parse_args

    with pytest.raises(SystemExit):
        parse_args(["--help"])
    offered = set(re.findall(r"(--[a-z-]+)", capsys.readouterr().out))
    assert set(re.findall(r"(--[a-z-]+)", load("register").command)) <= offered


def test_the_score_component_runs_the_score_step():
    component = load("score")
    assert component.command.startswith("python -m champion.steps.score")
    assert component.outputs["predictions"].type == "uri_folder"


def test_an_unknown_component_is_refused_naming_the_ones_there_are():
    with pytest.raises(InputError, match="its components are register, score"):
        path("deploy")
    assert NAMES == ("register", "score")
