"""The registry the gate talks to, and the pipeline run it works in: two small Protocols.

Why Protocols: the gate's flow (read the challenger, upload, look up the champion, decide,
register a winner, record) is the same whether the registry is Azure ML's (the real
`azureml-core`, or the local workspace under `mock_azureml()`), the local workspace's own
classes, or an MLflow server. Each backend implements `Registry` and `ParentRun` once, in its
own module (`registry/azureml.py`, `registry/local.py`, the `registry/mlflow/` package), and
`champion.context` builds the pair for a process. Nothing above this package imports a backend;
`make lint` holds that.

The contract (what every backend must do; the gate relies on each point):

- **Fail closed.** Only "there is no such model / version" is an answer (`None`, `False`);
  every other failure raises `InfrastructureError` (after the backend's retries of transient
  failures, each remote call in one retry loop, never nested) or the backend's own
  `ChampionError`. A lookup that cannot tell "none" from "failed" must raise.
- **One call registers.** `Registry.register` stores the version with all of `NewVersion`'s
  metadata at once: a crash leaves no version without its metric. A retried call that the
  service had committed before the client lost the answer returns that version, never a
  second one (`registered_by` is the check).
- **The champion** is the version the backend serves as current: Azure ML and the local
  workspace take the latest version of the name (`Model(ws, name)`); MLflow takes the version
  holding the `champion` alias, and its `register` moves the alias after creating the version.
- **Racing gates converge.** `serialised()` holds the registry while the gate re-reads the
  champion, decides and registers, where the backend can (the local workspace: one SQLite write
  transaction). Where it cannot (Azure ML, MLflow), it holds nothing, and after registering the
  gate calls `converge`: when another gate decided in between, the backend makes the registry
  end where a serial order would have put it, by the one rule in `champion.registry._race`
  (the best of the racing decisions, ties to the earliest): MLflow moves its alias there; Azure
  ML registers the best one's files again as the newest version (`race_repaired`), as a
  rollback does. Every gate applies the same rule, so concurrent repairs agree, and a second
  repair changes nothing. `RaceReport` is what the gate saw and repaired, for its record.
- **Metadata is strings.** `ModelVersion.properties` is the version's stored metadata as the
  backend returns it (Azure ML properties, MLflow version tags); the gate parses the metric out
  of it with the policy, so a policy with several metrics or a test-data identity
  (`champion.test_data_sha256`) needs no new backend call.
- **Runs** (`ParentRun`): the pipeline run the step belongs to, its step runs (MLflow: the
  runs whose `mlflow.parentRunId` tag names it), its files (artifacts) and tags. The gate
  uploads the model and the decision record to it; `register` links the version to it. An
  upload to a name the run already holds raises `ArtifactConflict` where the backend refuses
  to overwrite (Azure ML, the local workspace: `overwrites` False); there the gate uploads to a
  run no attempt has recorded on without listing its files first, and lists them only when a
  name turns out to be taken (a retried step). MLflow overwrites: the listing comes first.
- **Decisions are on runs.** Every decision, a rejection included, is a record artifact
  (`outputs/champion_decision.json`, `.<n>.json` for a retry that decided differently:
  `champion.names.record_names`) on the run that made it, and that run is tagged with the
  model's name (`champion.names.MODEL_TAG`, set with the other `champion.*` tags from the
  record). A decision made outside a pipeline gets a run of its own (`decision_run`).
  The record and its tags are written by `ParentRun.add_record`: record first, then tags, in
  one commit where the backend has transactions (the local workspace).
  `decisions(name)` finds the runs by that tag (a query, never a scan of every run's files)
  and reads their records: it is the model's whole history, the versions being only its
  winners. A backend reuses `champion.registry._decisions` to read a run's records.
- **Verified downloads.** `download` writes a version's files and checks them against the
  version's stored `artifact_sha256` before returning; a version without one cannot be
  verified and is refused. Nothing downloaded is ever deserialised unless it was verified
  (`--rescore-champion`, the score step, `champion serve` and `champion models convert-onnx`
  load a model only after this check).
- **Rollback** (`make_champion`) makes an earlier version the champion again, keeping history.
  Azure ML and the local workspace, where the champion is the latest version, register that
  version's files again as a NEW version carrying `ChampionChange.properties` (its original
  metric and test-data properties, `champion.outcome=rolled_back`, `champion.rollback_of`),
  through a run of the `champion-rollback` experiment (`decision_run`) that holds the decision
  record (`ChampionChange.record`). **MLflow** does NOT
  create a version: it moves the `champion` alias to `version` (the alias history is the
  history), writes `ChampionChange.properties` that describe the event as tags of that version
  only where they do not overwrite its original metric, and calls `record` with an MLflow run
  it creates for the record; it returns `version`. Every backend refuses with ConflictError
  when the champion is no longer `ChampionChange.expected_champion` when it is about to act.
- **Datasets** (`dataset`): a registered tabular dataset by name and version, read into a
  frame with its content digest where the backend stores one (`champion.content_sha256`), for
  `--test-data dataset:NAME[:VERSION]` and the score step's `--data dataset:NAME[:VERSION]`.
  A backend without a dataset registry (MLflow) raises InputError saying to pass a file instead.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from champion import names
from champion._failpoints import failpoint
from champion.registry._race_report import NO_RACE, RaceRepair, RaceReport

if TYPE_CHECKING:
    from champion.decision import Policy

__all__ = [
    "NO_RACE",
    "ArtifactConflict",
    "BackendOptions",
    "ChampionChange",
    "DatasetVersion",
    "DecisionEntry",
    "ModelVersion",
    "NewVersion",
    "ParentRun",
    "RaceRepair",
    "RaceReport",
    "Registry",
    "StepRun",
    "record_then_tags",
]

LATEST_VERSION_RULE = "the latest version"
"""`Registry.champion_rule` of a backend whose champion is the newest version (Azure ML, local)."""


class ArtifactConflict(Exception):
    """An upload named an artifact the run already holds (the service refuses to overwrite).

    Not a ChampionError: it is a signal between a backend and the gate, which answers it by
    listing the run's files (a retried step); it never reaches a user as such."""

    def __init__(self, names: Sequence[str]) -> None:
        super().__init__(f"{', '.join(names)}: already exists on the run (no overwrite)")
        self.names = list(names)


