"""MLflow runs as the gate's `ParentRun`s, the workspace (tracking URI + client) they live
in, and the pipeline runs the local runner makes on MLflow (experiments, nested runs)."""

from __future__ import annotations

import functools
import os
import posixpath
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlflow import MlflowClient
from mlflow.entities import RunTag
from mlflow.store.artifact.artifact_repository_registry import get_artifact_repository

from champion import _env
from champion.errors import InputError
from champion.registry import (
    ArtifactConflict,
    ParentRun,
    StepRun,
    record_then_tags,
)
from champion.registry.mlflow._calls import (
    _ABSENT,
    _GATE_PREFIX,
    PARENT_TAG,
    RUN_NAME_TAG,
    _found,
    _remote,
    _translated,
    shown_uri,
)

# ---------------------------------------------------------------------- the workspace


@dataclass(frozen=True)
class MlflowWorkspace:
    """Where the MLflow backend talks to: a tracking URI, a registry URI and the client for
    them. MLflow's "workspace"; `champion.context` passes it around as the others' workspace."""

    tracking_uri: str
    registry_uri: str
    client: Any

    @property
    def name(self) -> str:
        """The tracking URI without credentials, for messages."""
        return shown_uri(self.tracking_uri)

    def artifact_repository(self, artifact_uri: str) -> Any:
        return get_artifact_repository(
            artifact_uri, tracking_uri=self.tracking_uri, registry_uri=self.registry_uri
        )


def connect(
    tracking_uri: str | None = None,
    registry_uri: str | None = None,
    *,
    create: bool = False,
    azureml: bool = False,
) -> MlflowWorkspace:
    """The MLflow server or database `tracking_uri` (default `$MLFLOW_TRACKING_URI`) names.

    A `sqlite:///` database that does not exist is refused unless `create`: as with the local
    workspace, a mistyped path must never become a fresh, empty registry in which any
    challenger is "first". Only the pipeline runner creates one. `azureml`: also take Azure
    ML's own `azureml://` tracking URI (the v2 backend's runs; azureml-mlflow reads it)."""
    tracking = tracking_uri or _env.mlflow_tracking_uri()
    if not tracking:
        raise InputError(
            f"no MLflow server: set {_env.MLFLOW_TRACKING_URI} to its address "
            "(http://127.0.0.1:5000) or to a database (sqlite:///mlflow.db)",
            field=_env.MLFLOW_TRACKING_URI,
            value=None,
        )
    # a relative sqlite:/// path means this folder: made absolute, so step processes (which
    # run in folders of their own) reach the same database
    tracking = _absolute_sqlite(tracking)
    registry = _absolute_sqlite(registry_uri or _env.mlflow_registry_uri() or tracking)
    for uri, variable in ((tracking, _env.MLFLOW_TRACKING_URI), (registry, "MLFLOW_REGISTRY_URI")):
        _check_scheme(uri, variable, ("azureml",) if azureml else ())
        path = _sqlite_path(uri)
        if path is not None and not create and not path.is_file():
            raise InputError(
                f"no MLflow database at {path} ({variable}={uri}); check the path, or create "
                "it with a first `champion pipeline run FILE --backend mlflow`",
                field=variable,
                value=uri,
            )
    if _env.mlflow_http_retries() is None:
        # MLflow retries 429/5xx itself for minutes; ours is the one loop (see _env)
        os.environ[_env.MLFLOW_HTTP_RETRIES] = "0"
    if _env.mlflow_progress_bars() is None:
        os.environ[_env.MLFLOW_PROGRESS_BARS] = "false"  # one line on stderr, not tqdm's bars
    return MlflowWorkspace(tracking, registry, MlflowClient(tracking, registry))


# What champion can gate on: a tracking server or a database MLflow's SQLAlchemy store opens.
# MLflow 3 refuses its file store (a bare path or file://) and other schemes need plugins.
_SCHEMES = ("http", "https", "sqlite", "postgresql", "mysql", "mssql", "databricks")


def _check_scheme(uri: str, variable: str, extra: tuple[str, ...] = ()) -> None:
    scheme = uri.partition("://")[0].lower() if "://" in uri else ""
    if scheme.partition("+")[0] not in (*_SCHEMES, *extra):
        raise InputError(
            f"{variable}={shown_uri(uri)!r} is not an MLflow server or database champion can "
            "use; give http(s)://HOST:PORT or a database URI such as sqlite:///mlflow.db or "
            "postgresql://USER@HOST/DB (MLflow 3 no longer writes its file store)",
            field=variable,
            value=shown_uri(uri),
        )


def _absolute_sqlite(uri: str) -> str:
    path = _sqlite_path(uri)
    if path is None or path.is_absolute() or not str(path):
        return uri
    query = uri.partition("?")[2]
    return f"sqlite:///{path.resolve()}" + (f"?{query}" if query else "")


def _sqlite_path(uri: str) -> Path | None:
    if not uri.startswith("sqlite:///"):
        return None
    return Path(uri[len("sqlite:///") :].split("?", 1)[0])


