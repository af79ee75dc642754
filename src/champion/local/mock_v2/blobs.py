"""Azure Blob Storage, as far as azure-ai-ml's uploads and downloads use it: blob HEAD, GET (with
ranges), PUT (whole, or staged blocks and a block list), `comp=metadata`, and the container
listing, over the workspace's datastore folders and its artifact store.

A datastore blob is a file in `datastores/<name>/` (written whole by the store, never half a
file; the one path rule of `store/datastores.py` applies), its metadata a row of the store, so
the SDK's "already uploaded?" check (`upload_status=completed` on the first file) answers as on
Azure and the same bytes are not sent twice. The artifact store (`azureml`) is read-only here:
it is what runs and v1 uploads wrote.
"""

from __future__ import annotations

import base64
import hashlib
import io
import re
import threading
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from datetime import UTC, datetime
from email.utils import format_datetime

from champion.local._unmocked import UnmockedServiceCall
from champion.local.mock_v2.paths import Storage, storage_of
from champion.local.mock_v2.transport import (
    BLOB,
    Refused,
    Reply,
    Request,
    Route,
    route,
)
from champion.local.store import DataPathError, Store

_META = "x-ms-meta-"
_BAD_RANGE = "The range specified is invalid for the current size of the resource."
_MD5_MISMATCH = (
    "The MD5 value specified in the request did not match with the MD5 value calculated by "
    "the server."
)
_RANGE = re.compile(r"bytes=(\d+)-(\d*)")


