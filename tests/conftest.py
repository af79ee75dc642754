"""Shared fixtures: `pipeline`, the register step's scene (a workspace, pipeline runs with a
model folder each, the step run as a real process), built only on the public `champion.testing`
kit that users get, so our own tests exercise it on every run."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from champion.local import Model, Run, Workspace
from champion.local import store as store_module
from champion.testing import (
    PipelineRunTree,
    StepRunResult,
    create_workspace,
    make_pipeline_run,
    run_step,
    workspace_state,
)

# The fast set, its no-process check, xdist grouping, bytecode compiled once: tests/suite_rules.py
pytest_plugins = ("suite_rules",)

REGISTER = "champion.steps.register"  # the packaged step, as `python -m` runs it

# MLflow's telemetry never leaves a test machine (subprocesses inherit this).
os.environ.update({"MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "true"})


@pytest.fixture(autouse=True)
def _close_stores() -> Iterator[None]:
    """Stores are cached per folder and process; close the ones a test opened. Left open, each
    holds its SQLite files (three descriptors or more), and over the session the descriptors
    piled past 1,024: the limit of `select()`, and of what one process may hold on many hosts."""
    before = set(store_module._open_stores)
    yield
    for key in set(store_module._open_stores) - before:
        store = store_module._open_stores.get(key)
        if store is not None:
            store.close()


def new_workspace(path: Path) -> Workspace:
    """Create a local workspace for a test. Opening never creates one (a mistyped path must
    not become an empty registry), so tests create theirs here (through the kit's one place),
    or with the fixtures below."""
    return create_workspace(path)


@pytest.fixture
def make_workspace(tmp_path: Path) -> Callable[..., Workspace]:
    """`make_workspace()` creates `tmp_path/ws`; `make_workspace(path)` creates `path`."""

    def make(path: Path | None = None) -> Workspace:
        return new_workspace(path if path is not None else tmp_path / "ws")

    return make


def snapshot(ws_path: Path) -> dict[str, Any]:
    """Every row of every table plus every blob file: 'byte-for-byte unchanged' made checkable."""
    return workspace_state(ws_path)


@dataclass
class PipelineRun:
    tree: PipelineRunTree
    model_dir: Path

    @property
    def parent(self) -> Run:
        return self.tree.parent

    @property
    def step(self) -> Run:  # the register step's own run
        return self.tree.steps["register"]


class LocalPipeline:
    """Pipeline runs with a model folder each, and the register step run in them."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.ws_path = root / "ws"
        self.ws: Workspace = new_workspace(self.ws_path)
        self.experiment = "iris-pipeline"
        self._count = 0

    def new_run(
        self,
        parent_tags: Mapping[str, Any] | None = None,
        step_tags: Mapping[str, Any] | None = None,
        *,
        model_bytes: bytes | None = None,
        step_name: str = "train",
    ) -> PipelineRun:
        self._count += 1
        tree = make_pipeline_run(
            self.ws,
            parent_tags,
            {step_name: step_tags, "register": None},
            experiment=self.experiment,
        )
        model_dir = self.root / f"model_{self._count}"
        model_dir.mkdir()
        (model_dir / "model.pkl").write_bytes(model_bytes or f"model {self._count}".encode())
        return PipelineRun(tree, model_dir)

    def lonely_run(self) -> Run:
        """A run with no pipeline run above it (started by hand)."""
        from champion.local import Experiment

        return Experiment(self.ws, self.experiment).start_logging()

    def register(
        self,
        run: PipelineRun | Run | None,
        *args: str,
        model_path: Path | None = None,
        env: dict[str, str] | None = None,
        step: str = REGISTER,
        real_sdk: bool = False,
    ) -> StepRunResult:
        """Run the register step as a process in the run's register step run (None: outside
        any run); with `real_sdk`, under mock_azureml(), so the real azureml.core does the work."""
        path = model_path
        if path is None:
            path = run.model_dir if isinstance(run, PipelineRun) else self.root
        return run_step(
            step,
            "--model-name",
            "iris",
            "--model-path",
            str(path),
            *args,
            run=run.tree if isinstance(run, PipelineRun) else run,
            workspace=self.ws,
            real_sdk=real_sdk,
            env=env,
            timeout=120,
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


# ---------------------------------------------------------------------- MLflow


@pytest.fixture(scope="session")
def mlflow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """One real `mlflow server` (SQLite store, local artifact folder) on 127.0.0.1 for the
    whole session: its start-up (~20 s) is paid once; its process group is killed at the end."""
    from champion.testing.mlflow import mlflow_server as start

    with start(tmp_path_factory.mktemp("mlflow-server")) as server:
        yield server


@pytest.fixture(scope="session")
def postgres() -> Iterator[Any]:
    """One real PostgreSQL server (a throw-away cluster, run as an unprivileged user) for the
    whole session, stopped at the end whatever happened (`champion.testing.postgres`)."""
    from champion.testing.postgres import postgres_server

    with postgres_server() as server:
        yield server


@pytest.fixture(scope="session")
def mlflow_pg_server(tmp_path_factory: pytest.TempPathFactory, postgres: Any) -> Iterator[Any]:
    """One real `mlflow server` whose backend store is that PostgreSQL (a team's setup), with a
    local artifact folder, for the whole session."""
    from champion.testing.mlflow import mlflow_server as start

    store = postgres.create_database("mlflow")
    with start(tmp_path_factory.mktemp("mlflow-pg"), backend_store_uri=store) as server:
        yield server


@pytest.fixture(scope="session")
def mlflow_db_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An empty MLflow SQLite database, made once (MLflow's migrations take seconds) and
    copied by `mlflow_sqlite` for each test."""
    from champion.registry.mlflow import connect

    path = tmp_path_factory.mktemp("mlflow-template") / "mlflow.db"
    connect(f"sqlite:///{path}", create=True).client.search_experiments()
    return path


@pytest.fixture
def mlflow_sqlite(tmp_path: Path, mlflow_db_template: Path) -> str:
    """A fresh `sqlite:///` tracking URI for this test."""
    path = tmp_path / "mlflow.db"
    shutil.copyfile(mlflow_db_template, path)
    return f"sqlite:///{path}"
