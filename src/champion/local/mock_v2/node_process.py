"""A node of a locally run v2 pipeline as a process: a fresh copy of its component's code folder,
and its command run by bash in a process group of its own, its output kept as its log and shown
line by line with the node's name. Apart from `pipeline_run` because it is the part that deals
with the operating system (copies, processes, signals), not with Azure's rules.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import IO

from champion.local.mock_v2.pipeline_spec import PipelineSpecError

__all__ = ["copy_code", "execute"]


def copy_code(code: Path | None, target: Path, workspace: Path) -> None:
    """A fresh copy of the component's code folder (empty when it has none), without the
    workspace folder should it be inside, and without following links."""
    if code is None:
        target.mkdir(parents=True, exist_ok=True)
        return
    if not code.is_dir():
        raise PipelineSpecError(f"the component's code folder {code} does not exist")
    skip = workspace.resolve()

    def ignore(folder: str, names: list[str]) -> list[str]:
        return [
            n for n in names
            if (Path(folder) / n).resolve() == skip or n in ("__pycache__", ".git")
        ]  # fmt: skip

    shutil.copytree(code, target, symlinks=True, ignore=ignore)


def execute(
    command: str,
    cwd: Path,
    env: Mapping[str, str],
    log: Path,
    prefix: str,
    console: IO[str],
    timeout: float | None,
) -> int:
    """Run `command` with bash in its own process group, its output to `log` and, prefixed,
    to `console`; the node's `limits.timeout` or Ctrl-C ends the whole group."""
    with open(log, "wb") as sink:
        process = subprocess.Popen(
            ["/bin/bash", "-c", command],
            cwd=cwd,
            env=dict(env),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

        def pump() -> None:
            assert process.stdout is not None
            for line in process.stdout:
                sink.write(line)
                console.write(prefix + line.decode("utf-8", "replace"))
            console.flush()

        reader = threading.Thread(target=pump, name="champion-node-output", daemon=True)
        reader.start()
        try:
            code = process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            _end(process)
            code = process.wait()
            console.write(f"{prefix}ended: the node's timeout of {timeout:g}s was spent\n")
        except BaseException:
            _end(process)
            raise
        finally:
            reader.join(timeout=10)
        return code


def _end(process: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
