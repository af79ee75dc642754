"""What "better" means for one model name: one or more metrics, each with its direction, margins
and floor, all of which must pass.

Part of the pure decision core with `metrics` and `decision` (no I/O, nothing from azureml):
validated on construction, so a typo in a flag or a policy file fails before anything is read or
registered, and written back exactly (`to_dict`), so the record shows the rule that was applied.

Three ways to say it, one result:

- in code: `Policy("accuracy", min_delta=0.01)` (one metric) or
  `Policy.of(MetricRule("accuracy"), MetricRule("latency_ms", direction="lower"))`;
- on a command line: `--metric` specs, `NAME[:higher|:lower][,min_delta=X][,min_relative=R]
  [,floor=F][,valid_range=LOW:HIGH|none]`, repeatable (`Policy.from_specs`), with today's
  `--lower-is-better`, `--min-delta` and `--floor` still meaning the one metric;
- in a TOML file (`Policy.from_toml`): `[[metric]]` tables with the same keys.

Every number, from a flag or a file, is parsed by the metrics' exact rule (`parse_metric`): a
text a float would change (`1e-400`, `0.10000000000000000001`) is refused, never rounded, and
the record shows the number that was typed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Final

from champion._policy_text import (
    DIRECTIONS,
    Direction,
    check_direction,
    check_flag,
    check_floor,
    check_margin,
    check_metric_name,
    check_range,
    file_values,
    flag_value,
    policy_error,
    spec_values,
)
from champion.errors import PolicyError
from champion.metrics import default_valid_range, format_metric

__all__ = ["Direction", "MetricRule", "Policy"]


class _Unset(Enum):
    """Marks "valid_range not given", which must differ from None ("no range at all")."""

    UNSET = "unset"


_UNSET: Final = _Unset.UNSET


@dataclass(frozen=True, init=False)
class MetricRule:
    """One metric of a policy: when the challenger's value of it counts as passing.

    With a champion value, the challenger passes when it improves on it by MORE than
    ``min_delta`` (absolute; a tie never passes), by at least ``min_relative`` of the champion's
    magnitude (MLflow's ``min_relative_change``: higher is better needs ``challenger >= champion
    * (1 + r)`` for a positive champion, lower is better ``challenger <= champion * (1 - r)``;
    with a champion of 0 it falls back to a strict improvement), and reaches ``floor``. With no
    champion value only the floor applies. Omit ``valid_range`` to get
    ``default_valid_range(name)`` ([0, 1] for accuracy-like metrics); None means no range."""

    name: str
    direction: Direction
    min_delta: float
    min_relative: float
    floor: float | None
    valid_range: tuple[float, float] | None

    def __init__(
        self,
        name: str = "accuracy",
        *,
        direction: Direction = "higher",
        min_delta: float = 0.0,
        min_relative: float = 0.0,
        floor: float | None = None,
        valid_range: tuple[float, float] | _Unset | None = _UNSET,
    ) -> None:
        # Hand-written (init=False) so "valid_range omitted" differs from None while the
        # attribute itself stays typed ``tuple[float, float] | None`` for every reader.
        name = check_metric_name(name)
        if isinstance(valid_range, _Unset):
            valid_range = default_valid_range(name)
        checked_range = check_range(valid_range)
        values: dict[str, object] = {
            "name": name,
            "direction": check_direction(direction),
            "min_delta": check_margin("min_delta", min_delta),
            "min_relative": check_margin("min_relative", min_relative),
            "floor": check_floor(floor, checked_range),
            "valid_range": checked_range,
        }
        for key, value in values.items():
            object.__setattr__(self, key, value)

    @classmethod
    def parse(cls, spec: str) -> MetricRule:
        """A rule from a `--metric` spec: `NAME[:higher|:lower][,key=value]...`, the keys
        `min_delta`, `min_relative`, `floor` and `valid_range` (`LOW:HIGH` or `none`), e.g.
        `f1,min_relative=0.01` or `latency_ms:lower,floor=250`."""
        name, direction, values = spec_values(spec)
        return cls._from_values(name, direction, values, where=f"--metric {spec!r}")

    @classmethod
    def _from_values(
        cls, name: object, direction: object, values: Mapping[str, object], *, where: str
    ) -> MetricRule:
        valid_range = values.get("valid_range", _UNSET)
        try:
            return cls(
                name,  # type: ignore[arg-type]  # checked by the constructor
                direction=direction,  # type: ignore[arg-type]
                min_delta=values.get("min_delta", 0.0),  # type: ignore[arg-type]
                min_relative=values.get("min_relative", 0.0),  # type: ignore[arg-type]
                floor=values.get("floor"),  # type: ignore[arg-type]
                valid_range=valid_range,  # type: ignore[arg-type]
            )
        except PolicyError as exc:
            raise PolicyError(f"{where}: {exc.message}", field=exc.field, value=exc.value) from None

    def to_dict(self) -> dict[str, object]:
        """JSON-ready, numbers as exact strings, so the record shows the rule actually applied."""
        return {
            "metric": self.name,
            "direction": self.direction,
            "min_delta": format_metric(self.min_delta),
            "min_relative": format_metric(self.min_relative),
            "floor": None if self.floor is None else format_metric(self.floor),
            "valid_range": (
                None if self.valid_range is None else [format_metric(v) for v in self.valid_range]
            ),
        }


@dataclass(frozen=True, init=False)
class Policy:
    """What "better" means for one model name: every rule must pass; the first is the primary
    (the metric a one-number view shows). Validated on construction so a typo fails fast.

    ``Policy(metric, ...)`` is the one-metric policy (the rule's settings as keywords);
    ``Policy.of(rule, rule, ...)`` takes several. ``allow_unscored_champion`` lets a challenger
    replace a champion that has no value for a metric (only the floor applies to it);
    ``allow_different_test_data`` lets the gate compare numbers measured on different test data
    (the gate refuses by default). Both choices are recorded with the policy."""

    rules: tuple[MetricRule, ...]
    allow_unscored_champion: bool
    allow_different_test_data: bool

    def __init__(
        self,
        metric: str = "accuracy",
        *,
        direction: Direction = "higher",
        min_delta: float = 0.0,
        min_relative: float = 0.0,
        floor: float | None = None,
        valid_range: tuple[float, float] | _Unset | None = _UNSET,
        allow_unscored_champion: bool = False,
        allow_different_test_data: bool = False,
    ) -> None:
        rule = MetricRule(
            metric,
            direction=direction,
            min_delta=min_delta,
            min_relative=min_relative,
            floor=floor,
            valid_range=valid_range,
        )
        self._set((rule,), allow_unscored_champion, allow_different_test_data)

    def _set(
        self,
        rules: Sequence[MetricRule],
        allow_unscored_champion: bool,
        allow_different_test_data: bool,
    ) -> None:
        checked = tuple(rules)
        if not checked:
            raise policy_error("metrics", [], "give at least one metric")
        for rule in checked:
            if not isinstance(rule, MetricRule):
                raise policy_error("metrics", rule, "give MetricRule objects")
        seen = [rule.name for rule in checked]
        twice = sorted({name for name in seen if seen.count(name) > 1})
        if twice:
            raise policy_error("metrics", seen, f"each metric once; {', '.join(twice)} twice")
        object.__setattr__(self, "rules", checked)
        object.__setattr__(
            self,
            "allow_unscored_champion",
            check_flag("allow_unscored_champion", allow_unscored_champion),
        )
        object.__setattr__(
            self,
            "allow_different_test_data",
            check_flag("allow_different_test_data", allow_different_test_data),
        )

    @classmethod
    def of(
        cls,
        *rules: MetricRule,
        allow_unscored_champion: bool = False,
        allow_different_test_data: bool = False,
    ) -> Policy:
        """A policy of several metrics, all of which must pass; the first is the primary."""
        policy = cls.__new__(cls)
        policy._set(rules, allow_unscored_champion, allow_different_test_data)
        return policy

    # -- the primary metric, as one-metric callers read it

    @property
    def primary(self) -> MetricRule:
        return self.rules[0]

    @property
    def metric(self) -> str:
        return self.rules[0].name

    @property
    def metrics(self) -> tuple[str, ...]:
        """Every metric's name, the primary first."""
        return tuple(rule.name for rule in self.rules)

    @property
    def direction(self) -> Direction:
        return self.rules[0].direction

    @property
    def min_delta(self) -> float:
        return self.rules[0].min_delta

    @property
    def min_relative(self) -> float:
        return self.rules[0].min_relative

    @property
    def floor(self) -> float | None:
        return self.rules[0].floor

    @property
    def valid_range(self) -> tuple[float, float] | None:
        return self.rules[0].valid_range

    def with_allowances(
        self,
        *,
        allow_unscored_champion: bool | None = None,
        allow_different_test_data: bool | None = None,
    ) -> Policy:
        """The same rules with these allowances switched on (None keeps the current one)."""
        return Policy.of(
            *self.rules,
            allow_unscored_champion=self.allow_unscored_champion
            if allow_unscored_champion is None
            else allow_unscored_champion,
            allow_different_test_data=self.allow_different_test_data
            if allow_different_test_data is None
            else allow_different_test_data,
        )

    # -- from flags and files

    @classmethod
    def from_flags(
        cls,
        metric: str,
        *,
        lower_is_better: bool,
        min_delta: float | str | None,
        floor: float | str | None,
        allow_unscored_champion: bool,
        allow_different_test_data: bool = False,
    ) -> Policy:
        """The one-metric policy of today's flags (`--lower-is-better` etc.).

        `min_delta` and `floor` may be the flags' text: it is parsed as strictly and exactly as
        a metric tag (``parse_metric``), so `--floor 1e-400` is refused instead of silently
        becoming 0.0, and the recorded policy says the number that was typed."""
        return cls(
            metric,
            direction="lower" if lower_is_better else "higher",
            min_delta=0.0 if min_delta is None else flag_value("min_delta", min_delta),
            floor=None if floor is None else flag_value("floor", floor),
            allow_unscored_champion=allow_unscored_champion,
            allow_different_test_data=allow_different_test_data,
        )

    @classmethod
    def from_specs(
        cls,
        specs: Sequence[str],
        *,
        lower_is_better: bool = False,
        min_delta: str | None = None,
        floor: str | None = None,
        allow_unscored_champion: bool = False,
        allow_different_test_data: bool = False,
    ) -> Policy:
        """The policy of repeated `--metric` specs (none: `accuracy`). Today's one-metric flags
        (`--lower-is-better`, `--min-delta`, `--floor`) still apply when there is one metric;
        with several, or when the spec sets the same thing, they are refused: which metric
        they meant would be a guess."""
        specs = list(specs) or ["accuracy"]
        legacy = {
            "--lower-is-better": lower_is_better or None,
            "--min-delta": min_delta,
            "--floor": floor,
        }
        given = [flag for flag, value in legacy.items() if value is not None]
        if given and len(specs) > 1:
            raise PolicyError(
                f"{', '.join(given)} apply to one metric, and {len(specs)} --metric were given; "
                "write the setting into each --metric instead (e.g. --metric "
                "latency_ms:lower,floor=250)",
                field=given[0],
                value=specs,
            )
        rules = [MetricRule.parse(spec) for spec in specs]
        if given:
            rules[0] = _with_legacy_flags(rules[0], specs[0], lower_is_better, min_delta, floor)
        return cls.of(
            *rules,
            allow_unscored_champion=allow_unscored_champion,
            allow_different_test_data=allow_different_test_data,
        )

    @classmethod
    def from_toml(cls, text: str, *, source: str = "policy file") -> Policy:
        """The policy a TOML file describes:

        ```toml
        allow_unscored_champion = false     # optional, as the flag
        allow_different_test_data = false   # optional, as the flag

        [[metric]]                          # the first is the primary
        name = "accuracy"
        min_relative = 0.01                 # optional: direction, min_delta, min_relative,
        floor = 0.8                         #   floor, valid_range ([low, high]; [] for none)

        [[metric]]
        name = "latency_ms"
        direction = "lower"
        ```

        Unknown keys are refused (a misspelt `min_detla` must not silently loosen the gate);
        numbers follow the exact rule of metric values."""
        tables, flags = file_values(text, source)
        rules = [MetricRule._from_values(*table[:3], where=table[3]) for table in tables]
        return cls.of(*rules, **flags)

    def to_dict(self) -> dict[str, object]:
        """JSON-ready, numbers as exact strings, so the record shows the rule actually applied.
        The primary's settings stay at the top level (what one-metric readers read); `metrics`
        lists every rule, the primary first."""
        return {
            **self.rules[0].to_dict(),
            "metrics": [rule.to_dict() for rule in self.rules],
            "allow_unscored_champion": self.allow_unscored_champion,
            "allow_different_test_data": self.allow_different_test_data,
        }


def _with_legacy_flags(
    rule: MetricRule, spec: str, lower_is_better: bool, min_delta: str | None, floor: str | None
) -> MetricRule:
    """The one metric with today's flags applied; a flag the spec also sets is a conflict."""
    head, *options = spec.split(",")
    set_in_spec = {part.partition("=")[0].strip() for part in options}
    if head.rpartition(":")[2] in DIRECTIONS and head.count(":"):
        set_in_spec.add("direction")
    for flag, key, given in (
        ("--lower-is-better", "direction", lower_is_better),
        ("--min-delta", "min_delta", min_delta is not None),
        ("--floor", "floor", floor is not None),
    ):
        if given and key in set_in_spec:
            raise PolicyError(
                f"{flag} and --metric {spec!r} both set {key}; say it once, in --metric or "
                "with the flag",
                field=flag,
                value=spec,
            )
    return MetricRule(
        rule.name,
        direction="lower" if lower_is_better else rule.direction,
        min_delta=rule.min_delta if min_delta is None else flag_value("min_delta", min_delta),
        min_relative=rule.min_relative,
        floor=rule.floor if floor is None else flag_value("floor", floor),
        valid_range=rule.valid_range,
    )
