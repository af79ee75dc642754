"""`champion verify` and `champion gc`: check a local workspace end to end, and tidy it.

Why: a registry is trusted only if its damage is found before a model is loaded from it. Verify
reads everything (SQLite's own integrity check, every blob's digest, every version's files and
metric) and changes nothing. GC removes only what no row refers to, and only once it is older
than a grace period, because a writer makes a blob durable *before* the row that names it
(store.put_blob): a young orphan may be a registration in flight.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, field
from pathlib import Path

from champion.local.store import BLOBS_DIR, CHUNK, TMP_DIR, Store

DEFAULT_GRACE_SECONDS = 3600.0


@dataclass
class VerifyReport:
    """Problems mean damage (a model may not load as registered); warnings are hygiene."""

    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    blobs_checked: int = 0
    versions_checked: int = 0

    @property
    def healthy(self) -> bool:
        return not self.problems


@dataclass
class GcReport:
    removed_blobs: list[str] = field(default_factory=list)
    removed_temp_files: list[str] = field(default_factory=list)
    bytes_freed: int = 0


def verify(store: Store, metric: str = "accuracy") -> VerifyReport:
    report = VerifyReport()
    report.problems += [f"sqlite integrity: {line}" for line in store.integrity_check()]
    referenced = store.referenced_digests()
    for digest in sorted(referenced):
        report.blobs_checked += 1
        path = store.blob_path(digest)
        if not path.exists():
            report.problems.append(f"blob {digest} is missing")
        elif _sha256(path) != digest:
            report.problems.append(f"blob {digest} is corrupt (content does not match digest)")
    for model in store.all_models():
        report.versions_checked += 1
        files = store.asset_artifacts(model.asset_id)
        if not files:
            report.problems.append(f"model {model.id} has no files")
        elif any(artifact.digest is None for _, artifact in files):
            report.problems.append(f"model {model.id} has a file that was never uploaded")
        if metric not in model.properties:
            report.warnings.append(f"model {model.id} has no {metric!r} property (unscored)")
    for orphan in _orphan_blobs(store, referenced):
        report.warnings.append(f"orphan blob {orphan.name} (no artifact refers to it)")
    for temp in sorted((store.root / TMP_DIR).glob("*")):
        report.warnings.append(f"stale temp file {temp.name}")
    return report


def gc(store: Store, grace_seconds: float = DEFAULT_GRACE_SECONDS) -> GcReport:
    report = GcReport()
    cutoff = time.time() - grace_seconds
    referenced = store.referenced_digests()
    candidates = [(p, report.removed_blobs) for p in _orphan_blobs(store, referenced)]
    candidates += [(p, report.removed_temp_files) for p in (store.root / TMP_DIR).glob("*")]
    for path, removed in candidates:
        try:
            stat = path.stat()
        except FileNotFoundError:
            continue
        if stat.st_mtime > cutoff:
            continue
        path.unlink(missing_ok=True)
        removed.append(path.name)
        report.bytes_freed += stat.st_size
    return report


def _orphan_blobs(store: Store, referenced: set[str]) -> list[Path]:
    root = store.root / BLOBS_DIR
    if not root.exists():
        return []
    return sorted(p for p in root.rglob("*") if p.is_file() and p.name not in referenced)


def _sha256(path: Path) -> str:
    hasher = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(CHUNK):
            hasher.update(chunk)
    return hasher.hexdigest()
