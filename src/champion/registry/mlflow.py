"""`Registry` and `ParentRun` over an MLflow tracking server and model registry: the one module
that imports mlflow.

Why a backend of its own: the MLflow model registry is the one most teams have (open-source
servers, Databricks, Azure ML workspaces), and it has no champion/challenger gate: aliases move
unconditionally and their history is not kept. This module gives the gate's flow
(`champion.gate`) what it needs from MLflow, with the same fail-closed rules as on Azure ML:

- **runs**: the step's run is MLflow's active run (`MLFLOW_RUN_ID`); its pipeline run is the
  run its `mlflow.parentRunId` tag names; the step runs are the runs whose tag names the
  pipeline run (one `search_runs`, which also brings their logged metrics). The gate's artifact
  names (`outputs/<model>/...`, `outputs/champion_decision.json`) are stored as MLflow artifacts
  without the `outputs/` prefix (`<model>/...`, `champion_decision.json`), read and written
  through the run's artifact repository (never the client's run-artifact helpers, which in
  MLflow 3 also search logged models, an API Azure ML's endpoint answers with 404);
- **the champion** is the version holding the alias (`champion`, or `--champion-alias`); with
  no alias set yet, none. Where the server has no aliases (404 ENDPOINT_NOT_FOUND or 501 on the
  alias call), the latest version, and the decision record says which rule was used;
- **registering** is `create_model_version(name, source, run_id=<pipeline run>, tags=<the
  version's metadata>, description)`, one call (`create_registered_model` first if the name is
  new), then the alias moves: re-read before the move, verified after; another writer's move in
  between is `race_detected`. A crash between the two calls leaves the old champion; the retry
  finds its version by `run_id` and finishes the move (`registered_by`), never a second version;
- `--stage` also transitions a winner (`archive_existing_versions=True`), for teams still on
  stages (deprecated by MLflow since 2.9);
- **a rollback** (`make_champion`) makes no version: the alias moves back to the earlier
  version (checked against the champion the caller saw before, verified after), the version
  is tagged with the event where its tags differ (never its metric), and the decision record
  goes on a run of experiment `champion-rollback`. A failure part way puts the tags and the
  alias back. Where the server has no aliases, the earlier version's files (verified) are
  logged to that run and registered again as a new version, as on Azure ML;
- **downloads** are all or nothing: the version's files land in a temporary folder beside the
  target, are checked against `artifact_sha256`, and only then moved into place;
- **datasets**: MLflow has no dataset registry, so `--test-data dataset:...` is refused;
- **decisions** (`champion models history`): every run tagged `champion.model=<name>` in any
  experiment (one `search_runs`, filtered by the server), each record read off its run: the
  rejections MLflow's registry never saw, and the alias moves it does not keep. A decision made
  outside a pipeline (`champion register`, a rollback) gets a run of its own (`decision_run`),
  which also holds the model's files when it registers one.

Every MLflow call is one remote call in one retry loop (`champion._retry`); MLflow's own
HTTP retries are turned off for our client (`MLFLOW_HTTP_REQUEST_MAX_RETRIES=0` unless set), so
loops never nest. Only "no such model" (RESOURCE_DOES_NOT_EXIST) is an answer; 401, 403, any
other 4xx, and 5xx or timeouts once retries are spent, fail closed with InfrastructureError.
"""

from __future__ import annotations

import contextlib
import functools
import os
import posixpath
import re
import shutil
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from mlflow import MlflowClient
from mlflow.entities import RunStatus, RunTag
from mlflow.exceptions import MlflowException
from mlflow.store.artifact.artifact_repository_registry import get_artifact_repository

from champion import _env, names
from champion._digest import listing_digest, sha256_file
from champion._failpoints import failpoint
from champion._redact import redact
from champion._retry import classify, describe, remote
from champion.errors import ConflictError, InfrastructureError, InputError
from champion.registry import (
    ChampionChange,
    DatasetVersion,
    DecisionEntry,
    ModelVersion,
    NewVersion,
    ParentRun,
    StepRun,
)
from champion.registry._decisions import entries_on_run, sort_entries

__all__ = [
    "DEFAULT_ALIAS",
    "PARENT_TAG",
    "STAGES",
    "MlflowParentRun",
    "MlflowRegistry",
    "MlflowRun",
    "MlflowWorkspace",
    "artifact_path",
    "connect",
    "current_run",
]

T = TypeVar("T")

DEFAULT_ALIAS = "champion"
PARENT_TAG = "mlflow.parentRunId"
RUN_NAME_TAG = "mlflow.runName"
STAGES = ("Staging", "Production", "Archived")
"""The stages `--stage` takes (MLflow's own, deprecated since 2.9; `None` is not a target)."""
_GATE_PREFIX = "outputs/"
_ALIAS_NAME = re.compile(r"[A-Za-z0-9_\-]{1,255}")
_NOT_FOUND = "RESOURCE_DOES_NOT_EXIST"
_NO_ALIASES = frozenset({"ENDPOINT_NOT_FOUND", "NOT_IMPLEMENTED"})
_PENDING = "PENDING_REGISTRATION"
_PENDING_WAIT_S = 60.0
_REGISTRY_META = "registered_model_meta"
_TOO_MANY = re.compile(r"too many (\d{3}) error responses")


# ---------------------------------------------------------------------- errors and calls


