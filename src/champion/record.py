"""Write down what the gate decided: a JSON artifact, tags on the run, lines for Azure DevOps.

Why a record at all: a registry that only shows the winners cannot answer "why was build 412's
model not promoted?". The record keeps both numbers as exact strings, the policy, the outcome and
the versions, on the pipeline run that produced the challenger, where the run's logs already are.
"""

from __future__ import annotations

import io
import json
import os
import re
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from champion.decision import Decision, Outcome
from champion.errors import InputError
from champion.redact import redact
from champion.surface import RunLike

SCHEMA_VERSION = 1
DECISION_ARTIFACT = "outputs/champion_decision.json"
OUTCOME_TAG = "champion.outcome"
VERSION_TAG = "champion.version"


@dataclass(frozen=True)
class DecisionRecord:
    """Everything needed to explain a verdict later from the run alone."""

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
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema_version": SCHEMA_VERSION,
            "model_name": self.model_name,
            **self.decision.to_dict(),
            "registered_version": self.registered_version,
            "build_number": self.build_number,
            "challenger_source": self.challenger_source,
            "parent_run_id": self.parent_run_id,
            "artifact_path": self.artifact_path,
            "artifact_sha256": self.artifact_sha256,
            "model_type": self.model_type,
            "race_detected": self.race_detected,
            "notes": list(self.notes),
        }

    @property
    def verdict(self) -> str:
        """One line for the console and the build log."""
        d = self.decision
        version = (
            f" as {self.model_name}:{self.registered_version}" if self.registered_version else ""
        )
        race = " (race detected: another version was registered concurrently)"
        return (
            f"{d.outcome.value}{version}: {d.policy.metric} {d.to_dict()['challenger']} "
            f"vs champion {d.to_dict()['champion'] or '-'}"
            f"{' v' + str(d.champion_version) if d.champion_version else ''}; {d.reason}"
            f"{race if self.race_detected else ''}"
        )


def write_record(
    run: RunLike, record: DecisionRecord, files: set[str] | None = None
) -> dict[str, Any]:
    """Upload the JSON and tag the run; return the record that is on the run. `files` is the
    run's file listing if the caller has one (it saves a round trip).

    A retried step finds the first attempt's record in place (artifacts have no overwrite) and
    keeps it: the first verdict is the one that happened, and the tags are set from it, so the
    JSON and the tags never disagree, even after a crash between the upload and the tagging."""
    if DECISION_ARTIFACT in (files if files is not None else run.get_file_names()):
        on_run = _read_json(run, DECISION_ARTIFACT)
    else:
        on_run = record.to_dict()
        body = redact(json.dumps(on_run, indent=2, sort_keys=True)).encode()
        run.upload_file(DECISION_ARTIFACT, io.BytesIO(body))
    tags = {OUTCOME_TAG: str(on_run["outcome"])}
    if on_run.get("registered_version") is not None:
        tags[VERSION_TAG] = str(on_run["registered_version"])
    if on_run.get("race_detected"):
        tags["champion.race_detected"] = "True"
    run.set_tags(tags)
    return on_run


def read_record(run: RunLike) -> dict[str, Any] | None:
    """The decision record on `run` (a pipeline run), or None when no register step wrote one.

    The counterpart of `write_record`, for whoever submitted the pipeline: a build reads the
    verdict back from the run rather than from the step's console."""
    if DECISION_ARTIFACT not in run.get_file_names():
        return None
    return _read_json(run, DECISION_ARTIFACT)


def _read_json(run: RunLike, name: str) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        target = os.path.join(tmp, "record.json")
        run.download_file(name, target)
        with open(target, encoding="utf-8") as fh:
            data: dict[str, Any] = json.load(fh)
    return data


# ---------------------------------------------------------------------- Azure DevOps

_VSO_ESCAPES = {"%": "%AZP25", "\r": "%0D", "\n": "%0A", "]": "%5D", ";": "%3B"}
_VARIABLE_NAME = re.compile(r"^[A-Za-z0-9_.]+$")
_VALUE_SHAPES = {
    "champion_outcome": re.compile("|".join(outcome.value for outcome in Outcome)),
    "champion_version": re.compile(r"[1-9][0-9]{0,9}|"),
    # Azure ML's model name rule (azureml._model_management._util.model_name_validation).
    "champion_model": re.compile(r"[a-zA-Z0-9][a-zA-Z0-9\-._]{0,254}"),
}


def escape_vso(value: str) -> str:
    """Escape a value for a `##vso[...]` logging command, as the agent unescapes it.

    Without this a tag value holding `]` or a newline could end our command and start another
    (`##vso[task.setvariable ...]` injected from a model tag)."""
    return "".join(_VSO_ESCAPES.get(ch, ch) for ch in value)


def devops_commands(record: DecisionRecord) -> list[str]:
    """Output variables for later jobs: champion_outcome, champion_version, champion_model."""
    values = {
        "champion_outcome": record.decision.outcome.value,
        "champion_version": str(record.registered_version or ""),
        "champion_model": record.model_name,
    }
    return _setvariable_lines(values)


def devops_commands_for(on_run: Mapping[str, Any]) -> list[str]:
    """`devops_commands` for a record read back from a run (`read_record`): the same variables
    from the JSON's `outcome`, `registered_version` and `model_name`.

    A record on a run can be edited by anyone with access to the workspace, and a later job may
    echo the variable unescaped, so each value must also have the shape a register step writes
    (an outcome name, a version number, a valid model name): InputError otherwise."""
    keys = {
        "champion_outcome": "outcome",
        "champion_version": "registered_version",
        "champion_model": "model_name",
    }
    values = {name: "" if on_run.get(k) is None else str(on_run[k]) for name, k in keys.items()}
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
        lines.append(f"##vso[task.setvariable variable={name};isOutput=true]{escape_vso(value)}")
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
