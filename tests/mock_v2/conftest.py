"""Fixtures for `mock_azure_ai_ml()` tests: a workspace folder, a working folder holding a model
folder, the mock started over them, and an `MLClient` built the way a script builds one.

Every test runs with the mock's own socket guard (any connection that is not to this machine
raises `UnmockedServiceCall`), and with a second, independent guard here that fails the test
on any attempt the mock's guard would have let through."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from champion.local import store as store_module

pytest.importorskip("azure.ai.ml")

from champion.local.mock_v2 import MockAzureAIML, mock_azure_ai_ml

LOOPBACK = {"127.0.0.1", "::1", "localhost"}
MODEL_FILES = {"mdir/a.txt": b"alpha", "mdir/sub/b.txt": b"beta"}


class NetworkUsed(AssertionError):
    pass


@pytest.fixture(autouse=True)
def _loopback_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail the test on any connection off this machine, whatever the mock does."""
    real_connect = socket.socket.connect

    def connect(sock: socket.socket, address: Any) -> Any:
        if isinstance(address, tuple) and str(address[0]) not in LOOPBACK:
            raise NetworkUsed(f"network attempt in a mock_v2 test: {address!r}")
        return real_connect(sock, address)

    monkeypatch.setattr(socket.socket, "connect", connect)


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in ("CHAMPION_WORKSPACE", "CHAMPION_RUN_ID", "MLFLOW_TRACKING_URI",
                 "MLFLOW_REGISTRY_URI", "MLFLOW_RUN_ID", "MLFLOW_EXPERIMENT_ID"):  # fmt: skip
        monkeypatch.delenv(name, raising=False)
    before = set(store_module._open_stores)
    yield
    for key in set(store_module._open_stores) - before:
        opened = store_module._open_stores.get(key)
        if opened is not None:
            opened.close()


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The working folder, holding `mdir/` (two files) and `model.pkl`."""
    work = tmp_path / "work"
    for name, data in MODEL_FILES.items():
        (work / name).parent.mkdir(parents=True, exist_ok=True)
        (work / name).write_bytes(data)
    (work / "model.pkl").write_bytes(b"pickled model")
    monkeypatch.chdir(work)
    return work


@pytest.fixture
def ws_path(tmp_path: Path) -> Path:
    return tmp_path / "ws"


@pytest.fixture
def aml(ws_path: Path, workdir: Path) -> Iterator[MockAzureAIML]:
    with mock_azure_ai_ml(ws_path) as mock:
        yield mock


@pytest.fixture
def ml_client(aml: MockAzureAIML) -> Any:
    """An MLClient built as a script builds one: its own credential, any names."""
    from azure.ai.ml import MLClient
    from azure.identity import DefaultAzureCredential

    return MLClient(DefaultAzureCredential(), "my-subscription", "my-rg", "my-workspace")


def tree(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }
