"""Datasets: face-neutral definitions, saved by id and registered by name and version.

A definition is JSON: its type (`Tabular` or `File`), its paths (each a datastore and a path
inside it, which may name a file, a folder or a glob) and, for a tabular dataset, how to read it.
Saving a definition gives it an id (the SDK's "saved dataset id"); registering it gives it a
name and a version, 1, 2, 3 per name, never reused.

Every saved and registered dataset stores a **content digest**: sha256 over the files its paths
resolve to, in name order, each file contributing its path inside the datastore and the sha256
of its bytes (`content_digest`). Two datasets with the same digest hold the same files under the
same names; the gate uses it to tell whether two metrics were measured on the same data. It is
kept with the definition's properties (`champion.content_sha256`, which the SDK carries as the
dataset's `_properties`) and read with `Store.dataset_digest(name, version)`. Datasets are
references, as on Azure: a later read sees the files as they are then, and the digest records
what they were when the version was registered. So champion's own readers (the gate's
`--test-data dataset:...`, the score step's `--data dataset:...`) check the files against that
digest after reading them (`check_dataset_files`) and refuse a version whose files changed:
its rows would be recorded under an identity they no longer have.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from champion._digest import NotAPlainFile, sha256_plain
from champion.local.store.columns import damaged_row, decode
from champion.local.store.datastores import Datastores
from champion.local.store.exceptions import DataPathError, DatasetChanged, DatasetConflict
from champion.local.store.records import (
    DATASET_COLUMNS,
    DEFINITION,
    DIGEST_PROPERTY,
    FILE,
    TABULAR,
    DatasetRecord,
    SavedDatasetRecord,
    by_id,
    dataset_key,
    saved_dataset_record,
    utcnow,
)


def file_sha256(path: Path) -> str:
    """A datastore file's sha256, read under the rule for every file of the user's champion
    hashes (`champion._digest.sha256_plain`): a link, FIFO or device is refused unread."""
    try:
        return sha256_plain(path)
    except NotAPlainFile as exc:
        raise DataPathError(
            f"{str(exc.path)!r} is {exc.what}; a dataset's files must be regular files"
        ) from None


def content_digest(files: Sequence[tuple[str, Path]]) -> str:
    """sha256 over `(name, file)` pairs in name order: each contributes its name, a NUL, the
    sha256 of its bytes and a newline, so renaming a file or changing a byte changes the digest,
    and where the workspace lives does not."""
    outer = hashlib.sha256()
    for name, path in sorted(files, key=lambda pair: pair[0]):
        outer.update(f"{name}\0{file_sha256(path)}\n".encode())
    return outer.hexdigest()


class Datasets(Datastores):
    """Saved definitions, registered versions and their content digests."""

    def dataset_files(self, definition: Mapping[str, Any]) -> list[tuple[str, Path]]:
        """Every file a definition's paths resolve to (a file named twice counts once)."""
        found: dict[str, Path] = {}
        for entry in definition.get("paths", []):
            if "datastore" not in entry:
                raise DataPathError(
                    f"{entry.get('url', entry)!r} is not a datastore path; the local workspace "
                    "reads only its own datastores (no network)"
                )
            found.update(self.datastore_files(str(entry["datastore"]), str(entry.get("path", ""))))
        return sorted(found.items())

    def dataset_content_digest(self, definition: Mapping[str, Any]) -> str:
        return content_digest(self.dataset_files(definition))

    def save_dataset(
        self,
        dataset_type: str,
        definition: Mapping[str, Any],
        *,
        dataflow: str | None = None,
        properties: Mapping[str, Any] | None = None,
    ) -> SavedDatasetRecord:
        """Save a definition (the SDK's `ensure_saved`): a fresh id, the digest of its files
        now. `dataflow` keeps the SDK's own serialisation, for the SDK to read back."""
        if dataset_type not in (TABULAR, FILE):
            raise ValueError(f"dataset type must be {TABULAR!r} or {FILE!r}, not {dataset_type!r}")
        digest = self.dataset_content_digest(definition)
        record = SavedDatasetRecord(
            id=str(uuid.uuid4()),
            dataset_type=dataset_type,
            definition=dict(definition),
            dataflow=dataflow,
            properties={**dict(properties or {}), DIGEST_PROPERTY: digest},
            digest=digest,
            created_utc=utcnow(),
        )
        with self.transaction() as c:
            c.execute(
                "INSERT INTO saved_datasets(id, dataset_type, definition, dataflow, properties,"
                " digest, created_utc) VALUES (?,?,?,?,?,?,?)",
                (
                    record.id,
                    dataset_type,
                    json.dumps(record.definition),
                    dataflow,
                    json.dumps(record.properties),
                    digest,
                    record.created_utc,
                ),
            )
        return record

    def get_saved_dataset(self, saved_id: str) -> SavedDatasetRecord | None:
        rows = self._query("SELECT * FROM saved_datasets WHERE id=?", (saved_id,))
        return saved_dataset_record(rows[0]) if rows else None

    def register_dataset(
        self,
        name: str,
        *,
        saved_id: str,
        description: str | None = None,
        tags: Mapping[str, str | None] | None = None,
        create_new_version: bool = False,
    ) -> DatasetRecord:
        """Register a saved definition under `name`: version 1 for a new name; for an existing
        one a conflict unless `create_new_version`. A new version is made only when something
        changed: the same definition over the same files (same digest) returns the latest
        version as it is (svc: Azure keys this on the definition alone and lets an old version
        read new files; here changed files make a new version, so a digest never lies)."""
        with self.transaction() as c:
            saved_row = c.execute("SELECT * FROM saved_datasets WHERE id=?", (saved_id,))
            saved = saved_dataset_record(saved_row.fetchone())
            latest = c.execute(
                "SELECT d.*, s.definition AS s_definition FROM datasets d JOIN saved_datasets s"
                " ON s.id = d.saved_id WHERE d.name=? AND d.unregistered=0"
                " ORDER BY d.version DESC LIMIT 1",
                (name,),
            ).fetchone()
            if latest is not None:
                if not create_new_version:
                    raise DatasetConflict(name)
                stored = {"id": latest["saved_id"], "definition": latest["s_definition"]}
                definition = decode("saved_datasets", stored, DEFINITION, by_id)["definition"]
                same = definition == saved.definition
                if same and latest["digest"] == saved.digest:
                    found = self.get_dataset(name, int(latest["version"]))
                    assert found is not None
                    return found
            registered_id = (
                latest["registered_id"]
                if latest is not None
                else _registered_id(c, name) or str(uuid.uuid4())
            )
            version = c.execute(
                "SELECT coalesce(max(version), 0) + 1 FROM datasets WHERE name=?", (name,)
            ).fetchone()[0]
            c.execute(
                "INSERT INTO datasets(registered_id, name, version, saved_id, description, tags,"
                " digest, created_utc) VALUES (?,?,?,?,?,?,?,?)",
                (
                    registered_id,
                    name,
                    version,
                    saved.id,
                    description,
                    json.dumps(dict(tags or {})),
                    saved.digest,
                    utcnow(),
                ),
            )
        record = self.get_dataset(name, int(version))
        assert record is not None
        return record

    def get_dataset(self, name: str, version: int | None = None) -> DatasetRecord | None:
        """A registered version, or the latest one when `version` is None."""
        sql = "SELECT * FROM datasets WHERE name=? AND unregistered=0"
        params: list[Any] = [name]
        if version is not None:
            sql += " AND version=?"
            params.append(int(version))
        rows = self._query(sql + " ORDER BY version DESC LIMIT 1", params)
        return self._dataset(rows[0]) if rows else None

    def datasets_for_saved_id(self, saved_id: str) -> list[DatasetRecord]:
        rows = self._query(
            "SELECT * FROM datasets WHERE saved_id=? AND unregistered=0 ORDER BY version DESC",
            (saved_id,),
        )
        return [self._dataset(r) for r in rows]

    def list_datasets(self) -> list[DatasetRecord]:
        """The latest version of every registered name, in name order."""
        rows = self._query(
            "SELECT * FROM datasets d WHERE unregistered=0 AND version = (SELECT max(version)"
            " FROM datasets x WHERE x.name = d.name AND x.unregistered=0) ORDER BY name"
        )
        return [self._dataset(r) for r in rows]

    def update_dataset(
        self,
        name: str,
        *,
        description: str | None = None,
        tags: Mapping[str, str | None] | None = None,
    ) -> DatasetRecord:
        """Replace the latest version's description and/or tags (the service's PATCH)."""
        latest = self.get_dataset(name)
        if latest is None:
            raise KeyError(name)
        with self.transaction() as c:
            if description is not None:
                c.execute(
                    "UPDATE datasets SET description=? WHERE name=? AND version=?",
                    (description, name, latest.version),
                )
            if tags is not None:
                c.execute(
                    "UPDATE datasets SET tags=? WHERE name=? AND version=?",
                    (json.dumps(dict(tags)), name, latest.version),
                )
        updated = self.get_dataset(name, latest.version)
        assert updated is not None
        return updated

    def unregister_dataset(self, name: str) -> bool:
        """Unregister every version of `name`; its numbers are never handed out again."""
        with self.transaction() as c:
            cur = c.execute(
                "UPDATE datasets SET unregistered=1 WHERE name=? AND unregistered=0", (name,)
            )
            return cur.rowcount > 0

    def dataset_digest(self, name: str, version: int | None = None) -> str:
        """The content digest stored with a registered version (the latest when None): what
        the gate compares to tell whether two metrics were measured on the same data."""
        record = self.get_dataset(name, version)
        if record is None:
            raise KeyError(f"{name}:{version or 'latest'}")
        return record.digest

    def check_dataset_files(self, name: str, version: int | None = None) -> str:
        """The content digest of a registered version's files now, once it is the digest the
        version was registered with (DatasetChanged otherwise): what a reader that records the
        version's identity must check, since the files are references and may have changed.
        KeyError when there is no such version."""
        record = self.get_dataset(name, version)
        if record is None:
            raise KeyError(f"{name}:{version or 'latest'}")
        files = self.dataset_files(record.saved.definition)
        now = content_digest(files)
        if now != record.digest:
            registered = datetime.fromisoformat(record.created_utc).timestamp()
            changed = [n for n, path in files if path.stat().st_mtime > registered]
            names = [n for n, _ in files]
            raise DatasetChanged(record.name, record.version, record.digest, now, names, changed)
        return now

    def _dataset(self, r: sqlite3.Row) -> DatasetRecord:
        decoded = decode("datasets", r, DATASET_COLUMNS, dataset_key)
        saved = self.get_saved_dataset(r["saved_id"])
        if saved is None:
            raise damaged_row(
                "datasets", dataset_key(r), "saved_id", r["saved_id"], "names no saved dataset"
            )
        return DatasetRecord(saved=saved, **decoded)


def _registered_id(c: sqlite3.Connection, name: str) -> str | None:
    """A name keeps its registered id across versions, even after it was unregistered."""
    row = c.execute(
        "SELECT registered_id FROM datasets WHERE name=? ORDER BY version DESC LIMIT 1", (name,)
    ).fetchone()
    return str(row[0]) if row else None
