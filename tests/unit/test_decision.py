"""The champion/challenger decision: every rule, every edge, and properties over random values."""

from __future__ import annotations

import dataclasses
import json
import math
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from champion.decision import Decision, Outcome, Policy, decide
from champion.errors import InputError, MetricError, PolicyError, UnscoredChampionError
from champion.metrics import parse_metric

LOWER = Policy("rmse", direction="lower")

# --- no champion ------------------------------------------------------------------------------


def test_first_model_without_floor_is_registered() -> None:
    decision = decide(0.95, None, Policy())
    assert decision.outcome is Outcome.FIRST
    assert decision.promote
    assert decision.champion is None
    assert decision.champion_version is None
    assert "no registered champion" in decision.reason


@pytest.mark.parametrize("challenger", [0.9, 0.95])
def test_first_model_reaching_the_floor_is_registered(challenger: float) -> None:
    decision = decide(challenger, None, Policy(floor=0.9))
    assert decision.outcome is Outcome.FIRST
    assert decision.comparison == f"{challenger!r} >= 0.9"


def test_first_model_below_the_floor_is_rejected() -> None:
    decision = decide(0.85, None, Policy(floor=0.9))
    assert decision.outcome is Outcome.REJECTED
    assert not decision.promote
    assert "floor 0.9" in decision.reason
    assert decision.comparison == "0.85 >= 0.9"


def test_first_model_floor_for_lower_is_better_is_a_ceiling() -> None:
    assert decide(2.0, None, Policy("rmse", direction="lower", floor=2.0)).promote
    assert not decide(2.5, None, Policy("rmse", direction="lower", floor=2.0)).promote


# --- against a champion, higher is better ------------------------------------------------------


def test_higher_challenger_wins() -> None:
    decision = decide(0.9667, 0.9333, Policy(), champion_version=3)
    assert decision.outcome is Outcome.PROMOTED
    assert decision.promote
    assert decision.comparison == "0.9667 > 0.9333 + 0.0"
    assert "champion v3" in decision.reason
    assert decision.champion == 0.9333
    assert decision.champion_version == 3


def test_lower_challenger_loses() -> None:
    decision = decide(0.9, 0.9333, Policy(), champion_version=3)
    assert decision.outcome is Outcome.REJECTED
    assert not decision.promote
    assert "champion v3 stays" in decision.reason


def test_tie_keeps_the_champion() -> None:
    decision = decide(0.9333, 0.9333, Policy(), champion_version=3)
    assert decision.outcome is Outcome.REJECTED
    assert "tie" in decision.reason


def test_smallest_possible_win_is_a_win() -> None:
    assert decide(math.nextafter(0.5, 1.0), 0.5, Policy()).promote
    assert not decide(math.nextafter(0.5, 0.0), 0.5, Policy()).promote


def test_champion_version_is_optional_with_a_champion_value() -> None:
    decision = decide(0.9, 0.8, Policy())
    assert decision.outcome is Outcome.PROMOTED
    assert "the champion" in decision.reason


# --- lower is better ---------------------------------------------------------------------------


def test_lower_is_better_win() -> None:
    decision = decide(1.2, 1.5, LOWER, champion_version=2)
    assert decision.outcome is Outcome.PROMOTED
    assert decision.comparison == "1.2 < 1.5 - 0.0"


def test_lower_is_better_loss() -> None:
    assert decide(1.8, 1.5, LOWER, champion_version=2).outcome is Outcome.REJECTED


def test_lower_is_better_tie() -> None:
    decision = decide(1.5, 1.5, LOWER, champion_version=2)
    assert decision.outcome is Outcome.REJECTED
    assert "tie" in decision.reason


def test_lower_is_better_accepts_values_outside_unit_range() -> None:
    assert decide(-3.0, 250.0, LOWER).promote


# --- min_delta and floor -----------------------------------------------------------------------


