"""Shared fixtures: a pipeline-shaped local workspace (`pipeline`) and a way to run the
register step in it as a real process, used by the step, reliability and docs tests."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from champion.local import Experiment, Model, Run, Workspace
from champion.pipeline.local import create_pipeline_run, create_step_run

ROOT = Path(__file__).resolve().parents[1]
REGISTER = ROOT / "steps" / "register_model.py"


def new_workspace(path: Path) -> Workspace:
    """Create a local workspace for a test. Opening never creates one (a mistyped path must
    not become an empty registry), so tests create theirs here, or with the fixture below."""
    return Workspace.create(path)


@pytest.fixture
def make_workspace(tmp_path: Path) -> Callable[..., Workspace]:
    """`make_workspace()` creates `tmp_path/ws`; `make_workspace(path)` creates `path`."""

    def make(path: Path | None = None) -> Workspace:
        return new_workspace(path if path is not None else tmp_path / "ws")

    return make


def snapshot(ws_path: Path) -> dict[str, Any]:
    """Every row of every table plus every blob file: 'byte-for-byte unchanged' made checkable."""
    conn = sqlite3.connect(ws_path / "workspace.db")
    try:
        tables = [
            r[0]
            for r in conn.execute(
                "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%'"
            )
        ]
        rows = {t: sorted(map(repr, conn.execute(f"SELECT * FROM {t}"))) for t in tables}
    finally:
        conn.close()
    blobs = (
        sorted(str(p.relative_to(ws_path)) for p in (ws_path / "blobs").rglob("*") if p.is_file())
        if (ws_path / "blobs").exists()
        else []
    )
    return {"rows": rows, "blobs": blobs}


@dataclass
class PipelineRun:
    parent: Run
    step: Run  # the register step's own run
    model_dir: Path


class LocalPipeline:
    """Builds parent/step runs the way the local runner does, and runs the register step."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.ws_path = root / "ws"
        self.ws = new_workspace(self.ws_path)
        self.exp = Experiment(self.ws, "iris-pipeline")
        self._count = 0

    def new_run(
        self,
        parent_tags: dict[str, Any] | None = None,
        step_tags: dict[str, Any] | None = None,
        *,
        model_bytes: bytes | None = None,
        step_name: str = "train",
    ) -> PipelineRun:
        self._count += 1
        parent = self._run()
        train = self._run(parent, step_name)
        if step_tags:
            train.set_tags(step_tags)
        if parent_tags:
            parent.set_tags(parent_tags)
        step = self._run(parent, "register")
        model_dir = self.root / f"model_{self._count}"
        model_dir.mkdir()
        (model_dir / "model.pkl").write_bytes(model_bytes or f"model {self._count}".encode())
        return PipelineRun(parent, step, model_dir)

    def _run(self, parent: Run | None = None, name: str | None = None) -> Run:
        """Runs shaped exactly as the local runner makes them (and Azure ML does)."""
        store = self.ws._store
        if parent is None:
            return Run.get(self.ws, create_pipeline_run(store, self.exp.name))
        node = f"{len(name or ''):08x}"
        return Run.get(self.ws, create_step_run(store, self.exp.name, parent.id, name or "", node))

    def register(
        self,
        run: PipelineRun | Run | None,
        *args: str,
        model_path: Path | None = None,
        env: dict[str, str] | None = None,
        script: Path = REGISTER,
        real_sdk: bool = False,
    ) -> subprocess.CompletedProcess[str]:
        """Run the step as a process; with `real_sdk`, under mock_azureml() through the shim the
        local runner uses, so the real azureml.core classes do the work."""
        step = run.step if isinstance(run, PipelineRun) else run
        path = (
            model_path
            if model_path is not None
            else (run.model_dir if isinstance(run, PipelineRun) else self.root)
        )
        full_env = {**os.environ, "CHAMPION_WORKSPACE": str(self.ws_path), **(env or {})}
        full_env.pop("TF_BUILD", None)
        if step is not None:
            full_env["CHAMPION_RUN_ID"] = step.id
        else:
            full_env.pop("CHAMPION_RUN_ID", None)
        full_env.update(env or {})
        full_env.pop("CHAMPION_BACKEND", None)
        launcher = (
            [sys.executable, "-m", "champion.pipeline.sdk_shim"] if real_sdk else [sys.executable]
        )
        return subprocess.run(
            [*launcher, str(script), "--model-name", "iris", "--model-path", str(path), *args],
            env=full_env,
            capture_output=True,
            text=True,
            timeout=120,
            cwd=self.root,
        )

    def versions(self, name: str = "iris") -> list[int]:
        return sorted(int(m.version) for m in Model.list(self.ws, name=name))

    def snapshot(self) -> dict[str, Any]:
        return snapshot(self.ws_path)


@pytest.fixture
def pipeline(tmp_path: Path) -> Iterator[LocalPipeline]:
    yield LocalPipeline(tmp_path)


@pytest.fixture
def local_ws(tmp_path: Path) -> Workspace:
    """A new, empty local workspace at `tmp_path / "ws"`."""
    return new_workspace(tmp_path / "ws")
