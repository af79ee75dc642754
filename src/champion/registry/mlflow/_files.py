"""A model version's files, downloaded all or nothing and checked against its digest."""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from champion import names
from champion._digest import listing_digest
from champion.errors import InfrastructureError
from champion.registry._verified import file_digests
from champion.registry.mlflow._calls import _REGISTRY_META, _remote
from champion.registry.mlflow.runs import MlflowWorkspace


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
