"""The session: nothing leaves the machine, what the local workspace does not serve is refused
by name, scripts' own clients and credentials are answered, and stopping restores everything
(patches, MLflow's variables) exactly."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from champion.local.mock_v2 import (
    MockAzureAIML,
    UnmockedServiceCall,
    activate,
    mock_azure_ai_ml,
)


def test_a_connection_off_this_machine_raises_unmocked_service_call(aml: MockAzureAIML) -> None:
    with pytest.raises(UnmockedServiceCall, match=r"management\.azure\.com:443 would leave"):
        socket.create_connection(("management.azure.com", 443), timeout=5)
    with pytest.raises(UnmockedServiceCall, match=r"203\.0\.113\.9:443 would leave"):
        socket.socket().connect(("203.0.113.9", 443))


def test_the_loopback_interface_stays_open(aml: MockAzureAIML) -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        with socket.create_connection(server.getsockname(), timeout=5):
            pass


def test_an_operation_the_workspace_does_not_serve_names_the_sdk_call_and_the_path(
    ml_client: Any,
) -> None:
    with pytest.raises(UnmockedServiceCall) as refused:
        list(ml_client.online_endpoints.list())
    message = str(refused.value)
    assert "OnlineEndpointsOperations.list" in message
    assert "GET management.azure.com/subscriptions/my-subscription/" in message
    assert message.endswith("/onlineEndpoints)")
    assert "endpoints and their deployments run on Azure compute" in message
    # a BaseException: a bare `except Exception:` in a step cannot swallow it
    assert not isinstance(refused.value, Exception)


def test_every_credential_a_script_may_build_gets_a_token_without_asking_anyone(
    aml: MockAzureAIML,
) -> None:
    from azure.ai.ml import MLClient
    from azure.identity import AzureCliCredential, ClientSecretCredential, ManagedIdentityCredential

    for credential in (
        ManagedIdentityCredential(client_id="00000000-0000-0000-0000-000000000001"),
        AzureCliCredential(),
        ClientSecretCredential("tenant", "client", "secret"),
    ):
        assert credential.get_token("https://management.azure.com/.default").token
        ml_client = MLClient(credential, "s", "rg", "ws")
        assert list(ml_client.models.list()) == []


def test_from_config_without_a_config_file_is_the_local_workspace(aml: MockAzureAIML) -> None:
    from azure.ai.ml import MLClient
    from azure.identity import DefaultAzureCredential

    ml_client = MLClient.from_config(DefaultAzureCredential())
    assert ml_client.workspaces.get(ml_client.workspace_name).name == ml_client.workspace_name


def test_from_config_reads_the_config_file_where_the_sdk_looks(
    aml: MockAzureAIML, workdir: Path
) -> None:
    from azure.ai.ml import MLClient
    from azure.identity import DefaultAzureCredential

    config = {"subscription_id": "sub", "resource_group": "rg", "workspace_name": "from-file"}
    (workdir / "config.json").write_text(json.dumps(config))
    assert MLClient.from_config(DefaultAzureCredential()).workspace_name == "from-file"


def test_the_workspace_names_the_local_mlflow_endpoint(aml: MockAzureAIML, ml_client: Any) -> None:
    workspace = ml_client.workspaces.get("my-workspace")
    assert workspace.mlflow_tracking_uri == aml.tracking_uri == os.environ["MLFLOW_TRACKING_URI"]


def test_stopping_restores_every_patch_and_variable(
    ws_path: Path, workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from azure.ai.ml import MLClient

    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://elsewhere:5000")
    monkeypatch.delenv("MLFLOW_DISABLE_TELEMETRY", raising=False)
    before = (vars(MLClient)["__init__"], socket.socket.connect, socket.getaddrinfo)
    with mock_azure_ai_ml(ws_path) as outer:
        with mock_azure_ai_ml(ws_path):  # sessions nest
            assert os.environ["MLFLOW_TRACKING_URI"] != "http://elsewhere:5000"
        assert os.environ["MLFLOW_TRACKING_URI"] == outer.tracking_uri
    assert (vars(MLClient)["__init__"], socket.socket.connect, socket.getaddrinfo) == before
    assert os.environ["MLFLOW_TRACKING_URI"] == "http://elsewhere:5000"
    assert "MLFLOW_DISABLE_TELEMETRY" not in os.environ


def test_as_a_decorator_and_through_activate(ws_path: Path, workdir: Path) -> None:
    from azure.ai.ml import MLClient

    original = vars(MLClient)["__init__"]

    @mock_azure_ai_ml(ws_path)
    def inside() -> bool:
        return vars(MLClient)["__init__"] is not original

    assert inside() and vars(MLClient)["__init__"] is original
    stop = activate(ws_path)
    try:
        assert vars(MLClient)["__init__"] is not original
    finally:
        stop()
    assert vars(MLClient)["__init__"] is original


def test_the_pytest_fixture_answers_from_the_tests_workspace(tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    (project / "test_user.py").write_text(
        textwrap.dedent(
            """
        from azure.ai.ml import MLClient
        from azure.ai.ml.entities import Model
        from azure.identity import DefaultAzureCredential

        def test_it(mock_azure_ai_ml, local_workspace, tmp_path):
            (tmp_path / "m.pkl").write_bytes(b"x")
            ml = MLClient(DefaultAzureCredential(), "s", "rg", "ws")
            ml.models.create_or_update(Model(name="m", path=str(tmp_path / "m.pkl")))
            from champion.local import Model as LocalModel
            assert LocalModel(local_workspace, "m").version == 1
            assert mock_azure_ai_ml.store.root == local_workspace.path
        """
        )
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_user.py"],
        cwd=project, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 passed" in done.stdout


def test_importing_the_mock_costs_no_azure_import() -> None:
    code = "import sys, champion.local.mock_v2; print('azure.ai.ml' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    assert out.stdout.strip() == "False"


def test_the_v1_register_steps_start_imports_no_azure_ai_ml() -> None:
    code = "import sys, champion.steps.register; print('azure.ai.ml' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    assert out.stdout.strip() == "False"
