"""The model registry's rows: versions numbered max+1 in one transaction and never reused (a
deleted version stays, soft-deleted), tag and property filters, immutable properties."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping, Sequence
from typing import Any

from champion._failpoints import failpoint
from champion.errors import WorkspaceStoreError
from champion.local.store.columns import decode
from champion.local.store.deployments import Deployments
from champion.local.store.exceptions import ModelInUse, PropertyConflict
from champion.local.store.layout import DB_NAME
from champion.local.store.records import (
    MODEL_EDITED_COLUMNS,
    ModelRecord,
    model_key,
    model_record,
    to_json,
    utcnow,
)


def parse_filter_query(query: str | None) -> list[tuple[str, str | None]]:
    """The service's reading of the SDK's tag/property filter string, `"k1,k2=v2"`: a bare key
    means "present", `k=v` means "equals". The SDK joins items without escaping, so a value
    holding `,` or `=` cannot be expressed; we split exactly as such a string reads."""
    if not query:
        return []
    pairs: list[tuple[str, str | None]] = []
    for term in query.split(","):
        key, sep, value = term.partition("=")
        pairs.append((key, value if sep else None))
    return pairs


class Models(Deployments):
    """Registered model versions (see the module docstring)."""

    def register_model(
        self,
        name: str,
        asset_id: str,
        *,
        tags: Mapping[str, str | None] | None = None,
        properties: Mapping[str, str | None] | None = None,
        description: str | None = None,
        framework: str | None = None,
        framework_version: str | None = None,
        run_id: str | None = None,
        experiment_name: str | None = None,
        mime_type: str = "application/json",
        resource_configuration: Mapping[str, Any] | None = None,
        datasets: Sequence[tuple[str, str]] = (),
        sample_input_dataset: str | None = None,
        sample_output_dataset: str | None = None,
    ) -> ModelRecord:
        """Register the next version of `name`: max(version, including deleted) + 1, in one
        transaction, so concurrent writers get distinct, contiguous numbers. The metadata Azure
        keeps with a version (resource configuration, dataset links by scenario, sample input
        and output datasets, each a saved dataset id) is stored in the same row."""
        now = utcnow()
        with self.transaction() as c:
            version = c.execute(
                "SELECT coalesce(max(version), 0) + 1 FROM models WHERE name=?", (name,)
            ).fetchone()[0]
            cur = c.execute(
                "INSERT INTO models(name, version, asset_id, description, framework,"
                " framework_version, tags, properties, run_id, experiment_name, mime_type,"
                " created_utc, resource_configuration, datasets, sample_input_dataset,"
                " sample_output_dataset) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (
                    name,
                    version,
                    asset_id,
                    description,
                    framework or "Custom",
                    framework_version,
                    to_json(dict(tags or {})),
                    to_json(dict(properties or {})),
                    run_id,
                    experiment_name,
                    mime_type,
                    now,
                    json.dumps(dict(resource_configuration)) if resource_configuration else None,
                    json.dumps([list(link) for link in datasets]),
                    sample_input_dataset,
                    sample_output_dataset,
                ),
            )
            self._index_kv(c, int(cur.lastrowid or 0), tags or {}, properties or {})
            self._link_model_datasets(c, int(cur.lastrowid or 0), datasets)
            failpoint("register.in_transaction")
        record = self.get_model(name, version)
        assert record is not None
        return record

    @staticmethod
    def _index_kv(
        c: sqlite3.Connection,
        seq: int,
        tags: Mapping[str, str | None],
        properties: Mapping[str, str | None],
    ) -> None:
        c.execute("DELETE FROM model_kv WHERE model_seq=?", (seq,))
        c.executemany(
            "INSERT INTO model_kv(model_seq, kind, key, value) VALUES (?,?,?,?)",
            [(seq, "t", k, v) for k, v in tags.items()]
            + [(seq, "p", k, v) for k, v in properties.items()],
        )

    def get_model(self, name: str, version: int) -> ModelRecord | None:
        """Version `version` of `name`: found through the (name, version) index, read from the
        table by its rowid and checked to be that version (see `latest_model`)."""
        [row] = self._query(
            "SELECT m.*, x.found FROM (SELECT (SELECT seq FROM models INDEXED BY"
            " sqlite_autoindex_models_1 WHERE name=? AND version=? AND deleted=0) AS found) x"
            " LEFT JOIN models m NOT INDEXED ON m.seq = x.found",
            (name, version),
        )
        return None if row["found"] is None else self._checked(row, name, version)

    def latest_model(self, name: str) -> ModelRecord | None:
        """The most recently created live version of `name`: the champion every decision
        compares against, and what Azure ML's `label="latest"` means ("the most recently
        created, not the most recently updated", nor the highest number: a client that numbers
        its versions may create 3 after 7).

        Why not one index lookup: SQLite keeps no checksum, so one flipped bit in the index a
        lookup uses can hide the champion (an older version, or none, comes back, and the
        gate promotes a worse model), and only a full `PRAGMA integrity_check`, far too slow
        per registration, would notice. So the `models_name` index's answer is read again
        through `models_created`, an index of the live versions in creation order that shares
        no page with it; both must name the same row, and that row, read from the table by its
        rowid (an index's copy of a column is not read back), must be a live version of `name`.
        Any disagreement is damage, and nothing is decided on it. One statement (one state of
        the database), three point lookups, whatever the number of versions."""
        [row] = self._query(
            "SELECT m.*, x.by_seq, x.by_created FROM (SELECT"
            " (SELECT seq FROM models INDEXED BY models_name WHERE name=?1 AND deleted=0"
            " ORDER BY seq DESC LIMIT 1) AS by_seq,"
            " (SELECT seq FROM models INDEXED BY models_created WHERE name=?1"
            " AND deleted=0 ORDER BY seq DESC LIMIT 1) AS by_created) x"
            " LEFT JOIN models m NOT INDEXED ON m.seq = x.by_seq",
            (name,),
        )
        if row["by_seq"] != row["by_created"]:
            raise self._damaged_index(
                f"its two indexes of model versions disagree on the latest version of "
                f"{name!r} (the row {row['by_seq']} and the row {row['by_created']})"
            )
        return None if row["by_seq"] is None else self._checked(row, name)

    def _checked(self, row: sqlite3.Row, name: str, version: int | None = None) -> ModelRecord:
        """The model an index lookup found, as the table holds it: checked to be the live
        version of `name` (and `version`, if given) the index said it is."""
        wanted = name if version is None else f"{name}:{version}"
        if row["seq"] is None:
            raise self._damaged_index(f"an index names a row the table lacks for {wanted!r}")
        record = model_record(row)
        if record.name != name or record.deleted or version not in (None, record.version):
            raise self._damaged_index(
                f"an index names the row {record.seq} for {wanted!r}, and the table holds "
                f"{record.id}{' (deleted)' if record.deleted else ''} there"
            )
        return record

    def _damaged_index(self, what: str) -> WorkspaceStoreError:
        return WorkspaceStoreError(
            f"the workspace database {self.root / DB_NAME} is damaged: {what}. Nothing was "
            "decided or changed; run `champion verify`, and restore the workspace from a copy.",
            field="workspace",
            value=str(self.root / DB_NAME),
        )

    def query_models(
        self,
        *,
        name: str | None = None,
        tags: Sequence[tuple[str, str | None]] = (),
        properties: Sequence[tuple[str, str | None]] = (),
        run_id: str | None = None,
        framework: str | None = None,
        latest_only: bool = False,
        limit: int | None = None,
        dataset_id: str | None = None,
    ) -> list[ModelRecord]:
        """Models newest first; each `(key, None)` filter means "key present", `(key, v)` means
        "key equals v"; all filters must hold. `latest_only` keeps the newest match per name;
        `dataset_id` keeps versions linked to that saved dataset. The newest version of one
        name, unfiltered, is `latest_model`'s cross-checked answer."""
        if (
            name is not None
            and (limit == 1 or latest_only)
            and not (tags or properties or run_id or framework or dataset_id)
        ):
            latest = self.latest_model(name)
            return [latest] if latest is not None else []
        filters = [
            (kind, key, value)
            for kind, pairs in (("t", tags), ("p", properties))
            for key, value in pairs
        ]
        # Drive the query from the most selective filter's index range (a key=value one if
        # any), so a tag search costs the number of matches, not the number of versions.
        filters.sort(key=lambda f: f[2] is None)
        source, params = "models m", []
        if filters:
            kind, key, value = filters.pop(0)
            source = "model_kv d CROSS JOIN models m ON m.seq = d.model_seq"
            where = ["d.kind=?", "d.key=?"] + (["d.value=?"] if value is not None else [])
            params += [kind, key] + ([value] if value is not None else [])
            where.append("m.deleted=0")
        else:
            where = ["m.deleted=0"]
        for column, wanted in (("m.name", name), ("m.run_id", run_id), ("m.framework", framework)):
            if wanted is not None:
                where.append(f"{column}=?")
                params.append(wanted)
        for kind, key, value in filters:
            clause = (
                "EXISTS (SELECT 1 FROM model_kv kv WHERE kv.model_seq=m.seq AND kv.kind=?"
                " AND kv.key=?"
            )
            params += [kind, key]
            if value is not None:
                clause += " AND kv.value=?"
                params.append(value)
            where.append(clause + ")")
        if dataset_id is not None:
            where.append(
                "EXISTS (SELECT 1 FROM model_datasets md WHERE md.model_seq=m.seq"
                " AND md.dataset_id=?)"
            )
            params.append(dataset_id)
        sql = f"SELECT m.* FROM {source} WHERE {' AND '.join(where)} ORDER BY m.seq DESC"
        if limit is not None and not latest_only:
            sql += f" LIMIT {int(limit)}"
        records = [model_record(r) for r in self._query(sql, params)]
        if latest_only:
            newest: dict[str, ModelRecord] = {}
            for record in records:
                newest.setdefault(record.name, record)
            records = list(newest.values())
            if limit is not None:
                records = records[:limit]
        return records

    def update_model(
        self,
        name: str,
        version: int,
        *,
        tags: Mapping[str, str | None] | None = None,
        properties: Mapping[str, str | None] | None = None,
        description: str | None = None,
        add_datasets: Sequence[tuple[str, str]] = (),
        sample_input_dataset: str | None = None,
        sample_output_dataset: str | None = None,
        resource_configuration: Mapping[str, Any] | None = None,
    ) -> ModelRecord:
        """Replace tags and/or description; merge properties, refusing any existing key (the
        service treats model properties as immutable); add dataset links; replace the sample
        datasets and the resource configuration."""
        with self.transaction() as c:
            row = c.execute(
                "SELECT seq, name, version, tags, properties, datasets FROM models"
                " WHERE name=? AND version=? AND deleted=0",
                (name, version),
            ).fetchone()
            if row is None:
                raise KeyError(f"{name}:{version}")
            decoded = decode("models", row, MODEL_EDITED_COLUMNS, model_key)
            seq, new_tags = row["seq"], decoded["tags"]
            new_props: dict[str, str | None] = decoded["properties"]
            if tags is not None:
                new_tags = dict(tags)
            if properties:
                clash = [k for k in properties if k in new_props and new_props[k] != properties[k]]
                if clash:
                    raise PropertyConflict(clash)
                new_props.update(properties)
            sets, params = (
                ["tags=?", "properties=?", "modified_utc=?"],
                [to_json(new_tags), to_json(new_props), utcnow()],
            )
            if description is not None:
                sets.append("description=?")
                params.append(description)
            if add_datasets:
                links = [*map(list, decoded["datasets"]), *(list(link) for link in add_datasets)]
                sets.append("datasets=?")
                params.append(json.dumps(links))
                self._link_model_datasets(c, seq, add_datasets)
            for column, value in (
                ("sample_input_dataset", sample_input_dataset),
                ("sample_output_dataset", sample_output_dataset),
            ):
                if value is not None:
                    sets.append(f"{column}=?")
                    params.append(value)
            if resource_configuration is not None:
                sets.append("resource_configuration=?")
                params.append(json.dumps(dict(resource_configuration)))
            c.execute(f"UPDATE models SET {', '.join(sets)} WHERE seq=?", [*params, seq])
            self._index_kv(c, seq, new_tags, new_props)
        record = self.get_model(name, version)
        assert record is not None
        return record

    def delete_model(self, name: str, version: int) -> bool:
        """Soft delete: the row stays, so its version number is never handed out again.

        Raises ModelInUse while an active deployment serves the version (Azure refuses to
        delete a model a deployment uses); checked in the transaction that deletes."""
        with self.transaction() as c:
            serving = self._serving(c, name, version)
            if serving:
                raise ModelInUse(name, version, [(d.name, d.port, d.pid) for d in serving])
            cur = c.execute(
                "UPDATE models SET deleted=1, modified_utc=? WHERE name=? AND"
                " version=? AND deleted=0",
                (utcnow(), name, version),
            )
            return cur.rowcount == 1

    @staticmethod
    def _link_model_datasets(
        c: sqlite3.Connection, seq: int, links: Sequence[tuple[str, str]]
    ) -> None:
        c.executemany(
            "INSERT INTO model_datasets(model_seq, scenario, dataset_id) VALUES (?,?,?)",
            [(seq, scenario, dataset_id) for scenario, dataset_id in links],
        )