class MlflowCallError(Exception):
    """An MlflowException with its HTTP status where `champion._retry` reads it (`status_code`),
    so 429 and 5xx (and MLflow's wrapped timeouts and dropped connections, INTERNAL_ERROR) are
    retried and every other status fails at once."""

    def __init__(self, exc: MlflowException) -> None:
        self.error_code = str(exc.error_code)
        self.status_code = int(exc.get_http_status_code())  # type: ignore[no-untyped-call]
        # with MLflow's own retries off, urllib3 reports a 429/5xx as "too many N responses"
        # inside an INTERNAL_ERROR: the status the server sent is the one that counts
        sent = _TOO_MANY.search(str(exc.message))
        if sent:
            self.status_code = int(sent.group(1))
        self.message = f"{self.error_code}: {_first_line(exc.message)}"
        super().__init__(self.message)


class _Busy(Exception):
    """SQLite's "database is locked" under MLflow's SQLAlchemy store: transient, like a 503."""

    status_code = 503


def _first_line(text: object) -> str:
    lines = str(text).strip().splitlines()
    return lines[0] if lines else ""


def _translated(call: Callable[[], T]) -> T:
    """One attempt, with MLflow's failures in the shape `champion._retry` classifies."""
    try:
        return call()
    except MlflowException as exc:
        raise MlflowCallError(exc) from exc
    except Exception as exc:
        if "database is locked" in str(exc):
            raise _Busy(_first_line(exc)) from exc
        raise


def _remote(action: str, call: Callable[[], T]) -> T:
    """One MLflow call in its one retry loop; failures become InfrastructureError(action)."""
    return remote(action, lambda: _translated(call))


_ABSENT: Any = object()


def _found(call: Callable[[], T]) -> T:
    """`call`, with MLflow's RESOURCE_DOES_NOT_EXIST answered as `_ABSENT`: the one not-found."""
    try:
        return _translated(call)
    except MlflowCallError as exc:
        if exc.error_code == _NOT_FOUND:
            return _ABSENT  # type: ignore[no-any-return]
        raise


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
        return redact(self.tracking_uri)

    def artifact_repository(self, artifact_uri: str) -> Any:
        return get_artifact_repository(
            artifact_uri, tracking_uri=self.tracking_uri, registry_uri=self.registry_uri
        )


def connect(
    tracking_uri: str | None = None, registry_uri: str | None = None, *, create: bool = False
) -> MlflowWorkspace:
    """The MLflow server or database `tracking_uri` (default `$MLFLOW_TRACKING_URI`) names.

    A `sqlite:///` database that does not exist is refused unless `create`: as with the local
    workspace, a mistyped path must never become a fresh, empty registry in which any
    challenger is "first". Only the pipeline runner creates one."""
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
    return MlflowWorkspace(tracking, registry, MlflowClient(tracking, registry))


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
    client = workspace.client
    run = _remote("loading the step's run", lambda: _found(lambda: client.get_run(run_id)))
    if run is _ABSENT:
        raise InputError(
            f"{_env.MLFLOW_RUN_ID}={run_id} names no run on {workspace.name}",
            field=_env.MLFLOW_RUN_ID,
            value=run_id,
        )
    return MlflowRun(workspace, run)


# ---------------------------------------------------------------------- runs


def artifact_path(name: str) -> str:
    """The MLflow artifact path of a gate artifact name: `outputs/iris/model.pkl` is
    `iris/model.pkl`. The gate writes nothing else; anything else is a bug."""
    if not name.startswith(_GATE_PREFIX) or len(name) == len(_GATE_PREFIX):
        raise ValueError(f"{name!r} is not a gate artifact name (outputs/...)")
    return name[len(_GATE_PREFIX) :]


class MlflowParentRun:
    """`ParentRun` over an MLflow run: one MLflow call each, not retried here (the gate wraps
    each call in its one loop); MLflow's failures come out in the shape the loop classifies."""

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
        experiment = str(self.mlflow_run.info.experiment_id)
        found = _translated(
            lambda: self.workspace.client.search_runs(
                [experiment], f"tags.`{PARENT_TAG}` = '{self.id}'", max_results=1000
            )
        )
        return [
            StepRun(
                str(run.info.run_id),
                str(run.info.run_name or run.data.tags.get(RUN_NAME_TAG) or ""),
                dict(run.data.tags),
                {str(k): float(v) for k, v in run.data.metrics.items()},
            )
            for run in found
        ]

    def file_names(self) -> list[str]:
        found: list[str] = []

        def walk(path: str | None) -> None:
            for info in _translated(lambda: self.repository.list_artifacts(path)):
                if info.is_dir:
                    walk(info.path)
                else:
                    found.append(_GATE_PREFIX + info.path)

        walk(None)
        return sorted(found)

    def top_file_names(self) -> list[str]:
        """The artifact names in the run's top folder only (where decision records are): one
        listing, never a walk through a model's files."""
        listed = _translated(lambda: self.repository.list_artifacts(None))
        return sorted(_GATE_PREFIX + info.path for info in listed if not info.is_dir)

    def upload_file(self, name: str, path: Path) -> None:
        folder, base = posixpath.split(artifact_path(name))
        if Path(path).name == base:
            _translated(lambda: self.repository.log_artifact(str(path), folder or None))
            return
        with tempfile.TemporaryDirectory(prefix="champion-upload-") as tmp:
            named = Path(tmp) / base
            shutil.copyfile(path, named)
            _translated(lambda: self.repository.log_artifact(str(named), folder or None))

    def upload_bytes(self, name: str, data: bytes) -> None:
        folder, base = posixpath.split(artifact_path(name))
        with tempfile.TemporaryDirectory(prefix="champion-upload-") as tmp:
            named = Path(tmp) / base
            named.write_bytes(data)
            _translated(lambda: self.repository.log_artifact(str(named), folder or None))

    def download_file(self, name: str, target: Path) -> None:
        with tempfile.TemporaryDirectory(prefix="champion-download-") as tmp:
            local = _translated(
                lambda: self.repository.download_artifacts(artifact_path(name), dst_path=tmp)
            )
            shutil.move(local, target)

    def set_tags(self, tags: Mapping[str, str]) -> None:
        batch = [RunTag(str(k), str(v)) for k, v in tags.items()]
        _translated(lambda: self.workspace.client.log_batch(self.id, tags=batch))

    def remove_tags(self, keys: Sequence[str]) -> None:
        client = self.workspace.client
        for key in keys:
            _found(functools.partial(client.delete_tag, self.id, key))


