"""The register step's flow: read the challenger, upload it, compare, register only a winner.

Order matters, because bad input must change nothing: every check that can refuse (model name,
model path, the challenger's metric, the champion's metric, a lookup failure) runs before the
first upload. Then the artifact goes to the parent pipeline run, so the registered model links
back to that run's logs and outputs; then, holding the registry (see `context.registry_lock`),
the champion is read again, the decision re-made and, for a winner only, one `register_model`
call stores the version together with its metric, model type, build number, digest and policy:
no second call can fail and leave a champion without its metric.

Retries are safe: a parent run that already registered this model name gets that version back
(`already_registered`); an artifact already uploaded with the same digest is reused, and one with
another digest is a conflict.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from champion.context import model_class, registry_lock, staged_upload
from champion.decision import Decision, Outcome, Policy, decide
from champion.errors import (
    ChampionError,
    ConflictError,
    InfrastructureError,
    InputError,
    MetricError,
    from_environment,
)
from champion.failpoints import failpoint
from champion.lookup import Champion, find_champion, is_model_not_found
from champion.metrics import format_metric, parse_metric
from champion.record import DecisionRecord, write_record
from champion.retry import call_with_retry, classify, describe
from champion.surface import RunLike
from champion.validation import LocalArtifact, inspect_artifact, validate_model_name

MODEL_TYPE_TAGS = ("model_type", "best_model")


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


@dataclass(frozen=True)
class Challenger:
    value: float
    source: str
    model_type: str | None


# ---------------------------------------------------------------------- the flow


def register_if_better(run: RunLike, request: RegisterRequest) -> DecisionRecord:
    """Run the whole gate for the step run `run`; returns what was decided and recorded."""
    validate_model_name(request.model_name)
    artifact = inspect_artifact(request.model_path)
    parent = _parent_of(run)
    workspace = parent.experiment.workspace
    challenger = read_challenger(parent, request.policy, request.training_step_name)
    files = set(_infra("listing the pipeline run's files", parent.get_file_names))

    # Only a run that already holds this model's artifact can have registered it: the
    # registry is asked only then, which keeps the common path one round trip shorter.
    earlier = (
        _registered_by(workspace, request.model_name, parent.id)
        if _has_model_artifacts(files, request.model_name)
        else None
    )
    if earlier is not None:
        record = _already_registered(request, parent, challenger, earlier, artifact)
        _record(parent, record, files)
        return record

    decision = _decide(
        challenger, find_champion(workspace, request.model_name, request.policy), request.policy
    )
    prefix = upload_artifact(parent, request.model_name, artifact, files)
    decision, version, race = _decide_and_register(
        workspace,
        request,
        challenger,
        decision,
        lambda d: _register(parent, request, challenger, d, prefix, artifact),
    )

    record = DecisionRecord(
        decision=decision,
        model_name=request.model_name,
        registered_version=version,
        build_number=request.build_number,
        challenger_source=challenger.source,
        parent_run_id=parent.id,
        artifact_path=prefix,
        artifact_sha256=artifact.sha256,
        model_type=challenger.model_type,
        race_detected=race,
    )
    _record(parent, record, files)
    return record


def _record(parent: RunLike, record: DecisionRecord, files: set[str]) -> None:
    """Write the record; the listing taken at the start spares a round trip on the first try
    only, since a failed try may have uploaded the record already."""
    hint: list[set[str] | None] = [files]

    def attempt() -> None:
        known, hint[0] = hint[0], None
        write_record(parent, record, known)

    _infra("recording the decision", attempt)


def _has_model_artifacts(files: set[str], model_name: str) -> bool:
    return any(
        f.startswith((f"outputs/{model_name}/", f"outputs/{model_name}.retry")) for f in files
    )


def _parent_of(run: RunLike) -> RunLike:
    parent = run.parent
    if parent is None:
        raise InputError(
            f"run {run.id} has no parent run: the register step must run inside a pipeline, "
            "where the training step tags the pipeline run with its metric",
            field="parent_run",
            value=None,
        )
    return parent


def _decide_and_register(
    workspace: Any,
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
    with registry_lock(workspace):
        champion = find_champion(workspace, request.model_name, request.policy)
        decision = _decide(challenger, champion, request.policy)
        if decision.promote:
            version = register(decision)
    race = _race_detected(workspace, request.model_name, champion, version)
    failpoint("gate.registered")
    return decision, version, race


def _decide(challenger: Challenger, champion: Champion | None, policy: Policy) -> Decision:
    return decide(
        challenger.value,
        champion.metric if champion else None,
        policy,
        champion_version=champion.version if champion else None,
    )


# ---------------------------------------------------------------------- the challenger


def read_challenger(parent: RunLike, policy: Policy, training_step_name: str | None) -> Challenger:
    """The metric from the pipeline run's tags, else from the training step run's tags.

    Two sources that disagree, or two step runs of that name that both carry the metric, are a
    conflict: guessing which one is right could promote the wrong model."""
    metric = policy.metric
    # `run.parent` has just fetched the pipeline run; its tags are current, no second GET
    parent_tags = dict(parent.tags or {})
    step_tags, names_seen = _step_tags(parent, training_step_name)
    sources = []
    if metric in parent_tags:
        sources.append((f"pipeline run {parent.id} tag {metric!r}", parent_tags[metric]))
    sources += [
        (f"step run {rid} ({training_step_name}) tag {metric!r}", tags[metric])
        for rid, tags in step_tags
        if metric in tags
    ]
    if not sources:
        where = f" or on its step {training_step_name!r}" if training_step_name else ""
        if training_step_name and not step_tags:
            seen = ", ".join(repr(name) for name in names_seen) or "none"
            where += f" (no step run has that name; step runs seen: {seen})"
        raise MetricError(
            f"no {metric!r} tag on pipeline run {parent.id}{where}; the training step must tag "
            f"the run with {metric}=<value>",
            field=metric,
            value=None,
        )
    values = [
        (source, parse_metric(raw, source=source, name=metric, valid_range=policy.valid_range))
        for source, raw in sources
    ]
    if len({value for _, value in values}) > 1 or (
        len(step_tags) > 1 and sum(metric in tags for _, tags in step_tags) > 1
    ):
        listing = "; ".join(f"{source} = {format_metric(value)}" for source, value in values)
        raise ConflictError(
            f"the challenger's {metric!r} is ambiguous: {listing}. Make exactly "
            "one training step tag it, or make the tags agree",
            field=metric,
            value=listing,
        )
    model_type = next(
        (
            str(tags[key])
            for tags in [parent_tags, *(t for _, t in step_tags)]
            for key in MODEL_TYPE_TAGS
            if tags.get(key)
        ),
        None,
    )
    return Challenger(values[0][1], values[0][0], model_type)


def _step_tags(
    parent: RunLike, step_name: str | None
) -> tuple[list[tuple[str, dict[str, Any]]], list[str]]:
    """(id, tags) of each step run called `step_name`, and every step run's name seen.

    A step run is called `step_name` when its name is exactly that (what a pipeline names its
    step runs) or ends in `>step_name`: the SDK chains `child_run(name=...)` names as
    `"<parent name>>name"`, so a training run made by hand is found by the name it was given."""
    if not step_name:
        return [], []
    children = _infra("listing the pipeline's step runs", lambda: list(parent.get_children()))
    # the listing carries each child's tags: no GET per child
    names = [str(child.name or "") for child in children]
    found = [
        (child.id, dict(child.tags or {}))
        for child, name in zip(children, names, strict=True)
        if step_name in (name, name.rpartition(">")[2])
    ]
    return found, sorted(set(names))


# ---------------------------------------------------------------------- artifact


EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
UPLOAD_PREFIX_ATTEMPTS = 4


class _PartialUpload(Exception):
    """An artifact name holds no bytes: an earlier blob transfer failed after the service had
    created the artifact. Azure ML has no overwrite, so the model goes under a fresh prefix."""


def upload_artifact(
    parent: RunLike, model_name: str, artifact: LocalArtifact, files: set[str] | None = None
) -> str:
    """Upload to `outputs/<model_name>/...` on the pipeline run and return that prefix.

    A name already on the run (a retried step) is compared by digest: the same bytes are reused,
    different bytes are a conflict, since registering them would misattribute the model. An
    empty leftover of a failed transfer moves the whole model to `outputs/<model_name>.retryN`
    (model files are never empty, so an empty artifact is never a real upload)."""
    for attempt in range(UPLOAD_PREFIX_ATTEMPTS):
        prefix = f"outputs/{model_name}" + (f".retry{attempt}" if attempt else "")
        try:
            _upload_under(parent, prefix, artifact, files if attempt == 0 else None)
        except _PartialUpload:
            continue
        return prefix
    raise InfrastructureError(
        f"uploading the model to pipeline run {parent.id} left incomplete artifacts under "
        f"{UPLOAD_PREFIX_ATTEMPTS} prefixes (outputs/{model_name}...); the artifact service is "
        "failing transfers. Retry the pipeline later.",
        field="model_path",
        value=model_name,
    )


def _upload_under(
    parent: RunLike, prefix: str, artifact: LocalArtifact, files: set[str] | None
) -> None:
    existing = (
        files
        if files is not None
        else set(_infra("listing the pipeline run's files", parent.get_file_names))
    )
    for relative, local, digest in artifact.files:
        name = f"{prefix}/{relative}"
        if name in existing:
            _check_same_bytes(parent, name, local, digest)
            continue

        def already_there(name: str = name, local: Path = local, digest: str = digest) -> bool:
            # a timed-out upload may have landed: reuse it if the bytes match
            if name not in _infra("listing the pipeline run's files", parent.get_file_names):
                return False
            _check_same_bytes(parent, name, local, digest)
            return True

        try:
            _infra(
                f"uploading {name}",
                parent.upload_file,
                name,
                str(local),
                _before_retry=already_there,
            )
        except InfrastructureError:
            # the failed transfer may have left an empty artifact: then try a fresh prefix
            if name in _infra("listing the pipeline run's files", parent.get_file_names):
                _check_same_bytes(parent, name, local, digest)
            raise


def _check_same_bytes(parent: RunLike, name: str, local: Path, digest: str) -> None:
    found = _remote_digest(parent, name)
    if found == EMPTY_SHA256 and digest != EMPTY_SHA256:
        raise _PartialUpload(name)
    if found != digest:
        raise ConflictError(
            f"{name} is already on pipeline run {parent.id} with sha256 {found}, but the "
            f"model file {local} has sha256 {digest}; a retried step must upload the "
            "same model. Start a new pipeline run.",
            field="model_path",
            value=str(local),
        )


def _remote_digest(run: RunLike, name: str) -> str:
    with tempfile.TemporaryDirectory() as tmp:
        target = Path(tmp) / "artifact"
        _infra(f"downloading {name}", run.download_file, name, str(target))
        hasher = hashlib.sha256()
        with open(target, "rb") as fh:
            while chunk := fh.read(1024 * 1024):
                hasher.update(chunk)
        return hasher.hexdigest()


# ---------------------------------------------------------------------- registration


def _register(
    parent: RunLike,
    request: RegisterRequest,
    challenger: Challenger,
    decision: Decision,
    prefix: str,
    artifact: LocalArtifact,
) -> int:
    """One call carries everything: a crash can leave no version without its metric."""
    tags, properties, description = _metadata(request, challenger, decision, artifact, parent.id)
    workspace = parent.experiment.workspace

    def committed_by_this_run() -> Any:
        # a registration that timed out may have been committed by the service
        return _registered_by(workspace, request.model_name, parent.id) or False

    model = _infra(
        f"registering {request.model_name}",
        parent.register_model,
        _before_retry=committed_by_this_run,
        model_name=request.model_name,
        model_path=prefix,
        tags=tags,
        properties=properties,
        model_framework=request.model_framework,
        model_framework_version=request.model_framework_version,
        description=description,
    )
    return int(model.version)


def _metadata(
    request: RegisterRequest,
    challenger: Challenger,
    decision: Decision,
    artifact: LocalArtifact,
    run_id: str | None,
) -> tuple[dict[str, str], dict[str, str], str]:
    """Tags, properties and description stored on a new version at registration time."""
    metric_value = format_metric(challenger.value)
    common = {
        request.policy.metric: metric_value,
        "model_type": challenger.model_type,
        "build_number": request.build_number,
    }
    properties = {
        **common,
        "artifact_sha256": artifact.sha256,
        "champion.outcome": decision.outcome.value,
        "champion.previous_version": decision.champion_version,
        "champion.previous_metric": (
            format_metric(decision.champion) if decision.champion is not None else None
        ),
        "champion.policy": json.dumps(request.policy.to_dict(), sort_keys=True),
        "champion.parent_run_id": run_id,
        "champion.reason": decision.reason,
    }
    tags = {**common, "champion.outcome": decision.outcome.value}
    origin = f"pipeline run {run_id}" if run_id else challenger.source
    description = request.description or f"{request.policy.metric}={metric_value} from {origin}"
    return (
        {k: str(v) for k, v in tags.items() if v is not None},
        {k: str(v) for k, v in properties.items() if v is not None},
        description,
    )


# ---------------------------------------------------------------------- outside a pipeline


def register_file_if_better(
    workspace: Any, request: RegisterRequest, metric_value: str, model_type: str | None = None
) -> DecisionRecord:
    """The same gate for a model trained outside a pipeline: the metric comes from the caller
    and the model is registered at workspace level (`Model.register`), with no run to link."""
    validate_model_name(request.model_name)
    artifact = inspect_artifact(request.model_path)
    source = f"--metric-value for {request.policy.metric!r}"
    value = parse_metric(
        metric_value,
        source=source,
        name=request.policy.metric,
        valid_range=request.policy.valid_range,
    )
    challenger = Challenger(value, source, model_type)
    decision = _decide(
        challenger, find_champion(workspace, request.model_name, request.policy), request.policy
    )
    # A likely winner's files are streamed into the workspace before the registry is held, so
    # a large model never makes other writers wait (or time out) behind the lock.
    files = [local for _, local, _ in artifact.files] if decision.promote else []
    with staged_upload(workspace, files):
        decision, version, race = _decide_and_register(
            workspace,
            request,
            challenger,
            decision,
            lambda d: _register_file(workspace, request, challenger, d, artifact),
        )
    return DecisionRecord(
        decision=decision,
        model_name=request.model_name,
        registered_version=version,
        build_number=request.build_number,
        challenger_source=source,
        parent_run_id=None,
        artifact_path=str(request.model_path),
        artifact_sha256=artifact.sha256,
        model_type=model_type,
        race_detected=race,
    )


def _register_file(
    workspace: Any,
    request: RegisterRequest,
    challenger: Challenger,
    decision: Decision,
    artifact: LocalArtifact,
) -> int:
    tags, properties, description = _metadata(request, challenger, decision, artifact, None)
    model_path = Path(request.model_path).resolve()
    # Model.register only accepts paths under the working directory (azureml-core 1.61).
    with contextlib.chdir(model_path.parent):
        model = _infra(
            f"registering {request.model_name}",
            model_class(workspace).register,
            workspace,
            model_path=model_path.name,
            model_name=request.model_name,
            tags=tags,
            properties=properties,
            description=description,
            model_framework=request.model_framework,
            model_framework_version=request.model_framework_version,
        )
    return int(model.version)


def _registered_by(workspace: Any, name: str, run_id: str) -> Any:
    """The newest version of `name` this pipeline run registered, if a previous attempt did."""
    found = _infra(
        "checking for an earlier registration by this run",
        model_class(workspace).list,
        workspace,
        name=name,
        run_id=run_id,
        expand=False,
    )
    return found[0] if found else None


def _already_registered(
    request: RegisterRequest,
    parent: RunLike,
    challenger: Challenger,
    model: Any,
    artifact: LocalArtifact,
) -> DecisionRecord:
    decision = Decision(
        outcome=Outcome.ALREADY_REGISTERED,
        challenger=challenger.value,
        champion=None,
        champion_version=None,
        policy=request.policy,
        comparison="",
        reason=f"pipeline run {parent.id} already registered {model.name}:{model.version} "
        "(a retried step); nothing new was registered",
    )
    return DecisionRecord(
        decision=decision,
        model_name=request.model_name,
        registered_version=int(model.version),
        build_number=request.build_number,
        challenger_source=challenger.source,
        parent_run_id=parent.id,
        artifact_path=f"outputs/{request.model_name}",
        artifact_sha256=artifact.sha256,
        model_type=challenger.model_type,
    )


def _race_detected(
    workspace: Any, name: str, champion: Champion | None, version: int | None
) -> bool:
    """Azure ML has no registry lock: after registering, any live version between the champion
    we compared against and ours was registered by someone else in between."""
    if version is None:
        return False
    start = champion.version + 1 if champion else 1
    model_cls = model_class(workspace)
    for between in range(start, version):
        try:
            model_cls(workspace, name, version=between, expand=False)
        except Exception as exc:
            if is_model_not_found(exc):
                continue
            raise
        return True
    return False


# ---------------------------------------------------------------------- errors


def _infra(action: str, call: Any, *args: Any, _before_retry: Any = None, **kwargs: Any) -> Any:
    """Run one workspace call, retrying transient failures (see champion.retry); any other
    failure that is not already ours becomes an InfrastructureError naming what was being done,
    so the step exits 3 and says why. `_before_retry` may return a truthy result that makes a
    further attempt unnecessary (the earlier attempt did land)."""

    def check() -> Any:
        found = _before_retry() if _before_retry is not None else None
        return found or None

    with _failing_as_infrastructure(action):
        return call_with_retry(action, lambda: call(*args, **kwargs), before_retry=check)


@contextmanager
def _failing_as_infrastructure(action: str) -> Iterator[None]:
    try:
        yield
    except (ChampionError, _PartialUpload):
        raise
    except Exception as exc:
        known = from_environment(exc) if isinstance(exc, OSError) else None
        detail = known.message if known is not None else describe(exc, classify(exc)[2])
        raise InfrastructureError(
            f"{action} failed: {detail}", field="workspace", value=action
        ) from exc
