"""The champion/challenger decision, kept pure so every rule is testable without a workspace.

Rules (see "The decision" in the design notes):

* No champion: the challenger becomes the first version if it reaches the floor (if any).
* With a champion: it is replaced only if the challenger improves on it by MORE than
  ``min_delta`` and reaches the floor. A tie keeps the champion, like the original ``>``.
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

from dataclasses import dataclass
from enum import StrEnum
from fractions import Fraction

from champion.errors import InputError, MetricError, UnscoredChampionError
from champion.metrics import format_metric, parse_metric
from champion.policy import Direction, Policy

__all__ = ["Decision", "Direction", "Outcome", "Policy", "decide"]


class Outcome(StrEnum):
    """What happened to the challenger; the values are stable strings for tags and JSON."""

    FIRST = "first"
    PROMOTED = "promoted"
    REJECTED = "rejected"
    ALREADY_REGISTERED = "already_registered"


@dataclass(frozen=True)
class Decision:
    """The verdict plus everything needed to explain it later from the record alone."""

    outcome: Outcome
    challenger: float
    champion: float | None
    champion_version: int | None
    policy: Policy
    comparison: str
    reason: str

    @property
    def promote(self) -> bool:
        """Whether the caller should register the challenger now (a retry registers nothing)."""
        return self.outcome in (Outcome.FIRST, Outcome.PROMOTED)

    def to_dict(self) -> dict[str, object]:
        """JSON-ready; metric values are exact strings so no reader re-rounds them."""
        return {
            "outcome": self.outcome.value,
            "promote": self.promote,
            "metric": self.policy.metric,
            "challenger": format_metric(self.challenger),
            "champion": None if self.champion is None else format_metric(self.champion),
            "champion_version": self.champion_version,
            "comparison": self.comparison,
            "reason": self.reason,
            "policy": self.policy.to_dict(),
        }


def decide(
    challenger: float,
    champion: float | None,
    policy: Policy,
    *,
    champion_version: int | None = None,
) -> Decision:
    """Decide whether ``challenger`` should be registered; ``champion`` None means none to beat.

    ``champion=None`` with a ``champion_version`` means that version exists but has no usable
    metric: allowed only when ``policy.allow_unscored_champion``, else UnscoredChampionError.
    """
    challenger = _checked_value(challenger, "challenger", policy)
    if champion is not None:
        champion = _checked_value(champion, "champion", policy)
    _check_version(champion_version)
    if champion is None:
        return _decide_without_score(challenger, policy, champion_version)
    return _decide_against(challenger, champion, policy, champion_version)


def _decide_without_score(
    challenger: float, policy: Policy, champion_version: int | None
) -> Decision:
    if champion_version is not None and not policy.allow_unscored_champion:
        raise UnscoredChampionError(
            f"champion version {champion_version} has no usable {policy.metric!r} value, so the "
            f"challenger cannot be compared with it. Set the {policy.metric!r} property on that "
            "version, or allow an unscored champion explicitly (allow_unscored_champion=True).",
            field="champion_version",
            value=champion_version,
        )
    floor_ok = _meets_floor(challenger, policy)
    comparison = _floor_formula(challenger, policy) or "no champion and no floor to compare"
    if champion_version is None:
        outcome = Outcome.FIRST if floor_ok else Outcome.REJECTED
        context = "no registered champion"
    else:
        outcome = Outcome.PROMOTED if floor_ok else Outcome.REJECTED
        context = (
            f"champion v{champion_version} has no {policy.metric} value and the policy allows "
            "an unscored champion"
        )
    verdict = _floor_verdict(challenger, policy, floor_ok)
    return Decision(
        outcome=outcome,
        challenger=challenger,
        champion=None,
        champion_version=champion_version,
        policy=policy,
        comparison=comparison,
        reason=f"{context}; {verdict}",
    )


def _decide_against(
    challenger: float, champion: float, policy: Policy, champion_version: int | None
) -> Decision:
    improves = _improves(challenger, champion, policy)
    floor_ok = _meets_floor(challenger, policy)
    formulas = [_improvement_formula(challenger, champion, policy)]
    floor_formula = _floor_formula(challenger, policy)
    if floor_formula:
        formulas.append(floor_formula)
    outcome = Outcome.PROMOTED if improves and floor_ok else Outcome.REJECTED
    return Decision(
        outcome=outcome,
        challenger=challenger,
        champion=champion,
        champion_version=champion_version,
        policy=policy,
        comparison=" and ".join(formulas),
        reason=_reason_against(challenger, champion, policy, champion_version, improves, floor_ok),
    )


def _exact(value: float) -> Fraction:
    """The decimal the value is recorded as, exactly; see the module docstring for why."""
    return Fraction(format_metric(value))


def _improves(challenger: float, champion: float, policy: Policy) -> bool:
    gain = _exact(challenger) - _exact(champion)
    if policy.direction == "lower":
        gain = -gain
    return gain > _exact(policy.min_delta)


def _meets_floor(challenger: float, policy: Policy) -> bool:
    if policy.floor is None:
        return True
    if policy.direction == "higher":
        return challenger >= policy.floor
    return challenger <= policy.floor


def _improvement_formula(challenger: float, champion: float, policy: Policy) -> str:
    ch, cp, delta = (format_metric(v) for v in (challenger, champion, policy.min_delta))
    if policy.direction == "higher":
        return f"{ch} > {cp} + {delta}"
    return f"{ch} < {cp} - {delta}"


def _floor_formula(challenger: float, policy: Policy) -> str:
    if policy.floor is None:
        return ""
    operator = ">=" if policy.direction == "higher" else "<="
    return f"{format_metric(challenger)} {operator} {format_metric(policy.floor)}"


def _floor_verdict(challenger: float, policy: Policy, floor_ok: bool) -> str:
    subject = f"the challenger ({policy.metric} {format_metric(challenger)})"
    if policy.floor is None:
        return f"{subject} is registered (no floor set)"
    floor = f"the floor {format_metric(policy.floor)} ({policy.direction} is better)"
    if floor_ok:
        return f"{subject} reaches {floor} and is registered"
    return f"{subject} does not reach {floor} and is not registered"


def _reason_against(
    challenger: float,
    champion: float,
    policy: Policy,
    champion_version: int | None,
    improves: bool,
    floor_ok: bool,
) -> str:
    name = "the champion" if champion_version is None else f"champion v{champion_version}"
    subject = f"challenger {policy.metric} {format_metric(challenger)}"
    against = (
        f"{name} ({format_metric(champion)}) by more than min_delta "
        f"{format_metric(policy.min_delta)} ({policy.direction} is better)"
    )
    if not floor_ok:
        assert policy.floor is not None  # without a floor, floor_ok is always True
        floor = format_metric(policy.floor)
        return f"{subject} does not reach the floor {floor}; {name} stays"
    if improves:
        return f"{subject} improves on {against}; it replaces {name}"
    if challenger == champion:
        return f"{subject} ties {name} ({format_metric(champion)}); a tie keeps the champion"
    return f"{subject} does not improve on {against}; {name} stays"


def _checked_value(value: float, role: str, policy: Policy) -> float:
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
        name=policy.metric,
        valid_range=policy.valid_range,
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
