"""What Azure Resource Manager says on the wire for Azure ML's v2 resources: resource ids, the
`systemData` block, paging, and error bodies, shaped as the recordings of azure-ai-ml's own e2e
tests show them (Azure/azure-sdk-assets, python/sdk/ml/azure-ai-ml/tests/recordings/model/...:
a 404 is `{"error": {"code": "UserError", "message": "The specified resource was not found.",
"details": [{"code": "ModelNotFound", ...}], "additionalInfo": [...]}}`)."""

from __future__ import annotations

import urllib.parse
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from champion.local.mock_v2.transport import Reply, Request

PROVIDER = "Microsoft.MachineLearningServices"
#: The path every workspace resource sits under, as a route template.
WORKSPACE = (
    "/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.MachineLearningServices"
    "/workspaces/{ws}"
)
#: Where a workspace's region-local services answer; the local workspace has one "region".
LOCATION = "local"
API_HOST = f"{LOCATION}.api.azureml.ms"
NOT_FOUND = "The specified resource was not found."
#: How many items one page of a list holds before the service answers with a `nextLink`.
PAGE_SIZE = 100


@dataclass(frozen=True)
class Scope:
    """The subscription, resource group and workspace a request names: every one of them is
    the local workspace, and answers name them back as they were asked."""

    subscription: str
    resource_group: str
    workspace: str

    @classmethod
    def of(cls, params: Mapping[str, str]) -> Scope:
        return cls(params["sub"], params["rg"], params["ws"])

    @property
    def workspace_id(self) -> str:
        return (
            f"/subscriptions/{self.subscription}/resourceGroups/{self.resource_group}"
            f"/providers/{PROVIDER}/workspaces/{self.workspace}"
        )

    def resource_id(self, *parts: str) -> str:
        return "/".join([self.workspace_id, *parts])

    def long_uri(self, short: str) -> str:
        """`azureml://datastores/<d>/paths/<p>` in the long form the service answers with."""
        rest = short.removeprefix("azureml://")
        return (
            f"azureml://subscriptions/{self.subscription}/resourceGroups/{self.resource_group}"
            f"/workspaces/{self.workspace}/{rest}"
        )


def system_data(created: str, modified: str | None = None) -> dict[str, Any]:
    return {
        "createdAt": created,
        "createdBy": "champion",
        "createdByType": "User",
        "lastModifiedAt": modified or created,
        "lastModifiedBy": "champion",
        "lastModifiedByType": "User",
    }


def arm_error(
    status: int,
    message: str,
    *,
    code: str = "UserError",
    details: Sequence[tuple[str, str]] = (),
) -> Reply:
    """An error answer as the management front end sends it (the recorded 404 and 400)."""
    body = {
        "error": {
            "code": code,
            "message": message,
            "details": [
                {"code": c, "message": m, "details": [], "additionalInfo": []} for c, m in details
            ],
            "additionalInfo": [
                {"type": "ComponentName", "info": {"value": "managementfrontend"}},
                {"type": "Environment", "info": {"value": LOCATION}},
                {"type": "Location", "info": {"value": LOCATION}},
            ],
        }
    }
    return Reply.of_json(status, body, {"x-ms-response-type": "error"})


def not_found(detail_code: str, detail_message: str) -> Reply:
    return arm_error(404, NOT_FOUND, details=[(detail_code, detail_message)])


def page(request: Request, items: Sequence[Any]) -> Reply:
    """One page of a list: `$skip` into `items`, and a `nextLink` while more remain (the SDK
    follows it with the same query and the next `$skip`)."""
    try:
        skip = max(int(request.query.get("$skip", "0")), 0)
    except ValueError:
        return arm_error(400, f"The value of $skip, {request.query['$skip']!r}, is not a number.")
    chunk = list(items[skip : skip + PAGE_SIZE])
    body: dict[str, Any] = {"value": chunk}
    if skip + PAGE_SIZE < len(items):
        query = {**request.query, "$skip": str(skip + PAGE_SIZE)}
        base = request.url.split("?", 1)[0]
        body["nextLink"] = f"{base}?{urllib.parse.urlencode(query)}"
    return Reply.of_json(200, body)


def flag(value: Any) -> bool:
    """A JSON boolean as .NET reads it (`true`, or the text "true" in any case)."""
    return value is True or (isinstance(value, str) and value.lower() == "true")
