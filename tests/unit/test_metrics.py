"""Strict metric parsing: every lenient path of float() must be closed, with a useful message."""

from __future__ import annotations

import math
import pickle
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from champion.errors import (
    ChampionError,
    ConflictError,
    InfrastructureError,
    InputError,
    MetricError,
    ModelPathError,
    PolicyError,
    RejectedError,
    UnscoredChampionError,
    WorkspaceStoreError,
)
from champion.metrics import default_valid_range, format_metric, parse_metric

SOURCE = "parent run tag 'accuracy'"
UNIT = (0.0, 1.0)

REJECTED_STRINGS = [
    "nan",
    "NaN",
    "-nan",
    "inf",
    "-inf",
    "Infinity",
    "-Infinity",
    "1e309",  # float() overflows to inf
    "-1e309",
    "95%",
    "0,95",
    "True",
    "False",
    "None",
    "0x1p-1",  # hex float
    "0x10",
    "1_000",  # float() accepts underscores
    "0.9_5",
    "\u0660.\u0669",  # Arabic-Indic "0.9": float() accepts these
    "\uff10.\uff19",  # full-width "0.9"
    "",
    "   ",
    "\t\n",
    "\u00a00.95",  # no-break space is not stripped
    "0.95\u2003",  # em space
    ".",
    "+",
    "-",
    "e5",
    "1e",
    "1e+",
    "0.9.5",
    "- 0.5",
    "0 .5",
    "1 000",
    "0.95 0.96",
    "0.95x",
    "0.95\x00",
    "'0.95'",
    "0.95f",
    "1/2",
    "++1",
    "0.5j",
]


@pytest.mark.parametrize("raw", REJECTED_STRINGS)
def test_rejected_strings_raise_metric_error_naming_source_and_value(raw: str) -> None:
    with pytest.raises(MetricError) as excinfo:
        parse_metric(raw, source=SOURCE, valid_range=UNIT)
    message = str(excinfo.value)
    assert SOURCE in message
    assert repr(raw) in message
    assert "accuracy" in message
    assert "expected" in message
    assert excinfo.value.field == "accuracy"
    assert excinfo.value.value == raw


@pytest.mark.parametrize("raw", REJECTED_STRINGS)
def test_rejected_strings_are_rejected_without_a_range_too(raw: str) -> None:
    with pytest.raises(MetricError):
        parse_metric(raw, source=SOURCE)


@pytest.mark.parametrize(
    "raw",
    [
        None,
        True,
        False,
        math.nan,
        math.inf,
        -math.inf,
        10**400,  # int too large for a float: OverflowError must not escape
        Decimal("0.5"),
        b"0.5",
        [0.5],
        (0.5,),
        {"accuracy": 0.5},
        complex(0.5, 0),
    ],
)
def test_rejected_non_strings_raise_metric_error(raw: object) -> None:
    with pytest.raises(MetricError) as excinfo:
        parse_metric(raw, source=SOURCE)
    assert SOURCE in str(excinfo.value)
    assert repr(raw)[:40] in str(excinfo.value)


def test_numpy_bool_and_numpy_int_are_rejected_but_numpy_float_is_a_float() -> None:
    numpy = pytest.importorskip("numpy")
    for raw in (numpy.bool_(True), numpy.int64(1)):
        with pytest.raises(MetricError):
            parse_metric(raw, source=SOURCE)
    result = parse_metric(numpy.float64(0.25), source=SOURCE, valid_range=UNIT)
    assert result == 0.25
    assert type(result) is float


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("0.95", 0.95),
        (" 0.95 ", 0.95),
        ("0.95\n", 0.95),
        ("\t0.95\r\n", 0.95),
        ("1", 1.0),
        ("0", 0.0),
        ("1.0", 1.0),
        ("1e-3", 0.001),
        ("1E-3", 0.001),
        ("9.53e-1", 0.953),
        (".5", 0.5),
        ("0.", 0.0),
        ("+0.5", 0.5),
        ("-0", 0.0),
        ("0.30000000000000004", 0.30000000000000004),
        (0.5, 0.5),
        (1, 1.0),
        (0, 0.0),
    ],
)
def test_accepted_values(raw: object, expected: float) -> None:
    result = parse_metric(raw, source=SOURCE, valid_range=UNIT)
    assert result == expected
    assert type(result) is float


