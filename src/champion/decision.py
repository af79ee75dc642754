"""The champion/challenger decision, kept pure so every rule is testable without a workspace.

Rules (see "The decision" in the design notes), for each metric of the policy; the challenger
wins only when EVERY metric passes, and the record says which metric decided (the first that
failed, in the policy's order; the primary when all pass):

* No champion: the challenger becomes the first version if it reaches the floor (if any).
* With a champion: it is replaced only if the challenger improves on it by MORE than
  ``min_delta``, by at least ``min_relative`` of the champion's magnitude (MLflow's relative
  change: ``challenger >= champion * (1 + r)`` for a positive champion when higher is better;
  a champion of 0 needs a strict improvement), and reaches the floor. A tie keeps the champion,
  like the original ``>``.
* A champion version without a metric fails closed (UnscoredChampionError) unless the policy
  explicitly allows it; then only the floor applies and the reason says so.
* Non-finite or out-of-range values raise MetricError: NaN compares false with everything and
  would otherwise slip through as a "loss" or, with the wrong ``not``, as a win.

Arithmetic: the improvement is compared EXACTLY on the decimal values the metrics are stored as
(``format_metric``, the shortest round-trip string), using ``fractions.Fraction``. Floats would
let rounding decide: ``0.8 - 0.6 > 0.2`` is True in binary floating point while
``0.8 > 0.6 + 0.2`` is False, yet a person reading the tags sees a tie. Exact decimal arithmetic
makes ``challenger - champion > min_delta`` and ``challenger > champion + min_delta`` the same
test, and makes the result what the recorded strings say. And the recorded strings are what
the tags say: ``parse_metric`` refuses any text whose float would be a different number. Floor
checks need no arithmetic, so plain float comparison is already exact.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from fractions import Fraction

from champion.errors import InputError, MetricError, UnscoredChampionError
from champion.metrics import format_metric, parse_metric
from champion.policy import Direction, MetricRule, Policy

__all__ = ["Decision", "Direction", "MetricComparison", "MetricRule", "Outcome", "Policy", "decide"]


class Outcome(StrEnum):
    """What happened to the challenger; the values are stable strings for tags and JSON.

    `would_promote` / `would_reject` are a dry run's verdicts (nothing registered);
    `rolled_back` is an earlier version made the champion again by hand; `race_repaired` is
    the best of racing decisions made the champion again after another gate's registration
    landed on top of it (`champion.registry._race`)."""

    FIRST = "first"
    PROMOTED = "promoted"
    REJECTED = "rejected"
    ALREADY_REGISTERED = "already_registered"
    WOULD_PROMOTE = "would_promote"
    WOULD_REJECT = "would_reject"
    ROLLED_BACK = "rolled_back"
    RACE_REPAIRED = "race_repaired"


DRY_RUN_OUTCOMES = frozenset({Outcome.WOULD_PROMOTE, Outcome.WOULD_REJECT})


@dataclass(frozen=True)
class MetricComparison:
    """One metric's verdict: both values, whether it passed, the exact formula and why."""

    metric: str
    direction: Direction
    challenger: float
    champion: float | None
    passed: bool
    comparison: str
    reason: str

    def to_dict(self) -> dict[str, object]:
        return {
            "metric": self.metric,
            "direction": self.direction,
            "challenger": format_metric(self.challenger),
            "champion": None if self.champion is None else format_metric(self.champion),
            "passed": self.passed,
            "comparison": self.comparison,
            "reason": self.reason,
        }