class BlobRoutes:
    """The blob service of the local workspace (see the module docstring)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._blocks: dict[tuple[str, str, str], bytes] = {}
        self._lock = threading.Lock()

    def routes(self) -> list[Route]:
        blob, container = "/{container}/{blob:path}", "/{container}"
        listing = {"restype": "container", "comp": "list"}
        return [
            route("GET", BLOB, container, "Container.listBlobs", self.list_blobs, listing),
            route("HEAD", BLOB, blob, "Blob.getProperties", self.head),
            route("GET", BLOB, blob, "Blob.download", self.get),
            route("PUT", BLOB, blob, "Blob.setMetadata", self.put, {"comp": "metadata"}),
            route("PUT", BLOB, blob, "Blob.stageBlock", self.put, {"comp": "block"}),
            route("PUT", BLOB, blob, "Blob.commitBlockList", self.put, {"comp": "blocklist"}),
            route("PUT", BLOB, blob, "Blob.upload", self.put),
        ]

    # ------------------------------------------------------------------ reads

    def head(self, request: Request, params: dict[str, str]) -> Reply:
        storage, name = self._storage(request, params), params["blob"]
        found = self._read(storage, name)
        if found is None:
            return _error(404, "BlobNotFound", "The specified blob does not exist.")
        data, modified, metadata = found
        return Reply(200, data, _properties(data, modified, metadata))

    def get(self, request: Request, params: dict[str, str]) -> Reply:
        storage, name = self._storage(request, params), params["blob"]
        found = self._read(storage, name)
        if found is None:
            return _error(404, "BlobNotFound", "The specified blob does not exist.")
        data, modified, metadata = found
        headers = _properties(data, modified, metadata)
        wanted = request.header("x-ms-range") or request.header("Range")
        match = _RANGE.fullmatch(wanted or "")
        if match is None:
            return Reply(200, data, headers)
        start = int(match[1])
        end = min(int(match[2]) if match[2] else len(data) - 1, len(data) - 1)
        if start >= len(data):
            return _error(416, "InvalidRange", _BAD_RANGE)
        headers["Content-Range"] = f"bytes {start}-{end}/{len(data)}"
        return Reply(206, data[start : end + 1], headers)

    def list_blobs(self, request: Request, params: dict[str, str]) -> Reply:
        query = request.query
        storage = self._storage(request, params)
        prefix, delimiter = query.get("prefix", ""), query.get("delimiter", "")
        root = ET.Element(
            "EnumerationResults",
            ServiceEndpoint=f"https://{request.host}/",
            ContainerName=storage.container,
        )
        ET.SubElement(root, "Prefix").text = prefix
        if delimiter:
            ET.SubElement(root, "Delimiter").text = delimiter
        blobs, seen = ET.SubElement(root, "Blobs"), set()
        for name in self._names(storage, prefix):
            if delimiter and delimiter in name[len(prefix) :]:
                folder = name[: name.index(delimiter, len(prefix)) + len(delimiter)]
                if folder not in seen:
                    seen.add(folder)
                    ET.SubElement(ET.SubElement(blobs, "BlobPrefix"), "Name").text = folder
                continue
            found = self._read(storage, name)
            if found is None:
                continue
            data, modified, metadata = found
            item = ET.SubElement(blobs, "Blob")
            ET.SubElement(item, "Name").text = name
            props = ET.SubElement(item, "Properties")
            for key, value in (
                ("Creation-Time", _http_date(modified)),
                ("Last-Modified", _http_date(modified)),
                ("Etag", _etag(data, modified)),
                ("Content-Length", str(len(data))),
                ("Content-Type", "application/octet-stream"),
                ("Content-MD5", _md5(data)),
                ("BlobType", "BlockBlob"),
                ("LeaseStatus", "unlocked"),
                ("LeaseState", "available"),
                ("ServerEncrypted", "true"),
            ):
                ET.SubElement(props, key).text = value
            if "metadata" in query.get("include", "") and metadata:
                meta = ET.SubElement(item, "Metadata")
                for key, value in metadata.items():
                    ET.SubElement(meta, key).text = value
        ET.SubElement(root, "NextMarker")
        body = b'<?xml version="1.0" encoding="utf-8"?>' + ET.tostring(root)
        return Reply(200, body, {"Content-Type": "application/xml"})

    # ------------------------------------------------------------------ writes

    def put(self, request: Request, params: dict[str, str]) -> Reply:
        storage, name = self._storage(request, params), params["blob"]
        if storage.datastore is None:
            raise UnmockedServiceCall(
                "mock_azure_ai_ml: the artifact store (workspaceartifactstore) is written by "
                f"runs and v1 uploads, not by blob uploads ({request.method} {name})"
            )
        comp = request.query.get("comp")
        if comp == "metadata":
            if self._read(storage, name) is None:
                return _error(404, "BlobNotFound", "The specified blob does not exist.")
            self.store.set_blob_metadata(storage.datastore.name, name, _metadata(request))
            return Reply(200, b"", {"ETag": '"0x1"'})
        _check_md5(request)
        key = (storage.container, name)
        if comp == "block":
            with self._lock:
                self._blocks[(*key, request.query["blockid"])] = request.body
            return Reply(201)
        if comp == "blocklist":
            ids = [e.text or "" for e in ET.fromstring(request.body)]
            with self._lock:
                data = b"".join(self._blocks.pop((*key, block), b"") for block in ids)
            return self._write(storage, name, data, request)
        if comp is not None:
            raise UnmockedServiceCall(
                f"mock_azure_ai_ml: the local blob service has no comp={comp}"
            )
        if request.header("If-None-Match") == "*" and self._read(storage, name) is not None:
            return _error(409, "BlobAlreadyExists", "The specified blob already exists.")
        return self._write(storage, name, request.body, request)

    def _write(self, storage: Storage, name: str, data: bytes, request: Request) -> Reply:
        assert storage.datastore is not None
        try:
            self.store.datastore_write(
                storage.datastore.name, name, io.BytesIO(data), overwrite=True
            )
        except DataPathError as exc:
            return _error(400, "InvalidResourceName", str(exc))
        self.store.set_blob_metadata(storage.datastore.name, name, _metadata(request))
        now = datetime.now(UTC)
        return Reply(
            201,
            b"",
            {
                "ETag": _etag(data, now),
                "Last-Modified": _http_date(now),
                "Content-MD5": _md5(data),
                "x-ms-request-server-encrypted": "true",
            },
        )

    # ------------------------------------------------------------------ storage

    def _storage(self, request: Request, params: dict[str, str]) -> Storage:
        account = request.host.split(".", 1)[0]
        storage = storage_of(self.store, account, params["container"])
        if storage is None:
            raise Refused(
                _error(404, "ContainerNotFound", "The specified container does not exist.")
            )
        return storage

    def _read(self, storage: Storage, name: str) -> tuple[bytes, datetime, dict[str, str]] | None:
        """The bytes, time and metadata of blob `name`, or None if there is none."""
        if storage.datastore is None:
            origin, _, rest = name.partition("/")
            container, _, path = rest.partition("/")
            artifact = self.store.get_artifact(origin, container, path) if path else None
            if artifact is None or artifact.digest is None:
                return None
            with self.store.open_blob(artifact.digest) as stream:
                data = stream.read()
            return data, datetime.fromisoformat(artifact.created_utc), {}
        try:
            file = self.store.datastore_file(storage.datastore.name, name)
        except DataPathError:
            return None
        if not file.is_file():
            return None
        modified = datetime.fromtimestamp(file.stat().st_mtime, UTC)
        metadata = self.store.blob_metadata(storage.datastore.name, name)
        return file.read_bytes(), modified, metadata

    def _names(self, storage: Storage, prefix: str) -> Iterable[str]:
        """The blob names of a container that start with `prefix`, in name order."""
        if storage.datastore is None:
            names = (f"{a.origin}/{a.container}/{a.path}" for a in self.store.all_artifacts())
            yield from sorted(n for n in names if n.startswith(prefix))
            return
        try:
            files = self.store.datastore_files(storage.datastore.name, "")
        except DataPathError as exc:
            raise Refused(_error(400, "InvalidResourceName", str(exc))) from None
        yield from (name for name, _ in files if name.startswith(prefix))


def _metadata(request: Request) -> dict[str, str]:
    return {
        key[len(_META) :].lower(): value
        for key, value in request.headers.items()
        if key.lower().startswith(_META)
    }


def _check_md5(request: Request) -> None:
    sent = request.header("Content-MD5")
    if sent and sent != _md5(request.body):
        raise Refused(_error(400, "Md5Mismatch", _MD5_MISMATCH))


def _properties(data: bytes, modified: datetime, metadata: dict[str, str]) -> dict[str, str]:
    headers = {
        "Content-Type": "application/octet-stream",
        "Content-MD5": _md5(data),
        "ETag": _etag(data, modified),
        "Last-Modified": _http_date(modified),
        "Accept-Ranges": "bytes",
        "x-ms-blob-type": "BlockBlob",
        "x-ms-creation-time": _http_date(modified),
        "x-ms-lease-state": "available",
        "x-ms-lease-status": "unlocked",
        "x-ms-server-encrypted": "true",
    }
    headers.update({f"{_META}{k}": v for k, v in metadata.items()})
    return headers


def _error(status: int, code: str, message: str) -> Reply:
    body = (
        '<?xml version="1.0" encoding="utf-8"?>'
        f"<Error><Code>{code}</Code><Message>{message}</Message></Error>"
    )
    return Reply(
        status, body.encode(), {"Content-Type": "application/xml", "x-ms-error-code": code}
    )


def _md5(data: bytes) -> str:
    return base64.b64encode(hashlib.md5(data, usedforsecurity=False).digest()).decode()


def _etag(data: bytes, modified: datetime) -> str:
    return f'"0x{hashlib.sha256(data).hexdigest()[:15].upper()}"'


def _http_date(when: datetime) -> str:
    return format_datetime(when.astimezone(UTC), usegmt=True)
