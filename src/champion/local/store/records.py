"""What the service stores, as plain frozen records, and how a database row becomes one.

The records mirror the service's data model, not the SDK's classes: each face turns them into its
own objects (`champion.local.Run`, or the SDK's `RunDto` under `mock_azureml()`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from champion.local.store.columns import (
    Kind,
    Row,
    decode,
    flag,
    integer,
    json_object,
    json_object_or_null,
    json_pairs,
    json_texts,
    json_value,
    shown,
    text,
    text_or_null,
    timestamp,
    timestamp_or_null,
)

#: Artifact origins, as Azure's artifact service names them: a run's files, and the files
#: `Model.register` uploads from the working directory.
RUN_ORIGIN = "ExperimentRun"
UPLOAD_ORIGIN = "LocalUpload"
#: The origin of a model's files copied in from a datastore folder (a v2 registration), and
#: the datastore Azure keeps a workspace's artifacts in, as a v2 uri names them.
DATASTORE_ORIGIN = "Datastore"
ARTIFACT_DATASTORE = "workspaceartifactstore"

DEFAULT_DATASTORE = "workspaceblobstore"
FILE_DATASTORE = "workspacefilestore"
BLOB_TYPE = "AzureBlob"
FILE_TYPE = "AzureFile"
TABULAR = "Tabular"
FILE = "File"
DIGEST_PROPERTY = "champion.content_sha256"
#: The stage a version is in unless told otherwise, and the one an archived version shows
#: (both as Azure ML's v2 model registry answers; recorded in azure-ai-ml's e2e recordings).
DEFAULT_STAGE = "Development"
ARCHIVED_STAGE = "Archived"


def utcnow() -> str:
    """ISO-8601 with an explicit offset, the form the service returns."""
    return datetime.now(UTC).isoformat()


def to_json(data: Mapping[str, Any] | Sequence[Any] | None) -> str:
    return json.dumps(data if data is not None else {}, sort_keys=False)


# --------------------------------------------------------------------------- records


@dataclass(frozen=True)
class RunRecord:
    """One run as the service stores it; the faces turn it into their own run objects."""

    run_id: str
    experiment: str
    run_number: int
    parent_id: str | None
    root_id: str
    name: str | None
    display_name: str | None
    run_type: str | None
    status: str
    created_utc: str
    start_utc: str | None
    end_utc: str | None
    tags: dict[str, str | None]
    properties: dict[str, str | None]
    data_container_id: str
    error: dict[str, Any] | None = None


@dataclass(frozen=True)
class ArtifactRecord:
    """An artifact path and the blob that holds its bytes (None until content is uploaded)."""

    origin: str
    container: str
    path: str
    digest: str | None
    size: int
    created_utc: str


@dataclass(frozen=True)
class AssetRecord:
    """What a model URL points at: artifact prefixes of the form origin/container/path."""

    id: str
    name: str | None
    prefixes: list[str]
    run_id: str | None
    created_utc: str


@dataclass(frozen=True)
class ModelRecord:
    """One registered model version."""

    name: str
    version: int
    asset_id: str
    description: str | None
    framework: str
    framework_version: str | None
    tags: dict[str, str | None]
    properties: dict[str, str | None]
    run_id: str | None
    experiment_name: str | None
    mime_type: str
    created_utc: str
    modified_utc: str | None
    deleted: bool = False
    seq: int = field(default=0, compare=False)
    resource_configuration: dict[str, Any] | None = None
    datasets: tuple[tuple[str, str], ...] = ()  # (scenario, saved dataset id)
    sample_input_dataset: str | None = None  # a saved dataset id
    sample_output_dataset: str | None = None
    archived: bool = False
    stage: str | None = None  # None: the default stage
    spec: dict[str, Any] | None = None  # the v2 asset: modelUri, modelType, flavors, jobName

    @property
    def id(self) -> str:
        return f"{self.name}:{self.version}"

    @property
    def shown_stage(self) -> str:
        """The stage the v2 registry shows: "Archived" while archived, else the one set."""
        if self.archived:
            return ARCHIVED_STAGE
        return self.stage or DEFAULT_STAGE

    @property
    def url(self) -> str:
        return f"aml://asset/{self.asset_id}"


@dataclass(frozen=True)
class DatastoreRecord:
    """A datastore as the service stores it: what `register_azure_blob_container` was given
    (secrets are never stored), and whether it is the workspace's default."""

    name: str
    type: str
    container: str
    account: str
    protocol: str | None
    endpoint: str | None
    credential_type: str
    is_default: bool


@dataclass(frozen=True)
class SavedDatasetRecord:
    """A dataset definition the service has saved: the SDK's "saved dataset", by id."""

    id: str
    dataset_type: str
    definition: dict[str, Any]
    dataflow: str | None
    properties: dict[str, Any]
    digest: str
    created_utc: str


@dataclass(frozen=True)
class DatasetRecord:
    """One registered version of a named dataset, and the saved definition it points at."""

    registered_id: str
    name: str
    version: int
    saved: SavedDatasetRecord
    description: str | None
    tags: dict[str, str | None]
    digest: str
    created_utc: str

    @property
    def saved_id(self) -> str:
        return self.saved.id


@dataclass(frozen=True)
class DeploymentRecord:
    """A model served by a process (`champion serve`): which versions, where, by which process,
    and whether that process still serves (`active`, decided when the record was read)."""

    id: int
    name: str
    models: tuple[tuple[str, int], ...]
    port: int
    pid: int
    host: str
    entry_script: str | None
    started_utc: str
    stopped_utc: str | None
    active: bool

    @property
    def status(self) -> str:
        """`running`; `stopped` (it said so when it ended); `gone` (its process ended without
        saying so: killed, crashed, the machine restarted)."""
        if self.active:
            return "running"
        return "stopped" if self.stopped_utc else "gone"


