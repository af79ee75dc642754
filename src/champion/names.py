"""Every name champion writes into a registry or a run, and the naming rules it checks: once.

Why one module: a tag written as `"champion.outcome"` by the gate and read as
`"champion.outcome"` by the CLI's history and the build's `--wait` is one fact; spelt in three
modules it is three facts that can drift, and a reader of a registry cannot trust any of them.
Readers (the CLI, the pipeline driver, users' own scripts) import these names from here.

This module imports nothing of champion's, so every layer may use it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Final

__all__ = [
    "ARTIFACT_SHA256",
    "BUILD_NUMBER",
    "CHAMPION_TAGS",
    "CONVERTED_FROM",
    "DECISION_ARTIFACT",
    "DRY_RUN_TAG",
    "EVENT_PROPERTIES",
    "EXPERIMENT_NAME",
    "MODEL_NAME",
    "MODEL_TAG",
    "MODEL_TYPE",
    "MODEL_TYPE_TAGS",
    "OUTCOME",
    "PARENT_RUN_ID",
    "PIPELINE_RUN_TYPE",
    "POLICY",
    "PREVIOUS_METRIC",
    "PREVIOUS_VERSION",
    "RACE_FROM",
    "RACE_REPAIR_EXPERIMENT",
    "RACE_TAG",
    "REASON",
    "RECORD_TAG",
    "REGISTER_EXPERIMENT",
    "REPAIR_OF",
    "ROLLBACK_EXPERIMENT",
    "ROLLBACK_OF",
    "SCORED_MODEL",
    "SCORED_VERSION",
    "SCORING_ARTIFACT",
    "STEP_RUN_TYPE",
    "TEST_DATA",
    "TEST_DATA_SHA256",
    "VERSION_TAG",
    "model_prefix",
    "record_name",
    "record_names",
    "record_number",
]

# ---------------------------------------------------------------------- on a registered version
# Properties (Azure ML; MLflow: version tags), stored in the one registration call.

MODEL_TYPE: Final = "model_type"
"""The winning estimator's class name, from the training step's tags (also a version tag)."""
BUILD_NUMBER: Final = "build_number"
"""The Azure DevOps build that produced the version (also a version tag and a pipeline
parameter of the sample pipeline)."""
ARTIFACT_SHA256: Final = "artifact_sha256"
"""Digest over the model's files (`champion._digest.listing_digest`); checked on download."""
OUTCOME: Final = "champion.outcome"
"""`first`, `promoted` or `rolled_back` on a version; on a pipeline run, the newest record's
outcome (also `rejected`, `already_registered`, and a dry run's `would_promote` /
`would_reject`)."""
PREVIOUS_VERSION: Final = "champion.previous_version"
PREVIOUS_METRIC: Final = "champion.previous_metric"
POLICY: Final = "champion.policy"
"""The policy applied, as sorted JSON (`Policy.to_dict`)."""
PARENT_RUN_ID: Final = "champion.parent_run_id"
"""The run that holds the version's decision record: the pipeline run, or the run
`champion register` made for the decision (`REGISTER_EXPERIMENT`)."""
REASON: Final = "champion.reason"
TEST_DATA_SHA256: Final = "champion.test_data_sha256"
"""The content digest of the test data the metrics were measured on: sha256 over its files,
each file's name and the sha256 of its bytes (`champion.testdata.files_digest`; a registered
dataset's `champion.content_sha256`). Read like the metric from the training run's tags, and
stored on the version; the gate compares it with the champion's."""
TEST_DATA: Final = "champion.test_data"
"""What the test data is, for people and as the identity when no digest is known: a registered
dataset `dataset:NAME:VERSION`, or a description (`hold-out of iris.csv (seed 42, 30%)`)."""
ROLLBACK_OF: Final = "champion.rollback_of"
"""On a version registered by `champion models rollback`: the version whose files it is."""

ROLLBACK_EXPERIMENT: Final = "champion-rollback"
"""The experiment whose runs hold the decision records of rollbacks."""
REPAIR_OF: Final = "champion.race_repair_of"
"""On a version registered to end a race (outcome `race_repaired`, Azure ML and the local
workspace, where the champion is the latest version): the version whose files it is, the best
of the racing decisions (`champion.registry._race`)."""
RACE_FROM: Final = "champion.race_from"
"""The version a race's decisions are weighed from (`champion.registry._race.Window`): on a
race-repair copy, and (MLflow) on a racing gate's own version before it moves the alias away
from it, so that a gate whose move lands on top of that repair weighs the same decisions."""
RACE_REPAIR_EXPERIMENT: Final = "champion-race-repair"
"""The experiment whose runs hold the records of race repairs (the copies above)."""
EVENT_PROPERTIES: Final = frozenset(
    {
        OUTCOME,
        PREVIOUS_VERSION,
        PREVIOUS_METRIC,
        PARENT_RUN_ID,
        REASON,
        ROLLBACK_OF,
        REPAIR_OF,
        RACE_FROM,
    }
)
"""Properties that describe how a version came to be, not what it is: a rollback or a race
repair sets them afresh on its copy; every other property (metrics, test data, model type,
build, digest, policy) is the copied version's own."""

