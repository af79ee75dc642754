"""Strict parsing of metric values read from run tags and model properties.

Tags and properties are strings typed by people and scripts, and ``float()`` is far too lenient
for a value that decides which model goes to production: it accepts "nan", "inf", "1_000",
Arabic-Indic digits and values that overflow to infinity, and ``bool`` is an ``int``. A value
that is not plainly a finite number must stop the step with an error naming where it came from,
never be defaulted or coerced.

This module is pure: no I/O, no logging, nothing from azureml, so it is trivially testable.

Accepted:
    * ``str`` matching ``[+-]?(digits[.digits] | .digits)([eE][+-]?digits)?`` with ASCII digits
      only, after stripping surrounding ASCII whitespace (``" \\t\\n\\r\\f\\v"``). Stripping is
      safe because the whole remainder must still match, and it forgives the trailing newline
      of a value written with ``echo`` or read from a file. Other (Unicode) whitespace, such as a
      no-break space pasted from a web page, is rejected rather than guessed at.
    * real ``int`` and ``float`` instances (subclasses such as ``numpy.float64`` included),
      but never ``bool``.

Then the value must be finite and, when a range is given, inside it (bounds inclusive).

Exactness: the value the tag says is the value stored and compared. Metrics are floats inside
(``format_metric`` records the shortest round-trip ``repr``, and ``decide`` compares those
decimals exactly), so text is accepted only when its exact decimal value equals the decimal of
``repr(float(text))``. "0.1", "0.953000000" and "9.53e-1" are accepted: the float they parse to
is written "0.1" / "0.953", the same numbers. Refused, naming the reason:

    * underflow: "1e-400" would silently become 0.0;
    * overflow: "1e400" would become inf;
    * more significant digits than a float holds, when the float is a different number:
      "1.00000000000000000001" would become 1.0 (and pass a [0, 1] range it lies outside),
      "0.99999999999999999999" would become 1.0, "4.9e-324" would become 5e-324.

The same rule holds for a real ``int`` (10**17 + 1 is not a float) and, through
``Policy.from_flags``, for policy values given as text (``--min-delta``, ``--floor``). A float
is its own exact value, so floats need no check. The alternative, keeping the exact decimal
string as the value, would spread a second numeric type through every reader; refusing the
handful of values no training script writes on purpose keeps one type and one meaning.
"""

from __future__ import annotations

import math
import re
from decimal import Decimal, InvalidOperation
from typing import Final

from champion.errors import MetricError

__all__ = ["ACCURACY_LIKE_METRICS", "default_valid_range", "format_metric", "parse_metric"]

# Explicit ASCII classes: in a str pattern ``\d`` also matches non-ASCII digits (U+0660...).
_DECIMAL: Final = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_ASCII_WHITESPACE: Final = " \t\n\r\f\v"
_ACCEPTED: Final = (
    "a finite plain decimal such as '0.953' or '9.53e-1' "
    "(no '%', ',', '_', hex, 'nan' or 'inf'), or a real int/float (not bool)"
)
_MAX_SHOWN: Final = 80
_FLOAT_MAX: Final = 1.7976931348623157e308
_TINY: Final = 5e-324

ACCURACY_LIKE_METRICS: Final = frozenset(
    {"accuracy", "balanced_accuracy", "precision", "recall", "f1", "f1_score", "auc", "roc_auc"}
)
"""Metrics that are fractions in [0, 1] whatever the data. Deliberately small and explicit:
r2 can be negative and losses/errors are unbounded, so guessing a range from a name would
reject legitimate values. Anything else gets no default range."""


def default_valid_range(metric: str) -> tuple[float, float] | None:
    """The range a metric can never leave, so "95" (a percentage) is caught for accuracy.

    Matched case-insensitively ("AUC" is still a fraction); None when the range is unknown.
    """
    return (0.0, 1.0) if metric.lower() in ACCURACY_LIKE_METRICS else None


def format_metric(value: float) -> str:
    """The exact, round-trippable string for storing a metric in a tag or property.

    ``repr`` is the shortest string that reads back as the same float, so nothing is lost
    (``str(round(x, 4))`` would turn a win into a tie). Refuses what parse_metric would refuse
    on the way back in, so a bad value fails where it was produced, not in the next build.
    """
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise MetricError(
            f"cannot store metric value {_show(value)}: expected a real int or float (not bool)",
            value=value,
        )
    number = float(value)
    if not math.isfinite(number):
        raise MetricError(
            f"cannot store metric value {_show(value)}: it is not finite; fix the code that "
            "computed it",
            value=value,
        )
    return repr(number)


