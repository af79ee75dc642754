"""Contract checks 53-54: `Workspace.from_config` searching as the SDK does, and a call that
needs Azure raising `UnmockedServiceCall` through `except Exception`, on both faces (see
README.md)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from azureml.exceptions import UserErrorException

from champion.local.mock import UnmockedServiceCall

from .conftest import Target


def test_c53_from_config_searches_as_the_sdk_does(target: Target, tmp_path: Path) -> None:
    with pytest.raises(UserErrorException, match="could not be found in"):
        type(target.ws).from_config(path=str(tmp_path / "nowhere"))
    with pytest.raises(UserErrorException, match="Could not write the config file"):
        target.ws.write_config(path=str(tmp_path / "cfg"), file_name="other.json")
    (tmp_path / "cfg").mkdir()
    target.ws.write_config(path=str(tmp_path / "cfg"), file_name="other.json")
    written = tmp_path / "cfg" / ".azureml" / "other.json"
    assert written.is_file()
    nested = tmp_path / "cfg" / "deep" / "er"
    nested.mkdir(parents=True)
    found = type(target.ws).from_config(path=str(nested), _file_name="other.json")
    assert found.name == target.ws.name
    assert type(target.ws).from_config(path=str(written)).name == target.ws.name
    with pytest.raises(UserErrorException, match="could not be found in"):
        type(target.ws).from_config(path=str(nested))  # config.json: not there


def test_c54_a_call_that_needs_azure_is_not_swallowed_by_except_exception(
    target: Target, caplog: pytest.LogCaptureFixture
) -> None:
    def step_code() -> str:
        try:
            return str(target.ws.webservices)
        except Exception:  # what Azure step code often does
            return "swallowed"

    with pytest.raises(UnmockedServiceCall) as raised:
        step_code()
    assert str(raised.value).startswith("Workspace.webservices needs Azure: deployments")
    with pytest.raises(UnmockedServiceCall):
        step_code()
    warnings = [r for r in caplog.records if "Workspace.webservices needs Azure" in r.message]
    assert len(warnings) <= 1  # logged once per process (it may have been logged before)
    assert os.environ.get("CHAMPION_RUN_ID") is None
