"""The registry and run of any `azureml.core`-shaped backend: the real SDK and the local workspace.

Why shared: `champion.local` has the SDK's class names, signatures and exceptions, so the same
calls (`Model(ws, name)`, `Model.list`, `run.register_model`, `run.upload_file`) serve both, and
the rules written here (what "not found" is, how a lost registration is found, what a race is)
are written once. `registry/azureml.py` and `registry/local.py` give it the `Model` class and
what only their backend can do. This module imports no azureml: the class-name check below tells
the SDK's "not found" apart without it, so the local happy path never pays for the SDK.

Retries: every registry call here is one remote call in one retry loop (`champion._retry`). The
run adapter does not retry: its caller (the gate) wraps each run call in its own loop.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import uuid
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from champion import names
from champion._digest import sha256_file
from champion._retry import call_with_retry, classify, describe, failing_as_infrastructure, remote
from champion.errors import ConflictError, InfrastructureError, InputError
from champion.registry import (
    LATEST_VERSION_RULE,
    ChampionChange,
    DatasetVersion,
    DecisionEntry,
    ModelVersion,
    NewVersion,
    ParentRun,
    RaceRepair,
    RaceReport,
)
from champion.registry._decisions import entries_on_run, parse_time, sort_entries
from champion.registry._verified import artifact_digest_of, check_digest
from champion.registry.sdk_run import SdkRun, sdk_run_of

if TYPE_CHECKING:
    from champion.decision import Policy

__all__ = ["SdkRegistry", "artifact_digest_of", "is_model_not_found", "version_of"]


def is_model_not_found(exc: BaseException) -> bool:
    """The SDK's own test (`Model._resolve_to_models`): WebserviceException + 'ModelNotFound'.

    The SDK raises that, never `ModelNotFoundException`. Checked by class name and module so
    that the happy path never imports azureml; the local workspace raises the same class."""
    is_webservice = any(
        cls.__name__ == "WebserviceException" and cls.__module__.startswith("azureml.")
        for cls in type(exc).__mro__
    )
    return is_webservice and "ModelNotFound" in str(getattr(exc, "message", "") or "")


def version_of(model: Any) -> ModelVersion:
    """A registered model object of either face as the Protocol's plain value."""
    created = getattr(model, "created_time", None)
    return ModelVersion(
        name=str(model.name),
        version=int(model.version),
        properties={str(k): str(v) for k, v in (model.properties or {}).items()},
        tags={str(k): str(v) for k, v in (model.tags or {}).items()},
        run_id=None if model.run_id is None else str(model.run_id),
        created=created if isinstance(created, datetime) else None,
    )


# ---------------------------------------------------------------------- the registry