@pytest.mark.parametrize("raw", ["0", "0.0", "1", "1.0", 0, 1, 0.0, 1.0])
def test_range_bounds_are_inclusive(raw: object) -> None:
    assert parse_metric(raw, source=SOURCE, valid_range=UNIT) in (0.0, 1.0)


@pytest.mark.parametrize("raw", ["95", 95, "-0.01", -0.01, "1.0000000000000002", 1.5, "-1e-300"])
def test_out_of_range_raises_metric_error_naming_the_range(raw: object) -> None:
    with pytest.raises(MetricError) as excinfo:
        parse_metric(raw, source="model iris:3 property 'accuracy'", valid_range=UNIT)
    message = str(excinfo.value)
    assert "model iris:3 property 'accuracy'" in message
    assert repr(raw) in message
    assert "[0.0, 1.0]" in message


def test_without_a_range_any_finite_value_is_accepted() -> None:
    assert parse_metric("95", source=SOURCE) == 95.0
    assert parse_metric("5.", source=SOURCE) == 5.0
    assert parse_metric("-3.5e2", source=SOURCE, name="r2") == -350.0


def test_a_nan_range_bound_rejects_instead_of_accepting() -> None:
    with pytest.raises(MetricError):
        parse_metric("0.5", source=SOURCE, valid_range=(math.nan, 1.0))


def test_message_names_the_metric_name() -> None:
    with pytest.raises(MetricError, match="rmse") as excinfo:
        parse_metric("fast", source="step run 'train' tag 'rmse'", name="rmse")
    assert excinfo.value.field == "rmse"


def test_huge_values_are_shortened_in_the_message_but_kept_on_the_error() -> None:
    raw = "9" * 10_000 + "x"
    with pytest.raises(MetricError) as excinfo:
        parse_metric(raw, source=SOURCE)
    assert len(str(excinfo.value)) < 600
    assert "10003 chars" in str(excinfo.value)
    assert excinfo.value.value == raw


@pytest.mark.parametrize(
    ("metric", "expected"),
    [
        ("accuracy", (0.0, 1.0)),
        ("balanced_accuracy", (0.0, 1.0)),
        ("precision", (0.0, 1.0)),
        ("recall", (0.0, 1.0)),
        ("f1", (0.0, 1.0)),
        ("auc", (0.0, 1.0)),
        ("roc_auc", (0.0, 1.0)),
        ("AUC", (0.0, 1.0)),
        ("r2", None),
        ("rmse", None),
        ("log_loss", None),
        ("mae", None),
        ("accuracy_pct", None),
    ],
)
def test_default_valid_range(metric: str, expected: tuple[float, float] | None) -> None:
    assert default_valid_range(metric) == expected


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (0.95, "0.95"),
        (0.1 + 0.2, "0.30000000000000004"),
        (1e-05, "1e-05"),
        (1e16, "1e+16"),
        (3, "3.0"),
        (0.0, "0.0"),
    ],
)
def test_format_metric_is_exact(value: float, text: str) -> None:
    assert format_metric(value) == text
    assert parse_metric(text, source=SOURCE) == value


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf, True, "0.5", None])
def test_format_metric_refuses_what_parse_metric_would_refuse(value: object) -> None:
    with pytest.raises(MetricError):
        format_metric(value)  # type: ignore[arg-type]


@given(st.floats(min_value=0.0, max_value=1.0))
def test_format_then_parse_round_trips_exactly(value: float) -> None:
    parsed = parse_metric(format_metric(value), source=SOURCE, valid_range=UNIT)
    assert parsed == value
    assert math.copysign(1.0, parsed) == math.copysign(1.0, value)


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_format_then_parse_round_trips_any_finite_float(value: float) -> None:
    assert parse_metric(format_metric(value), source=SOURCE) == value


