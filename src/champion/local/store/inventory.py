"""Every row at once, for `champion verify` and `champion gc` (`champion.local.maintenance`)."""

from __future__ import annotations

from champion.errors import WorkspaceStoreError
from champion.local.store.records import ArtifactRecord, ModelRecord, artifact_record, model_record
from champion.local.store.transactions import Transactions


class Inventory(Transactions):
    """What verify and gc read: every version, every artifact, every referenced blob."""

    def all_models(self) -> list[ModelRecord]:
        """Every live version, oldest first (for verification)."""
        return [
            model_record(r)
            for r in self._query("SELECT * FROM models WHERE deleted=0 ORDER BY seq")
        ]

    def referenced_digests(self) -> set[str]:
        return {
            r["digest"]
            for r in self._query("SELECT DISTINCT digest FROM artifacts WHERE digest IS NOT NULL")
        }

    def all_artifacts(self) -> list[ArtifactRecord]:
        return [artifact_record(r) for r in self._query("SELECT * FROM artifacts ORDER BY rowid")]

    def integrity_check(self) -> list[str]:
        """SQLite's own full check (pages, free list, every index against its table): empty
        when the file is sound. A page too damaged to read is reported, not raised."""
        try:
            rows = self._query("PRAGMA integrity_check")
        except WorkspaceStoreError as exc:
            return [str(exc.__cause__ or exc)]
        return [str(r[0]) for r in rows if r[0] != "ok"]
