"""The SDK's own exceptions and input rules, shared by the local classes.

Why lazy: `import azureml.exceptions` costs most of a second, and a step that succeeds must not pay
it. Each function imports the SDK's class at the point of raising, so user code that catches
`azureml.exceptions.WebserviceException` catches ours, and the happy path never imports azureml.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from typing import Any

from champion._validation import MODEL_NAME
from champion.errors import ChampionError, InputError, NotAWorkspaceError
from champion.local._unmocked import UnmockedServiceCall
from champion.names import EXPERIMENT_NAME

_EXPERIMENT_NAME = EXPERIMENT_NAME


def webservice_error(message: str) -> Exception:
    from azureml.exceptions import WebserviceException

    return WebserviceException(message)  # type: ignore[no-any-return]


def user_error(message: str) -> Exception:
    from azureml.exceptions import UserErrorException

    return UserErrorException(message)  # type: ignore[no-any-return]


def model_path_not_found(message: str) -> Exception:
    from azureml.exceptions import ModelPathNotFoundException

    return ModelPathNotFoundException(message)  # type: ignore[no-any-return]


def aggregated_error(messages: list[str]) -> Exception:
    from azureml._common.exceptions import AzureMLAggregatedException

    return AzureMLAggregatedException(messages)  # type: ignore[no-any-return]


def run_environment_error() -> Exception:
    from azureml.exceptions import RunEnvironmentException

    return RunEnvironmentException()  # type: ignore[no-any-return]


def service_error(message: str, status_code: int = 400) -> Exception:
    """The error the run-history service returns for a refused PATCH (e.g. a changed property)."""
    from azureml._restclient.exceptions import ServiceException
    from azureml._restclient.models import ErrorResponseException
    from msrest.exceptions import HttpOperationError

    response = type(
        "Response",
        (),
        {"status_code": status_code, "headers": {}, "text": message, "reason": message},
    )()
    inner = HttpOperationError.__new__(ErrorResponseException)
    Exception.__init__(inner, message)
    inner.message = message
    inner.response = response
    inner.error = None
    return ServiceException(inner)  # type: ignore[no-any-return]


def missing_member(owner: str, name: str) -> BaseException:
    """What a local object raises for a member it lacks. A public member of the SDK class is
    one the local workspace cannot do (compute, deployment, Key Vault, ...): that is
    `UnmockedServiceCall`, as the real SDK under `mock_azureml()` raises, so a bare
    `except Exception:` in step code cannot hide it. Anything else is an AttributeError."""
    if not name.startswith("_"):
        import azureml.core

        sdk_class = getattr(azureml.core, owner, None)
        if sdk_class is not None and hasattr(sdk_class, name):
            return UnmockedServiceCall(
                f"the local workspace does not implement {owner}.{name}", member=f"{owner}.{name}"
            )
    return AttributeError(f"'{owner}' object has no attribute '{name}'")


@functools.cache
def _both(sdk_name: str, ours: type[ChampionError]) -> type[Exception]:
    """An exception class that is the SDK's `sdk_name` and champion's `ours` at once: SDK-style
    code catches the SDK's class, while the CLI and the step read `code`, `exit_code` and
    `message` as for any ChampionError."""
    import azureml.exceptions

    sdk: type[Exception] = getattr(azureml.exceptions, sdk_name)

    def __init__(self: Any, message: str, field: str | None, value: object) -> None:
        sdk.__init__(self, message)
        self.message, self.field, self.value = message, field, value

    return type(
        f"Local{sdk_name}",
        (sdk, ours),
        {"__init__": __init__, "__str__": lambda self: self.message, "__module__": __name__},
    )


def workspace_not_found(error: NotAWorkspaceError) -> Exception:
    """What the SDK raises for a workspace that does not exist (its text is "Workspace not
    found."); ours names the folder and how to create one."""
    return _both("ProjectSystemException", NotAWorkspaceError)(
        error.message, error.field, error.value
    )


def workspace_exists(name: str) -> Exception:
    """The SDK's text for `Workspace.create(..., exist_ok=False)` over an existing one."""
    return _both("WorkspaceException", InputError)(
        f"Workspace with name '{name}' already exists under resource group with name 'local'.",
        "workspace",
        name,
    )


def model_not_found(**criteria: Any) -> Exception:
    """The SDK's exact text (`populate_model_not_found_details`): only the criteria given."""
    details = ", ".join(f"{key} {value}" for key, value in criteria.items() if value)
    return webservice_error(f"ModelNotFound: Model with {details} not found in provided workspace")


def model_not_found_in_cache_type() -> type[Exception]:
    """The SDK's `ModelNotFoundException`, which `Model.get_model_path` raises (unlike a
    registry lookup, which raises WebserviceException "ModelNotFound")."""
    from azureml.exceptions import ModelNotFoundException

    return ModelNotFoundException  # type: ignore[no-any-return]


def model_not_found_in_cache(message: str) -> Exception:
    return model_not_found_in_cache_type()(message)


def model_in_use(content: str) -> Exception:
    """What azureml-core 1.61 raises when the service refuses to delete a version a deployment
    uses (HTTP 412, code "DeletionRequired"): `ModelsClient`'s error decorator turns every
    non-404 reply into this text and drops the status code, so `Model.delete`'s own branch for
    412 ("The model cannot be deleted because it is currently being used in one or more
    images...", azureml/core/model.py) is never reached. `content` says which deployments."""
    return webservice_error(
        "Received bad response from Model Management Service:\nResponse Code: 412\n"
        f"Correlation: None\nContent: {content}"
    )


def validate_model_name(name: object) -> None:
    if not isinstance(name, str) or not MODEL_NAME.fullmatch(name):
        raise webservice_error(
            "Error, provided model name is invalid. It must only consist of letters, numbers, "
            "dashes, periods, or underscores, start with a letter or number, and be between 1 and "
            "255 characters long."
        )


def validate_experiment_name(name: object) -> None:
    if not isinstance(name, str) or not _EXPERIMENT_NAME.fullmatch(name):
        raise user_error(
            "Experiment name must be between 1 and 255 characters long. Its first character has to "
            "be alphanumeric, and the rest may contain hyphens and underscores. No whitespace is "
            "allowed."
        )


def wire_str(values: Mapping[str, Any] | None) -> dict[str, str | None]:
    """What the service stores for tag/property values: `str()` of each, `None` kept (msrest
    `{str}` and `_sanitize_tags` both do this, so `True` becomes 'True', not 'true')."""
    return {str(k): (None if v is None else str(v)) for k, v in (values or {}).items()}


def registration_dict(value: object, what: str) -> dict[str, str | None]:
    """Tags/properties at registration: must be a dict when truthy, JSON-serialisable (the SDK
    round-trips them through json.dumps and lets the TypeError escape), then stringified."""
    if not value:
        return {}
    if not isinstance(value, dict):
        raise webservice_error(f"{what} must be a dict")
    json.dumps(value)
    return wire_str(value)


# Metric.get_converted_value: these exact types are kept, these numpy scalars converted to
# Python ones; any other value is logged as repr(value).
_METRIC_TYPES = (int, float, str, bool, type(None))
_NUMPY_METRIC_SCALARS = frozenset(
    {"bool_", "str_", "int8", "int16", "int32", "uint8", "uint16", "uint32"}
    | {"float16", "float32", "float64"}
)


def metric_kept(value: object) -> bool:
    """True when `run.log` stores `value` as a value (kept or converted to a Python scalar),
    False when the SDK stores the string `repr(value)`: the rule goes by exact type, so an
    IntEnum, a tuple, a Decimal or np.int64 become strings."""
    kind = type(value)
    if kind in _METRIC_TYPES:
        return True
    return kind.__module__ == "numpy" and kind.__name__ in _NUMPY_METRIC_SCALARS