class MlflowRun(MlflowParentRun):
    """A run as step code sees it on MLflow (`champion.context.get_run()`): the members of an
    `azureml.core.Run` that the sample train step and the gate use, and no more; and, being a
    run like any other, a `ParentRun` too, so a step can record on its own run (the score
    step's record and tags)."""

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
                self._parent = MlflowRun(self.workspace, run)
        return self._parent  # type: ignore[no-any-return]

    def parent_run(self) -> MlflowParentRun | None:
        parent = self.parent
        return None if parent is None else MlflowParentRun(parent.workspace, parent.mlflow_run)

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


# ---------------------------------------------------------------------- the registry


def version_of(mv: Any) -> ModelVersion:
    """An MLflow model version as the Protocol's plain value: its tags are its stored metadata
    (Azure ML's properties)."""
    tags = {str(k): str(v) for k, v in (mv.tags or {}).items()}
    created = mv.creation_timestamp
    return ModelVersion(
        name=str(mv.name),
        version=int(mv.version),
        properties=tags,
        tags=tags,
        run_id=str(mv.run_id) if mv.run_id else None,
        created=datetime.fromtimestamp(created / 1000, tz=UTC) if created else None,
    )


def _from_millis(millis: int | None) -> datetime | None:
    return datetime.fromtimestamp(millis / 1000, tz=UTC) if millis else None


def _optional_int(text: str | None) -> int | None:
    return int(text) if text and text.isdigit() else None


def check_alias(alias: str) -> str:
    """An alias MLflow accepts and that cannot be mistaken for a version reference."""
    lowered = alias.lower()
    if (
        not _ALIAS_NAME.fullmatch(alias)
        or lowered == "latest"
        or re.fullmatch(r"v\d+", lowered) is not None
    ):
        raise InputError(
            f"--champion-alias {alias!r} is not an alias MLflow can hold: use letters, digits, "
            "'_' and '-' (not 'latest', not v<number>)",
            field="--champion-alias",
            value=alias,
        )
    return alias


def check_stage(stage: str) -> str:
    """The stage's canonical spelling (MLflow's), or InputError."""
    for known in STAGES:
        if stage.lower() == known.lower():
            return known
    raise InputError(
        f"--stage {stage!r} is not an MLflow stage; use one of {', '.join(STAGES)}",
        field="--stage",
        value=stage,
    )


