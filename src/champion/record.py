"""Write down what the gate decided: a JSON artifact, tags on the run, lines for Azure DevOps.

Why a record at all: a registry that only shows the winners cannot answer "why was build 412's
model not promoted?". The record keeps both numbers as exact strings, the policy, the outcome and
the versions, on the pipeline run that produced the challenger, where the run's logs already are.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from champion._redact import redact
from champion.decision import Decision, Outcome
from champion.errors import InputError
from champion.names import (
    CHAMPION_TAGS,
    DECISION_ARTIFACT,
    DRY_RUN_TAG,
    MODEL_NAME,
    MODEL_TAG,
    OUTCOME,
    RACE_TAG,
    RECORD_TAG,
    VERSION_TAG,
    record_name,
    record_names,
    record_number,
)
from champion.registry import ParentRun
from champion.registry._decisions import read_record_file
from champion.registry.sdk_run import RunLike, as_parent_run

__all__ = [
    "CHAMPION_TAGS",
    "DECISION_ARTIFACT",
    "DRY_RUN_TAG",
    "MODEL_TAG",
    "OUTCOME_TAG",
    "RACE_TAG",
    "RECORD_TAG",
    "SCHEMA_VERSION",
    "VERSION_TAG",
    "DecisionRecord",
    "devops_commands",
    "devops_commands_for",
    "neutralize_logging_commands",
    "newest_record",
    "read_record",
    "record_body",
    "record_name",
    "record_names",
    "tag_record",
    "tags_for",
    "write_record",
]

SCHEMA_VERSION = 1
OUTCOME_TAG = OUTCOME
# What a later record must differ in to be a new decision rather than the same one restated.
_VERDICT_KEYS = (
    "model_name",
    "outcome",
    "registered_version",
    "challenger",
    "champion",
    "champion_version",
    "policy",
)


@dataclass(frozen=True)
class DecisionRecord:
    """Everything needed to explain a verdict later from the run alone.

    Beside the primary metric's numbers (`challenger`, `champion`), `metrics` lists every
    metric's comparison and `decided_by` the one that decided; `test_data` says what each side
    was measured on and whether that was the same (`same`: true, false, or null when it could
    not be told), `rescored` the fresh numbers of a `--rescore-champion` beside the stored
    ones, `dry_run` whether anything could have been registered, `rollback_of` the version
    a rollback made the champion again, `alias_move` the move of MLflow's champion alias
    the decision made (history shows recorded moves only), and `race` what the gate saw and
    repaired when other gates decided at the same time."""

    decision: Decision
    model_name: str
    registered_version: int | None
    build_number: str | None
    challenger_source: str
    parent_run_id: str | None
    artifact_path: str | None
    artifact_sha256: str | None
    model_type: str | None = None
    race_detected: bool = False
    champion_rule: str | None = None
    notes: list[str] = field(default_factory=list)
    test_data: Mapping[str, Any] | None = None
    rescored: Mapping[str, Any] | None = None
    rollback_of: int | None = None
    alias_move: Mapping[str, Any] | None = None
    """MLflow: the alias move the decision made (`{"alias", "from", "to"}`), None if none."""
    race: Mapping[str, Any] | None = None
    """What the race check saw and repaired when other gates decided at the same time
    (`champion.registry.RaceReport.to_dict`); None when it saw no race."""
    decided_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    """When the gate decided, in UTC: the time `champion models history` shows."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema_version": SCHEMA_VERSION,
            "model_name": self.model_name,
            "decided_at": self.decided_at.astimezone(UTC).isoformat(),
            **self.decision.to_dict(),
            "registered_version": self.registered_version,
            "build_number": self.build_number,
            "challenger_source": self.challenger_source,
            "parent_run_id": self.parent_run_id,
            "artifact_path": self.artifact_path,
            "artifact_sha256": self.artifact_sha256,
            "model_type": self.model_type,
            "race_detected": self.race_detected,
            "champion_rule": self.champion_rule,
            "notes": list(self.notes),
            "test_data": None if self.test_data is None else dict(self.test_data),
            "rescored": None if self.rescored is None else dict(self.rescored),
            "rollback_of": self.rollback_of,
            "alias_move": None if self.alias_move is None else dict(self.alias_move),
            "race": None if self.race is None else dict(self.race),
        }

    @property
    def verdict(self) -> str:
        """One line for the console and the build log."""
        d = self.decision
        version = (
            f" as {self.model_name}:{self.registered_version}" if self.registered_version else ""
        )
        race = " (race detected: another version was registered concurrently" + (
            f"; the champion is v{self.race['best']}, the best of the racing decisions)"
            if self.race and self.race.get("repairs") and self.race.get("best") is not None
            else ")"
        )
        rescored = " (re-scored)" if self.rescored and "metrics" in self.rescored else ""
        return (
            f"{d.outcome.value}{version}: {d.policy.metric} {d.to_dict()['challenger']} "
            f"vs champion {d.to_dict()['champion'] or '-'}"
            f"{' v' + str(d.champion_version) if d.champion_version else ''}{rescored}; "
            f"{d.reason}{race if self.race_detected else ''}"
        )


