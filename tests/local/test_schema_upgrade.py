"""An existing user's workspace (schema version 1, as champion 0.1.0 wrote it; version 2, as
the release before deployments wrote it; version 3, before small blobs moved into the database)
opens with this code and is upgraded in place to the current version: nothing it held is lost,
the new tables work, and a failed upgrade leaves it exactly as it was."""

from __future__ import annotations

import hashlib
import os
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from champion.errors import WorkspaceStoreError
from champion.local import Dataset, Experiment, Model, Run, Workspace
from champion.local.store import Store, schema

DUMP = Path(__file__).with_name("data") / "workspace_v1.sql"
MODEL_BYTES = b"pickled v1 model"
CURRENT = "5"


def restore_v1(folder: Path) -> Path:
    """The version 1 workspace from its dump, with the model's blob where it wrote it."""
    folder.mkdir()
    conn = sqlite3.connect(folder / "workspace.db")
    conn.executescript(DUMP.read_text())
    conn.close()
    digest = hashlib.sha256(MODEL_BYTES).hexdigest()
    blob = folder / "blobs" / "sha256" / digest[:2] / digest
    blob.parent.mkdir(parents=True)
    blob.write_bytes(MODEL_BYTES)
    return folder


def schema_version(folder: Path) -> str:
    conn = sqlite3.connect(folder / "workspace.db")
    try:
        return str(conn.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()[0])
    finally:
        conn.close()


def test_a_version_1_workspace_opens_upgraded_with_everything_it_held(
    tmp_path: Path, in_tmp: Path
) -> None:
    folder = restore_v1(tmp_path / "old")
    assert schema_version(folder) == "1"

    ws = Workspace(folder)
    assert schema_version(folder) == CURRENT
    champion = Model(ws, "iris")
    assert (champion.version, champion.properties, champion.tags) == (
        1,
        {"accuracy": "0.95"},
        {"stage": "v1"},
    )
    assert champion.resource_configuration is None and champion.datasets == {}
    assert Path(champion.download(str(tmp_path / "out"))).read_bytes() == MODEL_BYTES
    [run] = Experiment(ws, "iris-pipeline").get_runs()
    assert run.get_metrics() == {"accuracy": 0.95} and run.get_status() == "Completed"
    assert run.get_file_names() == ["outputs/model.pkl"]

    # what version 2 adds works on the upgraded workspace
    assert ws.get_default_datastore().name == "workspaceblobstore"
    assert set(ws.datastores) == {"workspaceblobstore", "workspacefilestore"}
    (in_tmp / "data.csv").write_text("a,b\n1,2\n")
    datastore = ws.get_default_datastore()
    datastore.upload_files([str(in_tmp / "data.csv")], relative_root=str(in_tmp),
                           show_progress=False)  # fmt: skip
    dataset = Dataset.Tabular.from_delimited_files((datastore, "data.csv")).register(ws, "data")
    from azureml.core.resource_configuration import ResourceConfiguration

    second = Run.get(ws, run.id).register_model(
        "iris",
        model_path="outputs/model.pkl",
        properties={"accuracy": "0.97"},
        sample_input_dataset=dataset,
        resource_configuration=ResourceConfiguration(cpu=1, memory_in_gb=0.5),
    )
    assert second.version == 2
    assert Model(ws, "iris").sample_input_dataset.name == "data"

    # a second open (another process) finds version 3 and changes nothing
    ws._store.close()
    before = (folder / "workspace.db").read_bytes()
    reopened = Workspace(folder)
    assert reopened._store.dataset_digest("data") == dataset._properties["champion.content_sha256"]
    reopened._store.close()
    assert schema_version(folder) == CURRENT
    assert len((folder / "workspace.db").read_bytes()) == len(before)


