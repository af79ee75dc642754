"""How the gate decides: the challenger against the champion under the request's policy,
with the test-data rule and, when asked, both models re-scored on the same data.

`Judge.prepare` gathers everything before the first upload and gives the first-look decision;
`decide_and_register` re-decides while holding the registry (the champion read again) and
registers only a winner. `champion.gate` drives the flow around them; this module decides and
never uploads or records.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from champion import names
from champion._failpoints import failpoint
from champion.challenger import Challenger
from champion.decision import Decision, Policy, decide
from champion.errors import (
    ChampionError,
    InfrastructureError,
    RegisteredThenFailedError,
    TestDataError,
    UnscoredChampionError,
)
from champion.metrics import format_metric, parse_metric
from champion.registry import NO_RACE, ModelVersion, ParentRun, RaceRepair, RaceReport, Registry
from champion.testdata import DataIdentity, same_test_data

if TYPE_CHECKING:
    from champion.request import RegisterRequest

__all__ = [
    "Judge",
    "champion_values",
    "decide_and_register",
    "identity_of",
    "registered_then",
    "repair_recorder",
]


@dataclass
class Judge:
    """Everything one decision needs, gathered before the first upload: the challenger, the
    champion seen at first look, the test-data verdict and, when asked, fresh scores.

    `decide` is called again inside the critical section with the champion read afresh; the
    test-data verdict of the latest call is what the record shows."""

    request: RegisterRequest
    challenger: Challenger
    champion: ModelVersion | None
    rescored: Any  # champion.rescore.Rescored | None (imported only when re-scoring)
    test_data: dict[str, Any] | None = None
    # the last champion decided against and the decision: the re-read in the critical section
    # usually finds the champion of the first look, and the decision is a pure function of it
    _last: tuple[ModelVersion | None, Decision] | None = field(default=None, repr=False)

    @classmethod
    def prepare(
        cls, registry: Registry, request: RegisterRequest, challenger: Challenger
    ) -> tuple[Judge, Decision]:
        """The judge, and its decision against the champion at first look."""
        champion = registry.champion(request.model_name)
        rescored = None
        if request.rescore is not None and champion is not None:
            from champion.rescore import load_test_data, rescore

            data = load_test_data(request.rescore.test_data, registry)
            rescored = rescore(
                registry,
                champion,
                Path(request.model_path),
                data,
                request.policy.metrics,
                request.rescore.label_column,
            )
        judge = cls(request, challenger, champion, rescored)
        return judge, judge.decide(champion)

    @property
    def policy(self) -> Policy:
        return self.request.policy

    @property
    def decided(self) -> Decision | None:
        """The latest decision `decide` made: the one a registration that failed part way
        made, for its record."""
        return None if self._last is None else self._last[1]

    def decide(self, champion: ModelVersion | None) -> Decision:
        """The decision against `champion`; raises what must stop the gate."""
        if self._last is not None and self._last[0] == champion:
            return self._last[1]
        decision = self._decide(champion)
        self._last = (champion, decision)
        return decision

    def _decide(self, champion: ModelVersion | None) -> Decision:
        version = champion.version if champion else None
        if self.rescored is not None:
            if version != self.rescored.champion_version:
                raise InfrastructureError(
                    f"the champion of {self.request.model_name!r} changed from "
                    f"v{self.rescored.champion_version} to v{version} while the step re-scored "
                    "it; nothing was registered. Run the step again.",
                    field="model_name",
                    value=self.request.model_name,
                )
            self.test_data = self._test_data(champion)
            return decide(
                self.rescored.challenger,
                self.rescored.champion,
                self.policy,
                champion_version=version,
            )
        self.test_data = self._test_data(champion)
        return decide(
            dict(self.challenger.values),
            champion_values(champion, self.policy),
            self.policy,
            champion_version=version,
        )

    def _test_data(self, champion: ModelVersion | None) -> dict[str, Any] | None:
        """The test-data verdict for the record; raises TestDataError when the data differ
        and neither the policy allows it nor both models were re-scored."""
        ours = self.challenger.test_data
        theirs = DataIdentity.of(champion.properties) if champion else DataIdentity()
        if champion is None and not ours.known:
            return None
        same = same_test_data(ours, theirs) if champion else None
        verdict: dict[str, Any] = {
            "challenger": ours.to_dict(),
            "champion": theirs.to_dict() if champion else None,
            "same": same,
            "allowed_different": self.policy.allow_different_test_data,
            "rescored_on": self.rescored.identity.to_dict() if self.rescored else None,
        }
        if champion is not None and same is None:
            verdict["note"] = (
                "not compared: "
                + (
                    "neither side"
                    if not (ours.known or theirs.known)
                    else "the champion"
                    if not theirs.known
                    else "the challenger"
                )
                + " records the test data its metrics were measured on"
            )
        if same is False and self.rescored is None and not self.policy.allow_different_test_data:
            assert champion is not None
            raise TestDataError(
                f"champion {champion.name}:{champion.version} was scored on test data "
                f"{theirs.describe()}, the challenger on {ours.describe()}; re-score the champion "
                "(--rescore-champion) or pass --allow-different-test-data. "
                "Nothing was registered.",
                field=names.TEST_DATA_SHA256,
                value=ours.sha256 or ours.reference,
            )
        return verdict

    # -- what a new version stores: the numbers it was decided on, and where they came from

    @property
    def stored_values(self) -> dict[str, str]:
        if self.rescored is not None:
            return {name: format_metric(v) for name, v in self.rescored.challenger.items()}
        return dict(self.challenger.texts)

    @property
    def stored_identity(self) -> DataIdentity:
        return self.rescored.identity if self.rescored is not None else self.challenger.test_data

    def rescored_record(self) -> dict[str, Any] | None:
        if self.rescored is None:
            if self.request.rescore is None:
                return None
            return {"note": "no champion to re-score; decided on the challenger's own numbers"}
        lenient = self.policy.with_allowances(allow_unscored_champion=True)
        stored = champion_values(self.champion, lenient) or {}

        def shown(value: float | None) -> str | None:
            return None if value is None else format_metric(value)

        return {
            "test_data": self.rescored.identity.to_dict(),
            "champion_version": self.rescored.champion_version,
            "metrics": {
                name: {
                    "challenger": {
                        "stored": self.challenger.texts[name],
                        "rescored": format_metric(self.rescored.challenger[name]),
                    },
                    "champion": {
                        "stored": shown(stored.get(name)),
                        "rescored": format_metric(self.rescored.champion[name]),
                    },
                }
                for name in self.policy.metrics
            },
        }


def identity_of(spec: str, registry: Registry) -> DataIdentity:
    from champion.rescore import load_test_data, parse_spec

    parsed = parse_spec(spec)
    if isinstance(parsed, Path):
        from champion.testdata import files_digest

        return DataIdentity(files_digest(parsed), parsed.name)
    return load_test_data(spec, registry).identity


def decide_and_register(
    registry: Registry,
    request: RegisterRequest,
    judge: Judge,
    first_look: Decision,
    register: Callable[[Decision], int],
) -> tuple[Decision, int | None, RaceReport]:
    """The critical section: a winner at first look is re-decided against the champion read
    again while holding the registry, and registered only if it still wins; then any race the
    registration was part of is settled (`Registry.converge`). Returns the final decision, the
    new version (None if none) and what the race check saw and repaired."""
    if not first_look.promote:
        return first_look, None, NO_RACE
    version = None
    with registry.serialised():
        champion = registry.champion(request.model_name)
        decision = judge.decide(champion)
        if decision.promote:
            failpoint("gate.decided")
            version = register(decision)
    if version is None:
        failpoint("gate.registered")
        return decision, None, NO_RACE
    with registered_then(registry, request.model_name, version):
        race = registry.converge(
            request.model_name, version, request.policy, champion, repair_recorder(request.policy)
        )
    failpoint("gate.registered")
    return decision, version, race


def repair_recorder(policy: Policy) -> Callable[[ParentRun, RaceRepair], None]:
    """What writes a race repair's decision record on the run that registered its copy
    (outcome `race_repaired`: the best decision made the champion again, on top of the
    version that had landed over it), as a rollback's record is written on its run."""

    def record(run: ParentRun, repair: RaceRepair) -> None:
        from champion.decision import Outcome
        from champion.record import DecisionRecord, write_record
        from champion.registry._race import origin_of

        best, displaced = repair.best, repair.displaced
        copied = origin_of(best)
        value = best.properties[policy.metric]
        displaced_value = displaced.properties.get(policy.metric)
        decision = Decision(
            outcome=Outcome.RACE_REPAIRED,
            challenger=parse_metric(value, source=f"model {best.name}:{copied}"),
            champion=None if displaced_value is None else _number(displaced_value),
            champion_version=displaced.version,
            policy=policy,
            comparison="",
            reason=repair.reason,
        )
        write_record(
            run,
            DecisionRecord(
                decision=decision,
                model_name=repair.name,
                registered_version=repair.registered,
                build_number=best.properties.get(names.BUILD_NUMBER),
                challenger_source=f"model {repair.name}:{copied}",
                parent_run_id=run.id,
                artifact_path=names.model_prefix(repair.name),
                artifact_sha256=best.properties.get(names.ARTIFACT_SHA256),
                model_type=best.properties.get(names.MODEL_TYPE),
                race_detected=True,
            ),
        )

    return record


