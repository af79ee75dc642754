"""champion: register a model only when the challenger beats the registered champion.

The public API is `__all__` below (a test pins it). Everything is imported on first use, so
`import champion` (and the pytest plugin, which every pytest session of a project with champion
installed loads) costs nothing, and no name here imports azureml:

    from champion import Policy, RegisterRequest, register_if_better
    from champion.context import get_run

    record = register_if_better(get_run(), RegisterRequest("iris", Path("model.pkl"), Policy()))

Beside this module, `champion.local` (the local workspace), `champion.testing` (fixtures for
your own steps), `champion.steps.*` (the packaged steps), `champion.pipeline` (pipelines as
data, run locally or on Azure ML), `champion.registry` (the backend Protocols),
`champion.names` (every tag and property name), `champion.record`, `champion.history` (a
model's decisions in one timeline) and `champion.plot` (its picture; the `[plot]` extra) are
public. Modules whose name starts with `_` are not.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"
"""The version: its one home. The package metadata reads it from here (pyproject.toml's
`dynamic = ["version"]`), `champion --version` prints it, and a pipeline submitted to Azure ML
pins the wheel it uploads to it."""

if TYPE_CHECKING:
    from champion.context import get_registry
    from champion.decision import Decision, MetricRule, Outcome, Policy, decide
    from champion.errors import (
        ChampionError,
        ConflictError,
        InfrastructureError,
        InputError,
        MetricError,
        ModelPathError,
        NotAWorkspaceError,
        PolicyError,
        RejectedError,
        TestDataError,
        UnscoredChampionError,
        WorkspaceStoreError,
    )
    from champion.gate import (
        RegisterRequest,
        RescoreRequest,
        register_file_if_better,
        register_if_better,
    )
    from champion.local.mock import mock_azureml
    from champion.record import DecisionRecord
    from champion.registry import DecisionEntry, ModelVersion, Registry

__all__ = [
    "ChampionError",
    "ConflictError",
    "Decision",
    "DecisionEntry",
    "DecisionRecord",
    "InfrastructureError",
    "InputError",
    "MetricError",
    "MetricRule",
    "ModelPathError",
    "ModelVersion",
    "NotAWorkspaceError",
    "Outcome",
    "Policy",
    "PolicyError",
    "RegisterRequest",
    "Registry",
    "RejectedError",
    "RescoreRequest",
    "TestDataError",
    "UnscoredChampionError",
    "WorkspaceStoreError",
    "decide",
    "get_registry",
    "mock_azureml",
    "register_file_if_better",
    "register_if_better",
]

_HOMES = {
    "champion.context": ("get_registry",),
    "champion.decision": ("Decision", "MetricRule", "Outcome", "Policy", "decide"),
    "champion.errors": (
        "ChampionError",
        "ConflictError",
        "InfrastructureError",
        "InputError",
        "MetricError",
        "ModelPathError",
        "NotAWorkspaceError",
        "PolicyError",
        "RejectedError",
        "TestDataError",
        "UnscoredChampionError",
        "WorkspaceStoreError",
    ),
    "champion.gate": (
        "RegisterRequest",
        "RescoreRequest",
        "register_file_if_better",
        "register_if_better",
    ),
    "champion.local.mock": ("mock_azureml",),
    "champion.record": ("DecisionRecord",),
    "champion.registry": ("DecisionEntry", "ModelVersion", "Registry"),
}
_MODULE_OF = {name: module for module, names in _HOMES.items() for name in names}


def __getattr__(name: str) -> Any:
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module 'champion' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # once imported, a plain attribute
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
