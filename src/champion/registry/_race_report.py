"""What `Registry.converge` reports after racing gates, and the repair a latest-is-champion
backend hands to the gate for its record: plain data, kept apart from the Protocols in
`champion.registry` (re-exported there) so that module stays about the contract."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from champion.registry import ModelVersion

__all__ = ["NO_RACE", "RaceRepair", "RaceReport"]


@dataclass(frozen=True)
class RaceReport:
    """What `Registry.converge` found after a registration and what it did, for the record.

    `detected`: another gate decided between the champion this gate compared with and its own
    registration (or left a race unsettled that this gate's window holds). `window_from`: the
    version the racing decisions were weighed from; `saw`: each decision weighed (its version,
    the champion it was compared with, its outcome, its primary metric); `best`: where the
    registry ends, the best of them; `repairs`: what this gate changed to get there (MLflow:
    `{"alias", "from", "to"}`; a latest-is-champion backend: `{"registered", "copy_of",
    "displaced"}`); `converged` False when it stopped before the registry held still
    (`champion.registry._race.MAX_ROUNDS`), which `note` explains."""

    detected: bool = False
    window_from: int | None = None
    saw: tuple[Mapping[str, Any], ...] = ()
    best: int | None = None
    repairs: tuple[Mapping[str, Any], ...] = ()
    converged: bool = True
    note: str | None = None

    def to_dict(self) -> dict[str, Any] | None:
        """The record's `race` object; None when no race was seen."""
        if not self.detected:
            return None
        return {
            "window_from": self.window_from,
            "saw": [dict(entry) for entry in self.saw],
            "best": self.best,
            "repairs": [dict(entry) for entry in self.repairs],
            "converged": self.converged,
            "note": self.note,
        }


NO_RACE = RaceReport()
"""No race seen: what a registration inside `serialised()` reports, and a rejection."""


@dataclass(frozen=True)
class RaceRepair:
    """A race repair a latest-is-champion backend made: `best` (the version copied) registered
    again as `registered`, on top of `displaced`; `reason` says why. Handed to the gate's
    `record_repair` with the run that holds the copy, which writes the repair's decision
    record there (as a rollback's is written on its run)."""

    name: str
    best: ModelVersion
    displaced: ModelVersion
    registered: int
    reason: str