def parse_metric(
    raw: object,
    *,
    source: str,
    name: str = "accuracy",
    valid_range: tuple[float, float] | None = None,
) -> float:
    """Parse a metric strictly, failing with a message that points at the tag to fix.

    ``source`` says where the value came from, e.g. "parent run tag 'accuracy'" or
    "model iris:3 property 'accuracy'", and starts every error message.
    """
    value = _to_float(raw, source=source, name=name)
    if not math.isfinite(value):
        raise _error(raw, source, name, "is not a finite number")
    if valid_range is not None:
        _check_range(value, raw, source=source, name=name, valid_range=valid_range)
    return value


def _to_float(raw: object, *, source: str, name: str) -> float:
    """Convert without judging finiteness or range; only the type and syntax are checked here."""
    if raw is None:
        raise _error(raw, source, name, "is missing")
    if isinstance(raw, bool):
        raise _error(raw, source, name, "is a bool, not a number")
    if isinstance(raw, float):
        return float(raw)
    if isinstance(raw, int):
        try:
            value = float(raw)
        except OverflowError:
            raise _error(raw, source, name, "is too large for a float") from None
        _check_exact(Decimal(int(raw)), value, raw, source=source, name=name)
        return value
    if isinstance(raw, str):
        return _parse_text(raw, source=source, name=name)
    raise _error(raw, source, name, f"has unsupported type {type(raw).__name__}")


def _parse_text(raw: str, *, source: str, name: str) -> float:
    text = raw.strip(_ASCII_WHITESPACE)
    if not text:
        raise _error(raw, source, name, "is empty")
    if _DECIMAL.fullmatch(text) is None:
        raise _error(raw, source, name, "is not a plain decimal number")
    # Cannot raise: the regex admits only syntax float() accepts.
    value = float(text)
    if not math.isfinite(value):
        raise _error(
            raw,
            source,
            name,
            f"overflows a float (the largest is {_FLOAT_MAX!r})",
            expected="a number a float holds",
        )
    mantissa = re.split("[eE]", text, maxsplit=1)[0]
    if value == 0.0:
        if mantissa.strip("+-.0"):
            raise _error(
                raw,
                source,
                name,
                f"underflows to 0.0 (the smallest float is {_TINY!r})",
                expected="a number a float holds, or 0 if you mean zero",
            )
        return value  # an exact zero, whatever its exponent ("0e-999999999999999999999")
    try:
        exact = Decimal(text)
    except InvalidOperation:  # an exponent beyond Decimal's: no finite, non-zero float is it
        exact = None
    _check_exact(exact, value, raw, source=source, name=name)
    return value


def _check_exact(
    exact: Decimal | None, value: float, raw: object, *, source: str, name: str
) -> None:
    """Refuse a number the float `value` does not mean: see "Exactness" in the module doc."""
    if exact is not None and exact == Decimal(repr(value)):
        return
    raise _error(
        raw,
        source,
        name,
        f"has more digits than a float keeps: it would be stored and compared as {value!r}, "
        "a different number",
        expected=f"the number as a float writes it back, e.g. {value!r} if that is what you "
        "mean (a float keeps 15 to 17 significant digits)",
    )


def _check_range(
    value: float, raw: object, *, source: str, name: str, valid_range: tuple[float, float]
) -> None:
    low, high = valid_range
    # Written as "not inside" so a NaN bound rejects everything instead of accepting everything.
    if not low <= value <= high:
        raise _error(
            raw,
            source,
            name,
            f"is outside the valid range [{low!r}, {high!r}]",
            expected="a value in that range, bounds included (for accuracy-like metrics a "
            "fraction such as 0.95, not a percentage), or a wider valid_range in the policy",
        )


def _error(
    raw: object, source: str, name: str, problem: str, *, expected: str = _ACCEPTED
) -> MetricError:
    message = (
        f"{source}: {name} value {_show(raw)} {problem}; expected {expected}. "
        "Fix the value where it is set."
    )
    return MetricError(message, field=name, value=raw)


def _show(value: object) -> str:
    """repr, shortened so a huge tag value cannot flood a log line or a DevOps variable."""
    text = repr(value)
    return text if len(text) <= _MAX_SHOWN else f"{text[:_MAX_SHOWN]}... ({len(text)} chars)"
