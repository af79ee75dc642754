"""The register step's flow, over a `Registry`: read, upload, decide, register a winner, record.

Order matters, because bad input must change nothing: every check that can refuse (model name,
model path, the challenger's metrics, the champion's, test data measured on something else, a
lookup failure, a model that cannot be re-scored) runs before the first upload. Then the
artifact goes to the parent pipeline run, so the registered model links back to that run's logs
and outputs; then, holding the registry where the backend can (`Registry.serialised`), the
champion is read again, the decision re-made and, for a winner only, one registration stores
the version together with its metrics, test-data identity, model type, build number, digest and
policy: no second call can fail and leave a champion without its metric.

Test data: the challenger's identity (its run's `champion.test_data_sha256` / `champion.test_data`
tags) is compared with the champion's stored one before any number is. Different data is
refused (InputError, exit 2) unless the policy allows it (`--allow-different-test-data`, which
the record keeps) or both models are re-scored on the same data (`--rescore-champion`, which
loads pickles: see `champion.rescore`). When either side has no identity the gate cannot tell,
compares as before, and the record says so.

A dry run (`RegisterRequest.dry_run`) decides and records the same way, as `would_promote` /
`would_reject`, and neither uploads the model nor registers anything.

Retries are safe: a parent run that already registered this model name gets that version back
(`already_registered`); an artifact already uploaded with the same digest is reused, and one with
another digest is a conflict.

This module sees the Protocols of `champion.registry` only; `champion.context` builds the
backend for the run it is given.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from champion import names
from champion._failpoints import failpoint
from champion._retry import remote
from champion._validation import validate_model_name
from champion.artifact import LocalArtifact, has_model_artifacts, inspect_artifact, upload_artifact
from champion.challenger import Challenger, given_challenger, read_challenger
from champion.decision import Decision, Outcome, Policy, decide
from champion.errors import InfrastructureError, InputError, TestDataError, UnscoredChampionError
from champion.metrics import format_metric, parse_metric
from champion.record import DecisionRecord, write_record
from champion.registry import ModelVersion, NewVersion, ParentRun, Registry
from champion.testdata import DataIdentity, same_test_data

__all__ = [
    "RegisterRequest",
    "RescoreRequest",
    "register_file_if_better",
    "register_if_better",
]


@dataclass(frozen=True)
class RescoreRequest:
    """`--rescore-champion --test-data SPEC [--label-column NAME]`: score the champion and the
    challenger on the same data and decide on those numbers. Loads pickles: opt-in only."""

    test_data: str
    label_column: str | None = None


@dataclass(frozen=True)
class RegisterRequest:
    """What the register step was asked to do; built by the step script from its arguments."""

    model_name: str
    model_path: Path
    policy: Policy
    training_step_name: str | None = "train"
    build_number: str | None = None
    model_framework: str = "Custom"
    model_framework_version: str | None = None
    description: str | None = None
    dry_run: bool = False
    rescore: RescoreRequest | None = None


def register_if_better(run: object, request: RegisterRequest) -> DecisionRecord:
    """Run the whole gate for the step run `run` (as `champion.context.get_run()` or the SDK's
    `Run.get_context()` gives it); returns what was decided and recorded."""
    from champion.context import run_of

    validate_model_name(request.model_name)
    _check_rescore_request(request)
    artifact = inspect_artifact(request.model_path)
    run_id, parent, registry = run_of(run)
    if parent is None:
        raise InputError(
            f"run {run_id} has no parent run: the register step must run inside a pipeline, "
            "where the training step tags the pipeline run with its metric",
            field="parent_run",
            value=None,
        )
    return gate(parent, registry, request, artifact)


def gate(
    parent: ParentRun, registry: Registry, request: RegisterRequest, artifact: LocalArtifact
) -> DecisionRecord:
    """The flow for a pipeline run, on any backend."""
    challenger = read_challenger(parent, request.policy, request.training_step_name)
    files = set(remote("listing the pipeline run's files", parent.file_names))

    # Only a run that already holds this model's artifact can have registered it: the
    # registry is asked only then, which keeps the common path one round trip shorter.
    earlier = (
        registry.registered_by(request.model_name, parent.id)
        if has_model_artifacts(files, request.model_name)
        else None
    )
    if earlier is not None:
        decision = Decision(
            outcome=Outcome.ALREADY_REGISTERED,
            challenger=challenger.value,
            champion=None,
            champion_version=None,
            policy=request.policy,
            comparison="",
            reason=f"pipeline run {parent.id} already registered {earlier.name}:"
            f"{earlier.version} (a retried step); nothing new was registered",
        )
        judge = _Judge(request, challenger, None, None)
        record = _record_of(request, judge, decision, earlier.version, False, parent.id, artifact)
        _write(parent, record, files)
        return record

    judge, first_look = _Judge.prepare(registry, request, challenger)
    if request.dry_run:
        decision = first_look.as_dry_run()
        record = _record_of(request, judge, decision, None, False, parent.id, artifact, None)
        _write(parent, record, files)
        return record
    prefix = upload_artifact(parent, request.model_name, artifact, files)
    decision, version, race = _decide_and_register(
        registry,
        request,
        judge,
        first_look,
        lambda d: registry.register(_new_version(request, judge, d, artifact, prefix, parent)),
    )
    record = _record_of(request, judge, decision, version, race, parent.id, artifact, prefix)
    _write(parent, record, files)
    return record


def register_file_if_better(
    workspace: object,
    request: RegisterRequest,
    metric_value: str | dict[str, str],
    model_type: str | None = None,
    test_data: str | None = None,
) -> DecisionRecord:
    """The same gate for a model trained outside a pipeline: the metrics come from the caller
    (one value, or one per metric by name) and the model is registered at workspace level, with
    no run to link. `test_data` names the data they were measured on (a path or
    `dataset:NAME[:VERSION]`; its identity is compared with the champion's); with
    `request.rescore` both models are scored on that data instead. `workspace` is a `Registry`,
    or a workspace `champion.context.get_registry` builds one for."""
    from champion.context import get_registry

    registry = get_registry(workspace)
    validate_model_name(request.model_name)
    _check_rescore_request(request)
    artifact = inspect_artifact(request.model_path)
    identity = (
        _identity_of(test_data, registry)
        if test_data is not None and request.rescore is None
        else None
    )
    challenger = given_challenger(metric_value, request.policy, model_type, identity)
    judge, first_look = _Judge.prepare(registry, request, challenger)
    path = str(request.model_path)
    if request.dry_run:
        decision = first_look.as_dry_run()
        return _record_of(request, judge, decision, None, False, None, artifact, path)
    # A likely winner's files are streamed into the workspace before the registry is held, so
    # a large model never makes other writers wait (or time out) behind the lock.
    files = [local for _, local, _ in artifact.files] if first_look.promote else []
    with registry.staged(files):
        decision, version, race = _decide_and_register(
            registry,
            request,
            judge,
            first_look,
            lambda d: registry.register(_new_version(request, judge, d, artifact)),
        )
    return _record_of(request, judge, decision, version, race, None, artifact, path)


# ---------------------------------------------------------------------- deciding


@dataclass
class _Judge:
    """Everything one decision needs, gathered before the first upload: the challenger, the
    champion seen at first look, the test-data verdict and, when asked, fresh scores.

    `decide` is called again inside the critical section with the champion read afresh; the
    test-data verdict of the latest call is what the record shows."""

    request: RegisterRequest
    challenger: Challenger
    champion: ModelVersion | None
    rescored: Any  # champion.rescore.Rescored | None (imported only when re-scoring)
    test_data: dict[str, Any] | None = None

    @classmethod
    def prepare(
        cls, registry: Registry, request: RegisterRequest, challenger: Challenger
    ) -> tuple[_Judge, Decision]:
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

    def decide(self, champion: ModelVersion | None) -> Decision:
        """The decision against `champion`; raises what must stop the gate."""
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
            _champion_values(champion, self.policy),
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
                "(--rescore-champion --test-data ...) or pass --allow-different-test-data. "
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
        stored = _champion_values(self.champion, lenient) or {}

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


def _check_rescore_request(request: RegisterRequest) -> None:
    """A malformed --test-data fails before anything is read."""
    if request.rescore is None:
        return
    from champion.rescore import parse_spec

    parse_spec(request.rescore.test_data)


def _identity_of(spec: str, registry: Registry) -> DataIdentity:
    from champion.rescore import load_test_data, parse_spec

    parsed = parse_spec(spec)
    if isinstance(parsed, Path):
        from champion.testdata import files_digest

        return DataIdentity(files_digest(parsed), parsed.name)
    return load_test_data(spec, registry).identity


def _decide_and_register(
    registry: Registry,
    request: RegisterRequest,
    judge: _Judge,
    first_look: Decision,
    register: Callable[[Decision], int],
) -> tuple[Decision, int | None, bool]:
    """The critical section: a winner at first look is re-decided against the champion read
    again while holding the registry, and registered only if it still wins. Returns the final
    decision, the new version (None if none) and whether another version slipped in."""
    if not first_look.promote:
        return first_look, None, False
    version = None
    with registry.serialised():
        champion = registry.champion(request.model_name)
        decision = judge.decide(champion)
        if decision.promote:
            version = register(decision)
    race = version is not None and registry.race_detected(
        request.model_name, champion.version if champion else None, version
    )
    failpoint("gate.registered")
    return decision, version, race


def _champion_values(
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


# ---------------------------------------------------------------------- storing and recording


def _new_version(
    request: RegisterRequest,
    judge: _Judge,
    decision: Decision,
    artifact: LocalArtifact,
    prefix: str | None = None,
    run: ParentRun | None = None,
) -> NewVersion:
    """What a new version stores, in the one registration call: the numbers it was decided on
    and the identity of the data they were measured on."""
    challenger = judge.challenger
    common: dict[str, str | None] = {
        **judge.stored_values,
        names.MODEL_TYPE: challenger.model_type,
        names.BUILD_NUMBER: request.build_number,
    }
    properties = {
        **common,
        **judge.stored_identity.properties(),
        names.ARTIFACT_SHA256: artifact.sha256,
        names.OUTCOME: decision.outcome.value,
        names.PREVIOUS_VERSION: decision.champion_version,
        names.PREVIOUS_METRIC: (
            format_metric(decision.champion) if decision.champion is not None else None
        ),
        names.POLICY: json.dumps(request.policy.to_dict(), sort_keys=True),
        names.PARENT_RUN_ID: run.id if run else None,
        names.REASON: decision.reason,
    }
    tags = {**common, names.OUTCOME: decision.outcome.value}
    origin = f"pipeline run {run.id}" if run else challenger.source
    primary = judge.stored_values[request.policy.metric]
    return NewVersion(
        name=request.model_name,
        path=prefix if prefix is not None else str(request.model_path),
        run=run,
        properties={k: str(v) for k, v in properties.items() if v is not None},
        tags={k: str(v) for k, v in tags.items() if v is not None},
        description=request.description or f"{request.policy.metric}={primary} from {origin}",
        framework=request.model_framework,
        framework_version=request.model_framework_version,
    )


def _record_of(
    request: RegisterRequest,
    judge: _Judge,
    decision: Decision,
    version: int | None,
    race: bool,
    run_id: str | None,
    artifact: LocalArtifact,
    artifact_path: str | None = "",
) -> DecisionRecord:
    """The one place a gate's DecisionRecord is made. `artifact_path` None: not uploaded."""
    return DecisionRecord(
        decision=decision,
        model_name=request.model_name,
        registered_version=version,
        build_number=request.build_number,
        challenger_source=judge.challenger.source,
        parent_run_id=run_id,
        artifact_path=None
        if artifact_path is None
        else artifact_path or f"outputs/{request.model_name}",
        artifact_sha256=artifact.sha256,
        model_type=judge.challenger.model_type,
        race_detected=race,
        test_data=judge.test_data,
        rescored=judge.rescored_record(),
    )


def _write(parent: ParentRun, record: DecisionRecord, files: set[str]) -> None:
    """Write the record; the listing taken at the start spares a round trip on the first try
    only, since a failed try may have uploaded the record already."""
    hint: list[set[str] | None] = [files]

    def attempt() -> None:
        known, hint[0] = hint[0], None
        write_record(parent, record, known)

    remote("recording the decision", attempt)
