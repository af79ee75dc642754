"""The exceptions champion raises, and what a step script should exit with for each.

Callers must never parse messages to decide what to do, so every class carries two class
attributes: ``code``, a stable machine-readable string that goes into the decision record and
logs, and ``exit_code``, the process exit status a step script returns for it. Messages are for
people: each names the field and the offending value and says how to fix it.

The exit codes split the tree by who has to act: ``2`` the user (fix an input, a tag, a policy),
``3`` the operator (the workspace or service failed; retrying may help), ``1`` nobody (the build
asked for a rejection to be an error).

Our exception hierarchy::

    * ChampionError                     code=champion_error       exit 3
      + InputError                      code=input_invalid        exit 2
        - MetricError                   code=metric_invalid
        - PolicyError                   code=policy_invalid
        - ModelPathError                code=model_path_invalid
        - UnscoredChampionError         code=champion_unscored
        - ConflictError                 code=conflict
      + InfrastructureError             code=infrastructure       exit 3
        - WorkspaceStoreError           code=workspace_store
      + RejectedError                   code=rejected             exit 1
"""

from __future__ import annotations

from typing import ClassVar

__all__ = [
    "ChampionError",
    "ConflictError",
    "InfrastructureError",
    "InputError",
    "MetricError",
    "ModelPathError",
    "PolicyError",
    "RejectedError",
    "UnscoredChampionError",
    "WorkspaceStoreError",
]


class ChampionError(Exception):
    """Base of every champion error, so a step can catch ours and let real bugs surface."""

    code: ClassVar[str] = "champion_error"
    exit_code: ClassVar[int] = 3

    def __init__(self, message: str, *, field: str | None = None, value: object = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.value = value

    def __str__(self) -> str:
        return self.message

    def to_dict(self) -> dict[str, object]:
        """JSON-ready form for the decision record; the value is a repr so any object fits."""
        return {
            "code": self.code,
            "message": self.message,
            "field": self.field,
            "value": None if self.value is None else repr(self.value),
        }


class InputError(ChampionError):
    """Raised for bad input from the user, a tag or a property: the user must fix it, not retry."""

    code: ClassVar[str] = "input_invalid"
    exit_code: ClassVar[int] = 2


class MetricError(InputError):
    """Raised when a metric is missing, not a finite number or out of range: never default to 0."""

    code: ClassVar[str] = "metric_invalid"


class PolicyError(InputError):
    """Raised for an inconsistent policy, so a typo cannot silently loosen the gate."""

    code: ClassVar[str] = "policy_invalid"


class ModelPathError(InputError):
    """Raised when the model artifact path is missing, empty or not allowed: nothing to register."""

    code: ClassVar[str] = "model_path_invalid"


class UnscoredChampionError(InputError):
    """Raised when the champion has no usable metric; failing closed beats replacing it blindly."""

    code: ClassVar[str] = "champion_unscored"


class ConflictError(InputError):
    """Raised when two sources disagree (e.g. same artifact name, other digest): a human decides."""

    code: ClassVar[str] = "conflict"


class InfrastructureError(ChampionError):
    """Raised when the workspace, registry or service fails; distinct so callers may retry it."""

    code: ClassVar[str] = "infrastructure"
    exit_code: ClassVar[int] = 3


class WorkspaceStoreError(InfrastructureError):
    """Raised when the local workspace's files are unusable, so corruption is never read as data."""

    code: ClassVar[str] = "workspace_store"


class RejectedError(ChampionError):
    """Raised only for callers that asked a rejection to fail the build; by default it exits 0."""

    code: ClassVar[str] = "rejected"
    exit_code: ClassVar[int] = 1
