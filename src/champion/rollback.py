"""Make an earlier version the champion again, by hand, with the history kept.

Why a command and not "delete the bad version": deleting rewrites history (the next reader
cannot tell a model was ever promoted and pulled), and on Azure ML a deleted version's number is
never reused anyway. A rollback is a decision like the gate's, so it leaves what a gate's
decision leaves: on the backends whose champion is the latest version (Azure ML, the local
workspace) a NEW version holding the earlier version's files, its original metric and
test-data properties, `champion.outcome=rolled_back` and `champion.rollback_of`; a decision
record with outcome `rolled_back` on a run of the `champion-rollback` experiment; and the
reason given. MLflow moves its alias instead (`Registry.make_champion`).

The next challenger is then compared with the rolled-back champion's stored metric, by the
gate's ordinary rules: nothing else changes.

Refused (InputError, exit 2, nothing changed): an empty reason, a model or version that does
not exist, the version that already is the champion, and a version without a metric, which no
challenger could be compared with.

This module sees the Protocols of `champion.registry` only.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from champion import names
from champion.decision import Decision, MetricRule, Outcome, Policy
from champion.errors import ChampionUnknownError, InputError
from champion.metrics import format_metric, parse_metric
from champion.record import DecisionRecord, write_record
from champion.registry import ChampionChange, ModelVersion, ParentRun, Registry
from champion.registry._race import origin_of

__all__ = ["EVENT_PROPERTIES", "rollback"]

EVENT_PROPERTIES = names.EVENT_PROPERTIES


def rollback(
    registry: Registry,
    name: str,
    *,
    reason: str,
    to: int | None = None,
    metrics: Sequence[str] = (),
) -> DecisionRecord:
    """Make version `to` of `name` (default: the version the champion replaced) the champion
    again; returns the decision record written on the rollback's run.

    `metrics` are the metric properties the version must have (default: those of the policy
    it was registered under, else `accuracy`)."""
    reason = (reason or "").strip()
    if not reason:
        raise InputError(
            "--reason is empty; say why the champion is rolled back (it is kept in the "
            "history and the decision record)",
            field="--reason",
            value=reason,
        )
    versions = {v.version: v for v in registry.versions(name)}
    if not versions:
        raise InputError(
            f"no version of {name!r} is registered, so there is nothing to roll back to; "
            "'champion models list' shows the names",
            field="name",
            value=name,
        )
    try:
        champion = registry.champion(name)
    except ChampionUnknownError:  # versions, but none is named the champion (MLflow's alias)
        if to is None:
            raise  # its message says to name the version with --to
        champion = None
    target = _target(name, versions, champion, to)
    policy = _policy_of(target, metrics)
    values = _values_of(target, policy)
    champion_value = None if champion is None else _value_or_none(champion, policy.metric)
    text = f"rolled back to {name}:{target.version} by hand: {reason}"
    was = "no version was" if champion is None else f"v{champion.version} was"
    decision = Decision(
        outcome=Outcome.ROLLED_BACK,
        challenger=values[policy.metric],
        champion=champion_value,
        champion_version=None if champion is None else champion.version,
        policy=policy,
        comparison="",
        reason=f"{text}; {was} the champion",
    )
    properties = {
        **{k: v for k, v in target.properties.items() if k not in EVENT_PROPERTIES},
        names.OUTCOME: Outcome.ROLLED_BACK.value,
        names.ROLLBACK_OF: str(target.version),
        names.REASON: decision.reason,
    }
    if champion is not None:
        properties[names.PREVIOUS_VERSION] = str(champion.version)
    if champion_value is not None:
        properties[names.PREVIOUS_METRIC] = format_metric(champion_value)
    tags = {
        **{k: v for k, v in target.tags.items() if k != names.OUTCOME},
        names.OUTCOME: Outcome.ROLLED_BACK.value,
    }
    written: list[DecisionRecord] = []

    def record(run: ParentRun, now: int) -> None:
        made = DecisionRecord(
            decision=decision,
            model_name=name,
            registered_version=now,
            build_number=target.properties.get(names.BUILD_NUMBER),
            challenger_source=f"model {name}:{target.version}",
            parent_run_id=run.id,
            artifact_path=names.model_prefix(name),
            artifact_sha256=target.properties.get(names.ARTIFACT_SHA256),
            model_type=target.properties.get(names.MODEL_TYPE),
            rollback_of=target.version,
            alias_move=registry.alias_move(name, now),
        )
        write_record(run, made)
        written.append(made)

    change = ChampionChange(
        properties=properties,
        tags=tags,
        description=f"{name}:{target.version} again ({text})",
        expected_champion=None if champion is None else champion.version,
        record=record,
    )
    registry.make_champion(name, target.version, change)
    return written[0]


def _target(
    name: str, versions: dict[int, ModelVersion], champion: ModelVersion | None, to: int | None
) -> ModelVersion:
    if to is None:
        assert champion is not None  # without one, `to` is required (see `rollback`)
        to = _default_target(versions, champion)
        if to is None:
            raise InputError(
                f"{name}:{champion.version} is the only version of {name!r}; there is nothing "
                "to roll back to",
                field="--to",
                value=None,
            )
    if to not in versions:
        listing = ", ".join(str(v) for v in sorted(versions))
        raise InputError(
            f"there is no version {to} of {name!r} (versions: {listing}); "
            f"'champion models history {name}' lists them",
            field="--to",
            value=to,
        )
    if champion is None:
        return versions[to]
    if to == champion.version:
        raise InputError(
            f"{name}:{to} already is the champion; nothing to roll back",
            field="--to",
            value=to,
        )
    if _origin(versions[to]) == _origin(champion):
        # A rollback copy is the earlier version again: rolling back to it (or to another copy
        # of it) would add an identical version each time, and decide nothing.
        raise InputError(
            f"{name}:{to} already is the champion: {name}:{champion.version} is "
            f"{name}:{_origin(champion)} rolled back; nothing to roll back",
            field="--to",
            value=to,
        )
    return versions[to]


def _origin(version: ModelVersion) -> int:
    """The version whose files and metrics `version` holds (a rollback's or a race repair's
    copy holds another's)."""
    return origin_of(version)


def _default_target(versions: dict[int, ModelVersion], champion: ModelVersion) -> int | None:
    """The version the champion replaced, when it still exists; else the newest before it."""
    replaced = champion.properties.get(names.PREVIOUS_VERSION, "")
    if replaced.isdigit() and int(replaced) in versions and int(replaced) != champion.version:
        return int(replaced)
    earlier = [v for v in versions if v < champion.version]
    return max(earlier) if earlier else None


def _policy_of(target: ModelVersion, metrics: Sequence[str]) -> Policy:
    """The metrics a rollback target must carry: those given, else those of the policy the
    version was registered under, else accuracy. Ranges are not re-judged here."""
    chosen = list(metrics)
    if not chosen:
        stored = target.properties.get(names.POLICY)
        try:
            data = json.loads(stored) if stored else {}
        except (ValueError, RecursionError):
            data = {}
        listed = data.get("metrics") if isinstance(data, dict) else None
        if isinstance(listed, list):
            chosen = [str(m.get("metric")) for m in listed if isinstance(m, dict)]
        elif isinstance(data, dict) and data.get("metric"):
            chosen = [str(data["metric"])]
    return Policy.of(*(MetricRule(m, valid_range=None) for m in (chosen or ["accuracy"])))


def _values_of(target: ModelVersion, policy: Policy) -> dict[str, float]:
    values = {}
    for metric in policy.metrics:
        raw = target.properties.get(metric)
        if raw is None:
            raise InputError(
                f"{target.name}:{target.version} has no {metric!r} property; a champion without "
                "its metric could not be compared with the next challenger, so it cannot be "
                "rolled back to (pass --metric NAME if it is stored under another name)",
                field="--to",
                value=target.version,
            )
        values[metric] = parse_metric(
            raw, source=f"model {target.name}:{target.version} property {metric!r}", name=metric
        )
    return values


def _value_or_none(version: ModelVersion, metric: str) -> float | None:
    raw = version.properties.get(metric)
    if raw is None:
        return None
    try:
        return parse_metric(raw, source=f"model {version.name}:{version.version}", name=metric)
    except InputError:
        return None
