"""Decisions over several metrics and relative margins: examples at every edge, and properties
of the multi-metric decision held against a plain reference implementation."""

from __future__ import annotations

from decimal import Decimal, localcontext

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from champion.decision import MetricRule, Outcome, Policy, decide
from champion.errors import MetricError, UnscoredChampionError

TWO = Policy.of(MetricRule("accuracy"), MetricRule("f1", min_relative=0.01))

# ---------------------------------------------------------------------- several metrics


def test_every_metric_must_pass_and_the_record_names_the_one_that_failed() -> None:
    decision = decide(
        {"accuracy": 0.96, "f1": 0.8}, {"accuracy": 0.95, "f1": 0.85}, TWO, champion_version=3
    )
    assert decision.outcome is Outcome.REJECTED
    assert decision.decided_by == "f1"
    assert [(c.metric, c.passed) for c in decision.comparisons] == [
        ("accuracy", True),
        ("f1", False),
    ]
    assert decision.reason.startswith("decided by f1 (2 metrics, all must pass; passed: accuracy)")
    assert decision.reason.endswith("; champion v3 stays")
    assert decision.reason.count("stays") == 1  # it was said twice
    assert decision.challenger == 0.96 and decision.champion == 0.95  # the primary's
    data = decision.to_dict()
    assert data["decided_by"] == "f1"
    assert [m["metric"] for m in data["metrics"]] == ["accuracy", "f1"]  # type: ignore[index]
    assert data["metrics"][1]["comparison"] == "0.8 > 0.85 + 0.0 and 0.8 >= 0.85 * (1 + 0.01)"  # type: ignore[index]


def test_all_passing_promotes_and_the_primary_is_named() -> None:
    decision = decide({"accuracy": 0.96, "f1": 0.9}, {"accuracy": 0.95, "f1": 0.85}, TWO)
    assert decision.outcome is Outcome.PROMOTED
    assert decision.decided_by == "accuracy"
    assert "passes every metric (accuracy, f1" in decision.reason
    assert decision.comparison.startswith("accuracy: 0.96 > 0.95 + 0.0; f1: 0.9 > 0.85")


def test_the_first_failing_metric_in_policy_order_decides() -> None:
    policy = Policy.of(MetricRule("a", valid_range=None), MetricRule("b", valid_range=None))
    decision = decide({"a": 1.0, "b": 1.0}, {"a": 2.0, "b": 2.0}, policy)
    assert decision.decided_by == "a"


def test_no_champion_applies_every_floor() -> None:
    policy = Policy.of(MetricRule("accuracy", floor=0.9), MetricRule("f1", floor=0.8))
    assert decide({"accuracy": 0.95, "f1": 0.85}, None, policy).outcome is Outcome.FIRST
    decision = decide({"accuracy": 0.95, "f1": 0.7}, None, policy)
    assert decision.outcome is Outcome.REJECTED and decision.decided_by == "f1"


def test_a_champion_without_one_metric_fails_closed_naming_it() -> None:
    with pytest.raises(UnscoredChampionError, match="'f1'"):
        decide(
            {"accuracy": 0.96, "f1": 0.9}, {"accuracy": 0.95, "f1": None}, TWO, champion_version=2
        )
    allowed = Policy.of(*TWO.rules, allow_unscored_champion=True)
    decision = decide(
        {"accuracy": 0.96, "f1": 0.9}, {"accuracy": 0.95}, allowed, champion_version=2
    )
    assert decision.outcome is Outcome.PROMOTED
    assert "has no f1 value and the policy allows" in decision.comparisons[1].reason


def test_values_must_cover_the_policy() -> None:
    with pytest.raises(MetricError, match="no 'f1'"):
        decide({"accuracy": 0.9}, None, TWO)
    with pytest.raises(MetricError, match="one number"):
        decide(0.9, None, TWO)


def test_each_metric_has_its_own_valid_range() -> None:
    policy = Policy.of(MetricRule("accuracy"), MetricRule("latency_ms", direction="lower"))
    assert decide({"accuracy": 0.9, "latency_ms": 120.0}, None, policy).promote
    with pytest.raises(MetricError, match="accuracy"):
        decide({"accuracy": 90.0, "latency_ms": 120.0}, None, policy)


# ---------------------------------------------------------------------- relative margins


@pytest.mark.parametrize(
    ("challenger", "outcome"),
    [("0.909", Outcome.PROMOTED), ("0.90899", Outcome.REJECTED), ("0.90901", Outcome.PROMOTED)],
    ids=["at", "just-below", "just-above"],
)
def test_a_relative_margin_is_met_at_the_threshold_exactly(challenger: str, outcome) -> None:
    """0.9 * 1.01 is 0.9090000000000001 in floats; exactly it is 0.909, and 0.909 passes."""
    policy = Policy(min_relative=0.01)
    decision = decide(float(challenger), 0.9, policy, champion_version=1)
    assert decision.outcome is outcome
    assert decision.comparison == f"{challenger} > 0.9 + 0.0 and {challenger} >= 0.9 * (1 + 0.01)"


@pytest.mark.parametrize(
    ("challenger", "promote"), [(90.0, True), (90.1, False), (89.9, True), (99.0, False)]
)
def test_lower_is_better_relative_margin(challenger: float, promote: bool) -> None:
    policy = Policy("latency_ms", direction="lower", min_relative=0.1)
    assert decide(challenger, 100.0, policy).promote is promote


