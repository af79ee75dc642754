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
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from champion import names
from champion._failpoints import failpoint
from champion._frameworks import framework_version
from champion._retry import remote
from champion._validation import validate_model_name
from champion.artifact import (
    LocalArtifact,
    has_model_artifacts,
    inspect_artifact,
    upload_artifact,
    upload_new_artifact,
)
from champion.challenger import Challenger, given_challenger, read_challenger
from champion.decision import Decision, Outcome, Policy
from champion.errors import ChampionError, InputError, RegisteredThenFailedError
from champion.judge import (
    Judge,
    check_rescore_request,
    decide_and_register,
    identity_of,
    registered_then,
    repair_recorder,
)
from champion.metrics import format_metric
from champion.record import DecisionRecord, record_body, tag_record, write_record
from champion.registry import (
    NO_RACE,
    ArtifactConflict,
    BackendOptions,
    ModelVersion,
    NewVersion,
    ParentRun,
    RaceReport,
    Registry,
)
from champion.registry._race import DECIDED, compared_with

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
    champion_alias: str | None = None
    """MLflow: the alias naming the champion (None: `champion`); refused by other backends."""
    stage: str | None = None
    """MLflow: also transition a winner to this stage (deprecated by MLflow since 2.9)."""

    @property
    def backend_options(self) -> BackendOptions:
        return BackendOptions(champion_alias=self.champion_alias, stage=self.stage)


def register_if_better(run: object, request: RegisterRequest) -> DecisionRecord:
    """Run the whole gate for the step run `run` (as `champion.context.get_run()` or the SDK's
    `Run.get_context()` gives it); returns what was decided and recorded."""
    from champion.context import run_of

    validate_model_name(request.model_name)
    check_rescore_request(request)
    artifact = inspect_artifact(request.model_path)
    run_id, parent, registry = run_of(run, request.backend_options)
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
    # The run's files are listed first only where an earlier attempt may have left some. A run
    # holding no record, on a backend that refuses to overwrite, is uploaded to straight away;
    # a name found taken then (an attempt that died before it recorded) means a listing after
    # all, and the flow a retry takes from there.
    files = None if _untouched(parent) else _listing(parent)
    earlier = _registered_earlier(registry, request, parent, files)
    if earlier is not None:
        return _already_registered(parent, registry, request, challenger, artifact, earlier, files)
    judge, first_look = Judge.prepare(registry, request, challenger)
    if files is None and judge.champion is not None and judge.champion.run_id == parent.id:
        # the champion is this run's own: an attempt registered it and died before recording
        earlier = judge.champion
        return _already_registered(parent, registry, request, challenger, artifact, earlier, None)
    prefix: str | None = None  # a dry run uploads nothing
    race = NO_RACE
    if request.dry_run:  # decided and recorded the same way; nothing registered
        decision, version = first_look.as_dry_run(), None
    else:
        if files is None:
            try:
                if not first_look.promote:  # final now: its record goes up with the model
                    return _reject_untouched(parent, registry, request, judge, first_look, artifact)
                # the winner's record is named now, with the model, and written once the
                # registration has answered (on Azure ML: one create call fewer)
                prefix = upload_new_artifact(
                    parent, request.model_name, artifact, reserve=[names.record_name(1)]
                )
            except ArtifactConflict:
                files = _listing(parent)
                earlier = _registered_earlier(registry, request, parent, files)
                if earlier is not None:
                    return _already_registered(
                        parent, registry, request, challenger, artifact, earlier, files
                    )
        if prefix is None:
            prefix = upload_artifact(parent, request.model_name, artifact, files)
        try:
            decision, version, race = decide_and_register(
                registry,
                request,
                judge,
                first_look,
                lambda d: registry.register(
                    _new_version(request, judge, d, artifact, prefix, parent)
                ),
            )
        except RegisteredThenFailedError as exc:
            raise _recorded_anyway(
                parent, registry, request, judge, artifact, prefix, exc, files
            ) from exc
    record = _record_of(
        request,
        judge,
        decision,
        version,
        race,
        parent.id,
        artifact,
        prefix,
        registry=registry,
    )
    _write(parent, record, files if files is not None else set(), registry)
    return record


def _untouched(parent: ParentRun) -> bool:
    """Whether no attempt before this one recorded a decision on `parent`, on a backend whose
    uploads say when a name is taken (so one that died before recording is found out there)."""
    return not parent.overwrites and names.RECORD_TAG not in parent.tags


def _listing(parent: ParentRun) -> set[str]:
    return set(remote("listing the pipeline run's files", parent.file_names))