def tags_for(name: str, on_run: Mapping[str, Any]) -> dict[str, str]:
    """The `champion.*` tags that describe the record `on_run`, stored on the run as `name`.
    `VERSION_TAG`, `RACE_TAG` and `DRY_RUN_TAG` are absent when the record has no version, saw
    no race, or is not a dry run's; `MODEL_TAG` names the model, so `Registry.decisions` finds
    the run by a tag query."""
    tags = {
        OUTCOME_TAG: str(on_run.get("outcome")),
        RECORD_TAG: name,
        MODEL_TAG: str(on_run.get("model_name")),
    }
    if on_run.get("registered_version") is not None:
        tags[VERSION_TAG] = str(on_run["registered_version"])
    if on_run.get("race_detected"):
        tags[RACE_TAG] = "True"
    if on_run.get("dry_run"):
        tags[DRY_RUN_TAG] = "true"
    return tags


def write_record(
    run: ParentRun | RunLike, record: DecisionRecord, files: Iterable[str] | None = None
) -> dict[str, Any]:
    """Upload the JSON and tag the run; return the record that is on the run. `files` is the
    run's file listing if the caller has one (it saves a round trip).

    The record and the tags always describe the latest attempt. Artifacts have no overwrite,
    so a retried step whose verdict differs from the newest record on the run (rejected, then
    the champion was deleted and the retry registered a version) adds the next numbered record,
    `outputs/champion_decision.<n>.json`, and keeps the earlier ones as history. A retry that
    decides the same thing (or finds the version an earlier attempt registered) keeps the
    newest record, so retries do not pile records up.

    Crash safety: the record is stored before the tags are set (`ParentRun.add_record`; the
    local workspace writes both in one commit), and the tags name the record they describe
    (`RECORD_TAG`). Where they are separate calls, a crash in between leaves the previous,
    consistent tags and a newer record that readers take as the verdict (`read_record` reads
    the newest); the mismatch is visible (`wait_for_decision` reports it) and the next retry
    repairs it by tagging from the newest record. An empty record, the leftover of a failed
    transfer, counts as absent."""
    run = as_parent_run(run)
    names = record_names(files if files is not None else run.file_names())
    newest = _newest(run, names)
    if newest is not None and _same_verdict(newest[1], record):
        name, on_run = newest
        tag_record(run, name, on_run, retried=bool(names))
        return on_run
    name = record_name(record_number(names[-1]) + 1 if names else 1)
    on_run, body = record_body(record)
    tags = tags_for(name, on_run)
    run.add_record(name, body, tags, _stale(run, tags, retried=bool(names)))
    return on_run


def record_body(record: DecisionRecord) -> tuple[dict[str, Any], bytes]:
    """The record as stored on a run: its dict, and the JSON bytes (secrets redacted)."""
    on_run = record.to_dict()
    return on_run, redact(json.dumps(on_run, indent=2, sort_keys=True)).encode()


def tag_record(run: ParentRun, name: str, on_run: Mapping[str, Any], *, retried: bool) -> None:
    """Tag `run` from the record `name` it holds (`on_run`), after that record is stored.

    `retried`: the run held a record before this attempt. Only then can it carry tags of an
    earlier attempt that this record does not have (the version of a registration the retry
    did not repeat), so only a retry pays for reading them. They are removed after the new tags
    are set: a crash in between leaves RECORD_TAG naming the new record beside a stale version
    that disagrees with it."""
    tags = tags_for(name, on_run)
    stale = _stale(run, tags, retried=retried)
    run.set_tags(tags)
    if stale:
        run.remove_tags(stale)


def _stale(run: ParentRun, tags: Mapping[str, str], *, retried: bool) -> list[str]:
    """The tags of an earlier attempt that `tags` (a new record's) do not restate."""
    current = run.get_tags() if retried else {}
    return [
        key for key in (VERSION_TAG, RACE_TAG, DRY_RUN_TAG) if key in current and key not in tags
    ]


def read_record(run: ParentRun | RunLike) -> dict[str, Any] | None:
    """The newest decision record on `run` (a pipeline run), or None when no register step
    wrote one.

    The counterpart of `write_record`, for whoever submitted the pipeline: a build reads the
    verdict back from the run rather than from the step's console."""
    newest = newest_record(run)
    return None if newest is None else newest[1]


