"""Experiments, runs and their metrics: the run-history service's rows."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from champion.local.store.columns import decode
from champion.local.store.exceptions import PropertyConflict
from champion.local.store.records import (
    METRIC_COLUMNS,
    RUN_JSON_COLUMNS,
    RunRecord,
    metric_key,
    run_key,
    run_record,
    to_json,
    utcnow,
)
from champion.local.store.transactions import Transactions


class Runs(Transactions):
    """Experiments (created on first use), runs with their tags and properties, metrics."""

    def get_or_create_experiment(self, name: str) -> str:
        """Return the experiment's id, creating it on first use as the service does."""
        rows = self._query("SELECT id FROM experiments WHERE name=?", (name,))
        if rows:
            return str(rows[0]["id"])
        with self.transaction() as c:
            row = c.execute("SELECT id FROM experiments WHERE name=?", (name,)).fetchone()
            if row:
                return str(row[0])
            exp_id = str(uuid.uuid4())
            c.execute(
                "INSERT INTO experiments(name, id, created_utc) VALUES (?, ?, ?)",
                (name, exp_id, utcnow()),
            )
            return exp_id

    def list_experiments(self) -> list[tuple[str, str]]:
        return [
            (r["name"], r["id"])
            for r in self._query("SELECT name, id FROM experiments ORDER BY name")
        ]

    # ------------------------------------------------------------------ runs

    def create_run(
        self,
        experiment: str,
        *,
        run_id: str | None = None,
        parent_id: str | None = None,
        name: str | None = None,
        display_name: str | None = None,
        run_type: str | None = None,
        status: str = "Running",
        tags: Mapping[str, str | None] | None = None,
        properties: Mapping[str, str | None] | None = None,
    ) -> RunRecord:
        self.get_or_create_experiment(experiment)
        run_id = (
            run_id or f"{experiment}_{uuid.uuid4().hex[:8]}_{int(datetime.now(UTC).timestamp())}"
        )
        now = utcnow()
        with self.transaction() as c:
            root_id = run_id
            if parent_id is not None:
                parent = c.execute(
                    "SELECT root_id FROM runs WHERE run_id=?", (parent_id,)
                ).fetchone()
                if parent is None:
                    raise KeyError(parent_id)
                root_id = parent[0]
            c.execute(
                "UPDATE experiments SET run_counter = run_counter + 1 WHERE name=?", (experiment,)
            )
            number = c.execute(
                "SELECT run_counter FROM experiments WHERE name=?", (experiment,)
            ).fetchone()[0]
            c.execute(
                "INSERT INTO runs(run_id, experiment, run_number, parent_id, root_id, name,"
                " display_name, run_type, status, created_utc, start_utc, tags, properties,"
                " data_container_id) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (
                    run_id,
                    experiment,
                    number,
                    parent_id,
                    root_id,
                    name,
                    display_name if display_name is not None else name,
                    run_type,
                    status,
                    now,
                    now,
                    to_json(dict(tags or {})),
                    to_json(dict(properties or {})),
                    f"dcid.{run_id}",
                ),
            )
        record = self.get_run(run_id)
        assert record is not None
        return record

    def get_run(self, run_id: str) -> RunRecord | None:
        rows = self._query("SELECT * FROM runs WHERE run_id=?", (run_id,))
        return run_record(rows[0]) if rows else None

    def run_ids_starting(self, prefix: str, limit: int) -> list[str]:
        """Up to `limit` run ids that start with `prefix`, in order: a range over the unique
        index, so a short id as tables print it (git's habit) finds its run at any size."""
        rows = self._query(
            "SELECT run_id FROM runs WHERE run_id >= ? AND run_id < ? ORDER BY run_id LIMIT ?",
            (prefix, prefix + "\U0010ffff", limit),
        )
        return [str(r["run_id"]) for r in rows]

    def list_runs(self, experiment: str | None = None) -> list[RunRecord]:
        if experiment is None:
            rows = self._query("SELECT * FROM runs ORDER BY seq DESC")
        else:
            rows = self._query(
                "SELECT * FROM runs WHERE experiment=? ORDER BY seq DESC", (experiment,)
            )
        return [run_record(r) for r in rows]

    def list_children(self, run_id: str, *, recursive: bool = False) -> list[RunRecord]:
        """Children newest first (the service orders by start time, descending)."""
        if not recursive:
            rows = self._query("SELECT * FROM runs WHERE parent_id=? ORDER BY seq DESC", (run_id,))
            return [run_record(r) for r in rows]
        run = self.get_run(run_id)
        if run is None:
            return []
        rows = self._query("SELECT * FROM runs WHERE root_id=? ORDER BY seq DESC", (run.root_id,))
        records = [run_record(r) for r in rows]
        by_parent: dict[str | None, list[RunRecord]] = {}
        for rec in records:
            by_parent.setdefault(rec.parent_id, []).append(rec)
        subtree: set[str] = set()
        frontier = [run_id]
        while frontier:
            current = frontier.pop()
            for child in by_parent.get(current, []):
                subtree.add(child.run_id)
                frontier.append(child.run_id)
        return [r for r in records if r.run_id in subtree]

    def update_run(
        self,
        run_id: str,
        *,
        set_tags: Mapping[str, str | None] | None = None,
        remove_tags: Iterable[str] | None = None,
        add_properties: Mapping[str, str | None] | None = None,
        status: str | None = None,
        display_name: str | None = None,
        error: Mapping[str, Any] | None = None,
    ) -> RunRecord:
        """Apply one PATCH to a run. A property key that exists with another value is refused,
        as the service refuses it; the same value again is accepted (svc: unverified, lenient)."""
        with self.transaction() as c:
            row = c.execute("SELECT * FROM runs WHERE run_id=?", (run_id,)).fetchone()
            if row is None:
                raise KeyError(run_id)
            decoded = decode("runs", row, RUN_JSON_COLUMNS, run_key)
            tags: dict[str, str | None] = decoded["tags"]
            props: dict[str, str | None] = decoded["properties"]
            if set_tags:
                tags.update(set_tags)
            for key in remove_tags or ():
                tags.pop(key, None)
            if add_properties:
                clash = [k for k, v in add_properties.items() if k in props and props[k] != v]
                if clash:
                    raise PropertyConflict(clash)
                props.update(add_properties)
            changes: dict[str, Any] = {"tags": to_json(tags), "properties": to_json(props)}
            if status is not None:
                changes["status"] = status
                if status in ("Completed", "Failed", "Canceled"):
                    changes["end_utc"] = utcnow()
            if display_name is not None:
                changes["display_name"] = display_name
            if error is not None:
                changes["error"] = to_json(dict(error))
            assignments = ", ".join(f"{column}=?" for column in changes)
            c.execute(f"UPDATE runs SET {assignments} WHERE run_id=?", [*changes.values(), run_id])
        # the row as written, without reading it again
        return run_record({**dict(zip(row.keys(), row, strict=True)), **changes})

    # ------------------------------------------------------------------ metrics

    def log_metric(self, run_id: str, name: str, value: Any, step: int | None = None) -> None:
        with self.transaction() as c:
            c.execute(
                "INSERT INTO metrics(run_id, name, value, step, logged_utc) VALUES (?,?,?,?,?)",
                (run_id, name, json.dumps(value), step, utcnow()),
            )

    def get_metrics(self, run_id: str) -> dict[str, list[Any]]:
        """Every logged value per name, in log order."""
        out: dict[str, list[Any]] = {}
        for r in self._query(
            "SELECT seq, run_id, name, value FROM metrics WHERE run_id=? ORDER BY seq", (run_id,)
        ):
            value = decode("metrics", r, METRIC_COLUMNS, metric_key)["value"]
            out.setdefault(r["name"], []).append(value)
        return out

    def metric_history(
        self, run_id: str, name: str | None = None
    ) -> list[tuple[str, Any, int | None, str]]:
        """Every logged value of a run (or of one metric), in log order, as
        `(name, value, step, logged_utc)`: what MLflow's history and run data read."""
        sql = "SELECT seq, run_id, name, value, step, logged_utc FROM metrics WHERE run_id=?"
        params: list[Any] = [run_id]
        if name is not None:
            sql += " AND name=?"
            params.append(name)
        out = []
        for r in self._query(sql + " ORDER BY seq", params):
            value = decode("metrics", r, METRIC_COLUMNS, metric_key)["value"]
            out.append((str(r["name"]), value, r["step"], str(r["logged_utc"])))
        return out
