"""What the mocked service says on the wire: store records as SDK DTOs, and the service's errors.

Why a module of its own: `mock_azureml()` answers the real SDK's REST operations from the store, so
every answer must have the exact shape the SDK's generated client would have deserialised from an
HTTP response, and every failure must be the exception that client would have raised. Keeping
those shapes here leaves `_mock_service` with the behaviour only. It imports azureml at module
level, so it is imported only once a mock starts.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from http import HTTPStatus
from typing import Any, cast
from urllib.parse import quote, unquote

import requests
from azureml._restclient import models as rest
from azureml._restclient.exceptions import ServiceException
from msrest import Deserializer, Serializer

from champion.local.store import ArtifactRecord, AssetRecord, ModelRecord, RunRecord

_CLIENT_MODELS = {k: v for k, v in vars(rest).items() if isinstance(v, type)}
# msrest is untyped: it is used through `Any`, the boundary this module exists to hold.
_SERIALIZER: Any = cast(Any, Serializer)(_CLIENT_MODELS)
_DESERIALIZER: Any = cast(Any, Deserializer)(_CLIENT_MODELS)

#: Scheme of the "SAS URLs" the mocked artifact service hands out; only the patched blob
#: transfer functions understand it, so a URL that escapes the mock cannot reach the network.
ARTIFACT_SCHEME = "champion-artifact"
ASSET_URL_PREFIX = "aml://asset/"


def wire(obj: Any, type_name: str) -> Any:
    """Round-trip a request body as msrest puts it on the wire and the service reads it back.

    This is what turns `tags={"n": 1, "b": True}` into `{"n": "1", "b": "True"}` for a real
    workspace, so the local one stores exactly what Azure would."""
    return _DESERIALIZER.deserialize_data(_SERIALIZER.body(obj, type_name), type_name)


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
    inner = rest.ErrorResponseException(_DESERIALIZER, _response(status, body, retry_after))
    return cast(Exception, ServiceException(inner))


def deserializer(models: Any) -> Any:
    """A msrest Deserializer over a generated client's models module."""
    return cast(Any, Deserializer)({k: v for k, v in vars(models).items() if isinstance(v, type)})


def error_reply(status: int, message: str, retry_after: float | None = None) -> Any:
    """The HTTP reply of a failed run-history style call (`{"error": {...}}` body)."""
    return _response(status, {"error": {"code": "UserError", "message": message}}, retry_after)


def model_error(status: int, message: str, *, retry_after: float | None = None) -> Exception:
    """The `ModelErrorResponseException` the model service client raises; the SDK's own
    decorators turn it into "ModelNotFound: ..." (404) or "Received bad response ..." (other)."""
    body = {
        "code": _phrase(status).replace(" ", ""),
        "statusCode": status,
        "message": message,
        "correlation": {"RequestId": str(uuid.uuid4())},
    }
    response = _response(status, body, retry_after)
    return cast(Exception, rest.ModelErrorResponseException(_DESERIALIZER, response))


def error_response(code: str, message: str) -> Any:
    return rest.ErrorResponse(error=rest.RootError(code=code, message=message))


def error_from_store(error: Mapping[str, Any] | None) -> Any:
    """A run's stored error as the `ErrorResponse` of a RunDto; the local classes may store the
    bare root error, the SDK's error event stores the whole response."""
    if not error:
        return None
    body = dict(error) if "error" in error else {"error": dict(error)}
    return _DESERIALIZER.deserialize_data(body, "ErrorResponse")


def error_to_store(error_response: Any) -> dict[str, Any]:
    return dict(_SERIALIZER.body(error_response, "ErrorResponse"))


# --------------------------------------------------------------------------- runs


