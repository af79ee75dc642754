"""What a metric was measured on: the identity of test data, and the rule that compares two.

Why: a champion's `accuracy` computed months ago on last quarter's split and a challenger's
computed today on a new one are not comparable, and a gate that compares them anyway promotes
or keeps models by accident. So the training step says what it measured on (tags
`champion.test_data_sha256` and `champion.test_data`, read like the metric), the gate stores
that on the version, and compares it with the champion's before it compares any number.

An identity is a content digest (sha256 over the files, each file's name and the sha256 of its
bytes: `files_digest`, the same rule a registered dataset's `champion.content_sha256` follows,
so a file at a datastore's root and the dataset made of it have the same digest), and/or a
reference (`dataset:NAME:VERSION`, or a description). Two identities are compared on the digest
when both have one, else on the reference when both have one; otherwise the gate cannot tell,
and says so in the record instead of guessing.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from champion._digest import NotAPlainFile, listing_digest, plain_files, sha256_plain
from champion.errors import InputError
from champion.names import TEST_DATA, TEST_DATA_SHA256

__all__ = ["DataIdentity", "files_digest", "same_test_data"]

_SHORT = 12


@dataclass(frozen=True)
class DataIdentity:
    """The test data a metric was measured on: its content digest and/or a reference."""

    sha256: str | None = None
    reference: str | None = None

    @property
    def known(self) -> bool:
        return bool(self.sha256 or self.reference)

    def describe(self) -> str:
        """For a message: `dataset:iris-test:2 (sha256 1a2b3c4d5e6f...)`, or what is known."""
        digest = f"sha256 {self.sha256[:_SHORT]}..." if self.sha256 else ""
        if self.reference and digest:
            return f"{self.reference} ({digest})"
        return self.reference or digest or "unknown test data"

    def to_dict(self) -> dict[str, str | None] | None:
        return {"sha256": self.sha256, "reference": self.reference} if self.known else None

    def properties(self) -> dict[str, str]:
        """The version properties (and run tags) that carry this identity."""
        found = {TEST_DATA_SHA256: self.sha256, TEST_DATA: self.reference}
        return {key: value for key, value in found.items() if value}

    @classmethod
    def of(cls, metadata: Mapping[str, str | None]) -> DataIdentity:
        """The identity a version's properties or a run's tags carry (empty if none)."""
        return cls(metadata.get(TEST_DATA_SHA256) or None, metadata.get(TEST_DATA) or None)


def same_test_data(a: DataIdentity, b: DataIdentity) -> bool | None:
    """Whether two identities name the same data: by digest when both have one, else by
    reference when both have one; None when there is nothing to compare."""
    if a.sha256 and b.sha256:
        return a.sha256 == b.sha256
    if a.reference and b.reference:
        return a.reference == b.reference
    return None


def files_digest(path: str | os.PathLike[str]) -> str:
    """The content digest of test data on disk: one file (named by its file name) or every
    file under a folder (named by their paths inside it). Use it in a training step to tag
    `champion.test_data_sha256`; `--test-data PATH` computes the same. The files are read
    under the rule a model path follows (`champion._digest.sha256_plain`): a symlink, FIFO,
    device or shared hardlink is refused unread, so the digest never hangs on a FIFO or
    `/dev/zero`, nor covers a file from outside the folder given."""
    root = Path(path)
    try:
        info = root.lstat()
    except FileNotFoundError:
        raise InputError(
            f"test data {str(root)!r} does not exist; give a file or a folder of files",
            field="test_data",
            value=str(root),
        ) from None
    try:
        if not stat.S_ISDIR(info.st_mode):
            return listing_digest([(root.name, sha256_plain(root))])
        entries = [(name, sha256_plain(file)) for name, file in plain_files(root)]
    except NotAPlainFile as exc:
        where = "" if exc.path == root else f" in test data {str(root)!r}"
        raise InputError(
            f"{str(exc.path)!r}{where} is {exc.what}; refusing to read it (test data must be "
            "regular files: copy the file in instead)",
            field="test_data",
            value=str(exc.path),
        ) from None
    if not entries:
        raise InputError(
            f"test data folder {str(root)!r} is empty", field="test_data", value=str(root)
        )
    return listing_digest(entries)