class MlflowRegistry:
    """The model registry of an MLflow server or database. MLflow has no registry lock:
    `serialised` holds nothing and the alias re-read before the move and the check after it
    tell `race_detected` whether another writer moved it in between."""

    def __init__(
        self, workspace: MlflowWorkspace, *, alias: str | None = None, stage: str | None = None
    ) -> None:
        self.workspace = workspace
        self.client = workspace.client
        self.alias = check_alias(alias) if alias is not None else DEFAULT_ALIAS
        self.stage = check_stage(stage) if stage is not None else None
        self.aliases_supported: bool | None = None  # known after the first alias call
        self._races: dict[tuple[str, int], bool] = {}

    @property
    def champion_rule(self) -> str:
        if self.aliases_supported is False:
            return "the latest version (the server does not support model aliases)"
        return f"the version holding alias {self.alias!r}"

    # -- lookups

    def champion(self, name: str) -> ModelVersion | None:
        action = f"looking up the champion model {name!r}"
        try:
            return self._champion(name)
        except InfrastructureError as exc:
            raise InfrastructureError(
                f"{exc.message}; nothing was registered. Check the MLflow server "
                f"({self.workspace.name}), its credentials and permissions, then retry.",
                field="model_name",
                value=name,
            ) from exc
        except MlflowCallError as exc:  # pragma: no cover - _remote turns these into ours
            raise InfrastructureError(
                f"{action} failed ({describe(exc, classify(exc)[2])}); nothing was registered",
                field="model_name",
                value=name,
            ) from exc

    def _champion(self, name: str) -> ModelVersion | None:
        if self.aliases_supported is False:
            return self._latest(name)
        action = f"looking up the champion model {name!r} (alias {self.alias!r})"
        outcome: list[str] = []

        def attempt() -> Any:
            outcome.clear()
            try:
                return _found(lambda: self.client.get_model_version_by_alias(name, self.alias))
            except MlflowCallError as exc:
                if exc.error_code in _NO_ALIASES:
                    outcome.append("no aliases")
                    return None
                if exc.error_code == "INVALID_PARAMETER_VALUE":
                    outcome.append("alias not set?")  # checked below, in its own loop
                    return None
                raise

        found = _remote(action, attempt)
        if outcome == ["no aliases"]:
            self.aliases_supported = False
            return self._latest(name)
        if outcome:  # MLflow answers a model without the alias with a 400: make sure
            holder = self._alias_holder(name)
            if holder is not None:
                raise InfrastructureError(
                    f"{action} failed: the server refused the lookup, yet the alias names "
                    f"version {holder}",
                    field="model_name",
                    value=name,
                )
            found = _ABSENT
        self.aliases_supported = True
        return None if found is _ABSENT else version_of(found)

    def _latest(self, name: str) -> ModelVersion | None:
        versions = self.versions(name)
        return versions[-1] if versions else None

    def _alias_holder(self, name: str) -> int | None:
        """The version the alias names now (None: the model or the alias does not exist)."""
        model = _remote(
            f"reading the aliases of {name!r}",
            lambda: _found(lambda: self.client.get_registered_model(name)),
        )
        if model is _ABSENT:
            return None
        holder = dict(model.aliases or {}).get(self.alias)
        return None if holder is None else int(holder)

    def _registered_by_once(self, name: str, run_id: str) -> ModelVersion | None:
        found = _translated(
            lambda: self.client.search_model_versions(f"name='{name}' and run_id='{run_id}'")
        )
        newest = max(found, key=lambda mv: int(mv.version), default=None)
        return None if newest is None else version_of(newest)

    def registered_by(self, name: str, run_id: str) -> ModelVersion | None:
        """The version run `run_id` registered, if any. A registration on MLflow is two calls
        (create the version, move the alias): a step stopped between them left the old
        champion in place, so the retry that finds its version finishes the move, if the alias
        still names the champion the version was decided against."""
        found = remote(
            "checking for an earlier registration by this run",
            lambda: self._registered_by_once(name, run_id),
        )
        if found is not None and self.aliases_supported is not False:
            self._finish_move(found)
        return found

    def _finish_move(self, version: ModelVersion) -> None:
        if version.properties.get(names.OUTCOME) not in ("first", "promoted"):
            return  # registered by hand, or not by a decision: not ours to move
        holder = self._alias_holder(version.name)
        expected = _optional_int(version.properties.get(names.PREVIOUS_VERSION))
        if holder == version.version or holder != expected:
            return  # done already, or the alias moved on since: leave it
        self._set_alias(version.name, version.version)

    def race_detected(self, name: str, compared_with: int | None, registered: int) -> bool:
        if self.aliases_supported is False:  # Azure ML's rule: any version between
            return any((compared_with or 0) < v.version < registered for v in self.versions(name))
        return self._races.get((name, registered), False)

    def versions(self, name: str) -> list[ModelVersion]:
        found: list[ModelVersion] = []
        token: str | None = None
        while True:
            page = _remote(
                f"listing the versions of {name!r}",
                functools.partial(
                    self.client.search_model_versions,
                    f"name='{name}'",
                    max_results=1000,
                    page_token=token,
                ),
            )
            found += [version_of(mv) for mv in page]
            token = getattr(page, "token", None)
            if not token:
                return sorted(found, key=lambda v: v.version)

    def _model_version(self, name: str, version: int) -> Any:
        """MLflow's model version `name`:`version`; InputError when there is none."""
        found = _remote(
            f"reading version {version} of {name!r}",
            lambda: _found(lambda: self.client.get_model_version(name, str(version))),
        )
        if found is _ABSENT:
            raise InputError(
                f"there is no version {version} of model {name!r} on {self.workspace.name}; "
                f"'champion models history {name} --backend mlflow' lists the versions",
                field="version",
                value=version,
            )
        return found

    # -- verified downloads, rollback, datasets

    def download(self, name: str, version: int, target: Path) -> Path:
        """The version's files into `target/<name>/`, checked against its `artifact_sha256`
        before the first one is moved there (a version without one is refused)."""
        mv = self._model_version(name, version)
        expected = (mv.tags or {}).get(names.ARTIFACT_SHA256)
        if not expected:
            raise InputError(
                f"{name}:{version} has no {names.ARTIFACT_SHA256} tag, so its files cannot be "
                "verified before they are used; only versions the gate registered can be",
                field="version",
                value=version,
            )
        target.mkdir(parents=True, exist_ok=True)
        destination = target / name
        with verified_files(self.workspace, mv, target, expected) as (local, written):
            for relative in written:
                final = destination / relative
                final.parent.mkdir(parents=True, exist_ok=True)
                os.replace(local / relative, final)
        return destination

    def make_champion(self, name: str, version: int, change: ChampionChange) -> int:
        """A rollback on MLflow: the alias moves back to `version` (no new version), which is
        tagged with the event; the record goes on a run of experiment `champion-rollback`."""
        earlier = self._model_version(name, version)
        with self.decision_run(names.ROLLBACK_EXPERIMENT, f"rollback {name}") as run:
            if self.aliases_supported is False:
                return self._register_again(name, earlier, change, run)
            return self._move_back(name, earlier, change, run)

    def _conflict(self, name: str, expected: int | None, now: int | None) -> ConflictError:
        return ConflictError(
            f"the champion of {name!r} changed from v{expected} to v{now} while rolling back; "
            f"nothing was changed. Look at 'champion models history {name} --backend mlflow', "
            "then run the rollback again if it is still wanted.",
            field="name",
            value=name,
        )

    def _move_back(
        self, name: str, earlier: Any, change: ChampionChange, run: MlflowParentRun
    ) -> int:
        version = int(earlier.version)
        holder = self._alias_holder(name)
        if holder != change.expected_champion:
            raise self._conflict(name, change.expected_champion, holder)
        before = {str(k): str(v) for k, v in (earlier.tags or {}).items()}
        # the version's own tags (its metrics, test data, digest) are what `change` copied
        # from it: only the event's tags differ, so only those are written
        event = {k: v for k, v in change.properties.items() if before.get(k) != v}
        try:
            self._tag_version(name, version, event)
            if not self._set_alias(name, version):  # the server has no aliases after all
                self._untag_version(name, version, event, before)
                return self._register_again(name, earlier, change, run)
            after = self._alias_holder(name)
            if after != version:
                raise self._conflict(name, version, after)
            if change.record is not None:
                change.record(run, version)
        except BaseException:
            with contextlib.suppress(Exception):
                self._restore(name, version, holder, event, before)
            raise
        return version

    def _restore(
        self,
        name: str,
        version: int,
        holder: int | None,
        event: Mapping[str, str],
        before: Mapping[str, str],
    ) -> None:
        """Undo a rollback stopped part way: the alias back where it was (if still ours to
        move), the version's tags as they were."""
        if self._alias_holder(name) == version and holder is not None:
            self._set_alias(name, holder)
        self._untag_version(name, version, event, before)

    def _tag_version(self, name: str, version: int, tags: Mapping[str, str]) -> None:
        for key, value in tags.items():
            _remote(
                f"tagging version {version} of {name!r} with {key}",
                functools.partial(
                    self.client.set_model_version_tag, name, str(version), key, value
                ),
            )

    def _untag_version(
        self, name: str, version: int, written: Mapping[str, str], before: Mapping[str, str]
    ) -> None:
        self._tag_version(name, version, {k: before[k] for k in written if k in before})
        for key in (k for k in written if k not in before):
            remove = functools.partial(
                self.client.delete_model_version_tag, name, str(version), key
            )
            _remote(
                f"removing tag {key} of version {version} of {name!r}",
                functools.partial(_found, remove),
            )

    def _register_again(
        self, name: str, earlier: Any, change: ChampionChange, run: MlflowParentRun
    ) -> int:
        """A server without aliases takes the latest version as the champion: as on Azure ML,
        the earlier version's files (downloaded and verified first) are logged to the rollback
        run and registered from there as a new version, in one call. (MLflow refuses a source
        outside the run the version names.)"""
        latest = self._latest(name)
        now = None if latest is None else latest.version
        if now != change.expected_champion:
            raise self._conflict(name, change.expected_champion, now)
        with tempfile.TemporaryDirectory(prefix="champion-rollback-") as tmp:
            files = self.download(name, int(earlier.version), Path(tmp))
            for path in sorted(p for p in files.rglob("*") if p.is_file()):
                relative = path.relative_to(files).as_posix()
                upload = functools.partial(
                    run.upload_file, f"{_GATE_PREFIX}{name}/{relative}", path
                )
                _remote(f"uploading {relative} to the rollback run", upload)
        source = f"{run.artifact_uri}/{name}"
        created = _remote(
            f"registering {name} again",
            lambda: self.client.create_model_version(
                name,
                source,
                run_id=run.id,
                tags={**change.tags, **change.properties},
                description=change.description,
                await_creation_for=0,
            ),
        )
        new = int(created.version) if created.status != _PENDING else self._await_ready(created)
        if change.record is not None:
            change.record(run, new)
        return new

    def dataset(self, name: str, version: int | None) -> DatasetVersion:
        """MLflow has no dataset registry: refused, before anything is read."""
        spec = f"dataset:{name}" + ("" if version is None else f":{version}")
        raise InputError(
            f"--test-data {spec}: MLflow has no dataset registry to read {name!r} from; pass "
            "--test-data PATH (a CSV file or a folder of CSV files) instead",
            field="--test-data",
            value=spec,
        )

    # -- decisions: records on runs, found by the model tag

    def decisions(self, name: str) -> Sequence[DecisionEntry]:
        """One run search over every experiment, filtered by the server on `MODEL_TAG=name`;
        then, per run found, one listing of its top folder and one download per record."""
        entries: list[DecisionEntry] = []
        for run in self._runs_tagged(name):
            entries += _remote(
                f"reading the decision records on run {run.info.run_id}",
                functools.partial(self._records_on, run, name),
            )
        return sort_entries(entries)

    def _records_on(self, run: Any, name: str) -> list[DecisionEntry]:
        parent = MlflowParentRun(self.workspace, run)
        started = _from_millis(run.info.start_time)
        return entries_on_run(parent, name, parent.top_file_names(), started=lambda: started)

    def _runs_tagged(self, name: str) -> list[Any]:
        experiments: list[str] = []
        token: str | None = None
        while True:
            page = _remote(
                "listing the experiments",
                functools.partial(
                    self.client.search_experiments, max_results=1000, page_token=token
                ),
            )
            experiments += [str(e.experiment_id) for e in page]
            token = getattr(page, "token", None)
            if not token:
                break
        found: list[Any] = []
        for start in range(0, len(experiments), 100):  # the server takes up to 100 at once
            token = None
            while True:
                page = _remote(
                    f"finding the runs that decided on {name!r}",
                    functools.partial(
                        self.client.search_runs,
                        experiments[start : start + 100],
                        f"tags.`{names.MODEL_TAG}` = '{name}'",
                        max_results=1000,
                        page_token=token,
                    ),
                )
                found += list(page)
                token = getattr(page, "token", None)
                if not token:
                    break
        return found

    @contextlib.contextmanager
    def decision_run(self, experiment: str, display_name: str) -> Iterator[MlflowParentRun]:
        """A run named `display_name` in `experiment` (created if new): FINISHED when the
        block ends, FAILED when it raises."""
        experiment_id_ = experiment_id(self.workspace, experiment)
        created = _remote(
            f"starting a run in experiment {experiment!r}",
            lambda: self.client.create_run(experiment_id_, run_name=display_name),
        )
        run = MlflowParentRun(self.workspace, created)
        try:
            yield run
        except BaseException:
            with contextlib.suppress(Exception):
                self.client.set_terminated(run.id, RunStatus.to_string(RunStatus.FAILED))
            raise
        _remote(
            f"completing run {run.id}",
            lambda: self.client.set_terminated(run.id, RunStatus.to_string(RunStatus.FINISHED)),
        )

    # -- writes

    def register(self, new: NewVersion) -> int:
        """Create the version with all its metadata in one call, then move the alias."""
        if new.run is not None:
            return self._register(new, _parent_run_of(new.run), artifact_path(new.path))
        # a model trained outside a pipeline: MLflow registers run artifacts, so its files go
        # to the run that holds the decision's record (`decision_run`), else to one of their own
        record_run = new.properties.get(names.PARENT_RUN_ID)
        if record_run:
            run = run_of(self.workspace, record_run)
            self._upload_local(run, new)
            return self._register(new, run, new.name)
        with self.decision_run(names.REGISTER_EXPERIMENT, f"register {new.name}") as own:
            self._upload_local(own, new)
            return self._register(new, own, new.name)

    def _register(self, new: NewVersion, run: MlflowParentRun, path: str) -> int:
        source = f"{run.artifact_uri}/{path}"
        tags = {**new.tags, **new.properties}
        tried = False

        def create() -> Any:
            return self.client.create_model_version(
                new.name,
                source,
                run_id=run.id,
                tags=tags,
                description=new.description,
                await_creation_for=0,  # polled below, in our own loop
            )

        def attempt() -> int:
            nonlocal tried
            if tried:  # a creation that timed out may have been committed by the server
                earlier = self._registered_by_once(new.name, run.id)
                if earlier is not None:
                    return earlier.version
            tried = True
            try:
                mv = _translated(create)
            except MlflowCallError as exc:
                if exc.error_code != _NOT_FOUND:
                    raise
                self._create_registered_model(new.name)
                mv = _translated(create)
            return int(mv.version) if mv.status != _PENDING else self._await_ready(mv)

        version = remote(f"registering {new.name}", attempt)
        failpoint("mlflow.version_created")
        previous = _optional_int(new.properties.get(names.PREVIOUS_VERSION))
        self._move_alias(new.name, version, expected=previous)
        if self.stage is not None:
            self._transition(new.name, version, self.stage)
        return version

    def _create_registered_model(self, name: str) -> None:
        try:
            _translated(lambda: self.client.create_registered_model(name))
        except MlflowCallError as exc:
            if exc.error_code != "RESOURCE_ALREADY_EXISTS":  # another gate created it
                raise

    def _await_ready(self, mv: Any) -> int:
        """Registries that copy the files (Databricks) answer PENDING first."""
        deadline = time.monotonic() + _PENDING_WAIT_S
        while mv.status == _PENDING and time.monotonic() < deadline:
            time.sleep(1.0)
            mv = _translated(functools.partial(self.client.get_model_version, mv.name, mv.version))
        if mv.status != "READY":
            raise InfrastructureError(
                f"version {mv.version} of {mv.name!r} is {mv.status} "
                f"({mv.status_message or 'no message'}); the alias was not moved",
                field="model_name",
                value=mv.name,
            )
        return int(mv.version)

    def _move_alias(self, name: str, version: int, *, expected: int | None) -> None:
        if self.aliases_supported is False:
            return
        before = self._alias_holder(name)
        if not self._set_alias(name, version):
            return
        after = self._alias_holder(name)
        self._races[(name, version)] = before != expected or after != version

    def _set_alias(self, name: str, version: int) -> bool:
        """Point the alias at `version`; False when the server has no aliases."""
        unsupported: list[bool] = []

        def attempt() -> None:
            try:
                _translated(
                    lambda: self.client.set_registered_model_alias(name, self.alias, version)
                )
            except MlflowCallError as exc:
                if exc.error_code not in _NO_ALIASES:
                    raise
                unsupported.append(True)

        _remote(f"moving alias {self.alias!r} of {name!r} to version {version}", attempt)
        if unsupported:
            self.aliases_supported = False
            return False
        self.aliases_supported = True
        return True

    def _transition(self, name: str, version: int, stage: str) -> None:
        with warnings.catch_warnings():  # deprecated since MLflow 2.9: the help says so
            warnings.simplefilter("ignore", FutureWarning)
            _remote(
                f"moving version {version} of {name!r} to stage {stage}",
                lambda: self.client.transition_model_version_stage(
                    name,
                    str(version),
                    stage,
                    archive_existing_versions=stage in ("Staging", "Production"),
                ),
            )

    def _upload_local(self, run: MlflowParentRun, new: NewVersion) -> None:
        """The local model file or folder `new.path`, as `outputs/<name>/...` on `run`."""
        local = Path(new.path)
        files = [local] if local.is_file() else sorted(p for p in local.rglob("*") if p.is_file())
        for file in files:
            relative = file.name if file == local else file.relative_to(local).as_posix()
            name = f"{_GATE_PREFIX}{new.name}/{relative}"
            _remote(f"uploading {relative}", functools.partial(run.upload_file, name, file))

    def serialised(self) -> contextlib.AbstractContextManager[None]:
        return contextlib.nullcontext()

    def staged(self, paths: Sequence[Path]) -> contextlib.AbstractContextManager[None]:
        return contextlib.nullcontext()


