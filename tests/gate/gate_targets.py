"""The registries the gate's scenarios run on, each behind one small face (`Target`).

- `memory`: a `Registry` and `ParentRun` kept in memory, shaped like MLflow's (an alias names
  the champion, metrics listed with the runs); the flow (`gate.gate`) runs on it unchanged.
- `local`: the local workspace, through `register_if_better` and `champion.context`.
- `azureml`: the real `azureml.core` classes under `mock_azureml()` (the Azure path minus the
  network), through `register_if_better` on the SDK's own step run.
- `mlflow-sqlite`: a real MLflow tracking store and model registry on a `sqlite:///` URI, in
  process, through `register_if_better` and `champion.context`.
- `mlflow-server`: the same against a real `mlflow server` process on 127.0.0.1 (one per test
  session, `mlflow_server` in tests/conftest.py), over HTTP.
- `azureml-v2`: the v2 backend (models through the real `azure-ai-ml` `MLClient`, runs through
  MLflow) under `mock_azure_ai_ml()`, through `register_if_better` on the step's v2 run, the
  runs made as a v2 pipeline makes them (a pipeline job, its `train` and `register` child jobs
  linked by `mlflow.parentRunId`).

Each target makes pipeline runs (a parent tagged with the challenger's metric, a `train` step,
a `register` step), runs the gate for the register step, and reads back what a user would look
at: the champion, the versions, the run's tags and files.
"""

from __future__ import annotations

import contextlib
import hashlib
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest

from champion import RegisterRequest, names, register_if_better
from champion._digest import model_files_digest
from champion.artifact import inspect_artifact
from champion.errors import InputError
from champion.gate import gate
from champion.record import DecisionRecord, read_record
from champion.registry import (
    NO_RACE,
    ArtifactConflict,
    ChampionChange,
    DatasetVersion,
    DecisionEntry,
    ModelVersion,
    NewVersion,
    ParentRun,
    RaceReport,
    Registry,
    StepRun,
    record_then_tags,
)
from champion.registry._decisions import entries_on_run, sort_entries

TARGETS = ("memory", "local", "azureml", "azureml-v2", "mlflow-sqlite", "mlflow-server")
MLFLOW_TARGETS = ("mlflow-sqlite", "mlflow-server")


def target_params(names: Sequence[str]) -> list[Any]:
    """`names` as pytest params, "mlflow-server" marked `mlflow_server`: its tests ask for the
    session's server through `request.getfixturevalue`, which collection cannot see, and the
    mark keeps them out of the fast set and on the worker that runs the server. "azureml-v2"
    is marked `process`: the v2 fake serves the job's MLflow on a local socket, as Azure does."""
    marks = {"mlflow-server": pytest.mark.mlflow_server, "azureml-v2": pytest.mark.process}
    return [pytest.param(name, marks=marks[name]) if name in marks else name for name in names]


# ---------------------------------------------------------------------- in memory


class MemoryRun:
    """A `ParentRun` kept in memory, shaped like an MLflow parent run: tags and metrics come
    with the run, step runs are its children."""

    def __init__(
        self,
        tags: Mapping[str, str | None] | None = None,
        metrics: Mapping[str, float] | None = None,
        steps: Sequence[StepRun] = (),
    ) -> None:
        self.id = f"parent-{uuid.uuid4().hex[:8]}"
        self._tags = dict(tags or {})
        self._metrics = dict(metrics or {})
        self._steps = list(steps)
        self.files: dict[str, bytes] = {}
        self.reserved: set[str] = set()  # created empty by upload_new, filled by upload_bytes

    @property
    def tags(self) -> Mapping[str, str | None]:
        return dict(self._tags)

    @property
    def metrics(self) -> Mapping[str, float]:
        return dict(self._metrics)

    def get_tags(self) -> Mapping[str, str | None]:
        return dict(self._tags)

    def step_runs(self) -> Sequence[StepRun]:
        return list(self._steps)

    def file_names(self) -> list[str]:
        return sorted(self.files)

    overwrites = False

    def upload_file(self, name: str, path: Path) -> None:
        self.upload_new({name: path})

    def upload_bytes(self, name: str, data: bytes) -> None:
        if name in self.reserved:  # created empty by upload_new, as Azure ML does
            self.reserved.discard(name)
            self.files[name] = data
            return
        self.upload_new({name: data})

    def upload_new(self, files: Mapping[str, Path | bytes], reserve: Sequence[str] = ()) -> None:
        taken = sorted((set(files) | set(reserve)) & set(self.files))
        if taken:
            raise ArtifactConflict(taken)
        for name, content in files.items():
            self.files[name] = content if isinstance(content, bytes) else content.read_bytes()
        for name in reserve:
            self.files[name] = b""
            self.reserved.add(name)

    def download_file(self, name: str, target: Path) -> None:
        target.write_bytes(self.files[name])

    def set_tags(self, tags: Mapping[str, str]) -> None:
        self._tags.update(tags)

    def remove_tags(self, keys: Sequence[str]) -> None:
        for key in keys:
            self._tags.pop(key, None)

    def add_record(
        self, name: str, data: bytes, tags: Mapping[str, str], untag: Sequence[str]
    ) -> None:
        record_then_tags(self, name, data, tags, untag)


