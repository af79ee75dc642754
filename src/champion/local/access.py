"""What champion's own layers use of a local workspace beyond the SDK's API, in one place.

Why: the `Workspace` class keeps exactly `azureml.core.Workspace`'s public members (a test holds
it to that), so the registry lock, staged uploads, the cheap latest-version lookup, the run
listing and maintenance that `champion.registry.local`, the CLI and the local pipeline runner
need cannot be methods there. Here they are functions over a `Workspace`, and nothing outside
`champion.local` touches the store behind it (`make lint` holds that).
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
from collections.abc import Iterator, Mapping, Sequence
from typing import IO, Any

from champion.errors import InputError
from champion.local._export import TargetExists
from champion.local.maintenance import DEFAULT_GRACE_SECONDS, GcReport, gc
from champion.local.model import Model, download_verified
from champion.local.run import Run
from champion.local.store import (
    INLINE_MAX,
    DatasetChanged,
    DeploymentConflict,
    DeploymentRecord,
    RunRecord,
    StagedBlob,
    Staging,
    Store,
)
from champion.local.workspace import Workspace

__all__ = [
    "PendingUploads",
    "TargetExists",
    "checked_dataset_digest",
    "collect_garbage",
    "deployment",
    "deployments",
    "download_verified",
    "find_run",
    "latest_model",
    "open_workspace",
    "prestaged",
    "register_from_run",
    "registry_transaction",
    "store_of",
    "top_level_runs",
    "upload_bytes",
]


def open_workspace(path: str | os.PathLike[str], *, read_only: bool) -> Workspace:
    """Open an existing workspace; `read_only` reads without writing a byte or taking the write
    lock (the CLI's listing, show, download and verify)."""
    return Workspace._open(path, read_only=read_only)


@contextlib.contextmanager
def registry_transaction(workspace: Workspace) -> Iterator[None]:
    """One SQLite write transaction (BEGIN IMMEDIATE) spanning the gate's lookup, decision and
    registration, so racing challengers are serialised and the final champion is the best."""
    with workspace._store.transaction():
        yield


def prestaged(
    workspace: Workspace, paths: Sequence[str | os.PathLike[str]]
) -> contextlib.AbstractContextManager[None]:
    """Stream and hash these files into the workspace's tmp/ now, before the registry is held;
    `Model.register` inside the transaction then takes the staged copies."""
    if not paths:
        return contextlib.nullcontext()
    return workspace._store.prestaged(paths)


class PendingUploads:
    """Files staged into a run's workspace now, whose artifact rows are written later by one
    commit together with what the gate writes next: the registration (a winner) or the
    decision record (any other outcome).

    Why: the slow part of an upload (reading, hashing, making the bytes durable) happens here,
    with no lock held, and the artifact rows then cost no commit (and no fsync) of their own.
    A crash in between leaves no artifact, only a staged temp file that gc clears, so "the
    model is on the run" still means "the step got as far as deciding"."""

    def __init__(self, run: Run) -> None:
        self._run = run
        self._stack = contextlib.ExitStack()
        self._session: Staging | None = None
        self._staged: list[tuple[str, StagedBlob]] = []

    def stage(self, name: str, path: str | os.PathLike[str], *, checked: bool = False) -> None:
        """What `run.upload_file(name, path)` does, but the artifact row waits for `publish`.
        A name the run already has is refused now, as upload_file refuses it, unless the caller
        has just `refuse_existing`-checked the whole batch (`checked`)."""
        if not checked:
            self._run._refuse_existing([name])
        self._staged.append((name, self._stage(os.fspath(path))))

    def refuse_existing(self, names: list[str]) -> None:
        """Refuse, as upload_file does, if the run already has any of `names`."""
        self._run._refuse_existing(names)

    def _stage(self, source: str | IO[bytes]) -> StagedBlob:
        if self._session is None:
            self._session = self._stack.enter_context(self._run._store.staging())
        return self._session.stage(source)

    def publish(self, record: tuple[str, bytes] | None = None) -> None:
        """Write the staged files' artifact rows, and `record` (name, a few KiB kept in the
        database) if given, in one transaction: all of them or none."""
        entries: list[tuple[str, str | None, int]] = [
            (name, staged.digest, staged.size) for name, staged in self._staged
        ]
        blobs = [staged for _, staged in self._staged]
        inline: dict[str, bytes] = {}
        if record is not None:
            name, data = record
            self._run._refuse_existing([name])
            if len(data) <= INLINE_MAX:
                digest = hashlib.sha256(data).hexdigest()
                inline[digest] = data
                entries.append((name, digest, len(data)))
            else:
                staged = self._stage(io.BytesIO(data))
                entries.append((name, staged.digest, staged.size))
                blobs.append(staged)
        if entries:
            self._run._add_artifacts(entries, blobs, inline)
        self._staged.clear()
        self.close()

    def publish_tagged(
        self, record: tuple[str, bytes], tags: Mapping[str, Any], untag: Sequence[str]
    ) -> None:
        """`publish(record)`, and the run's tags set from it (`tags` set, then `untag`
        removed, as `set_tags` and `remove_tags` would), in one transaction: one commit, so
        the record is never stored without its tags nor the tags without their record."""
        with self._run._store.transaction():
            self.publish(record)
            self._run.set_tags(tags)
            if untag:
                self._run.remove_tags(untag)

    def close(self) -> None:
        """End the staging session: temp files never published are removed."""
        self._stack.close()
        self._session = None


def upload_bytes(run: Run, name: str, data: bytes) -> None:
    """Store `data` as the run's artifact `name`, as `run.upload_file(name, io.BytesIO(data))`
    would, but a few KiB (up to INLINE_MAX: a decision record) go into the workspace's
    database with the artifact's row: one commit, no blob file and none of its fsyncs."""
    PendingUploads(run).publish((name, data))


def register_from_run(run: Run, model_name: str, model_path: str, **registration: Any) -> int:
    """`run.register_model(...)`'s version number, without the expanded Model the SDK's
    call returns (its run and experiment looked up again, for a number the caller already
    has everything else of)."""
    model = run._register(model_name, model_path, expand=False, **registration)
    assert model.version is not None
    return model.version


def latest_model(workspace: Workspace, name: str) -> Model | None:
    """`Model(ws, name)` answering "none" with None instead of the SDK's ModelNotFound, whose
    class import costs ~600 modules on a first model's otherwise light path."""
    found = workspace._store.latest_model(name)
    return Model(workspace, _record=found, expand=False) if found else None


def top_level_runs(workspace: Workspace, experiment: str | None = None) -> list[RunRecord]:
    """Runs without a parent (pipeline runs and standalone runs), newest first."""
    return [r for r in workspace._store.list_runs(experiment) if r.parent_id is None]


def find_run(workspace: Workspace, run_id: str) -> RunRecord | None:
    """The run `run_id` as stored, or None: "no such run" without the SDK's exception."""
    return workspace._store.get_run(run_id)


def run_ids_starting(workspace: Workspace, prefix: str, limit: int = 6) -> list[str]:
    """Up to `limit` run ids that begin with `prefix` (a short id, as `models history` prints)."""
    return workspace._store.run_ids_starting(prefix, limit) if prefix else []


def checked_dataset_digest(workspace: Workspace | None, name: str, version: int) -> str | None:
    """The content digest of registered dataset `name:version`, checked against its files now:
    InputError (the user's data changed under a registered version) when they no longer hash
    to it. `workspace` None: the workspace of the active `mock_azureml()`, whose real SDK read
    the dataset; None when there is none (Azure ML keeps no digest to check)."""
    if workspace is not None:
        store: Store | None = workspace._store
    else:
        from champion.local.mock.session import active_store  # only then: a mock is a test's

        store = active_store()
    if store is None:
        return None
    try:
        return store.check_dataset_files(name, version)
    except DatasetChanged as exc:
        raise InputError(str(exc), field="dataset", value=f"{name}:{version}") from None


def collect_garbage(workspace: Workspace, grace_seconds: float = DEFAULT_GRACE_SECONDS) -> GcReport:
    """`champion gc`: orphan blobs and stale temp files older than `grace_seconds`."""
    return gc(workspace._store, grace_seconds=grace_seconds)


@contextlib.contextmanager
def deployment(
    workspace: Workspace,
    name: str,
    models: Sequence[tuple[str, int]],
    port: int,
    entry_script: str | os.PathLike[str],
) -> Iterator[DeploymentRecord]:
    """Record that this process serves `models` as deployment `name` while the block runs, and
    that it stopped when the block ends (however it ends; a process killed inside it leaves a
    deployment that is no longer active because its process is gone).

    The workspace's database connection is closed for the block: a server forks its workers,
    and a SQLite connection must not cross a fork (a child closing it could checkpoint the WAL
    under the parent). Raises InputError when an active deployment has the name, or a version
    was deleted meanwhile."""
    store = workspace._store
    try:
        record = store.start_deployment(
            name, models, port=port, pid=os.getpid(), entry_script=os.fspath(entry_script)
        )
    except DeploymentConflict as exc:
        raise InputError(
            f"deployment {name!r} is already active (port {exc.port}, pid {exc.pid}); stop it, "
            "or give this one another name with --deployment-name",
            field="--deployment-name",
            value=name,
        ) from None
    except KeyError as exc:
        raise InputError(
            f"model {exc.args[0]} is no longer registered; nothing was served",
            field="version",
            value=str(exc.args[0]),
        ) from None
    root = store.root
    store.close()
    try:
        yield record
    finally:
        reopened = Store.open(root)
        try:
            reopened.stop_deployment(record.id)
        finally:
            reopened.close()


def deployments(workspace: Workspace) -> list[DeploymentRecord]:
    """Every deployment of the workspace, newest first, each with its status now."""
    return workspace._store.list_deployments()


def store_of(workspace: Workspace) -> Store:
    """The store behind `workspace`, for the local pipeline runner: it plays Azure ML's job
    runtime (creates pipeline and step runs, resolves datastore paths), which is the service's
    side, not the SDK's."""
    return workspace._store
