"""A registered model's files: `download` (all files or none, each verified against its digest,
never through a symlink) and the SAS URLs, and `download_verified`, which also checks the whole
model against the `artifact_sha256` the gate registered it with."""

from __future__ import annotations

import builtins
import os
from collections.abc import Callable

from champion._digest import model_files_digest
from champion.errors import WorkspaceStoreError
from champion.local import _sdk
from champion.local._export import TargetExists
from champion.local._model_base import ModelBase
from champion.local.store import ArtifactRecord


class ModelFiles(ModelBase):
    """`download`, `get_sas_urls`."""

    # ------------------------------------------------------------------ files

    def download(
        self, target_dir: str = ".", exist_ok: bool = False, exists_ok: bool | None = None
    ) -> str:
        """Write the model's files under `target_dir` and return their common path: the file
        for a one-file model, the folder for a folder model. All files or none: each blob's
        digest is verified in a temp folder before anything is moved into place, and no
        symlink under `target_dir` is followed."""
        if exists_ok is not None:
            if exist_ok is not None:
                raise _sdk.webservice_error(
                    "Both exists_ok and exist_ok are set. Please use exist_ok only."
                )
            exist_ok = exists_ok
        try:
            written = self._export(target_dir, exist_ok=exist_ok)
        except TargetExists as exc:
            raise _sdk.webservice_error(
                f"File already exists. To overwrite, set exist_ok to True. {exc.path}"
            ) from None
        return os.path.commonpath(written)

    def _export(
        self,
        target_dir: str | os.PathLike[str],
        *,
        exist_ok: bool,
        check: Callable[[dict[str, str]], None] | None = None,
    ) -> builtins.list[str]:
        files = self._files()
        if not files:
            raise _sdk.webservice_error("No files to download. Did you upload files?")
        store = self._workspace()._store
        return store.export_files(
            [(relative, artifact.digest) for relative, artifact in files],
            target_dir,
            exist_ok=exist_ok,
            check=check,
        )

    def _files(self) -> builtins.list[tuple[str, ArtifactRecord]]:
        return self._workspace()._store.model_files(self._asset_id or "")

    def get_sas_urls(self) -> dict[str, str]:
        """Local files have no SAS: each artifact maps to its verified blob's file URL."""
        store = self._workspace()._store
        return {
            a.path: store.blob_uri(a.digest) if a.digest else ""
            for _, a in store.asset_artifacts(self._asset_id or "")
        }


def download_verified(
    model: ModelFiles, target_dir: str | os.PathLike[str], *, exist_ok: bool = False
) -> tuple[str, bool]:
    """`model.download`, plus the whole model checked against its registered `artifact_sha256`
    (when the gate registered it) over exactly the files written, before any is moved into
    place; returns the download's path and whether that check ran. What `champion models
    download` does: a tampered or mixed-up model is never left where it could be loaded."""
    expected = (model.properties or {}).get("artifact_sha256")

    def check(written: dict[str, str]) -> None:
        actual = model_files_digest(written)
        if actual != expected:
            raise WorkspaceStoreError(
                f"the files of {model.id} hash to {actual}, not its registered artifact_sha256 "
                f"{expected}; nothing was written. Do not use this version; run `champion verify`.",
                field="artifact_sha256",
                value=actual,
            )

    written = model._export(target_dir, exist_ok=exist_ok, check=check if expected else None)
    return os.path.commonpath(written), bool(expected)
