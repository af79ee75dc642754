"""A pipeline as data: steps, scripts, arguments, inputs/outputs and parameters.

Why data and not `azureml.pipeline.core` objects: the same pipeline has to run on a laptop (the
local runner, `champion.pipeline.local`) and on Azure ML (`champion.pipeline.azure`, which turns a
spec into `Pipeline`/`PythonScriptStep`). Building the SDK objects needs the ~580 MB pipelines
extra and, for `Pipeline(...)`, a reachable service; a spec needs neither, so it can be validated
and run anywhere, and both backends read the one description.

The classes map one to one onto the SDK's:

- `DataReference(name)` is a `PipelineData(name)`: a folder one step writes and later steps read.
- `DatastoreInput(name, path, datastore, mode)` is the SDK's `DataReference` to a path in a
  datastore (`datastore.path(path, name).as_mount()`): a file or folder the step reads.
- `DatasetInput(name, dataset, version, mode)` is `Dataset.get_by_name(ws, dataset, version)
  .as_named_input(name)` (and `.as_mount()`/`.as_download()` for a file dataset).
- `PipelineParameter(name, default)` is the SDK's `PipelineParameter(name, default_value)`.
- `Step` is a `PythonScriptStep(name, script_name, arguments, inputs, outputs, allow_reuse)`;
  its `run_after` names are the SDK's `step.run_after(other)`: an order without data between
  (the sample's score step runs after the register step, whose decision it must see).
- `PipelineSpec(name, steps, source_directory, parameters)` is the pipeline plus the experiment it
  is submitted to; `source_directory` is every step's `source_directory`.

`validate()` applies the rules the SDK applies when it constructs steps and builds the graph
(azureml-semantics.md §4), with the SDK's own wording, so a spec that validates here does not
fail later in `Pipeline(...)` for a reason we could have told the user on the laptop.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from champion.errors import InputError
from champion.pipeline._graph import _check_graph, resolve_arguments, topological_order
from champion.pipeline._spec_data import (
    _EXPERIMENT_NAME,
    DataReference,
    DatasetInput,
    DatastoreInput,
    ParameterValue,
    PipelineParameter,
)

__all__ = [
    "Argument",
    "DataReference",
    "DatasetInput",
    "DatastoreInput",
    "ParameterValue",
    "PipelineParameter",
    "PipelineSpec",
    "Step",
    "experiment_name_problem",
    "resolve_arguments",
    "topological_order",
    "validate",
]


Argument = str | DataReference | DatastoreInput | DatasetInput | PipelineParameter
"""One entry of a step's command line: literal text, a data folder, a datastore path, a dataset,
or a pipeline parameter."""
Input = DataReference | DatastoreInput | DatasetInput
"""What a step can read: another step's output folder, a datastore path, a dataset."""


@dataclass(frozen=True)
class Step:
    """One script run as a pipeline step (a `PythonScriptStep`).

    `script` is relative to the pipeline's `source_directory`, as `script_name` is relative to a
    PythonScriptStep's. `arguments` are kept in the declared order: both backends pass them to
    the script in exactly that order. Lists are accepted and stored as tuples, so a spec is
    immutable and hashable once built.
    """

    name: str
    script: str
    arguments: tuple[Argument, ...] = ()
    inputs: tuple[Input, ...] = ()
    outputs: tuple[DataReference, ...] = ()
    allow_reuse: bool = True
    run_after: tuple[str, ...] = ()
    """Names of steps that must finish before this one starts, though it reads nothing of
    theirs (`PythonScriptStep.run_after`)."""
    timeout: float | None = None
    """Seconds the step may run; past it the step is ended and Canceled, and the pipeline
    fails (the run configuration's `max_run_duration_seconds` on Azure ML). None: no limit of
    its own (the runner's `--step-timeout` applies)."""

    def __post_init__(self) -> None:
        for name in ("arguments", "inputs", "outputs", "run_after"):
            object.__setattr__(self, name, tuple(getattr(self, name)))

    @property
    def data_references(self) -> tuple[DataReference, ...]:
        """Inputs then outputs passed between steps, each once: every pipeline folder the step
        sees."""
        refs = (*self.inputs, *self.outputs)
        return tuple(dict.fromkeys(r for r in refs if isinstance(r, DataReference)))

    @property
    def datastore_inputs(self) -> tuple[DatastoreInput, ...]:
        return tuple(dict.fromkeys(r for r in self.inputs if isinstance(r, DatastoreInput)))

    @property
    def dataset_inputs(self) -> tuple[DatasetInput, ...]:
        return tuple(dict.fromkeys(r for r in self.inputs if isinstance(r, DatasetInput)))