def current_run() -> MlflowRun:
    """The step's run: MLflow's active run, `$MLFLOW_RUN_ID`."""
    run_id = _env.mlflow_run_id()
    if not run_id:
        raise InputError(
            f"this step is not running inside an MLflow run: run it as a pipeline step "
            f"(`champion pipeline run FILE --backend mlflow` sets {_env.MLFLOW_RUN_ID}), set "
            f"{_env.MLFLOW_RUN_ID} to its run, or use `champion register --backend mlflow` for "
            "a model trained outside a pipeline",
            field=_env.MLFLOW_RUN_ID,
            value=None,
        )
    workspace = connect()
    return MlflowRun(workspace, step_run(workspace, run_id, _env.MLFLOW_RUN_ID))


def step_run(workspace: MlflowWorkspace, run_id: str, variable: str) -> Any:
    """The MLflow run `run_id` a step was given in `variable`: one GET; a run the server does
    not hold is the user's InputError naming the variable."""
    client = workspace.client
    run = _remote("loading the step's run", lambda: _found(lambda: client.get_run(run_id)))
    if run is _ABSENT:
        raise InputError(
            f"{variable}={run_id} names no run on {workspace.name}", field=variable, value=run_id
        )
    return run


# ---------------------------------------------------------------------- runs


def artifact_path(name: str) -> str:
    """The MLflow artifact path of a gate artifact name: `outputs/iris/model.pkl` is
    `iris/model.pkl`. The gate writes nothing else; anything else is a bug."""
    if not name.startswith(_GATE_PREFIX) or len(name) == len(_GATE_PREFIX):
        raise ValueError(f"{name!r} is not a gate artifact name (outputs/...)")
    return name[len(_GATE_PREFIX) :]


def step_run_of(run: Any) -> StepRun:
    """An MLflow run as the gate reads a pipeline's step."""
    return StepRun(
        str(run.info.run_id),
        str(run.info.run_name or run.data.tags.get(RUN_NAME_TAG) or ""),
        dict(run.data.tags),
        {str(k): float(v) for k, v in run.data.metrics.items()},
    )


class MlflowParentRun:
    """`ParentRun` over an MLflow run: one MLflow call each, not retried here (the gate wraps
    each call in its one loop); MLflow's failures come out in the shape the loop classifies.

    The gate's names lose their `outputs/` on an MLflow server of its own (`artifact_path`);
    a subclass for a service whose runs keep Azure ML's names (the v2 backend) overrides
    `_path`/`_name` and the folders listed (`_walk_root`, `_records_folder`)."""

    _walk_root: str | None = None
    """Where `file_names` starts its walk (None: the run's top folder)."""
    _records_folder: str | None = None
    """The folder the decision records are in, as MLflow names it (None: the top folder)."""

    def _path(self, name: str) -> str:
        """The MLflow artifact path of the gate's artifact `name`."""
        return artifact_path(name)

    def _name(self, path: str) -> str:
        """The gate's name of the MLflow artifact path `path`."""
        return _GATE_PREFIX + path

    def __init__(self, workspace: MlflowWorkspace, run: Any) -> None:
        self.workspace = workspace
        self.mlflow_run = run
        self._repo: Any = None

    @property
    def id(self) -> str:
        return str(self.mlflow_run.info.run_id)

    @property
    def artifact_uri(self) -> str:
        return str(self.mlflow_run.info.artifact_uri)

    @property
    def tags(self) -> Mapping[str, str | None]:
        return dict(self.mlflow_run.data.tags)

    @property
    def metrics(self) -> Mapping[str, float]:
        return {str(k): float(v) for k, v in self.mlflow_run.data.metrics.items()}

    @property
    def repository(self) -> Any:
        if self._repo is None:
            self._repo = self.workspace.artifact_repository(self.artifact_uri)
        return self._repo

    def get_tags(self) -> Mapping[str, str | None]:
        run = _translated(lambda: self.workspace.client.get_run(self.id))
        return dict(run.data.tags)

    def step_runs(self) -> Sequence[StepRun]:
        return [step_run_of(run) for run in self.child_runs()]

    def child_runs(self) -> list[Any]:
        """The MLflow runs of this run's steps (`mlflow.parentRunId` = this run): one search."""
        experiment = str(self.mlflow_run.info.experiment_id)
        return list(
            _translated(
                lambda: self.workspace.client.search_runs(
                    [experiment], f"tags.`{PARENT_TAG}` = '{self.id}'", max_results=1000
                )
            )
        )

    def file_names(self) -> list[str]:
        found: list[str] = []

        def walk(path: str | None) -> None:
            for info in _translated(lambda: self.repository.list_artifacts(path)):
                if info.is_dir:
                    walk(info.path)
                else:
                    found.append(self._name(info.path))

        walk(self._walk_root)
        return sorted(found)

    def top_file_names(self) -> list[str]:
        """The artifact names in the run's top folder only (where decision records are): one
        listing, never a walk through a model's files."""
        listed = _translated(lambda: self.repository.list_artifacts(self._records_folder))
        return sorted(self._name(info.path) for info in listed if not info.is_dir)

    @property
    def overwrites(self) -> bool:
        return True  # an artifact PUT replaces the file of the same name

    def upload_new(self, files: Mapping[str, Path | bytes], reserve: Sequence[str] = ()) -> None:
        # no batch and no refusal on MLflow: the names are checked against a listing first;
        # a reserved name is only checked (upload_bytes writes it when its content is known)
        taken = sorted((set(files) | set(reserve)) & set(self.file_names()))
        if taken:
            raise ArtifactConflict(taken)
        for name, content in files.items():
            if isinstance(content, bytes):
                self.upload_bytes(name, content)
            else:
                self.upload_file(name, content)

    def upload_file(self, name: str, path: Path) -> None:
        folder, base = posixpath.split(self._path(name))
        if Path(path).name == base:
            _translated(lambda: self.repository.log_artifact(str(path), folder or None))
            return
        with tempfile.TemporaryDirectory(prefix="champion-upload-") as tmp:
            named = Path(tmp) / base
            shutil.copyfile(path, named)
            _translated(lambda: self.repository.log_artifact(str(named), folder or None))

    def upload_bytes(self, name: str, data: bytes) -> None:
        folder, base = posixpath.split(self._path(name))
        with tempfile.TemporaryDirectory(prefix="champion-upload-") as tmp:
            named = Path(tmp) / base
            named.write_bytes(data)
            _translated(lambda: self.repository.log_artifact(str(named), folder or None))

    def download_file(self, name: str, target: Path) -> None:
        with tempfile.TemporaryDirectory(prefix="champion-download-") as tmp:
            local = _translated(
                lambda: self.repository.download_artifacts(self._path(name), dst_path=tmp)
            )
            shutil.move(local, target)

    def set_tags(self, tags: Mapping[str, str]) -> None:
        batch = [RunTag(str(k), str(v)) for k, v in tags.items()]
        _translated(lambda: self.workspace.client.log_batch(self.id, tags=batch))

    def remove_tags(self, keys: Sequence[str]) -> None:
        client = self.workspace.client
        for key in keys:
            _found(functools.partial(client.delete_tag, self.id, key))

    def add_record(
        self, name: str, data: bytes, tags: Mapping[str, str], untag: Sequence[str]
    ) -> None:
        record_then_tags(self, name, data, tags, untag)  # MLflow has no transaction