def newest_record(
    run: ParentRun | RunLike, files: Iterable[str] | None = None
) -> tuple[str, dict[str, Any]] | None:
    """The newest decision record on `run` and its artifact name, or None."""
    run = as_parent_run(run)
    return _newest(run, record_names(files if files is not None else run.file_names()))


def _newest(run: ParentRun, names: list[str]) -> tuple[str, dict[str, Any]] | None:
    for name in reversed(names):
        data = read_record_file(run, name)
        if data is not None:
            return name, data
    return None


def _same_verdict(on_run: Mapping[str, Any], record: DecisionRecord) -> bool:
    """Whether `record` restates the record already on the run rather than deciding anew."""
    new = record.to_dict()
    if record.decision.outcome is Outcome.ALREADY_REGISTERED:
        # the retry found the version an earlier attempt registered: the record of that
        # registration (first/promoted) says more, and is still true
        return all(on_run.get(k) == new[k] for k in ("model_name", "registered_version"))
    return all(on_run.get(k) == new[k] for k in _VERDICT_KEYS)


# ---------------------------------------------------------------------- Azure DevOps

_VSO_ESCAPES = {"%": "%AZP25", "\r": "%0D", "\n": "%0A", "]": "%5D", ";": "%3B"}
_VARIABLE_NAME = re.compile(r"^[A-Za-z0-9_.]+$")
_VALUE_SHAPES = {
    "champion_outcome": re.compile("|".join(outcome.value for outcome in Outcome)),
    "champion_version": re.compile(r"[1-9][0-9]{0,9}|"),
    "champion_model": MODEL_NAME,
    "champion_dry_run": re.compile("true|false"),
}


def _escape_vso(value: str) -> str:
    """Escape a value for a `##vso[...]` logging command, as the agent unescapes it.

    Without this a tag value holding `]` or a newline could end our command and start another
    (`##vso[task.setvariable ...]` injected from a model tag)."""
    return "".join(_VSO_ESCAPES.get(ch, ch) for ch in value)


def devops_commands(record: DecisionRecord) -> list[str]:
    """Output variables for later jobs: champion_outcome, champion_version, champion_model, and
    champion_dry_run (`true` for a dry run's `would_promote` / `would_reject`: a Deploy stage
    must not act on it)."""
    values = {
        "champion_outcome": record.decision.outcome.value,
        "champion_version": str(record.registered_version or ""),
        "champion_model": record.model_name,
        "champion_dry_run": "true" if record.decision.dry_run else "false",
    }
    return _setvariable_lines(values)


def devops_commands_for(on_run: Mapping[str, Any]) -> list[str]:
    """`devops_commands` for a record read back from a run (`read_record`): the same variables
    from the JSON's `outcome`, `registered_version`, `model_name` and `dry_run` (absent in
    records written before dry runs existed: false).

    A record on a run can be edited by anyone with access to the workspace, and a later job may
    echo the variable unescaped, so each value must also have the shape a register step writes
    (an outcome name, a version number, a valid model name): InputError otherwise."""
    keys = {
        "champion_outcome": "outcome",
        "champion_version": "registered_version",
        "champion_model": "model_name",
    }
    values = {name: "" if on_run.get(k) is None else str(on_run[k]) for name, k in keys.items()}
    dry_run = on_run.get("dry_run", False)
    values["champion_dry_run"] = (
        "true" if dry_run is True else "false" if dry_run is False else repr(dry_run)
    )
    for name, value in values.items():
        if not _VALUE_SHAPES[name].fullmatch(value):
            raise InputError(
                f"the decision record's value for {name} is not what a register step writes: "
                f"{value!r}",
                field=name,
                value=value,
            )
    return _setvariable_lines(values)


def _setvariable_lines(values: Mapping[str, str]) -> list[str]:
    lines = []
    for name, value in values.items():
        assert _VARIABLE_NAME.fullmatch(name)
        lines.append(f"##vso[task.setvariable variable={name};isOutput=true]{_escape_vso(value)}")
    return lines


# Characters at which the agent's line reader (or a wrapping console) may start a new line.
_LINE_BREAKS = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def neutralize_logging_commands(text: str) -> str:
    """`text` made safe to print on an Azure DevOps agent: no logging command can start in it.

    The agent acts on `##vso[` anywhere in a line (any case) and on `##[` formatting commands,
    so every `##` is broken up, and every character that could start a new line is shown as its
    `%XX` code. Use it for anything read from a run (tags, record, logs); only our own
    `devops_commands` lines may reach the agent unfiltered."""
    text = _LINE_BREAKS.sub(lambda m: f"%{ord(m.group()):02X}", text)
    return text.replace("##", "#%23")
