"""The traps on the real SDK under `mock_azureml()`: wrappers on its public entry points that look
at the arguments and the result, warn as the local classes do, and change nothing."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any

from champion.local._traps.models import check_model_list, check_model_lookup
from champion.local._traps.runs import (
    check_children_filter,
    check_metric_value,
    check_offline_context,
)

# --------------------------------------------------------------------------- the real SDK


def sdk_observers() -> list[tuple[object, str, object]]:
    """(owner, attribute, replacement) for the SDK's entry points the traps watch, to apply on
    top of the mock's own patches. Each replacement calls the attribute it replaces with the
    same arguments and returns its result unchanged; it only looks."""
    from azureml.core import Model, Run

    def model_init(original: Callable[..., None]) -> Callable[..., None]:
        signature = inspect.signature(original)

        @functools.wraps(original)
        def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
            bound = signature.bind(self, *args, **kwargs).arguments
            if bound.get("workspace") is not None and not kwargs.get("_model_dto"):
                check_model_lookup(
                    **{
                        key: bound.get(key)
                        for key in ("name", "id", "tags", "properties", "version")
                    },
                    run_id=bound.get("run_id"),
                    model_framework=bound.get("model_framework"),
                )
            original(self, *args, **kwargs)

        return __init__

    def model_list(original: Callable[..., Any]) -> Callable[..., Any]:
        signature = inspect.signature(original)

        @functools.wraps(original)
        def list_(*args: Any, **kwargs: Any) -> Any:
            bound = signature.bind(*args, **kwargs).arguments
            check_model_list(
                name=bound.get("name"), tags=bound.get("tags"), properties=bound.get("properties")
            )
            return original(*args, **kwargs)

        return list_

    def get_children(original: Callable[..., Any]) -> Callable[..., Any]:
        signature = inspect.signature(original)

        @functools.wraps(original)
        def get_children(*args: Any, **kwargs: Any) -> Any:
            bound = signature.bind(*args, **kwargs).arguments
            check_children_filter(tags=bound.get("tags"), properties=bound.get("properties"))
            return original(*args, **kwargs)

        return get_children

    def log(original: Callable[..., Any]) -> Callable[..., Any]:
        signature = inspect.signature(original)

        @functools.wraps(original)
        def log(*args: Any, **kwargs: Any) -> Any:
            bound = signature.bind(*args, **kwargs).arguments
            check_metric_value(bound.get("name"), bound.get("value"))
            return original(*args, **kwargs)

        return log

    context = vars(Run)["get_context"]
    context_func = context.__func__

    @functools.wraps(context_func)
    def get_context(cls: Any, *args: Any, **kwargs: Any) -> Any:
        result = context_func(cls, *args, **kwargs)
        check_offline_context(result)
        return result

    return [
        (Model, "__init__", model_init(vars(Model)["__init__"])),
        (Model, "list", staticmethod(model_list(vars(Model)["list"].__func__))),
        (Run, "get_children", get_children(vars(Run)["get_children"])),
        (Run, "log", log(vars(Run)["log"])),
        (Run, "get_context", classmethod(get_context)),
    ]
