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

import os
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
from champion.pipeline._azure_run import SUCCESS_STATUSES, RunOutcome, wait_for_decision
from champion.pipeline._azure_view import (
    AzurePipeline,
    Compute,
    StepView,
    _display,
    _row,
    _step_view,
    parameter_values,
)
from champion.pipeline.spec import (
    DataReference,
    DatasetInput,
    DatastoreInput,
    PipelineParameter,
    PipelineSpec,
    validate,
)

__all__ = [
    "ALSO_PINNED",
    "SUCCESS_STATUSES",
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
        from champion._extras import missing_message

        raise ChampionError(
            missing_message("pipelines", detail=str(exc)),
            field="extras",
            value="pipelines",
        ) from exc
    return core, steps


# --------------------------------------------------------------------------- compute


# --------------------------------------------------------------------------- what the SDK built


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
    by_name = {sdk_step.name: sdk_step for sdk_step in built}
    for step, sdk_step in zip(spec.steps, built, strict=True):
        for other in step.run_after:
            if other in by_name:  # an unknown name is reported by validate()
                sdk_step.run_after(by_name[other])
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