def test_a_champion_of_zero_needs_a_strict_improvement() -> None:
    policy = Policy("r2", min_relative=0.5, valid_range=None)
    assert not decide(0.0, 0.0, policy).promote
    assert decide(1e-9, 0.0, policy).promote
    assert "relative to a champion of 0" in decide(1e-9, 0.0, policy).comparison
    lower = Policy("loss", direction="lower", min_relative=0.5)
    assert decide(-1e-9, 0.0, lower).promote


def test_a_negative_champion_scales_by_its_magnitude() -> None:
    """r2 can be negative: 10% better than -0.5 is -0.45, never -0.55 (which is worse)."""
    policy = Policy("r2", min_relative=0.1, valid_range=None)
    assert decide(-0.45, -0.5, policy).promote
    assert not decide(-0.46, -0.5, policy).promote
    assert decide(-0.45, -0.5, policy).comparison.endswith("-0.45 >= -0.5 + 0.1 * |-0.5|")


def test_an_absolute_and_a_relative_margin_must_both_hold() -> None:
    policy = Policy(min_delta=0.05, min_relative=0.01)
    assert not decide(0.93, 0.9, policy).promote  # relative yes, absolute no
    decision = decide(0.96, 0.9, policy)
    assert decision.promote and "min_relative 0.01" in decision.reason
    small = Policy(min_relative=0.1)
    assert "by less than min_relative 0.1" in decide(0.91, 0.9, small).reason


# ---------------------------------------------------------------------- properties

values = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False)
margins = st.floats(min_value=0.0, max_value=2.0, allow_nan=False)


@st.composite
def rules(draw: st.DrawFn, name: str) -> MetricRule:
    return MetricRule(
        name,
        direction=draw(st.sampled_from(["higher", "lower"])),
        min_delta=draw(st.one_of(st.just(0.0), margins)),
        min_relative=draw(st.one_of(st.just(0.0), margins)),
        floor=draw(st.one_of(st.none(), values)),
        valid_range=None,
    )


@st.composite
def cases(draw: st.DrawFn):
    count = draw(st.integers(min_value=1, max_value=3))
    names = [f"m{n}" for n in range(count)]
    policy = Policy.of(*(draw(rules(name)) for name in names))
    challenger = {name: draw(values) for name in names}
    # a champion near the challenger too, so ties and edges are drawn, not only far values
    near = st.one_of(values, st.sampled_from([0.0, *challenger.values()]))
    champion = draw(st.one_of(st.none(), st.fixed_dictionaries({n: near for n in names})))
    return policy, challenger, champion


def exact(value: float) -> Decimal:
    return Decimal(repr(value))


def reference(policy: Policy, challenger: dict, champion: dict | None) -> tuple[bool, str]:
    """The rules as the README says them, in Decimal with room for every digit."""
    with localcontext() as ctx:
        ctx.prec = 4000
        for rule in policy.rules:
            c = exact(challenger[rule.name])
            higher = rule.direction == "higher"
            floor_ok = rule.floor is None or (
                c >= exact(rule.floor) if higher else c <= exact(rule.floor)
            )
            ok = floor_ok
            if champion is not None:
                p = exact(champion[rule.name])
                gain = c - p if higher else p - c
                absolute = gain > exact(rule.min_delta)
                relative = gain > 0 if p == 0 else gain >= exact(rule.min_relative) * abs(p)
                ok = ok and absolute and relative
            if not ok:
                return False, rule.name
    return True, policy.metric


@settings(max_examples=400)
@given(cases())
def test_the_decision_agrees_with_the_reference(case) -> None:
    policy, challenger, champion = case
    decision = decide(challenger, champion, policy)
    promote, decided_by = reference(policy, challenger, champion)
    assert decision.promote is promote
    assert decision.decided_by == decided_by
    assert decision.outcome is (
        (Outcome.FIRST if champion is None else Outcome.PROMOTED) if promote else Outcome.REJECTED
    )
    assert [c.metric for c in decision.comparisons] == list(policy.metrics)


@given(cases())
def test_a_tie_on_every_metric_never_promotes(case) -> None:
    policy, challenger, _ = case
    assert not decide(challenger, dict(challenger), policy).promote


@given(cases(), st.integers(min_value=0, max_value=2))
def test_adding_a_metric_never_turns_a_loss_into_a_win(case, drop: int) -> None:
    policy, challenger, champion = case
    if len(policy.rules) < 2:
        return
    fewer = Policy.of(*(r for n, r in enumerate(policy.rules) if n != drop % len(policy.rules)))
    if decide(challenger, champion, policy).promote:
        assert decide(challenger, champion, fewer).promote


@given(cases())
def test_a_dry_run_tells_the_same_verdict_and_registers_nothing(case) -> None:
    policy, challenger, champion = case
    decision = decide(challenger, champion, policy)
    dry = decision.as_dry_run()
    assert not dry.promote and dry.dry_run
    assert dry.outcome is (Outcome.WOULD_PROMOTE if decision.promote else Outcome.WOULD_REJECT)
    assert dry.comparisons == decision.comparisons
