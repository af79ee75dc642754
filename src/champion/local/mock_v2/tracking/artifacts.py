"""MLflow's artifact proxy over the store's artifacts: `mlflow-artifacts:/<experiment>/<run>/
artifacts/<path>` is the run's artifact `<path>` (the same file `Run.get_file_names()` lists in
v1, under Azure's rule that an artifact is never overwritten), and
`mlflow-artifacts:/registry/<name>/<version>/<path>` a registered version's files, whichever face
registered it (`registry.py` names versions by it). List (`GET ?path=`), download (`GET
/<path>`) and upload (`PUT /<path>`)."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from typing import Any

from champion.local.mock_v2.tracking.runs import RunsApi
from champion.local.mock_v2.tracking.wire import MlflowError, invalid, not_found
from champion.local.store import (
    RUN_ORIGIN,
    ArtifactExists,
    ArtifactRecord,
    InvalidArtifactPath,
    RunRecord,
    Store,
)

ARTIFACTS = "/api/2.0/mlflow-artifacts/artifacts"
#: The model files of a registered version, as an artifact path.
REGISTRY_ROOT = "registry"


class ArtifactsApi:
    """The artifact proxy (see the module docstring). `model_files(name, version)` gives a
    version's files by the path a download gives them (set by `registry.py`)."""

    def __init__(self, store: Store, runs: RunsApi) -> None:
        self.store = store
        self.runs = runs
        self.model_files: Callable[[str, str], list[tuple[str, ArtifactRecord]]] = (
            lambda name, version: []
        )

    def answer(
        self, method: str, rest: str, query: dict[str, Any], body: bytes
    ) -> tuple[int, bytes, str]:
        if method == "GET" and rest.strip("/") == "":
            files = self._list(str(query.get("path", "")))
            return 200, json.dumps({"files": files}).encode(), "application/json"
        if method == "GET":
            return 200, self._read(rest.strip("/")), "application/octet-stream"
        if method == "PUT":
            self._write(rest.strip("/"), body)
            return 200, b"{}", "application/json"
        raise MlflowError(404, "ENDPOINT_NOT_FOUND", f"{method} of an artifact is not served")

    def _where(self, path: str) -> tuple[RunRecord, str]:
        parts = path.strip("/").split("/", 3)
        if len(parts) < 3 or parts[2] != "artifacts":
            raise not_found(f"No artifact root at {path!r}")
        run = self.runs.run(parts[1])
        return run, parts[3] if len(parts) > 3 else ""

    def _list(self, path: str) -> list[dict[str, Any]]:
        if path.startswith(REGISTRY_ROOT + "/"):
            return self._list_model(path)
        run, inner = self._where(path)
        entries = [
            (a.path, a.size)
            for a in self.store.list_artifacts(RUN_ORIGIN, run.data_container_id, inner or None)
        ]
        return _listing(entries, inner)

    def _list_model(self, path: str) -> list[dict[str, Any]]:
        parts = path.split("/", 3)
        name, version = parts[1], parts[2] if len(parts) > 2 else ""
        inner = parts[3] if len(parts) > 3 else ""
        files = [(rel, artifact.size) for rel, artifact in self.model_files(name, version)]
        return _listing(files, inner)

    def _read(self, path: str) -> bytes:
        if path.startswith(REGISTRY_ROOT + "/"):
            parts = path.split("/", 3)
            for rel, file in self.model_files(parts[1], parts[2]):
                if rel == (parts[3] if len(parts) > 3 else "") and file.digest:
                    with self.store.open_blob(file.digest) as stream:
                        return bytes(stream.read())
            raise not_found(f"No artifact at {path!r}")
        run, inner = self._where(path)
        artifact = self.store.get_artifact(RUN_ORIGIN, run.data_container_id, inner)
        if artifact is None or artifact.digest is None:
            raise not_found(f"No artifact {inner!r} in run {run.run_id}")
        with self.store.open_blob(artifact.digest) as stream:
            return bytes(stream.read())

    def _write(self, path: str, body: bytes) -> None:
        run, inner = self._where(path)
        try:
            with self.store.staging() as staging:
                staged = staging.stage(io.BytesIO(body))
                self.store.add_artifacts(
                    RUN_ORIGIN,
                    run.data_container_id,
                    [(inner, staged.digest, staged.size)],
                    blobs=[staged],
                )
        except ArtifactExists:
            raise MlflowError(
                409,
                "RESOURCE_ALREADY_EXISTS",
                f"Artifact {inner!r} of run {run.run_id} exists; run artifacts cannot be "
                "overwritten in Azure ML",
            ) from None
        except InvalidArtifactPath as exc:
            raise invalid(str(exc)) from None


def _listing(entries: list[tuple[str, int]], inner: str) -> list[dict[str, Any]]:
    """The direct children of folder `inner` among `(path, size)` entries (MLflow's list)."""
    stem = inner.strip("/")
    if any(p == stem for p, _ in entries):  # a file: MLflow lists it by its own name
        size = next(s for p, s in entries if p == stem)
        return [{"path": stem.rsplit("/", 1)[-1], "is_dir": False, "file_size": size}]
    out: dict[str, dict[str, Any]] = {}
    for path, size in entries:
        if stem and not path.startswith(stem + "/"):
            continue
        rest = path[len(stem) + 1 :] if stem else path
        head, sep, _ = rest.partition("/")
        if sep:
            out.setdefault(head, {"path": head, "is_dir": True})
        else:
            out[head] = {"path": head, "is_dir": False, "file_size": size}
    return sorted(out.values(), key=lambda f: str(f["path"]))
