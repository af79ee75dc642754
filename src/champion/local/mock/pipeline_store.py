"""What the local pipelines service keeps: documents in `<workspace>/pipelines/`, as JSON.

Why documents and not rows: the pipelines service's entities (modules, data sources, graphs,
published pipelines, pipeline endpoints) are the SDK's own request bodies, kept as the SDK put
them on the wire (msrest's JSON), so what runs locally is exactly what was sent, and a later
process (`PublishedPipeline.get`, a `PipelineEndpoint.submit` from another script, the runner)
reads them back with the SDK's own deserializer. No other face of the workspace reads them, so
they live beside the store's database rather than in it.

    pipelines/<kind>/<id>.json    one document: modules, datasources, graphs, runs, published,
                                  endpoints, plans
    pipelines/snapshots/<id>/     a step's source directory as it was submitted

Each document is written whole (temp file, fsync, rename): a reader never sees half of one. A
read-modify-write (an endpoint's new default version) holds `pipelines/.lock`.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from champion.local.snapshots import copy_snapshot

__all__ = ["KINDS", "PipelineDocuments"]

KINDS = (
    "modules",
    "datasources",
    "graphs",
    "runs",
    "published",
    "endpoints",
    "plans",
    "computes",
)
FOLDER = "pipelines"


class PipelineDocuments:
    """The pipelines service's documents of one workspace."""

    def __init__(self, workspace: Path) -> None:
        self.workspace = Path(workspace)
        self.root = self.workspace / FOLDER

    def path(self, kind: str, doc_id: str) -> Path:
        if kind not in KINDS:
            raise ValueError(f"unknown kind of pipeline document {kind!r}")
        if not doc_id or "/" in doc_id or doc_id in (".", "..") or "\0" in doc_id:
            raise KeyError(doc_id)
        return self.root / kind / f"{doc_id}.json"

    def put(self, kind: str, doc_id: str, document: Any) -> None:
        target = self.path(kind, doc_id)
        target.parent.mkdir(parents=True, exist_ok=True)
        text = json.dumps(document, indent=1, sort_keys=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".", suffix=".part")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(text)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, target)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise

    def get(self, kind: str, doc_id: str) -> Any | None:
        """The document, or None when there is none."""
        try:
            text = self.path(kind, doc_id).read_text(encoding="utf-8")
        except (FileNotFoundError, KeyError):
            return None
        return json.loads(text)

    def all(self, kind: str) -> list[tuple[str, Any]]:
        """(id, document) of every document of `kind`, oldest first."""
        folder = self.root / kind
        if not folder.is_dir():
            return []
        files = sorted(folder.glob("*.json"), key=lambda p: (p.stat().st_mtime_ns, p.name))
        found = []
        for path in files:
            with contextlib.suppress(FileNotFoundError):
                found.append((path.stem, json.loads(path.read_text(encoding="utf-8"))))
        return found

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """Held across a read-modify-write, by every process of the workspace."""
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.root / ".lock", "a+") as handle:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)

    def snapshot(self, source: str | os.PathLike[str]) -> str:
        """Keep a copy of `source` as it is now (the SDK's snapshot of a step's source
        directory); return its id."""
        snapshot_id = str(uuid.uuid4())
        target = self.root / "snapshots" / snapshot_id
        target.parent.mkdir(parents=True, exist_ok=True)
        copy_snapshot(Path(source), target, workspace=self.workspace.resolve())
        return snapshot_id

    def snapshot_folder(self, snapshot_id: str) -> Path:
        return self.root / "snapshots" / snapshot_id