class AliasRegistry:
    """A `Registry` kept in memory, shaped like MLflow's: the champion is the version holding
    the alias, registering creates the version with its metadata and then moves the alias; a
    rollback moves the alias back (no new version) and records the change on a run of its own."""

    champion_rule = "the version holding alias 'champion'"

    def __init__(self, *, intruder: bool = False) -> None:
        self.versions_: list[ModelVersion] = []
        self.files: dict[int, dict[str, bytes]] = {}
        self.alias: int | None = None
        self.alias_history: list[int] = []
        self.record_runs: list[MemoryRun] = []
        self.intruder = intruder  # another writer registers while we do
        self.runs: list[MemoryRun] = []  # the runs decision_run made, and the pipeline runs
        self.moves: dict[int, tuple[int | None, int]] = {}

    def champion(self, name: str) -> ModelVersion | None:
        return next((v for v in self.versions_ if v.version == self.alias), None)

    def registered_by(self, name: str, run_id: str) -> ModelVersion | None:
        return next((v for v in reversed(self.versions_) if v.run_id == run_id), None)

    def register(self, new: NewVersion) -> int:
        if self.intruder:
            self._add(NewVersion(new.name, "elsewhere", None, {"accuracy": "0.1"}, {}, "other"))
        version = self._add(new)
        self.moves[version] = (self.alias, version)
        self.alias = version
        self.alias_history.append(version)
        return version

    def alias_move(self, name: str, version: int) -> dict[str, object] | None:
        made = self.moves.get(version)
        return None if made is None else {"alias": "champion", "from": made[0], "to": made[1]}

    def _add(self, new: NewVersion) -> int:
        version = len(self.versions_) + 1
        run_id = new.run.id if new.run else None
        self.versions_.append(ModelVersion(new.name, version, dict(new.properties), {}, run_id))
        if isinstance(new.run, MemoryRun):
            prefix = new.path + "/"
            self.files[version] = {
                name[len(prefix) :]: data
                for name, data in new.run.files.items()
                if name.startswith(prefix)
            }
        return version

    def download(self, name: str, version: int, target: Path) -> Path:
        stored = self.versions_[version - 1]
        written = {}
        for relative, data in self.files[version].items():
            (target / name / relative).parent.mkdir(parents=True, exist_ok=True)
            (target / name / relative).write_bytes(data)
            written[f"{name}/{relative}"] = hashlib.sha256(data).hexdigest()
        assert model_files_digest(written) == stored.properties["artifact_sha256"]
        return target / name

    def make_champion(self, name: str, version: int, change: ChampionChange) -> int:
        assert self.alias == change.expected_champion
        earlier = self.versions_[version - 1]  # tagged with the event, as MLflow's version is
        properties = {**earlier.properties, **change.properties}
        self.versions_[version - 1] = replace(earlier, properties=properties)
        self.moves[version] = (self.alias, version)
        self.alias = version
        self.alias_history.append(version)
        with self.decision_run(names.ROLLBACK_EXPERIMENT, f"rollback {name}") as run:
            self.record_runs.append(run)
            if change.record is not None:
                change.record(run, version)
        return version

    def dataset(self, name: str, version: int | None) -> DatasetVersion:
        raise InputError("no dataset registry here; pass a file", field="test_data", value=name)

    def serialised(self) -> contextlib.AbstractContextManager[None]:
        return contextlib.nullcontext()

    def staged(self, paths: Sequence[Path]) -> contextlib.AbstractContextManager[None]:
        return contextlib.nullcontext()

    def converge(
        self,
        name: str,
        registered: int,
        policy: Any,
        seen: ModelVersion | int | None,
        record_repair: Any = None,
    ) -> RaceReport:
        """Reports a version registered in between; nothing to repair here (the intruder's
        version is no decision, so the serial order ends on ours)."""
        compared = seen.version if isinstance(seen, ModelVersion) else seen
        between = [v.version for v in self.versions_ if (compared or 0) < v.version < registered]
        return RaceReport(detected=True, best=registered) if between else NO_RACE

    def versions(self, name: str) -> list[ModelVersion]:
        return list(self.versions_)

    def decisions(self, name: str) -> Sequence[DecisionEntry]:
        # what the MLflow backend does: search runs by the model tag, read their records
        tagged = [run for run in self.runs if run.tags.get(names.MODEL_TAG) == name]
        return sort_entries(e for run in tagged for e in entries_on_run(run, name))

    @contextlib.contextmanager
    def decision_run(self, experiment: str, display_name: str) -> Iterator[MemoryRun]:
        run = MemoryRun()
        run.id = f"{experiment}-{len(self.runs) + 1}"
        self.runs.append(run)
        yield run


