"""Fixtures for the local workspace's own tests: a fresh workspace folder per test, a clean
environment, and every store a test opened closed again at teardown."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from champion.local import Workspace
from champion.local import store as store_module


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """A developer's own CHAMPION_* variables must not pick the workspace or run a test sees."""
    monkeypatch.delenv("CHAMPION_WORKSPACE", raising=False)
    monkeypatch.delenv("CHAMPION_RUN_ID", raising=False)


@pytest.fixture(autouse=True)
def _close_stores() -> Iterator[None]:
    """Stores are cached per folder and process; close the ones a test opened so connections
    and file descriptors do not pile up over the session."""
    before = set(store_module._open_stores)
    yield
    for key in set(store_module._open_stores) - before:
        store = store_module._open_stores.get(key)
        if store is not None:
            store.close()


@pytest.fixture
def ws(tmp_path: Path) -> Workspace:
    """A new, empty local workspace in its own folder."""
    return Workspace.create(tmp_path / "ws")


@pytest.fixture
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Work in tmp_path: `Model.register` resolves (and confines) paths to the CWD."""
    monkeypatch.chdir(tmp_path)
    return tmp_path
