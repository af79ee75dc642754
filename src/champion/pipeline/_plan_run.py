"""Run a plan's steps in order against one pipeline run, and say how the pipeline ended.

Why apart from `champion.pipeline.local`: two callers run plans. `run_pipeline` compiles a
`PipelineSpec` and creates the pipeline run; the runner of a submitted graph
(`champion.pipeline.submitted`) gets a plan and a pipeline run from the local pipelines
service. The order, the stops (a failing step, a canceled pipeline) and the pipeline run's
final status are the same for both, so they are here, once.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

from champion.errors import InputError
from champion.local.access import store_of
from champion.local.plan import Plan, PlanStep
from champion.local.run import Run
from champion.local.workspace import Workspace
from champion.pipeline._local_runs import PipelineResult, StepResult
from champion.pipeline._local_step import StepSettings, run_plan_step
from champion.pipeline._step_data import DatasetMaker, StepData

__all__ = ["plan_order", "run_plan"]


def run_plan(
    plan: Plan,
    ws: Workspace,
    *,
    parent_id: str,
    console: IO[str] | None,
    step_timeout: float | None = None,
    make_datasets: Callable[[Path], DatasetMaker] | None = None,
) -> PipelineResult:
    """Run every step of `plan` in order as children of the pipeline run `parent_id` (which
    exists), then set that run's final status; return how it ended.

    A step that fails, or runs past its timeout, stops the pipeline (later steps get no run) and
    fails the pipeline run. A pipeline canceled from anywhere (`PipelineRun.cancel()`, a step's
    `run.parent.cancel()`) stops its running step and starts no other. Anything that interrupts
    the runner itself is re-raised after the runs are marked (Ctrl-C: Canceled), so no run stays
    Running."""
    store = store_of(ws)
    parent = Run.get(ws, parent_id)
    order = plan_order(plan)
    data = StepData(store, ws, parent_id)
    if make_datasets is not None:
        data.make_datasets = make_datasets
    settings = StepSettings(console=console, step_timeout=step_timeout)
    results: list[StepResult] = []
    canceled_between = False
    try:
        if parent.get_status() == "NotStarted":
            parent.start()
        for step in order:
            if data.canceled():
                canceled_between = True
                break
            result = run_plan_step(plan, step, data, settings)
            results.append(result)
            if not result.succeeded:
                break
    except KeyboardInterrupt:
        parent.cancel()
        raise
    except BaseException as exc:
        parent.fail(error_details=f"the local runner failed: {exc!r}", error_code="SystemError")
        raise
    finally:
        data.close()

    outcome = PipelineResult(
        run_id=parent_id,
        experiment=plan.experiment,
        workspace=ws.path,
        steps=tuple(results),
        skipped=tuple(step.name for step in order[len(results) :]),
        decision=_decision(parent),
        canceled=canceled_between,
    )
    failed = outcome.failed_step
    if outcome.status == "Canceled" or data.canceled():
        if not data.canceled():
            parent.cancel()
    elif failed is None:
        parent.complete()
    elif failed.timed_out:
        parent.fail(
            error_details=f"step {failed.name!r} ran longer than its timeout of "
            f"{failed.timeout:g} s and was ended",
            error_code="StepTimeout",
        )
    else:
        parent.fail(
            error_details=f"step {failed.name!r} failed with exit code {failed.exit_code}",
            error_code="UserError",
        )
    return outcome


def plan_order(plan: Plan) -> list[PlanStep]:
    """The steps in an order where every step runs after those it waits for; among steps that
    are ready together the declared order wins, so the order is the same on every run. A cycle,
    or a wait on a step the plan does not have, is an InputError."""
    nodes = {step.node_id for step in plan.steps}
    for step in plan.steps:
        unknown = [node for node in step.upstream if node not in nodes]
        if unknown:
            raise InputError(
                f"step {step.name!r} waits for {', '.join(map(repr, unknown))}, which the "
                f"pipeline {plan.experiment!r} does not have",
                field="pipeline",
                value=unknown,
            )
    order: list[PlanStep] = []
    done: set[str] = set()
    while len(order) < len(plan.steps):
        ready = [
            s
            for s in plan.steps
            if s.node_id not in done and s.node_id not in s.upstream and set(s.upstream) <= done
        ]
        if not ready:
            stuck = [s.name for s in plan.steps if s.node_id not in done]
            raise InputError(
                f"pipeline {plan.experiment!r} has a cycle: steps {', '.join(stuck)} wait on "
                "each other",
                field="pipeline",
                value=plan.experiment,
            )
        order.append(ready[0])
        done.add(ready[0].node_id)
    return order


def _decision(parent: Run) -> dict[str, Any] | None:
    """The newest decision record on the pipeline run. A record that cannot be read must not
    hide how the steps ended, so that is reported and None returned."""
    from champion.record import read_record

    try:
        return read_record(parent)
    except Exception as exc:
        sys.stderr.write(f"warning: could not read the decision record of run {parent.id}: {exc}\n")
        return None
