"""The rule racing gates converge by (`champion.registry._race`), on versions as a registry
stores them: where a serial order ends, the same for every gate that reads the same versions,
and nothing to change when the registry is there already."""

from __future__ import annotations

import itertools

import pytest

from champion import Policy
from champion.registry import ModelVersion
from champion.registry._race import Window, fold, origin_of, widened, window_of

POLICY = Policy()


def version(
    number: int,
    accuracy: str | None,
    *,
    against: int | None = None,
    outcome: str = "promoted",
    **extra: str,
) -> ModelVersion:
    properties = {"champion.outcome": outcome, **extra}
    if accuracy is not None:
        properties["accuracy"] = accuracy
    if against is not None:
        properties["champion.previous_version"] = str(against)
    return ModelVersion("iris", number, properties)


def end(versions: list[ModelVersion], initial: ModelVersion | None = None, floor: int = 0) -> int:
    best, _ = fold(initial, versions, POLICY, floor)
    assert best is not None
    return origin_of(best)


def test_a_serial_history_ends_on_its_last_decision_whatever_the_numbers():
    """Each decided against the one before: a serial order, which the fold keeps even where the
    stored numbers go down (a re-scored or re-measured comparison decided it)."""
    chain = [
        version(1, "0.9", outcome="first"),
        version(2, "0.95", against=1),
        version(3, "0.80", against=2),  # won on re-scored numbers
    ]
    assert end(chain) == 3
    assert fold(None, chain, POLICY, 0)[1] == []  # no racer among them


def test_racing_decisions_end_on_the_best_ties_to_the_earliest():
    base = version(1, "0.5", outcome="first")
    racers = [version(n, a, against=1) for n, a in [(2, "0.7"), (3, "0.9"), (4, "0.6"), (5, "0.9")]]
    assert end([base, *racers]) == 3  # 0.9 twice: the earlier, v3
    _, met = fold(None, [base, *racers], POLICY, 0)
    assert [v.version for v in met] == [3, 4, 5]  # v2 followed v1 serially; the rest raced


def test_racing_firsts_end_on_the_best_first():
    firsts = [version(n, a, outcome="first") for n, a in [(1, "0.3"), (2, "0.8"), (3, "0.5")]]
    assert end(firsts) == 2


@pytest.mark.parametrize("order", list(itertools.permutations(["0.6", "0.9", "0.7", "0.8"])))
def test_every_order_of_racers_ends_on_the_best(order):
    base = version(1, "0.5", outcome="first")
    racers = [version(n + 2, a, against=1) for n, a in enumerate(order)]
    assert end([base, *racers]) == 2 + order.index("0.9")


def test_a_decision_made_against_a_loser_of_a_race_does_not_win_by_that():
    """v3 lost its race to v2; v4 was decided against v3 (it read v3 while v3 held the alias):
    it must beat v2 itself."""
    versions = [
        version(1, "0.5", outcome="first"),
        version(2, "0.9", against=1),
        version(3, "0.6", against=1),
        version(4, "0.7", against=3),
    ]
    assert end(versions) == 2
    versions.append(version(5, "0.95", against=4))
    assert end(versions) == 5


def test_the_policy_decides_who_beats_whom():
    versions = [
        version(1, "0.30", outcome="first"),
        version(2, "0.20", against=1),
        version(3, "0.25", against=1),
    ]
    best, _ = fold(None, versions, Policy(direction="lower", valid_range=None), 0)
    assert best is not None and best.version == 2
    margin = Policy(min_delta=0.05)
    racers = [version(1, "0.5", outcome="first"), version(2, "0.8", against=1)]
    racers.append(version(3, "0.82", against=1))  # better, but not by min_delta
    best, _ = fold(None, racers, margin, 0)
    assert best is not None and best.version == 2


def test_a_copy_counts_as_the_version_it_copies_and_a_second_copy_changes_nothing():
    racing = [
        version(1, "0.5", outcome="first"),
        version(2, "0.9", against=1),
        version(3, "0.6", against=1),
    ]
    copy = version(4, "0.9", against=3, outcome="race_repaired", **{"champion.race_repair_of": "2"})
    again = version(
        5, "0.9", against=4, outcome="race_repaired", **{"champion.race_repair_of": "2"}
    )
    assert end(racing) == end([*racing, copy]) == end([*racing, copy, again]) == 2


def test_a_rollback_resets_the_champion():
    """Azure ML: the rollback is a copy on top; MLflow: the earlier version is tagged, and its
    `previous_version` names the version it displaced."""
    history = [
        version(1, "0.9", outcome="first"),
        version(2, "0.95", against=1),
        version(3, "0.7", against=1, outcome="rolled_back", **{"champion.rollback_of": "1"}),
    ]
    assert end(history) == 1
    history.append(version(4, "0.8", against=3))  # decided against the rolled-back champion
    assert end(history) == 4
    in_place = version(1, "0.9", against=2, outcome="rolled_back", **{"champion.rollback_of": "1"})
    window = window_of(in_place)
    assert window == Window(1, 2)  # v2, rolled back from, is not weighed
    later = version(3, "0.92", against=1)
    assert end([version(2, "0.95", against=1), later], in_place, window.floor) == 3
    assert widened(window, [later]) is None


def test_the_window_starts_one_decision_back_and_widens_for_older_racers():
    champion = version(5, "0.9", against=4)
    assert window_of(champion) == Window(4, 4)
    assert window_of(None) == Window(None, 0)
    assert window_of(version(1, "0.9", outcome="first")) == Window(None, 0)
    assert window_of(version(7, "0.9", outcome="race_repaired")) == Window(7, 7)
    assert window_of(version(7, "0.9", outcome="", **{})) == Window(7, 7)  # by hand
    slow = version(6, "0.8", against=2)  # decided against v2 while v3..v5 were registered
    assert widened(Window(4, 4), [champion, slow]) == Window(2, 2)
    marked = version(6, "0.8", against=5, **{"champion.race_from": "1"})
    assert widened(Window(4, 4), [champion, marked]) == Window(1, 1)
    assert widened(Window(4, 4), [champion, version(6, "0.95", against=5)]) is None
