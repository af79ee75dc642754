"""A `PipelineSpec` as an Azure ML `Pipeline` of `PythonScriptStep`s: validate, submit, publish.

Why a translation and not a second definition: the spec the local runner runs is the only
description of the pipeline. Each spec class maps onto one SDK class (`DataReference` ->
`PipelineData`, `DatastoreInput` -> the SDK's `DataReference` to a datastore path, `DatasetInput`
-> `Dataset.get_by_name(...).as_named_input(...)`, `PipelineParameter` -> `PipelineParameter`,
`Step` -> `PythonScriptStep` with its `allow_reuse`), the arguments keep their declared order,
and what the SDK built is read back (`StepView`) so tests can hold the two backends to the same
argv.

Everything from `azureml.pipeline.*` is imported inside functions: the [pipelines] extra is
optional and costs ~2 s to import, which a local run must not pay. `azureml` is untyped, so SDK
objects are `Any` at this boundary.

On Azure a step runs in a fresh image, from a snapshot of its source directory, so two more
things travel with the pipeline: an `Environment` whose pip packages are champion's own runtime
requirements pinned to the versions installed here (the set the tests ran with) plus champion
itself, and files the steps read next to their scripts (`stage_snapshot`).
"""

from __future__ import annotations

import contextlib
import io
import os
import shlex
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from champion.errors import ChampionError, InputError
from champion.local._traps import check_pipeline_spec
from champion.pipeline._azure_env import (
    ALSO_PINNED,
    AzureCliTokens,
    EnvironmentSpec,
    content_tagged_wheel,
    environment_spec,
    load_workspace,
    runtime_pins,
    stage_snapshot,
    upload_wheel,
)
from champion.pipeline.spec import (
    DataReference,
    DatasetInput,
    DatastoreInput,
    ParameterValue,
    PipelineParameter,
    PipelineSpec,
    validate,
)
from champion.record import CHAMPION_TAGS, newest_record, tags_for

__all__ = [
    "ALSO_PINNED",
    "AzureBuildError",
    "AzureCliTokens",
    "AzurePipeline",
    "Compute",
    "EnvironmentSpec",
    "RunOutcome",
    "StepView",
    "ValidationReport",
    "build_pipeline",
    "content_tagged_wheel",
    "environment_spec",
    "load_workspace",
    "parameter_values",
    "runtime_pins",
    "stage_snapshot",
    "upload_wheel",
    "validate_offline",
    "wait_for_decision",
]

#: Pipeline run statuses that mean success (pipelines service, run history).
SUCCESS_STATUSES = frozenset({"Finished", "Completed"})
_ARGUMENT_KINDS = {
    "_StringArgument": "Literal",
    "_InputArgument": "Input",
    "_OutputArgument": "Output",
    "_ParameterArgument": "Parameter",
}


class AzureBuildError(InputError):
    """The SDK refused to build the pipeline; `problems` holds each of its messages."""

    def __init__(self, problems: Sequence[str]) -> None:
        super().__init__("; ".join(problems), field="pipeline", value=list(problems))
        self.problems = tuple(problems)


def _pipelines_sdk() -> tuple[Any, Any]:
    """`azureml.pipeline.core` and `.steps`, or a ChampionError saying how to install them."""
    try:
        import azureml.pipeline.core as core
        import azureml.pipeline.steps as steps
    except ImportError as exc:
        raise ChampionError(
            f"Azure ML pipelines need the [pipelines] extra ({exc}); install it with "
            "`pip install 'champion[pipelines]'` (make test does)",
            field="extras",
            value="pipelines",
        ) from exc
    return core, steps


# --------------------------------------------------------------------------- compute


@dataclass(frozen=True)
class Compute:
    """A compute target by name and type. Passed to the SDK as a `(name, type)` tuple, which it
    never looks up while building, so the same pipeline builds offline; the service checks that
    the target exists when the run is submitted."""

    name: str
    type: str = "AmlCompute"


# --------------------------------------------------------------------------- what the SDK built


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
    inputs = tuple(
        (port.name, port.incoming_edge.source_port.node.name if port.incoming_edge else "?")
        for port in node.inputs
    )
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


# --------------------------------------------------------------------------- build