@dataclass(frozen=True)
class BackendOptions:
    """What a backend is asked to do beyond the Protocol, from the step's or the CLI's flags.

    Only MLflow has these: the alias that names the champion (`--champion-alias`, default
    `champion`) and a stage to transition a winner to (`--stage`). A backend that cannot honour
    a value refuses it before anything is read or written (`champion.context`)."""

    champion_alias: str | None = None
    stage: str | None = None

    @property
    def given(self) -> list[str]:
        """The flags set, as the user typed them: for the refusal's message."""
        return [
            flag
            for flag, value in (("--champion-alias", self.champion_alias), ("--stage", self.stage))
            if value is not None
        ]


@dataclass(frozen=True)
class ModelVersion:
    """One registered version as the backend stores it: the champion, an earlier registration
    of this run, or a line of a model's history."""

    name: str
    version: int
    properties: Mapping[str, str] = field(default_factory=dict)
    tags: Mapping[str, str] = field(default_factory=dict)
    run_id: str | None = None
    created: datetime | None = None


@dataclass(frozen=True)
class DecisionEntry:
    """One decision on a model, as its record on a run says it: a line of the model's history.

    Values stay the record's exact strings (`challenger`, `champion`), never re-rounded floats.
    `outcome` is the record's own string, so outcomes this version does not know (a dry run's
    `would_promote` / `would_reject`, a rollback's `rolled_back`) pass through unchanged. For a
    policy of several metrics, `metric`, `challenger` and `champion` are the primary metric's
    (the first in the policy); `record` has all of it. `record_name` is the artifact on the run
    (None for a line made from a version's own metadata, when no record of it exists)."""

    time: datetime | None
    """When the gate decided (UTC): the record's `decided_at`, else the run's start."""
    run_id: str | None
    outcome: str
    metric: str
    challenger: str | None
    champion: str | None
    champion_version: int | None
    registered_version: int | None
    build_number: str | None
    reason: str | None
    policy: Mapping[str, object] = field(default_factory=dict)
    record: Mapping[str, object] = field(default_factory=dict)
    record_name: str | None = None
    alias_move: tuple[int | None, int] | None = None
    """MLflow: the alias move this decision made, (from, to), as its record says (`from` None:
    no version held the alias). None when none was recorded: history never infers one."""


