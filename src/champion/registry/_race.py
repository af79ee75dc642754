"""Racing gates converge: where the registry must end after gates decided at the same time, by
one deterministic rule every gate applies (`Registry.converge` does the reading and moving).

Why a rule of its own: Azure ML and MLflow have no registry lock, so two gates can compare with
the same champion and both register; whichever lands last used to stand, and a 0.7 could end up
champion over a 0.9. The registry must end where a serial order would have put it. Every gate
computes that place from the registry's own versions, the same way, so concurrent repairs agree
and a repair applied twice changes nothing:

- **the window**: the decisions weighed start from the champion the gate compared with, one
  step back (the version *it* was compared with), so the decisions that raced with the champion
  itself count too (`window_of`). A decision in the window that was compared with an older
  champion, or a version marked `champion.race_from` (a repair's start), widens it
  (`widened`). A rollback (by hand) and a race repair's copy start a window of their own.
- **the fold** (`fold`): the decisions in version order, as if made one after the other. One
  whose recorded `champion.previous_version` is the champion so far was decided against it: it
  replaces it, whatever the numbers (that comparison was made, maybe on re-scored data). One
  decided against an older champion raced: it replaces the champion so far only if the
  policy says it beats it (`decide`: every metric, margins, direction); a tie keeps the earlier.
  A rollback resets the champion to its version (the human's choice stands); a race repair's
  copy counts as the version it copies. Versions no gate decided (registered by hand) are not
  weighed.
- **the end**: the fold's champion. MLflow moves its alias there; where the champion is the
  latest version (Azure ML, the local workspace), a latest version that is not it gets the
  best one's files registered again on top (`race_repaired`, like a rollback's copy).

This module does no I/O: each backend reads the window its way and acts.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from champion import names
from champion.decision import Outcome, Policy, decide
from champion.errors import ChampionError
from champion.registry import ModelVersion, RaceReport

__all__ = [
    "DECIDED",
    "MAX_ROUNDS",
    "Window",
    "compared_with",
    "fold",
    "origin_of",
    "primary_value",
    "repair_properties",
    "saw",
    "widened",
    "window_of",
]

DECIDED = frozenset({Outcome.FIRST.value, Outcome.PROMOTED.value})
"""Outcomes of a gate's registration: the decisions a race is made of."""
MAX_ROUNDS = 8
"""Read, fold, act: how many times a gate goes round before it stops repairing and says so
(each round is caused by a registration or a move it had not seen yet)."""


@dataclass(frozen=True)
class Window:
    """The decisions weighed: the champion they start from (`initial`, a version number, None
    for none) and every version above `floor`."""

    initial: int | None
    floor: int


def _int(text: str | None) -> int | None:
    return int(text) if text and text.isdigit() else None


def compared_with(version: ModelVersion) -> int | None:
    """The champion a gate's decision was compared with (`champion.previous_version`)."""
    return _int(version.properties.get(names.PREVIOUS_VERSION))


def origin_of(version: ModelVersion) -> int:
    """The version whose files and metrics `version` holds: itself, or the version a rollback or
    a race repair registered again."""
    for key in (names.ROLLBACK_OF, names.REPAIR_OF):
        copied = _int(version.properties.get(key))
        if copied is not None:
            return copied
    return version.version


def _in_place_rollback(version: ModelVersion) -> bool:
    """MLflow's rollback: the version itself tagged `rolled_back`, no copy made."""
    return (
        version.properties.get(names.OUTCOME) == Outcome.ROLLED_BACK.value
        and origin_of(version) == version.version
    )


def window_of(champion: ModelVersion | None) -> Window:
    """Where the decisions weighed start, for a gate that compared with `champion`."""
    if champion is None:
        return Window(None, 0)
    outcome = champion.properties.get(names.OUTCOME)
    if outcome in DECIDED:
        before = compared_with(champion)
        mark = _int(champion.properties.get(names.RACE_FROM))
        floor = min(before or 0, mark if mark is not None else before or 0)
        return Window(floor or None, floor)
    if _in_place_rollback(champion):  # MLflow: the versions up to the one it displaced are past
        displaced = compared_with(champion) or champion.version
        return Window(champion.version, max(displaced, champion.version))
    # a copy (a rollback's, a race repair's: each the end of a decision of its own) or a
    # version registered by hand: nothing before it is weighed
    return Window(champion.version, champion.version)


def widened(window: Window, versions: Iterable[ModelVersion]) -> Window | None:
    """A wider window when a decision in this one raced with an older champion (it was compared
    with a version below the floor) or carries the start of a repair made over it
    (`champion.race_from`) below it; None when the window holds the whole race."""
    lowest = window.floor
    for version in versions:
        if version.version <= window.floor or version.properties.get(names.OUTCOME) not in DECIDED:
            continue
        mark = _int(version.properties.get(names.RACE_FROM))
        against = compared_with(version)
        if against != window.initial:  # decided against the window's own champion: inside
            lowest = min(lowest, against or 0)
        if mark is not None:
            lowest = min(lowest, mark)
    if lowest >= window.floor:
        return None
    return Window(lowest or None, lowest)


