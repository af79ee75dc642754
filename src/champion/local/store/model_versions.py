"""The v2 model registry's rules (Azure ML's `models/{name}/versions/{version}` resource), written
once here so that every face keeps them: azure-ai-ml under `mock_azure_ai_ml()`, MLflow inside
it, and the v1 faces reading the same rows.

- The client numbers a version (the SDK reads the container's `nextVersion`, or the caller
  names one); a version is a positive integer, and a deleted one is never created again.
- A PUT of a new version creates it; a PUT of an existing one may change only its description,
  tags, archived flag and stage: its files cannot be replaced ("Asset paths cannot be
  updated."), and a property it has keeps its value (properties are immutable; new keys are
  added, as `Model.add_properties` adds them).
- An archived version shows the stage "Archived"; any other version the stage it was given, or
  "Development". A PUT that names no stage puts the version back in "Development" (what a
  restore of a "Production" version does on Azure: the SDK drops `stage` from its body).
- "Latest" is the most recently created live version (`latest_model`), and lists are newest
  first, as the service answers `$orderBy=createdtime desc`.
- A container is a name with at least one live version; its `nextVersion` is one more than the
  highest version ever created (deleted ones included), `latestVersion` the latest's number.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from champion.local.store.artifacts import Artifacts
from champion.local.store.blobs import StagedBlob
from champion.local.store.exceptions import (
    InvalidModelVersion,
    ModelFilesMissing,
    ModelPathChanged,
    ModelVersionDeleted,
    ModelVersionExists,
    PropertyConflict,
)
from champion.local.store.models import Models
from champion.local.store.records import (
    ARTIFACT_DATASTORE,
    DATASTORE_ORIGIN,
    ModelRecord,
    model_record,
    to_json,
    utcnow,
)

_VERSION = re.compile(r"[1-9][0-9]{0,17}")


def parse_model_version(name: str, version: str | int) -> int:
    """A workspace model version as the registry reads it: a positive integer, written plainly
    (`"3"`, not `"03"`, `"3.0"` or `"v3"`)."""
    text = str(version)
    if not _VERSION.fullmatch(text):
        raise InvalidModelVersion(name, text)
    return int(text)


@dataclass(frozen=True)
class ModelSource:
    """Where a version's files are, as the v2 registry names them: `uri`, the short form
    `azureml://datastores/<datastore>/paths/<path>` (what "the same path" means for an update),
    and either `prefix`, the artifacts (`origin/container/path`) they already are (a run's
    outputs, the artifact store), or `files`, each `(path inside the datastore, file on disk)`
    under `uri`'s path in a datastore folder, to copy in when the version is created. `spec` is
    the rest of the v2 description the registry keeps (`modelType`, `flavors`, `jobName`)."""

    uri: str
    prefix: str | None = None
    datastore: str | None = None
    files: Sequence[tuple[str, Path]] = ()
    spec: Mapping[str, Any] = field(default_factory=dict)


def artifact_store_uri(prefix: str) -> str:
    """The v2 uri of artifacts (a run's outputs, a v1 upload): Azure keeps them in the
    workspace's artifact store."""
    return f"azureml://datastores/{ARTIFACT_DATASTORE}/paths/{prefix}"


def model_uri(record: ModelRecord, prefixes: Sequence[str]) -> str:
    """The short-form uri of a version: as registered through v2, or, for one registered
    through v1 or the local classes, where its asset's artifacts are."""
    if record.spec and record.spec.get("modelUri"):
        return str(record.spec["modelUri"])
    return artifact_store_uri(prefixes[0] if prefixes else "")


@dataclass(frozen=True)
class ContainerRecord:
    """A model name as the v2 registry lists it (`models/{name}`)."""

    name: str
    latest_version: int
    next_version: int
    created_utc: str
    modified_utc: str


class ModelVersions(Models, Artifacts):
    """Versions a client numbers, their archived flag and stage, and the containers."""

    def next_model_version(self, name: str) -> int:
        """One more than the highest version of `name` ever created (deleted ones included)."""
        [row] = self._query(
            "SELECT coalesce(max(version), 0) + 1 FROM models WHERE name=?", (name,)
        )
        return int(row[0])

    def model_container(self, name: str) -> ContainerRecord | None:
        found = self.model_containers(name)
        return found[0] if found else None

    def model_containers(self, name: str | None = None) -> list[ContainerRecord]:
        """Names with a live version, oldest first (as the service lists containers), each
        with its latest and next version."""
        where, params = ("WHERE name=?", (name,)) if name is not None else ("", ())
        rows = self._query(
            "SELECT name, min(created_utc) AS created, max(coalesce(modified_utc, created_utc))"
            " AS modified, max(version) AS highest, min(seq) AS first,"
            " sum(deleted=0) AS live FROM models " + where + " GROUP BY name ORDER BY first",
            params,
        )
        containers = []
        for row in rows:
            if not row["live"]:
                continue
            latest = self.latest_model(str(row["name"]))
            if latest is None:
                continue
            containers.append(
                ContainerRecord(
                    name=str(row["name"]),
                    latest_version=latest.version,
                    next_version=int(row["highest"]) + 1,
                    created_utc=str(row["created"]),
                    modified_utc=str(row["modified"]),
                )
            )
        return containers

    def list_model_versions(
        self,
        name: str,
        *,
        archived: bool | None = False,
        stage: str | None = None,
        tags: Sequence[tuple[str, str | None]] = (),
        properties: Sequence[tuple[str, str | None]] = (),
        newest_first: bool = True,
    ) -> list[ModelRecord]:
        """The live versions of `name`, newest first (or oldest first): only the active ones
        (`archived=False`, the service's `ActiveOnly`), only the archived ones (`True`), or all
        (`None`); `stage`, `tags` and `properties` filter as `query_models` does."""
        records = self.query_models(name=name, tags=tags, properties=properties)
        if archived is not None:
            records = [r for r in records if r.archived == archived]
        if stage is not None:
            records = [r for r in records if r.shown_stage == stage]
        return records if newest_first else records[::-1]

    def put_model_version(
        self,
        name: str,
        version: str | int,
        source: ModelSource,
        *,
        tags: Mapping[str, str | None] | None = None,
        properties: Mapping[str, str | None] | None = None,
        description: str | None = None,
        archived: bool = False,
        stage: str | None = None,
        run_id: str | None = None,
        experiment_name: str | None = None,
        must_create: bool = False,
    ) -> tuple[ModelRecord, bool]:
        """Create version `version` of `name`, or update it under the rules of the module
        docstring; returns the version as stored and whether it was created. With
        `must_create`, an existing version is refused (`ModelVersionExists`) instead: a client
        that numbered the version from `next_model_version` lost a race and numbers again.
        `run_id` and `experiment_name` link a new version to the run it came from (what v1's
        `Model.run_id` reads).

        The files a new version needs are staged before the registry lock is taken and become
        artifacts in the transaction that creates the version (an update copies nothing)."""
        number = parse_model_version(name, version)
        tags = {k: _text(v) for k, v in (tags or {}).items()}
        properties = {k: _text(v) for k, v in (properties or {}).items()}
        stage = None if archived else (stage or None)
        spec = {**source.spec, "modelUri": source.uri}
        with self.staging() as staging:
            existing = self._version_row(name, number)
            staged = []
            if existing is None and source.files:
                staged = [(p, staging.stage(f)) for p, f in source.files]
            with self.transaction() as c:
                row = c.execute(
                    "SELECT * FROM models WHERE name=? AND version=?", (name, number)
                ).fetchone()
                if row is not None and must_create:
                    raise ModelVersionExists(name, number)
                if row is not None:
                    return self._update_version(
                        c, model_record(row), source, tags, properties, description,
                        archived, stage,
                    ), False  # fmt: skip
                prefix = source.prefix or self._snapshot(source, staged)
                asset = self.create_asset([prefix], name=name)
                cur = c.execute(
                    "INSERT INTO models(name, version, asset_id, description, framework, tags,"
                    " properties, mime_type, created_utc, archived, stage, spec, run_id,"
                    " experiment_name) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                    (
                        name, number, asset.id, description, "Custom", to_json(tags),
                        to_json(properties), "application/json", utcnow(), int(archived),
                        stage, json.dumps(spec), run_id, experiment_name,
                    ),
                )  # fmt: skip
                self._index_kv(c, int(cur.lastrowid or 0), tags, properties)
        record = self.get_model(name, number)
        assert record is not None
        return record, True

    def _snapshot(self, source: ModelSource, staged: Sequence[tuple[str, StagedBlob]]) -> str:
        """The asset prefix of a datastore path's files as they are now: artifacts under a
        container named by their content (`<datastore>.<digest>`), made once. A version's files
        never change, while a datastore file may be overwritten after; two versions of the same
        bytes share them."""
        if not staged:
            raise ModelFilesMissing(source.uri)
        listing = "\n".join(f"{p}\0{s.digest}" for p, s in sorted(staged, key=lambda x: x[0]))
        digest = hashlib.sha256(listing.encode()).hexdigest()[:32]
        container = f"{source.datastore}.{digest}"
        path = source.uri.split("/paths/", 1)[1].strip("/")
        if not self.list_artifacts(DATASTORE_ORIGIN, container):
            self.add_artifacts(
                DATASTORE_ORIGIN,
                container,
                [(p, s.digest, s.size) for p, s in staged],
                blobs=[s for _, s in staged],
            )
        return f"{DATASTORE_ORIGIN}/{container}/{path}"

    def _version_row(self, name: str, version: int) -> ModelRecord | None:
        rows = self._query("SELECT * FROM models WHERE name=? AND version=?", (name, version))
        return model_record(rows[0]) if rows else None

    def _update_version(
        self,
        c: Any,
        current: ModelRecord,
        source: ModelSource,
        tags: dict[str, str | None],
        properties: dict[str, str | None],
        description: str | None,
        archived: bool,
        stage: str | None,
    ) -> ModelRecord:
        if current.deleted:
            raise ModelVersionDeleted(current.name, current.version)
        asset = self.get_asset(current.asset_id)
        if _short(model_uri(current, asset.prefixes if asset else [])) != _short(source.uri):
            raise ModelPathChanged(current.name, current.version)
        clash = [
            k
            for k, v in properties.items()
            if k in current.properties and current.properties[k] != v
        ]
        if clash:
            raise PropertyConflict(clash)
        merged = {**current.properties, **properties}
        c.execute(
            "UPDATE models SET tags=?, properties=?, description=?, archived=?, stage=?,"
            " modified_utc=? WHERE seq=?",
            (
                to_json(tags), to_json(merged), description, int(archived), stage, utcnow(),
                current.seq,
            ),
        )  # fmt: skip
        self._index_kv(c, current.seq, tags, merged)
        row = c.execute("SELECT * FROM models WHERE seq=?", (current.seq,)).fetchone()
        return model_record(row)


def _short(uri: str) -> str:
    return uri.rstrip("/")


def _text(value: Any) -> str | None:
    """A tag or property value as the service keeps it: a string (`True`, as .NET writes it)."""
    if value is None or isinstance(value, str):
        return value
    return str(value)
