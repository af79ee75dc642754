"""Small blobs kept in the database: bytes a writer hands over in memory (a decision record),
stored in the same transaction as the artifact row that names them.

Why: a blob file costs two fsyncs of its own (the file, then its folder) before the row naming
it may commit; a few KiB stored in SQLite are made durable by the commit that writes the row.
A blob is still addressed by its sha256 either way: every reader asks `open_blob(digest)`,
which serves the file when there is one and the row otherwise, and verify checks both kinds
against their digest. Only a writer that asks stores inline (`add_artifacts(..., inline=)`:
the gate's record, through `champion.local.access`); files and streams uploaded through the
SDK's API stay files (`blobs.py`).
"""

from __future__ import annotations

import base64
import io
import sqlite3
from typing import IO

from champion.local.store.blobs import Blobs

#: The largest content kept in the database; anything larger becomes a blob file.
INLINE_MAX = 64 * 1024


class InlineBlobs(Blobs):
    """Reading any blob by digest, and the rows of the small ones (see the module docstring)."""

    def _insert_inline(self, c: sqlite3.Connection, digest: str, data: bytes) -> None:
        """Inside the referencing transaction. Bytes already stored under `digest` stay; a
        row whose content no longer matches its digest is replaced (repaired), as a rotted
        blob file is."""
        c.execute(
            "INSERT INTO inline_blobs(digest, content) VALUES (?, ?) ON CONFLICT(digest)"
            " DO UPDATE SET content=excluded.content WHERE content IS NOT excluded.content",
            (digest, data),
        )

    def _has_blob(self, digest: str) -> bool:
        return super()._has_blob(digest) or self.inline_content(digest) is not None

    def inline_content(self, digest: str) -> bytes | None:
        rows = self._query("SELECT content FROM inline_blobs WHERE digest=?", (digest,))
        return bytes(rows[0]["content"]) if rows else None

    def open_blob(self, digest: str) -> IO[bytes]:
        """The bytes stored under `digest`, as an open binary file: the blob file, or the
        row of a small blob. Raises WorkspaceStoreError when neither exists."""
        try:
            return open(self.blob_path(digest), "rb")
        except FileNotFoundError as exc:
            data = self.inline_content(digest)
            if data is None:
                raise self._missing_blob(digest) from exc
            return io.BytesIO(data)

    def blob_uri(self, digest: str) -> str:
        """Where a blob can be read from by URL: its file, or a `data:` URL for a small blob
        kept in the database (urllib reads both)."""
        path = self.blob_path(digest)
        if not path.is_file():
            data = self.inline_content(digest)
            if data is not None:
                return "data:application/octet-stream;base64," + base64.b64encode(data).decode()
        return path.as_uri()

    def inline_digests(self) -> set[str]:
        return {r["digest"] for r in self._query("SELECT digest FROM inline_blobs")}

    def delete_inline(self, digests: set[str]) -> int:
        """Inside gc's transaction: drop rows no artifact names; their bytes in all."""
        freed = 0
        with self.transaction() as c:
            for digest in sorted(digests):
                row = c.execute(
                    "SELECT length(content) FROM inline_blobs WHERE digest=?", (digest,)
                ).fetchone()
                if row is not None:
                    c.execute("DELETE FROM inline_blobs WHERE digest=?", (digest,))
                    freed += int(row[0])
        return freed
