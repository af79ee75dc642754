"""Artifacts, addressed like Azure's artifact service `(origin, container, path)`, each naming a
blob, and assets: lists of artifact prefixes, which is what a model's url points at."""

from __future__ import annotations

import os
import uuid
from collections.abc import Mapping, Sequence

from champion.local.store.blobs import StagedBlob
from champion.local.store.exceptions import ArtifactExists, check_artifact_path
from champion.local.store.inline import InlineBlobs
from champion.local.store.records import (
    ArtifactRecord,
    AssetRecord,
    artifact_record,
    asset_record,
    to_json,
    utcnow,
)


class Artifacts(InlineBlobs):
    """Artifact rows (all or none, never overwritten) and the assets that group them."""

    def add_artifacts(
        self,
        origin: str,
        container: str,
        entries: Sequence[tuple[str, str | None, int]],
        blobs: Sequence[StagedBlob] = (),
        inline: Mapping[str, bytes] | None = None,
    ) -> list[ArtifactRecord]:
        """Create artifacts `(path, digest, size)` all or none: an existing path is a conflict,
        as the service has no overwrite. `blobs`, staged by the caller, become blobs in the
        same transaction that inserts the rows naming them; `inline` ({digest: bytes}) are
        small blobs stored in the database by that same transaction."""
        now = utcnow()
        for path, _, _ in entries:
            check_artifact_path(path)
        with self.transaction() as c:
            paths = [p for p, _, _ in entries]
            clash = [
                p
                for p in paths
                if c.execute(
                    "SELECT 1 FROM artifacts WHERE origin=? AND container=? AND path=?",
                    (origin, container, p),
                ).fetchone()
            ]
            dupes = sorted({p for p in paths if paths.count(p) > 1})
            if clash or dupes:
                raise ArtifactExists(origin, container, clash or dupes)
            for staged in {b.digest: b for b in blobs}.values():
                self._publish(staged)
            for digest, data in (inline or {}).items():
                self._insert_inline(c, digest, data)
            self._require_blobs(d for _, d, _ in entries if d not in (inline or {}))
            c.executemany(
                "INSERT INTO artifacts(origin, container, path, digest, size, created_utc)"
                " VALUES (?,?,?,?,?,?)",
                [(origin, container, p, d, s, now) for p, d, s in entries],
            )
        return [ArtifactRecord(origin, container, p, d, s, now) for p, d, s in entries]

    def set_artifact_content(
        self, origin: str, container: str, path: str, staged: StagedBlob
    ) -> None:
        """Fill an artifact created empty (the SDK creates, then uploads to a SAS URL); the
        staged bytes become its blob in the same transaction."""
        with self.transaction() as c:
            self._publish(staged)
            c.execute(
                "UPDATE artifacts SET digest=?, size=? WHERE origin=? AND container=? AND path=?",
                (staged.digest, staged.size, origin, container, path),
            )

    def get_artifact(self, origin: str, container: str, path: str) -> ArtifactRecord | None:
        rows = self._query(
            "SELECT * FROM artifacts WHERE origin=? AND container=? AND path=?",
            (origin, container, path),
        )
        return artifact_record(rows[0]) if rows else None

    def list_artifacts(
        self, origin: str, container: str, prefix: str | None = None
    ) -> list[ArtifactRecord]:
        """Artifacts of a container in path order; with `prefix`, the exact path or anything
        under `prefix/` (whole segments only: `outputs/model` never matches `outputs/model2`)."""
        rows = self._query(
            "SELECT * FROM artifacts WHERE origin=? AND container=? ORDER BY path",
            (origin, container),
        )
        records = [artifact_record(r) for r in rows]
        if prefix is None:
            return records
        stem = prefix.rstrip("/")
        return [a for a in records if a.path == stem or a.path.startswith(stem + "/")]

    # ------------------------------------------------------------------ assets

    def create_asset(
        self, prefixes: Sequence[str], *, name: str | None = None, run_id: str | None = None
    ) -> AssetRecord:
        asset = AssetRecord(uuid.uuid4().hex, name, list(prefixes), run_id, utcnow())
        with self.transaction() as c:
            c.execute(
                "INSERT INTO assets(id, name, prefixes, run_id, created_utc) VALUES (?,?,?,?,?)",
                (asset.id, name, to_json(asset.prefixes), run_id, asset.created_utc),
            )
        return asset

    def get_asset(self, asset_id: str) -> AssetRecord | None:
        rows = self._query("SELECT * FROM assets WHERE id=?", (asset_id,))
        if not rows:
            return None
        return asset_record(rows[0])

    def asset_artifacts(self, asset_id: str) -> list[tuple[str, ArtifactRecord]]:
        """Resolve an asset to `(prefix, artifact)` pairs: what a model download writes."""
        asset = self.get_asset(asset_id)
        if asset is None:
            return []
        out: list[tuple[str, ArtifactRecord]] = []
        for prefix in asset.prefixes:
            origin, container, path = prefix.split("/", 2)
            out.extend((prefix, a) for a in self.list_artifacts(origin, container, path))
        return out

    def model_files(self, asset_id: str) -> list[tuple[str, ArtifactRecord]]:
        """Each file of a model and where a download puts it, relative to the download folder:
        as the SDK, strip `dirname(<path in the asset prefix>)`, so outputs/model.pkl lands as
        model.pkl. A row outside its prefix keeps a `..`, which the download refuses and
        verify reports."""
        plan = []
        for prefix, artifact in self.asset_artifacts(asset_id):
            strip = os.path.dirname(prefix.split("/", 2)[-1])
            relative = artifact.path
            if strip:
                inside = artifact.path.startswith(strip + "/")
                relative = artifact.path[len(strip) + 1 :] if inside else f"../{artifact.path}"
            plan.append((relative, artifact))
        return plan
