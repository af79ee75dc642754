"""The champion lookup of both registries: the real SDK (under mock_azureml) and the local
classes. Only the SDK's own ModelNotFound means "no champion"; the gate parses the champion's
metric out of the version's stored properties."""

from __future__ import annotations

from pathlib import Path

import pytest

from champion.context import get_registry
from champion.decision import Policy
from champion.errors import InfrastructureError, MetricError, UnscoredChampionError
from champion.judge import champion_values as _champion_values
from champion.local import Model as LocalModel
from champion.local import mock_azureml
from champion.registry import ModelVersion
from champion.registry.azureml import AzureMLRegistry
from champion.registry.local import LocalRegistry
from champion.registry.sdk import is_model_not_found


def find_champion(workspace, name: str, policy: Policy) -> tuple[ModelVersion, float | None] | None:
    """The champion as the gate sees it: the registry's version and its parsed metric."""
    found = get_registry(workspace).champion(name)
    if found is None:
        return None
    values = _champion_values(found, policy)
    assert values is not None
    return found, values[policy.metric]


@pytest.fixture
def model_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "model.pkl").write_bytes(b"bytes")
    return "model.pkl"


def test_real_sdk_not_found_means_no_champion(tmp_path, model_file):
    with mock_azureml(tmp_path / "ws") as mock:
        assert find_champion(mock.workspace, "iris", Policy()) is None


@pytest.fixture(autouse=True)
def fast_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHAMPION_RETRY_BASE_SECONDS", "0.001")


@pytest.mark.parametrize("status", [400, 401, 403, 409])
def test_real_sdk_client_errors_fail_at_once(tmp_path, model_file, status):
    from azureml.core import Model

    with mock_azureml(tmp_path / "ws") as mock:
        Model.register(mock.workspace, model_file, "iris", properties={"accuracy": "0.9"})
        mock.inject_fault("models.query", status)
        calls_before = mock.calls.count("models.query")
        with pytest.raises(InfrastructureError) as caught:
            find_champion(mock.workspace, "iris", Policy())
        assert mock.calls.count("models.query") - calls_before == 1  # never retried
    assert "looking up the champion model 'iris' failed" in caught.value.message
    assert f"HTTP {status}" in caught.value.message
    assert not is_model_not_found(caught.value.__cause__)


@pytest.mark.parametrize("status", [429, 500, 503])
def test_real_sdk_transient_errors_are_retried(tmp_path, model_file, status):
    from azureml.core import Model

    with mock_azureml(tmp_path / "ws") as mock:
        Model.register(mock.workspace, model_file, "iris", properties={"accuracy": "0.9"})
        mock.inject_fault("models.query", status, times=2)
        champion = find_champion(mock.workspace, "iris", Policy())
        assert champion is not None and champion[1] == 0.9
        mock.inject_fault("models.query", status, times=5)
        with pytest.raises(InfrastructureError) as caught:
            find_champion(mock.workspace, "iris", Policy())
    message = caught.value.message
    assert "failed after 5 attempts" in message and "nothing was registered" in message
    assert message.count(f"HTTP {status}") == 5  # every attempt listed


def test_real_sdk_champion_is_the_latest_version_with_its_metric(tmp_path, model_file):
    from azureml.core import Model

    with mock_azureml(tmp_path / "ws") as mock:
        Model.register(mock.workspace, model_file, "iris", properties={"accuracy": "0.9"})
        Model.register(mock.workspace, model_file, "iris", properties={"accuracy": "0.95"})
        champion = find_champion(mock.workspace, "iris", Policy())
    assert champion is not None
    assert (champion[0].version, champion[1]) == (2, 0.95)
    assert champion[0].properties == {"accuracy": "0.95"}


def test_local_champion_unscored_or_unparsable(make_workspace, model_file):
    ws = make_workspace()
    LocalModel.register(ws, model_file, "iris")
    with pytest.raises(UnscoredChampionError, match="iris:1"):
        find_champion(ws, "iris", Policy())
    allowed = find_champion(ws, "iris", Policy(allow_unscored_champion=True))
    assert allowed is not None and allowed[1] is None
    LocalModel.register(ws, model_file, "iris", properties={"accuracy": "NaN"})
    with pytest.raises(MetricError, match="model iris:2 property 'accuracy'"):
        find_champion(ws, "iris", Policy(allow_unscored_champion=True))


def test_other_exceptions_are_not_model_not_found():
    assert not is_model_not_found(RuntimeError("ModelNotFound"))  # not the SDK's class
    assert not is_model_not_found(KeyError("iris"))


def test_each_workspace_gets_its_own_backend(tmp_path, make_workspace):
    assert isinstance(get_registry(make_workspace()), LocalRegistry)
    with mock_azureml(tmp_path / "mocked") as mock:
        assert isinstance(get_registry(mock.workspace), AzureMLRegistry)
