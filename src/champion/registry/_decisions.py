"""Reading decision records off a run into `DecisionEntry` lines: shared by every backend.

Why here: a record is a JSON artifact on a run (`champion.names.record_names`), and every
backend exposes its runs as a `ParentRun`, so turning a run's records into a model's history is
written once. A backend's `Registry.decisions` finds the runs (a tag query, its own way) and
calls `entries_on_run` for each. The record's reader for the gate (`champion.record`) uses
`read_record_file` too: one reader of the artifact.

Tolerance, on purpose: history must show records written by other versions of champion, so an
unknown outcome is kept as its string, and a record of several metrics (a policy listing
`metrics`, values per metric) is read for its primary metric, the first the policy lists. See
`recorded_value` for the shapes it reads.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from champion.errors import InfrastructureError, InputError
from champion.names import record_names, record_number
from champion.registry import DecisionEntry, ParentRun

__all__ = [
    "entries_on_run",
    "entry_of",
    "parse_time",
    "primary_metric",
    "read_record_file",
    "recorded_value",
    "sort_entries",
]

_EPOCH = datetime.min.replace(tzinfo=UTC)


def read_record_file(run: ParentRun, name: str) -> dict[str, Any] | None:
    """The JSON artifact `name` on `run`, or None when it is empty (an upload whose transfer
    failed). InputError when it holds JSON that is not an object (no register step wrote it)."""
    import json

    with tempfile.TemporaryDirectory() as tmp:
        target = Path(tmp) / "record.json"
        run.download_file(name, target)
        text = target.read_text(encoding="utf-8")
    if not text.strip():
        return None
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as exc:  # RecursionError: nested deeper than the stack
        raise InputError(
            f"the decision record {name} on run {run.id} is not valid JSON "
            f"({type(exc).__name__}); it was not written by a register step",
            field="record",
            value=name,
        ) from None
    if not isinstance(data, dict):
        raise InputError(
            f"the decision record {name} on run {run.id} is not a JSON object; it was not "
            "written by a register step",
            field="record",
            value=name,
        )
    return data


def entries_on_run(
    run: ParentRun,
    model_name: str,
    files: Iterable[str] | None = None,
    started: Callable[[], datetime | None] | None = None,
) -> list[DecisionEntry]:
    """The decisions on `model_name` recorded on `run`, oldest record first. `started` gives
    the run's start time, asked only for a record without `decided_at` (written before
    champion recorded the time)."""
    entries = []
    for name in record_names(files if files is not None else run.file_names()):
        try:
            raw = read_record_file(run, name)
        except InputError as exc:
            raise InfrastructureError(
                f"the decision record {name} on run {run.id} cannot be read as a record "
                f"({exc}); the history of {model_name!r} would have a hole, so none is shown",
                field="record",
                value=f"{run.id}/{name}",
            ) from exc
        if raw is None or raw.get("model_name") != model_name:
            continue
        time = parse_time(raw.get("decided_at"))
        if time is None and started is not None:
            time = started()
        entries.append(entry_of(raw, run_id=run.id, record_name=name, time=time))
    return entries


def entry_of(
    raw: Mapping[str, Any], *, run_id: str | None, record_name: str | None, time: datetime | None
) -> DecisionEntry:
    """One record as a history line; see the module docstring for what it tolerates."""
    metric = primary_metric(raw)
    policy = raw.get("policy")
    return DecisionEntry(
        time=time,
        run_id=run_id,
        outcome=str(raw.get("outcome") or "unknown"),
        metric=metric,
        challenger=recorded_value(raw, "challenger", metric),
        champion=recorded_value(raw, "champion", metric),
        champion_version=_version(raw.get("champion_version")),
        registered_version=_version(raw.get("registered_version")),
        build_number=_text(raw.get("build_number")),
        reason=_text(raw.get("reason")),
        policy=dict(policy) if isinstance(policy, Mapping) else {},
        record=dict(raw),
        record_name=record_name,
        alias_move=_move(raw.get("alias_move")),
    )


def _move(value: object) -> tuple[int | None, int] | None:
    """A record's `alias_move` (`{"alias", "from", "to"}`) as (from, to); None when the record
    holds none (it made no move, or it predates recording them)."""
    if not isinstance(value, Mapping):
        return None
    to = _version(value.get("to"))
    return None if to is None else (_version(value.get("from")), to)


def primary_metric(raw: Mapping[str, Any]) -> str:
    """The metric a record is shown by: the first of the policy's `metrics` (a list of names
    or of objects with `metric`/`name`), else the policy's `metric`, else the record's."""
    policy = raw.get("policy")
    if isinstance(policy, Mapping):
        listed = policy.get("metrics")
        if isinstance(listed, list) and listed:
            name = _metric_name(listed[0])
            if name:
                return name
        if isinstance(policy.get("metric"), str) and policy["metric"]:
            return str(policy["metric"])
    return str(raw.get("metric") or "?")


def recorded_value(raw: Mapping[str, Any], role: str, metric: str) -> str | None:
    """The `role` ("challenger" or "champion") value of `metric` in a record, as its exact
    string. Read from `raw[role]` when it is the primary metric's string, or a mapping metric ->
    value; else from a `metrics` list of per-metric comparisons (`{"metric": ..., role: ...}`,
    or a mapping metric -> `{role: ...}`)."""
    value = raw.get(role)
    if isinstance(value, Mapping):
        return _text(value.get(metric))
    if value is not None and metric == primary_metric(raw):
        return _text(value)
    listed = raw.get("metrics")
    if isinstance(listed, Mapping):
        item = listed.get(metric)
        return _text(item.get(role)) if isinstance(item, Mapping) else None
    if isinstance(listed, list):
        for item in listed:
            if isinstance(item, Mapping) and _metric_name(item) == metric:
                return _text(item.get(role))
    return None


def parse_time(value: object) -> datetime | None:
    """An ISO 8601 time as a UTC datetime (a naive one is taken as UTC, as Azure ML stores
    run times); None when absent or unreadable."""
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str) and value:
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
    else:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def sort_entries(entries: Iterable[DecisionEntry]) -> list[DecisionEntry]:
    """Oldest first; a line without a time first; ties in run and record order."""
    return sorted(
        entries,
        key=lambda e: (
            e.time or _EPOCH,
            e.run_id or "",
            record_number(e.record_name) if e.record_name else 0,
        ),
    )


def _metric_name(item: object) -> str | None:
    if isinstance(item, str):
        return item or None
    if isinstance(item, Mapping):
        name = item.get("metric") or item.get("name")
        return name if isinstance(name, str) and name else None
    return None


def _version(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return None


def _text(value: object) -> str | None:
    return None if value is None else str(value)