def _registered_earlier(
    registry: Registry, request: RegisterRequest, parent: ParentRun, files: set[str] | None
) -> ModelVersion | None:
    """The version an earlier attempt on `parent` registered. Only a run that already holds
    this model's artifact can have one: the registry is asked only then."""
    if files is None or not has_model_artifacts(files, request.model_name):
        return None
    return registry.registered_by(request.model_name, parent.id)


def _reject_untouched(
    parent: ParentRun,
    registry: Registry,
    request: RegisterRequest,
    judge: Judge,
    first_look: Decision,
    artifact: LocalArtifact,
) -> DecisionRecord:
    """A rejection on a run no attempt has written to: nothing is re-read before it is final,
    so its record goes up in the model's batch (one create call on Azure ML), then the tags.
    Raises ArtifactConflict when a name is taken."""
    prefix = names.model_prefix(request.model_name)
    record = _record_of(
        request, judge, first_look, None, NO_RACE, parent.id, artifact, prefix,
        registry=registry,
    )  # fmt: skip
    on_run, body = record_body(record)
    name = names.record_name(1)
    upload_new_artifact(parent, request.model_name, artifact, {name: body})
    failpoint("record.uploaded")
    remote("recording the decision", lambda: tag_record(parent, name, on_run, retried=False))
    return record


def _already_registered(
    parent: ParentRun,
    registry: Registry,
    request: RegisterRequest,
    challenger: Challenger,
    artifact: LocalArtifact,
    earlier: ModelVersion,
    files: set[str] | None,
) -> DecisionRecord:
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
    judge = Judge(request, challenger, None, None)
    race = NO_RACE
    if earlier.properties.get(names.OUTCOME) in DECIDED:
        # a retry of a step stopped after it registered: it settles the race it was part of
        with registered_then(registry, earlier.name, earlier.version):
            race = registry.converge(
                earlier.name,
                earlier.version,
                request.policy,
                compared_with(earlier),
                repair_recorder(request.policy),
            )
    record = _record_of(
        request,
        judge,
        decision,
        earlier.version,
        race,
        parent.id,
        artifact,
        registry=registry,
    )
    _write(parent, record, files, registry)
    return record


def register_file_if_better(
    workspace: object,
    request: RegisterRequest,
    metric_value: str | dict[str, str],
    model_type: str | None = None,
    test_data: str | None = None,
) -> DecisionRecord:
    """The same gate for a model trained outside a pipeline: the metrics come from the caller
    (one value, or one per metric by name) and the model is registered at workspace level.
    `test_data` names the data they were measured on (a path or `dataset:NAME[:VERSION]`; its
    identity is compared with the champion's); with `request.rescore` both models are scored on
    that data instead. `workspace` is a `Registry`, or a workspace
    `champion.context.get_registry` builds one for.

    The decision still leaves its trace: once every input check has passed, a run of its own
    (experiment `champion.names.REGISTER_EXPERIMENT`, `Registry.decision_run`) holds the record
    and its tags exactly as a pipeline run would, a dry run's too, so every decision made here
    is in the model's history (`Registry.decisions`). Bad input stops before that run exists."""
    from champion.context import get_registry

    registry = get_registry(workspace, request.backend_options)
    validate_model_name(request.model_name)
    check_rescore_request(request)
    artifact = inspect_artifact(request.model_path)
    identity = (
        identity_of(test_data, registry)
        if test_data is not None and request.rescore is None
        else None
    )
    challenger = given_challenger(metric_value, request.policy, model_type, identity)
    judge, first_look = Judge.prepare(registry, request, challenger)
    path = str(request.model_path)
    display_name = f"champion register {request.model_name}"
    # A likely winner's files are streamed into the workspace before the registry is held, so
    # a large model never makes other writers wait (or time out) behind the lock.
    promote = first_look.promote and not request.dry_run
    files = [local for _, local, _ in artifact.files] if promote else []
    with registry.decision_run(names.REGISTER_EXPERIMENT, display_name) as run:
        race = NO_RACE
        if request.dry_run:  # decided and recorded on its run; nothing registered
            decision, version = first_look.as_dry_run(), None
        else:
            with registry.staged(files):
                try:
                    decision, version, race = decide_and_register(
                        registry,
                        request,
                        judge,
                        first_look,
                        lambda d: registry.register(
                            _new_version(request, judge, d, artifact, record_run=run.id)
                        ),
                    )
                except RegisteredThenFailedError as exc:
                    raise _recorded_anyway(
                        run, registry, request, judge, artifact, path, exc, pipeline=False
                    ) from exc
        record = _record_of(
            request,
            judge,
            decision,
            version,
            race,
            run.id,
            artifact,
            path,
            registry=registry,
        )
        _write(run, record, set(), registry, pipeline=False)
    return record


