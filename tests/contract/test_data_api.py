"""Contract checks 41-54: datastores, datasets, the model metadata Azure keeps, cancel,
`from_config`, and calls that need Azure; the same assertions on both faces (see README.md)."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

import pytest
from azureml.core.resource_configuration import ResourceConfiguration
from azureml.exceptions import UserErrorException, WebserviceException

from champion.local.mock import UnmockedServiceCall

from .conftest import Target

IRIS = Path(__file__).resolve().parents[2] / "sample_data" / "iris.csv"


def upload_iris(target: Target, name: str = "iris.csv") -> Any:
    """iris.csv in the default datastore, uploaded through the face's own datastore."""
    local = target.workdir / name
    local.write_bytes(IRIS.read_bytes())
    datastore = target.ws.get_default_datastore()
    datastore.upload_files([str(local)], relative_root=str(target.workdir), overwrite=True,
                           show_progress=False)  # fmt: skip
    return datastore


def files_tree(target: Target) -> Any:
    """imgs/2.txt, imgs/3.csv and imgs/a/1.txt in the default datastore."""
    folder = target.workdir / "imgs"
    (folder / "a").mkdir(parents=True)
    (folder / "a" / "1.txt").write_text("one")
    (folder / "2.txt").write_text("two")
    (folder / "3.csv").write_text("three")
    datastore = target.ws.get_default_datastore()
    datastore.upload(str(folder), target_path="imgs", show_progress=False)
    return datastore


def stored_model(target: Target, **kwargs: Any) -> Any:
    run = target.new_run()
    run.upload_file("outputs/model.pkl", "model.pkl")
    run.register_model("m", model_path="outputs/model.pkl", **kwargs)
    return target.Model(target.ws, "m")


# --------------------------------------------------------------------------- datastores


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


# --------------------------------------------------------------------------- datasets


def test_c45_tabular_dataset_over_a_datastore_path(target: Target) -> None:
    datastore = upload_iris(target)
    frame = target.Dataset.Tabular.from_delimited_files(
        path=(datastore, "iris.csv")
    ).to_pandas_dataframe()
    assert frame.shape == (150, 5)
    assert list(frame.columns)[:2] == ["sepal_length", "sepal_width"]
    assert frame["sepal_length"].iloc[0] == pytest.approx(5.1)
    assert frame["species"].iloc[-1] == "virginica"
    headerless = target.Dataset.Tabular.from_delimited_files((datastore, "iris.csv"), header=False)
    assert list(headerless.to_pandas_dataframe().columns) == [f"Column{i}" for i in range(1, 6)]


def test_c45b_tabular_dataset_refuses_local_paths_and_validates(target: Target) -> None:
    datastore = upload_iris(target)
    with pytest.raises(UserErrorException, match="Invalid argument type for `path`"):
        target.Dataset.Tabular.from_delimited_files("iris.csv")
    with pytest.raises(UserErrorException, match="Failed to validate the data"):
        target.Dataset.Tabular.from_delimited_files((datastore, "missing.csv"))
    target.Dataset.Tabular.from_delimited_files(
        (datastore, "missing.csv"), validate=False, infer_column_types=False
    )


def test_c46_file_dataset_folder_glob_and_download(target: Target, tmp_path: Path) -> None:
    datastore = files_tree(target)
    folder = target.Dataset.File.from_files((datastore, "imgs"))
    assert sorted(folder.to_path()) == ["/2.txt", "/3.csv", "/a/1.txt"]
    glob = target.Dataset.File.from_files((datastore, "imgs/**/*.txt"))
    assert sorted(glob.to_path()) == ["/2.txt", "/a/1.txt"]
    single = target.Dataset.File.from_files((datastore, "imgs/a/1.txt"))
    assert single.to_path() == ["/1.txt"]
    written = glob.download(str(tmp_path / "out"))
    assert sorted(written) == [str(tmp_path / "out" / "2.txt"), str(tmp_path / "out/a/1.txt")]
    assert (tmp_path / "out" / "a" / "1.txt").read_text() == "one"
    with pytest.raises(UserErrorException, match=r"already exists\. Set overwrite=True"):
        glob.download(str(tmp_path / "out"))
    glob.download(str(tmp_path / "out"), overwrite=True)


def test_c47_register_versions_and_lookups(target: Target) -> None:
    datastore = upload_iris(target)
    dataset = target.Dataset.Tabular.from_delimited_files((datastore, "iris.csv"))
    first = dataset.register(target.ws, "iris", description="d", tags={"n": 1})
    assert (first.name, first.version, first.tags) == ("iris", 1, {"n": "1"})
    with pytest.raises(UserErrorException, match='already a dataset registered under name "iris"'):
        dataset.register(target.ws, "iris")
    same = dataset.register(target.ws, "iris", create_new_version=True)
    assert same.version == 1  # same definition, same files: the latest version as it is
    upload_iris(target, "iris.csv")  # unchanged bytes
    (target.workdir / "iris.csv").write_text("a,b\n1,2\n")
    datastore.upload_files([str(target.workdir / "iris.csv")], relative_root=str(target.workdir),
                           overwrite=True, show_progress=False)  # fmt: skip
    second = dataset.register(target.ws, "iris", create_new_version=True)
    assert second.version == 2
    assert target.Dataset.get_by_name(target.ws, "iris").version == 2
    assert target.Dataset.get_by_name(target.ws, "iris", version=1).version == 1
    assert target.Dataset.get_by_name(target.ws, "iris", version="1").id == first.id
    found = target.Dataset.get_by_id(target.ws, second.id)
    assert (found.name, found.version) == ("iris", 2)
    assert target.ws.datasets["iris"].version == 2
    with pytest.raises(UserErrorException, match=r'name "nope" \(version: None\) in the'):
        target.Dataset.get_by_name(target.ws, "nope")
    with pytest.raises(UserErrorException, match=r"Invalid value x for version"):
        target.Dataset.get_by_name(target.ws, "iris", version="x")
    with pytest.raises(UserErrorException, match='Cannot find dataset with id "nope"'):
        target.Dataset.get_by_id(target.ws, "nope")
    assert isinstance(dataset.update(description="x"), UserErrorException)  # returned: the SDK's
    assert second.add_tags({"k": "v"}).tags == {"k": "v"}


