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
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from champion.local import Dataset, Experiment, Model, Workspace
from champion.local.access import (
    TargetExists,
    download_verified,
    latest_model,
    prestaged,
    registry_transaction,
    upload_bytes,
)
from champion.registry.sdk import SdkRegistry, artifact_digest_of
from champion.registry.sdk_run import SdkRun

__all__ = ["LocalParentRun", "LocalRegistry"]


class LocalParentRun(SdkRun):
    """`ParentRun` over a `champion.local` pipeline run. The one difference from the SDK's: a
    few KiB handed over in memory (the decision record) are stored in the workspace's
    database by the commit that creates the artifact, which spares a blob file and its two
    fsyncs on every decision."""

    def upload_bytes(self, name: str, data: bytes) -> None:
        upload_bytes(self.sdk, name, data)  # type: ignore[arg-type]  # a champion.local Run


class LocalRegistry(SdkRegistry):
    """The registry of a local workspace (`champion.local.Workspace`). `race_detected` is the
    shared probe: inside `serialised` nobody can register between, so it finds nothing, at one
    indexed query per version between."""

    workspace: Workspace

    def __init__(self, workspace: Workspace) -> None:
        super().__init__(workspace, Model, Experiment, Dataset)

    def _latest(self, name: str) -> Any:
        return latest_model(self.workspace, name)

    def serialised(self) -> contextlib.AbstractContextManager[None]:
        return registry_transaction(self.workspace)

    def staged(self, paths: Sequence[Path]) -> contextlib.AbstractContextManager[None]:
        return prestaged(self.workspace, paths)

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
