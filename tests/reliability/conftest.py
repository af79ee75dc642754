"""Fixtures for trying the workspace and the CLI as a hostile user would."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

CliRunner = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def cli(tmp_path: Path) -> CliRunner:
    """`cli(*args, workspace=None, cwd=None, env=None)`: `python -m champion.cli ARGS` as a
    process, with no CHAMPION_* variable of the developer's leaking in."""

    def run(
        *args: str,
        workspace: Path | None = None,
        cwd: Path | None = None,
        env: dict[str, str] | None = None,
        timeout: float = 120,
    ) -> subprocess.CompletedProcess[str]:
        full = {k: v for k, v in os.environ.items() if not k.startswith("CHAMPION_")}
        full.pop("TF_BUILD", None)
        if workspace is not None:
            full["CHAMPION_WORKSPACE"] = str(workspace)
        full.update(env or {})
        return subprocess.run(
            [sys.executable, "-m", "champion.cli", *args],
            env=full,
            cwd=cwd or tmp_path,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    return run
