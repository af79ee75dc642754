"""`MlflowRegistry.converge`: after a gate's alias move, the alias ends on the best of the racing
decisions (the rule: `champion.registry._race`).

Why MLflow needs it: MLflow has no compare-and-set on an alias, so two gates that compared with
the same champion can both move it, and the last move stands whatever it is worth. Detection
alone left a 0.7 champion over a 0.9. Here each gate, once its own move is made, reads the
window of decisions in one search (the same search that used to look for later versions, so a
decision without a race costs what it did), folds it, and moves the alias to the fold's
champion when the alias is not there. It goes round again after each move, until a search shows
nothing new: a registration or a move it had not seen yet is the only reason for another round.

A move of ours can land on top of another gate's repair (its read of the alias came before the
repair, its move after). So before moving the alias away from its own version, a gate marks that
version with the window it weighed (`champion.race_from`): the gate whose move landed on top
compared with that version or reads it in its window, widens its own window by the mark, and
weighs the same decisions, whoever moves last.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from champion import names
from champion._failpoints import failpoint
from champion.registry import NO_RACE, ModelVersion, RaceReport
from champion.registry._race import (
    DECIDED,
    MAX_ROUNDS,
    Window,
    compared_with,
    fold,
    report,
    widened,
    window_of,
)
from champion.registry.mlflow._calls import (
    _ABSENT,
    MlflowCallError,
    _found,
    _remote,
    _translated,
    version_of,
)

if TYPE_CHECKING:
    from champion.decision import Policy
    from champion.registry.mlflow.registry import MlflowRegistry


class AliasRace:
    """One gate's settling of a race on one model, after it registered `registered`."""

    def __init__(self, registry: MlflowRegistry, name: str, policy: Policy) -> None:
        self.registry = registry
        self.name = name
        self.policy = policy
        self.known: dict[int, ModelVersion] = {}

    def settle(self, registered: int, seen: ModelVersion | int | None) -> RaceReport:
        champion = self._version(seen) if isinstance(seen, int) else seen
        if champion is not None:
            self.known[champion.version] = champion
        seen_number = None if champion is None else champion.version
        window = window_of(champion)
        move = self.registry._moves.get((self.name, registered))
        before = None if move is None else move[0]
        if before is not None and before != seen_number:  # moved between our read and our move
            holder = self._version(before)
            if holder is not None:
                window = _lower(window, window_of(holder))
        target = registered if move is not None else self.registry._alias_holder(self.name)
        raced = before is not None and before != seen_number
        repairs: list[dict[str, Any]] = []
        marked = False
        last: tuple[tuple[int, str | None], ...] | None = None
        best: ModelVersion | None = None
        versions: list[ModelVersion] = []
        for _ in range(MAX_ROUNDS):
            versions = self._window(window)
            wider = widened(window, versions)
            if wider is not None:
                window = wider
                continue
            initial = None if window.initial is None else self._known_or_read(window.initial)
            best, _ = fold(initial, versions, self.policy, window.floor)
            if best is None:
                return NO_RACE
            raced = raced or any(
                _raced(v, registered, seen_number) for v in versions if v.version > window.floor
            )
            key = tuple((v.version, v.properties.get(names.RACE_FROM)) for v in versions)
            if best.version == target:
                if not repairs or key == last:  # nothing moved since our last look
                    if not raced and not repairs:
                        return NO_RACE
                    return report(window, versions, best, repairs, self.policy)
            else:
                failpoint("race.repairing")
                if not marked and target == registered:
                    self._mark(registered, window)
                    marked = True
                self.registry._set_alias(self.name, best.version)
                repairs.append({"alias": self.registry.alias, "from": target, "to": best.version})
                target = best.version
            last = key
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

    def _window(self, window: Window) -> list[ModelVersion]:
        """Every version from the window's floor up (the floor itself is its first champion),
        in one search; a server whose search does not know `version_number` lists them all."""
        floor = max(window.floor, 1)
        unknown: list[bool] = []
        found: list[Any] = []
        token: list[str | None] = [None]

        def attempt() -> Any:
            try:
                return _translated(
                    lambda: self.registry.client.search_model_versions(
                        f"name='{self.name}' and version_number >= {floor}",
                        max_results=1000,
                        page_token=token[0],
                    )
                )
            except MlflowCallError as exc:
                if exc.error_code != "INVALID_PARAMETER_VALUE":
                    raise
                unknown.append(True)
                return []

        while not unknown:
            page = _remote(f"reading the decisions on {self.name!r} from version {floor}", attempt)
            found += list(page)
            token[0] = getattr(page, "token", None)
            if not token[0]:
                break
        if unknown:
            found = self.registry._all_versions(self.name)
        versions = sorted(
            (version_of(mv) for mv in found if int(mv.version) >= floor and _ready(mv)),
            key=lambda v: v.version,
        )
        for version in versions:
            self.known[version.version] = version
        return versions

    def _known_or_read(self, number: int) -> ModelVersion | None:
        return self.known.get(number) or self._version(number)

    def _version(self, number: int) -> ModelVersion | None:
        found = _remote(
            f"reading version {number} of {self.name!r}",
            lambda: _found(lambda: self.registry.client.get_model_version(self.name, str(number))),
        )
        if found is _ABSENT:
            return None
        version = version_of(found)
        self.known[number] = version
        return version

    # -- writes

    def _mark(self, version: int, window: Window) -> None:
        """Our version, before the alias moves away from it: the window a gate whose move
        lands on top of ours must weigh."""
        _remote(
            f"marking version {version} of {self.name!r} with the race it lost",
            lambda: self.registry.client.set_model_version_tag(
                self.name, str(version), names.RACE_FROM, str(window.floor)
            ),
        )


def _lower(window: Window, other: Window) -> Window:
    return other if other.floor < window.floor else window


def _raced(version: ModelVersion, registered: int, seen: int | None) -> bool:
    """Whether `version`'s gate decided at the same time as ours: against the same champion,
    or against a newer one while ours was under way, or after ours against an older one."""
    if version.version == registered or version.properties.get(names.OUTCOME) not in DECIDED:
        return False
    against = compared_with(version)
    theirs, ours = -1 if against is None else against, -1 if seen is None else seen
    if theirs == ours:
        return True
    if ours < version.version < registered:
        return theirs > ours
    return version.version > registered and theirs < registered


def _ready(mv: Any) -> bool:
    return getattr(mv, "status", None) in (None, "READY")
