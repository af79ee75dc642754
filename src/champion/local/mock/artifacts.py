"""Run files: `ArtifactsClient` (create empty artifacts, list, content information) answered
from the store's artifact rows, and the blob transfers (`upload_blob_from_stream`,
`download_file`, `download_file_stream`, patched where the SDK imported them) answered from its
blobs. The "SAS URLs" handed out use a scheme only the patched transfers understand, so a URL
that escapes the mock cannot reach the network."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any, cast
from urllib.parse import quote, unquote

import azureml._restclient.artifacts_client as artifacts_module
import azureml._restclient.run_artifacts_client as run_artifacts_module
import azureml.core.model as model_module
from azure.common import AzureHttpError  # type: ignore[import-untyped]
from azureml._restclient import models as rest
from azureml._restclient.artifacts_client import ArtifactsClient

from champion.local._unmocked import UnmockedServiceCall
from champion.local.mock.backend import ClientFamily, Patch, as_method, bind
from champion.local.mock.wire import error_response, parse_time, service_error
from champion.local.store import ArtifactExists, ArtifactRecord, InvalidArtifactPath

#: Scheme of the "SAS URLs" the mocked artifact service hands out; only the patched blob
#: transfer functions understand it, so a URL that escapes the mock cannot reach the network.
ARTIFACT_SCHEME = "champion-artifact"


def artifact_uri(origin: str, container: str, path: str) -> str:
    parts = (quote(p, safe="") for p in (origin, container, path))
    return f"{ARTIFACT_SCHEME}://" + "/".join(parts)


def parse_artifact_uri(uri: str) -> tuple[str, str, str]:
    scheme, _, rest_of_uri = uri.partition("://")
    parts = rest_of_uri.split("/")
    if scheme != ARTIFACT_SCHEME or len(parts) != 3:
        raise ValueError(f"not a local workspace artifact URL: {uri!r}")
    origin, container, path = (unquote(p) for p in parts)
    return origin, container, path


def artifact_dto(record: ArtifactRecord) -> Any:
    return rest.ArtifactDto(
        artifact_id=f"{record.origin}/{record.container}/{record.path}",
        origin=record.origin,
        container=record.container,
        path=record.path,
        created_time=parse_time(record.created_utc),
    )


def content_information(origin: str, container: str, path: str) -> Any:
    return rest.ArtifactContentInformationDto(
        content_uri=artifact_uri(origin, container, path),
        origin=origin,
        container=container,
        path=path,
    )


def batch_result(records: Sequence[ArtifactRecord]) -> Any:
    return rest.BatchArtifactContentInformationDto(
        artifacts={r.path: artifact_dto(r) for r in records},
        artifact_content_information={
            r.path: content_information(r.origin, r.container, r.path) for r in records
        },
        errors={},
    )


def batch_conflict(origin: str, container: str, paths: Sequence[str]) -> Any:
    """Per-artifact errors, which the SDK turns into `AzureMLAggregatedException`."""
    return rest.BatchArtifactContentInformationDto(
        artifacts={},
        artifact_content_information={},
        errors={
            p: error_response(
                "UserError",
                f"Resource Conflict: ArtifactId {origin}/{container}/{p} already exists.",
            )
            for p in paths
        },
    )


#: The SDK calls answered with one existing artifact's URL, by the operation they count as.
_CONTENT_OPERATIONS = {
    "get_content_information": "artifacts.get_content",
    "get_write_sas": "artifacts.get_write_sas",
}


class ArtifactService(ClientFamily):
    """Artifact rows and their blobs (see the module docstring)."""

    def patches(self) -> list[Patch]:
        return [
            (ArtifactsClient, "_execute_with_workspace_arguments",
             as_method(self._artifacts_exec, "artifacts_exec")),
            (artifacts_module, "upload_blob_from_stream", self._upload_blob),
            (artifacts_module, "download_file", self._download_file),
            (artifacts_module, "download_file_stream", self._download_file_stream),
            (model_module, "download_file", self._download_file),
            (run_artifacts_module, "download_file", self._download_file),
        ]  # fmt: skip

    def _artifacts_exec(self, client: Any, func: Any, *args: Any, **kwargs: Any) -> Any:
        name = func.__name__
        params = bind(func, client._workspace_arguments, args, kwargs)
        origin, container = str(params.get("origin")), str(params.get("container"))
        if name == "batch_create_empty_artifacts":
            self.backend.begin("artifacts.create", self.backend.rest_error)
            paths = [p.path for p in params["command"].paths]
            try:
                records = self.store.add_artifacts(origin, container, [(p, None, 0) for p in paths])
            except ArtifactExists as exc:
                return batch_conflict(origin, container, exc.paths)
            except InvalidArtifactPath as exc:
                raise service_error(400, str(exc)) from None
            return batch_result(records)
        if name == "list_in_container":
            self.backend.begin("artifacts.list", self.backend.rest_error)
            return iter([artifact_dto(a) for a in self.store.list_artifacts(origin, container)])
        if name == "list_sas_by_prefix":
            self.backend.begin("artifacts.list_prefix", self.backend.rest_error)
            prefix = params.get("path") or None  # "" is the whole container
            records = self.store.list_artifacts(origin, container, prefix)
            return iter([content_information(a.origin, a.container, a.path) for a in records])
        if name in _CONTENT_OPERATIONS:  # a read URL, or a fresh write URL (one expired)
            self.backend.begin(_CONTENT_OPERATIONS[name], self.backend.rest_error)
            record = self.store.get_artifact(origin, container, params["path"])
            if record is None:
                return None  # the SDK turns this into "Cannot find the artifact ..."
            return content_information(origin, container, record.path)
        raise UnmockedServiceCall(
            f"mock_azureml: the local workspace does not implement the artifact operation {name}"
        )

    def _upload_blob(self, stream: Any, url: str, *args: Any, **kwargs: Any) -> None:
        """The PUT to the "SAS URL": the bytes become a content-addressed blob (its digest
        computed while streaming), then the empty artifact row is given that digest."""
        self.backend.begin("artifacts.upload", _transfer_error)
        origin, container, path = parse_artifact_uri(url)
        if self.store.get_artifact(origin, container, path) is None:
            raise AzureHttpError(f"The specified blob does not exist: {url}", 404)
        with self.store.staging() as session:
            self.store.set_artifact_content(origin, container, path, session.stage(stream))

    def _artifact_digest(self, uri: str) -> str | None:
        origin, container, path = parse_artifact_uri(uri)
        record = self.store.get_artifact(origin, container, path)
        if record is None:
            raise AzureHttpError(f"The specified blob does not exist: {uri}", 404)
        return record.digest

    def _download_file(
        self, source_uri: str, path: str | None = None, *args: Any, **kwargs: Any
    ) -> None:
        """The GET of a blob: copied out of the store with its digest verified."""
        if path is None:
            return  # the SDK's own function downloads nothing without a target either
        self.backend.begin("artifacts.download", self.backend.blob_error)
        digest = self._artifact_digest(source_uri)
        target = os.path.abspath(os.path.normpath(path))
        os.makedirs(os.path.dirname(target), exist_ok=True)
        self.store.copy_blob(digest, target)

    def _download_file_stream(
        self,
        source_uri: str,
        encoding: str = "utf-8",
        download_to_bytes: bool = False,
        *args: Any,
        **kwargs: Any,
    ) -> str | bytes:
        self.backend.begin("artifacts.download", self.backend.blob_error)
        data = self.store.read_blob(self._artifact_digest(source_uri))
        return data if download_to_bytes else data.decode(encoding)


def _transfer_error(status: int, message: str, retry_after: float | None) -> Exception:
    """What the SDK's `upload_blob_from_stream` raises: storage's `AzureHttpError`, except a
    403 (a SAS the storage account refuses, an expired one among them), which it wraps in an
    `AzureMLException` naming the account, the storage error kept as `inner_exception`."""
    error = AzureHttpError(message, status)
    if status != 403:
        return cast(Exception, error)
    from azureml._common._core_user_error.user_error import AuthorizationStorageAccount
    from azureml._common._error_definition import AzureMLError
    from azureml._common.exceptions import AzureMLException

    detail = AzureMLError.create(
        AuthorizationStorageAccount,
        account_name="local",
        container_name="artifacts",
        status_code=status,
    )
    return cast(Exception, AzureMLException._with_error(detail, inner_exception=error))
