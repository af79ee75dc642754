"""`MlflowRegistry`: the `Registry` Protocol over an MLflow model registry (see the package)."""

from __future__ import annotations

import contextlib
import functools
import os
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from champion import names
from champion._failpoints import failpoint
from champion._retry import classify, describe, remote
from champion.errors import InfrastructureError, InputError
from champion.registry import (
    NO_RACE,
    ChampionChange,
    DatasetVersion,
    DecisionEntry,
    ModelVersion,
    NewVersion,
    ParentRun,
    RaceRepair,
    RaceReport,
)
from champion.registry.mlflow._alias import AliasKeeper
from champion.registry.mlflow._calls import (
    _ABSENT,
    _GATE_PREFIX,
    _NOT_FOUND,
    _PENDING,
    _PENDING_WAIT_S,
    ALIAS_PENDING,
    DEFAULT_ALIAS,
    MlflowCallError,
    ServerUnreachable,
    _found,
    _remote,
    _translated,
    check_alias,
    check_stage,
    version_of,
)
from champion.registry.mlflow._files import verified_files
from champion.registry.mlflow._history import decisions_of
from champion.registry.mlflow._race import AliasRace
from champion.registry.mlflow._rollback import Rollback
from champion.registry.mlflow.pipeline_runs import experiment_id, run_of
from champion.registry.mlflow.runs import (
    MlflowParentRun,
    MlflowWorkspace,
    _parent_run_of,
    artifact_path,
)

if TYPE_CHECKING:
    from champion.decision import Policy

# ---------------------------------------------------------------------- the registry


class MlflowRegistry(AliasKeeper):
    """The model registry of an MLflow server or database. MLflow has no registry lock:
    `serialised` holds nothing, and after the alias move `converge` settles any race
    (`_race`)."""

    def __init__(
        self, workspace: MlflowWorkspace, *, alias: str | None = None, stage: str | None = None
    ) -> None:
        self.workspace = workspace
        self.client = workspace.client
        self.alias = check_alias(alias) if alias is not None else DEFAULT_ALIAS
        self.stage = check_stage(stage) if stage is not None else None
        self.aliases_supported: bool | None = None  # known after the first alias call
        self._moves: dict[tuple[str, int], tuple[int | None, int]] = {}

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
        except ServerUnreachable:
            raise  # its one line says all, and nothing was tried
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

    def converge(
        self,
        name: str,
        registered: int,
        policy: Policy,
        seen: ModelVersion | int | None,
        record_repair: Callable[[ParentRun, RaceRepair], None] | None = None,
    ) -> RaceReport:
        """The alias to the best of the racing decisions (`_race`). A server without aliases
        takes the latest version: any version between is reported, nothing is moved."""
        if self.aliases_supported is False:
            compared = seen.version if isinstance(seen, ModelVersion) else seen
            between = [
                v.version for v in self.versions(name) if (compared or 0) < v.version < registered
            ]
            if not between:
                return NO_RACE
            return RaceReport(
                detected=True,
                window_from=compared,
                best=registered,
                note=f"versions {between} were registered meanwhile; this server has no model "
                "aliases, so the latest version is the champion and nothing was moved",
            )
        with self.after_move(name, registered):
            return AliasRace(self, name, policy).settle(registered, seen)

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
        tagged with the event; the record goes on a run of experiment `champion-rollback`
        (`champion.registry.mlflow._rollback`)."""
        return Rollback(self).make_champion(name, version, change)

    def decisions(self, name: str) -> Sequence[DecisionEntry]:
        """Every decision on `name`: the records on runs tagged with it (`_history`)."""
        return decisions_of(self, name)

    def dataset(self, name: str, version: int | None) -> DatasetVersion:
        """MLflow has no dataset registry: refused, before anything is read."""
        spec = f"dataset:{name}" + ("" if version is None else f":{version}")
        raise InputError(
            f"--test-data {spec}: MLflow has no dataset registry to read {name!r} from; pass "
            "--test-data PATH (a CSV file or a folder of CSV files) instead",
            field="--test-data",
            value=spec,
        )

    def decision_run(
        self, experiment: str, display_name: str
    ) -> contextlib.AbstractContextManager[MlflowParentRun]:
        """A run named `display_name` in `experiment` (created if new): FINISHED when the
        block ends, FAILED when it raises."""
        return decision_run_on(self.workspace, experiment, display_name, MlflowParentRun)

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
        first = names.PREVIOUS_VERSION not in new.properties
        if first and self.aliases_supported is not False:
            tags[ALIAS_PENDING] = "true"
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
        moved = self._move_alias(new.name, version)
        with self.after_move(new.name, version) if moved else contextlib.nullcontext():
            if first and ALIAS_PENDING in tags:
                self._clear_pending(new.name, version)
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


R = TypeVar("R")


@contextlib.contextmanager
def decision_run_on(
    workspace: MlflowWorkspace,
    experiment: str,
    display_name: str,
    wrap: Callable[[MlflowWorkspace, Any], R],
) -> Iterator[R]:
    """A run of its own for a decision (`Registry.decision_run`) on an MLflow server: the
    MLflow backend's and the v2 backend's (whose runs are the job's MLflow), `wrap` making the
    run class each one hands out."""
    exp = experiment_id(workspace, experiment)
    created = _remote(
        f"starting a run in experiment {experiment!r}",
        lambda: workspace.client.create_run(exp, run_name=display_name),
    )
    run = wrap(workspace, created)
    run_id = created.info.run_id
    try:
        yield run
    except BaseException:
        with contextlib.suppress(Exception):
            workspace.client.set_terminated(run_id, "FAILED")
        raise
    _remote(f"completing run {run_id}", lambda: workspace.client.set_terminated(run_id, "FINISHED"))
