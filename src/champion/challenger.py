"""The challenger: its metrics and test-data identity read from the run tree and parsed once.

Why once: the value the decision compares, the string the record and the version's properties
store, and the source an error names must be the same number. So each tag's text is parsed here
(`parse_metric`: strict, exact) and carried as `Challenger.values` with its stored form
`Challenger.texts`; nothing downstream parses it again.

Where each metric comes from: the metrics file the step was given (`--metrics-file`, a v2
pipeline's usual hand-off: `champion._metrics_file`), the pipeline run's tags, the tags of the
step run named `--training-step-name`, else (on a backend that lists them with the run: MLflow,
Azure ML v2) the logged metrics of the same runs. Two sources that disagree are a conflict,
never a guess. The test-data identity (`champion.test_data_sha256`, `champion.test_data`) and
the model type are read from the same file and tags, by the same rule.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from champion._metrics_file import MetricsFile, read_metrics_file
from champion._retry import remote
from champion.decision import MetricRule, Policy
from champion.errors import ConflictError, InputError, MetricError
from champion.metrics import format_metric, parse_metric
from champion.names import MODEL_TYPE_TAGS, TEST_DATA, TEST_DATA_SHA256
from champion.registry import ParentRun, StepRun
from champion.testdata import DataIdentity

__all__ = ["Challenger", "given_challenger", "read_challenger"]

_SHA256 = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class Challenger:
    """The challenger's metrics as decided on (`values`, by name, the policy's order) and as
    stored (`texts`, the shortest round-trip form), where each was read (`sources`), the model
    type its run names and the test data it was measured on."""

    values: Mapping[str, float]
    texts: Mapping[str, str]
    sources: Mapping[str, str]
    model_type: str | None
    test_data: DataIdentity = field(default_factory=DataIdentity)

    @property
    def primary(self) -> str:
        return next(iter(self.values))

    @property
    def value(self) -> float:
        """The primary metric's value."""
        return self.values[self.primary]

    @property
    def text(self) -> str:
        return self.texts[self.primary]

    @property
    def source(self) -> str:
        return self.sources[self.primary]


def given_challenger(
    raw: str | Mapping[str, str],
    policy: Policy,
    model_type: str | None,
    test_data: DataIdentity | None = None,
) -> Challenger:
    """A challenger whose metrics the caller gives (`champion register --metric-value`): one
    text for a one-metric policy, else one per metric by name."""
    given = {policy.metric: raw} if isinstance(raw, str) else dict(raw)
    if isinstance(raw, str) and len(policy.rules) > 1:
        raise MetricError(
            f"--metric-value {raw!r} is one value, but the policy compares "
            f"{', '.join(policy.metrics)}; give each as --metric-value NAME=VALUE",
            field="--metric-value",
            value=raw,
        )
    unknown = sorted(set(given) - set(policy.metrics))
    if unknown:
        raise MetricError(
            f"--metric-value names {', '.join(unknown)}, which the policy does not compare "
            f"({', '.join(policy.metrics)})",
            field="--metric-value",
            value=unknown[0],
        )
    values, sources = {}, {}
    for rule in policy.rules:
        source = f"--metric-value for {rule.name!r}"
        if rule.name not in given:
            raise MetricError(
                f"no --metric-value for {rule.name!r}; give --metric-value {rule.name}=VALUE",
                field=rule.name,
                value=None,
            )
        values[rule.name] = _parse(given[rule.name], source, rule)
        sources[rule.name] = source
    return _challenger(values, sources, model_type, test_data or DataIdentity())


