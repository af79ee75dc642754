"""A run's files: uploads (one file, several, a folder; never overwriting, as the service has no
overwrite) and downloads, each artifact's bytes a verified blob in the store."""

from __future__ import annotations

import builtins
import io
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from champion.local import _sdk
from champion.local._run_base import RunBase
from champion.local.store import (
    RUN_ORIGIN,
    ArtifactExists,
    InvalidArtifactPath,
    StagedBlob,
    check_artifact_path,
)


class RunFiles(RunBase):
    """Uploading and downloading a run's artifacts."""

    @property
    def _container(self) -> str:
        return self._record.data_container_id

    def upload_file(
        self, name: str, path_or_stream: str | io.IOBase, datastore_name: str | None = None
    ) -> Any:
        """Upload one artifact under `name`, verbatim. There is no overwrite: an existing name
        is the service's conflict, raised as the SDK's AzureMLAggregatedException."""
        if not isinstance(path_or_stream, str | io.IOBase):
            raise _sdk.user_error(
                f"UnsupportedType: type {type(path_or_stream)} is invalid, supported input "
                "types: file path or file"
            )
        self._refuse_existing([name])
        with self._store.staging() as session:
            staged = session.stage(path_or_stream)  # type: ignore[arg-type]
            return self._add_artifacts([(name, staged.digest, staged.size)], [staged])[0]

    def upload_files(
        self,
        names: Sequence[str],
        paths: Sequence[str],
        return_artifacts: bool = False,
        timeout_seconds: int | None = None,
        datastore_name: str | None = None,
    ) -> Any:
        if len(names) != len(paths):
            raise TypeError(
                "names and paths must be lists of equal lengths. "
                f"Names was of length {len(names)} and paths of length {len(paths)}."
            )
        self._refuse_existing(names)
        with self._store.staging() as session:
            staged = [session.stage(path) for path in paths]
            entries = [(n, b.digest, b.size) for n, b in zip(names, staged, strict=True)]
            artifacts = self._add_artifacts(entries, staged)
        return artifacts if return_artifacts else None

    def upload_folder(self, name: str, path: str, datastore_name: str | None = None) -> Any:
        """Each file becomes `name + <its path under path>`, as the SDK names them."""
        if not os.path.isdir(path):
            raise _sdk.user_error(f"Cannot upload path: {path} since it is not a valid directory.")
        files = sorted(os.path.join(d, f) for d, _, fs in os.walk(path) for f in fs)
        names = [name + f[len(path) :].replace(os.sep, "/") for f in files]
        return self.upload_files(names, files)

    def _refuse_existing(self, names: Sequence[str]) -> None:
        for name in names:
            try:
                check_artifact_path(name)
            except InvalidArtifactPath as exc:
                raise _sdk.user_error(str(exc)) from None
        existing = [n for n in names if self._store.get_artifact(RUN_ORIGIN, self._container, n)]
        if existing:
            raise _conflict(ArtifactExists(RUN_ORIGIN, self._container, existing))

    def _add_artifacts(
        self,
        entries: Sequence[tuple[str, str | None, int]],
        blobs: Sequence[StagedBlob] = (),
        inline: Mapping[str, bytes] | None = None,
    ) -> builtins.list[Any]:
        try:
            return list(
                self._store.add_artifacts(RUN_ORIGIN, self._container, entries, blobs, inline)
            )
        except ArtifactExists as exc:
            raise _conflict(exc) from None

    def get_file_names(self) -> builtins.list[str]:
        return [a.path for a in self._store.list_artifacts(RUN_ORIGIN, self._container)]

    def download_file(
        self, name: str, output_file_path: str | None = None, _validate_checksum: bool = False
    ) -> None:
        """Default target: basename(name) in the CWD; a folder target gets the basename."""
        artifact = self._store.get_artifact(RUN_ORIGIN, self._container, name)
        if artifact is None:
            raise _sdk.user_error(
                f"Cannot find the artifact '{name}' in container '{self._container}'"
            )
        target = output_file_path or os.path.basename(name)
        if os.path.isdir(target):
            target = os.path.join(target, os.path.basename(name))
        parent = os.path.dirname(target)
        if parent:
            os.makedirs(parent, exist_ok=True)
        self._store.copy_blob(artifact.digest, target)

    def download_files(
        self,
        prefix: str | None = None,
        output_directory: str | None = None,
        output_paths: Sequence[str] | None = None,
        batch_size: int = 100,
        append_prefix: bool = True,
        timeout_seconds: int | None = None,
    ) -> None:
        artifacts = self._store.list_artifacts(RUN_ORIGIN, self._container, prefix)
        base = Path(output_directory or ".")
        for index, artifact in enumerate(artifacts):
            if output_paths is not None:
                target = Path(output_paths[index])
            elif append_prefix or not prefix or output_directory is None:
                target = base / artifact.path
            else:
                target = base / os.path.relpath(artifact.path, prefix)
            target.parent.mkdir(parents=True, exist_ok=True)
            self._store.copy_blob(artifact.digest, target)


def _conflict(exc: ArtifactExists) -> Exception:
    return _sdk.aggregated_error(
        [
            f"UserError: Resource Conflict: ArtifactId {exc.origin}/{exc.container}/{path} already "
            "exists."
            for path in exc.paths
        ]
    )