def run_dto(record: RunRecord, experiment_id: str) -> Any:
    return rest.RunDto(
        run_id=record.run_id,
        parent_run_id=record.parent_id,
        root_run_id=record.root_id,
        run_number=record.run_number,
        experiment_id=experiment_id,
        created_utc=parse_time(record.created_utc),
        start_time_utc=parse_time(record.start_utc),
        end_time_utc=parse_time(record.end_utc),
        status=record.status,
        name=record.name,
        display_name=record.display_name,
        run_type=record.run_type,
        tags=dict(record.tags),
        properties=dict(record.properties),
        data_container_id=record.data_container_id,
        error=error_from_store(record.error),
        hidden=False,
    )


def run_details_dto(record: RunRecord) -> Any:
    return rest.RunDetailsDto(
        run_id=record.run_id,
        status=record.status,
        start_time_utc=parse_time(record.start_utc),
        end_time_utc=parse_time(record.end_utc),
        properties=dict(record.properties),
        error=error_from_store(record.error),
        warnings=[],
        input_datasets=[],
        output_datasets=[],
        log_files={},
    )


def experiment_dto(name: str, experiment_id: str) -> Any:
    return rest.ExperimentDto(experiment_id=experiment_id, name=name, tags={})


_TOKEN = re.compile(r'\s*(?:(?P<open>\()|(?P<close>\))|"(?P<quoted>[^"]*)"|(?P<bare>[^\s()"]+))')

#: How a filter reads one field of a record: (field present?, value).
Accessor = Callable[[Any], tuple[bool, Any]]
_Tokens = list[tuple[str, str | None]]
_Predicate = Callable[[Any], bool]

_RUN_COLUMNS: dict[str, Callable[[RunRecord], str | None]] = {
    "RunId": lambda r: r.run_id,
    "RootRunId": lambda r: r.root_id,
    "ParentRunId": lambda r: r.parent_id,
    "RunType": lambda r: r.run_type,
    "Status": lambda r: r.status,
}


def run_filter(expression: str | None) -> Callable[[RunRecord], bool]:
    """The OData filter of a run query (`_odata/runs.py`) as a predicate over run records."""
    return odata_filter(expression, _run_field)


def experiment_filter(expression: str | None) -> Callable[[str], bool]:
    """The OData filter of an experiment query (`_odata/experiments.py`) over experiment
    names; the local workspace keeps no experiment tags, so a tag clause matches nothing."""
    return odata_filter(expression, _experiment_field)


def odata_filter(expression: str | None, field: Callable[[str], Accessor]) -> _Predicate:
    """Evaluate the OData filters the SDK's run-history client generates, and nothing more.

    Understood: `and`/`or`/parentheses over `<field> eq|ne <value>`, where the value is quoted,
    bare or `null`. A field that is missing (a tag the record lacks) makes both `eq` and `ne`
    false, which is why the SDK writes "key present" as `(Tags/k ne null or Tags/k eq null)`.
    Anything else raises ValueError at parse time: a filter is never guessed at."""
    if not expression:
        return lambda _record: True
    tokens: _Tokens = []
    pos = 0
    while expression[pos:].strip():
        match = _TOKEN.match(expression, pos)
        if match is None:
            raise ValueError(f"cannot parse filter {expression!r}")
        pos = match.end()
        kind = str(match.lastgroup)
        text = match.group(kind)
        tokens.append((kind, None if (kind, text) == ("bare", "null") else text))
    predicate, rest_tokens = _parse_or(tokens, field)
    if rest_tokens:
        raise ValueError(f"cannot parse filter {expression!r}")
    return predicate


def _parse_or(tokens: _Tokens, field: Callable[[str], Accessor]) -> tuple[_Predicate, _Tokens]:
    left, tokens = _parse_and(tokens, field)
    while tokens and tokens[0] == ("bare", "or"):
        right, tokens = _parse_and(tokens[1:], field)
        left = (lambda a, b: lambda r: a(r) or b(r))(left, right)
    return left, tokens


def _parse_and(tokens: _Tokens, field: Callable[[str], Accessor]) -> tuple[_Predicate, _Tokens]:
    left, tokens = _parse_atom(tokens, field)
    while tokens and tokens[0] == ("bare", "and"):
        right, tokens = _parse_atom(tokens[1:], field)
        left = (lambda a, b: lambda r: a(r) and b(r))(left, right)
    return left, tokens


