"""Deployments in the store: what makes one active (its process, told apart from a later process
with the same pid, on its host), one active deployment per name, and the versions it serves
checked inside the transaction that records it."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from azureml.exceptions import WebserviceException

from champion.local import Model, Workspace
from champion.local.store import DeploymentConflict, ModelInUse, processes


@pytest.fixture
def served_ws(ws: Workspace, in_tmp: Path) -> Workspace:
    (in_tmp / "model.pkl").write_bytes(b"model")
    Model.register(ws, "model.pkl", "m")
    Model.register(ws, "model.pkl", "m")
    return ws


def test_a_deployment_records_its_versions_port_process_and_start(served_ws: Workspace) -> None:
    store = served_ws._store
    record = store.start_deployment(
        "svc", [("m", 1), ("m", 2)], port=8890, pid=os.getpid(), entry_script="/x/score.py"
    )
    assert (record.name, record.models, record.port, record.pid) == (
        "svc",
        (("m", 1), ("m", 2)),
        8890,
        os.getpid(),
    )
    assert record.status == "running" and record.stopped_utc is None
    assert record.entry_script == "/x/score.py" and record.host == processes.host_name()
    assert store.list_deployments() == [record]


def test_one_active_deployment_per_name_and_only_versions_that_exist(
    served_ws: Workspace,
) -> None:
    store = served_ws._store
    first = store.start_deployment("svc", [("m", 1)], port=8890, pid=os.getpid())
    with pytest.raises(DeploymentConflict, match="'svc' is active"):
        store.start_deployment("svc", [("m", 2)], port=8891, pid=os.getpid())
    with pytest.raises(KeyError, match="m:9"):
        store.start_deployment("other", [("m", 9)], port=8891, pid=os.getpid())
    store.stop_deployment(first.id)
    again = store.start_deployment("svc", [("m", 2)], port=8891, pid=os.getpid())
    assert [d.id for d in store.list_deployments()] == [again.id, first.id]  # newest first


def test_a_reused_pid_is_not_the_server(served_ws: Workspace) -> None:
    """The kernel's start time of the pid is part of the record: another process that got the
    same pid later does not keep the version served."""
    store = served_ws._store
    record = store.start_deployment("svc", [("m", 1)], port=8890, pid=os.getpid())
    with sqlite3.connect(served_ws.path / "workspace.db") as conn:
        conn.execute("UPDATE deployments SET process_token='1' WHERE id=?", (record.id,))
    conn.close()
    [seen] = store.list_deployments()
    assert seen.status == "gone"
    Model(served_ws, "m", version=1).delete()


def test_a_deployment_of_another_host_counts_as_active(served_ws: Workspace) -> None:
    """It cannot be checked from here; refusing the delete is the side that loses nothing."""
    store = served_ws._store
    record = store.start_deployment("svc", [("m", 1)], port=8890, pid=2**22 + 17)
    with sqlite3.connect(served_ws.path / "workspace.db") as conn:
        conn.execute("UPDATE deployments SET host='elsewhere' WHERE id=?", (record.id,))
    conn.close()
    with pytest.raises(ModelInUse):
        store.delete_model("m", 1)


@pytest.mark.process
def test_a_zombie_server_is_not_active(served_ws: Workspace) -> None:
    """A server that exited but whose parent has not reaped it yet serves nothing."""
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        record = served_ws._store.start_deployment("svc", [("m", 1)], port=1, pid=child.pid)
        assert record.active
        os.kill(child.pid, signal.SIGKILL)
        deadline = time.monotonic() + 30
        while processes.is_running(child.pid, None, processes.host_name()):
            assert time.monotonic() < deadline, "the killed child never became a zombie"
            time.sleep(0.01)
        [seen] = served_ws._store.list_deployments()
        assert seen.status == "gone"
    finally:
        child.kill()
        child.wait(timeout=30)


def test_the_refusal_names_the_deployments_on_the_local_face(served_ws: Workspace) -> None:
    served_ws._store.start_deployment("svc", [("m", 1)], port=8890, pid=os.getpid())
    with pytest.raises(WebserviceException) as refused:
        Model(served_ws, "m", version=1).delete()
    message = refused.value.message
    assert "Response Code: 412" in message
    assert (
        f"DeletionRequired: model m:1 is used by the active deployment(s) svc (port 8890, "
        f"pid {os.getpid()}); stop them first" in message
    )