def build_pipeline(
    spec: PipelineSpec,
    workspace: Any,
    *,
    compute: Compute,
    environment: EnvironmentSpec,
    datastore: Any = None,
    workflow_provider: Any = None,
) -> AzurePipeline:
    """Build `spec` as a `Pipeline` of `PythonScriptStep`s on `workspace`.

    Every step gets the spec's `source_directory`, the compute as a `(name, type)` tuple and one
    `RunConfiguration` carrying `environment`. `datastore` None means the workspace's default
    (looked up over REST); `workflow_provider` None means the real pipelines service. Raises
    AzureBuildError with the SDK's messages when it refuses a step or the graph.
    """
    core, steps_module = _pipelines_sdk()
    from azureml.core.runconfig import RunConfiguration

    check_pipeline_spec(spec)  # a reused step that is or feeds a register step

    runconfig = RunConfiguration()
    runconfig.target = compute.name
    runconfig.environment = environment.to_azureml()
    data = {
        ref.name: core.PipelineData(ref.name, datastore=datastore)
        for step in spec.steps
        for ref in step.data_references
        if isinstance(ref, DataReference)
    }
    params = {
        p.name: core.PipelineParameter(p.name, default_value=p.default) for p in spec.parameters
    }
    sources = {
        (step.name, item.name): _sdk_input(item, workspace, datastore)
        for step in spec.steps
        for item in step.inputs
        if isinstance(item, DatastoreInput | DatasetInput)
    }

    def sdk_argument(arg: object, step: str) -> object:
        if isinstance(arg, DatastoreInput | DatasetInput):
            return sources[step, arg.name]
        if isinstance(arg, DataReference):
            return data.get(arg.name) or core.PipelineData(arg.name, datastore=datastore)
        if isinstance(arg, PipelineParameter):  # undeclared ones are reported by validate()
            return params.setdefault(arg.name, core.PipelineParameter(arg.name, arg.default))
        return arg

    source = os.fspath(spec.source_directory)
    built: list[Any] = []
    problems: list[str] = []
    for step in spec.steps:
        try:
            built.append(
                steps_module.PythonScriptStep(
                    name=step.name,
                    script_name=step.script,
                    source_directory=source,
                    arguments=[sdk_argument(a, step.name) for a in step.arguments],
                    inputs=[sdk_argument(r, step.name) for r in step.inputs],
                    outputs=[sdk_argument(r, step.name) for r in step.outputs],
                    compute_target=(compute.name, compute.type),
                    runconfig=runconfig,
                    allow_reuse=step.allow_reuse,
                )
            )
        except ValueError as exc:
            problems.append(f"step {step.name}: {exc}")
    if problems:
        raise AzureBuildError(problems)
    try:
        pipeline = core.Pipeline(
            workspace,
            built,
            description=spec.name,
            default_datastore=datastore,
            default_source_directory=source,
            _workflow_provider=workflow_provider,
        )
    except ValueError as exc:  # orphan input, two producers, missing script: one at a time
        raise AzureBuildError([str(exc)]) from exc
    order = {step.name: index for index, step in enumerate(spec.steps)}
    views = sorted(
        (_step_view(node) for node in pipeline.graph.module_nodes),
        key=lambda view: order.get(view.name, len(order)),
    )
    return AzurePipeline(spec, pipeline, tuple(views), compute, environment)


def _sdk_input(item: DatastoreInput | DatasetInput, workspace: Any, datastore: Any) -> Any:
    """The SDK object for a datastore or dataset input. A named datastore other than the one
    given is looked up in the workspace, and a dataset by name and version: both need the
    service, so offline validation reports them as what it cannot check."""
    if isinstance(item, DatastoreInput):
        from azureml.core import Datastore
        from azureml.data.data_reference import DataReference as SdkDataReference

        store = (
            datastore
            if datastore is not None and datastore.name == item.datastore
            else Datastore.get(workspace, item.datastore)
        )
        return SdkDataReference(
            datastore=store,
            data_reference_name=item.name,
            path_on_datastore=item.path or None,
            mode=item.mode,
        )
    from azureml.core import Dataset

    consumed = Dataset.get_by_name(workspace, item.dataset, item.version).as_named_input(item.name)
    if item.mode == "mount":
        return consumed.as_mount()
    if item.mode == "download":
        return consumed.as_download()
    return consumed


