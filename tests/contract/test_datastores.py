"""Contract checks 41-44: datastores (the two every workspace has, registering a blob
container, upload and download, data references), the same assertions on both faces (see
README.md)."""

from __future__ import annotations

from pathlib import Path

import pytest
from azureml.exceptions import UserErrorException

from .conftest import Target
from .sample_data import files_tree


def test_c41_every_workspace_has_a_default_blob_and_a_file_datastore(target: Target) -> None:
    default = target.ws.get_default_datastore()
    assert default.name == "workspaceblobstore"
    assert type(default).__name__ == "AzureBlobDatastore"
    assert target.Datastore(target.ws).name == "workspaceblobstore"
    assert {"workspaceblobstore", "workspacefilestore"} <= set(target.ws.datastores)
    files = target.Datastore.get(target.ws, "workspacefilestore")
    assert type(files).__name__ == "AzureFileDatastore"
    with pytest.raises(UserErrorException, match="Datastore nope was not found"):
        target.Datastore.get(target.ws, "nope")


def test_c42_register_a_blob_container(target: Target) -> None:
    registered = target.Datastore.register_azure_blob_container(
        target.ws, "MyData", "container", "account", account_key="secret"
    )
    assert registered.name == "mydata"  # the service lowercases datastore names
    again = target.Datastore.get(target.ws, "mydata")
    assert (again.container_name, again.account_name) == ("container", "account")
    assert again.account_key != "secret"  # the local workspace never stores a secret
    with pytest.raises(UserErrorException, match="Another datastore with the same name"):
        target.Datastore.register_azure_blob_container(target.ws, "mydata", "other", "account")
    replaced = target.Datastore.register_azure_blob_container(
        target.ws, "mydata", "other", "account", account_key="k", overwrite=True
    )
    assert replaced.container_name == "other"
    assert target.ws.get_default_datastore().name == "workspaceblobstore"
    replaced.set_as_default()
    assert target.ws.get_default_datastore().name == "mydata"


def test_c43_upload_skips_existing_files_unless_overwrite_and_download_copies(
    target: Target, tmp_path: Path
) -> None:
    datastore = files_tree(target)
    (target.workdir / "imgs" / "2.txt").write_text("changed")
    datastore.upload(str(target.workdir / "imgs"), target_path="imgs", show_progress=False)
    assert datastore.download(str(tmp_path / "kept"), prefix="imgs", show_progress=False) == 3
    assert (tmp_path / "kept" / "imgs" / "2.txt").read_text() == "two"
    assert (tmp_path / "kept" / "imgs" / "a" / "1.txt").read_text() == "one"
    datastore.upload(
        str(target.workdir / "imgs"), target_path="imgs", overwrite=True, show_progress=False
    )
    datastore.download(str(tmp_path / "new"), prefix="imgs/2", show_progress=False)
    assert (tmp_path / "new" / "imgs" / "2.txt").read_text() == "changed"
    assert not (tmp_path / "new" / "imgs" / "3.csv").exists()


def test_c44_data_references(target: Target) -> None:
    datastore = target.ws.get_default_datastore()
    reference = datastore.path("data/x.csv", data_reference_name="x")
    assert str(reference) == "$AZUREML_DATAREFERENCE_x"
    assert (reference.path_on_datastore, reference.mode) == ("data/x.csv", "mount")
    assert reference.as_download().mode == "download"
    assert datastore.as_mount().mode == "mount"
    assert str(datastore.path()) == "$AZUREML_DATAREFERENCE_workspaceblobstore"
