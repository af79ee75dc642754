"""The model's files: inspected and hashed without following links, then uploaded to the run.

Why one module: the digest that `champion models download` checks (`artifact_sha256`) must be
computed over exactly the files that were uploaded, the same way on both sides; and the upload
must survive a retried step (same bytes: reused; other bytes: a conflict) and a failed blob
transfer (an empty leftover: the model moves to a fresh prefix). Inspection runs before the gate's
first upload, so a bad path changes nothing.

Retries: each remote call (list, upload, download) runs in its own retry loop; an upload attempt
that must first see whether a lost earlier attempt landed does that check itself, un-retried, as
part of the same attempt.
"""

from __future__ import annotations

import hashlib
import os
import stat
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from champion._digest import (
    NotAPlainFile,
    listing_digest,
    model_files_digest,
    plain_files,
    sha256_file,
    sha256_plain,
)
from champion._retry import remote
from champion.errors import ConflictError, InfrastructureError, ModelPathError
from champion.names import model_prefix
from champion.registry import ArtifactConflict, ParentRun

__all__ = [
    "LocalArtifact",
    "has_model_artifacts",
    "inspect_artifact",
    "listing_digest",
    "model_files_digest",
    "upload_artifact",
    "upload_new_artifact",
]

EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
UPLOAD_PREFIX_ATTEMPTS = 4


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
    """Validate and hash a model path under the rule for every file of the user's champion
    reads (`champion._digest.sha256_plain`): a symlink, hardlink, FIFO or device, at the top
    or inside a model folder, is refused rather than read, since following one could upload
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
    try:
        if not stat.S_ISDIR(info.st_mode):
            single = ((root.name, root, _model_file_sha256(root, root)),)
            return LocalArtifact(root, False, single, listing_digest((n, d) for n, _, d in single))
        files = []
        for relative, full in plain_files(root):
            if "\\" in relative or "\x00" in relative:
                raise ModelPathError(
                    f"{str(full)!r} in model path {str(root)!r} has a name that cannot be an "
                    "artifact name (backslash or NUL); rename it",
                    field="model_path",
                    value=str(full),
                )
            files.append((relative, full, _model_file_sha256(full, root)))
    except NotAPlainFile as exc:
        where = "" if exc.path == root else f" in model path {str(root)!r}"
        raise ModelPathError(
            f"{str(exc.path)!r}{where} is {exc.what}; refusing to read it (copy the file "
            "into the model folder instead)",
            field="model_path",
            value=str(exc.path),
        ) from None
    if not files:
        raise ModelPathError(
            f"model folder {str(root)!r} is empty; nothing to register",
            field="model_path",
            value=str(root),
        )
    return LocalArtifact(root, True, tuple(files), listing_digest((n, d) for n, _, d in files))


def _model_file_sha256(full: Path, root: Path) -> str:
    """A model file's digest: a plain file (`sha256_plain`), and never an empty one."""
    digest = sha256_plain(full)
    if digest == EMPTY_SHA256:
        raise ModelPathError(
            f"model file {str(full)!r} is empty (0 bytes); the training step did not write it",
            field="model_path",
            value=str(full),
        )
    return digest


# ---------------------------------------------------------------------- upload


class _PartialUpload(Exception):
    """An artifact name holds no bytes: an earlier blob transfer failed after the service had
    created the artifact. Azure ML has no overwrite, so the model goes under a fresh prefix."""


def has_model_artifacts(files: set[str], model_name: str) -> bool:
    """Whether the run's files include this model's upload (a retried step's earlier attempt)."""
    return any(
        f.startswith((f"{model_prefix(model_name)}/", f"{model_prefix(model_name)}.retry"))
        for f in files
    )


