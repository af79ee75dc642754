"""champion's Azure ML v2 components, shipped in the wheel: `register` (the gate) and `score`.

    from azure.ai.ml import load_component
    from champion.components import path

    register = load_component(path("register"))      # or champion.components.load("register")

Why components: a v2 pipeline is made of command components, and a team should not copy a
register script into every repository (Microsoft's own register component bypasses the gate:
it registers every run, and picks the next version on the client). These YAML files are
command components running the packaged steps (`python -m champion.steps.register`,
`python -m champion.steps.score`), so the gate a v2 pipeline runs is the one this package tests.

The register component's interface (see register.yaml for every input):

- inputs: `model` (the training step's model folder), `model_name`, `training_step_name` and
  `metrics` (a JSON file of metrics) optional, and the policy options as strings (`metric`,
  `min_delta`, `floor`, `lower_is_better`, `allow_unscored_champion`, ...);
- outputs: `decision` (uri_file: the decision record) and `promoted` (boolean, `is_control:
  true`), so `dsl.condition(register.outputs.promoted, true_block=deploy)` runs a deploy or
  score step only after a win.

The components' environment (`environment.yaml`: champion with the v2 and MLflow extras, and
azureml-mlflow, on Azure ML's Ubuntu image) matters on Azure only; replace it with your own
(`component.environment = "azureml:my-env@latest"`) where champion is installed already.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from champion.errors import InputError

__all__ = ["NAMES", "load", "path"]

_HERE = Path(__file__).resolve().parent
NAMES = ("register", "score")
"""The components shipped, by the name `path` takes."""


def path(name: str) -> Path:
    """The YAML file of component `name` (`register`, `score`), for `azure.ai.ml.load_component`."""
    if name not in NAMES:
        raise InputError(
            f"champion ships no component {name!r}; its components are {', '.join(NAMES)}",
            field="component",
            value=name,
        )
    return _HERE / f"{name}.yaml"


def load(name: str) -> Any:
    """`azure.ai.ml.load_component(path(name))`: the component, ready to call in a
    `@dsl.pipeline` function (needs the `[v2]` extra)."""
    from azure.ai.ml import load_component

    return load_component(source=path(name))