def _number(text: str) -> float | None:
    try:
        return parse_metric(text, source="the displaced version")
    except ChampionError:
        return None


@contextmanager
def registered_then(registry: Registry, name: str, version: int) -> Iterator[None]:
    """Calls made once `name`:`version` is registered: an infrastructure failure in them
    becomes RegisteredThenFailedError, which says so (the backend's own says more)."""
    try:
        yield
    except InfrastructureError as exc:
        if isinstance(exc, RegisteredThenFailedError):
            raise
        raise RegisteredThenFailedError(
            f"{name}:{version} is registered and is the champion "
            f"({registry.champion_rule}), then {exc.message}",
            version=version,
            field="model_name",
            value=name,
        ) from exc


def champion_values(
    champion: ModelVersion | None, policy: Policy
) -> dict[str, float | None] | None:
    """Each metric of the champion from its stored metadata; a champion without one fails
    closed unless the policy allows an unscored champion."""
    if champion is None:
        return None
    values: dict[str, float | None] = {}
    for rule in policy.rules:
        raw = champion.properties.get(rule.name)
        if raw is None:
            if not policy.allow_unscored_champion:
                raise UnscoredChampionError(
                    f"the champion {champion.name}:{champion.version} has no {rule.name!r} "
                    "property, so it cannot be compared; nothing was registered. Add the "
                    "property to that version, re-score it (--rescore-champion), or pass "
                    "--allow-unscored-champion to let the challenger replace it.",
                    field=f"{champion.name}:{champion.version}",
                    value=None,
                )
            values[rule.name] = None
            continue
        values[rule.name] = parse_metric(
            raw,
            source=f"model {champion.name}:{champion.version} property {rule.name!r}",
            name=rule.name,
            valid_range=rule.valid_range,
        )
    return values