# ---------------------------------------------------------------------- the face


@dataclass
class Made:
    """A pipeline run a target made: the register step's run as the gate is given it, and the
    pipeline run as a `ParentRun` (to read its tags and files back)."""

    step: Any
    parent: ParentRun


class Target:
    name: str
    model_name: str

    def pipeline_run(
        self,
        tags: Mapping[str, str] | None = None,
        step_tags: Mapping[str, str] | None = None,
        step_metrics: Mapping[str, float] | None = None,
    ) -> Made:
        raise NotImplementedError

    def gate(self, made: Made, request: RegisterRequest) -> DecisionRecord:
        return register_if_better(made.step, request)

    def registry(self) -> Registry:
        raise NotImplementedError

    def register_unscored(self, model: Path) -> int:
        """A champion registered by hand, without any metric."""
        raise NotImplementedError

    def champion(self) -> int | None:
        found = self.registry().champion(self.model_name)
        return None if found is None else found.version

    def versions(self) -> list[int]:
        return [v.version for v in self.registry().versions(self.model_name)]

    def record(self, made: Made) -> dict[str, Any] | None:
        return read_record(made.parent)


class MemoryTarget(Target):
    name = "memory"

    def __init__(self) -> None:
        self.model_name = "iris"
        self._registry = AliasRegistry()

    def pipeline_run(self, tags=None, step_tags=None, step_metrics=None) -> Made:
        steps = [StepRun("train-1", "train", dict(step_tags or {}), dict(step_metrics or {}))]
        run = MemoryRun(tags, steps=steps)
        self._registry.runs.append(run)  # as a tracking server knows its runs
        return Made(run, run)

    def gate(self, made: Made, request: RegisterRequest) -> DecisionRecord:
        return gate(made.parent, self._registry, request, inspect_artifact(request.model_path))

    def registry(self) -> Registry:
        return self._registry

    def register_unscored(self, model: Path) -> int:
        version = self._registry._add(NewVersion(self.model_name, str(model), None, {}, {}, ""))
        self._registry.alias = version
        return version


class LocalTarget(Target):
    name = "local"

    def __init__(self, root: Path) -> None:
        from champion.testing import create_workspace

        self.model_name = "iris"
        self.ws = create_workspace(root / "ws")

    def pipeline_run(self, tags=None, step_tags=None, step_metrics=None) -> Made:
        from champion.registry.sdk_run import SdkRun
        from champion.testing import make_pipeline_run

        tree = make_pipeline_run(self.ws, tags, {"train": step_tags, "register": None})
        for key, value in (step_metrics or {}).items():
            tree.steps["train"].log(key, value)
        return Made(tree.steps["register"], SdkRun(tree.parent))

    def registry(self) -> Registry:
        from champion.context import get_registry

        return get_registry(self.ws)

    def register_unscored(self, model: Path) -> int:
        from champion.local import Model

        with contextlib.chdir(model.parent):
            return int(Model.register(self.ws, model.name, self.model_name).version)


class AzureMLTarget(LocalTarget):
    """The local workspace's store answering the real SDK: runs are made as the local runner
    makes them, then fetched with `azureml.core.Run.get`, so the gate sees the SDK's objects."""

    name = "azureml"

    def __init__(self, root: Path) -> None:
        from champion.local import mock_azureml

        super().__init__(root)
        self.mock = mock_azureml(self.ws.path)
        self.mock.start()

    def close(self) -> None:
        self.mock.stop()

    def pipeline_run(self, tags=None, step_tags=None, step_metrics=None) -> Made:
        from azureml.core import Run

        from champion.registry.sdk_run import SdkRun

        local = super().pipeline_run(tags, step_tags, step_metrics)
        step = Run.get(self.mock.workspace, local.step.id)
        return Made(step, SdkRun(Run.get(self.mock.workspace, local.parent.id)))

    def registry(self) -> Registry:
        from champion.registry.azureml import AzureMLRegistry

        return AzureMLRegistry(self.mock.workspace)

    def register_unscored(self, model: Path) -> int:
        from azureml.core import Model

        with contextlib.chdir(model.parent):
            return int(Model.register(self.mock.workspace, model.name, self.model_name).version)


