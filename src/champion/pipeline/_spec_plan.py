"""A `PipelineSpec` compiled to the plan the local runner executes (`champion.local.plan`).

Why a compile step: the runner executes plans only, whatever described the pipeline (a spec, or
a graph a user's script submitted through the SDK), so what a step gets is decided in one place.
Each spec class maps onto one plan item: a `DataReference` is an output of the step that lists
it in `outputs` (under the workspace's `pipeline-data/`) and a mounted input of the steps that
list it in `inputs`; a `DatastoreInput` reads a datastore path; a `DatasetInput` a registered
dataset, resolved to its saved id now, before any run exists (an unknown one is the user's
mistake, as Azure resolves `Dataset.get_by_name` when the pipeline is built).
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from champion.errors import InputError
from champion.local.pipeline_runs import node_id
from champion.local.plan import Input, Output, Plan, PlanStep
from champion.local.store import Store
from champion.pipeline._spec_data import (
    DataReference,
    DatasetInput,
    DatastoreInput,
    PipelineParameter,
)
from champion.pipeline.spec import Argument, PipelineSpec, Step

__all__ = ["plan_arguments", "spec_plan"]


def spec_plan(spec: PipelineSpec, store: Store, values: Mapping[str, str], *, sdk: bool) -> Plan:
    """The plan of a checked spec, run with the parameter `values` (`sdk`: every step runs
    with the real azureml SDK against the workspace). InputError for an unknown dataset."""
    producers = {ref: step for step in spec.steps for ref in step.outputs}  # last one wins
    source = os.path.abspath(spec.source_directory)
    steps = []
    for step in spec.steps:
        steps.append(
            PlanStep(
                name=step.name,
                node_id=node_id(spec.name, step.name),
                source=source,
                script=step.script,
                arguments=plan_arguments(step.arguments),
                inputs=tuple(_input(spec, step, item, producers, store) for item in step.inputs),
                outputs=tuple(Output(ref.name) for ref in step.outputs),
                after=tuple(node_id(spec.name, name) for name in step.run_after),
                allow_reuse=step.allow_reuse,
                timeout=step.timeout,
            )
        )
    return Plan(spec.name, tuple(steps), dict(values), sdk=sdk)


def plan_arguments(arguments: tuple[Argument, ...]) -> tuple[tuple[str, str], ...]:
    """A spec step's arguments as the plan's: data by its port name, parameters by theirs."""
    converted = []
    for arg in arguments:
        if isinstance(arg, DataReference | DatastoreInput | DatasetInput):
            converted.append(("port", arg.name))
        elif isinstance(arg, PipelineParameter):
            converted.append(("parameter", arg.name))
        else:
            converted.append(("literal", arg))
    return tuple(converted)


def _input(
    spec: PipelineSpec,
    step: Step,
    item: DataReference | DatastoreInput | DatasetInput,
    producers: Mapping[DataReference, Step],
    store: Store,
) -> Input:
    if isinstance(item, DataReference):
        producer = node_id(spec.name, producers[item].name)
        return Input(item.name, f"step:{producer}/{item.name}", "mount")
    if isinstance(item, DatastoreInput):
        return Input(item.name, f"datastore:{item.datastore}/{item.path}", item.mode)
    version = None if item.version == "latest" else int(item.version)
    record = store.get_dataset(item.dataset, version)
    if record is None:
        raise InputError(
            f"step {step.name!r}: dataset input {item.name!r} names dataset {item.dataset!r} "
            f"version {item.version}, which is not registered in workspace {store.root}; "
            "register it first (Dataset.register)",
            field="DatasetInput.dataset",
            value=item.dataset,
        )
    kind = record.saved.dataset_type.lower()
    return Input(item.name, f"dataset:{record.saved_id}", item.mode, dataset=kind)
