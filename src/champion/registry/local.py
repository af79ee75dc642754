"""`Registry` over `champion.local`: the SDK-shaped rules, plus what only a local workspace can do.

Why a backend of its own: the local workspace can hold the registry. One SQLite write
transaction spans the gate's re-read of the champion, its decision and the registration, so
racing gates are serialised and the final champion is always the best (`serialised`); a winner's
files are staged before that lock is taken (`staged`), so the lock is never held while a large
model is copied; and "no champion" is answered without building the SDK's ModelNotFound, whose
import costs ~0.6 s on a first model's path. Azure ML, and the real SDK under `mock_azureml()`,
can do none of this: they use `registry/azureml.py`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from champion._failpoints import failpoint
from champion.local import Dataset, Experiment, Model, Run, Workspace
from champion.local.access import (
    PendingUploads,
    TargetExists,
    checked_dataset_digest,
    download_verified,
    latest_model,
    prestaged,
    register_from_run,
    registry_transaction,
)
from champion.registry import NewVersion
from champion.registry.sdk import SdkRegistry, artifact_digest_of
from champion.registry.sdk_run import RunLike, SdkRun, refused

__all__ = ["LocalParentRun", "LocalRegistry"]


class LocalParentRun(SdkRun):
    """`ParentRun` over a `champion.local` pipeline run, writing what the gate writes in fewer
    commits than the SDK's calls would: an uploaded file is staged at once (read, hashed and
    made durable, no lock held) and its artifact row is written by the next commit the gate
    makes, with the registration (`LocalRegistry.register`) or with the decision record; the
    record's few KiB are kept in the workspace's database, with no blob file and none of its
    fsyncs; the record and the tags set from it are one commit (`add_record`). A win is two
    commits (the version; the record with its tags), a first try's rejection two (the model's
    files with the record; the tags), a dry run one."""

    def __init__(self, run: RunLike) -> None:
        super().__init__(run)
        self._pending = PendingUploads(run)  # type: ignore[arg-type]  # a champion.local Run

    def upload_file(self, name: str, path: Path) -> None:
        with refused([name]):
            self._pending.stage(name, path)

    def upload_bytes(self, name: str, data: bytes) -> None:
        with refused([name]):
            self._pending.publish((name, data))

    def upload_new(self, files: Mapping[str, Path | bytes], reserve: Sequence[str] = ()) -> None:
        """The files staged, and bytes (a rejection's record) published with them: one commit.
        Every name is checked first, so a refused batch leaves nothing staged behind it. A
        reserved name is only checked: `upload_bytes` writes it by the commit it makes anyway,
        so creating it empty first would save nothing here."""
        with refused([*files, *reserve]):
            self._pending.refuse_existing([*files, *reserve])
            for name, content in files.items():
                if isinstance(content, Path):
                    self._pending.stage(name, content, checked=True)
            for name, content in files.items():
                if isinstance(content, bytes):
                    self._pending.publish((name, content))

    def add_record(
        self, name: str, data: bytes, tags: Mapping[str, str], untag: Sequence[str]
    ) -> None:
        """The record (kept in the database) and the tags set from it in one commit; the
        failpoint fires once that commit is durable."""
        with refused([name]):
            self._pending.publish_tagged((name, data), tags, untag)
        failpoint("record.uploaded")

    def publish_uploads(self) -> None:
        """Write the staged files' artifact rows now (inside the caller's transaction)."""
        self._pending.publish()


class LocalRegistry(SdkRegistry):
    """The registry of a local workspace (`champion.local.Workspace`). `converge` is the shared
    one (`sdk_race`): inside `serialised` nobody can register between, so its probe finds
    nothing, and costs no query when the champion followed its predecessor and the gate
    followed the champion."""

    workspace: Workspace

    def __init__(self, workspace: Workspace) -> None:
        super().__init__(workspace, Model, Experiment, Dataset)

    def _latest(self, name: str) -> Any:
        return latest_model(self.workspace, name)

    def serialised(self) -> contextlib.AbstractContextManager[None]:
        return registry_transaction(self.workspace)

    def register(self, new: NewVersion) -> int:
        """The files the gate uploaded for the version and the version itself, in one
        transaction (one commit)."""
        if not isinstance(new.run, LocalParentRun):
            return super().register(new)
        with registry_transaction(self.workspace):
            new.run.publish_uploads()
            return super().register(new)

    def _register_with_run(self, run: Any, new: NewVersion) -> int:
        """`Run.register_model` without building the expanded Model it returns."""
        if not isinstance(run, Run):
            return super()._register_with_run(run, new)
        return register_from_run(
            run,
            new.name,
            new.path,
            tags=dict(new.tags),
            properties=dict(new.properties),
            model_framework=new.framework,
            model_framework_version=new.framework_version,
            description=new.description,
        )

    def staged(self, paths: Sequence[Path]) -> contextlib.AbstractContextManager[None]:
        return prestaged(self.workspace, paths)

    def _checked_dataset_digest(self, name: str, version: int) -> str | None:
        return checked_dataset_digest(self.workspace, name, version)

    def download(self, name: str, version: int, target: Path) -> Path:
        """The local workspace's verified download: every blob's digest and the whole model's
        `artifact_sha256` are checked in a temp folder before a single file is moved into
        `target` (what `champion models download` does)."""
        model = self._version(name, version)
        artifact_digest_of(model, name, version)
        target.mkdir(parents=True, exist_ok=True)
        try:
            path, _ = download_verified(model, target)
        except TargetExists as exc:  # `target` must be empty: a caller's mistake
            raise AssertionError(f"download target not empty: {exc.path}") from None
        return Path(path)
