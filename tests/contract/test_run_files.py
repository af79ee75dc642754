"""Contract checks 32-34 and the run-file divergences: uploading a run's files (paths and
streams only, no overwrite) and downloading them, the same assertions on both faces (see
README.md)."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from azureml._common.exceptions import AzureMLAggregatedException
from azureml.exceptions import UserErrorException

from .conftest import Target


def test_c32_upload_file_accepts_paths_and_streams_only(target: Target) -> None:
    run = target.new_run()
    with pytest.raises(UserErrorException) as err:
        run.upload_file("outputs/a.bin", b"raw")
    assert "UnsupportedType: type <class 'bytes'> is invalid" in err.value.message
    assert run.get_file_names() == []
    run.upload_file("outputs/a.bin", "model.pkl")
    run.upload_file("outputs/b.bin", io.BytesIO(b"stream"))
    assert sorted(run.get_file_names()) == ["outputs/a.bin", "outputs/b.bin"]


def test_c33_uploading_a_name_twice_conflicts(target: Target) -> None:
    run = target.new_run()
    run.upload_file("outputs/a.bin", "model.pkl")
    with pytest.raises(AzureMLAggregatedException):
        run.upload_file("outputs/a.bin", io.BytesIO(b"other"))
    assert run.get_file_names() == ["outputs/a.bin"]
    run.download_file("outputs/a.bin", "back.bin")
    assert Path("back.bin").read_bytes() == b"pickled"


def test_c34_download_of_a_missing_artifact(target: Target) -> None:
    run = target.new_run()
    run.upload_file("outputs/a.bin", "model.pkl")
    with pytest.raises(UserErrorException) as err:
        run.download_file("outputs/missing")
    assert err.value.message.startswith("Cannot find the artifact 'outputs/missing'")
    assert not Path("missing").exists()


def test_missing_artifact_names_the_data_container(target: Target) -> None:
    run = target.new_run()
    record = target.store.get_run(run.id)
    assert record is not None
    with pytest.raises(UserErrorException) as err:
        run.download_file("outputs/missing")
    assert err.value.message == (
        f"Cannot find the artifact 'outputs/missing' in container '{record.data_container_id}'"
    )


def test_upload_files_length_mismatch_text(target: Target) -> None:
    run = target.new_run()
    with pytest.raises(TypeError) as err:
        run.upload_files(["outputs/a", "outputs/b"], ["model.pkl"])
    assert str(err.value) == (
        "names and paths must be lists of equal lengths. Names was of length 2 and paths of "
        "length 1."
    )
    assert run.get_file_names() == []
