"""The gate's record-writing tail: the one place a decision's `DecisionRecord` is made, and
how it is written to its run, including after a registration whose later calls failed.

Why apart from the flow (`champion.gate`): the flow says what is decided and registered in what
order; this says how its trace is kept, which every branch of the flow ends with (a first look's
rejection, a winner, a retried step's earlier version, a registration that failed after it had
made the champion). A failure to write the record after a winner registered is never reported as
"nothing happened": it is a RegisteredThenFailedError saying the version is the champion and how
a retry records it.
"""

from __future__ import annotations

from collections.abc import Sequence

from champion import names
from champion._retry import remote
from champion.artifact import LocalArtifact
from champion.decision import Decision
from champion.errors import ChampionError, RegisteredThenFailedError
from champion.judge import Judge
from champion.record import DecisionRecord, write_record
from champion.registry import NO_RACE, ArtifactConflict, ParentRun, RaceReport, Registry
from champion.request import RegisterRequest

__all__ = ["record_of", "recorded_anyway", "write"]


def record_of(
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


def write(
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


def recorded_anyway(
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
    record = record_of(
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
