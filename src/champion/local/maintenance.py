"""`champion verify` and `champion gc`: check a local workspace end to end, and tidy it.

Why: a registry is trusted only if its damage is found before a model is loaded from it. Verify
reads everything (SQLite's own integrity check, the schema, every artifact path, every blob's
digest, every version's files and metric), changes nothing, and reports what it finds instead
of failing on it: damage is exactly what it exists to describe.

GC deletes only blobs no row refers to, and refuses to run at all on a database that fails its
integrity or schema check: a damaged page hides rows, and every blob they name would look like
an orphan. It deletes only files the store made, by the names it gives them (a digest in its
fan-out folder, a staged `.part`), and never through a link below `blobs/` or `tmp/`: those two
may be links to another disk, whose folder may hold the user's own files (`store.layout`).
It decides and deletes under the write lock that writers hold while they make a staged blob
durable and insert the row naming it (`Store.add_artifacts`), so no blob can be deleted between
"stored" and "referenced", whatever `--min-age` says. Temp files are cleared only while no
writer is staging (`Store.exclusive_staging`).
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from champion import names
from champion.errors import NotAWorkspaceError, WorkspaceStoreError
from champion.local.store import (
    BLOBS_DIR,
    CHUNK,
    TMP_DIR,
    DamagedRow,
    InvalidArtifactPath,
    Store,
    check_artifact_path,
    own_files,
    remove_own_file,
)
from champion.local.store.layout import not_readable

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
    temp_in_use: bool = False  # a writer was staging: tmp/ left for next time


def verify_path(path: str | os.PathLike[str], metric: str = "accuracy") -> VerifyReport:
    """Open the workspace read-only and verify it; a database too damaged to open is a
    finding too. Raises what is not damage: a path that is no workspace, one this user may
    not read, a read-only mount SQLite cannot read without writing (`Store.open` says which)."""
    try:
        store = Store.open(path, read_only=True)
    except (NotAWorkspaceError, PermissionError):
        raise
    except (WorkspaceStoreError, sqlite3.DatabaseError, OSError) as exc:
        return VerifyReport(problems=[f"cannot open the workspace: {exc}"])
    return verify(store, metric=metric)


def verify(store: Store, metric: str = "accuracy") -> VerifyReport:
    report = VerifyReport()

    def check(what: str, step: Callable[[], None]) -> None:
        try:
            step()
        except PermissionError as exc:  # a file this user may not read is no damage
            raise not_readable(Path(os.fsdecode(exc.filename or store.root))) from None
        except DamagedRow as exc:  # the row is listed by `rows`, once
            if f"damaged row: {exc.detail}" not in report.problems:
                report.problems.append(f"{what}: {exc.detail}")
        except (WorkspaceStoreError, sqlite3.DatabaseError, OSError) as exc:
            report.problems.append(f"{what}: {exc}")

    def rows() -> None:
        report.problems.extend(f"damaged row: {line}" for line in store.damaged_rows())

    def integrity() -> None:
        report.problems.extend(f"sqlite integrity: {line}" for line in store.integrity_check())

    def schema() -> None:
        report.problems.extend(f"schema drift: {line}" for line in store.schema_drift())

    referenced: set[str] = set()

    def blobs() -> None:
        referenced.update(store.referenced_digests())
        for digest in sorted(referenced):
            report.blobs_checked += 1
            path = store.blob_path(digest)
            found: str | None
            if path.exists():
                found = _sha256(path)
            else:  # a small blob kept in the database, or none at all
                content = store.inline_content(digest)
                found = None if content is None else hashlib.sha256(content).hexdigest()
            if found is None:
                report.problems.append(f"blob {digest} is missing")
            elif found != digest:
                report.problems.append(f"blob {digest} is corrupt (content does not match digest)")

    def artifact_paths() -> None:
        for artifact in store.all_artifacts(skip_damaged=True):
            try:
                check_artifact_path(artifact.path)
            except InvalidArtifactPath:
                report.problems.append(
                    f"unsafe artifact path {artifact.path!r} in {artifact.origin}/"
                    f"{artifact.container} (could escape a download folder)"
                )

    def models() -> None:
        registered = store.registered_ids()
        for model in store.all_models(skip_damaged=True):
            report.versions_checked += 1
            files = store.model_files(model.asset_id)
            if not files:
                report.problems.append(f"model {model.id} has no files")
            elif any(artifact.digest is None for _, artifact in files):
                report.problems.append(f"model {model.id} has a file that was never uploaded")
            for relative, _ in files:
                try:
                    check_artifact_path(relative)
                except InvalidArtifactPath:
                    report.problems.append(
                        f"model {model.id} would download {relative!r}, outside its folder"
                    )
            source = model.properties.get(names.CONVERTED_FROM)
            if source is not None and source not in registered:
                report.warnings.append(
                    f"model {model.id} says it was converted from {source}, which this "
                    "workspace never registered"
                )
            elif source is None and metric not in model.properties:
                # a conversion (`champion models convert-onnx`) is scored by its source, and
                # carries its check's figures instead
                report.warnings.append(f"model {model.id} has no {metric!r} property (unscored)")

    def leftovers() -> None:
        for orphan in _orphan_blobs(store, referenced):
            report.warnings.append(f"orphan blob {orphan.name} (no artifact refers to it)")
        for digest in sorted(store.inline_digests() - referenced):
            report.warnings.append(f"orphan blob {digest} (in the database, named by no artifact)")
        for temp in _temp_files(store):
            report.warnings.append(f"stale temp file {temp.name}")

    with store.snapshot():
        check("sqlite integrity", integrity)
        check("schema", schema)
        check("rows", rows)
        check("blobs", blobs)
        check("artifact paths", artifact_paths)
        check("models", models)
        if not report.problems:
            check("leftovers", leftovers)
    return report


def gc(store: Store, grace_seconds: float = DEFAULT_GRACE_SECONDS) -> GcReport:
    damage = store.integrity_check() + [f"schema drift: {p}" for p in store.schema_drift()]
    if damage:
        raise WorkspaceStoreError(
            f"refusing to collect garbage in {store.root}: its database is damaged "
            f"({damage[0]}{'; ...' if len(damage) > 1 else ''}), and rows a damaged page hides "
            "would make their blobs look like orphans. Nothing was deleted. Run `champion "
            "verify`, and restore the database from a copy.",
            field="workspace",
            value=str(store.root),
        )
    report = GcReport()
    cutoff = time.time() - grace_seconds
    with store.transaction():  # the lock writers hold to publish and reference a blob
        referenced = store.referenced_digests()
        _remove(store, _orphan_blobs(store, referenced), cutoff, report, report.removed_blobs)
        # Small blobs are stored by the transaction that writes the row naming them, so one
        # that no row names is never a writer's in flight: no grace needed.
        orphans = store.inline_digests() - referenced
        report.bytes_freed += store.delete_inline(orphans)
        report.removed_blobs.extend(sorted(orphans))
    with store.exclusive_staging() as free:
        if free:
            _remove(store, _temp_files(store), cutoff, report, report.removed_temp_files)
        else:
            report.temp_in_use = True
    return report


def _remove(
    store: Store, paths: list[Path], cutoff: float, report: GcReport, removed: list[str]
) -> None:
    for path in paths:
        folder, *parts = path.relative_to(store.root).parts
        size = remove_own_file(store.root, folder, parts, older_than=cutoff)
        if size is not None:
            removed.append(path.name)
            report.bytes_freed += size


def _orphan_blobs(store: Store, referenced: set[str]) -> list[Path]:
    """The store's own blob files (see `own_files`) that no row names."""
    return [
        store.root.joinpath(BLOBS_DIR, *parts)
        for parts in own_files(store.root, BLOBS_DIR)
        if parts[-1] not in referenced
    ]


def _temp_files(store: Store) -> list[Path]:
    """The store's own staged files in tmp/ (see `own_files`)."""
    return [store.root.joinpath(TMP_DIR, *parts) for parts in own_files(store.root, TMP_DIR)]


def _sha256(path: Path) -> str:
    hasher = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(CHUNK):
            hasher.update(chunk)
    return hasher.hexdigest()
