"""What the SDK built, read back: each `PythonScriptStep` as a `StepView`, the whole as an
`AzurePipeline` with the console lines `--validate` prints.

Why apart from the builder: tests hold the local runner and the Azure builder to the same argv
through these views, and the builder's job (spec -> SDK objects) reads better without them.
"""

from __future__ import annotations

import contextlib
import io
import os
import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from champion.errors import InputError
from champion.pipeline._azure_env import (
    EnvironmentSpec,
)
from champion.pipeline.spec import (
    ParameterValue,
    PipelineParameter,
    PipelineSpec,
)


@dataclass(frozen=True)
class Compute:
    """A compute target by name and type. Passed to the SDK as a `(name, type)` tuple, which it
    never looks up while building, so the same pipeline builds offline; the service checks that
    the target exists when the run is submitted."""

    name: str
    type: str = "AmlCompute"


@dataclass(frozen=True)
class StepView:
    """One step as the SDK built it, read back from the graph node the service would receive.

    `arguments` are the SDK's structured arguments, as (kind, value) with the kinds the service
    knows: Literal (text), Input/Output (a data port's name), Parameter (a pipeline parameter's
    name). `inputs` are (port, producing step) pairs.
    """

    name: str
    script: str
    compute_target: str
    allow_reuse: bool
    arguments: tuple[tuple[str, str], ...]
    inputs: tuple[tuple[str, str], ...]
    outputs: tuple[str, ...]
    after: tuple[str, ...] = ()

    def argv(
        self, data_paths: Mapping[str, str | os.PathLike[str]], params: Mapping[str, str]
    ) -> list[str]:
        """The argv the job runtime gives the script: each port replaced by its folder, each
        parameter by the run's value. Tests compare it with the local runner's argv."""
        resolved = []
        for kind, value in self.arguments:
            if kind == "Literal":
                resolved.append(value)
            elif kind == "Parameter":
                resolved.append(params[value])
            else:
                resolved.append(os.fspath(data_paths[value]))
        return resolved

    def describe(self) -> list[str]:
        """Console lines: script, reuse, ports and the arguments as the service receives them
        (`{output:model_dir}` is a data port, `{parameter:build_number}` a run's value)."""
        shown = [
            shlex.quote(value) if kind == "Literal" else f"{{{kind.lower()}:{value}}}"
            for kind, value in self.arguments
        ]
        lines = [_row(f"step {self.name}", f"{self.script}, allow_reuse={self.allow_reuse}")]
        if self.inputs:
            lines.append(_row("  inputs", ", ".join(f"{p} <- {s}" for p, s in self.inputs)))
        if self.outputs:
            lines.append(_row("  outputs", ", ".join(self.outputs)))
        if self.after:
            lines.append(_row("  after", ", ".join(self.after)))
        lines.append(_row("  arguments", " ".join(shown)))
        return lines


def _row(label: str, text: str) -> str:
    return f"  {label:<15} {text}"