@contextlib.contextmanager
def verified_files(
    workspace: MlflowWorkspace, mv: Any, where: Path, expected: str | None
) -> Iterator[tuple[Path, dict[str, str]]]:
    """The files of model version `mv`, downloaded into a temporary folder inside `where` and
    checked against `expected` (its `artifact_sha256`; None: not checked): yields the folder
    and `{relative path: sha256}` of the model's files. The caller moves what it wants out
    before the block ends; the rest is deleted, so a failed check leaves nothing behind."""
    repo = workspace.artifact_repository(str(mv.source))
    with tempfile.TemporaryDirectory(dir=where, prefix=".champion-download-") as tmp:
        local = Path(
            _remote(
                f"downloading version {mv.version} of {mv.name!r}",
                lambda: repo.download_artifacts("", dst_path=tmp),
            )
        )
        written = file_digests(local)
        written.pop(_REGISTRY_META, None)  # MLflow's, written when the version was made
        if not written:
            raise InfrastructureError(
                f"version {mv.version} of {mv.name!r} has no files at {mv.source}",
                field="source",
                value=str(mv.source),
            )
        if expected and listing_digest(written.items()) != expected:
            raise InfrastructureError(
                f"the files of {mv.name}:{mv.version} do not hash to its registered "
                f"artifact_sha256 {expected}; nothing was written. Do not use this version.",
                field=names.ARTIFACT_SHA256,
                value=expected,
            )
        yield local, written


