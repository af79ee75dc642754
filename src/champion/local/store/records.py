"""What the service stores, as plain frozen records, and how a database row becomes one.

The records mirror the service's data model, not the SDK's classes: each face turns them into its
own objects (`champion.local.Run`, or the SDK's `RunDto` under `mock_azureml()`).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

#: Artifact origins, as Azure's artifact service names them: a run's files, and the files
#: `Model.register` uploads from the working directory.
RUN_ORIGIN = "ExperimentRun"
UPLOAD_ORIGIN = "LocalUpload"

DEFAULT_DATASTORE = "workspaceblobstore"
FILE_DATASTORE = "workspacefilestore"
BLOB_TYPE = "AzureBlob"
FILE_TYPE = "AzureFile"
TABULAR = "Tabular"
FILE = "File"
DIGEST_PROPERTY = "champion.content_sha256"


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

    @property
    def id(self) -> str:
        return f"{self.name}:{self.version}"

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


def run_record(r: sqlite3.Row | Mapping[str, Any]) -> RunRecord:
    return RunRecord(
        run_id=r["run_id"],
        experiment=r["experiment"],
        run_number=r["run_number"],
        parent_id=r["parent_id"],
        root_id=r["root_id"],
        name=r["name"],
        display_name=r["display_name"],
        run_type=r["run_type"],
        status=r["status"],
        created_utc=r["created_utc"],
        start_utc=r["start_utc"],
        end_utc=r["end_utc"],
        tags=json.loads(r["tags"]),
        properties=json.loads(r["properties"]),
        data_container_id=r["data_container_id"],
        error=json.loads(r["error"]) if r["error"] else None,
    )


def artifact_record(r: sqlite3.Row) -> ArtifactRecord:
    return ArtifactRecord(
        r["origin"], r["container"], r["path"], r["digest"], r["size"], r["created_utc"]
    )


def model_record(r: sqlite3.Row) -> ModelRecord:
    return ModelRecord(
        name=r["name"],
        version=r["version"],
        asset_id=r["asset_id"],
        description=r["description"],
        framework=r["framework"],
        framework_version=r["framework_version"],
        tags=json.loads(r["tags"]),
        properties=json.loads(r["properties"]),
        run_id=r["run_id"],
        experiment_name=r["experiment_name"],
        mime_type=r["mime_type"],
        created_utc=r["created_utc"],
        modified_utc=r["modified_utc"],
        deleted=bool(r["deleted"]),
        seq=r["seq"],
        resource_configuration=(
            json.loads(r["resource_configuration"]) if r["resource_configuration"] else None
        ),
        datasets=tuple((str(s), str(i)) for s, i in json.loads(r["datasets"])),
        sample_input_dataset=r["sample_input_dataset"],
        sample_output_dataset=r["sample_output_dataset"],
    )


def datastore_record(r: sqlite3.Row) -> DatastoreRecord:
    return DatastoreRecord(
        name=r["name"],
        type=r["type"],
        container=r["container"],
        account=r["account"],
        protocol=r["protocol"],
        endpoint=r["endpoint"],
        credential_type=r["credential_type"],
        is_default=bool(r["is_default"]),
    )


def saved_dataset_record(r: sqlite3.Row) -> SavedDatasetRecord:
    return SavedDatasetRecord(
        id=r["id"],
        dataset_type=r["dataset_type"],
        definition=json.loads(r["definition"]),
        dataflow=r["dataflow"],
        properties=json.loads(r["properties"]),
        digest=r["digest"],
        created_utc=r["created_utc"],
    )
