"""The register step's flow, over a `Registry`: read, upload, decide, register a winner, record.

Order matters, because bad input must change nothing: every check that can refuse (model name,
model path, the challenger's metric, the champion's metric, a lookup failure) runs before the
first upload. Then the artifact goes to the parent pipeline run, so the registered model links
back to that run's logs and outputs; then, holding the registry where the backend can
(`Registry.serialised`), the champion is read again, the decision re-made and, for a winner
only, one registration stores the version together with its metric, model type, build number,
digest and policy: no second call can fail and leave a champion without its metric.

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

from champion import names
from champion._failpoints import failpoint
from champion._retry import remote
from champion._validation import validate_model_name
from champion.artifact import LocalArtifact, has_model_artifacts, inspect_artifact, upload_artifact
from champion.challenger import Challenger, given_challenger, read_challenger
from champion.decision import Decision, Outcome, Policy, decide
from champion.errors import InputError, UnscoredChampionError
from champion.metrics import format_metric, parse_metric
from champion.record import DecisionRecord, write_record
from champion.registry import ModelVersion, NewVersion, ParentRun, Registry

__all__ = ["RegisterRequest", "register_file_if_better", "register_if_better"]


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


def register_if_better(run: object, request: RegisterRequest) -> DecisionRecord:
    """Run the whole gate for the step run `run` (as `champion.context.get_run()` or the SDK's
    `Run.get_context()` gives it); returns what was decided and recorded."""
    from champion.context import run_of

    validate_model_name(request.model_name)
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
        record = _record_of(
            request, challenger, decision, earlier.version, False, parent.id, artifact
        )
        _write(parent, record, files)
        return record

    decision = _decide(challenger, registry.champion(request.model_name), request.policy)
    prefix = upload_artifact(parent, request.model_name, artifact, files)
    decision, version, race = _decide_and_register(
        registry,
        request,
        challenger,
        decision,
        lambda d: registry.register(_new_version(request, challenger, d, artifact, prefix, parent)),
    )
    record = _record_of(request, challenger, decision, version, race, parent.id, artifact, prefix)
    _write(parent, record, files)
    return record


def register_file_if_better(
    workspace: object, request: RegisterRequest, metric_value: str, model_type: str | None = None
) -> DecisionRecord:
    """The same gate for a model trained outside a pipeline: the metric comes from the caller
    and the model is registered at workspace level. `workspace` is a `Registry`, or a workspace
    `champion.context.get_registry` builds one for.

    The decision still leaves its trace: once every input check has passed, a run of its own
    (experiment `champion.names.REGISTER_EXPERIMENT`, `Registry.decision_run`) holds the record
    and its tags exactly as a pipeline run would, so a rejection here is in the model's history
    too (`Registry.decisions`). Bad input stops before that run exists."""
    from champion.context import get_registry

    registry = get_registry(workspace)
    validate_model_name(request.model_name)
    artifact = inspect_artifact(request.model_path)
    challenger = given_challenger(metric_value, request.policy, model_type)
    decision = _decide(challenger, registry.champion(request.model_name), request.policy)
    # A likely winner's files are streamed into the workspace before the registry is held, so
    # a large model never makes other writers wait (or time out) behind the lock.
    files = [local for _, local, _ in artifact.files] if decision.promote else []
    display_name = f"champion register {request.model_name}"
    with registry.decision_run(names.REGISTER_EXPERIMENT, display_name) as run:
        with registry.staged(files):
            decision, version, race = _decide_and_register(
                registry,
                request,
                challenger,
                decision,
                lambda d: registry.register(
                    _new_version(request, challenger, d, artifact, record_run=run.id)
                ),
            )
        record = _record_of(
            request, challenger, decision, version, race, run.id, artifact, str(request.model_path)
        )
        _write(run, record, set())
    return record


def _decide_and_register(
    registry: Registry,
    request: RegisterRequest,
    challenger: Challenger,
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
        decision = _decide(challenger, champion, request.policy)
        if decision.promote:
            version = register(decision)
    race = version is not None and registry.race_detected(
        request.model_name, champion.version if champion else None, version
    )
    failpoint("gate.registered")
    return decision, version, race


def _decide(challenger: Challenger, champion: ModelVersion | None, policy: Policy) -> Decision:
    return decide(
        challenger.value,
        _champion_value(champion, policy),
        policy,
        champion_version=champion.version if champion else None,
    )


def _champion_value(champion: ModelVersion | None, policy: Policy) -> float | None:
    """The champion's metric from its stored metadata; a champion without it fails closed
    unless the policy allows an unscored champion."""
    if champion is None:
        return None
    raw = champion.properties.get(policy.metric)
    if raw is None:
        if policy.allow_unscored_champion:
            return None
        raise UnscoredChampionError(
            f"the champion {champion.name}:{champion.version} has no {policy.metric!r} property,"
            " so it cannot be compared; nothing was registered. Add the property to that "
            "version, or pass --allow-unscored-champion to let the challenger replace it.",
            field=f"{champion.name}:{champion.version}",
            value=None,
        )
    return parse_metric(
        raw,
        source=f"model {champion.name}:{champion.version} property {policy.metric!r}",
        name=policy.metric,
        valid_range=policy.valid_range,
    )


def _new_version(
    request: RegisterRequest,
    challenger: Challenger,
    decision: Decision,
    artifact: LocalArtifact,
    prefix: str | None = None,
    run: ParentRun | None = None,
    record_run: str | None = None,
) -> NewVersion:
    """What a new version stores, in the one registration call. `run` is the pipeline run it
    is registered through; `record_run` the run holding the record of a decision made outside
    a pipeline (then the version itself links to no run)."""
    common = {
        request.policy.metric: challenger.text,
        names.MODEL_TYPE: challenger.model_type,
        names.BUILD_NUMBER: request.build_number,
    }
    properties = {
        **common,
        names.ARTIFACT_SHA256: artifact.sha256,
        names.OUTCOME: decision.outcome.value,
        names.PREVIOUS_VERSION: decision.champion_version,
        names.PREVIOUS_METRIC: (
            format_metric(decision.champion) if decision.champion is not None else None
        ),
        names.POLICY: json.dumps(request.policy.to_dict(), sort_keys=True),
        names.PARENT_RUN_ID: run.id if run else record_run,
        names.REASON: decision.reason,
    }
    tags = {**common, names.OUTCOME: decision.outcome.value}
    origin = f"pipeline run {run.id}" if run else challenger.source
    return NewVersion(
        name=request.model_name,
        path=prefix if prefix is not None else str(request.model_path),
        run=run,
        properties={k: str(v) for k, v in properties.items() if v is not None},
        tags={k: str(v) for k, v in tags.items() if v is not None},
        description=request.description
        or f"{request.policy.metric}={challenger.text} from {origin}",
        framework=request.model_framework,
        framework_version=request.model_framework_version,
    )


def _record_of(
    request: RegisterRequest,
    challenger: Challenger,
    decision: Decision,
    version: int | None,
    race: bool,
    run_id: str | None,
    artifact: LocalArtifact,
    artifact_path: str | None = None,
) -> DecisionRecord:
    """The one place a DecisionRecord is made."""
    return DecisionRecord(
        decision=decision,
        model_name=request.model_name,
        registered_version=version,
        build_number=request.build_number,
        challenger_source=challenger.source,
        parent_run_id=run_id,
        artifact_path=artifact_path or f"outputs/{request.model_name}",
        artifact_sha256=artifact.sha256,
        model_type=challenger.model_type,
        race_detected=race,
    )


def _write(parent: ParentRun, record: DecisionRecord, files: set[str]) -> None:
    """Write the record; the listing taken at the start spares a round trip on the first try
    only, since a failed try may have uploaded the record already."""
    hint: list[set[str] | None] = [files]

    def attempt() -> None:
        known, hint[0] = hint[0], None
        write_record(parent, record, known)

    remote("recording the decision", attempt)
