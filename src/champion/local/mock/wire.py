"""What the mocked service says on the wire: request bodies as the service reads them, and the
service's errors as the SDK's generated clients raise them.

Why: `mock_azureml()` answers the real SDK's REST operations from the store, so every answer must
have the exact shape the SDK's generated client would have deserialised from an HTTP response,
and every failure must be the exception that client would have raised. The DTOs of each client
family are beside its handlers (`runs.py`, `models.py`, ...). Imports azureml: imported only once
a mock starts.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from datetime import datetime
from http import HTTPStatus
from typing import Any, cast

import requests
from azureml._restclient import models as rest
from azureml._restclient.exceptions import ServiceException
from msrest import Deserializer, Serializer

_CLIENT_MODELS = {k: v for k, v in vars(rest).items() if isinstance(v, type)}
# msrest is untyped: it is used through `Any`, the boundary this module exists to hold.
SERIALIZER: Any = cast(Any, Serializer)(_CLIENT_MODELS)
DESERIALIZER: Any = cast(Any, Deserializer)(_CLIENT_MODELS)

#: Scheme of the "SAS URLs" the mocked artifact service hands out; only the patched blob
#: transfer functions understand it, so a URL that escapes the mock cannot reach the network.
ARTIFACT_SCHEME = "champion-artifact"
ASSET_URL_PREFIX = "aml://asset/"


def wire(obj: Any, type_name: str) -> Any:
    """Round-trip a request body as msrest puts it on the wire and the service reads it back.

    This is what turns `tags={"n": 1, "b": True}` into `{"n": "1", "b": "True"}` for a real
    workspace, so the local one stores exactly what Azure would."""
    return DESERIALIZER.deserialize_data(SERIALIZER.body(obj, type_name), type_name)


def as_str_dict(value: Any) -> dict[str, str | None]:
    """A `{str}` wire value (a patch's `value`, a tag dict) with the service's str() conversion."""
    if not value:
        return {}
    return dict(wire(dict(value), "{str}"))


def parse_time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


# --------------------------------------------------------------------------- errors


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def _response(status: int, body: Mapping[str, Any], retry_after: float | None) -> Any:
    """A `requests.Response` as the service would send it, so msrest builds the real exception."""
    response = requests.Response()
    response.status_code = status
    response.reason = _phrase(status)
    response.headers["Content-Type"] = "application/json"
    response.headers["x-ms-request-id"] = str(uuid.uuid4())
    if retry_after is not None:
        response.headers["Retry-After"] = f"{retry_after:g}"
    response._content = json.dumps(body).encode()
    return response


def service_error(
    status: int, message: str, *, code: str = "UserError", retry_after: float | None = None
) -> Exception:
    """The `ServiceException` that `ClientBase._execute_with_arguments` makes of an error reply."""
    body = {"error": {"code": code, "message": message, "details": []}}
    inner = rest.ErrorResponseException(DESERIALIZER, _response(status, body, retry_after))
    return cast(Exception, ServiceException(inner))


def deserializer(models: Any) -> Any:
    """A msrest Deserializer over a generated client's models module."""
    return cast(Any, Deserializer)({k: v for k, v in vars(models).items() if isinstance(v, type)})


def error_reply(status: int, message: str, retry_after: float | None = None) -> Any:
    """The HTTP reply of a failed run-history style call (`{"error": {...}}` body)."""
    return _response(status, {"error": {"code": "UserError", "message": message}}, retry_after)


def model_error(
    status: int, message: str, *, code: str | None = None, retry_after: float | None = None
) -> Exception:
    """The `ModelErrorResponseException` the model service client raises; the SDK's own
    decorators turn it into "ModelNotFound: ..." (404) or "Received bad response ..." (other).
    `code` is the service's error code (default: the status's phrase, `NotFound`)."""
    body = {
        "code": code or _phrase(status).replace(" ", ""),
        "statusCode": status,
        "message": message,
        "correlation": {"RequestId": str(uuid.uuid4())},
    }
    response = _response(status, body, retry_after)
    return cast(Exception, rest.ModelErrorResponseException(DESERIALIZER, response))


def error_response(code: str, message: str) -> Any:
    return rest.ErrorResponse(error=rest.RootError(code=code, message=message))


def error_from_store(error: Mapping[str, Any] | None) -> Any:
    """A run's stored error as the `ErrorResponse` of a RunDto; the local classes may store the
    bare root error, the SDK's error event stores the whole response."""
    if not error:
        return None
    body = dict(error) if "error" in error else {"error": dict(error)}
    return DESERIALIZER.deserialize_data(body, "ErrorResponse")


def error_to_store(error_response: Any) -> dict[str, Any]:
    return dict(SERIALIZER.body(error_response, "ErrorResponse"))


def data_plane_error(status: int, message: str, retry_after: float | None = None) -> Exception:
    """What a generated data-plane operation raises for an error reply: the SDK's datastore
    client turns a 4xx "(UserError)" into `UserErrorException`, its dataset helper reads the
    status code."""
    reply = error_reply(status, message, retry_after)
    return cast(Exception, rest.ErrorResponseException(DESERIALIZER, reply))
