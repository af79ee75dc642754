"""Reading a policy from text, and checking its values: the `--metric` specs and the TOML
policy file become a rule's name, direction and settings, every number parsed by the metrics'
exact rule; the checks are the ones `MetricRule` and `Policy` apply on construction.

Kept apart from `champion.policy` so that module stays the model (what a rule and a policy
are); this one is the grammar. Pure, like the rest of the decision core.
"""

from __future__ import annotations

import math
import tomllib
from typing import Final, Literal, TypeGuard

from champion.errors import MetricError, PolicyError
from champion.metrics import parse_metric

__all__ = [
    "DIRECTIONS",
    "MAX_FILE_BYTES",
    "Direction",
    "RuleValues",
    "check_direction",
    "check_flag",
    "check_floor",
    "check_margin",
    "check_metric_name",
    "check_range",
    "file_values",
    "flag_value",
    "policy_error",
    "spec_values",
]

Direction = Literal["higher", "lower"]

DIRECTIONS: Final = ("higher", "lower")
_RULE_KEYS: Final = ("min_delta", "min_relative", "floor", "valid_range")
_FILE_RULE_KEYS: Final = ("name", "direction", *_RULE_KEYS)
_FILE_KEYS: Final = ("metric", "allow_unscored_champion", "allow_different_test_data")
MAX_FILE_BYTES: Final = 16 * 1024
"""A policy file is a few [[metric]] tables; a longer text is refused before it is parsed
(tomllib takes seconds, quadratically, over tens of kilobytes of dotted keys)."""

RuleValues = tuple[object, object, dict[str, object], str]
"""A rule as read, before `MetricRule` checks it: name, direction, settings, where it was."""


def spec_values(spec: str) -> tuple[object, object, dict[str, object]]:
    """A `--metric` spec's name, direction and settings (`NAME[:higher|:lower][,key=value]`)."""
    if not isinstance(spec, str) or not spec.strip():
        raise policy_error("--metric", spec, "give NAME[:higher|:lower][,key=value]...")
    head, *options = spec.split(",")
    name, direction = head, "higher"
    stem, colon, suffix = head.rpartition(":")
    if colon:
        # Whatever follows the last ':' is a direction, spelt exactly: `loss:LOWER` read as a
        # metric *named* "loss:LOWER" (higher is better) once promoted a loss 3x worse.
        if suffix not in DIRECTIONS:
            raise PolicyError(
                f"--metric {spec!r}: {suffix!r} is not a direction; write NAME:higher or "
                "NAME:lower (exactly, lower case), and give a name that holds ':' its "
                "direction after it (eval:f1:higher)",
                field="--metric",
                value=spec,
            )
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
    return name, direction, values


def file_values(text: str, source: str) -> tuple[list[RuleValues], dict[str, bool]]:
    """A TOML policy file's [[metric]] tables and its flags; unknown keys are refused."""
    if len(text) > MAX_FILE_BYTES:
        raise PolicyError(
            f"{source} is longer than a policy file can be ({MAX_FILE_BYTES} characters at "
            "most); a policy file has a few [[metric]] tables of plain values",
            field="policy",
            value=source,
        )
    try:
        data = tomllib.loads(text, parse_float=_TomlNumber)
    except tomllib.TOMLDecodeError as exc:
        raise PolicyError(
            f"{source} is not valid TOML: {exc}", field="policy", value=source
        ) from None
    except RecursionError:  # tomllib recurses once per level of nested arrays or tables
        raise PolicyError(
            f"{source} nests arrays or tables too deeply to be a policy; a policy file has "
            "[[metric]] tables of plain values",
            field="policy",
            value=source,
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
            f'{source}: no [[metric]] table; give at least one, e.g. [[metric]] name = "accuracy"',
            field="policy",
            value=source,
        )
    tables = [_table_values(entry, n, source) for n, entry in enumerate(entries, start=1)]
    flags: dict[str, bool] = {key: data.get(key, False) for key in _FILE_KEYS[1:]}
    for key, value in flags.items():
        if not isinstance(value, bool):
            raise PolicyError(
                f"{source}: {key} = {value!r}; give true or false", field=key, value=value
            )
    return tables, flags