def upload_new_artifact(
    parent: ParentRun,
    model_name: str,
    artifact: LocalArtifact,
    extra: Mapping[str, bytes] | None = None,
    reserve: Sequence[str] = (),
) -> str:
    """Upload to `outputs/<model_name>/...` on a run no earlier attempt is known to have
    written to, with `extra` (a rejection's decision record) in the same batch, and `reserve`
    (a winner's record name, written once the registration has answered) created with it: one
    create call on Azure ML for all of them. Returns the prefix.

    Raises ArtifactConflict when a name is taken after all (an attempt that died before it
    recorded anything): the caller then lists the run's files and goes on with
    `upload_artifact`, which reuses the same bytes, refuses others and steps past an empty
    leftover. A transient failure retried here ends the same way, its first try having
    created the names."""
    prefix = model_prefix(model_name)
    files: dict[str, Path | bytes] = {
        f"{prefix}/{relative}": local for relative, local, _ in artifact.files
    }
    files.update(extra or {})
    remote(
        "uploading the model",
        lambda: parent.upload_new(files, reserve),
        passthrough=(ArtifactConflict,),
    )
    return prefix


def upload_artifact(
    parent: ParentRun, model_name: str, artifact: LocalArtifact, files: set[str] | None = None
) -> str:
    """Upload to `outputs/<model_name>/...` on the pipeline run and return that prefix.

    A name already on the run (a retried step) is compared by digest: the same bytes are reused,
    different bytes are a conflict, since registering them would misattribute the model. An
    empty leftover of a failed transfer moves the whole model to `outputs/<model_name>.retryN`
    (model files are never empty, so an empty artifact is never a real upload)."""
    for attempt in range(UPLOAD_PREFIX_ATTEMPTS):
        prefix = model_prefix(model_name) + (f".retry{attempt}" if attempt else "")
        try:
            _upload_under(parent, prefix, artifact, files if attempt == 0 else None)
        except _PartialUpload:
            continue
        return prefix
    raise InfrastructureError(
        f"uploading the model to pipeline run {parent.id} left incomplete artifacts under "
        f"{UPLOAD_PREFIX_ATTEMPTS} prefixes ({model_prefix(model_name)}...); the artifact "
        "service is failing transfers. Retry the pipeline later.",
        field="model_path",
        value=model_name,
    )


def _file_names(parent: ParentRun) -> set[str]:
    return set(remote("listing the pipeline run's files", parent.file_names))


def _upload_under(
    parent: ParentRun, prefix: str, artifact: LocalArtifact, files: set[str] | None
) -> None:
    existing = files if files is not None else _file_names(parent)
    for relative, local, digest in artifact.files:
        name = f"{prefix}/{relative}"
        if name in existing:
            _check_same_bytes(parent, name, local, digest)
            continue
        _upload_one(parent, name, local, digest)


def _upload_one(parent: ParentRun, name: str, local: Path, digest: str) -> None:
    tried = False

    def attempt() -> None:
        nonlocal tried
        # a timed-out upload may have landed: reuse it if the bytes match
        if tried and name in parent.file_names():
            _compare(parent, name, local, digest, _digest_once(parent, name))
            return
        tried = True
        parent.upload_file(name, local)

    try:
        remote(f"uploading {name}", attempt, passthrough=(_PartialUpload,))
    except InfrastructureError:
        # the failed transfer may have left an empty artifact: then try a fresh prefix
        if name in _file_names(parent):
            _check_same_bytes(parent, name, local, digest)
        raise


def _check_same_bytes(parent: ParentRun, name: str, local: Path, digest: str) -> None:
    found = remote(
        f"downloading {name}", lambda: _digest_once(parent, name), passthrough=(_PartialUpload,)
    )
    _compare(parent, name, local, digest, found)


def _compare(parent: ParentRun, name: str, local: Path, digest: str, found: str) -> None:
    if found == EMPTY_SHA256 and digest != EMPTY_SHA256:
        raise _PartialUpload(name)
    if found != digest:
        raise ConflictError(
            f"{name} is already on pipeline run {parent.id} with sha256 {found}, but the "
            f"model file {local} has sha256 {digest}; a retried step must upload the "
            "same model. Start a new pipeline run.",
            field="model_path",
            value=str(local),
        )


def _digest_once(run: ParentRun, name: str) -> str:
    with tempfile.TemporaryDirectory() as tmp:
        target = Path(tmp) / "artifact"
        run.download_file(name, target)
        return sha256_file(target)
