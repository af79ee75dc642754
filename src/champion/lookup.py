"""Find the registered champion: the ONE place that tells "no model" from "lookup failed".

The public versions of this step wrap `Model(ws, name)` in a bare `except` and read any failure
as "no champion", so an expired token or a network error registers whatever was trained. Here
only the SDK's own not-found signal means "no champion": a `WebserviceException` whose message
contains "ModelNotFound" (the SDK raises that, never `ModelNotFoundException`, and tests for it
the same way internally). Every other failure stops the step before anything is registered.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from champion.context import latest_model
from champion.decision import Policy
from champion.errors import InfrastructureError, UnscoredChampionError
from champion.metrics import parse_metric
from champion.retry import call_with_retry, classify, describe
from champion.surface import ModelLike


@dataclass(frozen=True)
class Champion:
    """The current champion version and its parsed metric (None only if allowed unscored)."""

    name: str
    version: int
    metric: float | None
    model: ModelLike


def is_model_not_found(exc: BaseException) -> bool:
    """The SDK's own test (`Model._resolve_to_models`): WebserviceException + 'ModelNotFound'.

    Checked by class name and module so that the happy path never imports azureml."""
    is_webservice = any(
        cls.__name__ == "WebserviceException" and cls.__module__.startswith("azureml.")
        for cls in type(exc).__mro__
    )
    return is_webservice and "ModelNotFound" in str(getattr(exc, "message", "") or "")


def find_champion(workspace: Any, name: str, policy: Policy) -> Champion | None:
    """The latest registered version of `name` and its metric property, or None if there is no
    model of that name. Fails closed: any other lookup error is an InfrastructureError, and a
    champion whose metric is missing fails unless the policy allows an unscored champion."""
    action = f"looking up the champion model {name!r}"
    try:
        model = call_with_retry(action, lambda: latest_model(workspace, name))
    except InfrastructureError as exc:  # transient failures, retried until exhausted
        raise InfrastructureError(
            f"{exc.message}; nothing was registered", field="model_name", value=name
        ) from exc
    except Exception as exc:
        if is_model_not_found(exc):
            return None
        raise InfrastructureError(
            f"{action} failed ({describe(exc, classify(exc)[2])}); nothing was registered. "
            "Check the workspace connection and permissions, then retry.",
            field="model_name",
            value=name,
        ) from exc
    if model is None:
        return None
    return _score(model, name, policy)


def _score(model: ModelLike, name: str, policy: Policy) -> Champion:
    version = int(model.version)
    properties = model.properties or {}
    raw = properties.get(policy.metric)
    if raw is None:
        if policy.allow_unscored_champion:
            return Champion(name, version, None, model)
        raise UnscoredChampionError(
            f"the champion {name}:{version} has no {policy.metric!r} property, so it cannot be "
            "compared; nothing was registered. Add the property to that version, or pass "
            "--allow-unscored-champion to let the challenger replace it.",
            field=f"{name}:{version}",
            value=None,
        )
    metric = parse_metric(
        raw,
        source=f"model {name}:{version} property {policy.metric!r}",
        name=policy.metric,
        valid_range=policy.valid_range,
    )
    return Champion(name, version, metric, model)
