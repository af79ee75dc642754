"""A pipeline's steps as a graph: who produces what, the order they run in, the argv they get.

Why apart from the spec: these are the algorithms both backends share (the local runner runs
steps in `topological_order` and builds argv with `resolve_arguments`, the Azure builder and
`validate` use the same producers and cycle search), written once over the spec's data.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from champion.errors import InputError
from champion.pipeline._spec_data import (
    DataReference,
    DatasetInput,
    DatastoreInput,
    PipelineParameter,
)

if TYPE_CHECKING:
    from champion.pipeline.spec import PipelineSpec, Step


def _producers(spec: PipelineSpec) -> dict[DataReference, list[Step]]:
    producers: dict[DataReference, list[Step]] = {}
    for step in spec.steps:
        for ref in _refs(step.outputs):
            producers.setdefault(ref, []).append(step)
    return producers


def _check_graph(spec: PipelineSpec) -> list[str]:
    problems: list[str] = []
    producers = _producers(spec)
    for ref, steps in producers.items():
        # The SDK remembers the last step constructed with an output as its producer and then
        # refuses the output on every other step.
        owner = steps[-1]
        for other in steps[:-1]:
            problems.append(
                f"Step output {ref.name} can not be used as an output for step {other.name}, as "
                f"it is already an output of step {owner.name}."
            )
    names = {s.name for s in spec.steps}
    for step in spec.steps:
        for ref in _refs(step.inputs):
            if ref not in producers:
                problems.append(
                    f"Input {ref.name} on step {step.name} is not connected to any previous step"
                )
        for earlier in step.run_after:
            if earlier not in names:
                listed = ", ".join(repr(n) for n in sorted(names))
                problems.append(
                    f"step {step.name!r} runs after {earlier!r}, which names no step of pipeline "
                    f"{spec.name!r} (its steps: {listed})"
                )
    cycle = _find_cycle(spec, producers)
    if cycle is not None:
        problems.append(f"Cycle detected including node {cycle}")
    return problems


def _upstream(
    step: Step, producers: Mapping[DataReference, list[Step]], spec: PipelineSpec
) -> list[int]:
    """Identities (`id()`) of the steps whose outputs this step reads, and of those it runs
    after. Steps are compared by identity, not equality: two identical Step values in one spec
    are still two nodes."""
    readers = [id(p) for ref in _refs(step.inputs) for p in producers.get(ref, [])]
    return readers + [id(s) for s in spec.steps if s.name in step.run_after]


def _refs(refs: tuple[Any, ...]) -> list[DataReference]:
    """Each data reference once, skipping entries of the wrong type (reported elsewhere)."""
    return [r for r in dict.fromkeys(refs) if isinstance(r, DataReference)]


def _find_cycle(spec: PipelineSpec, producers: Mapping[DataReference, list[Step]]) -> str | None:
    """The SDK's depth-first search (white/gray/black) over input edges; the name of a step on
    the first cycle found, or None."""
    by_id = {id(step): step for step in spec.steps}
    color: dict[int, int] = dict.fromkeys(by_id, 0)  # 0 white, 1 gray, 2 black

    def visit(node: int) -> str | None:
        # An explicit stack instead of recursion: a long chain of steps must not hit the
        # recursion limit.
        stack: list[tuple[int, list[int]]] = [(node, _upstream(by_id[node], producers, spec))]
        color[node] = 1
        while stack:
            current, pending = stack[-1]
            if not pending:
                color[current] = 2
                stack.pop()
                continue
            neighbour = pending.pop()
            if color[neighbour] == 1:
                return by_id[current].name
            if color[neighbour] == 0:
                color[neighbour] = 1
                stack.append((neighbour, _upstream(by_id[neighbour], producers, spec)))
        return None

    for node in by_id:
        if color[node] == 0:
            found = visit(node)
            if found is not None:
                return found
    return None


def topological_order(spec: PipelineSpec) -> list[Step]:
    """The steps in an order where every producer runs before its consumers.

    Among steps that are ready at the same time the declared order wins, so a spec that is
    already in order runs as written and the order is the same on every run. Raises InputError
    on a cycle; inputs with no producer are ignored here (`validate` reports them).
    """
    producers = _producers(spec)
    waiting = {id(step): set(_upstream(step, producers, spec)) - {id(step)} for step in spec.steps}
    self_loops = [s.name for s in spec.steps if id(s) in _upstream(s, producers, spec)]
    order: list[Step] = []
    done: set[int] = set()
    while len(order) < len(spec.steps):
        ready = [s for s in spec.steps if id(s) not in done and waiting[id(s)] <= done]
        if not ready or self_loops:
            stuck = self_loops or [s.name for s in spec.steps if id(s) not in done]
            raise InputError(
                f"pipeline {spec.name!r} has a cycle: steps {', '.join(stuck)} wait on each "
                "other (their outputs, or run_after)",
                field="pipeline",
                value=spec.name,
            )
        step = ready[0]
        order.append(step)
        done.add(id(step))
    return order


def resolve_arguments(
    step: Step,
    data_paths: Mapping[str, str | os.PathLike[str]],
    params: Mapping[str, str] | None = None,
) -> list[str]:
    """The step's argv, as Azure ML builds it: literal strings as they are, each data reference
    or datastore input replaced by its path, a dataset input by its path (download, mount) or
    saved dataset id (direct), each pipeline parameter by its value for this run (or its
    default). The declared order is kept exactly, as the runner keeps it (the spec's plan,
    `champion.pipeline._spec_plan`, turns the same arguments into ports and parameters).

    `data_paths` maps input and output names to what replaces them; `params` maps parameter
    names to values. A name with no entry is an InputError (the runner must resolve each one).
    """
    values = params or {}
    argv: list[str] = []
    for arg in step.arguments:
        if isinstance(arg, DataReference | DatastoreInput | DatasetInput):
            if arg.name not in data_paths:
                raise InputError(
                    f"step {step.name!r}: no folder for data reference {arg.name!r}",
                    field="data_paths",
                    value=arg.name,
                )
            argv.append(os.fspath(data_paths[arg.name]))
        elif isinstance(arg, PipelineParameter):
            argv.append(values.get(arg.name, arg.default_text))
        else:
            argv.append(arg)
    return argv
