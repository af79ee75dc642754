"""The challenger: its metric read from the run tree and parsed once, into the value decided on.

Why once: the value the decision compares, the string the record and the version's properties
store, and the source an error names must be the same number. So the tag's text is parsed here
(`parse_metric`: strict, exact) and carried as `Challenger.value` with its stored form
`Challenger.text`; nothing downstream parses it again.

Where the metric comes from: the pipeline run's tags, else the tags of the step run named
`--training-step-name`, else (on a backend that lists them with the run: MLflow) the logged
metrics of the same runs. Two sources that disagree are a conflict, never a guess.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from champion._retry import remote
from champion.decision import Policy
from champion.errors import ConflictError, MetricError
from champion.metrics import format_metric, parse_metric
from champion.names import MODEL_TYPE_TAGS
from champion.registry import ParentRun, StepRun

__all__ = ["Challenger", "given_challenger", "read_challenger"]


@dataclass(frozen=True)
class Challenger:
    """The challenger's metric as decided on (`value`) and as stored (`text`, the shortest
    round-trip form), where it was read (`source`) and the model type its run names."""

    value: float
    text: str
    source: str
    model_type: str | None


def given_challenger(raw: str, policy: Policy, model_type: str | None) -> Challenger:
    """A challenger whose metric the caller gives (`champion register --metric-value`)."""
    source = f"--metric-value for {policy.metric!r}"
    value = parse_metric(raw, source=source, name=policy.metric, valid_range=policy.valid_range)
    return Challenger(value, format_metric(value), source, model_type)


def read_challenger(
    parent: ParentRun, policy: Policy, training_step_name: str | None
) -> Challenger:
    """The metric from the pipeline run's tags, else from the training step run's tags.

    Two sources that disagree, or two step runs of that name that both carry the metric, are a
    conflict: guessing which one is right could promote the wrong model."""
    metric = policy.metric
    parent_tags = parent.tags
    steps, names_seen = _step_runs(parent, training_step_name)
    sources = _tag_sources(parent, parent_tags, steps, metric, training_step_name)
    if not sources:
        sources = _metric_sources(parent, steps, metric, training_step_name)
    if not sources:
        where = f" or on its step {training_step_name!r}" if training_step_name else ""
        if training_step_name and not steps:
            seen = ", ".join(repr(name) for name in names_seen) or "none"
            where += f" (no step run has that name; step runs seen: {seen})"
        raise MetricError(
            f"no {metric!r} tag on pipeline run {parent.id}{where}; the training step must tag "
            f"the run with {metric}=<value>",
            field=metric,
            value=None,
        )
    values = [
        (source, parse_metric(raw, source=source, name=metric, valid_range=policy.valid_range))
        for source, raw in sources
    ]
    if len({value for _, value in values}) > 1 or (
        len(steps) > 1 and sum(metric in step.tags for step in steps) > 1
    ):
        listing = "; ".join(f"{source} = {format_metric(value)}" for source, value in values)
        raise ConflictError(
            f"the challenger's {metric!r} is ambiguous: {listing}. Make exactly "
            "one training step tag it, or make the tags agree",
            field=metric,
            value=listing,
        )
    model_type = next(
        (
            str(tags[key])
            for tags in [parent_tags, *(step.tags for step in steps)]
            for key in MODEL_TYPE_TAGS
            if tags.get(key)
        ),
        None,
    )
    source, value = values[0]
    return Challenger(value, format_metric(value), source, model_type)


def _tag_sources(
    parent: ParentRun,
    parent_tags: Mapping[str, str | None],
    steps: Sequence[StepRun],
    metric: str,
    step_name: str | None,
) -> list[tuple[str, object]]:
    sources: list[tuple[str, object]] = []
    if metric in parent_tags:
        sources.append((f"pipeline run {parent.id} tag {metric!r}", parent_tags[metric]))
    sources += [
        (f"step run {step.id} ({step_name}) tag {metric!r}", step.tags[metric])
        for step in steps
        if metric in step.tags
    ]
    return sources


def _metric_sources(
    parent: ParentRun, steps: Sequence[StepRun], metric: str, step_name: str | None
) -> list[tuple[str, object]]:
    """Logged metrics, where the backend lists them with the runs (empty on Azure ML)."""
    sources: list[tuple[str, object]] = []
    if metric in parent.metrics:
        sources.append((f"pipeline run {parent.id} metric {metric!r}", parent.metrics[metric]))
    sources += [
        (f"step run {step.id} ({step_name}) metric {metric!r}", step.metrics[metric])
        for step in steps
        if metric in step.metrics
    ]
    return sources


def _step_runs(parent: ParentRun, step_name: str | None) -> tuple[list[StepRun], list[str]]:
    """Each step run called `step_name`, and every step run's name seen.

    A step run is called `step_name` when its name is exactly that (what a pipeline names its
    step runs) or ends in `>step_name`: the SDK chains `child_run(name=...)` names as
    `"<parent name>>name"`, so a training run made by hand is found by the name it was given."""
    if not step_name:
        return [], []
    children = remote("listing the pipeline's step runs", parent.step_runs)
    found = [c for c in children if step_name in (c.name, c.name.rpartition(">")[2])]
    return found, sorted({c.name for c in children})