_NUMBERISH = st.text(alphabet="0123456789.eE+-_ %,naifxjINF\t\n\u00a0\u0660", max_size=12)


@given(st.one_of(st.text(), _NUMBERISH))
def test_any_text_parses_to_a_finite_in_range_float_or_raises_metric_error(raw: str) -> None:
    try:
        result = parse_metric(raw, source=SOURCE, valid_range=UNIT)
    except MetricError as exc:
        assert SOURCE in str(exc)
        return
    assert type(result) is float
    assert math.isfinite(result)
    assert 0.0 <= result <= 1.0


_PLAIN_DECIMAL = st.from_regex(
    r"\A[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]{1,4})?\Z"
) | st.from_regex(r"\A[+-]?0\.[0-9]{15,30}\Z")


@given(_PLAIN_DECIMAL)
def test_every_plain_decimal_is_stored_as_the_value_it_says_or_refused(raw: str) -> None:
    """The record stores format_metric(value) and decide() compares that decimal: it must be
    the number the tag says, never a neighbour of it."""
    try:
        value = parse_metric(raw, source=SOURCE)
    except MetricError as exc:
        assert SOURCE in str(exc) and repr(raw) in str(exc)
        assert any(
            reason in str(exc)
            for reason in ("overflows", "underflows", "more digits than a float keeps")
        )
        return
    assert value == float(raw)
    assert Decimal(format_metric(value)) == Decimal(raw)


def _written_otherwise(value: float, zeros: int, plain: bool) -> str:
    """repr(value) as another text of the same number: more zeros, an exponent, or none."""
    sign, digits, exponent = Decimal(repr(value)).as_tuple()
    assert isinstance(exponent, int)
    text = f"{'-' if sign else ''}{''.join(map(str, digits))}{'0' * zeros}e{exponent - zeros}"
    return f"{Decimal(text):f}" if plain else text


@given(
    st.floats(allow_nan=False, allow_infinity=False),
    st.integers(0, 20),
    st.booleans(),
)
def test_any_text_that_is_exactly_a_float_is_accepted(
    value: float, zeros: int, plain: bool
) -> None:
    text = _written_otherwise(value, zeros, plain)
    assert Decimal(text) == Decimal(repr(value))
    parsed = parse_metric(text, source=SOURCE)
    assert parsed == value
    assert format_metric(parsed) == format_metric(value)


@given(st.floats(allow_nan=False, allow_infinity=False).filter(bool), st.integers(1, 9))
def test_a_digit_beyond_what_a_float_holds_is_refused(value: float, digit: int) -> None:
    exact = Decimal(repr(value))
    text = str(exact + digit * Decimal(10).scaleb(exact.adjusted() - 25))  # 26 significant digits
    with pytest.raises(MetricError, match="more digits than a float keeps"):
        parse_metric(text, source=SOURCE)


