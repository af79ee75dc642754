"""The workspace itself, its discovery document and its datastores: what `workspaces.get`,
`jobs.list(parent_job_name=)` (which reads `discoveryUrl`) and every upload or download (a
datastore read, then `listSecrets`) ask first.

The datastores are the store's (`workspaceblobstore`, `workspacefilestore`, and any registered
through v1), plus `workspaceartifactstore`, which every Azure ML workspace has: the container
(`azureml`) of the runs' outputs and v1 uploads, read through the store's artifacts. The
workspace's `mlFlowTrackingUri` is the local MLflow endpoint when one runs (`tracking/`), so
`mlflow.set_tracking_uri(ml_client.workspaces.get(ws).mlflow_tracking_uri)` reaches it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from champion.local.mock_v2.paths import ARTIFACT_CONTAINER
from champion.local.mock_v2.transport import API, ARM, Reply, Request, Route, route
from champion.local.mock_v2.wire import (
    API_HOST,
    LOCATION,
    WORKSPACE,
    Scope,
    arm_error,
    flag,
    not_found,
    page,
    system_data,
)
from champion.local.store import (
    ARTIFACT_DATASTORE,
    BLOB_TYPE,
    FILE_TYPE,
    DatastoreRecord,
    Store,
)

DATASTORES = WORKSPACE + "/datastores"
#: A SAS token as `listSecrets` answers it (recorded: `"?sv=...&sig=...&se=...&srt=co&ss=bf&
#: sp=rcuwdl"`); the local blob service accepts any credential.
SAS_TOKEN = "?sv=2021-08-06&ss=b&srt=co&sp=rcwdl&se=2099-01-01T00:00:00Z&sig=champion-local"


class WorkspaceRoutes:
    """Workspace GET, discovery, datastore GET/list and `listSecrets`. `tracking_uri()` is the
    local MLflow endpoint's URL, or None."""

    def __init__(self, store: Store, tracking_uri: Callable[[], str | None]) -> None:
        self.store = store
        self._tracking_uri = tracking_uri

    def routes(self) -> list[Route]:
        return [
            route("GET", ARM, WORKSPACE, "Workspaces.get", self.get_workspace),
            route("GET", API, "/discovery", "Discovery.get", self.discovery),
            route("GET", ARM, DATASTORES, "Datastores.list", self.list_datastores),
            route("GET", ARM, DATASTORES + "/{name}", "Datastores.get", self.get_datastore),
            route("POST", ARM, DATASTORES + "/{name}/listSecrets", "Datastores.listSecrets",
                  self.list_secrets),
        ]  # fmt: skip

    def get_workspace(self, request: Request, params: dict[str, str]) -> Reply:
        scope = Scope.of(params)
        workspace_id = self.store.workspace_id
        arm_scope = f"/subscriptions/{scope.subscription}/resourceGroups/{scope.resource_group}"
        body = {
            "id": scope.workspace_id,
            "name": scope.workspace,
            "type": "Microsoft.MachineLearningServices/workspaces",
            "location": LOCATION,
            "kind": "Default",
            "tags": {},
            "sku": {"name": "Basic", "tier": "Basic"},
            "identity": {"type": "SystemAssigned"},
            "properties": {
                "friendlyName": scope.workspace,
                "description": f"the local workspace {self.store.root}",
                "workspaceId": workspace_id,
                "discoveryUrl": f"https://{API_HOST}/discovery",
                "mlFlowTrackingUri": self._tracking_uri()
                or f"azureml://{API_HOST}/mlflow/v1.0{scope.workspace_id}",
                "storageAccount": f"{arm_scope}/providers/Microsoft.Storage/storageAccounts/"
                + self._account(),
                "keyVault": f"{arm_scope}/providers/Microsoft.Keyvault/vaults/championlocal",
                "applicationInsights": None,
                "containerRegistry": None,
                "hbiWorkspace": False,
                "publicNetworkAccess": "Disabled",
                "provisioningState": "Succeeded",
                "v1LegacyMode": False,
            },
            "systemData": system_data(self._created()),
        }
        return Reply.of_json(200, body)

    def discovery(self, request: Request, params: dict[str, str]) -> Reply:
        base = f"https://{API_HOST}"
        names = ("api", "catalog", "experimentation", "gallery", "history", "hyperdrive",
                 "labeling", "modelmanagement", "pipelines", "studiourl")  # fmt: skip
        return Reply.of_json(200, {name: base for name in names})

    # ------------------------------------------------------------------ datastores

    def list_datastores(self, request: Request, params: dict[str, str]) -> Reply:
        scope = Scope.of(params)
        records = self._datastores()
        if "isDefault" in request.query:
            wanted = flag(request.query["isDefault"])
            records = [r for r in records if r.is_default == wanted]
        return page(request, [self.datastore_body(scope, r) for r in records])

    def get_datastore(self, request: Request, params: dict[str, str]) -> Reply:
        record = self._datastore(params["name"])
        if record is None:
            return not_found(
                "DatastoreNotFound", f"Datastore with name: {params['name']} not found."
            )
        return Reply.of_json(200, self.datastore_body(Scope.of(params), record))

    def list_secrets(self, request: Request, params: dict[str, str]) -> Reply:
        record = self._datastore(params["name"])
        if record is None:
            return not_found(
                "DatastoreNotFound", f"Datastore with name: {params['name']} not found."
            )
        if record.credential_type in ("None", ""):
            return arm_error(400, "No secrets for credentials of type None.")  # recorded
        return Reply.of_json(200, {"secretsType": "Sas", "sasToken": SAS_TOKEN})

    def datastore_body(self, scope: Scope, record: DatastoreRecord) -> dict[str, Any]:
        shared: dict[str, Any] = {
            "description": None,
            "tags": None,
            "properties": None,
            "isDefault": record.is_default,
            "credentials": {"credentialsType": _credentials_type(record)},
            "subscriptionId": scope.subscription,
            "resourceGroup": scope.resource_group,
            "accountName": record.account,
            "endpoint": record.endpoint or "core.windows.net",
            "protocol": record.protocol or "https",
            "serviceDataAccessAuthIdentity": "WorkspaceSystemAssignedIdentity",
        }
        if record.type == FILE_TYPE:
            shared.update(datastoreType="AzureFile", fileShareName=record.container)
        else:
            shared.update(datastoreType="AzureBlob", containerName=record.container)
        return {
            "id": scope.resource_id("datastores", record.name),
            "name": record.name,
            "type": "Microsoft.MachineLearningServices/workspaces/datastores",
            "properties": shared,
            "systemData": system_data(self._created()),
        }

    def _datastores(self) -> list[DatastoreRecord]:
        artifact_store = self._artifact_store()
        return sorted([*self.store.list_datastores(), artifact_store], key=lambda r: r.name)

    def _datastore(self, name: str) -> DatastoreRecord | None:
        if name.lower() == ARTIFACT_DATASTORE:
            return self._artifact_store()
        return self.store.get_datastore(name)

    def _artifact_store(self) -> DatastoreRecord:
        return DatastoreRecord(
            name=ARTIFACT_DATASTORE,
            type=BLOB_TYPE,
            container=ARTIFACT_CONTAINER,
            account=self._account(),
            protocol="https",
            endpoint="core.windows.net",
            credential_type="AccountKey",
            is_default=False,
        )

    def _account(self) -> str:
        return self.store.default_datastore().account

    def _created(self) -> str:
        return self.store.workspace_created


def _credentials_type(record: DatastoreRecord) -> str:
    kind = record.credential_type or "None"
    return {"AccountKey": "AccountKey", "Sas": "Sas", "None": "None"}.get(kind, kind)