def test_c48_each_version_stores_the_content_digest(target: Target) -> None:
    datastore = upload_iris(target)
    dataset = target.Dataset.Tabular.from_delimited_files((datastore, "iris.csv"))
    first = dataset.register(target.ws, "iris")
    file_hash = hashlib.sha256(IRIS.read_bytes()).hexdigest()
    expected = hashlib.sha256(f"iris.csv\0{file_hash}\n".encode()).hexdigest()
    assert first._properties["champion.content_sha256"] == expected
    assert target.store.dataset_digest("iris", 1) == expected
    (target.workdir / "iris.csv").write_text("a,b\n1,2\n")
    datastore.upload_files([str(target.workdir / "iris.csv")], relative_root=str(target.workdir),
                           overwrite=True, show_progress=False)  # fmt: skip
    dataset.register(target.ws, "iris", create_new_version=True)
    assert target.store.dataset_digest("iris") != expected
    assert target.store.dataset_digest("iris", 1) == expected  # what version 1 was measured on


# --------------------------------------------------------------------------- model metadata


def test_c49_resource_configuration_round_trips(target: Target) -> None:
    configuration = ResourceConfiguration(cpu=1, memory_in_gb=0.5)
    target.Model.register(target.ws, "model.pkl", "m", resource_configuration=configuration)
    model = stored_model(target, resource_configuration=ResourceConfiguration(cpu=2, gpu=1))
    assert model.version == 2
    assert model.resource_configuration.serialize() == {"cpu": 2, "memoryInGB": None, "gpu": 1}
    first = target.Model(target.ws, "m", version=1).resource_configuration
    assert (first.cpu, first.memory_in_gb) == (1, 0.5)
    with pytest.raises(WebserviceException, match="cpu must be greater than zero"):
        stored_model(target, resource_configuration=ResourceConfiguration(cpu=-1))


def test_c50_dataset_links_and_sample_datasets(target: Target) -> None:
    datastore = upload_iris(target)
    train = target.Dataset.Tabular.from_delimited_files((datastore, "iris.csv"))
    train = train.register(target.ws, "train")
    sample = target.Dataset.Tabular.from_delimited_files((datastore, "iris.csv"))
    model = stored_model(target, datasets=[("training data", train)], sample_input_dataset=sample)
    [linked] = model.datasets["training data"]
    assert (linked.name, linked.version, linked.id) == ("train", 1, train.id)
    assert model.sample_input_dataset.id == sample.id  # saved by the registration
    assert model.sample_output_dataset is None
    assert [m.version for m in target.Model.list(target.ws, dataset_id=train.id)] == [1]
    assert target.Model.list(target.ws, dataset_id=sample.id) == []  # samples are not links
    with pytest.raises(WebserviceException, match="Invalid dataset of type"):
        stored_model(target, datasets=[("training data", "not a dataset")])


def test_c51_add_dataset_references_and_update_sample_datasets(target: Target) -> None:
    datastore = upload_iris(target)
    dataset = target.Dataset.Tabular.from_delimited_files((datastore, "iris.csv"))
    dataset = dataset.register(target.ws, "iris")
    model = stored_model(target)
    model.add_dataset_references([("validation", dataset)])
    model.update(sample_output_dataset=dataset)
    fresh = target.Model(target.ws, "m")
    assert [d.name for d in fresh.datasets["validation"]] == ["iris"]
    assert fresh.sample_output_dataset.name == "iris"


# --------------------------------------------------------------------------- runs, config


def test_c52_cancel_a_run_and_a_pipeline_run(target: Target) -> None:
    run = target.new_run()
    run.cancel()
    assert run.get_status() == "Canceled"
    pipeline = target.new_run(run_type="azureml.PipelineRun")
    pipeline.cancel()
    assert target.open_run(pipeline.id).get_status() == "Canceled"


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
            return str(target.ws.compute_targets)
        except Exception:  # what Azure step code often does
            return "swallowed"

    with pytest.raises(UnmockedServiceCall) as raised:
        step_code()
    assert str(raised.value).startswith("Workspace.compute_targets needs Azure: compute targets")
    with pytest.raises(UnmockedServiceCall):
        step_code()
    warnings = [r for r in caplog.records if "Workspace.compute_targets needs Azure" in r.message]
    assert len(warnings) <= 1  # logged once per process (it may have been logged before)
    assert os.environ.get("CHAMPION_RUN_ID") is None


def test_c46b_upload_directory_returns_a_file_dataset(target: Target) -> None:
    folder = target.workdir / "upload"
    (folder / "a").mkdir(parents=True)
    (folder / "a" / "1.txt").write_text("one")
    (folder / "2.txt").write_text("two")
    datastore = target.ws.get_default_datastore()
    dataset = target.Dataset.File.upload_directory(
        str(folder), (datastore, "up"), show_progress=False
    )
    assert sorted(dataset.to_path()) == ["/2.txt", "/a/1.txt"]
    names = [name for name, _ in target.store.datastore_files("workspaceblobstore", "up")]
    assert names == ["up/2.txt", "up/a/1.txt"]