@dataclass(frozen=True)
class Decision:
    """The verdict plus everything needed to explain it later from the record alone.

    `challenger` and `champion` are the primary metric's values; `comparisons` holds every
    metric's, in the policy's order, and `decided_by` names the metric that decided."""

    outcome: Outcome
    challenger: float
    champion: float | None
    champion_version: int | None
    policy: Policy
    comparison: str
    reason: str
    comparisons: tuple[MetricComparison, ...] = field(default=())
    decided_by: str | None = None

    @property
    def promote(self) -> bool:
        """Whether the caller should register the challenger now (a retry registers nothing)."""
        return self.outcome in (Outcome.FIRST, Outcome.PROMOTED)

    @property
    def dry_run(self) -> bool:
        return self.outcome in DRY_RUN_OUTCOMES

    def as_dry_run(self) -> Decision:
        """The same verdict, told and recorded as what would happen: nothing is registered."""
        if self.dry_run:
            return self
        outcome = Outcome.WOULD_PROMOTE if self.promote else Outcome.WOULD_REJECT
        return replace(self, outcome=outcome, reason=f"dry run, nothing registered: {self.reason}")

    def to_dict(self) -> dict[str, object]:
        """JSON-ready; metric values are exact strings so no reader re-rounds them."""
        return {
            "outcome": self.outcome.value,
            "promote": self.promote,
            "dry_run": self.dry_run,
            "metric": self.policy.metric,
            "challenger": format_metric(self.challenger),
            "champion": None if self.champion is None else format_metric(self.champion),
            "champion_version": self.champion_version,
            "comparison": self.comparison,
            "reason": self.reason,
            "policy": self.policy.to_dict(),
            "decided_by": self.decided_by,
            "metrics": [c.to_dict() for c in self.comparisons],
        }


Values = Mapping[str, float]
ChampionValues = Mapping[str, float | None]


def decide(
    challenger: float | Values,
    champion: float | ChampionValues | None,
    policy: Policy,
    *,
    champion_version: int | None = None,
) -> Decision:
    """Decide whether ``challenger`` should be registered; ``champion`` None means none to beat.

    A float is the primary metric's value (a one-metric policy); a mapping gives each metric's
    value by name (extra names are ignored, a missing one is a MetricError). A champion
    mapping may hold None for a metric the champion has no value of. ``champion=None`` with a
    ``champion_version`` means that version exists but has no usable metric at all. A missing
    champion value is allowed only when ``policy.allow_unscored_champion`` (then only the floor
    applies to that metric), else UnscoredChampionError.
    """
    _check_version(champion_version)
    ours = _values(challenger, "challenger", policy)
    theirs = _champion_values(champion, policy)
    unscored = [rule.name for rule in policy.rules if theirs.get(rule.name) is None]
    if champion_version is not None and unscored and not policy.allow_unscored_champion:
        raise UnscoredChampionError(
            f"champion version {champion_version} has no usable {unscored[0]!r} value, so the "
            f"challenger cannot be compared with it. Set the {unscored[0]!r} property on that "
            "version, or allow an unscored champion explicitly (allow_unscored_champion=True).",
            field="champion_version",
            value=champion_version,
        )
    comparisons = tuple(
        _compare(rule, ours[rule.name], theirs.get(rule.name), champion_version)
        for rule in policy.rules
    )
    failed = next((c for c in comparisons if not c.passed), None)
    no_champion = champion_version is None and all(v is None for v in theirs.values())
    if failed is not None:
        outcome = Outcome.REJECTED
    else:
        outcome = Outcome.FIRST if no_champion else Outcome.PROMOTED
    primary = comparisons[0]
    if len(comparisons) == 1:
        comparison, reason = primary.comparison, primary.reason
    else:
        comparison = "; ".join(f"{c.metric}: {c.comparison}" for c in comparisons)
        reason = _several_reason(comparisons, failed, champion_version, no_champion)
    return Decision(
        outcome=outcome,
        challenger=primary.challenger,
        champion=primary.champion,
        champion_version=champion_version,
        policy=policy,
        comparison=comparison,
        reason=reason,
        comparisons=comparisons,
        decided_by=(failed or primary).metric,
    )