def test_min_delta_blocks_a_small_win() -> None:
    decision = decide(0.95, 0.94, Policy(min_delta=0.02), champion_version=1)
    assert decision.outcome is Outcome.REJECTED
    assert decision.comparison == "0.95 > 0.94 + 0.02"
    assert "min_delta 0.02" in decision.reason


def test_min_delta_allows_a_large_win() -> None:
    assert decide(0.97, 0.94, Policy(min_delta=0.02), champion_version=1).promote


def test_min_delta_for_lower_is_better() -> None:
    policy = Policy("rmse", direction="lower", min_delta=0.5)
    assert not decide(1.2, 1.5, policy).promote
    assert decide(0.9, 1.5, policy).promote


@pytest.mark.parametrize(
    ("challenger", "champion", "min_delta"),
    [
        (0.3, 0.1, 0.2),  # 0.3 > 0.1 + 0.2 is False in floats (0.30000000000000004)
        (0.8, 0.6, 0.2),  # 0.8 - 0.6 > 0.2 is True in floats (0.20000000000000007)
        (0.7, 0.5, 0.2),
        (0.9, 0.6, 0.3),
        (1.0, 0.9, 0.1),
    ],
)
def test_improvement_exactly_equal_to_min_delta_in_decimal_is_a_tie(
    challenger: float, champion: float, min_delta: float
) -> None:
    assert not decide(challenger, champion, Policy(min_delta=min_delta)).promote
    lower = Policy("err", direction="lower", min_delta=min_delta)
    assert not decide(champion, challenger, lower).promote


def test_floor_blocks_a_winner() -> None:
    decision = decide(0.85, 0.80, Policy(floor=0.9), champion_version=4)
    assert decision.outcome is Outcome.REJECTED
    assert "floor 0.9" in decision.reason
    assert decision.comparison == "0.85 > 0.8 + 0.0 and 0.85 >= 0.9"


def test_floor_met_and_win_promotes() -> None:
    assert decide(0.95, 0.92, Policy(floor=0.9), champion_version=4).promote


# --- bad values never promote ------------------------------------------------------------------


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_non_finite_challenger_raises(bad: float) -> None:
    with pytest.raises(MetricError, match="challenger"):
        decide(bad, 0.5, Policy())
    with pytest.raises(MetricError, match="challenger"):
        decide(bad, None, Policy())


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_non_finite_champion_raises(bad: float) -> None:
    with pytest.raises(MetricError, match="champion"):
        decide(0.5, bad, Policy(), champion_version=1)


@pytest.mark.parametrize("bad", [math.nan, math.inf])
def test_non_finite_values_raise_for_lower_is_better_too(bad: float) -> None:
    with pytest.raises(MetricError):
        decide(bad, 1.0, LOWER)
    with pytest.raises(MetricError):
        decide(1.0, bad, LOWER)


@pytest.mark.parametrize("bad", [True, "0.9", None])
def test_non_float_challenger_raises(bad: object) -> None:
    with pytest.raises(MetricError) as excinfo:
        decide(bad, 0.5, Policy())  # type: ignore[arg-type]
    assert repr(bad) in str(excinfo.value)


def test_values_outside_the_policy_range_raise() -> None:
    with pytest.raises(MetricError, match=r"\[0\.0, 1\.0\]"):
        decide(95.0, 0.9, Policy())
    with pytest.raises(MetricError, match="champion"):
        decide(0.95, 93.0, Policy())


@pytest.mark.parametrize("version", [0, -1, True, 1.0, "3"])
def test_invalid_champion_version_raises(version: object) -> None:
    with pytest.raises(InputError) as excinfo:
        decide(0.9, 0.8, Policy(), champion_version=version)  # type: ignore[arg-type]
    assert excinfo.value.field == "champion_version"


# --- unscored champion -------------------------------------------------------------------------


def test_unscored_champion_fails_closed_by_default() -> None:
    with pytest.raises(UnscoredChampionError) as excinfo:
        decide(0.95, None, Policy(), champion_version=3)
    assert "version 3" in str(excinfo.value)
    assert "allow_unscored_champion" in str(excinfo.value)
    assert excinfo.value.value == 3
    assert excinfo.value.exit_code == 2