def read_challenger(
    parent: ParentRun,
    policy: Policy,
    training_step_name: str | None,
    metrics_file: Path | None = None,
) -> Challenger:
    """Every metric of the policy from the metrics file, the pipeline run's tags or the
    training step run's tags (else their logged metrics); and the test data they were measured
    on, from the same file and tags.

    Two sources that disagree, or two step runs of that name that both carry a metric, are a
    conflict: guessing which one is right could promote the wrong model."""
    given = read_metrics_file(metrics_file) if metrics_file is not None else None
    parent_tags = parent.tags
    steps, names_seen = _step_runs(parent, training_step_name)
    values, sources = {}, {}
    for rule in policy.rules:
        source, value = _read_metric(
            parent, parent_tags, steps, names_seen, rule, training_step_name, given
        )
        values[rule.name], sources[rule.name] = value, source
    on_file: Mapping[str, object] = given.values if given else {}
    model_type = next(
        (
            str(tags[key])
            for tags in [on_file, parent_tags, *(step.tags for step in steps)]
            for key in MODEL_TYPE_TAGS
            if isinstance(tags.get(key), str) and tags.get(key)
        ),
        None,
    )
    identity = DataIdentity(
        _read_identity(parent, parent_tags, steps, TEST_DATA_SHA256, training_step_name, given),
        _read_identity(parent, parent_tags, steps, TEST_DATA, training_step_name, given),
    )
    return _challenger(values, sources, model_type, identity)


def _challenger(
    values: dict[str, float],
    sources: dict[str, str],
    model_type: str | None,
    test_data: DataIdentity,
) -> Challenger:
    texts = {name: format_metric(value) for name, value in values.items()}
    return Challenger(values, texts, sources, model_type, test_data)


def _parse(raw: object, source: str, rule: MetricRule) -> float:
    return parse_metric(raw, source=source, name=rule.name, valid_range=rule.valid_range)


def _read_metric(
    parent: ParentRun,
    parent_tags: Mapping[str, str | None],
    steps: Sequence[StepRun],
    names_seen: Sequence[str],
    rule: MetricRule,
    training_step_name: str | None,
    given: MetricsFile | None = None,
) -> tuple[str, float]:
    metric = rule.name
    sources = _tag_sources(parent, parent_tags, steps, metric, training_step_name, given)
    if len(sources) == len(_file_sources(given, metric)):  # no tag: the logged metrics count
        sources += _metric_sources(parent, steps, metric, training_step_name)
    if not sources and given is not None:
        keys = ", ".join(sorted(given.values)) or "none"
        raise MetricError(
            f"no {metric!r} in metrics file {given.path} (its keys: {keys}), nor on pipeline "
            f"run {parent.id} or its step {training_step_name!r}; the training step must write "
            f"{metric} to the file",
            field=metric,
            value=None,
        )
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
    values = [(source, _parse(raw, source, rule)) for source, raw in sources]
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
    return values[0]


def _read_identity(
    parent: ParentRun,
    parent_tags: Mapping[str, str | None],
    steps: Sequence[StepRun],
    key: str,
    training_step_name: str | None,
    given: MetricsFile | None = None,
) -> str | None:
    """One test-data tag: the same on every run (and in the metrics file) that has it, else a
    conflict."""
    found = _tag_sources(parent, parent_tags, steps, key, training_step_name, given)
    values = {str(raw).strip() for _, raw in found if raw is not None and str(raw).strip()}
    if len(values) > 1:
        listing = "; ".join(f"{source} = {raw!r}" for source, raw in found)
        raise ConflictError(
            f"the challenger's test data is ambiguous: {listing}. Tag the runs with one {key}",
            field=key,
            value=listing,
        )
    value = values.pop() if values else None
    if key == TEST_DATA_SHA256 and value is not None and not _SHA256.fullmatch(value):
        source = found[0][0]
        raise InputError(
            f"{source} is {value!r}, not a sha256 (64 lowercase hex digits); tag the digest "
            "of the test data (champion.testdata.files_digest computes it)",
            field=key,
            value=value,
        )
    return value


def _tag_sources(
    parent: ParentRun,
    parent_tags: Mapping[str, str | None],
    steps: Sequence[StepRun],
    metric: str,
    step_name: str | None,
    given: MetricsFile | None = None,
) -> list[tuple[str, object]]:
    sources = _file_sources(given, metric)
    if metric in parent_tags:
        sources.append((f"pipeline run {parent.id} tag {metric!r}", parent_tags[metric]))
    sources += [
        (f"step run {step.id} ({step_name}) tag {metric!r}", step.tags[metric])
        for step in steps
        if metric in step.tags
    ]
    return sources


def _file_sources(given: MetricsFile | None, key: str) -> list[tuple[str, object]]:
    """The metrics file's value for `key`, first among the sources, when it has one."""
    if given is None or key not in given.values:
        return []
    return [(given.source(key), given.values[key])]


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
