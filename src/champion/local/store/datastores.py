"""Datastores: named folders inside the workspace, `datastores/<name>/`, standing in for a blob
container or a file share. Every workspace has `workspaceblobstore` (the default) and
`workspacefilestore`, as every Azure ML workspace has. Files are written to a temp file and
renamed into place, so a reader never sees half a file."""

from __future__ import annotations

import contextlib
import fnmatch
import os
import uuid
from pathlib import Path
from typing import Any

from champion.local.store.blobs import CHUNK
from champion.local.store.exceptions import DataPathError, DatastoreConflict
from champion.local.store.layout import DATASTORES_DIR
from champion.local.store.records import DatastoreRecord, datastore_record, utcnow
from champion.local.store.transactions import Transactions

_GLOB = set("*?[")


class Datastores(Transactions):
    """Datastore rows and the files in their folders."""

    def list_datastores(self) -> list[DatastoreRecord]:
        rows = self._query("SELECT * FROM datastores ORDER BY name")
        return [datastore_record(r) for r in rows]

    def get_datastore(self, name: str) -> DatastoreRecord | None:
        rows = self._query("SELECT * FROM datastores WHERE name=?", (_datastore_key(name),))
        return datastore_record(rows[0]) if rows else None

    def default_datastore(self) -> DatastoreRecord:
        rows = self._query("SELECT * FROM datastores WHERE is_default=1")
        return datastore_record(rows[0])

    def register_datastore(
        self,
        name: str,
        *,
        type: str,
        container: str,
        account: str,
        protocol: str | None = None,
        endpoint: str | None = None,
        credential_type: str = "None",
        overwrite: bool = False,
    ) -> DatastoreRecord:
        """Record a blob container or file share; the service lowercases the name. An existing
        name is a conflict unless `overwrite`, which replaces its description (its folder and
        files stay)."""
        key = _datastore_key(name)
        _check_segment(key, "datastore name")
        with self.transaction() as c:
            exists = c.execute("SELECT 1 FROM datastores WHERE name=?", (key,)).fetchone()
            if exists and not overwrite:
                raise DatastoreConflict("Another datastore with the same name already exists")
            values = (type, container, account, protocol, endpoint, credential_type)
            if exists:
                c.execute(
                    "UPDATE datastores SET type=?, container=?, account=?, protocol=?,"
                    " endpoint=?, credential_type=? WHERE name=?",
                    (*values, key),
                )
            else:
                c.execute(
                    "INSERT INTO datastores(name, type, container, account, protocol, endpoint,"
                    " credential_type, is_default, created_utc) VALUES (?,?,?,?,?,?,?,0,?)",
                    (key, *values, utcnow()),
                )
        record = self.get_datastore(key)
        assert record is not None
        return record

    def set_default_datastore(self, name: str) -> None:
        key = _datastore_key(name)
        with self.transaction() as c:
            if c.execute("SELECT 1 FROM datastores WHERE name=?", (key,)).fetchone() is None:
                raise DatastoreConflict(f"Datastore {name} was not found")
            c.execute("UPDATE datastores SET is_default = (name = ?)", (key,))

    def delete_datastore(self, name: str) -> bool:
        """Unregister a datastore; the default cannot go, and its folder stays (on Azure the
        storage account outlives the datastore)."""
        with self.transaction() as c:
            row = c.execute(
                "SELECT is_default FROM datastores WHERE name=?", (_datastore_key(name),)
            ).fetchone()
            if row is None:
                return False
            if row[0]:
                raise DatastoreConflict("The default datastore cannot be deleted")
            c.execute("DELETE FROM datastores WHERE name=?", (_datastore_key(name),))
            return True

    def datastore_folder(self, name: str) -> Path:
        """The folder behind a datastore (not created here: it appears with its first file)."""
        key = _datastore_key(name)
        if self.get_datastore(key) is None:
            raise DataPathError(f"datastore {name!r} is not registered in this workspace")
        return self.root / DATASTORES_DIR / key

    def datastore_write(
        self, name: str, path: str, source: str | os.PathLike[str] | Any, *, overwrite: bool
    ) -> bool:
        """Write one file into a datastore from a path or a binary stream; False (nothing
        written) if it exists and not `overwrite`. Temp file, fsync, rename: never half a file."""
        target = self.datastore_file(name, path)
        if target.exists() and not overwrite:
            return False
        if target.is_dir():
            raise DataPathError(f"{path!r} is a folder in datastore {name!r}, not a file")
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}.part")
        try:
            with open(partial, "wb") as out:
                if isinstance(source, str | os.PathLike):
                    with open(source, "rb") as src:
                        while chunk := src.read(CHUNK):
                            out.write(chunk)
                else:
                    while chunk := source.read(CHUNK):
                        out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
            os.replace(partial, target)
        finally:
            with contextlib.suppress(FileNotFoundError):
                partial.unlink()
        return True

    def datastore_file(self, name: str, path: str) -> Path:
        """Where `path` of datastore `name` lives; refuses a path that would leave the folder."""
        folder = self.datastore_folder(name)
        parts = [p for p in path.replace("\\", "/").split("/") if p not in ("", ".")]
        if not parts or ".." in parts:
            raise DataPathError(f"{path!r} is not a file path inside datastore {name!r}")
        return folder.joinpath(*parts)

    def datastore_files(self, name: str, pattern: str = "") -> list[tuple[str, Path]]:
        """`(path inside the datastore, file)` for what `pattern` names, in name order: one file,
        every file under a folder (or the whole datastore for ""), or a glob where `**` spans
        folders. The rule a dataset path follows, and the one its digest is computed over."""
        folder = self.datastore_folder(name)
        text = pattern.replace("\\", "/").lstrip("/")
        while text.startswith("./"):
            text = text[2:]
        parts = [p for p in text.split("/") if p not in ("", ".")]
        if ".." in parts:
            raise DataPathError(f"{pattern!r} leaves datastore {name!r}")
        if not folder.is_dir():
            return []
        every = sorted(
            (p.relative_to(folder).as_posix(), p)
            for p in folder.rglob("*")
            if p.is_file() and not p.name.endswith(".part")
        )
        stem = "/".join(parts)
        if not any(ch in _GLOB for ch in stem):
            return [(n, p) for n, p in every if not stem or n == stem or n.startswith(stem + "/")]
        return [(n, p) for n, p in every if _glob_match(n, stem)]


def _datastore_key(name: str) -> str:
    """The service lowercases datastore names (the SDK warns about capitals, then sends them)."""
    return name.lower()


def _check_segment(name: str, what: str) -> None:
    if not name or "/" in name or "\\" in name or name in (".", ".."):
        raise DataPathError(f"{what} {name!r} must be one folder name")


def _glob_match(name: str, pattern: str) -> bool:
    """rslex's glob over datastore paths: `*` and `?` stay inside one folder, `**` spans any
    number of folders (including none)."""
    return _glob_parts(name.split("/"), pattern.split("/"))


def _glob_parts(names: list[str], patterns: list[str]) -> bool:
    if not patterns:
        return not names
    head, rest = patterns[0], patterns[1:]
    if head == "**":
        return any(_glob_parts(names[i:], rest) for i in range(len(names) + 1))
    if not names or not fnmatch.fnmatchcase(names[0], head):
        return False
    return _glob_parts(names[1:], rest)