def test_unscored_champion_allowed_promotes_and_says_so() -> None:
    decision = decide(0.95, None, Policy(allow_unscored_champion=True), champion_version=3)
    assert decision.outcome is Outcome.PROMOTED
    assert decision.champion is None
    assert decision.champion_version == 3
    assert "unscored" in decision.reason
    assert "v3" in decision.reason


def test_unscored_champion_allowed_still_applies_the_floor() -> None:
    policy = Policy(allow_unscored_champion=True, floor=0.9)
    assert decide(0.85, None, policy, champion_version=3).outcome is Outcome.REJECTED
    assert decide(0.95, None, policy, champion_version=3).outcome is Outcome.PROMOTED


# --- Policy validation -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"min_delta": -1}, "min_delta"),
        ({"min_delta": -1e-12}, "min_delta"),
        ({"min_delta": math.nan}, "min_delta"),
        ({"min_delta": math.inf}, "min_delta"),
        ({"min_delta": True}, "min_delta"),
        ({"min_delta": "0.1"}, "min_delta"),
        ({"floor": 1.5}, "floor"),
        ({"floor": -0.1}, "floor"),
        ({"floor": math.nan}, "floor"),
        ({"direction": "up"}, "direction"),
        ({"direction": "Higher"}, "direction"),
        ({"direction": None}, "direction"),
        ({"valid_range": (1.0, 0.0)}, "valid_range"),
        ({"valid_range": (0.5, 0.5)}, "valid_range"),
        ({"valid_range": (math.nan, 1.0)}, "valid_range"),
        ({"valid_range": (0.0, math.inf)}, "valid_range"),
        ({"valid_range": (0.0,)}, "valid_range"),
        ({"valid_range": "0,1"}, "valid_range"),
        ({"metric": ""}, "metric"),
        ({"metric": " accuracy"}, "metric"),
        ({"metric": None}, "metric"),
        ({"allow_unscored_champion": "yes"}, "allow_unscored_champion"),
    ],
)
def test_invalid_policy_raises_policy_error_naming_field_and_value(
    kwargs: dict[str, object], field: str
) -> None:
    with pytest.raises(PolicyError) as excinfo:
        Policy(**kwargs)  # type: ignore[arg-type]
    assert excinfo.value.field == field
    assert field in str(excinfo.value)
    assert repr(kwargs[field]) in str(excinfo.value)
    assert excinfo.value.exit_code == 2


def test_policy_defaults() -> None:
    policy = Policy()
    assert policy.metric == "accuracy"
    assert policy.direction == "higher"
    assert policy.min_delta == 0.0
    assert policy.floor is None
    assert policy.valid_range == (0.0, 1.0)
    assert policy.allow_unscored_champion is False


def test_policy_valid_range_defaults_per_metric_and_none_means_unbounded() -> None:
    assert Policy("rmse").valid_range is None
    assert Policy("roc_auc").valid_range == (0.0, 1.0)
    assert Policy(valid_range=None).valid_range is None
    assert decide(95.0, 90.0, Policy(valid_range=None)).promote
    assert Policy("rmse", valid_range=(0, 10), floor=5).valid_range == (0.0, 10.0)


def test_policy_floor_on_range_bound_is_allowed() -> None:
    assert Policy(floor=1.0).floor == 1.0
    assert Policy(floor=0).floor == 0.0


def test_policy_is_frozen_and_hashable() -> None:
    policy = Policy(min_delta=0.01)
    with pytest.raises(dataclasses.FrozenInstanceError):
        policy.min_delta = 0.5  # type: ignore[misc]
    assert policy == Policy(min_delta=0.01)
    assert hash(policy) == hash(Policy(min_delta=0.01))
    assert policy != Policy(min_delta=0.02)


