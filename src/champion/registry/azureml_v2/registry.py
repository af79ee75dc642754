"""`AzureMLV2Registry`: the `Registry` Protocol over Azure ML through SDK v2 (see the package).

The champion is the latest live version, as on v1: the most recently created active version
(`_sdk.Models.newest_live`). A registration is ONE PUT of an explicit version, carrying every
property: the number after the champion it was decided against, and the container's
`nextVersion` only when the service refuses that number (a newer version was archived or
deleted, or another gate took it). The files are the pipeline run's artifacts the gate uploaded
(`azureml://jobs/<run>/outputs/artifacts/paths/outputs/<name>`), so the version links to the run
(`jobName`) and nothing is uploaded twice.

What the SDK's auto-increment cannot give, the gate gets here:

- **a lost answer** (a timeout after the service committed the PUT): the next attempt GETs the
  version it sent; if that version's `champion.parent_run_id` and `artifact_sha256` are ours,
  it is ours and is returned; if it does not exist, the same PUT is sent again;
- **a race** (another gate took the number before our PUT): the service refuses the PUT because
  the version's path or properties cannot change. Then `nextVersion` is read and the PUT goes
  to the new number; `converge` sees the other gate's version between the champion
  compared with and ours, settles the race as on v1, and the record says so.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from champion import names
from champion._retry import call_with_retry, failing_as_infrastructure, remote
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
from champion.registry._verified import artifact_digest_of, check_digest, file_digests
from champion.registry.azureml_v2._sdk import Models, entity_of, is_not_found, rest_body
from champion.registry.azureml_v2.runs import AzureMLV2Workspace, V2ParentRun
from champion.registry.mlflow._calls import _remote
from champion.registry.mlflow._history import decisions_of
from champion.registry.mlflow.registry import decision_run_on

if TYPE_CHECKING:
    from champion.decision import Policy

__all__ = ["AzureMLV2Registry", "job_artifacts_uri"]

_OWNER_KEYS = (names.PARENT_RUN_ID, names.ARTIFACT_SHA256)


def job_artifacts_uri(run_id: str, path: str) -> str:
    """The files `path` (`outputs/iris`) of job `run_id`, as a model version names them."""
    return f"azureml://jobs/{run_id}/outputs/artifacts/paths/{path.strip('/')}"


def version_of(model: Any) -> ModelVersion:
    """The SDK's `Model` (or a REST version) as the Protocol's plain value."""
    if not hasattr(model, "creation_context"):
        model = entity_of(model)
    created = getattr(getattr(model, "creation_context", None), "created_at", None)
    return ModelVersion(
        name=str(model.name),
        version=int(model.version),
        properties={str(k): str(v) for k, v in (model.properties or {}).items()},
        tags={str(k): str(v) for k, v in (model.tags or {}).items()},
        run_id=str(model.job_name) if getattr(model, "job_name", None) else None,
        created=created if isinstance(created, datetime) else None,
    )


class AzureMLV2Registry:
    """The model registry of an Azure ML workspace through azure-ai-ml, with the runs and
    records of its jobs through MLflow. No registry lock: `serialised` holds nothing and
    `converge` settles any race afterwards, as on v1."""

    run_class = V2ParentRun

    def __init__(self, workspace: AzureMLV2Workspace) -> None:
        self.v2 = workspace
        self.workspace = workspace.mlflow  # what the MLflow history reader needs
        self.client = workspace.mlflow.client
        self._models: Models | None = None

    @property
    def models(self) -> Models:
        if self._models is None:
            self._models = Models(self.v2.ml_client)
        return self._models

    @property
    def champion_rule(self) -> str:
        return LATEST_VERSION_RULE

    def alias_move(self, name: str, version: int) -> None:
        return None  # the latest version is the champion: no alias to move

    # -- lookups

    def champion(self, name: str) -> ModelVersion | None:
        action = f"looking up the champion model {name!r}"
        try:
            found = remote(action, lambda: self.models.newest_live(name))
        except InfrastructureError as exc:
            raise InfrastructureError(
                f"{exc.message}; nothing was registered. Check the workspace, its credentials "
                "and permissions, then retry.",
                field="model_name",
                value=name,
            ) from exc
        return None if found is None else version_of(found)

    def registered_by(self, name: str, run_id: str) -> ModelVersion | None:
        found = remote(
            "checking for an earlier registration by this run",
            lambda: self.models.with_property(name, names.PARENT_RUN_ID, run_id),
        )
        return None if found is None else version_of(found)

    def converge(
        self,
        name: str,
        registered: int,
        policy: Policy,
        seen: ModelVersion | int | None,
        record_repair: Callable[[ParentRun, RaceRepair], None] | None = None,
    ) -> RaceReport:
        """As on v1 (the champion is the latest version here too): any version between the
        champion compared with and ours is another gate's, and the latest must then be the
        best of the racing decisions (`sdk_race`; one GET a version, none without a race)."""
        from champion.registry.sdk_race import LatestRace

        return LatestRace(self, name, policy, record_repair).settle(registered, seen)

    def _version_or_none(self, name: str, version: int) -> ModelVersion | None:
        found = remote(
            f"reading version {version} of {name!r}",
            lambda: self.models.get(name, version),
        )
        return None if found is None else version_of(found)

    def versions(self, name: str) -> list[ModelVersion]:
        def listing() -> list[Any]:
            try:
                return list(self.v2.ml_client.models.list(name))
            except Exception as exc:
                if is_not_found(exc):
                    return []
                raise

        found = remote(f"listing the versions of {name!r}", listing)
        return sorted((version_of(m) for m in found), key=lambda v: v.version)

    def decisions(self, name: str) -> Sequence[DecisionEntry]:
        """Every run of the workspace tagged `champion.model=<name>`, v1's and v2's alike (one
        MLflow run search), and the records on each."""
        return decisions_of(self, name, run_class=V2ParentRun)

    # -- runs

    def decision_run(
        self, experiment: str, display_name: str
    ) -> contextlib.AbstractContextManager[V2ParentRun]:
        """A job of its own (an MLflow run in `experiment`): FINISHED when the block ends,
        FAILED when it raises."""
        return decision_run_on(self.workspace, experiment, display_name, V2ParentRun)

    # -- writes

    def register(self, new: NewVersion) -> int:
        """One PUT with everything (see the module docstring for lost answers and races)."""
        if new.run is not None:
            return self._register_from(new, new.run.id, new.path)
        # a model trained outside a pipeline: its files go to the run holding the decision's
        # record (`decision_run`), so the version links to a job as a pipeline's does
        record_run = new.properties.get(names.PARENT_RUN_ID)
        if record_run:
            run = V2ParentRun(
                self.workspace, _remote("loading the run", lambda: self.client.get_run(record_run))
            )
            return self._register_local(new, run)
        with self.decision_run(names.REGISTER_EXPERIMENT, f"register {new.name}") as own:
            return self._register_local(new, own)

    def _register_local(self, new: NewVersion, run: V2ParentRun) -> int:
        prefix = names.model_prefix(new.name)
        _upload_local(run, Path(new.path), prefix)
        return self._register_from(new, run.id, prefix)

    def _register_from(self, new: NewVersion, run_id: str, path: str) -> int:
        uri = job_artifacts_uri(run_id, path)
        properties = dict(new.properties)
        properties.setdefault(names.PARENT_RUN_ID, run_id)
        sent: list[int] = []  # the version the last attempt sent
        guess = [_number_after(properties.get(names.PREVIOUS_VERSION))]

        def attempt() -> int:
            if sent:  # the last PUT may have landed before its answer was lost
                landed = self.models.get(new.name, sent[-1])
                if landed is not None and _is_ours(landed, properties):
                    return sent[-1]
                if landed is not None:  # another gate took the number: read the next one
                    sent.clear()
            guessed = not sent and bool(guess)
            if not sent:
                sent.append(guess.pop() if guess else self.models.next_version(new.name))
            version = sent[-1]
            body = rest_body(new.name, version, uri, properties, dict(new.tags), new.description)
            try:
                self.models.put(new.name, version, body)
            except Exception as exc:
                if getattr(exc, "status_code", None) not in (400, 409):
                    raise
                taken = self.models.get(new.name, version)
                if taken is not None and _is_ours(taken, properties):
                    return version
                if taken is None and not guessed:
                    raise  # refused for a reason of its own: said as the service said it
                # the number is taken (its path or properties cannot change) or was deleted
                # (never created again): the next attempt reads nextVersion; the race check
                # reports what happened
                sent.clear()
                raise _Taken(version) from exc
            return version

        def with_retakes() -> int:
            for _ in range(5):
                try:
                    return attempt()
                except _Taken:
                    continue
            raise ConflictError(
                f"every version number tried for {new.name!r} was taken by another writer "
                "meanwhile; nothing was registered. Retry the step.",
                field="model_name",
                value=new.name,
            )

        return remote(f"registering {new.name}", with_retakes)

    def serialised(self) -> contextlib.AbstractContextManager[None]:
        return contextlib.nullcontext()

    def staged(self, paths: Sequence[Path]) -> contextlib.AbstractContextManager[None]:
        return contextlib.nullcontext()

    # -- verified downloads, rollback, datasets

    def _version(self, name: str, version: int) -> Any:
        action = f"looking up {name}:{version}"
        with failing_as_infrastructure(action):
            found = call_with_retry(action, lambda: self.models.get(name, version))
        if found is None:
            raise InputError(
                f"there is no version {version} of model {name!r}; "
                f"'champion models history {name}' lists the versions",
                field="version",
                value=version,
            )
        return entity_of(found)

    def download(self, name: str, version: int, target: Path) -> Path:
        """`models.download` into a temporary folder beside `target`, every file hashed and
        the whole compared with `artifact_sha256` before anything is moved into `target`."""
        model = self._version(name, version)
        expected = artifact_digest_of(model, name, version)
        target.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=target, prefix=".champion-download-") as tmp:
            remote(
                f"downloading {name}:{version}",
                lambda: self.v2.ml_client.models.download(name, str(version), download_path=tmp),
            )
            root = Path(tmp) / name  # the SDK writes <download_path>/<name>/<folder>/...
            files = file_digests(root)
            check_digest(files, expected, name, version)
            destination = target / name
            for relative in files:
                final = destination / _inside(relative, files)
                final.parent.mkdir(parents=True, exist_ok=True)
                os.replace(root / relative, final)
        return destination

    def make_champion(self, name: str, version: int, change: ChampionChange) -> int:
        """Latest-is-champion: the files of `version` (verified) go to a run of the rollback
        experiment and are registered again as a new version from there."""
        with tempfile.TemporaryDirectory(prefix="champion-rollback-") as tmp:
            downloaded = self.download(name, version, Path(tmp) / "files")
            with self.decision_run(names.ROLLBACK_EXPERIMENT, f"rollback {name}") as run:
                prefix = names.model_prefix(name)
                _upload_local(run, downloaded, prefix)
                now = self.champion(name)
                if (now.version if now else None) != change.expected_champion:
                    raise ConflictError(
                        f"the champion of {name!r} changed from v{change.expected_champion} "
                        f"to v{now.version if now else None} while rolling back; nothing was "
                        "registered. Look at 'champion models history', then run the rollback "
                        "again if it is still wanted.",
                        field="name",
                        value=name,
                    )
                new = NewVersion(
                    name=name,
                    path=prefix,
                    run=run,
                    properties={**change.properties, names.PARENT_RUN_ID: run.id},
                    tags=dict(change.tags),
                    description=change.description,
                )
                registered = self._register_from(new, run.id, prefix)
                if change.record is not None:
                    change.record(run, registered)
        return registered

    def dataset(self, name: str, version: int | None) -> DatasetVersion:
        """Data assets are not read by the v2 backend (a second large surface: MLTable,
        fsspec): refused before anything is read."""
        spec = f"dataset:{name}" + ("" if version is None else f":{version}")
        raise InputError(
            f"--test-data {spec}: the azureml-v2 backend does not read data assets; pass "
            "--test-data PATH (a CSV file or a folder of CSV files; in a v2 pipeline, an "
            "input of the step) instead",
            field="--test-data",
            value=spec,
        )


def _number_after(champion: str | None) -> int:
    """The version a registration tries first: the one after the champion it was decided
    against (1 for a first model). Right unless a version newer than the champion was archived
    or deleted, or another gate took the number: then the service refuses the PUT and
    `nextVersion` is read, so the common case saves that read."""
    return int(champion) + 1 if champion and champion.isdigit() else 1


class _Taken(Exception):
    """The version number a PUT used was taken by another writer (a signal within one
    registration)."""

    def __init__(self, version: int) -> None:
        super().__init__(f"version {version} is taken")
        self.version = version


def _is_ours(rest: Any, properties: dict[str, str]) -> bool:
    """Whether the stored version `rest` is the one these properties describe."""
    stored = entity_of(rest).properties or {}
    return all(stored.get(key) == properties.get(key) for key in _OWNER_KEYS)


def _inside(relative: str, files: dict[str, str]) -> str:
    """A downloaded file's name inside the model: the folder the SDK adds (the registered
    folder's own name) is left out, as `model_files_digest` leaves it out of the digest."""
    parts = [name.split("/") for name in files]
    if len({p[0] for p in parts}) == 1 and all(len(p) > 1 for p in parts):
        return relative.split("/", 1)[1]
    return relative


def _upload_local(run: V2ParentRun, local: Path, prefix: str) -> None:
    """The local model file or folder `local` as `<prefix>/...` on `run`."""
    files = [local] if local.is_file() else sorted(p for p in local.rglob("*") if p.is_file())
    for file in files:
        relative = file.name if file == local else file.relative_to(local).as_posix()
        name = f"{prefix}/{relative}"
        remote(f"uploading {relative}", lambda n=name, f=file: run.upload_file(n, f))  # type: ignore[misc]