def _values(given: float | Values, role: str, policy: Policy) -> dict[str, float]:
    if isinstance(given, Mapping):
        missing = [name for name in policy.metrics if name not in given]
        if missing:
            raise MetricError(
                f"{role} values passed to decide() have no {missing[0]!r}; the policy compares "
                f"{', '.join(policy.metrics)}",
                field=missing[0],
                value=None,
            )
        return {rule.name: _checked_value(given[rule.name], role, rule) for rule in policy.rules}
    if len(policy.rules) > 1:
        raise MetricError(
            f"{role} passed to decide() is one number, but the policy compares "
            f"{', '.join(policy.metrics)}; pass a mapping of each metric's value",
            field=role,
            value=given,
        )
    return {policy.metric: _checked_value(given, role, policy.primary)}


def _champion_values(
    given: float | ChampionValues | None, policy: Policy
) -> dict[str, float | None]:
    if given is None:
        return {name: None for name in policy.metrics}
    if isinstance(given, Mapping):
        return {
            rule.name: None
            if given.get(rule.name) is None
            else _checked_value(given[rule.name], "champion", rule)  # type: ignore[arg-type]
            for rule in policy.rules
        }
    return {**_values(given, "champion", policy)}


def _compare(
    rule: MetricRule, challenger: float, champion: float | None, champion_version: int | None
) -> MetricComparison:
    floor_ok = _meets_floor(challenger, rule)
    if champion is None:
        comparison = _floor_formula(challenger, rule) or "no champion and no floor to compare"
        if champion_version is None:
            context = "no registered champion"
        else:
            context = (
                f"champion v{champion_version} has no {rule.name} value and the policy allows "
                "an unscored champion"
            )
        reason = f"{context}; {_floor_verdict(challenger, rule, floor_ok)}"
        return MetricComparison(
            rule.name, rule.direction, challenger, None, floor_ok, comparison, reason
        )
    improves = _improves(challenger, champion, rule)
    relative_ok = _improves_relatively(challenger, champion, rule)
    formulas = [_improvement_formula(challenger, champion, rule)]
    if rule.min_relative:
        formulas.append(_relative_formula(challenger, champion, rule))
    floor_formula = _floor_formula(challenger, rule)
    if floor_formula:
        formulas.append(floor_formula)
    passed = improves and relative_ok and floor_ok
    reason = _reason_against(
        challenger, champion, rule, champion_version, improves, relative_ok, floor_ok
    )
    return MetricComparison(
        rule.name, rule.direction, challenger, champion, passed, " and ".join(formulas), reason
    )


def _several_reason(
    comparisons: tuple[MetricComparison, ...],
    failed: MetricComparison | None,
    champion_version: int | None,
    no_champion: bool,
) -> str:
    name = "the champion" if champion_version is None else f"champion v{champion_version}"
    count = f"{len(comparisons)} metrics, all must pass"
    if failed is not None:
        # The failed metric's reason ends with the verdict (stays, a tie keeps it, not
        # registered): said once, last, after which metrics passed.
        passed = [c.metric for c in comparisons if c.passed]
        also = f"; passed: {', '.join(passed)}" if passed else ""
        return f"decided by {failed.metric} ({count}{also}): {failed.reason}"
    listing = ", ".join(c.metric for c in comparisons)
    if no_champion:
        return f"no registered champion; the challenger passes every metric ({listing})"
    return f"the challenger passes every metric ({listing}; {count}); it replaces {name}"


def _exact(value: float) -> Fraction:
    """The decimal the value is recorded as, exactly; see the module docstring for why."""
    return Fraction(format_metric(value))


def _gain(challenger: float, champion: float, rule: MetricRule) -> Fraction:
    gain = _exact(challenger) - _exact(champion)
    return -gain if rule.direction == "lower" else gain


def _improves(challenger: float, champion: float, rule: MetricRule) -> bool:
    return _gain(challenger, champion, rule) > _exact(rule.min_delta)


def _improves_relatively(challenger: float, champion: float, rule: MetricRule) -> bool:
    """MLflow's relative change, exactly: the gain must be at least r times the champion's
    magnitude; a champion of 0 has no magnitude to scale, so a strict gain is required."""
    gain = _gain(challenger, champion, rule)
    if champion == 0:
        return gain > 0
    return gain >= _exact(rule.min_relative) * abs(_exact(champion))


