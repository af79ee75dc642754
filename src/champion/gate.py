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
backend for the run it is given. The request and its checks are `champion.request`'s (re-exported
here, where they were first); the record each branch ends with is made and written by
`champion._gate_record`.
"""

from __future__ import annotations

import json

from champion import names
from champion._failpoints import failpoint
from champion._frameworks import framework_version
from champion._gate_record import record_of, recorded_anyway, write
from champion._retry import remote
from champion.artifact import (
    LocalArtifact,
    has_model_artifacts,
    inspect_artifact,
    upload_artifact,
    upload_new_artifact,
)
from champion.challenger import Challenger, given_challenger, read_challenger
from champion.decision import Decision, Outcome
from champion.errors import InputError, RegisteredThenFailedError
from champion.judge import (
    Judge,
    decide_and_register,
    identity_of,
    registered_then,
    repair_recorder,
)
from champion.metrics import format_metric
from champion.record import DecisionRecord, record_body, tag_record
from champion.registry import (
    NO_RACE,
    ArtifactConflict,
    ModelVersion,
    NewVersion,
    ParentRun,
    Registry,
)
from champion.registry._race import DECIDED, compared_with
from champion.request import RegisterRequest, RescoreRequest, check_request

__all__ = [
    "RegisterRequest",
    "RescoreRequest",
    "register_file_if_better",
    "register_if_better",
]


def register_if_better(run: object, request: RegisterRequest) -> DecisionRecord:
    """Run the whole gate for the step run `run` (as `champion.context.get_run()` or the SDK's
    `Run.get_context()` gives it); returns what was decided and recorded."""
    from champion.context import run_of

    check_request(request)
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
    challenger = read_challenger(
        parent, request.policy, request.training_step_name, request.metrics_file
    )
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
            raise recorded_anyway(
                parent, registry, request, judge, artifact, prefix, exc, files
            ) from exc
    record = record_of(
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
    write(parent, record, files if files is not None else set(), registry)
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
    record = record_of(
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
    record = record_of(
        request,
        judge,
        decision,
        earlier.version,
        race,
        parent.id,
        artifact,
        registry=registry,
    )
    write(parent, record, files, registry)
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
    check_request(request)
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
                    raise recorded_anyway(
                        run, registry, request, judge, artifact, path, exc, pipeline=False
                    ) from exc
        record = record_of(
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
        write(run, record, set(), registry, pipeline=False)
    return record


# ---------------------------------------------------------------------- what a version stores


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
