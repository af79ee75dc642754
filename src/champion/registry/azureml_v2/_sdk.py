"""The model registry's REST operations as the v2 backend makes them: through azure-ai-ml's own
clients, one request each, and the one place that names the SDK's private parts.

Why not only the public `ml_client.models` calls: each costs more requests than the gate's
contract allows, or cannot say what the gate must know.

- `models.create_or_update(Model(...))` GETs the latest version first (it refuses to mix
  prompt-flow evaluators with models) and, without a version, GETs the container to pick one:
  three requests, and a retry after a lost answer registers a second version. The gate sends
  ONE PUT of an explicit version with every property in it, and reads that version back after a
  lost answer.
- `models.get(name, label="latest")` sends no `listViewType` (what Azure then lists is not
  documented; azureml-v2-facts.md §1.1) and `models.list(name)` pages through every version. The
  champion is read with the list request the SDK sends for "latest", asking for active versions
  only: one request, newest created first.
- `models.list` does not expose the REST `properties=` filter: finding the version a pipeline
  run registered (`registered_by`) is one filtered list request here.

Each function is one attempt: `champion._retry` wraps it, and only the service's "not found"
(404) is an answer. The SDK's operation objects are read once per client (`Models`); if an
azure-ai-ml release renames them, every call says so in one line instead of failing deep inside.
"""

from __future__ import annotations

from typing import Any

from champion.errors import InfrastructureError

__all__ = ["Models", "is_not_found"]

#: The list order the SDK sends for `label="latest"`: most recently created first.
NEWEST_FIRST = "createdtime desc"
ACTIVE_ONLY = "ActiveOnly"


def is_not_found(exc: BaseException) -> bool:
    """The service's 404 (azure-core's ResourceNotFoundError), the one "none" answer."""
    return type(exc).__name__ == "ResourceNotFoundError" or getattr(exc, "status_code", 0) == 404


class Models:
    """The model versions and containers of the workspace `ml_client` names."""

    def __init__(self, ml_client: Any) -> None:
        try:
            operations = ml_client.models
            self._versions = operations._model_versions_operation
            self._containers = operations._model_container_operation
            self._scope = {
                "resource_group_name": operations._resource_group_name,
                "workspace_name": operations._workspace_name,
            }
        except AttributeError as exc:  # pragma: no cover - an azure-ai-ml we were not built on
            raise InfrastructureError(
                f"this azure-ai-ml release has no {exc.name!r} where champion's v2 backend reads "
                "the model registry; install a release champion supports (azure-ai-ml>=1.30,<2)",
                field="azure-ai-ml",
                value=str(exc.name),
            ) from None
        self.ml_client = ml_client

    def newest_live(self, name: str) -> Any | None:
        """The most recently created active version of `name` (REST `ModelVersionData`), or
        None when the name has no active version (the service answers 404 for a new name)."""
        try:
            found = self._versions.list(
                name=name, order_by=NEWEST_FIRST, top=1, list_view_type=ACTIVE_ONLY, **self._scope
            )
            return next(iter(found), None)
        except Exception as exc:
            if is_not_found(exc):
                return None
            raise

    def with_property(self, name: str, key: str, value: str) -> Any | None:
        """The newest version of `name` (archived ones too) whose property `key` is `value`;
        None when there is none."""
        try:
            found = self._versions.list(
                name=name,
                order_by=NEWEST_FIRST,
                properties=f"{key}={value}",
                list_view_type="All",
                **self._scope,
            )
            # the filter is the service's; the check is ours (a service that ignored it must
            # not make another run's version this run's)
            return next(
                (v for v in found if (v.properties.properties or {}).get(key) == value), None
            )
        except Exception as exc:
            if is_not_found(exc):
                return None
            raise

    def get(self, name: str, version: int) -> Any | None:
        """Version `version` of `name`, or None when it does not exist."""
        try:
            return self._versions.get(name=name, version=str(version), **self._scope)
        except Exception as exc:
            if is_not_found(exc):
                return None
            raise

    def next_version(self, name: str) -> int:
        """The container's `nextVersion`: one more than any version ever created (deleted
        versions included: Azure never creates a version number twice); 1 for a new name."""
        try:
            container = self._containers.get(name=name, **self._scope)
        except Exception as exc:
            if is_not_found(exc):
                return 1
            raise
        return int(container.properties.next_version)

    def put(self, name: str, version: int, body: Any) -> Any:
        """Create version `version` of `name` from the REST body `body` (one PUT)."""
        return self._versions.create_or_update(
            name=name, version=str(version), body=body, **self._scope
        )


def rest_body(
    name: str,
    version: int,
    path: str,
    properties: dict[str, str],
    tags: dict[str, str],
    description: str,
) -> Any:
    """The REST body of a custom model version, built by the SDK's own entity (so its fields
    are the ones `models.create_or_update` sends)."""
    from azure.ai.ml.constants import AssetTypes
    from azure.ai.ml.entities import Model

    model = Model(
        name=name,
        version=str(version),
        path=path,
        type=AssetTypes.CUSTOM_MODEL,
        properties=properties,
        tags=tags,
        description=description,
    )
    return model._to_rest_object()


def entity_of(rest: Any) -> Any:
    """The SDK's `Model` for a REST version (what `models.get` returns)."""
    from azure.ai.ml.entities import Model

    return Model._from_rest_object(rest)
