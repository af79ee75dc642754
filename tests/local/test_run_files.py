"""A run's files beyond the contract checks: folders uploaded (`upload_folder`) and downloaded
(`download_files`) under the names the SDK gives them."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from azureml.exceptions import (
    UserErrorException,
)

from champion.local import Experiment, Run, Workspace


def _files(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@pytest.fixture
def data_folder(in_tmp: Path) -> Path:
    (in_tmp / "data" / "sub").mkdir(parents=True)
    (in_tmp / "data" / "a.txt").write_bytes(b"alpha")
    (in_tmp / "data" / "sub" / "b.txt").write_bytes(b"beta")
    return in_tmp / "data"


def test_upload_folder_names_each_file_name_plus_its_path_under_the_folder(
    ws: Workspace, data_folder: Path, in_tmp: Path
) -> None:
    experiment = Experiment(ws, "exp")
    run = experiment.start_logging()
    run.upload_folder("outputs/d", "data")
    assert run.get_file_names() == ["outputs/d/a.txt", "outputs/d/sub/b.txt"]
    run.download_file("outputs/d/sub/b.txt", "b.txt")
    assert (in_tmp / "b.txt").read_bytes() == b"beta"

    # the SDK concatenates verbatim: a trailing slash on the folder glues the names together
    other = experiment.start_logging()
    other.upload_folder("x", "data/")
    assert other.get_file_names() == ["xa.txt", "xsub/b.txt"]

    with pytest.raises(UserErrorException, match="not a valid directory"):
        run.upload_folder("outputs/e", "data/a.txt")


@pytest.fixture
def uploaded(ws: Workspace, data_folder: Path) -> Run:
    run = Experiment(ws, "exp").start_logging()
    run.upload_folder("outputs/d", "data")
    run.upload_file("outputs/other.txt", io.BytesIO(b"other"))
    return run


def test_download_files_keeps_or_strips_the_prefix(uploaded: Run, in_tmp: Path) -> None:
    uploaded.download_files(prefix="outputs/d", output_directory="kept")
    uploaded.download_files(prefix="outputs/d", output_directory="stripped", append_prefix=False)
    uploaded.download_files(output_directory="all")

    assert _files(in_tmp / "kept") == {"outputs/d/a.txt": b"alpha", "outputs/d/sub/b.txt": b"beta"}
    assert _files(in_tmp / "stripped") == {"a.txt": b"alpha", "sub/b.txt": b"beta"}
    assert _files(in_tmp / "all") == {
        "outputs/d/a.txt": b"alpha",
        "outputs/d/sub/b.txt": b"beta",
        "outputs/other.txt": b"other",
    }


def test_download_files_without_an_output_directory_keeps_artifact_paths(
    uploaded: Run, in_tmp: Path
) -> None:
    uploaded.download_files(prefix="outputs/d", append_prefix=False)
    assert (in_tmp / "outputs" / "d" / "a.txt").read_bytes() == b"alpha"
    assert not (in_tmp / "a.txt").exists()
