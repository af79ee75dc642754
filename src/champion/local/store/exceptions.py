"""What the service refuses: each face turns these into the SDK's own exceptions."""

from __future__ import annotations

from collections.abc import Sequence


class StoreConflict(Exception):
    """A write the service would refuse; each face turns it into the SDK's own exception."""


class ArtifactExists(StoreConflict):
    def __init__(self, origin: str, container: str, paths: Sequence[str]) -> None:
        self.origin, self.container, self.paths = origin, container, list(paths)
        super().__init__(
            ", ".join(
                f"Resource Conflict: ArtifactId {origin}/{container}/{p} already exists."
                for p in paths
            )
        )


class InvalidArtifactPath(StoreConflict):
    """An artifact name that could escape a download folder: absolute, a `..` segment, a
    backslash, a NUL or empty. (svc: Azure's exact rule is unverified; we refuse these so
    that `download()` can never write outside its target.)"""

    def __init__(self, path: str) -> None:
        self.path = path
        super().__init__(
            f"Invalid artifact path {path!r}: artifact names must be relative, use '/' and "
            "contain no '..' segment"
        )


def check_artifact_path(path: str) -> None:
    if (
        not path
        or path.startswith("/")
        or "\\" in path
        or "\x00" in path
        or any(part in ("", ".", "..") for part in path.split("/"))
    ):
        raise InvalidArtifactPath(path)


class PropertyConflict(StoreConflict):
    def __init__(self, keys: Sequence[str]) -> None:
        self.keys = list(keys)
        super().__init__("Properties are immutable: " + ",".join(keys))


class ModelInUse(StoreConflict):
    """A version an active deployment serves cannot be deleted (Azure answers HTTP 412 with the
    code "DeletionRequired"); `deployments` are the active ones, as `(name, port, pid)`."""

    def __init__(
        self, name: str, version: int, deployments: Sequence[tuple[str, int, int]]
    ) -> None:
        self.name, self.version, self.deployments = name, version, list(deployments)
        served = ", ".join(f"{d} (port {port}, pid {pid})" for d, port, pid in deployments)
        super().__init__(
            f"DeletionRequired: model {name}:{version} is used by the active deployment(s) "
            f"{served}; stop them first"
        )


class DeploymentConflict(StoreConflict):
    """A deployment name an active deployment already has."""

    def __init__(self, name: str, port: int, pid: int) -> None:
        self.name, self.port, self.pid = name, port, pid
        super().__init__(f"deployment {name!r} is active (port {port}, pid {pid})")


class DatastoreConflict(Exception):
    """A datastore write the service refuses (a name taken, an unknown name)."""


class DatasetConflict(Exception):
    """A dataset registration the service refuses: the name exists and no new version was
    asked for."""

    def __init__(self, name: str) -> None:
        self.name = name
        super().__init__(f"There is already a dataset registered under name {name!r}")


class DataPathError(Exception):
    """A dataset path the local workspace cannot resolve to files (an unknown datastore, a URL,
    a path escaping its datastore)."""


class DatasetChanged(Exception):
    """A registered dataset version whose files no longer hash to the digest it was registered
    with: read now, it would give other rows under the same name and version. `changed` names
    the files modified after the registration (empty when none was: a file was removed or
    renamed, or its time was kept)."""

    def __init__(
        self,
        name: str,
        version: int,
        registered: str,
        now: str,
        files: list[str],
        changed: list[str],
    ) -> None:
        self.name, self.version, self.registered, self.now = name, version, registered, now
        self.files, self.changed = list(files), list(changed)
        which = (
            f"file {_listed(changed)} changed"
            if len(changed) == 1
            else f"files {_listed(changed)} changed"
            if changed
            else f"files ({_listed(files) or 'none left'}) changed"
        )
        super().__init__(
            f"dataset {name}:{version}'s {which} since it was registered (sha256 {registered} "
            f"then, {now} now); a registered version must not change: register a new version "
            "of the dataset and use that"
        )


def _listed(names: list[str], most: int = 3) -> str:
    shown = ", ".join(names[:most])
    return shown + (f" and {len(names) - most} more" if len(names) > most else "")


class ModelVersionRefused(StoreConflict):
    """A write Azure ML's v2 model registry refuses (`model_versions.py`): `status` is the HTTP
    status it answers with, `code` the error code of its body; the message is its text."""

    status = 400
    code = "UserError"


class InvalidModelVersion(ModelVersionRefused):
    """A model version that is not a positive integer (Azure/azureml-examples#2725)."""

    def __init__(self, name: str, version: str) -> None:
        self.name, self.version = name, version
        super().__init__(
            f"Model version {version!r} of model {name!r} is invalid: a model version in a "
            "workspace must be a positive integer (1, 2, ...)."
        )


class ModelPathChanged(ModelVersionRefused):
    """A version's files cannot be replaced: the SDK expects the service's text
    `ASSET_PATH_ERROR` (azure/ai/ml/_artifacts/_constants.py) for this refusal."""

    def __init__(self, name: str, version: int) -> None:
        self.name, self.version = name, version
        super().__init__("Asset paths cannot be updated.")


class ModelVersionDeleted(ModelVersionRefused):
    """A deleted version's number is never handed out again, not even when a client asks for
    it (Azure/azureml-assets#3439)."""

    status = 409

    def __init__(self, name: str, version: int) -> None:
        self.name, self.version = name, version
        super().__init__(
            f"Model version {name}:{version} was deleted; a deleted version cannot be "
            "created again. Use another version number."
        )


class ModelFilesMissing(ModelVersionRefused):
    """A new version whose path names no file."""

    def __init__(self, uri: str) -> None:
        self.uri = uri
        super().__init__(f"The model path {uri} holds no file; upload the model's files first.")


class ModelVersionExists(ModelVersionRefused):
    """A version that was to be new exists already (another writer took the number)."""

    status = 409

    def __init__(self, name: str, version: int) -> None:
        self.name, self.version = name, version
        super().__init__(f"Model version {name}:{version} already exists.")
