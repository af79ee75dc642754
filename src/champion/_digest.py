"""Digests of files: one sha256 per file, one over a listing of them, and the rule for which
files champion reads to hash at all.

Why its own module: the gate computes `artifact_sha256` when it uploads a model, and the local
workspace checks it when `champion models download` writes the files back; the two must agree
byte for byte, and neither side should import the other's layer for it. The same goes for the
test data's digest (`champion.testdata`): a model path and a `--test-data` folder are both the
user's files, read and hashed under one rule (`plain_files`, `sha256_plain`), so neither can
follow a link out of the folder given, nor block forever reading a FIFO or `/dev/zero`.
"""

from __future__ import annotations

import errno
import hashlib
import os
import stat
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import BinaryIO

__all__ = [
    "NotAPlainFile",
    "check_plain",
    "listing_digest",
    "model_files_digest",
    "plain_files",
    "recent_digest",
    "sha256_file",
    "sha256_plain",
]

_CHUNK = 1024 * 1024
_NO_FOLLOW = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)


class NotAPlainFile(Exception):
    """A path champion will not read to hash it: a symlink (it may lead anywhere), a FIFO, a
    socket or a device (reading one may never end), or a hardlink shared with another name (its
    bytes may change through a name outside the folder given). `what` says which, for the
    caller's one-line error."""

    def __init__(self, path: Path, what: str) -> None:
        self.path, self.what = path, what
        super().__init__(f"{path} is {what}")


def plain_files(root: Path) -> list[tuple[str, Path]]:
    """`(path relative to root, path)` of every file under the folder `root`, in name order,
    found without following a link; a linked folder inside is refused (NotAPlainFile). Each
    file is checked when it is hashed (`sha256_plain`)."""
    found = []
    for current, dirs, names in os.walk(root, followlinks=False):
        for name in dirs:
            if Path(current, name).is_symlink():
                raise NotAPlainFile(Path(current, name), "a symlink to a folder")
        for name in names:
            path = Path(current, name)
            found.append((path.relative_to(root).as_posix(), path))
    return sorted(found)


def sha256_plain(path: Path) -> str:
    """`sha256_file` of a regular file with one name, reached without a link; anything else is
    refused without being read (NotAPlainFile). The file is looked at with lstat before it is
    opened (a device is never opened), and opened with O_NOFOLLOW and O_NONBLOCK, then checked
    again to be the very file looked at, so a FIFO or link swapped in meanwhile cannot block
    or redirect the read."""
    _refuse_unless_plain(path, os.lstat(path))
    try:
        fd = os.open(path, _NO_FOLLOW)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise NotAPlainFile(path, "a symlink") from None
        raise
    with os.fdopen(fd, "rb") as fh:
        opened = os.fstat(fd)
        _refuse_unless_plain(path, opened)
        return _sha256_of(path, fh)


def check_plain(path: Path) -> None:
    """The same rule for a file champion is about to replace (`champion score --output ...
    --overwrite`): a link, a folder, a FIFO, a device or a shared hardlink is refused
    (NotAPlainFile) however it would be written, so one rule says which of the user's files
    champion touches. Looked at with lstat: a link is never followed."""
    _refuse_unless_plain(path, os.lstat(path))


def _refuse_unless_plain(path: Path, info: os.stat_result) -> None:
    mode = info.st_mode
    if stat.S_ISLNK(mode):
        raise NotAPlainFile(path, "a symlink")
    if stat.S_ISDIR(mode):
        raise NotAPlainFile(path, "a folder")
    if stat.S_ISFIFO(mode):
        raise NotAPlainFile(path, "a FIFO (named pipe)")
    if stat.S_ISSOCK(mode):
        raise NotAPlainFile(path, "a socket")
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        raise NotAPlainFile(path, "a device")
    if not stat.S_ISREG(mode):
        raise NotAPlainFile(path, "not a regular file")
    if info.st_nlink > 1:
        raise NotAPlainFile(path, "a hardlink shared with another file")


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
    """The sha256 of a file champion wrote or verified itself (a download); the user's files
    go through `sha256_plain`."""
    with open(path, "rb") as fh:
        return _sha256_of(path, fh)


def _sha256_of(path: Path, fh: BinaryIO) -> str:
    hasher = hashlib.sha256()
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
