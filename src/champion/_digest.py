"""Digests of model files: one sha256 per file, and one over a model's listing of them.

Why its own module: the gate computes `artifact_sha256` when it uploads a model, and the local
workspace checks it when `champion models download` writes the files back; the two must agree
byte for byte, and neither side should import the other's layer for it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from pathlib import Path

__all__ = ["listing_digest", "model_files_digest", "recent_digest", "sha256_file"]

_CHUNK = 1024 * 1024


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


def sha256_file(path: Path) -> str:
    hasher = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            hasher.update(chunk)
    digest = hasher.hexdigest()
    _RECENT[str(path)] = digest
    if len(_RECENT) > _RECENT_MAX:
        del _RECENT[next(iter(_RECENT))]
    return digest


# The digests `sha256_file` computed last, by path. A hint only, never trusted alone: the file
# may have changed since. The local workspace's staging takes one as the digest of the bytes it
# reads only when the stored blob of that digest holds exactly those bytes (a model registered
# again), which it checks anyway, so a model's bytes are hashed once per registration, not twice.
_RECENT: dict[str, str] = {}
_RECENT_MAX = 256


def recent_digest(path: str) -> str | None:
    """The digest `sha256_file` last computed for `path` in this process, if any (a hint)."""
    return _RECENT.get(path)
