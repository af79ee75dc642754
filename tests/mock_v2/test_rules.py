"""The v2 model registry's rules, kept by the local workspace (written once, in the store) and
observed through the real azure-ai-ml: each test is a call a user makes and the answer Azure
gives (recorded, or reported by the sources azureml-v2-facts.md names)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from azure.ai.ml.constants import ListViewType
from azure.ai.ml.entities import Model
from azure.core.exceptions import (
    HttpResponseError,
    ResourceExistsError,
    ResourceNotFoundError,
)

from champion.local import Model as LocalModel
from champion.local import Workspace
from champion.local.mock_v2 import MockAzureAIML


def register(ml_client: Any, path: str = "model.pkl", **fields: Any) -> Any:
    return ml_client.models.create_or_update(
        Model(name=fields.pop("name", "m"), path=path, **fields)
    )


def test_a_new_name_answers_404_model_not_found_to_the_version_list(
    aml: MockAzureAIML, ml_client: Any
) -> None:
    register(ml_client)
    first = aml.calls[0]
    assert (first.operation, first.status) == ("ModelVersions.list", 404)
    with pytest.raises(ResourceNotFoundError, match="The specified resource was not found"):
        list(ml_client.models.list("never-registered"))


def test_the_version_is_the_containers_next_version_after_a_client_numbered_one(
    ml_client: Any,
) -> None:
    assert register(ml_client, version="7").version == "7"
    assert register(ml_client).version == "8"  # nextVersion: one more than the highest
    [container] = list(ml_client.models.list())
    assert (container.name, container.latest_version) == ("m", "8")


def test_latest_is_the_most_recently_created_version_not_the_highest_number(
    ws_path: Path, ml_client: Any
) -> None:
    register(ml_client, version="7")
    register(ml_client, version="3")
    assert ml_client.models.get("m", label="latest").version == "3"
    assert [m.version for m in ml_client.models.list("m")] == ["3", "7"]
    assert LocalModel(Workspace(ws_path), "m").version == 3  # the same latest on every face


@pytest.mark.parametrize("version", ["abc", "0", "-1", "1.5", "01"])
def test_a_version_that_is_not_a_positive_integer_is_refused(
    aml: MockAzureAIML, ml_client: Any, version: str
) -> None:
    with pytest.raises(HttpResponseError, match="must be a positive integer") as refused:
        register(ml_client, version=version)
    assert refused.value.status_code == 400
    assert aml.store.model_container("m") is None  # nothing half-registered


def test_an_existing_versions_path_and_properties_cannot_change_its_tags_and_stage_can(
    workdir: Path, ml_client: Any
) -> None:
    (workdir / "other.pkl").write_bytes(b"other")
    register(ml_client, version="1", properties={"accuracy": "0.9"})
    with pytest.raises(HttpResponseError, match="Asset paths cannot be updated"):
        register(ml_client, path="other.pkl", version="1")
    with pytest.raises(HttpResponseError, match=r"property accuracy .* cannot be replaced"):
        register(ml_client, version="1", properties={"accuracy": "0.99"})
    updated = register(
        ml_client, version="1", properties={"accuracy": "0.9"}, tags={"t": "x"}, stage="Production"
    )
    assert (updated.tags, updated.properties, updated.stage) == (
        {"t": "x"}, {"accuracy": "0.9"}, "Production",
    )  # fmt: skip


def test_tag_values_are_stored_as_strings(ml_client: Any) -> None:
    model = register(ml_client, tags={"accuracy": 0.97, "ok": True, "n": 3})
    assert ml_client.models.get("m", model.version).tags == {
        "accuracy": "0.97", "ok": "True", "n": "3"
    }  # fmt: skip


def test_list_shows_active_versions_archived_ones_vanish_and_all_brings_them_back(
    ml_client: Any,
) -> None:
    for _ in range(3):
        register(ml_client)
    ml_client.models.archive("m", "2")
    assert [m.version for m in ml_client.models.list("m")] == ["3", "1"]
    assert [m.version for m in ml_client.models.list("m", list_view_type=ListViewType.ALL)] == [
        "3", "2", "1",
    ]  # fmt: skip
    archived = ml_client.models.list("m", list_view_type=ListViewType.ARCHIVED_ONLY)
    assert [m.version for m in archived] == ["2"]
    assert ml_client.models.get("m", "2").version == "2"  # an archived version is still read


def test_archive_shows_the_archived_stage_and_restore_loses_the_stage_it_had(
    ml_client: Any,
) -> None:
    """Recorded: archive answers stage "Archived"; the SDK writes the version back without its
    stage, so a restored "Production" version comes back in "Development"."""
    register(ml_client, version="1", stage="Production")
    ml_client.models.archive("m", "1")
    assert ml_client.models.get("m", "1").stage == "Archived"
    ml_client.models.restore("m", "1")
    assert ml_client.models.get("m", "1").stage == "Development"


def test_stage_defaults_to_development_and_filters_the_list(ml_client: Any) -> None:
    register(ml_client)
    register(ml_client, stage="Production")
    assert ml_client.models.get("m", "1").stage == "Development"
    assert [m.version for m in ml_client.models.list("m", stage="Production")] == ["2"]


def test_models_list_without_a_name_lists_containers_with_empty_tags(ml_client: Any) -> None:
    register(ml_client, tags={"t": "1"})
    register(ml_client, name="other", tags={"t": "2"})
    containers = list(ml_client.models.list())
    assert [(c.name, c.tags) for c in containers] == [("m", {}), ("other", {})]


def test_a_deleted_version_cannot_be_created_again(ws_path: Path, ml_client: Any) -> None:
    register(ml_client, version="1")
    register(ml_client, version="2")
    LocalModel(Workspace(ws_path), "m", version=1).delete()
    with pytest.raises(ResourceNotFoundError):
        ml_client.models.get("m", "1")
    with pytest.raises(ResourceExistsError, match="cannot be created again"):
        register(ml_client, version="1")
    assert register(ml_client).version == "3"  # a deleted number is never handed out again


def test_a_model_path_that_names_no_file_is_refused_and_nothing_is_registered(
    aml: MockAzureAIML, ml_client: Any
) -> None:
    uri = "azureml://datastores/workspaceblobstore/paths/nothing/here.pkl"
    with pytest.raises(HttpResponseError, match="holds no file") as refused:
        register(ml_client, path=uri)
    assert refused.value.status_code == 400
    assert aml.store.model_container("m") is None


def test_a_path_leaving_its_datastore_is_refused(aml: MockAzureAIML, ml_client: Any) -> None:
    uri = "azureml://datastores/workspaceblobstore/paths/../../workspace.db"
    with pytest.raises(HttpResponseError, match="leaves datastore"):
        register(ml_client, path=uri)
    assert aml.store.model_container("m") is None


def test_a_long_list_comes_in_pages_the_sdk_follows(
    aml: MockAzureAIML, ml_client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from champion.local.mock_v2 import wire

    monkeypatch.setattr(wire, "PAGE_SIZE", 2)
    for _ in range(5):
        register(ml_client)
    assert [m.version for m in ml_client.models.list("m")] == ["5", "4", "3", "2", "1"]
    pages = [c for c in aml.calls if c.operation == "ModelVersions.list" and "$skip" in c.query]
    assert [c.query["$skip"] for c in pages] == ["2", "4"]


def test_the_rest_tags_and_properties_filters_the_sdk_does_not_expose(
    aml: MockAzureAIML, ml_client: Any
) -> None:
    """Microsoft Learn, REST "Model Versions - List": `tags=k1,k2=v2` and `properties=`."""
    register(ml_client, tags={"team": "a", "gate": "passed"})
    register(ml_client, tags={"team": "b"}, properties={"accuracy": "0.9"})
    url = (
        "https://management.azure.com/subscriptions/s/resourceGroups/rg/providers/"
        "Microsoft.MachineLearningServices/workspaces/ws/models/m/versions"
    )

    def names(**params: str) -> list[str]:
        reply = aml.transport.session.get(
            url, params={"api-version": "2023-08-01-preview", **params}
        )
        return [v["name"] for v in reply.json()["value"]]

    assert names(tags="team=a") == ["1"]
    assert names(tags="gate") == ["1"]
    assert names(tags="team") == ["2", "1"]
    assert names(properties="accuracy=0.9") == ["2"]