class MlflowRun(MlflowParentRun):
    """A run as step code sees it on MLflow (`champion.context.get_run()`): the members of an
    `azureml.core.Run` that the sample train step and the gate use, and no more; and, being a
    run like any other, a `ParentRun` too, so a step can record on its own run (the score
    step's record and tags)."""

    parent_class: type[MlflowParentRun] = MlflowParentRun
    """What `parent_run` returns the pipeline run as."""

    def __init__(self, workspace: MlflowWorkspace, run: Any) -> None:
        super().__init__(workspace, run)
        self._parent: Any = _ABSENT

    @property
    def name(self) -> str:
        return str(self.mlflow_run.info.run_name or "")

    @property
    def experiment_id(self) -> str:
        return str(self.mlflow_run.info.experiment_id)

    @property
    def tags(self) -> dict[str, str]:
        return dict(self.mlflow_run.data.tags)

    @property
    def metrics(self) -> dict[str, float]:
        return {str(k): float(v) for k, v in self.mlflow_run.data.metrics.items()}

    def get_tags(self) -> dict[str, str]:
        run = _remote("reading the run's tags", lambda: self.workspace.client.get_run(self.id))
        return dict(run.data.tags)

    @property
    def parent(self) -> MlflowRun | None:
        """The run named by this run's `mlflow.parentRunId` tag (one GET, then kept)."""
        if self._parent is _ABSENT:
            parent_id = self.tags.get(PARENT_TAG)
            if not parent_id:
                self._parent = None
            else:
                client = self.workspace.client
                run = _remote("loading the pipeline run", lambda: client.get_run(parent_id))
                self._parent = self._sibling(run)
        return self._parent  # type: ignore[no-any-return]

    def _sibling(self, run: Any) -> MlflowRun:
        """Another run of this run's kind and workspace (its parent)."""
        return type(self)(self.workspace, run)

    def parent_run(self) -> MlflowParentRun | None:
        parent = self.parent
        return None if parent is None else self.parent_class(parent.workspace, parent.mlflow_run)

    def tag(self, key: str, value: object = None) -> None:
        client = self.workspace.client
        _remote(f"tagging run {self.id}", lambda: client.set_tag(self.id, key, str(value)))

    def log(self, name: str, value: float) -> None:
        client = self.workspace.client
        _remote(f"logging {name} on run {self.id}", lambda: client.log_metric(self.id, name, value))


def _parent_run_of(run: ParentRun | None) -> MlflowParentRun:
    if not isinstance(run, MlflowParentRun):
        raise TypeError(f"{type(run).__name__} is not a run of the mlflow backend")
    return run
