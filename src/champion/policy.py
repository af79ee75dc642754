"""What "better" means for one model name: the metric, its direction, the margin and the floor.

Part of the pure decision core with `metrics` and `decision` (no I/O, nothing from azureml):
validated on construction, so a typo in a flag fails before anything is read or registered,
and written back exactly (`to_dict`), so the record shows the rule that was applied.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import Enum
from typing import Final, Literal, TypeGuard

from champion.errors import MetricError, PolicyError
from champion.metrics import default_valid_range, format_metric, parse_metric

__all__ = ["Direction", "Policy"]


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
