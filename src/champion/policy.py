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

import math
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Final, Literal, TypeGuard

from champion.errors import MetricError, PolicyError
from champion.metrics import default_valid_range, format_metric, parse_metric

__all__ = ["Direction", "MetricRule", "Policy"]


Direction = Literal["higher", "lower"]


_DIRECTIONS: Final = ("higher", "lower")
_RULE_KEYS: Final = ("min_delta", "min_relative", "floor", "valid_range")
_FILE_RULE_KEYS: Final = ("name", "direction", *_RULE_KEYS)
_FILE_KEYS: Final = ("metric", "allow_unscored_champion", "allow_different_test_data")


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
        name = _check_metric_name(name)
        if isinstance(valid_range, _Unset):
            valid_range = default_valid_range(name)
        checked_range = _check_range(valid_range)
        values: dict[str, object] = {
            "name": name,
            "direction": _check_direction(direction),
            "min_delta": _check_margin("min_delta", min_delta),
            "min_relative": _check_margin("min_relative", min_relative),
            "floor": _check_floor(floor, checked_range),
            "valid_range": checked_range,
        }
        for key, value in values.items():
            object.__setattr__(self, key, value)

    @classmethod
    def parse(cls, spec: str) -> MetricRule:
        """A rule from a `--metric` spec: `NAME[:higher|:lower][,key=value]...`, the keys
        `min_delta`, `min_relative`, `floor` and `valid_range` (`LOW:HIGH` or `none`), e.g.
        `f1,min_relative=0.01` or `latency_ms:lower,floor=250`."""
        if not isinstance(spec, str) or not spec.strip():
            raise _policy_error("--metric", spec, "give NAME[:higher|:lower][,key=value]...")
        head, *options = spec.split(",")
        name, direction = head, "higher"
        stem, colon, suffix = head.rpartition(":")
        if colon and suffix in _DIRECTIONS:
            name, direction = stem, suffix
        values: dict[str, object] = {}
        for option in options:
            key, equals, text = option.partition("=")
            key = key.strip()
            if not equals or key not in _RULE_KEYS:
                raise PolicyError(
                    f"--metric {spec!r}: {option!r} is not a setting; use "
                    f"{', '.join(k + '=VALUE' for k in _RULE_KEYS)} after the name",
                    field="--metric",
                    value=spec,
                )
            if key in values:
                raise PolicyError(
                    f"--metric {spec!r} sets {key} twice; give it once",
                    field="--metric",
                    value=spec,
                )
            values[key] = (
                _range_text(text.strip(), spec)
                if key == "valid_range"
                else _number(key, text.strip(), f"--metric {spec!r} {key}")
            )
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
            raise _policy_error("metrics", [], "give at least one metric")
        for rule in checked:
            if not isinstance(rule, MetricRule):
                raise _policy_error("metrics", rule, "give MetricRule objects")
        seen = [rule.name for rule in checked]
        twice = sorted({name for name in seen if seen.count(name) > 1})
        if twice:
            raise _policy_error("metrics", seen, f"each metric once; {', '.join(twice)} twice")
        object.__setattr__(self, "rules", checked)
        object.__setattr__(
            self,
            "allow_unscored_champion",
            _check_flag("allow_unscored_champion", allow_unscored_champion),
        )
        object.__setattr__(
            self,
            "allow_different_test_data",
            _check_flag("allow_different_test_data", allow_different_test_data),
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
            min_delta=0.0 if min_delta is None else _flag_value("min_delta", min_delta),
            floor=None if floor is None else _flag_value("floor", floor),
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
        try:
            data = tomllib.loads(text, parse_float=_TomlNumber)
        except tomllib.TOMLDecodeError as exc:
            raise PolicyError(
                f"{source} is not valid TOML: {exc}", field="policy", value=source
            ) from None
        unknown = sorted(set(data) - set(_FILE_KEYS))
        if unknown:
            raise PolicyError(
                f"{source}: unknown key(s) {', '.join(unknown)}; a policy file has "
                f"{', '.join(_FILE_KEYS)} ([[metric]] tables)",
                field="policy",
                value=unknown[0],
            )
        entries = data.get("metric")
        if not isinstance(entries, list) or not entries:
            raise PolicyError(
                f"{source}: no [[metric]] table; give at least one, e.g. [[metric]] "
                'name = "accuracy"',
                field="policy",
                value=source,
            )
        rules = [_rule_of_table(entry, n, source) for n, entry in enumerate(entries, start=1)]
        flags = {key: data.get(key, False) for key in _FILE_KEYS[1:]}
        for key, value in flags.items():
            if not isinstance(value, bool):
                raise PolicyError(
                    f"{source}: {key} = {value!r}; give true or false", field=key, value=value
                )
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


# ---------------------------------------------------------------------- parsing helpers


class _TomlNumber(str):
    """A TOML float kept as its text, so the exact rule judges it rather than float()."""

    __slots__ = ()


def _rule_of_table(entry: object, number: int, source: str) -> MetricRule:
    where = f"{source} [[metric]] #{number}"
    if not isinstance(entry, dict):
        raise PolicyError(f"{where} is not a table", field="metric", value=entry)
    unknown = sorted(set(entry) - set(_FILE_RULE_KEYS))
    if unknown:
        raise PolicyError(
            f"{where}: unknown key(s) {', '.join(unknown)}; use {', '.join(_FILE_RULE_KEYS)}",
            field="metric",
            value=unknown[0],
        )
    if "name" not in entry:
        raise PolicyError(f'{where} has no name; add name = "accuracy"', field="name", value=None)
    values: dict[str, object] = {}
    for key in _RULE_KEYS:
        if key not in entry:
            continue
        raw = entry[key]
        if key == "valid_range":
            values[key] = _range_list(raw, where)
        else:
            values[key] = _number(key, raw, f"{where} {key}")
    return MetricRule._from_values(
        entry["name"], entry.get("direction", "higher"), values, where=where
    )


def _number(field: str, raw: object, source: str) -> float:
    """A policy number from a flag's text or a TOML value, by the metrics' exact rule."""
    if isinstance(raw, bool) or not isinstance(raw, str | int | float):
        raise PolicyError(f"{source} = {raw!r}; give a number", field=field, value=raw)
    try:
        text = str(raw) if isinstance(raw, _TomlNumber) else raw
        return parse_metric(text, source=source, name=field)
    except MetricError as exc:
        raise PolicyError(exc.message, field=field, value=raw) from None


def _range_text(text: str, spec: str) -> tuple[float, float] | None:
    if text.lower() == "none":
        return None
    low, colon, high = text.partition(":")
    if not colon:
        raise PolicyError(
            f"--metric {spec!r}: valid_range={text!r}; give LOW:HIGH (e.g. 0:1) or none",
            field="valid_range",
            value=text,
        )
    where = f"--metric {spec!r} valid_range"
    return (_number("valid_range", low, where), _number("valid_range", high, where))


def _range_list(raw: object, where: str) -> tuple[float, float] | None:
    if raw == []:
        return None
    if not isinstance(raw, list) or len(raw) != 2:
        raise PolicyError(
            f"{where} valid_range = {raw!r}; give [low, high] or [] for no range",
            field="valid_range",
            value=raw,
        )
    return (
        _number("valid_range", raw[0], f"{where} valid_range"),
        _number("valid_range", raw[1], f"{where} valid_range"),
    )


def _with_legacy_flags(
    rule: MetricRule, spec: str, lower_is_better: bool, min_delta: str | None, floor: str | None
) -> MetricRule:
    """The one metric with today's flags applied; a flag the spec also sets is a conflict."""
    head, *options = spec.split(",")
    set_in_spec = {part.partition("=")[0].strip() for part in options}
    if head.rpartition(":")[2] in _DIRECTIONS and head.count(":"):
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
        min_delta=rule.min_delta if min_delta is None else _flag_value("min_delta", min_delta),
        min_relative=rule.min_relative,
        floor=rule.floor if floor is None else _flag_value("floor", floor),
        valid_range=rule.valid_range,
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


def _check_metric_name(metric: object) -> str:
    if (
        not isinstance(metric, str)
        or not metric
        or metric != metric.strip()
        or any(ch in metric for ch in ",=")
    ):
        raise _policy_error(
            "metric",
            metric,
            "give the tag/property name, e.g. 'accuracy' (non-empty, no spaces, ',' or '=')",
        )
    return str(metric)


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


def _check_margin(field: str, margin: object) -> float:
    number = _finite(field, margin)
    if number < 0:
        what = "absolute" if field == "min_delta" else "relative (a fraction of the champion)"
        raise _policy_error(
            field, margin, f"give the {what} improvement required, >= 0 (0 = strict >)"
        )
    return number


def _check_range(valid_range: object) -> tuple[float, float] | None:
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


def _check_floor(floor: object, valid_range: tuple[float, float] | None) -> float | None:
    if floor is None:
        return None
    number = _finite("floor", floor)
    if valid_range is not None and not valid_range[0] <= number <= valid_range[1]:
        low, high = valid_range
        raise _policy_error("floor", floor, f"it must lie inside valid_range [{low!r}, {high!r}]")
    return number


def _check_flag(field: str, flag: object) -> bool:
    if not isinstance(flag, bool):
        raise _policy_error(field, flag, "give True or False")
    return flag
