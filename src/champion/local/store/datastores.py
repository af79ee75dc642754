"""Datastores: named folders inside the workspace, `datastores/<name>/`, standing in for a blob
container or a file share. Every workspace has `workspaceblobstore` (the default) and
`workspacefilestore`, as every Azure ML workspace has. Files are written to a temp file and
renamed into place, so a reader never sees half a file.

The one rule for a path inside a datastore lives here, and every face goes through it (the
`champion.local` classes, and under `mock_azureml()` the storage clients, uploads and the
dataflows dataprep executes): relative to the datastore's root, `/` or `\\` between folders
(as the SDK splits them), no `..` segment and no NUL, and no symbolic link followed on the way
or inside what it names: a datastore's folder may be a link itself (storage moved elsewhere),
but a link inside it could lead anywhere on the machine. Datastore names follow the SDK's
documented rule: letters, digits and `_`, at most 255 characters."""

from __future__ import annotations

import contextlib
import fnmatch
import json
import os
import re
import uuid
from pathlib import Path
from typing import Any

from champion.errors import naming
from champion.local.store.blobs import CHUNK
from champion.local.store.exceptions import DataPathError, DatastoreConflict
from champion.local.store.layout import DATASTORES_DIR
from champion.local.store.records import DatastoreRecord, datastore_record, utcnow
from champion.local.store.transactions import Transactions

_GLOB = set("*?[")
_NAME = re.compile(r"[A-Za-z0-9_]{1,255}")


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
        key = check_datastore_name(name)
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
        if not key or key in (".", "..") or len(key) > 255 or any(c in key for c in "/\\\0"):
            # a row no registration wrote (a workspace copied from elsewhere): never a path
            raise DataPathError(f"datastore name {name!r} cannot be a folder name")
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
            with contextlib.ExitStack() as stack:
                if isinstance(source, str | os.PathLike):
                    with naming(source, "reading"):
                        source = stack.enter_context(open(source, "rb"))
                with naming(target, "writing the datastore file"):
                    with open(partial, "xb") as out:
                        while chunk := source.read(CHUNK):
                            out.write(chunk)
                        out.flush()
                        os.fsync(out.fileno())
                    os.replace(partial, target)
        finally:
            with contextlib.suppress(FileNotFoundError):
                partial.unlink()
        return True

    def blob_metadata(self, name: str, path: str) -> dict[str, str]:
        """The metadata a blob client set on a datastore file (`x-ms-meta-*`), or {}."""
        rows = self._query(
            "SELECT metadata FROM blob_metadata WHERE datastore=? AND path=?",
            (_datastore_key(name), "/".join(_parts(name, path))),
        )
        return dict(json.loads(rows[0][0])) if rows else {}

    def set_blob_metadata(self, name: str, path: str, metadata: dict[str, str]) -> None:
        """Replace a datastore file's metadata, as a blob PUT or `Set Blob Metadata` does
        (empty: none)."""
        key, where = _datastore_key(name), "/".join(_parts(name, path))
        with self.transaction() as c:
            c.execute("DELETE FROM blob_metadata WHERE datastore=? AND path=?", (key, where))
            if metadata:
                c.execute(
                    "INSERT INTO blob_metadata(datastore, path, metadata) VALUES (?,?,?)",
                    (key, where, json.dumps(metadata)),
                )

    def datastore_file(self, name: str, path: str) -> Path:
        """Where the file or folder `path` of datastore `name` lives (see the module docstring
        for the rule it must follow)."""
        folder = self.datastore_folder(name)
        parts = _parts(name, path)
        if not parts:
            raise DataPathError(f"{path!r} is not a file path inside datastore {name!r}")
        _refuse_links(name, path, folder, parts)
        return folder.joinpath(*parts)

    def datastore_pattern(self, name: str, pattern: str) -> str:
        """`pattern` (a file, a folder, or a glob where `**` spans folders) as a path relative
        to the datastore's root, once it is checked: the path rule, and no link on the way or
        anywhere below the part of it that holds no glob. What a dataflow executed under
        `mock_azureml()` reads or writes, as `datastore_files` lists it."""
        return "/".join(self._checked_scope(name, pattern)[0])

    def datastore_files(self, name: str, pattern: str = "") -> list[tuple[str, Path]]:
        """`(path inside the datastore, file)` for what `pattern` names, in name order: one file,
        every file under a folder (or the whole datastore for ""), or a glob where `**` spans
        folders. The rule a dataset path follows, and the one its digest is computed over."""
        parts, every = self._checked_scope(name, pattern)
        stem = "/".join(parts)
        if not any(ch in _GLOB for ch in stem):
            return [(n, p) for n, p in every if not stem or n == stem or n.startswith(stem + "/")]
        return [(n, p) for n, p in every if _glob_match(n, stem)]

    def _checked_scope(self, name: str, pattern: str) -> tuple[list[str], list[tuple[str, Path]]]:
        """The parts of `pattern`, and every file under the folder its glob-free head names
        (in name order), found without following a link: a link met on the way or there is
        refused (DataPathError), whether or not the pattern would match it."""
        folder = self.datastore_folder(name)
        parts = _parts(name, pattern)
        head = []
        for part in parts:
            if any(ch in _GLOB for ch in part):
                break
            head.append(part)
        _refuse_links(name, pattern, folder, head)
        scope = folder.joinpath(*head)
        if not scope.is_dir():
            is_file = scope.is_file() and head
            return parts, [("/".join(head), scope)] if is_file else []
        every: list[tuple[str, Path]] = []
        for current, dirs, files in os.walk(scope, followlinks=False):
            for entry in (*dirs, *files):
                found = Path(current, entry)
                if found.is_symlink():
                    raise _link_refused(name, pattern, found.relative_to(folder).as_posix())
                if entry in files and not found.is_file():
                    raise DataPathError(
                        f"{found.relative_to(folder).as_posix()!r} in datastore {name!r} is not "
                        "a regular file (a FIFO, socket or device); the local workspace reads "
                        "only files, and would block reading it"
                    )
            every.extend(
                (Path(current, f).relative_to(folder).as_posix(), Path(current, f))
                for f in files
                if not f.endswith(".part")
            )
        return parts, sorted(every)