def file_digests(folder: Path) -> dict[str, str]:
    """`{relative path: sha256}` of every file under `folder` (for verified downloads)."""
    return {
        p.relative_to(folder).as_posix(): sha256_file(p)
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


# ---------------------------------------------------------------------- pipeline runs and models


def experiment_id(workspace: MlflowWorkspace, name: str) -> str:
    """The id of experiment `name`, created if new (a concurrent creator is fine)."""
    client = workspace.client

    def attempt() -> str:
        found = _translated(lambda: client.get_experiment_by_name(name))
        if found is not None:
            return str(found.experiment_id)
        try:
            return str(_translated(lambda: client.create_experiment(name)))
        except MlflowCallError as exc:
            if exc.error_code != "RESOURCE_ALREADY_EXISTS":
                raise
            return str(_translated(lambda: client.get_experiment_by_name(name)).experiment_id)

    return _remote(f"finding or creating experiment {name!r}", attempt)


def start_run(
    workspace: MlflowWorkspace,
    experiment: str,
    name: str,
    tags: Mapping[str, str],
    parent_id: str | None = None,
) -> str:
    """A run named `name` (a nested one under `parent_id`), as `mlflow.start_run(nested=True)`
    links it: the `mlflow.parentRunId` tag. Returns its id."""
    linked = {**tags, **({PARENT_TAG: parent_id} if parent_id else {})}
    run = _remote(
        f"starting run {name!r}",
        lambda: workspace.client.create_run(experiment, run_name=name, tags=linked),
    )
    return str(run.info.run_id)


def end_run(workspace: MlflowWorkspace, run_id: str, status: str) -> None:
    """`status`: FINISHED, FAILED or KILLED."""
    _remote(f"ending run {run_id}", lambda: workspace.client.set_terminated(run_id, status=status))


def log_files(workspace: MlflowWorkspace, run_id: str, files: Sequence[tuple[str, Path]]) -> None:
    """Log each local file as the artifact path given (`logs/driver_log.txt`)."""
    run = _remote(f"loading run {run_id}", lambda: workspace.client.get_run(run_id))
    repo = workspace.artifact_repository(str(run.info.artifact_uri))
    for name, path in files:
        folder, base = posixpath.split(name)
        if path.name != base:
            raise ValueError(f"{path} cannot be logged as {name}: the file names differ")
        _remote(f"logging {name}", functools.partial(repo.log_artifact, str(path), folder or None))


def run_of(workspace: MlflowWorkspace, run_id: str) -> MlflowParentRun:
    """Run `run_id` as a `ParentRun` (to read a pipeline run's decision record back)."""
    run = _remote(f"loading run {run_id}", lambda: workspace.client.get_run(run_id))
    return MlflowParentRun(workspace, run)


def save_sklearn_model(model: Any, folder: Path) -> Path:
    """Save a fitted scikit-learn model as an MLflow model folder (`MLmodel`, the model, its
    environment) into the empty `folder`, so a registered version loads with
    `mlflow.pyfunc.load_model("models:/<name>@champion")`. The requirements are given, not
    inferred (inference imports the model in a subprocess: seconds, for nothing). cloudpickle,
    not MLflow 3's default skops: skops comes with the full `mlflow` only (the `[mlflow]`
    extra is mlflow-skinny), and refuses a k-NN model's KDTree unless told to trust it."""
    from importlib import metadata

    import mlflow.sklearn

    requirements = [f"{p}=={metadata.version(p)}" for p in ("scikit-learn", "cloudpickle")]
    mlflow.sklearn.save_model(
        model,
        str(folder),
        serialization_format=mlflow.sklearn.SERIALIZATION_FORMAT_CLOUDPICKLE,
        pip_requirements=requirements,
    )
    return folder / "MLmodel"


# ---------------------------------------------------------------------- the command line's reads


class MlflowReader:
    """What `champion models ...` reads and changes on MLflow, beyond the gate's `Registry`:
    the models, a version with everything MLflow stores on it, a verified download, the
    description and stage commands, and the decision records on the runs."""

    def __init__(self, registry: MlflowRegistry) -> None:
        self.registry = registry
        self.client = registry.client
        self.workspace = registry.workspace

    def models(self) -> list[tuple[str, dict[str, int]]]:
        """Every registered model's name and aliases, by name."""
        found: list[tuple[str, dict[str, int]]] = []
        token: str | None = None
        while True:
            page = _remote(
                "listing the registered models",
                functools.partial(
                    self.client.search_registered_models, max_results=1000, page_token=token
                ),
            )
            found += [
                (str(m.name), {k: int(v) for k, v in (m.aliases or {}).items()}) for m in page
            ]
            token = getattr(page, "token", None)
            if not token:
                return sorted(found)

    def version(self, name: str, version: int | None) -> Any:
        """The MLflow model version asked for (None: the champion, else the latest), or
        InputError naming what is missing."""
        if version is None:
            holder = self.registry._alias_holder(name)
            if holder is None:
                latest = self.registry._latest(name)
                version = None if latest is None else latest.version
            else:
                version = holder
        found = (
            _ABSENT
            if version is None
            else _remote(
                f"reading version {version} of {name!r}",
                lambda: _found(lambda: self.client.get_model_version(name, str(version))),
            )
        )
        if found is _ABSENT:
            what = f"version {version} of {name!r}" if version else repr(name)
            raise InputError(
                f"no model {what} on {self.workspace.name}; 'champion models list --backend "
                f"mlflow' shows the names, 'champion models history {name} --backend mlflow' "
                "the versions",
                field="name",
                value=name,
            )
        return found

    def describe(self, name: str, version: int, text: str) -> Any:
        self.version(name, version)
        return _remote(
            f"describing version {version} of {name!r}",
            lambda: self.client.update_model_version(name, str(version), description=text),
        )

    def set_stage(self, name: str, version: int, stage: str, *, archive: bool) -> Any:
        self.version(name, version)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            return _remote(
                f"moving version {version} of {name!r} to stage {stage}",
                lambda: self.client.transition_model_version_stage(
                    name, str(version), stage, archive_existing_versions=archive
                ),
            )

    def download(
        self, name: str, version: int | None, target: Path, *, exist_ok: bool
    ) -> tuple[Any, Path, bool]:
        """Download a version into `target/<name>/`, checking its files against the
        registered `artifact_sha256` before any is moved into place; returns the version, the
        folder and whether the check ran. On any failure nothing is written."""
        mv = self.version(name, version)
        if target.exists() and not target.is_dir():
            raise InputError(
                f"--target {target} is a file; give a folder", field="--target", value=str(target)
            )
        target.mkdir(parents=True, exist_ok=True)
        destination = target / name
        expected = (mv.tags or {}).get(names.ARTIFACT_SHA256)
        with verified_files(self.workspace, mv, target, expected) as (local, written):
            moves = [(local / relative, destination / relative) for relative in written]
            for _, final in moves:
                _check_place(final, target, exist_ok=exist_ok)
            for source, final in moves:
                final.parent.mkdir(parents=True, exist_ok=True)
                os.replace(source, final)
        return mv, destination, bool(expected)


def _check_place(final: Path, root: Path, *, exist_ok: bool) -> None:
    """A downloaded file's place under `root`: never through a symlink, never over a file
    unless `exist_ok`, never over a folder."""
    current = final
    while current != root:
        if current.is_symlink():
            raise InputError(
                f"{current} is a symlink; nothing was written (a download never writes through "
                "one)",
                field="--target",
                value=str(current),
            )
        current = current.parent
    if final.is_dir() or (final.exists() and not exist_ok):
        raise InputError(
            f"{final} already exists; nothing was written. Pass --exist-ok to replace it, or "
            "choose another --target",
            field="--target",
            value=str(final),
        )
