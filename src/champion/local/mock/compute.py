"""Compute targets, as a pipeline definition looks them up: every one is this machine.

Why answer them at all: a pipeline-definition script finds its cluster before it builds its
steps (`ComputeTarget(ws, name)`, `ws.compute_targets[name]`, or "create it when it is
missing": `ComputeTarget.create(ws, name, AmlCompute.provisioning_configuration(...))` then
`wait_for_completion()`), and the step needs it as `compute_target=`. Locally every step runs on
this machine, so every name is an `AmlCompute` that exists and is provisioned: looking one up
never fails, creating or attaching one succeeds at once (its configuration is kept, in
`pipelines/computes/`, so it reads back as given and is listed), and deleting one forgets it.
Nothing is provisioned and nothing reaches Azure Resource Manager. The SDK's own
`ComputeTarget` classes build the objects from the service's JSON, as on Azure.
"""

from __future__ import annotations

import copy
from typing import Any

from champion.local.mock.backend import LOCATION, ClientFamily, Patch
from champion.local.mock.pipeline_store import PipelineDocuments

#: What a target reads like when nobody created it: a small cluster that is always there.
_DEFAULT: dict[str, Any] = {
    "location": LOCATION,
    "properties": {
        "computeType": "AmlCompute",
        "description": "this machine (champion's local workspace)",
        "isAttachedCompute": False,
        "provisioningState": "Succeeded",
        "provisioningErrors": None,
        "properties": {
            "vmSize": "LOCAL",
            "vmPriority": "Dedicated",
            "scaleSettings": {
                "minNodeCount": 0,
                "maxNodeCount": 1,
                "nodeIdleTimeBeforeScaleDown": "PT1800S",
            },
            "subnet": None,
        },
    },
}
_OPERATION = "champion-local://compute/succeeded"


class ComputeTargets(ClientFamily):
    """`ComputeTarget` lookups, lists, creation, attachment and deletion (see the module)."""

    def patches(self) -> list[Patch]:
        from azureml.core import Workspace
        from azureml.core.compute import ComputeTarget

        documents = PipelineDocuments(self.store.root)
        backend = self.backend

        def payload(workspace: Any, name: str) -> dict[str, Any]:
            kept = documents.get("computes", name)
            found: dict[str, Any] = copy.deepcopy(kept if kept is not None else _DEFAULT)
            found["name"] = name
            found["id"] = (
                f"/subscriptions/{workspace.subscription_id}/resourceGroups/"
                f"{workspace.resource_group}/providers/Microsoft.MachineLearningServices/"
                f"workspaces/{workspace.name}/computes/{name}"
            )
            found.setdefault("location", LOCATION)
            found["tags"] = found.get("tags") or {}
            properties = found.setdefault("properties", {})
            properties.setdefault("resourceId", found["id"])
            for key, value in (("description", None), ("isAttachedCompute", False)):
                properties.setdefault(key, value)
            properties.update(provisioningState="Succeeded", provisioningErrors=None)
            inner = properties.setdefault("properties", {})
            if isinstance(inner, dict):
                inner.setdefault("subnet", None)
            return found

        def get(workspace: Any, name: str) -> dict[str, Any]:
            backend.begin("compute.get", backend.rest_error)
            return payload(workspace, name)

        def target_list(workspace: Any) -> list[Any]:
            backend.begin("compute.list", backend.rest_error)
            found = []
            for name, _ in documents.all("computes"):
                target = _target(ComputeTarget, workspace, payload(workspace, name))
                if target is not None:
                    found.append(target)
            return found

        def create(workspace: Any, name: str, compute_payload: Any, target_class: Any) -> Any:
            backend.begin("compute.create", backend.rest_error)
            documents.put("computes", name, copy.deepcopy(dict(compute_payload)))
            target = target_class(workspace, name)
            target._operation_endpoint = _OPERATION
            return target

        def attach(workspace: Any, name: str, attach_payload: Any, target_class: Any) -> Any:
            target = create(workspace, name, attach_payload, target_class)
            return target

        def operation_state(target: Any) -> tuple[str, None]:
            return "Succeeded", None

        def forget(target: Any, underlying_resource_action: Any) -> None:
            backend.begin("compute.delete", backend.rest_error)
            path = documents.path("computes", target.name)
            path.unlink(missing_ok=True)

        def compute_targets(workspace: Any) -> dict[str, Any]:
            return _EveryTarget(workspace, ComputeTarget)

        return [
            (ComputeTarget, "_get", staticmethod(get)),
            (ComputeTarget, "list", staticmethod(target_list)),
            (ComputeTarget, "_create_compute_target", staticmethod(create)),
            (ComputeTarget, "_attach", staticmethod(attach)),
            (ComputeTarget, "_get_operation_state", operation_state),
            (ComputeTarget, "_delete_or_detach", forget),
            (Workspace, "compute_targets", property(compute_targets)),
        ]


def _target(compute_target: Any, workspace: Any, payload: dict[str, Any]) -> Any:
    """The SDK's own object for a payload, by its compute type (None: a type it lacks)."""
    kind = payload["properties"].get("computeType")
    for child in compute_target.__subclasses__():
        if getattr(child, "_compute_type", None) == kind:
            return child.deserialize(workspace, payload)
    return None


class _EveryTarget(dict[str, Any]):
    """`ws.compute_targets`: the kept targets, and any other name as this machine."""

    def __init__(self, workspace: Any, compute_target: Any) -> None:
        super().__init__({t.name: t for t in compute_target.list(workspace)})
        self._workspace = workspace
        self._class = compute_target

    def __missing__(self, name: str) -> Any:
        target = self._class(self._workspace, name)
        self[name] = target
        return target

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and bool(name)

    def get(self, name: str, default: Any = None) -> Any:
        return self[name] if name in self else default
