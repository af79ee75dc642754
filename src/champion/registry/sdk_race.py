"""`converge` on a registry whose champion is the latest version (Azure ML through SDK v1 and v2;
the local workspace under `mock_azureml()` and `mock_azure_ai_ml()`), settled by the rule in
`champion.registry._race`.

Why a copy and not a move: Azure ML has no alias; its champion is whatever version is newest.
When racing gates leave a version on top that is not the best of their decisions, the best
one's files are registered again as the newest version, with outcome `race_repaired`,
`champion.race_repair_of` naming the version copied, and a decision record on a run of the
`champion-race-repair` experiment: what a rollback does (`SdkRegistry.make_champion`, which
refuses with ConflictError when someone registered meanwhile, and the gate then weighs again).

What it costs: nothing without a race. The probe is one GET per version between the champion's
own predecessor and the gate's version, other than the champion itself: none when the champion
followed its predecessor and the gate followed the champion. Only a race reads the window and
the latest version, round after round until the latest version is the best.

The local workspace's own backend (`LocalRegistry`) never gets here with a race: its lock
serialises the gates, so the probe finds nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from champion import names
from champion._failpoints import failpoint
from champion._retry import failing_as_infrastructure
from champion.errors import ConflictError
from champion.registry import (
    NO_RACE,
    ChampionChange,
    ModelVersion,
    ParentRun,
    RaceRepair,
    RaceReport,
)
from champion.registry._race import (
    MAX_ROUNDS,
    Window,
    fold,
    origin_of,
    primary_value,
    repair_properties,
    report,
    widened,
    window_of,
)

if TYPE_CHECKING:
    from champion.decision import Policy


class LatestIsChampion(Protocol):
    """What settling a race needs of a registry whose champion is its latest version: Azure
    ML through SDK v1 (`SdkRegistry`) and through SDK v2 (`AzureMLV2Registry`)."""

    def champion(self, name: str) -> ModelVersion | None: ...

    def versions(self, name: str) -> list[ModelVersion]: ...

    def make_champion(self, name: str, version: int, change: ChampionChange) -> int: ...

    def _version_or_none(self, name: str, version: int) -> ModelVersion | None: ...


_LISTED_AT_ONCE = 24
"""A window wider than this is read with one listing of every version rather than a GET each."""


class LatestRace:
    """One gate's settling of a race on one model, after it registered `registered`."""

    def __init__(
        self,
        registry: LatestIsChampion,
        name: str,
        policy: Policy,
        record_repair: Callable[[ParentRun, RaceRepair], None] | None,
    ) -> None:
        self.registry = registry
        self.name = name
        self.policy = policy
        self.record_repair = record_repair
        self.known: dict[int, ModelVersion | None] = {}

    def settle(self, registered: int, seen: ModelVersion | int | None) -> RaceReport:
        champion = self._get(seen) if isinstance(seen, int) else seen
        if champion is not None:
            self.known[champion.version] = champion
        seen_number = None if champion is None else champion.version
        window = window_of(champion)
        ours = [n for n in range((seen_number or 0) + 1, registered)]
        theirs = [n for n in range(window.floor + 1, seen_number or 0)]
        between = [v for n in ours if (v := self._get(n)) is not None]
        if not between and not any(self._get(n) is not None for n in theirs):
            return NO_RACE
        repairs: list[dict[str, Any]] = []
        latest: ModelVersion | None = None
        versions: list[ModelVersion] = []
        best: ModelVersion | None = None
        for _ in range(MAX_ROUNDS):
            latest = self._latest()
            versions = self._window(window, latest)
            wider = widened(window, versions)
            if wider is not None:
                window = wider
                continue
            initial = None if window.initial is None else self._get(window.initial)
            best, _ = fold(initial, versions, self.policy, window.floor)
            if best is None or latest is None or origin_of(best) == origin_of(latest):
                if not between and not repairs:
                    return NO_RACE  # the champion's own race, settled: nothing to report
                return report(window, versions, best, repairs, self.policy)
            if primary_value(best, self.policy) is None:
                note = "the best has no metric to copy"
                return report(window, versions, best, repairs, self.policy, note=note)
            failpoint("race.repairing")
            try:
                copy = self.registry.make_champion(
                    self.name, best.version, self._change(best, latest, window)
                )
            except ConflictError:
                continue  # registered on meanwhile: weigh again
            repairs.append(
                {"registered": copy, "copy_of": origin_of(best), "displaced": latest.version}
            )
        return report(
            window,
            versions,
            best,
            repairs,
            self.policy,
            converged=False,
            note=f"the registry was still changing after {MAX_ROUNDS} rounds; the gates still "
            "running settle it, and the next decision on the model weighs this race again",
        )

    def _change(self, best: ModelVersion, latest: ModelVersion, window: Window) -> ChampionChange:
        properties = repair_properties(best, latest, window)
        tags = {k: v for k, v in best.tags.items() if k != names.OUTCOME}
        tags[names.OUTCOME] = properties[names.OUTCOME]
        return ChampionChange(
            properties=properties,
            tags=tags,
            description=f"{self.name}:{origin_of(best)} again: the best of racing decisions",
            expected_champion=latest.version,
            record=self._recorder(best, latest, properties[names.REASON]),
            experiment=names.RACE_REPAIR_EXPERIMENT,
        )

    def _recorder(
        self, best: ModelVersion, latest: ModelVersion, reason: str
    ) -> Callable[[ParentRun, int], None] | None:
        """The repair's decision record, written by the gate's `record_repair` on the run that
        registered the copy."""
        record_repair = self.record_repair
        if record_repair is None:
            return None

        def record(run: ParentRun, now: int) -> None:
            record_repair(run, RaceRepair(self.name, best, latest, now, reason))

        return record

    # -- reads: one GET a version (the SDK's `Model(ws, name, version=n)`), or one listing

    def _get(self, number: int) -> ModelVersion | None:
        if number not in self.known:
            self.known[number] = self.registry._version_or_none(self.name, number)
        return self.known[number]

    def _latest(self) -> ModelVersion | None:
        return self.registry.champion(self.name)

    def _window(self, window: Window, latest: ModelVersion | None) -> list[ModelVersion]:
        if latest is None:
            return []
        numbers = range(window.floor + 1, latest.version + 1)
        missing = [n for n in numbers if n not in self.known]
        if len(missing) > _LISTED_AT_ONCE:
            for version in self.registry.versions(self.name):
                self.known[version.version] = version
            for number in missing:
                self.known.setdefault(number, None)
        with failing_as_infrastructure(f"reading the decisions on {self.name!r}"):
            found = [self._get(n) for n in numbers]
        self.known[latest.version] = latest
        return [v for v in found if v is not None]
