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

import math
from dataclasses import dataclass
from enum import Enum, StrEnum
from fractions import Fraction
from typing import Final, Literal, TypeGuard

from champion.errors import InputError, MetricError, PolicyError, UnscoredChampionError
from champion.metrics import default_valid_range, format_metric, parse_metric

__all__ = ["Decision", "Direction", "Outcome", "Policy", "decide"]

Direction = Literal["higher", "lower"]
_DIRECTIONS: Final = ("higher", "lower")


class _Unset(Enum):
    """Marks "valid_range not given", which must differ from None ("no range at all")."""

    UNSET = "unset"


@dataclass(frozen=True, init=False)
class Policy:
    """What "better" means for one model name; validated on construction so a typo fails fast.

    Omit ``valid_range`` to get ``default_valid_range(metric)`` ([0, 1] for accuracy-like
    metrics); pass None explicitly for no range. ``dataclasses.replace`` keeps the current range.
    """

    metric: str
    direction: Direction
    min_delta: float
    floor: float | None
    valid_range: tuple[float, float] | None
    allow_unscored_champion: bool

    def __init__(
        self,
        metric: str = "accuracy",
        *,
        direction: Direction = "higher",
        min_delta: float = 0.0,
        floor: float | None = None,
        valid_range: tuple[float, float] | _Unset | None = _Unset.UNSET,
        allow_unscored_champion: bool = False,
    ) -> None:
        # Hand-written (init=False) so "valid_range omitted" differs from None while the
        # attribute itself stays typed ``tuple[float, float] | None`` for every reader.
        metric = _check_metric_name(metric)
        if isinstance(valid_range, _Unset):
            valid_range = default_valid_range(metric)
        checked_range = _check_range(valid_range)
        values: dict[str, object] = {
            "metric": metric,
            "direction": _check_direction(direction),
            "min_delta": _check_min_delta(min_delta),
            "floor": _check_floor(floor, checked_range),
            "valid_range": checked_range,
            "allow_unscored_champion": _check_flag(allow_unscored_champion),
        }
        for name, value in values.items():
            object.__setattr__(self, name, value)

    @classmethod
    def from_flags(
        cls,
        metric: str,
        *,
        lower_is_better: bool,
        min_delta: float | str,
        floor: float | str | None,
        allow_unscored_champion: bool,
    ) -> Policy:
        """The policy the step's and the CLI's flags describe (`--lower-is-better` etc.).

        `min_delta` and `floor` may be the flags' text: it is parsed as strictly and exactly as
        a metric tag (``parse_metric``), so `--floor 1e-400` is refused instead of silently
        becoming 0.0, and the recorded policy says the number that was typed."""
        return cls(
            metric,
            direction="lower" if lower_is_better else "higher",
            min_delta=_flag_value("min_delta", min_delta),
            floor=None if floor is None else _flag_value("floor", floor),
            allow_unscored_champion=allow_unscored_champion,
        )

    def to_dict(self) -> dict[str, object]:
        """JSON-ready, numbers as exact strings, so the record shows the rule actually applied."""
        return {
            "metric": self.metric,
            "direction": self.direction,
            "min_delta": format_metric(self.min_delta),
            "floor": None if self.floor is None else format_metric(self.floor),
            "valid_range": (
                None if self.valid_range is None else [format_metric(v) for v in self.valid_range]
            ),
            "allow_unscored_champion": self.allow_unscored_champion,
        }


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


def _policy_error(field: str, value: object, fix: str) -> PolicyError:
    return PolicyError(f"policy {field} {value!r} is invalid: {fix}", field=field, value=value)


def _flag_value(field: str, value: float | str) -> float:
    """A policy number given as text, parsed by the metrics' rule; errors are PolicyErrors."""
    if not isinstance(value, str):
        return value
    try:
        return parse_metric(value, source=f"--{field.replace('_', '-')}", name=field)
    except MetricError as exc:
        raise PolicyError(exc.message, field=field, value=value) from None


def _check_metric_name(metric: str) -> str:
    if not isinstance(metric, str) or not metric or metric != metric.strip():
        raise _policy_error(
            "metric", metric, "give the tag/property name, e.g. 'accuracy' (non-empty, no spaces)"
        )
    return metric


def _check_direction(direction: object) -> Direction:
    # Returning the literals (not the argument) also normalises str subclasses to plain str.
    if direction == "higher":
        return "higher"
    if direction == "lower":
        return "lower"
    raise _policy_error("direction", direction, f"use one of {', '.join(_DIRECTIONS)}")


def _is_finite_number(value: object) -> TypeGuard[float]:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:  # an int too large for a float
        return False


def _finite(field: str, value: object) -> float:
    if not _is_finite_number(value):
        raise _policy_error(field, value, "give a finite int or float (not bool)")
    return float(value)


def _check_min_delta(min_delta: float) -> float:
    number = _finite("min_delta", min_delta)
    if number < 0:
        raise _policy_error(
            "min_delta", min_delta, "give the absolute improvement required, >= 0 (0 = strict >)"
        )
    return number


def _check_range(valid_range: tuple[float, float] | None) -> tuple[float, float] | None:
    if valid_range is None:
        return None
    if not isinstance(valid_range, tuple | list) or len(valid_range) != 2:
        raise _policy_error("valid_range", valid_range, "give a (low, high) pair or None")
    if not all(_is_finite_number(bound) for bound in valid_range):
        raise _policy_error("valid_range", valid_range, "both bounds must be finite numbers")
    low, high = float(valid_range[0]), float(valid_range[1])
    if not low < high:
        raise _policy_error("valid_range", valid_range, "low must be below high, e.g. (0.0, 1.0)")
    return (low, high)


def _check_floor(floor: float | None, valid_range: tuple[float, float] | None) -> float | None:
    if floor is None:
        return None
    number = _finite("floor", floor)
    if valid_range is not None and not valid_range[0] <= number <= valid_range[1]:
        low, high = valid_range
        raise _policy_error("floor", floor, f"it must lie inside valid_range [{low!r}, {high!r}]")
    return number


def _check_flag(flag: bool) -> bool:
    if not isinstance(flag, bool):
        raise _policy_error("allow_unscored_champion", flag, "give True or False")
    return flag