@dataclass(frozen=True)
class StepRun:
    """A step run of the pipeline run, as one listing returns it (no further call per run). A
    tag set without a value is None.

    `metrics` holds what the backend lists with the run at no extra cost (MLflow's run data);
    empty where the listing carries tags only (Azure ML, the local workspace)."""

    id: str
    name: str
    tags: Mapping[str, str | None]
    metrics: Mapping[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class NewVersion:
    """What one registration stores, all in the one call.

    `run` is the pipeline run the files were uploaded to and `path` their prefix on it
    (`outputs/<name>`); with no run, `path` is a local file or folder registered at workspace
    level (`champion register`)."""

    name: str
    path: str
    run: ParentRun | None
    properties: Mapping[str, str]
    tags: Mapping[str, str]
    description: str
    framework: str = "Custom"
    framework_version: str | None = None


@dataclass(frozen=True)
class ChampionChange:
    """What `Registry.make_champion` stores when it makes an earlier version the champion.

    `properties` and `tags` go on the new version (latest-is-champion backends) all in one
    call; `expected_champion` is the champion the caller saw (a different one when the backend
    is about to act is a ConflictError: someone registered meanwhile); `record` writes the
    decision record on the run the backend made for the change, given the version that is now
    the champion."""

    properties: Mapping[str, str]
    tags: Mapping[str, str]
    description: str
    expected_champion: int | None
    record: Callable[[ParentRun, int], None] | None = None
    experiment: str = names.ROLLBACK_EXPERIMENT
    """The experiment of the run the backend makes for the change (a race repair's own)."""


@dataclass(frozen=True)
class DatasetVersion:
    """A registered tabular dataset version, read: its rows (a pandas DataFrame) and the
    content digest stored with it (None where the backend stores none, as Azure ML itself)."""

    name: str
    version: int
    frame: Any
    sha256: str | None


@runtime_checkable
class ParentRun(Protocol):
    """The pipeline run a register step belongs to. Calls are one round trip each and are not
    retried here: the caller wraps each in its one retry loop (`champion._retry`)."""

    @property
    def id(self) -> str:
        """The run's id, as the registry records it on a version (`run_id`)."""
        ...

    @property
    def tags(self) -> Mapping[str, str | None]:
        """The tags as loaded with the run (no round trip); `get_tags` reads them afresh."""
        ...

    @property
    def metrics(self) -> Mapping[str, float]:
        """Metrics loaded with the run at no extra cost; empty where the backend has none."""
        ...

    def get_tags(self) -> Mapping[str, str | None]:
        """The run's tags, read now."""
        ...

    def step_runs(self) -> Sequence[StepRun]:
        """The run's direct children, in one listing."""
        ...

    def file_names(self) -> list[str]:
        """Every artifact name on the run (`outputs/...`)."""
        ...

    @property
    def overwrites(self) -> bool:
        """Whether an upload replaces an artifact of the same name (MLflow) rather than being
        refused with ArtifactConflict (Azure ML, the local workspace). Where it replaces, the
        gate never uploads a name without having listed the run's files first."""
        ...

    def upload_file(self, name: str, path: Path) -> None:
        """Store the local file `path` as artifact `name`; an existing `name` raises
        ArtifactConflict unless the backend `overwrites`."""
        ...

    def upload_bytes(self, name: str, data: bytes) -> None:
        """Store `data` as artifact `name`, as `upload_file` does."""
        ...

    def upload_new(self, files: Mapping[str, Path | bytes], reserve: Sequence[str] = ()) -> None:
        """Store each (a local file, or bytes) as a new artifact, in one batch where the
        backend has one (Azure ML: one create call for all, then the transfers). An existing
        name raises ArtifactConflict; what of the batch was stored then is unspecified (the
        caller lists the run's files and goes on from what is there).

        `reserve`: names whose content is not known yet (a winner's decision record, which
        names the version the registration returns), to be written later by `upload_bytes` on
        this same object. Azure ML creates them in this batch, empty, and `upload_bytes` then
        only transfers the bytes: one create call fewer. Until then the name holds an empty
        artifact, which readers of records take as absent (as a failed transfer's leftover).
        A backend without batches may ignore it; `upload_bytes` then creates the name."""
        ...

    def download_file(self, name: str, target: Path) -> None:
        """Write artifact `name` to the local file `target`."""
        ...

    def set_tags(self, tags: Mapping[str, str]) -> None:
        """Add or replace these tags in one call."""
        ...

    def remove_tags(self, keys: Sequence[str]) -> None:
        """Remove these tags in one call."""
        ...

    def add_record(
        self, name: str, data: bytes, tags: Mapping[str, str], untag: Sequence[str]
    ) -> None:
        """Store the decision record `data` as the new artifact `name` (ArtifactConflict when
        the name is taken, as `upload_bytes`), then tag the run from it: set `tags`, then
        remove `untag`. The record is stored before any tag changes; the failpoint
        `record.uploaded` fires once it is durable. A backend that can write both in one
        transaction (the local workspace) does, so no crash leaves the record without its
        tags; the others make the calls in that order (`record_then_tags`)."""
        ...


def record_then_tags(
    run: ParentRun, name: str, data: bytes, tags: Mapping[str, str], untag: Sequence[str]
) -> None:
    """`ParentRun.add_record` as separate calls, for a backend without transactions: the
    upload, the failpoint, then the tags. A crash in between leaves the previous tags and a
    newer record (see `champion.record.write_record` for how readers and retries take it)."""
    run.upload_bytes(name, data)
    failpoint("record.uploaded")
    run.set_tags(tags)
    if untag:
        run.remove_tags(untag)


@runtime_checkable
class Registry(Protocol):
    """The model registry of one workspace, as the gate needs it. See the module docstring for
    the contract every implementation keeps."""

    @property
    def champion_rule(self) -> str:
        """How `champion` chooses, in words, for the decision record (`champion_rule`): "the
        latest version", or on MLflow "the version holding alias 'champion'" (or the latest
        version where the server has no aliases; known after the first lookup)."""
        ...

    def champion(self, name: str) -> ModelVersion | None:
        """The current champion of `name`.

        Returns:
            The champion's version with its stored metadata, or None when no version of `name`
            exists. Any other failure raises InfrastructureError saying nothing was registered.
        """
        ...

    def registered_by(self, name: str, run_id: str) -> ModelVersion | None:
        """Whether the run `run_id` already registered `name` (a retried step).

        Returns:
            The newest version of `name` whose run is `run_id`, or None.
        """
        ...

    def register(self, new: NewVersion) -> int:
        """Register `new` with all its metadata in one call.

        Returns:
            The version number the registry gave it. A retry after a lost answer returns the
            version the service had committed (found with `registered_by`), never a second.
        """
        ...

    def serialised(self) -> AbstractContextManager[None]:
        """Hold the registry for a read-decide-register section, where the backend can; a
        no-op where it cannot (then `converge` settles what happened)."""
        ...

    def staged(self, paths: Sequence[Path]) -> AbstractContextManager[None]:
        """Copy these local files into the backend before `serialised()` is taken, where the
        backend can, so the lock is never held while a large model is copied."""
        ...

    def alias_move(self, name: str, version: int) -> Mapping[str, Any] | None:
        """The move of the alias that names the champion which this registry made to
        `version` (MLflow: `{"alias", "from", "to"}`), for the decision record; history shows
        recorded moves only. None when it made none, and on the backends whose champion is the
        latest version, where registering is the whole change."""
        ...

    def converge(
        self,
        name: str,
        registered: int,
        policy: Policy,
        seen: ModelVersion | int | None,
        record_repair: Callable[[ParentRun, RaceRepair], None] | None = None,
    ) -> RaceReport:
        """After registering `registered`, settle any race it was part of: see "Racing gates
        converge" above. `seen` is the champion the gate compared with, as it read it (None:
        none); a retried step that did not read it passes its number. `record_repair` writes
        the decision record of a repair that registered a version (latest-is-champion
        backends), on the run that holds it.

        Returns:
            What was seen and repaired (`NO_RACE` when no other gate decided in between).
            Failures raise InfrastructureError; the caller says where the champion stands.
        """
        ...

    def versions(self, name: str) -> list[ModelVersion]:
        """Every live version of `name`, oldest first, each with its stored metadata.

        Returns:
            The versions, or an empty list when `name` has none.
        """
        ...

    def decisions(self, name: str) -> Sequence[DecisionEntry]:
        """Every decision recorded on `name`, rejections included, oldest first: the records
        on the runs tagged `MODEL_TAG=name` (see "Decisions are on runs" above). A run whose
        record names another model contributes nothing; a record that is not JSON raises
        InfrastructureError naming the run and the artifact (a history with a hole is not
        shown as whole).

        Returns:
            The entries, or an empty sequence when nothing was decided on `name`.
        """
        ...

    def decision_run(self, experiment: str, display_name: str) -> AbstractContextManager[ParentRun]:
        """A run of its own for a decision made outside a pipeline (`champion register`; a
        rollback), in `experiment`: started on entry, completed on exit, failed when the block
        raises. The gate writes the record to it exactly as to a pipeline run."""
        ...

    def download(self, name: str, version: int, target: Path) -> Path:
        """Write the files of `name`:`version` under the empty folder `target`, verified
        against the version's stored `artifact_sha256` before this returns.

        Returns:
            The downloaded file (a one-file model) or folder. Raises InputError when the
            version does not exist or has no `artifact_sha256`, WorkspaceStoreError /
            InfrastructureError when the bytes do not match (nothing usable is left).
        """
        ...

    def make_champion(self, name: str, version: int, change: ChampionChange) -> int:
        """Make the earlier version `version` of `name` the champion again (a rollback); see
        the module docstring for what each backend does.

        Returns:
            The version that is the champion now: a new version on Azure ML and the local
            workspace, `version` itself on MLflow.
        """
        ...

    def dataset(self, name: str, version: int | None) -> DatasetVersion:
        """The registered tabular dataset `name` (`version`, or the latest when None), read.

        Returns:
            Its rows and content digest. Raises InputError when there is no such dataset.
        """
        ...