def _table_values(entry: object, number: int, source: str) -> RuleValues:
    """One [[metric]] table's name, direction and settings, and where it is (for errors)."""
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
    name = entry["name"]
    stem, colon, suffix = name.rpartition(":") if isinstance(name, str) else ("", "", "")
    if colon and suffix.lower() in DIRECTIONS:
        # The file has its own direction key; a name ending in one was meant as the spec form.
        raise PolicyError(
            f"{where}: name = {name!r} ends in a direction; give it as its own key "
            f'(name = {stem!r}, direction = "{suffix.lower()}")',
            field="name",
            value=name,
        )
    values: dict[str, object] = {}
    for key in _RULE_KEYS:
        if key not in entry:
            continue
        raw = entry[key]
        if key == "valid_range":
            values[key] = _range_list(raw, where)
        else:
            values[key] = _number(key, raw, f"{where} {key}")
    return entry["name"], entry.get("direction", "higher"), values, where


class _TomlNumber(str):
    """A TOML float kept as its text, so the exact rule judges it rather than float()."""

    __slots__ = ()


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


def policy_error(field: str, value: object, fix: str) -> PolicyError:
    return PolicyError(f"policy {field} {value!r} is invalid: {fix}", field=field, value=value)


def flag_value(field: str, value: float | str) -> float:
    """A policy number given as text, parsed by the metrics' rule; errors are PolicyErrors."""
    if not isinstance(value, str):
        return value
    try:
        return parse_metric(value, source=f"--{field.replace('_', '-')}", name=field)
    except MetricError as exc:
        raise PolicyError(exc.message, field=field, value=value) from None


def check_metric_name(metric: object) -> str:
    if (
        not isinstance(metric, str)
        or not metric
        or metric != metric.strip()
        or any(ch in metric for ch in ",=")
    ):
        raise policy_error(
            "metric",
            metric,
            "give the tag/property name, e.g. 'accuracy' (non-empty, no spaces, ',' or '=')",
        )
    return str(metric)


def check_direction(direction: object) -> Direction:
    # Returning the literals (not the argument) also normalises str subclasses to plain str.
    if direction == "higher":
        return "higher"
    if direction == "lower":
        return "lower"
    raise policy_error("direction", direction, f"use one of {', '.join(DIRECTIONS)}")


def _is_finite_number(value: object) -> TypeGuard[float]:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:  # an int too large for a float
        return False


def _finite(field: str, value: object) -> float:
    if not _is_finite_number(value):
        raise policy_error(field, value, "give a finite int or float (not bool)")
    return float(value)


def check_margin(field: str, margin: object) -> float:
    number = _finite(field, margin)
    if number < 0:
        what = "absolute" if field == "min_delta" else "relative (a fraction of the champion)"
        raise policy_error(
            field, margin, f"give the {what} improvement required, >= 0 (0 = strict >)"
        )
    return number


def check_range(valid_range: object) -> tuple[float, float] | None:
    if valid_range is None:
        return None
    if not isinstance(valid_range, tuple | list) or len(valid_range) != 2:
        raise policy_error("valid_range", valid_range, "give a (low, high) pair or None")
    if not all(_is_finite_number(bound) for bound in valid_range):
        raise policy_error("valid_range", valid_range, "both bounds must be finite numbers")
    low, high = float(valid_range[0]), float(valid_range[1])
    if not low < high:
        raise policy_error("valid_range", valid_range, "low must be below high, e.g. (0.0, 1.0)")
    return (low, high)


def check_floor(floor: object, valid_range: tuple[float, float] | None) -> float | None:
    if floor is None:
        return None
    number = _finite("floor", floor)
    if valid_range is not None and not valid_range[0] <= number <= valid_range[1]:
        low, high = valid_range
        raise policy_error("floor", floor, f"it must lie inside valid_range [{low!r}, {high!r}]")
    return number


def check_flag(field: str, flag: object) -> bool:
    if not isinstance(flag, bool):
        raise policy_error(field, flag, "give True or False")
    return flag