# ---------------------------------------------------------------------- storing and recording


def _new_version(
    request: RegisterRequest,
    judge: Judge,
    decision: Decision,
    artifact: LocalArtifact,
    prefix: str | None = None,
    run: ParentRun | None = None,
    record_run: str | None = None,
) -> NewVersion:
    """What a new version stores, in the one registration call: the numbers it was decided on
    and the identity of the data they were measured on. `run` is the pipeline run it is
    registered through; `record_run` the run holding the record of a decision made outside a
    pipeline (then the version itself links to no run)."""
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
        names.PARENT_RUN_ID: run.id if run else record_run,
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
        framework_version=framework_version(
            request.model_framework, request.model_framework_version
        ),
    )


def _record_of(
    request: RegisterRequest,
    judge: Judge,
    decision: Decision,
    version: int | None,
    race: RaceReport,
    run_id: str | None,
    artifact: LocalArtifact,
    artifact_path: str | None = "",
    *,
    registry: Registry,
    notes: Sequence[str] = (),
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
        else artifact_path or names.model_prefix(request.model_name),
        artifact_sha256=artifact.sha256,
        model_type=judge.challenger.model_type,
        race_detected=race.detected,
        race=race.to_dict(),
        champion_rule=registry.champion_rule,
        notes=list(notes),
        test_data=judge.test_data,
        rescored=judge.rescored_record(),
        alias_move=None if version is None else registry.alias_move(request.model_name, version),
    )


def _write(
    parent: ParentRun,
    record: DecisionRecord,
    files: set[str] | None,
    registry: Registry,
    *,
    pipeline: bool = True,
) -> None:
    """Write the record (`_store`). A failure after this decision made a version the champion
    says so (RegisteredThenFailedError): the registry has changed, only its record is missing."""
    try:
        _store(parent, record, files)
    except ChampionError as exc:
        version = record.registered_version
        if version is None or not record.decision.promote:
            raise
        raise RegisteredThenFailedError(
            f"{record.model_name}:{version} is registered and is the champion "
            f"({registry.champion_rule}), then {exc.message}{_retry_hint(pipeline, version)}",
            version=version,
            field="record",
            value=record.model_name,
        ) from exc


def _store(parent: ParentRun, record: DecisionRecord, files: set[str] | None) -> None:
    """Write the record; the listing taken at the start (or the empty one of a run no attempt
    had written to) spares a round trip on the first try only, since a failed try may have
    uploaded the record already."""
    hint: list[set[str] | None] = [files]

    def attempt() -> None:
        known, hint[0] = hint[0], None
        try:
            write_record(parent, record, known)
        except ArtifactConflict:
            if known is None:
                raise
            write_record(parent, record, None)  # a name taken by an attempt we did not know of

    remote("recording the decision", attempt)


def _recorded_anyway(
    run: ParentRun,
    registry: Registry,
    request: RegisterRequest,
    judge: Judge,
    artifact: LocalArtifact,
    artifact_path: str | None,
    failed: RegisteredThenFailedError,
    files: set[str] | None = None,
    *,
    pipeline: bool = True,
) -> RegisteredThenFailedError:
    """A decision that registered its version and made it the champion, after which a call
    failed (the race check, the stage, ...): its record is still written, with a note saying
    what failed, and the error returned says how the registry stands and where the record is."""
    decision = judge.decided
    if decision is None:  # pragma: no cover - a registration follows a decision
        return failed
    record = _record_of(
        request, judge, decision, failed.version, NO_RACE, run.id, artifact, artifact_path,
        registry=registry, notes=[f"after the registration: {failed.message}"],
    )  # fmt: skip
    try:
        _store(run, record, files if files is not None else set())
    except ChampionError as exc:
        said = (
            f"{failed.message}; recording the decision failed too ({exc.message})"
            f"{_retry_hint(pipeline, failed.version)}"
        )
    else:
        said = f"{failed.message}. The decision is recorded on run {run.id}"
    return RegisteredThenFailedError(
        said, version=failed.version, field=failed.field, value=failed.value
    )


def _retry_hint(pipeline: bool, version: int) -> str:
    """How a missing record gets made: a pipeline step's retry finds its version."""
    if not pipeline:
        return ""
    return f"; a retry of the same pipeline run finds version {version} and records it"
