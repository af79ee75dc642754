"""A registered version's files checked before use: the one rule every backend's verified
download follows (`Registry.download`, `champion models download`, a rollback's copy).

Why one home: the refusal of a version that has no digest, the hashing of what was downloaded
and the "do not use this version" line were written per backend, and a copy that drifts is a
backend that hands unverified files to serving."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from champion import names
from champion._digest import model_files_digest, sha256_file
from champion.errors import InputError, WorkspaceStoreError

__all__ = ["artifact_digest_of", "check_digest", "file_digests"]


def artifact_digest_of(model: Any, name: str, version: int) -> str:
    """The `artifact_sha256` property of `model` (an SDK model, v1's or v2's); a version
    without one was registered outside the gate and is refused (InputError)."""
    expected = (model.properties or {}).get(names.ARTIFACT_SHA256)
    if not expected:
        raise InputError(
            f"{name}:{version} has no {names.ARTIFACT_SHA256} property, so its files cannot be "
            "verified before they are used; only versions the gate registered can be",
            field="version",
            value=version,
        )
    return str(expected)


def file_digests(folder: Path) -> dict[str, str]:
    """`{relative path: sha256}` of every file under `folder`."""
    return {
        p.relative_to(folder).as_posix(): sha256_file(p)
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def check_digest(files: dict[str, str], expected: str, name: str, version: int) -> None:
    """WorkspaceStoreError unless `files` (`{relative path: sha256}`) hash to `expected`."""
    actual = model_files_digest(files)
    if actual != expected:
        raise WorkspaceStoreError(
            f"the files of {name}:{version} hash to {actual}, not its registered "
            f"{names.ARTIFACT_SHA256} {expected}; they were not used. Do not use this version; "
            "check the registry (locally: 'champion verify').",
            field=names.ARTIFACT_SHA256,
            value=actual,
        )
