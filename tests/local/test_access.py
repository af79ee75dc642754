"""`champion.local.access`: what the CLI, the registry and the runner use of a local workspace
beyond the SDK's API, so that nothing outside `champion.local` touches its store."""

from __future__ import annotations

import pytest

from champion.errors import WorkspaceStoreError
from champion.local import Model, access
from champion.testing import make_pipeline_run


def test_read_only_open_refuses_to_write(local_ws):
    ws = access.open_workspace(local_ws.path, read_only=True)
    with pytest.raises(WorkspaceStoreError, match="read-only"), access.registry_transaction(ws):
        pass


def test_latest_model_answers_none_without_the_sdk_exception(local_ws, tmp_path, monkeypatch):
    assert access.latest_model(local_ws, "iris") is None
    monkeypatch.chdir(tmp_path)  # Model.register takes paths under the working folder
    (tmp_path / "m.pkl").write_bytes(b"x")
    for _ in range(2):
        Model.register(local_ws, "m.pkl", "iris")
    found = access.latest_model(local_ws, "iris")
    assert found is not None and found.version == 2


def test_top_level_runs_and_find_run(local_ws):
    tree = make_pipeline_run(local_ws, {"champion.outcome": "first"})
    runs = access.top_level_runs(local_ws)
    assert [r.run_id for r in runs] == [tree.parent.id]  # step runs are not top level
    assert runs[0].tags["champion.outcome"] == "first"
    assert access.find_run(local_ws, tree.steps["train"].id) is not None
    assert access.find_run(local_ws, "no-such-run") is None


def test_collect_garbage_removes_orphans_only(local_ws):
    report = access.collect_garbage(local_ws, grace_seconds=0)
    assert report.removed_blobs == [] and report.bytes_freed == 0