def test_a_failed_upgrade_leaves_the_workspace_as_it_was(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = restore_v1(tmp_path / "old")
    conn = sqlite3.connect(folder / "workspace.db")
    rows_before = list(conn.iterdump())
    conn.close()
    real = schema.migrate_1_to_2

    def fails_halfway(c: sqlite3.Connection, workspace_id: str, now: str) -> None:
        c.execute("CREATE TABLE datastores (name TEXT)")
        raise sqlite3.OperationalError("disk I/O error (injected)")

    monkeypatch.setattr(schema, "migrate_1_to_2", fails_halfway)
    with pytest.raises(WorkspaceStoreError, match=r"could not be upgraded .*left unchanged"):
        Store(folder)
    conn = sqlite3.connect(folder / "workspace.db")
    assert list(conn.iterdump()) == rows_before  # no table, no row, version still 1
    conn.close()

    monkeypatch.setattr(schema, "migrate_1_to_2", real)
    assert Model(Workspace(folder), "iris").version == 1
    assert schema_version(folder) == CURRENT


def test_a_new_workspace_is_created_at_the_current_version_through_the_same_upgrades(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, make_workspace: Any
) -> None:
    seen: list[tuple[str, str]] = []
    for step in ("migrate_1_to_2", "migrate_2_to_3", "migrate_3_to_4"):
        real = getattr(schema, step)

        def spy(c: sqlite3.Connection, workspace_id: str, now: str, real: Any = real) -> None:
            seen.append((real.__name__, workspace_id))
            real(c, workspace_id, now)

        monkeypatch.setattr(schema, step, spy)
    ws = make_workspace(tmp_path / "new")
    assert seen == [
        ("migrate_1_to_2", ws._workspace_id),
        ("migrate_2_to_3", ws._workspace_id),
        ("migrate_3_to_4", ws._workspace_id),
    ]
    assert schema_version(tmp_path / "new") == str(schema.SCHEMA_VERSION) == CURRENT


@pytest.mark.process
def test_a_read_only_command_on_a_version_1_workspace_says_how_to_upgrade_and_changes_nothing(
    tmp_path: Path,
) -> None:
    """Reading commands open read-only and never write, so they cannot upgrade: one line that
    says what to do, and the workspace stays a version 1 one, byte for byte."""
    import subprocess
    import sys

    folder = restore_v1(tmp_path / "old")
    before = (folder / "workspace.db").read_bytes()
    done = subprocess.run(
        [sys.executable, "-m", "champion.cli", "--workspace", str(folder), "models", "list"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 3, done.stderr
    assert "version 1 workspace" in done.stderr and "upgrade" in done.stderr
    assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1
    assert (folder / "workspace.db").read_bytes() == before and schema_version(folder) == "1"


# --------------------------------------------------------------------------- version 2 -> 3

DUMP_V2 = Path(__file__).with_name("data") / "workspace_v2.sql"
MODEL_V2_BYTES = b"pickled v2 model"
DATA_V2_BYTES = b"a,b\n1,2\n"


def restore_v2(folder: Path) -> Path:
    """The version 2 workspace from its dump, with its model blob and its dataset's file."""
    folder.mkdir()
    conn = sqlite3.connect(folder / "workspace.db")
    conn.executescript(DUMP_V2.read_text())
    conn.close()
    digest = hashlib.sha256(MODEL_V2_BYTES).hexdigest()
    blob = folder / "blobs" / "sha256" / digest[:2] / digest
    blob.parent.mkdir(parents=True)
    blob.write_bytes(MODEL_V2_BYTES)
    data = folder / "datastores" / "workspaceblobstore" / "data.csv"
    data.parent.mkdir(parents=True)
    data.write_bytes(DATA_V2_BYTES)
    (folder / "datastores" / "workspacefilestore").mkdir()
    return folder


def test_a_version_2_workspace_opens_upgraded_and_its_versions_can_be_served(
    tmp_path: Path,
) -> None:
    folder = restore_v2(tmp_path / "old")
    assert schema_version(folder) == "2"

    ws = Workspace(folder)
    assert schema_version(folder) == CURRENT
    champion = Model(ws, "iris")
    assert (champion.version, champion.properties, champion.tags) == (
        1,
        {"accuracy": "0.96"},
        {"stage": "v2"},
    )
    assert Path(champion.download(str(tmp_path / "out"))).read_bytes() == MODEL_V2_BYTES
    assert champion.sample_input_dataset.name == "data"
    assert champion.sample_input_dataset.to_pandas_dataframe().to_dict("list") == {
        "a": [1],
        "b": [2],
    }
    [run] = Experiment(ws, "iris-pipeline").get_runs()
    assert run.get_metrics() == {"accuracy": 0.96}

    # what version 3 adds works on the upgraded workspace: a served version cannot be deleted
    store = ws._store
    assert store.list_deployments() == []
    served = store.start_deployment("iris", [("iris", 1)], port=8890, pid=os.getpid())
    assert [d.status for d in store.list_deployments()] == ["running"]
    from azureml.exceptions import WebserviceException

    with pytest.raises(WebserviceException, match="412"):
        champion.delete()
    store.stop_deployment(served.id)
    champion.delete()
    assert Model.list(ws, name="iris") == []


def test_a_failed_upgrade_from_2_leaves_the_workspace_as_it_was(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = restore_v2(tmp_path / "old")
    conn = sqlite3.connect(folder / "workspace.db")
    rows_before = list(conn.iterdump())
    conn.close()
    real = schema.migrate_2_to_3

    def fails_halfway(c: sqlite3.Connection, workspace_id: str, now: str) -> None:
        c.execute("CREATE TABLE deployments (name TEXT)")
        raise sqlite3.OperationalError("disk I/O error (injected)")

    monkeypatch.setattr(schema, "migrate_2_to_3", fails_halfway)
    with pytest.raises(WorkspaceStoreError, match=r"version 2 .*could not be upgraded"):
        Store(folder)
    conn = sqlite3.connect(folder / "workspace.db")
    assert list(conn.iterdump()) == rows_before
    conn.close()

    monkeypatch.setattr(schema, "migrate_2_to_3", real)
    assert Model(Workspace(folder), "iris").version == 1
    assert schema_version(folder) == CURRENT


@pytest.mark.process
def test_a_read_only_command_on_a_version_2_workspace_says_how_to_upgrade(
    tmp_path: Path,
) -> None:
    import subprocess
    import sys

    folder = restore_v2(tmp_path / "old")
    before = (folder / "workspace.db").read_bytes()
    done = subprocess.run(
        [sys.executable, "-m", "champion.cli", "--workspace", str(folder), "models", "list"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 3, done.stderr
    assert "version 2 workspace" in done.stderr and "upgrade" in done.stderr
    assert (folder / "workspace.db").read_bytes() == before and schema_version(folder) == "2"


# --------------------------------------------------------------------------- version 3 -> 4


def test_a_version_3_workspace_opens_upgraded_and_keeps_small_blobs_in_the_database(
    tmp_path: Path, in_tmp: Path
) -> None:
    """A version 3 workspace (every blob a file) gains the table of small blobs; its files
    still read, and a decision record written after the upgrade goes into the database."""
    folder = restore_v2(tmp_path / "old")
    Workspace(folder)._store.close()  # upgraded to the current version, then taken back to 3:
    undo_version_5(folder)
    conn = sqlite3.connect(folder / "workspace.db")
    conn.execute("DROP TABLE inline_blobs")
    conn.execute("UPDATE meta SET value='3' WHERE key='schema_version'")
    conn.commit()
    conn.close()
    assert schema_version(folder) == "3"

    ws = Workspace(folder)
    assert schema_version(folder) == CURRENT
    assert Path(Model(ws, "iris").download(str(tmp_path / "out"))).read_bytes() == MODEL_V2_BYTES
    from champion.local.access import upload_bytes

    [run] = Experiment(ws, "iris-pipeline").get_runs()
    upload_bytes(run, "outputs/champion_decision.json", b'{"outcome": "rejected"}')
    run.download_file("outputs/champion_decision.json", str(in_tmp / "record.json"))
    assert (in_tmp / "record.json").read_bytes() == b'{"outcome": "rejected"}'
    assert (folder / "blobs").is_dir() and ws._store.inline_digests() != set()
    assert ws._store.schema_drift() == []


def undo_version_5(folder: Path) -> None:
    """Take a current workspace back to version 4, as the release before v2 models wrote it."""
    conn = sqlite3.connect(folder / "workspace.db")
    conn.execute("DROP INDEX models_created")
    conn.execute("DROP TABLE blob_metadata")
    for column in ("archived", "stage", "spec"):
        conn.execute(f"ALTER TABLE models DROP COLUMN {column}")
    conn.execute("UPDATE meta SET value='4' WHERE key='schema_version'")
    conn.commit()
    conn.close()


def test_a_version_4_workspace_opens_upgraded_with_every_version_active(
    tmp_path: Path, in_tmp: Path
) -> None:
    """A version 4 workspace gains the v2 registry's columns: every version it held is active,
    in the default stage, still the champion it was, and a version numbered by a client can
    then be created out of order without the two creation-order indexes disagreeing."""
    folder = restore_v2(tmp_path / "old")
    Workspace(folder)._store.close()
    undo_version_5(folder)
    assert schema_version(folder) == "4"

    ws = Workspace(folder)
    assert schema_version(folder) == CURRENT
    store = ws._store
    latest = store.latest_model("iris")
    assert latest is not None and (latest.archived, latest.shown_stage) == (False, "Development")
    assert Model(ws, "iris").version == latest.version
    assert store.schema_drift() == []
