"""Fixtures for the local workspace's own tests: a fresh workspace folder per test and a clean
environment (tests/conftest.py closes every store a test opened, for the whole suite).

A behaviour's tests are in the file named after its resource family, as moto has them. What both
faces (these classes and the real SDK under `mock_azureml()`) must do alike is in
`tests/contract/`, under the same family names; the files here hold what only the local classes
need beyond it:

- `test_workspace.py`: finding, opening, creating a workspace, `config.json`;
- `test_runs.py`: experiments, `Run.get_context()`, run trees;
- `test_run_files.py`: folders of files uploaded and downloaded;
- `test_metrics.py`: recursive metrics;
- `test_models.py`: models and the runs that register them;
- datastores and datasets: `tests/contract/test_datastores.py`, `test_datasets.py` only;
- `test_store.py`: the store itself (SQLite settings, refusing to open, blobs, transactions,
  version numbers never reused);
- `test_persistence.py`: separate processes sharing one workspace;
- `test_schema_upgrade.py`: a version 1 or version 2 workspace opened by this release;
- `test_deployments.py`: what makes a deployment active (its process), one per name;
- `test_traps.py`: `AzureMLTrapWarning` once per call site, `-W error`, real processes;
- `test_signatures.py`: the classes have the SDK's signatures; the docs' coverage table.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from champion.local import Workspace


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """A developer's own CHAMPION_* variables must not pick the workspace or run a test sees."""
    monkeypatch.delenv("CHAMPION_WORKSPACE", raising=False)
    monkeypatch.delenv("CHAMPION_RUN_ID", raising=False)


@pytest.fixture
def ws(tmp_path: Path) -> Workspace:
    """A new, empty local workspace in its own folder."""
    return Workspace.create(tmp_path / "ws")


@pytest.fixture
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Work in tmp_path: `Model.register` resolves (and confines) paths to the CWD."""
    monkeypatch.chdir(tmp_path)
    return tmp_path