@dataclass(frozen=True)
class PipelineSpec:
    """A pipeline: its name (also the experiment its runs go to), steps, the folder the scripts
    live in, and the parameters a run may set."""

    name: str
    steps: tuple[Step, ...]
    source_directory: Path
    parameters: tuple[PipelineParameter, ...] = field(default=())

    def __post_init__(self) -> None:
        object.__setattr__(self, "steps", tuple(self.steps))
        object.__setattr__(self, "parameters", tuple(self.parameters))
        object.__setattr__(self, "source_directory", Path(self.source_directory))

    def script_path(self, step: Step) -> Path:
        """The step's script as an absolute path (where the SDK looks for it at build time)."""
        return Path(os.path.abspath(self.source_directory / step.script))

    def step(self, name: str) -> Step:
        """The step called `name`; KeyError if there is none."""
        for step in self.steps:
            if step.name == name:
                return step
        raise KeyError(name)

    def parameter_defaults(self) -> dict[str, str]:
        """Each declared parameter's default as the text a step receives."""
        return {p.name: p.default_text for p in self.parameters}

    def check(self) -> PipelineSpec:
        """Raise InputError listing every problem `validate` finds (one problem: one line);
        return self when there is none, so `run(spec.check())` reads naturally."""
        problems = validate(self)
        if len(problems) == 1:
            raise InputError(
                f"pipeline {self.name!r} is not valid: {problems[0]}",
                field="pipeline",
                value=self.name,
            )
        if problems:
            listing = "\n".join(f"  - {p}" for p in problems)
            raise InputError(
                f"pipeline {self.name!r} is not valid ({len(problems)} problems):\n{listing}",
                field="pipeline",
                value=self.name,
            )
        return self


# --------------------------------------------------------------------------- validation


def validate(spec: PipelineSpec) -> list[str]:
    """Every problem with the spec, in the SDK's words where the SDK has words; [] when valid.

    All problems are collected rather than stopping at the first (the SDK raises one at a time),
    so one run of `--validate` shows everything to fix. One rule is stricter than the SDK's: step
    names must be unique, because the local runner names each step's child run after its step and
    the register step finds the training step's run by name (`find_step_run` would return two).
    """
    problems: list[str] = []
    name_problem = experiment_name_problem(spec.name)
    if name_problem:
        problems.append(
            f"pipeline name {spec.name!r} is used as the experiment name and is not valid: "
            + name_problem
        )
    if not spec.steps:
        problems.append(f"pipeline {spec.name!r} has no steps")
    problems += _check_parameters(spec)
    seen: set[str] = set()
    for step in spec.steps:
        if not isinstance(step.name, str) or not step.name.strip():
            problems.append(f"a step has an empty name (script {step.script!r})")
        elif step.name in seen:
            problems.append(
                f"two steps are named {step.name!r}; step names must be unique so that each "
                "step's run can be found by name"
            )
        seen.add(step.name)
        problems += _check_step(spec, step)
        problems += _check_names_in_arguments(spec, step)
    problems += _check_graph(spec)
    return problems


def experiment_name_problem(name: object) -> str | None:
    """Why `name` cannot name an experiment, in the SDK's words; None when it can."""
    if isinstance(name, str) and _EXPERIMENT_NAME.fullmatch(name):
        return None
    return (
        "Experiment name must be between 1 and 255 characters long. Its first character has "
        "to be alphanumeric, and the rest may contain hyphens and underscores. No whitespace "
        "is allowed."
    )


