"""Every row at once, for `champion verify` and `champion gc` (`champion.local.maintenance`)."""

from __future__ import annotations

from collections.abc import Callable

from champion.errors import WorkspaceStoreError
from champion.local.store.columns import DamagedRow, Kind, Row, decode, text
from champion.local.store.records import (
    ARTIFACT_COLUMNS,
    ASSET_COLUMNS,
    DATASET_COLUMNS,
    DATASTORE_COLUMNS,
    DEPLOYMENT_COLUMNS,
    METRIC_COLUMNS,
    MODEL_COLUMNS,
    RUN_COLUMNS,
    SAVED_DATASET_COLUMNS,
    SERVED_COLUMNS,
    TOKEN_COLUMNS,
    ArtifactRecord,
    ModelRecord,
    artifact_key,
    artifact_record,
    by_id,
    by_name,
    dataset_key,
    deployment_key,
    metric_key,
    model_key,
    model_record,
    run_key,
)
from champion.local.store.transactions import Transactions

DIGEST_COLUMNS: dict[str, Kind] = {"digest": text}

#: Every table whose rows the store decodes, and how: what `damaged_rows` decodes row by row.
DECODED: tuple[tuple[str, dict[str, Kind], Callable[[Row], str]], ...] = (
    ("models", MODEL_COLUMNS, model_key),
    ("runs", RUN_COLUMNS, run_key),
    ("metrics", METRIC_COLUMNS, metric_key),
    ("artifacts", ARTIFACT_COLUMNS, artifact_key),
    ("assets", ASSET_COLUMNS, by_id),
    ("saved_datasets", SAVED_DATASET_COLUMNS, by_id),
    ("datasets", DATASET_COLUMNS, dataset_key),
    ("datastores", DATASTORE_COLUMNS, by_name),
    ("deployments", {**DEPLOYMENT_COLUMNS, **TOKEN_COLUMNS}, by_id),
    ("deployment_models", SERVED_COLUMNS, deployment_key),
)


class Inventory(Transactions):
    """What verify and gc read: every version, every artifact, every referenced blob."""

    def all_models(self, *, skip_damaged: bool = False) -> list[ModelRecord]:
        """Every live version, oldest first (for verification); with `skip_damaged`, a row
        that does not decode is left out (`damaged_rows` reports it) instead of raised."""
        records = []
        for r in self._query("SELECT * FROM models WHERE deleted=0 ORDER BY seq"):
            try:
                records.append(model_record(r))
            except DamagedRow:
                if not skip_damaged:
                    raise
        return records

    def registered_ids(self) -> set[str]:
        """`name:version` of every version ever registered, deleted ones included."""
        return {f"{r[0]}:{r[1]}" for r in self._query("SELECT name, version FROM models")}

    def damaged_rows(self) -> list[str]:
        """Every stored value that is not what its column holds, one line each (the first
        such column of each row): what any command reading that row would refuse as damage."""
        found = []
        for table, columns, key in DECODED:
            for row in self._query(f"SELECT * FROM {table} ORDER BY rowid"):
                try:
                    decode(table, row, columns, key)
                except DamagedRow as exc:
                    found.append(exc.detail)
        return found

    def referenced_digests(self) -> set[str]:
        """Every blob an artifact names. A digest that is not text is damage, raised: gc must
        not take the blob it named for an orphan."""
        rows = self._query(
            "SELECT origin, container, path, digest FROM artifacts WHERE digest IS NOT NULL"
        )
        return {decode("artifacts", r, DIGEST_COLUMNS, artifact_key)["digest"] for r in rows}

    def all_artifacts(self, *, skip_damaged: bool = False) -> list[ArtifactRecord]:
        """Every artifact row; with `skip_damaged`, as `all_models`."""
        records = []
        for r in self._query("SELECT * FROM artifacts ORDER BY rowid"):
            try:
                records.append(artifact_record(r))
            except DamagedRow:
                if not skip_damaged:
                    raise
        return records

    def integrity_check(self) -> list[str]:
        """SQLite's own full check (pages, free list, every index against its table): empty
        when the file is sound. A page too damaged to read is reported, not raised."""
        try:
            rows = self._query("PRAGMA integrity_check")
        except WorkspaceStoreError as exc:
            return [str(exc.__cause__ or exc)]
        return [str(r[0]) for r in rows if r[0] != "ok"]
