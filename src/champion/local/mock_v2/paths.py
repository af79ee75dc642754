"""Where a v2 path points in the local workspace: the one reading of the uris the SDK sends
(`azureml://...datastores/<d>/paths/<p>`, `azureml://jobs/<job>/outputs/artifacts/paths/<p>`,
`runs:/<run>/<p>`, a blob URL) for the model registry, and of the blob containers the SDK's
storage clients name, for the blob service.

Two kinds of storage answer: a datastore's folder (`datastores/<name>/`, through the store's one
path rule), and the artifact store (`workspaceartifactstore`, Azure's container `azureml`),
which holds runs' outputs and v1 uploads as the store's artifacts, read-only here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from champion.local._unmocked import UnmockedServiceCall
from champion.local.mock_v2.transport import Refused
from champion.local.mock_v2.wire import arm_error
from champion.local.store import (
    ARTIFACT_DATASTORE,
    RUN_ORIGIN,
    DataPathError,
    DatastoreRecord,
    ModelSource,
    Store,
    artifact_store_uri,
)

#: The container Azure keeps a workspace's artifacts in, behind `workspaceartifactstore`.
ARTIFACT_CONTAINER = "azureml"
ACCOUNT_SUFFIX = ".blob.core.windows.net"

_DATASTORE = re.compile(
    r"azureml://(?:subscriptions/[^/]+/resourcegroups/[^/]+/workspaces/[^/]+/)?"
    r"datastores/(?P<ds>[^/]+)/paths/(?P<path>.*)",
    re.IGNORECASE,
)
_JOB_ARTIFACTS = re.compile(
    r"azureml://jobs/(?P<job>[^/]+)/outputs/artifacts/(?:paths/)?(?P<path>.*)"
)
_JOB_OUTPUT = re.compile(r"azureml://jobs/(?P<job>[^/]+)/outputs/(?P<output>[^/]+)/?")
_RUNS = re.compile(r"runs:/(?P<job>[^/]+)/(?P<path>.*)")
_BLOB_URL = re.compile(
    r"https://(?P<account>[^./]+)\.blob\.[^/]+/(?P<container>[^/]+)/(?P<path>.*)"
)


@dataclass(frozen=True)
class Storage:
    """A blob container of the local workspace: a datastore's folder, or the artifact store
    (`datastore is None`)."""

    account: str
    container: str
    datastore: DatastoreRecord | None


def bad_path(uri: str, why: str) -> Refused:
    return Refused(arm_error(400, f"The model path {uri!r} is invalid: {why}"))


def model_source(store: Store, uri: str, spec: dict[str, object]) -> ModelSource:
    """The files a model version's `modelUri` names, as the store registers them."""
    if match := _DATASTORE.fullmatch(uri):
        return _datastore_source(store, uri, match["ds"], match["path"].strip("/"), spec)
    if (match := _JOB_ARTIFACTS.fullmatch(uri)) or (match := _RUNS.fullmatch(uri)):
        return _run_source(store, uri, match["job"], match["path"].strip("/"), spec)
    if match := _JOB_OUTPUT.fullmatch(uri):
        raise UnmockedServiceCall(
            f"mock_azure_ai_ml: the local workspace does not keep the named output "
            f"{match['output']!r} of job {match['job']!r} ({uri}); register from the job's "
            "artifacts (azureml://jobs/<job>/outputs/artifacts/paths/<path>) or a datastore path",
        )
    if match := _BLOB_URL.fullmatch(uri):
        storage = storage_of(store, match["account"], match["container"])
        if storage is None:
            raise bad_path(uri, "no datastore of this workspace holds that blob container")
        name = storage.datastore.name if storage.datastore else ARTIFACT_DATASTORE
        short = f"azureml://datastores/{name}/paths/{match['path']}"
        return model_source(store, short, spec)
    raise bad_path(
        uri,
        "the local workspace reads azureml://datastores/<name>/paths/<path>, "
        "azureml://jobs/<job>/outputs/artifacts/paths/<path>, runs:/<run>/<path> and blob URLs "
        "of its datastores",
    )


def _datastore_source(
    store: Store, uri: str, datastore: str, path: str, spec: dict[str, object]
) -> ModelSource:
    short = f"azureml://datastores/{datastore.lower()}/paths/{path}"
    if datastore.lower() == ARTIFACT_DATASTORE:
        origin, _, rest = path.partition("/")
        container, _, inner = rest.partition("/")
        if not (origin and container and inner) or not store.list_artifacts(
            origin, container, inner
        ):
            raise bad_path(uri, "no artifact of this workspace is at that path")
        return ModelSource(uri=short, prefix=path, spec=spec)
    try:
        files = store.datastore_files(datastore, path)
    except DataPathError as exc:
        raise bad_path(uri, str(exc)) from None
    if not files:
        raise bad_path(uri, f"datastore {datastore!r} holds no file at {path!r}")
    return ModelSource(uri=short, datastore=datastore.lower(), files=files, spec=spec)


def _run_source(
    store: Store, uri: str, job: str, path: str, spec: dict[str, object]
) -> ModelSource:
    run = store.get_run(job)
    if run is None:
        raise bad_path(uri, f"there is no job named {job!r} in this workspace")
    if not path or not store.list_artifacts(RUN_ORIGIN, run.data_container_id, path):
        raise bad_path(uri, f"job {job!r} has no artifact at {path!r}")
    prefix = f"{RUN_ORIGIN}/{run.data_container_id}/{path}"
    return ModelSource(uri=artifact_store_uri(prefix), prefix=prefix, spec={**spec, "jobName": job})


def storage_of(store: Store, account: str, container: str) -> Storage | None:
    """The storage behind `https://<account>.blob.../<container>`, if the workspace has it."""
    if container == ARTIFACT_CONTAINER:
        return Storage(account, container, None)
    for record in store.list_datastores():
        if record.container == container and record.account == account:
            return Storage(account, container, record)
    return None