def _check_names_in_arguments(spec: PipelineSpec, step: Step) -> list[str]:
    """The names a register step will use, checked here so that a bad one stops the pipeline
    before its first step rather than after training: `--model-name` must be a valid model name,
    and `--training-step-name` must name a step of this pipeline."""
    from champion._validation import validate_model_name

    problems: list[str] = []
    for flag, value in _flag_values(step.arguments):
        if flag == "--model-name":
            try:
                validate_model_name(value)
            except InputError as exc:
                problems.append(f"step {step.name!r}: --model-name {value!r}: {exc}")
        elif flag == "--training-step-name" and value and value not in {s.name for s in spec.steps}:
            names = ", ".join(repr(s.name) for s in spec.steps)
            problems.append(
                f"step {step.name!r}: --training-step-name {value!r} names no step of pipeline "
                f"{spec.name!r} (its steps: {names})"
            )
    return problems


def _flag_values(arguments: tuple[Argument, ...]) -> list[tuple[str, str]]:
    """(flag, text) for each `--flag value` and `--flag=value` whose value is literal text."""
    found = []
    for index, arg in enumerate(arguments):
        if not isinstance(arg, str) or not arg.startswith("--"):
            continue
        flag, equals, value = arg.partition("=")
        if equals:
            found.append((flag, value))
        elif index + 1 < len(arguments) and isinstance(arguments[index + 1], str):
            found.append((flag, str(arguments[index + 1])))
    return found


def _check_parameters(spec: PipelineSpec) -> list[str]:
    problems: list[str] = []
    declared: dict[str, PipelineParameter] = {}
    for param in spec.parameters:
        if param.name in declared and declared[param.name] != param:
            problems.append(f"pipeline parameter {param.name!r} is declared twice")
        declared.setdefault(param.name, param)
    for step in spec.steps:
        for arg in step.arguments:
            if not isinstance(arg, PipelineParameter):
                continue
            known = declared.get(arg.name)
            if known is None:
                problems.append(
                    f"step {step.name!r} uses pipeline parameter {arg.name!r}, which the "
                    "pipeline does not declare; add it to the spec's parameters"
                )
            elif known.default != arg.default or type(known.default) is not type(arg.default):
                problems.append(
                    f"step {step.name!r} uses pipeline parameter {arg.name!r} with default "
                    f"{arg.default!r}, but the pipeline declares it with default {known.default!r}"
                )
    return problems


def _check_step(spec: PipelineSpec, step: Step) -> list[str]:
    problems: list[str] = []
    script = spec.script_path(step)
    if not script.is_file():
        problems.append(
            f"Step [{step.name}]: script not found at: {script}. Make sure to specify an "
            "appropriate source_directory on the Step or default_source_directory on the Pipeline."
        )
    declared = {*step.inputs, *step.outputs}
    for index, arg in enumerate(step.arguments):
        if isinstance(arg, DataReference | DatastoreInput | DatasetInput):
            if arg not in declared:
                problems.append(
                    f"Input/Output {arg.name} appears in arguments list but is not in the "
                    f"input/output lists (step {step.name})"
                )
        elif not isinstance(arg, str | PipelineParameter):
            problems.append(
                f"step {step.name!r}: argument {index} is {type(arg).__name__} {arg!r}; arguments "
                "must be str, DataReference, DatastoreInput, DatasetInput or PipelineParameter "
                "(write str(value))"
            )
    for ref in step.inputs:
        if not isinstance(ref, DataReference | DatastoreInput | DatasetInput):
            problems.append(
                f"step {step.name!r}: input {ref!r} is not a DataReference, DatastoreInput or "
                "DatasetInput"
            )
    for ref in step.outputs:
        if not isinstance(ref, DataReference):
            problems.append(f"step {step.name!r}: output {ref!r} is not a DataReference")
    if step.timeout is not None and (
        isinstance(step.timeout, bool)
        or not isinstance(step.timeout, int | float)
        or not step.timeout > 0
    ):
        problems.append(
            f"step {step.name!r}: timeout {step.timeout!r} must be a number of seconds above 0"
        )
    # one name, one path: two different inputs/outputs with one name would share a variable
    distinct = {r for r in (*step.inputs, *step.outputs) if hasattr(r, "name")}
    names = [r.name for r in distinct]
    for name in sorted({n for n in names if names.count(n) > 1}):
        problems.append(f"step {step.name!r}: two inputs/outputs are named {name!r}")
    return problems


# --------------------------------------------------------------------------- order and argv
