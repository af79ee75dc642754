"""Deployments: the models a local process serves (`champion serve`), and the one rule they add
to the registry: a version an active deployment serves cannot be deleted (`Models.delete_model`
asks `_serving` inside its transaction). Whether a deployment is active is decided from its
process when it is read (`processes.is_running`), so a server that stopped, was killed or
crashed releases its versions without anyone writing that down."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

from champion.local.store.columns import decode
from champion.local.store.exceptions import DeploymentConflict
from champion.local.store.processes import host_name, is_running, process_token
from champion.local.store.records import (
    DEPLOYMENT_COLUMNS,
    SERVED_COLUMNS,
    TOKEN_COLUMNS,
    DeploymentRecord,
    by_id,
    deployment_key,
    utcnow,
)
from champion.local.store.transactions import Transactions


class Deployments(Transactions):
    """Deployment rows (see the module docstring)."""

    def start_deployment(
        self,
        name: str,
        models: Sequence[tuple[str, int]],
        *,
        port: int,
        pid: int,
        entry_script: str | None = None,
    ) -> DeploymentRecord:
        """Record that process `pid` serves `models` on `port` as deployment `name`.

        Raises KeyError naming a version that does not exist (deleted meanwhile), and
        DeploymentConflict when an active deployment already has the name."""
        with self.transaction() as c:
            for model_name, version in models:
                found = c.execute(
                    "SELECT 1 FROM models WHERE name=? AND version=? AND deleted=0",
                    (model_name, version),
                ).fetchone()
                if found is None:
                    raise KeyError(f"{model_name}:{version}")
            for other in self._active(c, "name=? AND stopped_utc IS NULL", (name,)):
                raise DeploymentConflict(other.name, other.port, other.pid)
            cur = c.execute(
                "INSERT INTO deployments(name, port, pid, process_token, host, entry_script,"
                " started_utc) VALUES (?,?,?,?,?,?,?)",
                (name, port, pid, process_token(pid), host_name(), entry_script, utcnow()),
            )
            deployment_id = int(cur.lastrowid or 0)
            c.executemany(
                "INSERT INTO deployment_models(deployment_id, model_name, version) VALUES (?,?,?)",
                [(deployment_id, m, v) for m, v in models],
            )
        [record] = self._deployments("d.id=?", (deployment_id,))
        return record

    def stop_deployment(self, deployment_id: int) -> None:
        """Record that the deployment's process has stopped serving (a clean shutdown)."""
        with self.transaction() as c:
            c.execute(
                "UPDATE deployments SET stopped_utc=? WHERE id=? AND stopped_utc IS NULL",
                (utcnow(), deployment_id),
            )

    def list_deployments(self) -> list[DeploymentRecord]:
        """Every deployment, newest first, each with whether it is active now."""
        return self._deployments("1", ())

    def _serving(self, c: sqlite3.Connection, name: str, version: int) -> list[DeploymentRecord]:
        """The active deployments that serve `name`:`version`, read on the caller's connection
        (inside its transaction)."""
        return self._active(
            c,
            "stopped_utc IS NULL AND id IN (SELECT deployment_id FROM deployment_models"
            " WHERE model_name=? AND version=?)",
            (name, version),
        )

    def _active(
        self, c: sqlite3.Connection, where: str, params: Sequence[object]
    ) -> list[DeploymentRecord]:
        rows = c.execute(f"SELECT * FROM deployments WHERE {where}", params).fetchall()
        return [record for record in (self._record(c, row) for row in rows) if record.active]

    def _deployments(self, where: str, params: Sequence[object]) -> list[DeploymentRecord]:
        with self._lock:
            rows = self._query(
                f"SELECT d.* FROM deployments d WHERE {where} ORDER BY d.id DESC", params
            )
            return [self._record(self._conn, row) for row in rows]

    @staticmethod
    def _record(c: sqlite3.Connection, row: sqlite3.Row) -> DeploymentRecord:
        """The deployment as stored, and whether its process serves now."""
        fields = decode("deployments", row, DEPLOYMENT_COLUMNS, by_id)
        token = decode("deployments", row, TOKEN_COLUMNS, by_id)["process_token"]
        models = c.execute(
            "SELECT deployment_id, model_name, version FROM deployment_models"
            " WHERE deployment_id=? ORDER BY rowid",
            (fields["id"],),
        ).fetchall()
        served = [decode("deployment_models", m, SERVED_COLUMNS, deployment_key) for m in models]
        active = fields["stopped_utc"] is None and is_running(fields["pid"], token, fields["host"])
        return DeploymentRecord(
            **fields,
            models=tuple((m["model_name"], m["version"]) for m in served),
            active=active,
        )
