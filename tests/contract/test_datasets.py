"""Contract checks 45-48: tabular and file datasets over datastore paths, registration,
versions, lookups and each version's content digest, the same assertions on both faces (see
README.md)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from azureml.exceptions import UserErrorException

from .conftest import Target
from .sample_data import IRIS, files_tree, upload_iris


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
