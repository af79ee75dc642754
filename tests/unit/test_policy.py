"""Policies of several metrics: the `--metric` spec, today's one-metric flags, the TOML file."""

from __future__ import annotations

import pytest

from champion.decision import MetricRule, Policy
from champion.errors import PolicyError

# ---------------------------------------------------------------------- --metric specs


def test_a_spec_names_the_metric_its_direction_and_settings() -> None:
    rule = MetricRule.parse("latency_ms:lower,min_delta=5,min_relative=0.1,floor=250")
    assert rule == MetricRule(
        "latency_ms", direction="lower", min_delta=5, min_relative=0.1, floor=250
    )
    assert MetricRule.parse("accuracy") == MetricRule("accuracy")
    assert MetricRule.parse("f1:higher,min_relative=0.01").min_relative == 0.01


def test_a_name_may_hold_a_colon_when_its_direction_follows() -> None:
    assert MetricRule.parse("eval:f1:higher").name == "eval:f1"
    assert MetricRule.parse("eval:f1:lower").direction == "lower"


@pytest.mark.parametrize(
    "spec", ["loss:LOWER", "loss:Lower", "loss:low", "accuracy:", "eval:f1", "loss:lower "]
)
def test_whatever_follows_the_last_colon_is_exactly_a_direction(spec: str) -> None:
    # `loss:LOWER` once read as a metric *named* "loss:LOWER", higher is better.
    with pytest.raises(PolicyError) as excinfo:
        MetricRule.parse(spec)
    assert "is not a direction" in excinfo.value.message
    assert "NAME:higher or NAME:lower" in excinfo.value.message
    assert excinfo.value.exit_code == 2


def test_a_spec_sets_the_valid_range_or_none() -> None:
    assert MetricRule.parse("r2,valid_range=-1:1").valid_range == (-1.0, 1.0)
    assert MetricRule.parse("accuracy,valid_range=none").valid_range is None
    assert MetricRule.parse("accuracy").valid_range == (0.0, 1.0)


@pytest.mark.parametrize(
    ("spec", "says"),
    [
        ("accuracy,min_detla=0.1", "'min_detla=0.1' is not a setting"),
        ("accuracy,0.1", "'0.1' is not a setting"),
        ("accuracy,floor=0.5,floor=0.6", "sets floor twice"),
        ("accuracy,floor=95%", "'95%'"),
        ("accuracy,min_delta=1e-400", "underflows"),
        ("accuracy,min_relative=-0.1", "min_relative"),
        ("accuracy,floor=1.5", "valid_range"),
        ("accuracy:sideways", "'sideways' is not a direction"),
        (" accuracy", "metric"),
        ("", "--metric"),
        ("r2,valid_range=1", "LOW:HIGH"),
    ],
)
def test_a_bad_spec_is_refused_naming_it(spec: str, says: str) -> None:
    with pytest.raises(PolicyError) as excinfo:
        MetricRule.parse(spec)
    assert says in excinfo.value.message
    assert excinfo.value.exit_code == 2


# ---------------------------------------------------------------------- several --metric


def test_several_specs_make_a_policy_whose_first_is_the_primary() -> None:
    policy = Policy.from_specs(["accuracy", "f1,min_relative=0.01", "latency_ms:lower"])
    assert policy.metrics == ("accuracy", "f1", "latency_ms")
    assert policy.metric == "accuracy"
    assert policy.rules[2].direction == "lower"
    assert Policy.from_specs([]) == Policy()


def test_today_s_flags_still_mean_the_one_metric() -> None:
    policy = Policy.from_specs(["rmse"], lower_is_better=True, min_delta="0.5", floor="2")
    assert policy == Policy("rmse", direction="lower", min_delta=0.5, floor=2.0)
    assert Policy.from_specs([], min_delta="0.01") == Policy(min_delta=0.01)


@pytest.mark.parametrize(
    ("specs", "flags", "says"),
    [
        (["accuracy", "f1"], {"min_delta": "0.1"}, "--min-delta apply to one metric"),
        (["accuracy", "f1"], {"lower_is_better": True}, "--lower-is-better apply"),
        (["accuracy,floor=0.5"], {"floor": "0.6"}, "--floor and --metric"),
        (["rmse:higher"], {"lower_is_better": True}, "--lower-is-better and --metric"),
        (["accuracy", "accuracy"], {}, "accuracy twice"),
    ],
)
def test_flags_that_could_mean_either_are_refused(specs, flags, says) -> None:
    with pytest.raises(PolicyError, match=says):
        Policy.from_specs(specs, **flags)


def test_a_policy_of_several_metrics_records_each() -> None:
    policy = Policy.of(MetricRule("accuracy"), MetricRule("latency_ms", direction="lower"))
    data = policy.to_dict()
    assert data["metric"] == "accuracy"
    assert [m["metric"] for m in data["metrics"]] == ["accuracy", "latency_ms"]
    assert data["metrics"][1]["direction"] == "lower"


# ---------------------------------------------------------------------- the TOML file

FILE = """
allow_different_test_data = true

[[metric]]
name = "accuracy"
min_relative = 0.01
floor = 0.8

[[metric]]
name = "latency_ms"
direction = "lower"
min_delta = 5
valid_range = []

[[metric]]
name = "r2"
valid_range = [-1, 1.0]
"""


def test_the_policy_file_gives_every_setting() -> None:
    policy = Policy.from_toml(FILE)
    assert policy == Policy.of(
        MetricRule("accuracy", min_relative=0.01, floor=0.8),
        MetricRule("latency_ms", direction="lower", min_delta=5, valid_range=None),
        MetricRule("r2", valid_range=(-1, 1)),
        allow_different_test_data=True,
    )
    assert not policy.allow_unscored_champion


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("[[metric]]\nname = 'accuracy'\nmin_detla = 0.1\n", "unknown key(s) min_detla"),
        ("allow_unscored = true\n[[metric]]\nname = 'a'\n", "unknown key(s) allow_unscored"),
        ("x = \n", "not valid TOML"),
        ("allow_unscored_champion = true\n", "no [[metric]] table"),
        ("[[metric]]\nfloor = 0.5\n", "has no name"),
        ("[[metric]]\nname = 'loss:LOWER'\n", "ends in a direction"),
        ("[[metric]]\nname = 'accuracy'\nfloor = 1.00000000000000000001\n", "more digits"),
        ("[[metric]]\nname = 'accuracy'\nfloor = '95%'\n", "'95%'"),
        ("[[metric]]\nname = 'accuracy'\nfloor = true\n", "give a number"),
        ("[[metric]]\nname = 'accuracy'\ndirection = 'up'\n", "direction"),
        ("[[metric]]\nname = 'accuracy'\nvalid_range = [1]\n", "[low, high]"),
        ("allow_different_test_data = 1\n[[metric]]\nname = 'a'\n", "true or false"),
        ("[[metric]]\nname = 'a'\n[[metric]]\nname = 'a'\n", "a twice"),
    ],
)
def test_a_bad_policy_file_is_refused_naming_the_key(text: str, says: str) -> None:
    with pytest.raises(PolicyError) as excinfo:
        Policy.from_toml(text, source="policy.toml")
    assert says in excinfo.value.message
    assert excinfo.value.exit_code == 2


def test_a_quoted_number_in_the_file_is_read_exactly_too() -> None:
    assert Policy.from_toml("[[metric]]\nname = 'accuracy'\nfloor = '0.9'\n").floor == 0.9
