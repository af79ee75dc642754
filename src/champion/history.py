"""A model's history: every decision on it, and every version, in one timeline.

Why a module of its own: "why was build 412's model not promoted?" is answered by the decision
records (`Registry.decisions`), which hold the rejections the registry never saw; but a version
registered without the gate (by hand, or by champion 0.1.0's `champion register`, which left no
record) is history too. This module joins the two, once, for the CLI's table and for the plot,
over the `Registry` Protocol only (any backend).

What the champion was at each moment follows from the lines: a line whose outcome makes its
challenger the champion (`first`, `promoted`, a rollback's `rolled_back`, a version without a
record) sets it; every other line (`rejected`, a dry run's `would_*`, a retry's
`already_registered`) leaves it.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from champion import names
from champion.registry import DecisionEntry, ModelVersion, Registry
from champion.registry._decisions import primary_metric, recorded_value, sort_entries

__all__ = [
    "CHAMPION_MAKING",
    "DRY_RUNS",
    "History",
    "PolicyTerms",
    "model_history",
    "policy_terms",
]

CHAMPION_MAKING = frozenset({"first", "promoted", "rolled_back", "race_repaired", "registered"})
"""Outcomes whose challenger became the champion (`registered`: a version without a record;
`race_repaired`: the best of racing decisions registered again on top of them)."""
DRY_RUNS = frozenset({"would_promote", "would_reject"})
"""Outcomes of a dry run: decided and recorded, nothing registered."""
NO_RECORD = "registered"
"""The outcome shown for a version with neither a record nor a stored outcome."""


@dataclass(frozen=True)
class PolicyTerms:
    """What a policy says about one metric, for drawing it: `floor`, `min_delta` and
    `min_relative` as floats (None when the policy has none), and the direction."""

    direction: str
    min_delta: float | None
    floor: float | None
    min_relative: float | None = None

    def margin(self, champion: float) -> float:
        """How far past `champion` a challenger must get: the larger of the absolute and the
        relative margin (both must hold; the bound itself is excluded for `min_delta`)."""
        relative = (self.min_relative or 0.0) * abs(champion)
        return max(self.min_delta or 0.0, relative)


@dataclass(frozen=True)
class History:
    """Every line of one model's history, oldest first, and its live versions."""

    name: str
    entries: Sequence[DecisionEntry]
    versions: Sequence[ModelVersion]

    @property
    def champion(self) -> ModelVersion | None:
        """The latest live version: the champion on Azure ML and the local workspace."""
        return self.versions[-1] if self.versions else None

    def registered_at(self, version: int | None) -> datetime | None:
        """When `version` was registered, while it is live."""
        for live in self.versions:
            if live.version == version:
                return live.created
        return None

    def values(self, entry: DecisionEntry, metric: str | None = None) -> tuple[str | None, ...]:
        """(challenger, champion) of `metric` (default: the line's own metric) as stored."""
        if metric is None or metric == entry.metric:
            return entry.challenger, entry.champion
        if entry.record:
            return (
                recorded_value(entry.record, "challenger", metric),
                recorded_value(entry.record, "champion", metric),
            )
        for live in self.versions:  # a version without a record: its own properties
            if live.version == entry.registered_version:
                return live.properties.get(metric), None
        return None, None


def model_history(registry: Registry, name: str, default_metric: str = "accuracy") -> History:
    """Every decision on `name` and every live version without a record of it, oldest first.
    `default_metric` is shown for a version that stores no policy (registered by hand)."""
    decided = list(registry.decisions(name))
    versions = registry.versions(name)
    recorded = {e.registered_version for e in decided if e.registered_version is not None}
    unrecorded = [_line_of(v, default_metric) for v in versions if v.version not in recorded]
    return History(name, sort_entries([*decided, *unrecorded]), versions)


def policy_terms(policy: Mapping[str, Any], metric: str) -> PolicyTerms:
    """The floor, margin and direction `policy` sets for `metric`: its own terms in a policy of
    several metrics (`metrics`: a list of objects), the policy's in a single-metric one."""
    terms: Mapping[str, Any] = {}
    listed = policy.get("metrics")
    if isinstance(listed, list):
        for item in listed:
            if isinstance(item, Mapping) and (item.get("metric") or item.get("name")) == metric:
                terms = item
    elif policy.get("metric") == metric:
        terms = policy
    direction = str(terms.get("direction") or "higher")
    return PolicyTerms(
        direction,
        _number(terms.get("min_delta")),
        _number(terms.get("floor")),
        _number(terms.get("min_relative")),
    )


def _line_of(version: ModelVersion, default_metric: str) -> DecisionEntry:
    """A version registered without a record, as a line made from its stored metadata."""
    props = version.properties
    policy = _json_object(props.get(names.POLICY))
    metric = primary_metric({"policy": policy}) if policy else default_metric
    previous = props.get(names.PREVIOUS_VERSION)
    return DecisionEntry(
        time=version.created,
        run_id=version.run_id or props.get(names.PARENT_RUN_ID),
        outcome=props.get(names.OUTCOME) or NO_RECORD,
        metric=metric,
        challenger=props.get(metric),
        champion=props.get(names.PREVIOUS_METRIC),
        champion_version=int(previous) if previous and previous.isdigit() else None,
        registered_version=version.version,
        build_number=props.get(names.BUILD_NUMBER),
        reason=props.get(names.REASON)
        or "no decision record: registered without the gate, or before champion recorded one",
        policy=policy,
        record={},
        record_name=None,
    )


def _json_object(text: str | None) -> dict[str, Any]:
    if not text:
        return {}
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        return {}
    return value if isinstance(value, dict) else {}


def _number(value: object) -> float | None:
    """A stored number (an exact string, as policies record them) as a float, for drawing."""
    if value is None or isinstance(value, bool):
        return None
    try:
        number = float(str(value))
    except ValueError:
        return None
    return number if math.isfinite(number) else None
