"""`FileDataset` of the local workspace: files in datastores, delivered as paths (`to_path`,
`download`, `mount`, `as_mount`, `as_download`)."""

from __future__ import annotations

import builtins
import os
import re
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from champion.local import _sdk
from champion.local.abstract_dataset import AbstractDataset, DatasetConsumptionConfig
from champion.local.store import FILE


class FileDataset(AbstractDataset):
    """Files in datastores, delivered as paths."""

    _kind = FILE

    def to_path(self) -> builtins.list[str]:
        """Each file's path as `download()` lays it out, with a leading `/`: relative to the
        folder the dataset's path names (its folder for one file, the part before the first
        wildcard for a glob), as dataprep computes it."""
        return ["/" + relative for relative, _ in self._portable_files()]

    def _portable_files(self) -> builtins.list[tuple[str, Path]]:
        files = self._files()
        base = _portable_base(self._definition, [name for name, _ in files])
        return [(n[len(base) + 1 :] if base else n, path) for n, path in files]

    def download(
        self,
        target_path: str | None = None,
        overwrite: bool = False,
        ignore_not_found: bool = False,
    ) -> builtins.list[str]:
        """Copy the files under `target_path` (a fresh temporary folder when None) keeping
        their layout below their common folder; an existing file is an error unless
        `overwrite`. Returns the written paths."""
        files = self._portable_files()
        if not files and not ignore_not_found:
            raise _sdk.user_error("Failed to download: the dataset's paths match no file.")
        target = os.path.abspath(target_path or tempfile.mkdtemp(prefix="champion-dataset-"))
        plan = [(os.path.join(target, *relative.split("/")), src) for relative, src in files]
        if not overwrite:
            for destination, _ in plan:
                if os.path.exists(destination):
                    raise _sdk.user_error(
                        f'File "{destination}" already exists. Set overwrite=True to overwrite '
                        "it,                             or choose an empty target path."
                    )
        for destination, source in plan:
            os.makedirs(os.path.dirname(destination), exist_ok=True)
            shutil.copyfile(source, destination)
        return [destination for destination, _ in plan]

    def mount(self, mount_point: str | None = None, **kwargs: Any) -> _MountContext:
        """A context whose `mount_point` holds the files while it is open. Locally a copy
        stands in for the FUSE mount the SDK makes (which needs FUSE and Azure)."""
        return _MountContext(self, mount_point)

    def as_mount(self, path_on_compute: str | None = None) -> DatasetConsumptionConfig:
        return DatasetConsumptionConfig(_input_name(self), self, "mount", path_on_compute)

    def as_download(self, path_on_compute: str | None = None) -> DatasetConsumptionConfig:
        return DatasetConsumptionConfig(_input_name(self), self, "download", path_on_compute)


class _MountContext:
    def __init__(self, dataset: FileDataset, mount_point: str | None) -> None:
        self._dataset = dataset
        self.mount_point = mount_point or tempfile.mkdtemp(prefix="champion-mount-")

    def start(self) -> None:
        self._dataset.download(self.mount_point, overwrite=True, ignore_not_found=True)

    def stop(self) -> None:
        shutil.rmtree(self.mount_point, ignore_errors=True)

    def __enter__(self) -> _MountContext:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _portable_base(definition: Mapping[str, Any], names: Sequence[str]) -> str:
    """The folder a file dataset's paths are relative to (dataprep's `_find_path_prefix`):
    for one path, the part before the first wildcard of a glob, the folder of a single file, or
    the folder itself; for several paths (which dataprep does not reduce) the longest folder
    every file is under."""
    paths = [p for p in definition.get("paths", []) if "datastore" in p]
    if len(paths) == 1:
        pattern = str(paths[0].get("path", "")).strip("/")
        while pattern.startswith("./"):
            pattern = pattern[2:]
        if "*" in pattern:
            return "/".join(pattern.split("*")[0].split("/")[:-1])
        if names == [pattern]:
            return pattern.rpartition("/")[0]
        return pattern
    folders = [n.split("/")[:-1] for n in names]
    common: list[str] = []
    for parts in zip(*folders, strict=False):
        if len(set(parts)) != 1:
            break
        common.append(parts[0])
    return "/".join(common)


def _input_name(dataset: AbstractDataset) -> str:
    return re.sub(r"\W", "_", dataset.name or "input") or "input"