# --------------------------------------------------------------------------- rows
# Each record is decoded from its row by `columns.decode`: a damaged value is reported as damage
# naming its table, row and column, never as a traceback from json or datetime.

RUN_COLUMNS: dict[str, Kind] = {
    "run_id": text,
    "experiment": text,
    "run_number": integer,
    "parent_id": text_or_null,
    "root_id": text,
    "name": text_or_null,
    "display_name": text_or_null,
    "run_type": text_or_null,
    "status": text,
    "created_utc": timestamp,
    "start_utc": timestamp_or_null,
    "end_utc": timestamp_or_null,
    "tags": json_object,
    "properties": json_object,
    "data_container_id": text,
    "error": json_object_or_null,
}

ARTIFACT_COLUMNS: dict[str, Kind] = {
    "origin": text,
    "container": text,
    "path": text,
    "digest": text_or_null,
    "size": integer,
    "created_utc": timestamp,
}

ASSET_COLUMNS: dict[str, Kind] = {
    "id": text,
    "name": text_or_null,
    "prefixes": json_texts,
    "run_id": text_or_null,
    "created_utc": timestamp,
}

MODEL_COLUMNS: dict[str, Kind] = {
    "name": text,
    "version": integer,
    "asset_id": text,
    "description": text_or_null,
    "framework": text,
    "framework_version": text_or_null,
    "tags": json_object,
    "properties": json_object,
    "run_id": text_or_null,
    "experiment_name": text_or_null,
    "mime_type": text,
    "created_utc": timestamp,
    "modified_utc": timestamp_or_null,
    "deleted": flag,
    "seq": integer,
    "resource_configuration": json_object_or_null,
    "datasets": json_pairs,
    "sample_input_dataset": text_or_null,
    "sample_output_dataset": text_or_null,
    "archived": flag,
    "stage": text_or_null,
    "spec": json_object_or_null,
}

SAVED_DATASET_COLUMNS: dict[str, Kind] = {
    "id": text,
    "dataset_type": text,
    "definition": json_object,
    "dataflow": text_or_null,
    "properties": json_object,
    "digest": text,
    "created_utc": timestamp,
}

DATASET_COLUMNS: dict[str, Kind] = {
    "registered_id": text,
    "name": text,
    "version": integer,
    "description": text_or_null,
    "tags": json_object,
    "digest": text,
    "created_utc": timestamp,
}

#: The columns a write reads back to change them (`update_run`, `update_model`).
RUN_JSON_COLUMNS: dict[str, Kind] = {"tags": json_object, "properties": json_object}
MODEL_EDITED_COLUMNS: dict[str, Kind] = {
    "tags": json_object,
    "properties": json_object,
    "datasets": json_pairs,
}
METRIC_COLUMNS: dict[str, Kind] = {"value": json_value}
DEFINITION: dict[str, Kind] = {"definition": json_object}

DEPLOYMENT_COLUMNS: dict[str, Kind] = {
    "id": integer,
    "name": text,
    "port": integer,
    "pid": integer,
    "host": text,
    "entry_script": text_or_null,
    "started_utc": timestamp,
    "stopped_utc": timestamp_or_null,
}
SERVED_COLUMNS: dict[str, Kind] = {"model_name": text, "version": integer}
TOKEN_COLUMNS: dict[str, Kind] = {"process_token": text_or_null}

DATASTORE_COLUMNS: dict[str, Kind] = {
    "name": text,
    "type": text,
    "container": text,
    "account": text,
    "protocol": text_or_null,
    "endpoint": text_or_null,
    "credential_type": text,
    "is_default": flag,
}


def run_key(r: Row) -> str:
    return shown(r["run_id"])


def artifact_key(r: Row) -> str:
    return f"{shown(r['origin'])}/{shown(r['container'])}/{shown(r['path'])}"


def model_key(r: Row) -> str:
    """`name:version`; a damaged name or version is shown as it is stored, with the row's
    sequence number, which no damage to those two columns can change."""
    name, version = r["name"], r["version"]
    if type(name) is str and type(version) is int:
        return f"{name}:{version}"
    return f"{shown(name)}:{shown(version)} (seq {shown(r['seq'])})"


def metric_key(r: Row) -> str:
    return f"{shown(r['seq'])} (run {shown(r['run_id'])}, metric {shown(r['name'])})"


def deployment_key(r: Row) -> str:
    return f"of deployment {shown(r['deployment_id'])}"


def dataset_key(r: Row) -> str:
    return f"{shown(r['name'])}:{shown(r['version'])}"


def by_id(r: Row) -> str:
    return shown(r["id"])


def by_name(r: Row) -> str:
    return shown(r["name"])


def run_record(r: Row) -> RunRecord:
    return RunRecord(**decode("runs", r, RUN_COLUMNS, run_key))


def artifact_record(r: Row) -> ArtifactRecord:
    return ArtifactRecord(**decode("artifacts", r, ARTIFACT_COLUMNS, artifact_key))


def asset_record(r: Row) -> AssetRecord:
    return AssetRecord(**decode("assets", r, ASSET_COLUMNS, by_id))


def model_record(r: Row) -> ModelRecord:
    return ModelRecord(**decode("models", r, MODEL_COLUMNS, model_key))


def datastore_record(r: Row) -> DatastoreRecord:
    return DatastoreRecord(**decode("datastores", r, DATASTORE_COLUMNS, by_name))


def saved_dataset_record(r: Row) -> SavedDatasetRecord:
    return SavedDatasetRecord(**decode("saved_datasets", r, SAVED_DATASET_COLUMNS, by_id))
