"""The model registry's REST resources, `models` (containers) and `models/{name}/versions`,
answered from the store's model rows; the rules live in `store/model_versions.py`, the bodies
are shaped as the recorded service answers (`test_model.py` recordings of azure-ai-ml).

A version registered through v1 or the local classes is served too: its `modelUri` names where
its artifacts are in the artifact store, so `models.download` reads the same bytes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from champion.local.mock_v2.paths import model_source
from champion.local.mock_v2.transport import ARM, Refused, Reply, Request, Route, route
from champion.local.mock_v2.wire import (
    WORKSPACE,
    Scope,
    arm_error,
    flag,
    not_found,
    page,
    system_data,
)
from champion.local.store import (
    ContainerRecord,
    InvalidModelVersion,
    ModelRecord,
    ModelVersionRefused,
    PropertyConflict,
    Store,
    model_uri,
    parse_filter_query,
    parse_model_version,
)

MODELS = WORKSPACE + "/models"
#: `listViewType` values, and what each keeps: active, archived, or every version. A request
#: without one lists the active versions (the SDK always sends it for `models.list`; its latest
#: label sends none: unverified, see the fidelity table).
_VIEWS = {"activeonly": False, "archivedonly": True, "all": None}
_ORDERS = {"createdtime desc": True, "createdtime asc": False}


class ModelRoutes:
    """Containers and versions (see the module docstring). `on_archive(name)` is told of every
    archive or restore, for the traps."""

    def __init__(self, store: Store, on_archive: Callable[[str], None] = lambda name: None) -> None:
        self.store = store
        self._on_archive = on_archive

    def routes(self) -> list[Route]:
        return [
            route("GET", ARM, MODELS, "ModelContainers.list", self.list_containers),
            route("GET", ARM, MODELS + "/{name}", "ModelContainers.get", self.get_container),
            route("GET", ARM, MODELS + "/{name}/versions", "ModelVersions.list",
                  self.list_versions),
            route("GET", ARM, MODELS + "/{name}/versions/{version}", "ModelVersions.get",
                  self.get_version),
            route("PUT", ARM, MODELS + "/{name}/versions/{version}", "ModelVersions.createOrUpdate",
                  self.put_version),
        ]  # fmt: skip

    # ------------------------------------------------------------------ containers

    def list_containers(self, request: Request, params: dict[str, str]) -> Reply:
        scope = Scope.of(params)
        view = _view(request)
        # a container is archived only by a container archive, which is not served
        containers = [] if view is True else self.store.model_containers()
        return page(request, [container_body(scope, c) for c in containers])

    def get_container(self, request: Request, params: dict[str, str]) -> Reply:
        container = self.store.model_container(params["name"])
        if container is None:
            raise _no_container(params["name"])
        return Reply.of_json(200, container_body(Scope.of(params), container))

    # ------------------------------------------------------------------ versions

    def list_versions(self, request: Request, params: dict[str, str]) -> Reply:
        name, query = params["name"], request.query
        if self.store.model_container(name) is None:
            raise _no_container(name)
        order = query.get("$orderBy", "createdtime desc").strip().lower()
        if order not in _ORDERS:
            return arm_error(
                400, f"$orderBy {query['$orderBy']!r} is not supported by the local workspace; "
                "use 'createdtime desc' or 'createdtime asc'",
            )  # fmt: skip
        records = self.store.list_model_versions(
            name,
            archived=_view(request),
            stage=query.get("stage") or None,
            tags=parse_filter_query(query.get("tags")),
            properties=parse_filter_query(query.get("properties")),
            newest_first=_ORDERS[order],
        )
        if "$top" in query:
            records = records[: _top(query["$top"])]
        scope = Scope.of(params)
        return page(request, [self.version_body(scope, r) for r in records])

    def get_version(self, request: Request, params: dict[str, str]) -> Reply:
        record = self._version(params["name"], params["version"])
        return Reply.of_json(200, self.version_body(Scope.of(params), record))

    def put_version(self, request: Request, params: dict[str, str]) -> Reply:
        name, version, scope = params["name"], params["version"], Scope.of(params)
        body = request.json() or {}
        fields: dict[str, Any] = body.get("properties") or {}
        uri = fields.get("modelUri")
        if not uri:
            return arm_error(400, "The modelUri field is required.")
        try:
            parse_model_version(name, version)
            spec = {
                "modelType": fields.get("modelType") or "custom_model",
                "flavors": fields.get("flavors") or {},
                "jobName": fields.get("jobName"),
            }
            source = model_source(self.store, str(uri), spec)
            job = source.spec.get("jobName")
            run = self.store.get_run(str(job)) if job else None
            before = self.store.get_model(name, int(version))
            record, created = self.store.put_model_version(
                name,
                version,
                source,
                tags=fields.get("tags") or {},
                properties=fields.get("properties") or {},
                description=fields.get("description"),
                archived=flag(fields.get("isArchived")),
                stage=fields.get("stage"),
                run_id=run.run_id if run else None,
                experiment_name=run.experiment if run else None,
            )
        except ModelVersionRefused as exc:
            return arm_error(exc.status, str(exc), code=exc.code)
        except PropertyConflict as exc:
            return arm_error(
                400, f"Value of property {', '.join(exc.keys)} of model {name}:{version} cannot "
                "be replaced: the properties of a version are immutable; register a new "
                "version to change them.",
            )  # fmt: skip
        if before is not None and before.archived != record.archived:
            self._on_archive(name)
        answer = self.version_body(scope, record)
        if not created:
            return Reply.of_json(200, answer)
        location = f"https://management.azure.com{answer['id']}?api-version="
        location += request.query.get("api-version", "")
        return Reply.of_json(201, answer, {"Location": location})

    def _version(self, name: str, version: str) -> ModelRecord:
        try:
            number = parse_model_version(name, version)
        except InvalidModelVersion as exc:
            raise Refused(arm_error(400, str(exc))) from None
        record = self.store.get_model(name, number)
        if record is None:
            if self.store.model_container(name) is None:
                raise _no_container(name)
            raise Refused(not_found("ModelNotFound", f"Model version {name}:{version} not found."))
        return record

    def version_body(self, scope: Scope, record: ModelRecord) -> dict[str, Any]:
        asset = self.store.get_asset(record.asset_id)
        spec = record.spec or {"jobName": record.run_id}
        return {
            "id": scope.resource_id("models", record.name, "versions", str(record.version)),
            "name": str(record.version),
            "type": "Microsoft.MachineLearningServices/workspaces/models/versions",
            "properties": {
                "description": record.description,
                "tags": dict(record.tags),
                "properties": dict(record.properties),
                "isArchived": record.archived,
                "isAnonymous": False,
                "autoDeleteSetting": None,
                "flavors": spec.get("flavors") or {},
                "modelType": spec.get("modelType") or "custom_model",
                "modelUri": scope.long_uri(model_uri(record, asset.prefixes if asset else [])),
                "jobName": spec.get("jobName"),
                "provisioningState": "Succeeded",
                "stage": record.shown_stage,
                "intellectualProperty": None,
            },
            "systemData": system_data(record.created_utc, record.modified_utc),
        }


def container_body(scope: Scope, container: ContainerRecord) -> dict[str, Any]:
    """A container as listed: its tags and properties come back empty (what
    Azure/azure-sdk-for-python#40680 reports, and the recording of `test_list_no_name`)."""
    return {
        "id": scope.resource_id("models", container.name),
        "name": container.name,
        "type": "Microsoft.MachineLearningServices/workspaces/models",
        "properties": {
            "description": None,
            "tags": {},
            "properties": {},
            "isArchived": False,
            "latestVersion": str(container.latest_version),
            "nextVersion": str(container.next_version),
            "provisioningState": "Succeeded",
        },
        "systemData": system_data(container.created_utc, container.modified_utc),
    }


def _no_container(name: str) -> Refused:
    return Refused(not_found("ModelNotFound", f"Model container with name: {name} not found."))


def _view(request: Request) -> bool | None:
    value = request.query.get("listViewType", "ActiveOnly").lower()
    if value not in _VIEWS:
        raise Refused(arm_error(400, f"listViewType {request.query['listViewType']!r} is invalid."))
    return _VIEWS[value]


def _top(value: str) -> int:
    try:
        top = int(value)
    except ValueError:
        top = -1
    if top < 0:
        raise Refused(arm_error(400, f"The value of $top, {value!r}, is not a number."))
    return top
