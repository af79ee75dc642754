"""Bad model paths and artifact names change nothing; secrets never reach output; the model is
never deserialised; downloads are verified."""

from __future__ import annotations

import io
import os
import pickle
import subprocess
import sys

import pytest
from azureml.exceptions import UserErrorException

from champion._redact import redact
from champion.local import Model
from champion.record import _escape_vso as escape_vso

# ---------------------------------------------------------------------- model folders


def _folder_with(pipeline, kind: str):
    run = pipeline.new_run({"accuracy": "0.9"})
    target = run.model_dir / "extra"
    outside = pipeline.root / "outside.txt"
    outside.write_text("not part of the model")
    if kind == "symlink":
        target.symlink_to(outside)
    elif kind == "symlinked dir":
        target.symlink_to(pipeline.root, target_is_directory=True)
    elif kind == "hardlink":
        os.link(outside, target)
    elif kind == "fifo":
        os.mkfifo(target)
    elif kind == "backslash":
        (run.model_dir / "a\\b.txt").write_text("x")
    return run


@pytest.mark.parametrize("kind", ["symlink", "symlinked dir", "hardlink", "fifo", "backslash"])
def test_unsafe_entries_in_a_model_folder_are_refused_unread(pipeline, kind):
    run = _folder_with(pipeline, kind)
    before = pipeline.snapshot()
    result = pipeline.register(run)  # a FIFO that were read would block: the timeout would hit
    assert result.exit_code == 2, result.stdout + result.stderr
    assert "model_path_invalid" in result.stderr
    assert pipeline.snapshot() == before


# ---------------------------------------------------------------------- artifact names

UNSAFE_NAMES = ["../x.bin", "outputs/../../x.bin", "/abs/x.bin", "outputs\\x.bin", "a//b", ""]


@pytest.mark.parametrize("name", UNSAFE_NAMES)
def test_unsafe_artifact_names_are_refused_by_the_local_run(pipeline, name):
    run = pipeline.new_run()
    before = pipeline.snapshot()
    with pytest.raises(UserErrorException, match="Invalid artifact path"):
        run.parent.upload_file(name, io.BytesIO(b"payload"))
    assert pipeline.snapshot() == before


@pytest.mark.parametrize("name", ["../x.bin", "/abs/x.bin", "outputs\\x.bin"])
def test_unsafe_artifact_names_are_refused_under_the_real_sdk(pipeline, name):
    from azureml.core import Run

    from champion.local import mock_azureml

    parent_id = pipeline.new_run().parent.id
    before = pipeline.snapshot()
    with mock_azureml(pipeline.ws_path) as mock:
        run = Run.get(mock.workspace, parent_id)
        with pytest.raises(Exception, match="Invalid artifact path"):
            run.upload_file(name, io.BytesIO(b"payload"))
    assert pipeline.snapshot() == before


# ---------------------------------------------------------------------- never deserialise


class _Tripwire:
    """Unpickling this writes a file: proof that someone loaded the model."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_registration_never_loads_the_model(pipeline):
    marker = pipeline.root / "model_was_unpickled"
    run = pipeline.new_run({"accuracy": "0.9"})
    (run.model_dir / "model.pkl").write_bytes(pickle.dumps(_Tripwire(str(marker))))

    result = pipeline.register(run)
    assert result.exit_code == 0, result.stderr
    second = pipeline.register(pipeline.new_run({"accuracy": "0.95"}), real_sdk=True)
    assert second.exit_code == 0, second.stderr

    assert pipeline.versions() == [1, 2]
    assert not marker.exists()


# ---------------------------------------------------------------------- secrets

SECRETS = [
    (
        "https://acct.blob.core.windows.net/c/m.pkl?sv=2023-01-03&sig=S3CRETsig%2Bx&se=2026",
        "S3CRETsig",
    ),
    ("{'Authorization': 'Bearer eyJhbGciOi.eyJzdWIiOi.c2lnbmF0dXJl'}", "eyJhbGciOi"),
    ("DefaultEndpointsProtocol=https;AccountName=a;AccountKey=K3Y/abc+==;x", "K3Y/abc"),
    ("az login --service-principal -u app -p x client_secret=Sp5ecret", "Sp5ecret"),
]


@pytest.mark.parametrize(("text", "secret"), SECRETS)
def test_redact_removes_the_secret_and_keeps_the_rest(text, secret):
    cleaned = redact(text)
    assert secret not in cleaned
    assert "***" in cleaned


def test_a_secret_in_a_bad_tag_value_is_not_printed(pipeline, tmp_path):
    sas = "https://acct.blob.core.windows.net/c?sv=1&sig=TOPSECRET123"
    run = pipeline.new_run({"accuracy": sas})
    result = pipeline.register(run)
    assert result.exit_code == 2
    assert "TOPSECRET123" not in result.stdout + result.stderr
    assert "sig=***" in result.stderr  # the value is still named, minus the secret


def test_a_secret_never_reaches_the_decision_record(pipeline, tmp_path):
    run = pipeline.new_run({"accuracy": "0.9"})
    result = pipeline.register(run, "--build-number", "b?sig=TOPSECRET456")
    assert result.exit_code == 0, result.stderr
    target = tmp_path / "decision.json"
    run.parent.download_file("outputs/champion_decision.json", str(target))
    assert "TOPSECRET456" not in target.read_text()
    assert "TOPSECRET456" not in result.stdout


# ---------------------------------------------------------------------- Azure DevOps


@pytest.mark.parametrize(
    "value", ["a]b", "x\n##vso[task.setvariable variable=evil]1", "100%;done", "r\rn"]
)
def test_devops_values_cannot_start_another_logging_command(value):
    escaped = escape_vso(value)
    assert "\n" not in escaped and "\r" not in escaped and "]" not in escaped
    assert ";" not in escaped


# ---------------------------------------------------------------------- verified downloads


def _champion_cli(ws, *args, cwd):
    env = {**os.environ, "CHAMPION_WORKSPACE": str(ws)}
    return subprocess.run(
        [sys.executable, "-m", "champion.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=120,
    )


def test_download_of_a_corrupt_model_fails_and_writes_nothing(pipeline, tmp_path):
    run = pipeline.new_run({"accuracy": "0.9"}, model_bytes=b"good model bytes")
    assert pipeline.register(run).exit_code == 0
    ok = _champion_cli(
        pipeline.ws_path, "models", "download", "iris", "--target", "good", cwd=tmp_path
    )
    assert ok.returncode == 0, ok.stderr
    assert "sha256 verified" in ok.stdout
    for blob in (pipeline.ws_path / "blobs").rglob("*"):
        if blob.is_file() and blob.read_bytes() == b"good model bytes":
            blob.write_bytes(b"evil model bytes")

    bad = _champion_cli(
        pipeline.ws_path, "models", "download", "iris", "--target", "bad", cwd=tmp_path
    )

    assert bad.returncode == 3
    assert "corrupt" in bad.stderr
    assert not (tmp_path / "bad" / "iris" / "model.pkl").exists()
    assert Model(pipeline.ws, "iris").version == 1  # the registry itself is untouched