def test_policy_to_dict_uses_exact_strings() -> None:
    policy = Policy(min_delta=0.1 + 0.2, floor=0.9)
    rule = {
        "metric": "accuracy",
        "direction": "higher",
        "min_delta": "0.30000000000000004",
        "min_relative": "0.0",
        "floor": "0.9",
        "valid_range": ["0.0", "1.0"],
    }
    assert policy.to_dict() == {
        **rule,
        "metrics": [rule],
        "allow_unscored_champion": False,
        "allow_different_test_data": False,
    }


# --- Decision ------------------------------------------------------------------------------------


def test_outcome_values_are_stable_strings() -> None:
    assert [o.value for o in Outcome] == [
        "first",
        "promoted",
        "rejected",
        "already_registered",
        "would_promote",
        "would_reject",
        "rolled_back",
        "race_repaired",
    ]
    assert Outcome("promoted") is Outcome.PROMOTED
    assert isinstance(Outcome.FIRST, str)


def test_already_registered_does_not_promote() -> None:
    decision = Decision(
        outcome=Outcome.ALREADY_REGISTERED,
        challenger=0.9,
        champion=0.9,
        champion_version=5,
        policy=Policy(),
        comparison="registered by this run",
        reason="this run already registered version 5",
    )
    assert not decision.promote


def test_decision_to_dict_is_json_ready_with_exact_strings() -> None:
    decision = decide(0.1 + 0.2, 0.25, Policy(min_delta=0.01), champion_version=7)
    data = decision.to_dict()
    assert json.loads(json.dumps(data)) == data
    assert data["outcome"] == "promoted"
    assert data["promote"] is True
    assert data["challenger"] == "0.30000000000000004"
    assert data["champion"] == "0.25"
    assert data["champion_version"] == 7
    assert data["comparison"] == "0.30000000000000004 > 0.25 + 0.01"
    assert data["policy"] == Policy(min_delta=0.01).to_dict()
    assert "\n" not in str(data["reason"])


def test_decision_to_dict_without_champion() -> None:
    data = decide(0.5, None, Policy()).to_dict()
    assert data["champion"] is None
    assert data["champion_version"] is None
    assert data["outcome"] == "first"


# --- properties ----------------------------------------------------------------------------------

unit = st.floats(min_value=0.0, max_value=1.0)
finite = st.floats(allow_nan=False, allow_infinity=False, min_value=-1e12, max_value=1e12)
deltas = st.floats(min_value=0.0, max_value=1.0)


@given(unit, unit)
def test_promotion_is_antisymmetric(a: float, b: float) -> None:
    if decide(a, b, Policy()).promote:
        assert not decide(b, a, Policy()).promote


@given(unit, unit, deltas)
def test_promotion_is_antisymmetric_with_min_delta(a: float, b: float, delta: float) -> None:
    policy = Policy(min_delta=delta)
    assert not (decide(a, b, policy).promote and decide(b, a, policy).promote)


@given(unit, unit)
def test_with_zero_delta_promotion_is_exactly_strict_greater(a: float, b: float) -> None:
    assert decide(a, b, Policy()).promote == (a > b)


@given(unit, unit, unit, deltas)
def test_promotion_is_monotone_in_the_challenger(
    x: float, y: float, champion: float, delta: float
) -> None:
    low, high = sorted((x, y))
    policy = Policy(min_delta=delta)
    if decide(low, champion, policy).promote:
        assert decide(high, champion, policy).promote


@given(unit, unit, deltas, deltas)
def test_a_larger_min_delta_never_turns_a_loss_into_a_win(
    a: float, b: float, d1: float, d2: float
) -> None:
    small, large = sorted((d1, d2))
    if decide(a, b, Policy(min_delta=large)).promote:
        assert decide(a, b, Policy(min_delta=small)).promote


@given(finite, finite, st.floats(min_value=0.0, max_value=1e6), st.none() | finite)
def test_lower_is_better_mirrors_higher_is_better(
    a: float, b: float, delta: float, floor: float | None
) -> None:
    higher = Policy("score", min_delta=delta, floor=floor)
    lower = Policy(
        "loss", direction="lower", min_delta=delta, floor=None if floor is None else -floor
    )
    assert decide(a, b, higher).outcome == decide(-a, -b, lower).outcome