def _parse_atom(tokens: _Tokens, field: Callable[[str], Accessor]) -> tuple[_Predicate, _Tokens]:
    if tokens and tokens[0][0] == "open":
        inner, tokens = _parse_or(tokens[1:], field)
        if not tokens or tokens[0][0] != "close":
            raise ValueError("unbalanced parentheses in filter")
        return inner, tokens[1:]
    if (
        len(tokens) < 3
        or tokens[0][0] != "bare"
        or tokens[1] not in (("bare", "eq"), ("bare", "ne"))
    ):
        raise ValueError(f"unsupported filter clause near {tokens[:3]!r}")
    access, negate, expected = field(str(tokens[0][1])), tokens[1][1] == "ne", tokens[2][1]

    def compare(record: Any) -> bool:
        present, actual = access(record)
        if not present:
            return False
        return bool(actual != expected) if negate else bool(actual == expected)

    return compare, tokens[3:]


def _run_field(name: str) -> Accessor:
    kind, _, key = name.partition("/")
    if kind in ("Tags", "Properties") and key:
        if kind == "Tags":
            return lambda r: (key in r.tags, r.tags.get(key))
        return lambda r: (key in r.properties, r.properties.get(key))
    column = _RUN_COLUMNS.get(name)
    if column is None:
        raise ValueError(f"unsupported run filter field {name!r}")
    return lambda r: (True, column(r))


def _experiment_field(name: str) -> Accessor:
    if name == "name":
        return lambda experiment: (True, experiment)
    if name.startswith("Tags/"):
        return lambda experiment: (False, None)
    raise ValueError(f"unsupported experiment filter field {name!r}")


# --------------------------------------------------------------------------- metrics


def metric_values(dto: Any) -> list[tuple[Any, int | None]]:
    """A MetricV2Dto as store rows: one row per logged value, the bare value for a scalar or
    list metric (its only column is the metric's name), the `{column: value}` row of a table."""
    columns = set(dto.columns or {})
    single = columns == {dto.name}
    out: list[tuple[Any, int | None]] = []
    for value in dto.value or []:
        data = dict(value.data or {})
        out.append((data.get(dto.name) if single else data, value.step))
    return out


def metric_dto(name: str, values: Sequence[Any], data_container_id: str) -> Any:
    """Store rows back as the MetricV2Dto `get_full_fidelity` returns; the SDK then builds the
    scalar/list/table shapes of `get_metrics` itself (`get_cells_from_metric_v2_dto`)."""
    if values and all(isinstance(v, dict) for v in values):
        keys: dict[str, None] = {}
        for row in values:
            keys.update(dict.fromkeys(row))
        columns = {k: _column_type(row.get(k) for row in values) for k in keys}
        rows = [{k: row.get(k) for k in keys} for row in values]
        ux_type = "azureml.v1.table"
    else:
        columns = {name: _column_type(values)}
        rows = [{name: v} for v in values]
        ux_type = "azureml.v1.scalar"
    return rest.MetricV2Dto(
        data_container_id=data_container_id,
        name=name,
        columns=columns,
        value=[rest.MetricV2Value(metric_id=str(uuid.uuid4()), data=row) for row in rows],
        properties=rest.MetricProperties(ux_metric_type=ux_type),
    )


def _column_type(values: Iterable[Any]) -> str:
    present = [v for v in values if v is not None]
    if any(isinstance(v, float) for v in present):
        return "double"
    if not present:
        return "none"
    first = present[0]
    if isinstance(first, bool):
        return "bool"
    if isinstance(first, int):
        return "int"
    return "string"


# --------------------------------------------------------------------------- artifacts, models


def artifact_uri(origin: str, container: str, path: str) -> str:
    parts = (quote(p, safe="") for p in (origin, container, path))
    return f"{ARTIFACT_SCHEME}://" + "/".join(parts)