class SdkRegistry:
    """`Registry` over an SDK-shaped workspace and its `Model` class.

    Azure ML has no registry lock, so `serialised` holds nothing and `race_detected` probes the
    versions between; the local workspace overrides what it can do better."""

    def __init__(
        self,
        workspace: Any,
        model_class: Any,
        experiment_class: Any = None,
        dataset_class: Any = None,
    ) -> None:
        """`experiment_class` and `dataset_class` (the backend's `Experiment` and `Dataset`)
        are needed only by `decision_run` (and so `make_champion`) and `dataset`."""
        self.workspace = workspace
        self._model = model_class
        self._experiment = experiment_class
        self._dataset = dataset_class

    @property
    def champion_rule(self) -> str:
        return LATEST_VERSION_RULE

    def alias_move(self, name: str, version: int) -> None:
        return None  # the latest version is the champion: no alias to move

    # -- lookups: the ONE place that tells "no model" from "lookup failed"

    def _latest(self, name: str) -> Any:
        """`Model(ws, name)`: the latest version; raises the SDK's ModelNotFound if none (a
        backend that can answer "none" directly returns None instead)."""
        return self._model(self.workspace, name, expand=False)

    def _find(self, action: str, fetch: Any) -> Any:
        """`fetch()` in one retry loop; the SDK's own not-found is None, nothing else is."""

        def attempt() -> Any:
            try:
                return fetch()
            except Exception as exc:
                if is_model_not_found(exc):
                    return None
                raise

        return call_with_retry(action, attempt)

    def champion(self, name: str) -> ModelVersion | None:
        action = f"looking up the champion model {name!r}"
        try:
            model = self._find(action, lambda: self._latest(name))
        except InfrastructureError as exc:  # transient failures, retried until exhausted
            raise InfrastructureError(
                f"{exc.message}; nothing was registered", field="model_name", value=name
            ) from exc
        except Exception as exc:
            raise InfrastructureError(
                f"{action} failed ({describe(exc, classify(exc)[2])}); nothing was registered. "
                "Check the workspace connection and permissions, then retry.",
                field="model_name",
                value=name,
            ) from exc
        return None if model is None else version_of(model)

    def converge(
        self,
        name: str,
        registered: int,
        policy: Policy,
        seen: ModelVersion | int | None,
        record_repair: Callable[[ParentRun, RaceRepair], None] | None = None,
    ) -> RaceReport:
        """Azure ML has no registry lock: after registering, any live version between the
        champion compared with and ours was registered by someone else in between, and the
        latest version must then be the best of the racing decisions (`sdk_race`)."""
        from champion.registry.sdk_race import LatestRace

        return LatestRace(self, name, policy, record_repair).settle(registered, seen)

    def _version_or_none(self, name: str, version: int) -> ModelVersion | None:
        """`name`:`version` as stored, or None when there is none (deleted, never made)."""
        action = f"reading version {version} of {name!r}"
        with failing_as_infrastructure(action):
            found = self._find(
                action, lambda: self._model(self.workspace, name, version=version, expand=False)
            )
        return None if found is None else version_of(found)

    def _registered_by_once(self, name: str, run_id: str) -> ModelVersion | None:
        found = self._model.list(self.workspace, name=name, run_id=run_id, expand=False)
        return version_of(found[0]) if found else None

    def registered_by(self, name: str, run_id: str) -> ModelVersion | None:
        return remote(
            "checking for an earlier registration by this run",
            lambda: self._registered_by_once(name, run_id),
        )

    def versions(self, name: str) -> list[ModelVersion]:
        found = remote(
            f"listing the versions of {name!r}",
            lambda: self._model.list(self.workspace, name=name, expand=False),
        )
        return sorted((version_of(m) for m in found), key=lambda v: v.version)

    # -- decisions: records on runs, found by the model tag

    def decisions(self, name: str) -> Sequence[DecisionEntry]:
        """One run listing per experiment, filtered by the service on `MODEL_TAG=name`; then,
        per run found, its file listing and one download per record."""
        runs = remote(f"finding the runs that decided on {name!r}", lambda: self._tagged(name))
        entries: list[DecisionEntry] = []
        for run in runs:
            entries += remote(f"reading the decision records on run {run.id}", _reader(run, name))
        return sort_entries(entries)

    def _tagged(self, name: str) -> list[Any]:
        return [
            run
            for experiment in self.workspace.experiments.values()
            for run in experiment.get_runs(tags={names.MODEL_TAG: name})
        ]

    @contextlib.contextmanager
    def decision_run(self, experiment: str, display_name: str) -> Iterator[ParentRun]:
        run_id = str(uuid.uuid4())  # chosen here, so a retried start finds a committed one
        tried = False

        def start() -> Any:
            nonlocal tried
            if tried:
                with contextlib.suppress(Exception):
                    return self.workspace.get_run(run_id)
            tried = True
            # no snapshot of the working folder and no ./outputs upload: the run holds a record
            return self._experiment(self.workspace, experiment).start_logging(
                run_id=run_id, display_name=display_name, snapshot_directory=None, outputs=False
            )

        run = remote(f"starting a run in experiment {experiment!r}", start)
        try:
            yield SdkRun(run)
        except BaseException:
            with contextlib.suppress(Exception):
                run.fail()
            raise
        remote(f"completing run {run_id}", run.complete)

    # -- writes

    def register(self, new: NewVersion) -> int:
        """One call carries everything: a crash can leave no version without its metric."""
        if new.run is None:
            return self._register_file(new)
        run = sdk_run_of(new.run)
        run_id = new.run.id
        tried = False

        def attempt() -> int:
            nonlocal tried
            if tried:  # a registration that timed out may have been committed by the service
                earlier = self._registered_by_once(new.name, run_id)
                if earlier is not None:
                    return earlier.version
            tried = True
            return self._register_with_run(run, new)

        return remote(f"registering {new.name}", attempt)

    def _register_with_run(self, run: Any, new: NewVersion) -> int:
        """One attempt at registering `new` from the files its run holds: `Run.register_model`
        (the Azure ML backend trims the calls it makes that the service does not need)."""
        model = run.register_model(
            model_name=new.name,
            model_path=new.path,
            tags=dict(new.tags),
            properties=dict(new.properties),
            model_framework=new.framework,
            model_framework_version=new.framework_version,
            description=new.description,
        )
        return int(model.version)

    def _register_file(self, new: NewVersion) -> int:
        """Workspace-level `Model.register`: a model trained outside a pipeline, no run."""
        model_path = Path(new.path).resolve()
        # Model.register only accepts paths under the working directory (azureml-core 1.61).
        with contextlib.chdir(model_path.parent):
            model = remote(
                f"registering {new.name}",
                lambda: self._model.register(
                    self.workspace,
                    model_path=model_path.name,
                    model_name=new.name,
                    tags=dict(new.tags),
                    properties=dict(new.properties),
                    description=new.description,
                    model_framework=new.framework,
                    model_framework_version=new.framework_version,
                ),
            )
        return int(model.version)

    def serialised(self) -> contextlib.AbstractContextManager[None]:
        return contextlib.nullcontext()

    def staged(self, paths: Sequence[Path]) -> contextlib.AbstractContextManager[None]:
        return contextlib.nullcontext()

    # -- verified downloads, rollback, datasets

    def _version(self, name: str, version: int) -> Any:
        """The SDK's model object of `name`:`version`; InputError when there is none."""
        action = f"looking up {name}:{version}"
        with failing_as_infrastructure(action):
            found = self._find(
                action, lambda: self._model(self.workspace, name, version=version, expand=False)
            )
        if found is None:
            raise InputError(
                f"there is no version {version} of model {name!r}; "
                f"'champion models history {name}' lists the versions",
                field="version",
                value=version,
            )
        return found

    def download(self, name: str, version: int, target: Path) -> Path:
        """`Model.download` into `target`, then every file written hashed and the whole
        compared with `artifact_sha256` (the rule `champion models download` follows)."""
        model = self._version(name, version)
        expected = artifact_digest_of(model, name, version)
        written = Path(
            remote(
                f"downloading {name}:{version}",
                lambda: model.download(target_dir=str(target), exist_ok=True),
            )
        )
        files = {
            Path(current, file).relative_to(target).as_posix(): sha256_file(Path(current, file))
            for current, _, found in os.walk(target)
            for file in found
        }
        check_digest(files, expected, name, version)
        return written

    def make_champion(self, name: str, version: int, change: ChampionChange) -> int:
        """Latest-is-champion: the files of `version` registered again as a new version,
        through a run of the rollback experiment (`decision_run`) that also holds the decision
        record."""
        earlier = self._version(name, version)
        with tempfile.TemporaryDirectory(prefix="champion-rollback-") as tmp:
            downloaded = self.download(name, version, Path(tmp) / "files")
            files = (
                [(downloaded.name, downloaded)]
                if downloaded.is_file()
                else sorted(
                    (path.relative_to(downloaded).as_posix(), path)
                    for path in downloaded.rglob("*")
                    if path.is_file()
                )
            )
            what = "rollback" if change.experiment == names.ROLLBACK_EXPERIMENT else "race repair"
            with self.decision_run(change.experiment, f"{what} {name}") as run:
                sdk = sdk_run_of(run)
                prefix = names.model_prefix(name)
                for relative, path in files:
                    remote(f"uploading {relative}", _uploader(sdk, f"{prefix}/{relative}", path))
                with self.serialised():
                    now = self.champion(name)
                    if (now.version if now else None) != change.expected_champion:
                        raise ConflictError(
                            f"the champion of {name!r} changed from v{change.expected_champion} "
                            f"to v{now.version if now else None} during the {what}; nothing "
                            "was registered. Look at 'champion models history', then run the "
                            "rollback again if it is still wanted.",
                            field="name",
                            value=name,
                        )
                    model = remote(
                        f"registering {name}",
                        lambda: sdk.register_model(
                            model_name=name,
                            model_path=prefix,
                            tags=dict(change.tags),
                            properties=dict(change.properties),
                            description=change.description,
                            model_framework=earlier.model_framework,
                            model_framework_version=earlier.model_framework_version,
                        ),
                    )
                new = int(model.version)
                if change.record is not None:
                    change.record(run, new)
        return new

    def dataset(self, name: str, version: int | None) -> DatasetVersion:
        def fetch() -> Any:
            try:
                return self._dataset.get_by_name(
                    self.workspace, name, version="latest" if version is None else version
                )
            except Exception as exc:
                if type(exc).__name__ == "UserErrorException":
                    return None
                raise

        with failing_as_infrastructure(f"reading dataset {name!r}"):
            found = call_with_retry(f"reading dataset {name!r}", fetch)
        if found is None:
            what = f"{name}:{version}" if version is not None else f"{name} (latest)"
            raise InputError(
                f"there is no registered dataset {what} in this workspace; register it first, "
                "or pass a CSV file instead",
                field="dataset",
                value=what,
            )
        if not callable(getattr(found, "to_pandas_dataframe", None)):
            raise InputError(
                f"dataset {name}:{found.version} is a file dataset; a tabular dataset "
                "(Dataset.Tabular.from_delimited_files) is needed here",
                field="dataset",
                value=name,
            )
        frame = remote(f"reading dataset {name}:{found.version}", found.to_pandas_dataframe)
        stored = (getattr(found, "_properties", None) or {}).get("champion.content_sha256")
        # after the read: files changed before or while it ran are refused, so the digest
        # recorded is that of the rows read
        checked = self._checked_dataset_digest(name, int(found.version))
        digest = checked or (str(stored) if stored else None)
        return DatasetVersion(name, int(found.version), frame, digest)

    def _checked_dataset_digest(self, name: str, version: int) -> str | None:
        """The version's content digest checked against its files now (InputError if they
        changed since it was registered), where the backend can hash them; None where it
        cannot (Azure ML: the files are the service's)."""
        return None


def _uploader(run: Any, name: str, path: Path) -> Any:
    def upload() -> Any:
        return run.upload_file(name, str(path))

    return upload


def _reader(run: Any, name: str) -> Callable[[], list[DecisionEntry]]:
    return lambda: entries_on_run(SdkRun(run), name, started=lambda: _started(run))


def _started(run: Any) -> datetime | None:
    """A run's start time, for a record written before records carried `decided_at`."""
    details = run.get_details() or {}
    return parse_time(details.get("startTimeUtc"))
