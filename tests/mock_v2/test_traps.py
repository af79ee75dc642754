"""The traps of azure-ai-ml's registry: each call still gets Azure's answer, and warns with
`AzureMLTrapWarning` at the caller's line, saying what Azure does and what to write instead;
the well-formed call beside it does not warn (the suite runs with the warning as an error)."""

from __future__ import annotations

from typing import Any

import pytest
from azure.ai.ml.entities import Model

from champion.local import AzureMLTrapWarning
from champion.local.mock_v2 import MockAzureAIML


def register(ml_client: Any, **fields: Any) -> Any:
    return ml_client.models.create_or_update(Model(name="m", path="model.pkl", **fields))


def test_latest_right_after_an_archive_warns_and_answers_the_active_latest(
    ml_client: Any,
) -> None:
    register(ml_client)
    register(ml_client)
    assert ml_client.models.get("m", label="latest").version == "2"  # no archive yet: no trap
    ml_client.models.archive("m", "2")
    with pytest.warns(AzureMLTrapWarning, match="right after an archive or restore") as caught:
        latest = ml_client.models.get("m", label="latest")
    assert latest.version == "1"
    assert caught[0].filename == __file__  # the caller's line, not the SDK's
    register(ml_client)  # the SDK's own latest read inside create_or_update is no trap
    assert ml_client.models.get("m", version="3").version == "3"


def test_ordering_versions_as_strings_warns_and_still_compares_text(ml_client: Any) -> None:
    register(ml_client, version="9")
    register(ml_client, version="10")
    versions = [m.version for m in ml_client.models.list("m")]
    with pytest.warns(AzureMLTrapWarning, match=r"'9' > '10'\)|compare text") as caught:
        newest = max(versions)
    assert newest == "9"  # what Azure's strings give
    assert caught[0].filename == __file__
    by_number = max(ml_client.models.list("m"), key=lambda m: int(m.version))
    assert by_number.version == "10"
    assert versions == ["10", "9"]  # equality is untouched


def test_models_update_warns_then_raises_attribute_error_as_on_azure(ml_client: Any) -> None:
    with pytest.warns(AzureMLTrapWarning, match="has no models.update"):
        with pytest.raises(AttributeError, match="'ModelOperations' object has no attribute"):
            ml_client.models.update(name="m", version="1", tags={"t": "1"})


def test_other_missing_attributes_raise_plainly(aml: MockAzureAIML, ml_client: Any) -> None:
    with pytest.raises(AttributeError, match="no attribute 'delete'"):
        ml_client.models.delete("m", "1")