def parse_artifact_uri(uri: str) -> tuple[str, str, str]:
    scheme, _, rest_of_uri = uri.partition("://")
    parts = rest_of_uri.split("/")
    if scheme != ARTIFACT_SCHEME or len(parts) != 3:
        raise ValueError(f"not a local workspace artifact URL: {uri!r}")
    origin, container, path = (unquote(p) for p in parts)
    return origin, container, path


def artifact_dto(record: ArtifactRecord) -> Any:
    return rest.ArtifactDto(
        artifact_id=f"{record.origin}/{record.container}/{record.path}",
        origin=record.origin,
        container=record.container,
        path=record.path,
        created_time=parse_time(record.created_utc),
    )


def content_information(origin: str, container: str, path: str) -> Any:
    return rest.ArtifactContentInformationDto(
        content_uri=artifact_uri(origin, container, path),
        origin=origin,
        container=container,
        path=path,
    )


def batch_result(records: Sequence[ArtifactRecord]) -> Any:
    return rest.BatchArtifactContentInformationDto(
        artifacts={r.path: artifact_dto(r) for r in records},
        artifact_content_information={
            r.path: content_information(r.origin, r.container, r.path) for r in records
        },
        errors={},
    )


def batch_conflict(origin: str, container: str, paths: Sequence[str]) -> Any:
    """Per-artifact errors, which the SDK turns into `AzureMLAggregatedException`."""
    return rest.BatchArtifactContentInformationDto(
        artifacts={},
        artifact_content_information={},
        errors={
            p: error_response(
                "UserError",
                f"Resource Conflict: ArtifactId {origin}/{container}/{p} already exists.",
            )
            for p in paths
        },
    )


def asset_dto(record: AssetRecord) -> Any:
    return rest.Asset(
        id=record.id,
        name=record.name or "",
        artifacts=[rest.ArtifactDetails(prefix=p) for p in record.prefixes],
        kv_tags={},
        properties={},
        runid=record.run_id,
        meta={},
    )


def model_dto(record: ModelRecord) -> Any:
    dto = rest.Model(
        id=record.id,
        name=record.name,
        version=record.version,
        url=record.url,
        mime_type=record.mime_type,
        framework=record.framework,
        framework_version=record.framework_version,
        description=record.description,
        created_time=parse_time(record.created_utc),
        modified_time=parse_time(record.modified_utc),
        unpack=False,
        run_id=record.run_id,
        experiment_name=record.experiment_name,
        kv_tags=dict(record.tags),
        properties=dict(record.properties),
        datasets=[rest.DatasetReference(name=s, id=i) for s, i in record.datasets],
        sample_input_data=dataset_url(record.sample_input_dataset),
        sample_output_data=dataset_url(record.sample_output_dataset),
        resource_requirements=(
            rest.ModelResourceRequirements(
                cpu=record.resource_configuration.get("cpu"),
                memory_in_gb=record.resource_configuration.get("memoryInGB"),
                gpu=record.resource_configuration.get("gpu"),
            )
            if record.resource_configuration
            else None
        ),
        derived_model_ids=[],
    )
    return dto


def dataset_url(saved_id: str | None) -> str | None:
    return f"aml://dataset/{saved_id}" if saved_id else None


def resource_requirements(value: Any) -> dict[str, Any] | None:
    """A model's resource requirements as the service keeps them (the SDK's serialised
    `ResourceConfiguration`: cpu, memoryInGB, gpu), from a wire object or a patch's dict."""
    if not value:
        return None
    if not isinstance(value, dict):
        value = {"cpu": value.cpu, "memoryInGB": value.memory_in_gb, "gpu": value.gpu}
    wired = wire(
        {"cpu": value.get("cpu"), "memory_in_gb": value.get("memoryInGB"), "gpu": value.get("gpu")},
        "ModelResourceRequirements",
    )
    return {"cpu": wired.cpu, "memoryInGB": wired.memory_in_gb, "gpu": wired.gpu}