def mlflow_pipeline_run(client, experiment_id, tags, step_tags, step_metrics):  # type: ignore[no-untyped-def]
    """A pipeline run as MLflow holds one (and a v2 pipeline job is one): the parent, a `train`
    child with the step's tags and metrics, and the `register` child returned."""
    from champion.registry.mlflow import PARENT_TAG

    parent = client.create_run(experiment_id, run_name="pipeline", tags=dict(tags or {}))
    link = {PARENT_TAG: parent.info.run_id}
    train = client.create_run(experiment_id, run_name="train", tags={**link, **(step_tags or {})})
    for key, value in (step_metrics or {}).items():
        client.log_metric(train.info.run_id, key, value)
    return client.create_run(experiment_id, run_name="register", tags=link)


def made_from(step) -> Made:  # type: ignore[no-untyped-def]
    made_parent = step.parent_run()
    assert made_parent is not None
    return Made(step, made_parent)


class MlflowTarget(Target):
    def __init__(self, name: str, tracking_uri: str, artifacts: Path | None) -> None:
        from champion.registry.mlflow import connect

        self.name = name
        self.model_name = f"iris-{uuid.uuid4().hex[:8]}"  # one server serves every test
        self.ws = connect(tracking_uri)
        self.experiment_id = self.ws.client.create_experiment(
            f"pipeline-{uuid.uuid4().hex[:8]}",
            artifact_location=None if artifacts is None else str(artifacts),
        )

    def pipeline_run(self, tags=None, step_tags=None, step_metrics=None) -> Made:
        from champion.registry.mlflow import MlflowRun

        register = mlflow_pipeline_run(
            self.ws.client, self.experiment_id, tags, step_tags, step_metrics
        )
        return made_from(MlflowRun(self.ws, register))

    def registry(self) -> Registry:
        from champion.registry.mlflow import MlflowRegistry

        return MlflowRegistry(self.ws)

    def register_unscored(self, model: Path) -> int:
        made = self.pipeline_run()
        made.parent.upload_file(f"outputs/{self.model_name}/{model.name}", model)
        client = self.ws.client
        client.create_registered_model(self.model_name)
        source = f"{made.parent.artifact_uri}/{self.model_name}"  # type: ignore[attr-defined]
        version = client.create_model_version(self.model_name, source, run_id=made.parent.id)
        client.set_registered_model_alias(self.model_name, "champion", version.version)
        return int(version.version)

    def alias_holder(self) -> int | None:
        aliases = self.ws.client.get_registered_model(self.model_name).aliases
        return int(aliases["champion"]) if "champion" in aliases else None


class AzureMLV2Target(Target):
    """The v2 backend under `mock_azure_ai_ml()`: the real azure-ai-ml for the models, the
    fake's MLflow endpoint for the runs, both over one local workspace."""

    name = "azureml-v2"

    def __init__(self, root: Path) -> None:
        from champion.local.mock_v2 import mock_azure_ai_ml
        from champion.registry.azureml_v2 import AzureMLV2Workspace
        from champion.registry.mlflow import connect

        self.model_name = "iris"
        self.mock = mock_azure_ai_ml(root / "ws")
        self.mock.start()
        assert self.mock.tracking_uri is not None
        self.ml_client = self.mock.ml_client()
        self.workspace = AzureMLV2Workspace(
            connect(self.mock.tracking_uri, azureml=True), self.ml_client
        )
        self.client = self.workspace.mlflow.client
        self.experiment_id = self.client.create_experiment(f"pipeline-{uuid.uuid4().hex[:8]}")

    def close(self) -> None:
        self.mock.stop()

    def pipeline_run(self, tags=None, step_tags=None, step_metrics=None) -> Made:
        from champion.registry.azureml_v2 import V2Run

        register = mlflow_pipeline_run(
            self.client, self.experiment_id, tags, step_tags, step_metrics
        )
        return made_from(V2Run(self.workspace, register))

    def registry(self) -> Registry:
        from champion.registry.azureml_v2 import AzureMLV2Registry

        return AzureMLV2Registry(self.workspace)

    def register_unscored(self, model: Path) -> int:
        from azure.ai.ml.entities import Model

        made = self.ml_client.models.create_or_update(Model(name=self.model_name, path=model))
        return int(made.version)
