"""`--test-data FOLDER` is read and hashed under the rule a model path follows: a FIFO in the
folder, or a symlink to `/dev/zero`, hung the digest forever (the model path refused both
unread); a symlink out of the folder was hashed as if it were test data."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from hostile import one_line_error

from champion.testing import workspace_state

BOUND = 60  # seconds: a digest that read a FIFO or /dev/zero would never finish


def _folder(tmp_path: Path, kind: str) -> tuple[Path, Path]:
    """A test-data folder holding one good CSV and one entry of `kind`; (folder, entry)."""
    folder = tmp_path / "test-data"
    folder.mkdir()
    (folder / "a.csv").write_text("x,y\n1,0\n")
    entry = folder / "b.csv"
    if kind == "fifo":
        os.mkfifo(entry)
    elif kind == "symlink to /dev/zero":
        entry.symlink_to("/dev/zero")
    elif kind == "symlink out of the folder":
        (tmp_path / "elsewhere.csv").write_text("x,y\n0,1\n")
        entry.symlink_to(tmp_path / "elsewhere.csv")
    elif kind == "device":
        entry = Path("/dev/zero")
    return folder, entry


@pytest.mark.parametrize(
    ("kind", "what"),
    [
        ("fifo", "is a FIFO"),
        ("symlink to /dev/zero", "is a symlink"),
        ("symlink out of the folder", "is a symlink"),
        ("device", "is a device"),
    ],
)
def test_test_data_that_is_no_plain_file_is_refused_unread(pipeline, cli, tmp_path, kind, what):
    model = tmp_path / "model.pkl"
    model.write_bytes(b"weights")
    folder, entry = _folder(tmp_path, kind)
    given = entry if kind == "device" else folder
    before = workspace_state(pipeline.ws_path)

    try:
        result = cli(
            "register", "--model-name", "iris", "--model-path", str(model),
            "--metric-value", "0.9", "--test-data", str(given),
            workspace=pipeline.ws_path, timeout=BOUND,
        )  # fmt: skip
    except subprocess.TimeoutExpired:
        pytest.fail(f"champion register read the {kind} for {BOUND} s: it hangs")

    assert result.returncode == 2, result.stderr
    line = one_line_error(result)
    assert str(entry) in line and what in line and "test data" in line
    assert workspace_state(pipeline.ws_path) == before


# ---------------------------------------------------------------------- registered datasets


def _registered_dataset(pipeline, tmp_path: Path) -> Path:
    """`test:1`, a tabular dataset over `x.csv` in the default datastore; returns that file."""
    from champion.local import Dataset

    local = tmp_path / "x.csv"
    local.write_text("a,label\n1,0\n2,1\n")
    datastore = pipeline.ws.get_default_datastore()
    datastore.upload_files([str(local)], relative_root=str(tmp_path), show_progress=False)
    Dataset.Tabular.from_delimited_files((datastore, "x.csv")).register(pipeline.ws, "test")
    return local


def test_a_dataset_whose_file_changed_since_it_was_registered_is_refused(pipeline, cli, tmp_path):
    """`--test-data dataset:test:1` recorded the registration-time sha256 for rows read after
    the datastore file changed: new rows under the old identity."""
    model = tmp_path / "model.pkl"
    model.write_bytes(b"weights")
    local = _registered_dataset(pipeline, tmp_path)
    registered = pipeline.ws._store.dataset_digest("test", 1)
    local.write_text("a,label\n1,1\n2,0\n")  # other rows, uploaded over the registered file
    pipeline.ws.get_default_datastore().upload_files(
        [str(local)], relative_root=str(tmp_path), overwrite=True, show_progress=False
    )
    before = workspace_state(pipeline.ws_path)

    result = cli(
        "register", "--model-name", "iris", "--model-path", str(model), "--metric-value", "0.9",
        "--test-data", "dataset:test:1", workspace=pipeline.ws_path,
    )  # fmt: skip

    assert result.returncode == 2, result.stderr
    line = one_line_error(result)
    assert "dataset test:1's file x.csv changed since it was registered" in line
    assert registered in line and "register a new version" in line
    assert workspace_state(pipeline.ws_path) == before


def test_an_unchanged_dataset_records_the_digest_of_what_was_read(pipeline, cli, tmp_path):
    model = tmp_path / "model.pkl"
    model.write_bytes(b"weights")
    _registered_dataset(pipeline, tmp_path)
    result = cli(
        "register", "--model-name", "iris", "--model-path", str(model), "--metric-value", "0.9",
        "--test-data", "dataset:test:1", workspace=pipeline.ws_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    from champion.local import Model

    stored = Model(pipeline.ws, "iris").properties
    assert stored["champion.test_data_sha256"] == pipeline.ws._store.dataset_digest("test", 1)
    assert stored["champion.test_data"] == "dataset:test:1"
