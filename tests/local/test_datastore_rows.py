"""Datastore rows a registration under today's name rule would not write: a workspace made
before the rule (`my-data` was accepted then) keeps working, and a row naming no folder (a
workspace copied from elsewhere, edited by hand) never becomes a path outside `datastores/`."""

from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path

import pytest

from champion.local.store import DataPathError, Store
from champion.testing import create_workspace


def _row(ws_path: Path, name: str) -> None:
    with contextlib.closing(sqlite3.connect(ws_path / "workspace.db")) as conn, conn:
        conn.execute(
            "INSERT INTO datastores(name, type, container, account, credential_type, is_default,"
            " created_utc) VALUES (?, 'AzureBlob', 'c', 'a', 'None', 0, '2024-01-01T00:00:00')",
            (name,),
        )


def test_an_older_name_still_reads_and_a_hostile_one_is_no_path(tmp_path: Path) -> None:
    ws_path = tmp_path / "ws"
    create_workspace(ws_path)
    _row(ws_path, "my-data")
    _row(ws_path, "..")
    store = Store.open(ws_path)
    data = tmp_path / "x.csv"
    data.write_text("a\n1\n")
    assert store.datastore_write("my-data", "x.csv", data, overwrite=False)
    assert [n for n, _ in store.datastore_files("my-data")] == ["x.csv"]
    with pytest.raises(DataPathError, match="cannot be a folder name"):
        store.datastore_write("..", "x.csv", data, overwrite=False)
    assert not (ws_path / "x.csv").exists()
