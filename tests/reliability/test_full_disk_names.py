"""A full disk is reported as one line naming the file and what champion was doing with it.
`champion register` on a full disk said `?: No space left on device`: the OS names no file
when a write() to an open file fails, and nothing else did."""

from __future__ import annotations

import os
import textwrap

import pytest
from hostile import files_of, one_line_error, small_disk

from champion.errors import from_environment
from champion.testing import create_workspace, workspace_state

# Injected where no file system can be mounted: os.write, which the store's staging calls,
# fails as a full disk fails it (the OS names no file), after the first 64 KiB.
FULL_AFTER_64K = """
import errno, os

_write, _left = os.write, [64 * 1024]

def write(fd, data):
    if _left[0] <= 0:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    _left[0] -= len(data)
    return _write(fd, data)

os.write = write
"""


@pytest.mark.parametrize("disk", ["tmpfs", "injected"])
def test_register_on_a_full_disk_names_the_file_it_was_writing(cli, tmp_path, disk):
    model = tmp_path / "model.pkl"
    model.write_bytes(os.urandom(2 * 1024 * 1024))  # more than the 1 MiB disk holds
    where = tmp_path / "disk"
    env: dict[str, str] = {}
    with small_disk(where) as mounted:
        if disk == "tmpfs" and not mounted:
            pytest.skip("this machine cannot mount a tmpfs; the injected case covers it")
        if disk == "injected":
            hooks = tmp_path / "hooks"
            hooks.mkdir()
            (hooks / "sitecustomize.py").write_text(textwrap.dedent(FULL_AFTER_64K))
            env["PYTHONPATH"] = str(hooks)
        ws = where / "ws"
        create_workspace(ws)
        before = workspace_state(ws)
        result = cli(
            "register", "--model-name", "iris", "--model-path", str(model),
            "--metric-value", "0.9", workspace=ws, env=env,
        )  # fmt: skip
        after, left_in_tmp = workspace_state(ws), files_of(ws / "tmp")

    assert result.returncode == 3, result.stderr
    line = one_line_error(result)
    assert f"staging a blob at {ws / 'tmp'}{os.sep}" in line, line
    assert "No space left on device" in line and "free space" in line
    assert "?:" not in line
    # nothing registered, no blob or temp file left (the CLI's own run may record the failure)
    assert after["rows"]["models"] == before["rows"]["models"] == []
    assert after["blobs"] == before["blobs"] and left_in_tmp == {}


def test_a_failed_write_no_one_named_names_the_file_being_written(tmp_path):
    """The net under every writer that does not say what it writes: the file object being
    written, found on the failure's traceback (here a real full disk where one can be
    mounted)."""
    where = tmp_path / "disk"
    with small_disk(where, size="64k") as mounted:
        if not mounted:
            pytest.skip("this machine cannot mount a tmpfs")
        target = where / "predictions.csv"
        try:
            with open(target, "w") as out:
                while True:
                    out.write("x" * 65536)
                    out.flush()
        except OSError as exc:
            assert exc.filename is None  # what the OS says
            said = from_environment(exc)
    assert said is not None and said.exit_code == 3
    assert said.message.startswith(f"writing {target}: No space left on device")