@given(st.integers(1, 9), st.integers(325, 10**6), st.sampled_from(["", "-", "+"]))
def test_any_non_zero_value_below_the_smallest_float_is_refused(
    digit: int, exponent: int, sign: str
) -> None:
    with pytest.raises(MetricError, match=r"underflows to 0\.0"):
        parse_metric(f"{sign}{digit}e-{exponent}", source=SOURCE)


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("1e-400", "underflows to 0.0"),
        ("-1e-400", "underflows to 0.0"),
        ("0.0000001e-320", "underflows to 0.0"),
        ("2.4e-324", "underflows to 0.0"),
        ("1e-99999999999999999999", "underflows to 0.0"),  # beyond Decimal's own exponents
        ("1e400", "overflows a float"),
        ("1.7976931348623159e308", "overflows a float"),
        ("1.00000000000000000001", "stored and compared as 1.0"),
        ("0.99999999999999999999", "stored and compared as 1.0"),
        ("4.9e-324", "stored and compared as 5e-324"),
        ("200000.00000000001", "stored and compared as 200000.0"),
        ("0.1000000000000000055511151231257827021181583404541015625", "compared as 0.1,"),
        (10**17 + 1, "stored and compared as 1e+17"),
    ],
)
def test_values_a_float_would_change_are_refused_with_the_reason(raw: object, reason: str) -> None:
    with pytest.raises(MetricError) as excinfo:
        parse_metric(raw, source=SOURCE, valid_range=UNIT)
    message = str(excinfo.value)
    assert reason in message
    assert message.startswith(SOURCE) and repr(raw) in message
    assert "\n" not in message
    assert excinfo.value.value == raw


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("0.953000000", 0.953),
        ("0.1", 0.1),
        ("9530e-4", 0.953),
        ("5e-324", 5e-324),
        ("2.2250738585072014e-308", 2.2250738585072014e-308),
        ("1.7976931348623157e308", 1.7976931348623157e308),
        ("0e-99999999999999999999", 0.0),
        ("-0.000", 0.0),
        (2**53, 2.0**53),
        (10**22, 1e22),
    ],
)
def test_long_or_extreme_values_that_are_exactly_a_float_are_accepted(
    raw: object, expected: float
) -> None:
    assert parse_metric(raw, source=SOURCE) == expected


def test_a_value_just_above_one_is_not_let_into_the_unit_range_as_one() -> None:
    with pytest.raises(MetricError, match="more digits than a float keeps"):
        parse_metric("1.00000000000000000001", source=SOURCE, valid_range=UNIT)
    assert parse_metric("1.000000000000000000", source=SOURCE, valid_range=UNIT) == 1.0


@given(st.floats())
def test_any_float_is_returned_unchanged_or_rejected(value: float) -> None:
    if math.isfinite(value):
        assert parse_metric(value, source=SOURCE) == value
    else:
        with pytest.raises(MetricError):
            parse_metric(value, source=SOURCE)


# --- the error tree (errors.py) -------------------------------------------------------------


@pytest.mark.parametrize(
    ("cls", "parent", "code", "exit_code"),
    [
        (ChampionError, Exception, "champion_error", 3),
        (InputError, ChampionError, "input_invalid", 2),
        (MetricError, InputError, "metric_invalid", 2),
        (PolicyError, InputError, "policy_invalid", 2),
        (ModelPathError, InputError, "model_path_invalid", 2),
        (UnscoredChampionError, InputError, "champion_unscored", 2),
        (ConflictError, InputError, "conflict", 2),
        (InfrastructureError, ChampionError, "infrastructure", 3),
        (WorkspaceStoreError, InfrastructureError, "workspace_store", 3),
        (RejectedError, ChampionError, "rejected", 1),
    ],
)
def test_error_tree_codes_and_exit_codes(
    cls: type[ChampionError], parent: type[Exception], code: str, exit_code: int
) -> None:
    assert cls.__bases__ == (parent,)
    assert cls.code == code
    assert cls.exit_code == exit_code
    assert cls.__doc__ and "\n" not in cls.__doc__.strip()
    error = cls("bad thing", field="f", value=[1])
    assert (error.message, error.field, error.value) == ("bad thing", "f", [1])
    assert str(error) == "bad thing"


def test_error_to_dict_and_pickle_keep_field_and_value() -> None:
    error = MetricError("tag accuracy 'x' is not a number", field="accuracy", value="x")
    assert error.to_dict() == {
        "code": "metric_invalid",
        "message": "tag accuracy 'x' is not a number",
        "field": "accuracy",
        "value": "'x'",
    }
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is MetricError
    assert (copy.message, copy.field, copy.value) == (error.message, "accuracy", "x")


def test_codes_are_unique() -> None:
    classes = [
        ChampionError,
        InputError,
        MetricError,
        PolicyError,
        ModelPathError,
        UnscoredChampionError,
        ConflictError,
        InfrastructureError,
        WorkspaceStoreError,
        RejectedError,
    ]
    assert len({cls.code for cls in classes}) == len(classes)