def _values(version: ModelVersion | None, policy: Policy) -> dict[str, float] | None:
    """Each metric of the policy from the version's stored metadata; None when one is missing
    or not a finite number (such a version cannot be weighed)."""
    if version is None:
        return None
    values: dict[str, float] = {}
    for metric in policy.metrics:
        try:
            value = float(version.properties.get(metric, ""))
        except ValueError:
            return None
        if not math.isfinite(value):
            return None
        values[metric] = value
    return values


def _beats(challenger: ModelVersion, champion: ModelVersion | None, policy: Policy) -> bool:
    """Whether `challenger` would have replaced `champion` had it been compared with it."""
    ours = _values(challenger, policy)
    if ours is None:
        return False
    if champion is None:
        return True
    theirs = _values(champion, policy)
    if theirs is None:
        return policy.allow_unscored_champion
    try:
        return decide(ours, theirs, policy, champion_version=champion.version).promote
    except ChampionError:  # a value outside the policy's range: not a candidate
        return False


def fold(
    initial: ModelVersion | None, versions: Sequence[ModelVersion], policy: Policy, floor: int
) -> tuple[ModelVersion | None, list[ModelVersion]]:
    """The champion a serial order ends on, starting from `initial`, over the versions above
    `floor`; and the racing decisions met on the way (compared with an older champion)."""
    events: list[tuple[float, int, str, ModelVersion]] = []
    for version in versions:
        if version.version <= floor:
            continue
        outcome = version.properties.get(names.OUTCOME, "")
        if _in_place_rollback(version):
            displaced = compared_with(version)
            if displaced is not None and displaced > floor:
                events.append((displaced + 0.5, 1, "reset", version))
            # its own decision's tags were replaced by the rollback's: weighed by value
            events.append((version.version, 0, "weighed", version))
        elif outcome == Outcome.ROLLED_BACK.value:
            events.append((version.version, 0, "reset", version))
        elif outcome == Outcome.RACE_REPAIRED.value:
            events.append((version.version, 0, "weighed", version))
        elif outcome in DECIDED:
            events.append((version.version, 0, "decided", version))
    champion = initial
    racers: list[ModelVersion] = []
    for _, _, kind, version in sorted(events, key=lambda e: (e[0], e[1])):
        if kind == "reset":
            champion = version
            continue
        held = None if champion is None else champion.version
        if kind == "decided" and compared_with(version) == held:
            champion = version  # decided against the champion so far: a serial step
            continue
        if champion is not None and origin_of(version) == origin_of(champion):
            continue  # the same model again: the earlier stands
        racers.append(version)
        if _beats(version, champion, policy):
            champion = version
    return champion, racers


def primary_value(version: ModelVersion | None, policy: Policy) -> str | None:
    """The policy's primary metric as the version stores it (the exact string)."""
    return None if version is None else version.properties.get(policy.metric)


def saw(versions: Sequence[ModelVersion], policy: Policy) -> tuple[Mapping[str, Any], ...]:
    """The versions a gate weighed, for its decision record: each one's number, the champion
    it was compared with, its outcome and its primary metric (exact strings)."""
    return tuple(
        {
            "version": v.version,
            "compared_with": compared_with(v),
            "outcome": v.properties.get(names.OUTCOME),
            policy.metric: primary_value(v, policy),
        }
        for v in versions
    )


def report(
    window: Window,
    versions: Sequence[ModelVersion],
    best: ModelVersion | None,
    repairs: Sequence[Mapping[str, Any]],
    policy: Policy,
    *,
    converged: bool = True,
    note: str | None = None,
) -> RaceReport:
    """What a gate that settled a race saw and repaired, for its record: the versions above the
    window's floor, the best decision's own version, the repairs made, in the order made."""
    return RaceReport(
        detected=True,
        window_from=window.floor,
        saw=saw([v for v in versions if v.version > window.floor], policy),
        best=None if best is None else origin_of(best),
        repairs=tuple(repairs),
        converged=converged,
        note=note,
    )


def repair_properties(best: ModelVersion, latest: ModelVersion, window: Window) -> dict[str, str]:
    """What a race repair's copy of `best` stores, registered on top of `latest`: the best's
    own metadata (metrics, test data, digest, policy) and the event's."""
    properties = {k: v for k, v in best.properties.items() if k not in names.EVENT_PROPERTIES}
    properties.update(
        {
            names.OUTCOME: Outcome.RACE_REPAIRED.value,
            names.REPAIR_OF: str(origin_of(best)),
            names.PREVIOUS_VERSION: str(latest.version),
            names.RACE_FROM: str(window.floor),
            names.REASON: (
                f"racing gates: {best.name}:{origin_of(best)} is the best of the decisions from "
                f"version {window.floor} on, and {best.name}:{latest.version} had landed on top "
                "of it; registered again so that the latest version is the best"
            ),
        }
    )
    return properties
