"""Datastore paths and names, the same refusals on both faces: one rule, in the store, that the
local classes, the SDK's uploads, its storage clients and the dataflows dataprep executes under
`mock_azureml()` all go through. Under the mock, `(datastore, "../../../x.csv")` read a file
outside the workspace and `Dataset.File.upload_directory` with `..` wrote outside it; a
datastore named with a NUL or 300 characters was registered, then failed with a raw OSError."""

from __future__ import annotations

from pathlib import Path

import pytest
from azureml.dataprep.api.errorhandlers import DataPrepException
from azureml.exceptions import UserErrorException

from .conftest import Target
from .sample_data import upload_iris

SECRET = "name,pin\nme,1234\n"
REFUSED = r"leaves datastore|NUL"


def _outside(target: Target) -> dict[str, str]:
    """Every file beside the workspace folder (the CWD and its siblings), with its text."""
    root = target.workdir.parent
    return {
        p.relative_to(root).as_posix(): p.read_text(errors="replace")
        for p in sorted(root.rglob("*"))
        if p.is_file() and "ws" not in p.relative_to(root).parts[:1]
    }


@pytest.fixture
def secret(target: Target) -> Path:
    path = target.workdir.parent / "secret.csv"
    path.write_text(SECRET)
    return path


@pytest.mark.parametrize(
    "path",
    ["../../../secret.csv", "..\\..\\..\\secret.csv", "data/../../../../secret.csv", "x\x00.csv"],
)
def test_a_read_outside_the_datastore_is_refused(target: Target, secret: Path, path: str) -> None:
    datastore = upload_iris(target)
    with pytest.raises(UserErrorException, match=REFUSED):
        target.Dataset.Tabular.from_delimited_files((datastore, path))
    unchecked = target.Dataset.Tabular.from_delimited_files(
        (datastore, path), validate=False, infer_column_types=False
    )
    with pytest.raises(UserErrorException, match=REFUSED):
        unchecked.to_pandas_dataframe()
    # a file dataset's listing surfaces the engine's own error on the SDK (it does on Azure)
    with pytest.raises((UserErrorException, DataPrepException), match=REFUSED):
        target.Dataset.File.from_files((datastore, path), validate=False).to_path()


def test_an_absolute_path_is_the_datastore_root_not_the_machine(
    target: Target, secret: Path
) -> None:
    datastore = upload_iris(target)
    with pytest.raises(UserErrorException, match="validate"):
        target.Dataset.Tabular.from_delimited_files((datastore, str(secret)))
    rooted = target.Dataset.Tabular.from_delimited_files((datastore, "/iris.csv"))
    assert rooted.to_pandas_dataframe().shape == (150, 5)


@pytest.mark.parametrize(
    "upload",
    [
        "upload_files ../../..",
        "upload a/../../..",
        "upload a\\..\\..\\x",
        "upload a\x00b",
        "upload_directory ../../up",
    ],
)
def test_an_upload_outside_the_datastore_is_refused_and_writes_nothing(
    target: Target, upload: str
) -> None:
    source = target.workdir / "src"
    (source / "sub").mkdir(parents=True)
    (source / "sub" / "f.txt").write_text("payload")
    datastore = target.ws.get_default_datastore()
    before = _outside(target)
    kind, where = upload.split(" ", 1)
    with pytest.raises(UserErrorException, match=REFUSED):
        if kind == "upload_files":
            datastore.upload_files([str(source / "sub" / "f.txt")], relative_root=str(source),
                                   target_path=where, show_progress=False)  # fmt: skip
        elif kind == "upload":
            datastore.upload(str(source), target_path=where, show_progress=False)
        else:
            target.Dataset.File.upload_directory(str(source), (datastore, where),
                                                 show_progress=False)  # fmt: skip
    assert _outside(target) == before
    assert target.store.datastore_files("workspaceblobstore") == []


def test_a_link_inside_a_datastore_is_never_followed(target: Target, secret: Path) -> None:
    datastore = upload_iris(target)
    folder = target.store.datastore_folder("workspaceblobstore")
    (folder / "link.csv").symlink_to(secret)
    elsewhere = target.workdir.parent / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "x.csv").write_text(SECRET)
    (folder / "linked").symlink_to(elsewhere, target_is_directory=True)
    source = target.workdir / "src"
    source.mkdir()
    (source / "f.txt").write_text("payload")
    before = _outside(target)

    for path in ("link.csv", "linked/x.csv", "**/*.csv", ""):
        with pytest.raises(UserErrorException, match="symbolic link"):
            target.Dataset.Tabular.from_delimited_files((datastore, path))
    with pytest.raises(UserErrorException, match="symbolic link"):
        datastore.upload_files([str(source / "f.txt")], relative_root=str(source),
                               target_path="linked", show_progress=False)  # fmt: skip
    with pytest.raises(UserErrorException, match="symbolic link"):
        target.Dataset.File.upload_directory(str(source), (datastore, "linked"),
                                             show_progress=False)  # fmt: skip
    with pytest.raises(UserErrorException, match="symbolic link"):
        datastore.download(str(target.workdir / "dl"), show_progress=False)
    assert _outside(target) == before
    frame = target.Dataset.Tabular.from_delimited_files((datastore, "iris.csv"))
    assert frame.to_pandas_dataframe().shape == (150, 5)  # the rest of the datastore reads


@pytest.mark.parametrize("name", ["a\x00b", "x" * 300, "my-data", "my data", "../up", "données"])
def test_a_datastore_name_outside_the_sdk_rule_is_refused(target: Target, name: str) -> None:
    with pytest.raises(UserErrorException, match="letters, digits and _"):
        target.Datastore.register_azure_blob_container(
            target.ws, name, "container", "account", account_key="k"
        )
    assert [d.name for d in target.store.list_datastores()] == [
        "workspaceblobstore",
        "workspacefilestore",
    ]
    longest = target.Datastore.register_azure_blob_container(
        target.ws, "A_1" + "b" * 252, "container", "account", account_key="k"
    )
    assert longest.name == "a_1" + "b" * 252