def check_datastore_name(name: str) -> str:
    """The key a datastore is kept under (the service lowercases names), once `name` follows
    the SDK's documented rule ("can only contain alphanumeric characters and _"; at most 255,
    a file name's limit, since the local workspace makes it a folder)."""
    if not _NAME.fullmatch(name):
        shown = repr(name) if len(name) <= 60 else f"{name[:40]!r}... ({len(name)} characters)"
        raise DataPathError(
            f"datastore name {shown} is invalid: a datastore name can only contain letters, "
            "digits and _, at most 255 characters; choose another name"
        )
    return _datastore_key(name)


def _datastore_key(name: str) -> str:
    """The service lowercases datastore names (the SDK warns about capitals, then sends them)."""
    return name.lower()


def _parts(name: str, path: str) -> list[str]:
    """The folders and file `path` names inside datastore `name`: split at `/` and `\\` (the
    SDK splits at both), without empty and `.` segments (a leading `/` or `./` is the root);
    a `..` segment or a NUL is refused."""
    if "\x00" in path:
        raise DataPathError(f"datastore path {path!r} holds a NUL character; remove it")
    parts = [p for p in re.split(r"[/\\]", path) if p not in ("", ".")]
    if ".." in parts:
        raise DataPathError(
            f"datastore path {path!r} leaves datastore {name!r} (a '..' segment); a path is "
            "relative to the datastore's root"
        )
    return parts


def _refuse_links(name: str, path: str, folder: Path, parts: list[str]) -> None:
    """Refuse `path` if any of `parts` that exists below `folder` is a symbolic link."""
    current = folder
    for part in parts:
        current = current / part
        if current.is_symlink():
            raise _link_refused(name, path, current.relative_to(folder).as_posix())
        if not current.exists():
            return


def _link_refused(name: str, path: str, link: str) -> DataPathError:
    return DataPathError(
        f"datastore path {path!r} reaches {link!r} in datastore {name!r}, a symbolic link; the "
        "local workspace never follows a link inside a datastore (it could lead outside it): "
        "put the files themselves there"
    )


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