def _meets_floor(challenger: float, rule: MetricRule) -> bool:
    if rule.floor is None:
        return True
    if rule.direction == "higher":
        return challenger >= rule.floor
    return challenger <= rule.floor


def _improvement_formula(challenger: float, champion: float, rule: MetricRule) -> str:
    ch, cp, delta = (format_metric(v) for v in (challenger, champion, rule.min_delta))
    if rule.direction == "higher":
        return f"{ch} > {cp} + {delta}"
    return f"{ch} < {cp} - {delta}"


def _relative_formula(challenger: float, champion: float, rule: MetricRule) -> str:
    ch, cp, r = (format_metric(v) for v in (challenger, champion, rule.min_relative))
    higher = rule.direction == "higher"
    if champion == 0:
        return f"{ch} {'>' if higher else '<'} {cp} (relative to a champion of 0)"
    sign = "+" if higher else "-"
    operator = ">=" if higher else "<="
    if champion > 0:
        return f"{ch} {operator} {cp} * (1 {sign} {r})"
    return f"{ch} {operator} {cp} {sign} {r} * |{cp}|"


def _floor_formula(challenger: float, rule: MetricRule) -> str:
    if rule.floor is None:
        return ""
    operator = ">=" if rule.direction == "higher" else "<="
    return f"{format_metric(challenger)} {operator} {format_metric(rule.floor)}"


def _floor_verdict(challenger: float, rule: MetricRule, floor_ok: bool) -> str:
    subject = f"the challenger ({rule.name} {format_metric(challenger)})"
    if rule.floor is None:
        return f"{subject} is registered (no floor set)"
    floor = f"the floor {format_metric(rule.floor)} ({rule.direction} is better)"
    if floor_ok:
        return f"{subject} reaches {floor} and is registered"
    return f"{subject} does not reach {floor} and is not registered"


def _reason_against(
    challenger: float,
    champion: float,
    rule: MetricRule,
    champion_version: int | None,
    improves: bool,
    relative_ok: bool,
    floor_ok: bool,
) -> str:
    name = "the champion" if champion_version is None else f"champion v{champion_version}"
    subject = f"challenger {rule.name} {format_metric(challenger)}"
    margins = f"min_delta {format_metric(rule.min_delta)}"
    against = (
        f"{name} ({format_metric(champion)}) by more than {margins} ({rule.direction} is better)"
    )
    if not floor_ok:
        assert rule.floor is not None  # without a floor, floor_ok is always True
        floor = format_metric(rule.floor)
        return f"{subject} does not reach the floor {floor}; {name} stays"
    if improves and relative_ok:
        relative = (
            f" and by at least min_relative {format_metric(rule.min_relative)}"
            if rule.min_relative
            else ""
        )
        return f"{subject} improves on {against}{relative}; it replaces {name}"
    if challenger == champion:
        return f"{subject} ties {name} ({format_metric(champion)}); a tie keeps the champion"
    if improves:
        return (
            f"{subject} improves on {name} ({format_metric(champion)}) but by less than "
            f"min_relative {format_metric(rule.min_relative)} of it ({rule.direction} is "
            f"better); {name} stays"
        )
    return f"{subject} does not improve on {against}; {name} stays"


def _checked_value(value: float, role: str, rule: MetricRule) -> float:
    """Reject what parse_metric would: decide() is the last line before a registration."""
    if isinstance(value, str):
        raise MetricError(
            f"{role} passed to decide() is the string {value!r}; parse it with parse_metric() "
            "first so its source is named in any error",
            field=role,
            value=value,
        )
    return parse_metric(
        value,
        source=f"{role} passed to decide()",
        name=rule.name,
        valid_range=rule.valid_range,
    )


def _check_version(version: int | None) -> None:
    if version is None:
        return
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise InputError(
            f"champion_version {version!r} is not a model version; pass a positive int "
            "(the registry numbers versions from 1) or None",
            field="champion_version",
            value=version,
        )
