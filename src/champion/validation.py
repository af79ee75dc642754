"""Check user-supplied names and model paths before anything touches the run or the registry.

Why up front: a step that uploads first and validates later leaves half its work behind when it
refuses. Everything here runs before the first upload, so bad input changes nothing.
"""

from __future__ import annotations

import hashlib
import os
import re
import stat
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from champion.errors import InputError, ModelPathError

# azureml-core's model_name_validation, so a name we accept is one Azure ML accepts.
MODEL_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9\-\._]{0,254}$")
_CHUNK = 1024 * 1024


def validate_model_name(name: str) -> str:
    if not MODEL_NAME.fullmatch(name):
        raise InputError(
            f"model name {name!r} is invalid: use 1-255 letters, digits, '-', '.' or '_', "
            "starting with a letter or digit (Azure ML's rule)",
            field="model_name",
            value=name,
        )
    return name


@dataclass(frozen=True)
class LocalArtifact:
    """A model file or folder ready to upload: each file's relative name and sha256, and one
    digest for the whole, `listing_digest` of its files. A file model and a folder holding just
    that file have the same digest, because both download as that one file under the model's
    folder; this is what `champion models download` checks against `artifact_sha256`."""

    root: Path
    is_folder: bool
    files: tuple[tuple[str, Path, str], ...]  # (relative name, local path, sha256)
    sha256: str


def inspect_artifact(path: str | os.PathLike[str]) -> LocalArtifact:
    """Validate and hash a model path without following links: a symlink, hardlink, FIFO or
    device inside a model folder is refused rather than read, since following one could upload
    files from outside the model (or block forever on a FIFO)."""
    root = Path(path)
    try:
        info = root.lstat()
    except FileNotFoundError:
        raise ModelPathError(
            f"model path {str(root)!r} does not exist; pass the file or folder "
            "the training step wrote",
            field="model_path",
            value=str(root),
        ) from None
    if stat.S_ISLNK(info.st_mode) or stat.S_ISREG(info.st_mode):
        _check_regular(root, info, root)
        single = ((root.name, root, _sha256(root)),)
        return LocalArtifact(root, False, single, listing_digest((n, d) for n, _, d in single))
    if not stat.S_ISDIR(info.st_mode):
        raise ModelPathError(
            f"model path {str(root)!r} is not a regular file or folder",
            field="model_path",
            value=str(root),
        )
    files = []
    for current, dirs, names in os.walk(root, followlinks=False):
        for name in sorted(dirs):
            if Path(current, name).is_symlink():
                raise _link_error(Path(current, name), root)
        for name in sorted(names):
            full = Path(current, name)
            _check_regular(full, full.lstat(), root)
            relative = full.relative_to(root).as_posix()
            if "\\" in relative or "\x00" in relative:
                raise ModelPathError(
                    f"{str(full)!r} in model path {str(root)!r} has a name that cannot be an "
                    "artifact name (backslash or NUL); rename it",
                    field="model_path",
                    value=str(full),
                )
            files.append((relative, full, _sha256(full)))
    if not files:
        raise ModelPathError(
            f"model folder {str(root)!r} is empty; nothing to register",
            field="model_path",
            value=str(root),
        )
    files.sort()
    return LocalArtifact(root, True, tuple(files), listing_digest((n, d) for n, _, d in files))


def listing_digest(entries: Iterable[tuple[str, str]]) -> str:
    """sha256 of the sorted lines "<relative path> NUL <sha256> LF": one digest, many files."""
    listing = "".join(f"{name}\0{digest}\n" for name, digest in sorted(entries))
    return hashlib.sha256(listing.encode()).hexdigest()


def model_files_digest(files: Mapping[str, str]) -> str:
    """`artifact_sha256` of a downloaded model, from `{path relative to the download folder:
    sha256}` of exactly the files the download wrote (never whatever else the folder holds).

    A folder model lands as one top folder (`iris/model.pkl`, `mdir/sub/a.txt`) and was hashed
    with names inside it; a file model lands as its file name. So names are taken relative to
    the common top folder when there is one, as they were when the model was registered."""
    parts = [name.split("/") for name in files]
    tops = {p[0] for p in parts}
    nested = len(tops) == 1 and all(len(p) > 1 for p in parts)
    return listing_digest(
        ("/".join(p[1:]) if nested else "/".join(p), digest)
        for p, digest in zip(parts, files.values(), strict=True)
    )


def _check_regular(full: Path, info: os.stat_result, root: Path) -> None:
    if stat.S_ISLNK(info.st_mode):
        raise _link_error(full, root)
    if not stat.S_ISREG(info.st_mode):
        raise ModelPathError(
            f"{str(full)!r} in model path {str(root)!r} is not a regular file (FIFO, socket or "
            "device); refusing to read it",
            field="model_path",
            value=str(full),
        )
    if info.st_nlink > 1:
        raise ModelPathError(
            f"{str(full)!r} in model path {str(root)!r} is a hardlink shared with another file; "
            "copy it instead",
            field="model_path",
            value=str(full),
        )
    if info.st_size == 0:
        raise ModelPathError(
            f"model file {str(full)!r} is empty (0 bytes); the training step did not write it",
            field="model_path",
            value=str(full),
        )


def _link_error(full: Path, root: Path) -> ModelPathError:
    return ModelPathError(
        f"{str(full)!r} in model path {str(root)!r} is a symlink; refusing to follow it",
        field="model_path",
        value=str(full),
    )


def _sha256(path: Path) -> str:
    hasher = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            hasher.update(chunk)
    return hasher.hexdigest()
