"""A registry to read, and the `champion` command run as a user runs it: the console script,
as a process, with no CHAMPION_* variable of the developer's leaking in."""

from __future__ import annotations

import contextlib
import shlex
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from cli_helpers import CHAMPION, clean_env

from champion.local import Experiment, Model, Workspace

Champion = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def champion(tmp_path: Path) -> Champion:
    """`champion(*args, cwd=None, shell_tail=None)`; with `shell_tail` (e.g. `| head -1`) the
    command runs in bash with pipefail, so the exit code is champion's as well as the tail's."""

    def run(
        *args: str | Path, cwd: Path | None = None, shell_tail: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        argv = [CHAMPION, *map(str, args)]
        command: list[str] | str = argv
        if shell_tail is not None:
            command = ["bash", "-c", f"set -o pipefail; {shlex.join(argv)} {shell_tail}"]
        return subprocess.run(
            command,
            env=clean_env(),
            cwd=cwd or tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
        )

    return run


@dataclass(frozen=True)
class Registry:
    path: Path
    run_id: str  # a pipeline-shaped run with a child step, which registered iris:1


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Registry:
    """A workspace holding `iris` (registered by a run), and `big`, whose ~1 MB of properties
    is more than a pipe holds: a reader that stops early really does close it under us."""
    root = tmp_path_factory.mktemp("registry")
    model = root / "model.pkl"
    model.write_bytes(b"a model")
    ws = Workspace.create(root / "ws")
    run = Experiment(ws, "pipeline").start_logging()
    run.child_run(name="train").complete()
    run.set_tags({"accuracy": "0.9", "champion.outcome": "first"})
    run.upload_file("outputs/iris/model.pkl", str(model))
    run.register_model(
        "iris",
        model_path="outputs/iris/model.pkl",
        properties={"accuracy": "0.9", "champion.outcome": "first", "build_number": "7"},
    )
    run.complete()
    big = {f"p{i:05d}": "x" * 250 for i in range(4000)}
    with contextlib.chdir(root):  # the SDK's rule: a model_path inside the working directory
        Model.register(ws, model_path="model.pkl", model_name="big", properties=big)
    return Registry(root / "ws", run.id)
