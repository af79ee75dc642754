"""The pipeline trap: a step with `allow_reuse=True` that is, or feeds, a register step."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any, Protocol

from champion.local._traps.warning import _warn

# --------------------------------------------------------------------------- pipeline specs


class _StepLike(Protocol):
    """`champion.pipeline.spec.Step`, read-only (local/ does not import pipeline/)."""

    @property
    def name(self) -> str: ...

    @property
    def script(self) -> str: ...

    @property
    def allow_reuse(self) -> bool: ...

    @property
    def inputs(self) -> tuple[Any, ...]: ...

    @property
    def outputs(self) -> tuple[Any, ...]: ...


class _SpecLike(Protocol):
    @property
    def steps(self) -> tuple[_StepLike, ...]: ...


def is_register_step(step: _StepLike) -> bool:
    """A step that registers models: its name or its script's name says "register"."""
    script = os.path.splitext(os.path.basename(str(step.script)))[0]
    return "register" in str(step.name).lower() or "register" in script.lower()


def check_pipeline_spec(spec: _SpecLike) -> None:
    """A step with allow_reuse=True that is a register step or feeds one (through its outputs).

    Azure ML reuses such a step's earlier run when its script, arguments and inputs are
    unchanged: it does not run. The local runner runs every step, so only a warning shows it."""
    producers: dict[Any, list[_StepLike]] = {}
    for step in spec.steps:
        for ref in step.outputs:
            producers.setdefault(ref, []).append(step)
    for register in (s for s in spec.steps if is_register_step(s)):
        if register.allow_reuse:
            _warn(
                "reused-step",
                f"step {register.name!r} ({register.script}) has allow_reuse=True: when its "
                "script, arguments and inputs are unchanged, Azure ML does not run it but "
                "reuses its earlier run, so nothing is compared or registered and the pipeline "
                "run still completes. The local runner runs every step. Pass "
                "Step(..., allow_reuse=False).",
                whole_package=True,
            )
        for feeder in _upstream(register, producers):
            if feeder.allow_reuse:
                _warn(
                    "reused-step",
                    f"step {feeder.name!r} ({feeder.script}) feeds register step "
                    f"{register.name!r} and has allow_reuse=True: when its script, arguments "
                    "and inputs are unchanged, Azure ML does not run it, so what it would set "
                    "on the new pipeline run (tags such as the metric, logs) is missing and "
                    f"{register.name!r} reads the earlier run's outputs. The local runner runs "
                    "every step. Pass Step(..., allow_reuse=False).",
                    whole_package=True,
                )


def _upstream(step: _StepLike, producers: Mapping[Any, list[_StepLike]]) -> list[_StepLike]:
    """Every step whose outputs reach `step`, nearest first, each once (by identity)."""
    found: list[_StepLike] = []
    seen = {id(step)}
    pending = [step]
    while pending:
        current = pending.pop(0)
        for ref in current.inputs:
            for producer in producers.get(ref, []):
                if id(producer) not in seen:
                    seen.add(id(producer))
                    found.append(producer)
                    pending.append(producer)
    return found


# --------------------------------------------------------------------------- submitted graphs


class _PlanStepView:
    """A step of a plan (`champion.local.plan`), seen as the trap reads a spec's step: its
    outputs as (node, port) keys, its inputs as the keys of the outputs they read."""

    def __init__(self, step: Any) -> None:
        self.name = step.name
        self.script = step.script
        self.allow_reuse = step.allow_reuse
        self.inputs = tuple(i.producer for i in step.inputs if i.producer is not None)
        self.outputs = tuple((step.node_id, o.name) for o in step.outputs)


class _PlanView:
    def __init__(self, plan: Any) -> None:
        self.steps = tuple(_PlanStepView(step) for step in plan.steps)


def check_plan(plan: Any) -> None:
    """`check_pipeline_spec` for a graph submitted through the SDK (`Experiment.submit`,
    `PublishedPipeline.submit`, ...), once compiled to a plan: same trap, same warning."""
    check_pipeline_spec(_PlanView(plan))