MODEL_TYPE_TAGS: Final = (MODEL_TYPE, "best_model")
"""Run tags the model type is read from, in this order (the sample's train step sets both)."""

# ---------------------------------------------------------------------- on the pipeline run

DECISION_ARTIFACT: Final = "outputs/champion_decision.json"
"""The first attempt's record; a retry that decides differently adds
`outputs/champion_decision.<n>.json`, n >= 2 (`champion.record.record_name`)."""
VERSION_TAG: Final = "champion.version"
RECORD_TAG: Final = "champion.record"
"""Names the record the run's `champion.*` tags were set from, so a reader can tell whether the
tags describe the newest record."""
RACE_TAG: Final = "champion.race_detected"
DRY_RUN_TAG: Final = "champion.dry_run"
"""`true` on a run whose newest record is a dry run's (`would_promote` / `would_reject`)."""
MODEL_TAG: Final = "champion.model"
"""The model the run's records decide on: what `Registry.decisions(name)` queries runs by, so a
model's history is found without reading every run's files."""
CHAMPION_TAGS: Final = frozenset(
    {OUTCOME, VERSION_TAG, RECORD_TAG, RACE_TAG, DRY_RUN_TAG, MODEL_TAG}
)
"""The run tags a register step sets, all from one record."""

REGISTER_EXPERIMENT: Final = "champion-register"
"""The experiment of the runs that hold the records of decisions made outside a pipeline
(`champion register`, `champion.gate.register_file_if_better`): one run per decision, so a
rejection there leaves the same trace a pipeline's does."""

_NUMBERED: Final = re.compile(r"outputs/champion_decision\.([1-9][0-9]{0,8})\.json")


def model_prefix(model_name: str) -> str:
    """Where a model's files go on the run that registers it: `outputs/<model_name>` (the gate
    steps on to `.retryN` past an empty leftover of a failed transfer)."""
    return f"outputs/{model_name}"


def record_name(number: int) -> str:
    """The artifact name of the `number`th record on a run (1 is `DECISION_ARTIFACT`)."""
    return DECISION_ARTIFACT if number == 1 else f"outputs/champion_decision.{number}.json"


def record_names(files: Iterable[str]) -> list[str]:
    """The decision records among a run's files, oldest first."""
    files = list(files)
    numbered = {1: DECISION_ARTIFACT} if DECISION_ARTIFACT in files else {}
    for name in files:
        match = _NUMBERED.fullmatch(name)
        if match and int(match.group(1)) >= 2:
            numbered[int(match.group(1))] = name
    return [numbered[n] for n in sorted(numbered)]


def record_number(name: str) -> int:
    """The number of the record artifact `name` (1 for `DECISION_ARTIFACT`)."""
    match = _NUMBERED.fullmatch(name)
    return int(match.group(1)) if match else 1


# ---------------------------------------------------------------------- using the champion

SCORED_MODEL: Final = "champion.scored_model"
"""On a score step's run: the model name whose predictions it wrote."""
SCORED_VERSION: Final = "champion.scored_version"
"""On a score step's run: the version that made them (the champion at the time, or the one
asked for)."""
SCORING_ARTIFACT: Final = "outputs/champion_scoring.json"
"""The score step's record on its run (a retry adds `outputs/champion_scoring.<n>.json`); the
same JSON is written as `scoring.json` beside `predictions.csv`."""
CONVERTED_FROM: Final = "converted_from"
"""On an ONNX version (`NAME-onnx`): the `NAME:version` it was converted from."""

# ---------------------------------------------------------------------- run types and rules

PIPELINE_RUN_TYPE: Final = "azureml.PipelineRun"
"""The run type Azure ML gives a submitted pipeline's run (the SDK rehydrates it as a
`PipelineRun`); the local runner and the testing kit create theirs with it."""
STEP_RUN_TYPE: Final = "azureml.StepRun"

INPUT_DATASETS_PROPERTY: Final = "champion.inputDatasets"
"""On a step run of the local runner: the datasets it was given, as JSON in the service's shape
(`[{"identifier": {"savedId", "registeredId", "registeredVersion"}, "consumptionType":
"RunInput", "inputDetails": {"inputName", "mechanism", "pathOnCompute"}}]`); what
`run.get_details()["inputDatasets"]` lists on both faces, as Azure ML's run history keeps it."""

MODEL_NAME: Final = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9\-._]{0,254}")
"""Azure ML's model name rule (`azureml._model_management._util.model_name_validation`), for
`fullmatch`: a name we accept is one Azure ML accepts."""
EXPERIMENT_NAME: Final = re.compile(r"[a-zA-Z0-9][\w\-]{0,254}")
"""Azure ML's experiment name rule (`azureml.core.experiment`), for `fullmatch`."""