# --------------------------------------------------------------------------- validate offline


@dataclass(frozen=True)
class ValidationReport:
    """What `validate_offline` found: problems (empty when valid) and, when the SDK built the
    pipeline, a description of each step as it would be sent."""

    pipeline: str
    problems: tuple[str, ...]
    lines: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not self.problems


def validate_offline(
    spec: PipelineSpec,
    *,
    compute: Compute,
    environment: EnvironmentSpec,
    snapshot_files: Mapping[str, Path] | None = None,
) -> ValidationReport:
    """Check `spec` with its own rules, then build it with the real SDK against an offline
    workspace (no Azure account, no network) and run the SDK's graph validation.

    Both sets of problems are reported, each prefixed with who found it; paths in the SDK's
    messages name the real source directory, not the staging copy it was built from.
    """
    _pipelines_sdk()
    from champion.pipeline._azure_offline import OfflineServiceError, offline_session

    problems = [f"spec: {problem}" for problem in validate(spec)]
    lines: list[str] = []
    files = dict(snapshot_files or {})
    with tempfile.TemporaryDirectory(prefix="champion-snapshot-") as tmp:
        staging = Path(tmp) / "snapshot"

        def unstage(message: str) -> str:
            return message.replace(str(staging), str(spec.source_directory))

        try:
            staged = stage_snapshot(spec, staging, files)
            with offline_session() as session:
                built = build_pipeline(
                    staged,
                    session.workspace,
                    compute=compute,
                    environment=environment,
                    datastore=session.datastore,
                    workflow_provider=session.workflow_provider,
                )
                problems += [f"azureml: {unstage(p)}" for p in built.validate()]
        except AzureBuildError as exc:
            problems += [f"azureml: {unstage(p)}" for p in exc.problems]
        except InputError as exc:
            problems.append(f"snapshot: {exc}")
        except OfflineServiceError as exc:
            problems.append(f"azureml: {exc}")
        else:
            extra = "".join(f" + {name} (from {_display(path)})" for name, path in files.items())
            snapshot = _row("snapshot", f"{_display(spec.source_directory)}/{extra}")
            lines = [snapshot, *built.describe()]
    return ValidationReport(spec.name, tuple(problems), tuple(lines))


# --------------------------------------------------------------------------- workspace and runs


@dataclass(frozen=True)
class RunOutcome:
    """How a submitted pipeline run ended and the decision record its register step left."""

    run_id: str
    status: str
    record: dict[str, Any] | None
    problems: tuple[str, ...]

    @property
    def succeeded(self) -> bool:
        return self.status in SUCCESS_STATUSES and self.record is not None and not self.problems


def wait_for_decision(run: Any, *, show_output: bool = True) -> RunOutcome:
    """Wait for `run` to end, then read the decision from the run itself: the newest JSON
    record the register step uploaded (`outputs/champion_decision.json`, or
    `outputs/champion_decision.<n>.json` when a retry decided differently) and the run's
    `champion.*` tags, which must describe exactly that record (`record.tags_for`): a step
    stopped between uploading a new record and tagging the run leaves tags that name an older
    record, and that is reported rather than trusted. A run that failed may still carry a
    decision (a rejection with --fail-on-reject), so the record is read whatever the status."""
    status = str(run.wait_for_completion(show_output=show_output, raise_on_error=False))
    newest = newest_record(run)
    problems: list[str] = []
    if newest is None:
        problems.append(f"run {run.id} ({status}) has no decision record; see its register step")
        return RunOutcome(str(run.id), status, None, tuple(problems))
    name, record = newest
    expected = tags_for(name, record)
    tags = {k: str(v) for k, v in (run.get_tags() or {}).items() if k in CHAMPION_TAGS}
    for tag in sorted(expected.keys() | tags.keys()):
        if tags.get(tag) != expected.get(tag):
            problems.append(
                f"run {run.id}: tag {tag}={tags.get(tag)!r} disagrees with the decision record "
                f"{name} ({expected.get(tag)!r})"
            )
    return RunOutcome(str(run.id), status, record, tuple(problems))