def _display(path: Path | str) -> str:
    """`path` relative to the working directory when it is inside it: shorter, same meaning."""
    try:
        return str(Path(path).resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _step_view(node: Any) -> StepView:
    """Read one graph node. The SDK keeps these only in private attributes; reading them in this
    one place means an SDK change breaks one function, and the tests say which."""
    from azureml.pipeline.core.graph import ModuleDef

    builder = node._module_builder
    arguments = tuple(
        (_ARGUMENT_KINDS[type(a).__name__], str(getattr(a, "text", getattr(a, "name", ""))))
        for a in builder._arguments or ()
    )
    ports = [
        (port.name, port.incoming_edge.source_port.node.name if port.incoming_edge else "?")
        for port in node.inputs
    ]
    inputs = tuple(p for p in ports if not p[0].startswith(ModuleDef.fake_input_prefix))
    after = tuple(s for p, s in ports if p.startswith(ModuleDef.fake_input_prefix))
    outputs = tuple(
        port.name for port in node.outputs if not port.name.startswith(ModuleDef.fake_output_name)
    )
    return StepView(
        name=node.name,
        script=str(node.get_param("Script").value),
        compute_target=str(node.get_param("Target").value),
        allow_reuse=bool(builder._module_def.allow_reuse),
        arguments=arguments,
        inputs=inputs,
        outputs=outputs,
        after=after,
    )


@dataclass(frozen=True)
class AzurePipeline:
    """A spec built into an `azureml.pipeline.core.Pipeline`, with what was built read back."""

    spec: PipelineSpec
    pipeline: Any
    steps: tuple[StepView, ...]
    compute: Compute
    environment: EnvironmentSpec

    def step(self, name: str) -> StepView:
        """The built step called `name`; KeyError if there is none."""
        for step in self.steps:
            if step.name == name:
                return step
        raise KeyError(name)

    def validate(self) -> list[str]:
        """The SDK's own graph validation: [] when valid (a cycle is returned, not raised).
        A valid graph is then finalized as a dry run, whose "ready to be created" lines are
        kept off the console."""
        with contextlib.redirect_stdout(io.StringIO()):
            return [str(problem) for problem in self.pipeline.validate()]

    def describe(self) -> list[str]:
        """Console lines: compute, environment, parameters, then each step (`StepView`)."""
        env = self.environment
        lines = [
            _row("compute", f"{self.compute.name} ({self.compute.type})"),
            _row("environment", f"{env.name}: python {env.python_version}"),
            _row("  pip", " ".join(env.pip_packages)),
        ]
        for name, param in self.pipeline.graph.params.items():
            lines.append(_row("parameter", f"{name}, default {param.default_value!r}"))
        for step in self.steps:
            lines += step.describe()
        return lines

    def submit(
        self,
        experiment_name: str,
        *,
        parameters: Mapping[str, str] | None = None,
        tags: Mapping[str, str] | None = None,
    ) -> Any:
        """Submit a run and tag it; return the `PipelineRun`.

        Every parameter is passed explicitly (defaults included) and also set as a run tag, as
        the local runner tags its pipeline runs, so the build number is searchable on the run.
        `Pipeline.submit` is what `Experiment.submit(pipeline, tags=...)` calls, then the tags
        are set the same way (`set_tags` after submission)."""
        values = parameter_values(self.spec, parameters)
        run = self.pipeline.submit(experiment_name, pipeline_parameters=values)
        run.set_tags({**(tags or {}), **{name: str(v) for name, v in values.items()}})
        return run

    def publish(self, *, version: str, description: str | None = None) -> Any:
        """Publish under the spec's name with `version` (the build number); return the
        `PublishedPipeline`. A published run stops at the first failing step, like a submit."""
        return self.pipeline.publish(
            name=self.spec.name,
            description=description or f"{self.spec.name}, build {version}",
            version=version,
            continue_on_step_failure=False,
        )


_ARGUMENT_KINDS = {
    "_StringArgument": "Literal",
    "_InputArgument": "Input",
    "_OutputArgument": "Output",
    "_ParameterArgument": "Parameter",
}


def parameter_values(
    spec: PipelineSpec, given: Mapping[str, str] | None
) -> dict[str, ParameterValue]:
    """Each declared parameter's value for a run: the given text converted to the default's type
    (the service checks the type), else the default. Unknown names are an InputError."""
    unknown = sorted(set(given or {}) - {p.name for p in spec.parameters})
    if unknown:
        raise InputError(
            f"unknown pipeline parameter(s) {', '.join(unknown)} for pipeline {spec.name!r}; "
            f"it declares: {', '.join(p.name for p in spec.parameters) or 'none'}",
            field="parameters",
            value=unknown,
        )
    values: dict[str, ParameterValue] = {}
    for param in spec.parameters:
        text = (given or {}).get(param.name)
        values[param.name] = param.default if text is None else _typed(param, text)
    return values


def _typed(param: PipelineParameter, text: str) -> ParameterValue:
    kind = type(param.default)
    if kind is str:
        return text
    try:
        if kind is bool:
            return {"true": True, "false": False}[text.strip().lower()]
        return kind(text)
    except (KeyError, ValueError):
        raise InputError(
            f"pipeline parameter {param.name}: {text!r} is not a {kind.__name__} like its "
            f"default {param.default!r}",
            field=param.name,
            value=text,
        ) from None