@given(
    st.decimals(min_value=0, max_value="0.5", places=4),
    st.decimals(min_value=0, max_value="0.4", places=4),
)
def test_decimal_ties_are_ties_and_one_step_more_wins(champion: Decimal, delta: Decimal) -> None:
    # Ground truth from decimal arithmetic, not from the implementation under test.
    tie = float(champion + delta)
    win = float(champion + delta + Decimal("0.0001"))
    policy = Policy(min_delta=float(delta))
    assert not decide(tie, float(champion), policy).promote
    assert decide(win, float(champion), policy).promote


@given(st.floats(), st.none() | st.floats())
def test_decide_never_promotes_on_non_finite_input(
    challenger: float, champion: float | None
) -> None:
    values = [challenger] if champion is None else [challenger, champion]
    try:
        decision = decide(challenger, champion, Policy(valid_range=None))
    except MetricError:
        assert not all(math.isfinite(v) for v in values)
        return
    assert all(math.isfinite(v) for v in values)
    assert decision.outcome in (Outcome.FIRST, Outcome.PROMOTED, Outcome.REJECTED)


# --- exactness: the numbers compared are the numbers the tags and flags say ----------------------

_TAG_TEXT = st.decimals(min_value=0, max_value=1, places=20, allow_nan=False).map(str) | st.floats(
    0.0, 1.0
).map(repr)


@given(_TAG_TEXT, _TAG_TEXT, st.sampled_from(["0", "0.01", "1e-17", "0.000000000000000000001"]))
def test_a_decision_on_tag_texts_is_the_exact_decimal_comparison_of_those_texts(
    challenger: str, champion: str, min_delta: str
) -> None:
    """Ground truth from the texts themselves: any text the parser accepts must be decided as
    the decimal it spells, and any other must be refused, never rounded into a verdict."""
    policy = Policy.from_flags(
        "accuracy",
        lower_is_better=False,
        min_delta=min_delta,
        floor=None,
        allow_unscored_champion=False,
    )
    try:
        ch = parse_metric(challenger, source="challenger", valid_range=policy.valid_range)
        cp = parse_metric(champion, source="champion", valid_range=policy.valid_range)
    except MetricError as exc:
        assert "more digits than a float keeps" in str(exc)
        return
    expected = Decimal(challenger) - Decimal(champion) > Decimal(min_delta)
    assert decide(ch, cp, policy).promote == expected


@pytest.mark.parametrize(
    ("field", "text", "reason"),
    [
        ("floor", "1e-400", "underflows to 0.0"),
        ("min_delta", "1e400", "overflows a float"),
        ("min_delta", "0.01000000000000000000001", "stored and compared as 0.01"),
        ("floor", "0.9_5", "not a plain decimal"),
        ("floor", "inf", "not a plain decimal"),
    ],
)
def test_policy_values_given_as_text_are_parsed_exactly(field: str, text: str, reason: str) -> None:
    flags = {"min_delta": "0", "floor": None, field: text}
    with pytest.raises(PolicyError) as excinfo:
        Policy.from_flags("accuracy", lower_is_better=False, allow_unscored_champion=False, **flags)
    assert reason in str(excinfo.value) and repr(text) in str(excinfo.value)
    assert excinfo.value.field == field and excinfo.value.exit_code == 2


def test_policy_text_that_is_exactly_a_float_is_kept_as_typed() -> None:
    policy = Policy.from_flags(
        "accuracy",
        lower_is_better=False,
        min_delta="0.0100",
        floor="9.0e-1",
        allow_unscored_champion=False,
    )
    assert (policy.min_delta, policy.floor) == (0.01, 0.9)
    assert policy.to_dict()["min_delta"] == "0.01" and policy.to_dict()["floor"] == "0.9"
