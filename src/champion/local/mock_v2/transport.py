"""`LocalTransport`: azure-core's own `RequestsTransport`, whose session hands every request to
the local service instead of a socket.

Why a transport and not patches of the SDK's operations: `MLClient(..., transport=T)` gives `T`
to every generated REST client, so azure-core's whole pipeline (policies, retries, error
mapping, deserialisation) and every line of the SDK above it run as shipped; only the socket is
replaced. The blob clients the SDK builds itself get the same transport (`service.py`).

Requests are dispatched on the method and the path template, never on the api-version (it
drifts between SDK releases: 2024-07-01-preview in 1.32, 2024-10-01-preview in 1.35 for the
same datastore read); the api-version seen is recorded with each call. A request no route
answers raises `UnmockedServiceCall`, naming the SDK operation on the call stack and the REST
path.
"""

from __future__ import annotations

import io
import json
import re
import threading
import urllib.parse
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import requests
import urllib3
from azure.core.pipeline.transport import RequestsTransport
from requests.adapters import BaseAdapter, HTTPAdapter
from requests.structures import CaseInsensitiveDict

from champion.local._unmocked import UnmockedServiceCall, sdk_member

#: The hosts the SDK talks to, by the part of the service they are.
ARM, API, BLOB = "arm", "api", "blob"


@dataclass(frozen=True)
class Request:
    """One HTTP request as the service reads it."""

    method: str
    url: str
    host: str
    path: str
    query: Mapping[str, str]
    headers: Mapping[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None

    def header(self, name: str, default: str | None = None) -> str | None:
        return self.headers.get(name, default)


@dataclass
class Reply:
    """One HTTP answer: status, headers and body bytes."""

    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def of_json(cls, status: int, payload: Any, headers: Mapping[str, str] | None = None) -> Reply:
        data = json.dumps(payload).encode()
        return cls(
            status, data, {"Content-Type": "application/json; charset=utf-8", **(headers or {})}
        )


Handler = Callable[[Request, dict[str, str]], Reply]


class Refused(Exception):
    """Raised by a handler deep in its work: the service answers `reply` (an error) instead."""

    def __init__(self, reply: Reply) -> None:
        super().__init__(reply.status)
        self.reply = reply


@dataclass(frozen=True)
class Route:
    """`operation` (the service's name for it) answers `method` on `pattern` at `host`, for
    requests whose query has every item of `query` (blob operations differ by `comp=`)."""

    method: str
    host: str
    pattern: re.Pattern[str]
    operation: str
    handler: Handler
    query: Mapping[str, str] = field(default_factory=dict)

    def matches(self, request: Request, kind: str | None) -> re.Match[str] | None:
        if self.host != kind or self.method != request.method:
            return None
        if any(request.query.get(k) != v for k, v in self.query.items()):
            return None
        return self.pattern.fullmatch(request.path)


def route(
    method: str,
    host: str,
    template: str,
    operation: str,
    handler: Handler,
    query: Mapping[str, str] | None = None,
) -> Route:
    """A route from a path template whose `{name}` parts match one path segment each, and a
    `{name:path}` part any number of them (a blob name spans folders)."""
    regex = re.sub(r"\{(\w+):path\}", r"(?P<\1>.+)", template)
    regex = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", regex)
    pattern = re.compile(regex + r"/?", re.IGNORECASE)
    return Route(method, host, pattern, operation, handler, dict(query or {}))


@dataclass(frozen=True)
class Call:
    """One round trip the SDK made: what a test inspects (`MockAzureAIML.calls`) and what the
    contract suite compares with the recorded service."""

    operation: str
    method: str
    path: str
    query: Mapping[str, str]
    body: Any
    status: int

    @property
    def api_version(self) -> str | None:
        return self.query.get("api-version")


def host_kind(host: str) -> str | None:
    host = host.lower()
    if host.startswith("management.") or host.endswith(".management.azure.com"):
        return ARM
    if ".api.azureml." in host:
        return API
    if ".blob." in host:
        return BLOB
    return None


class Router:
    """The routes of the local service, and the calls it answered."""

    def __init__(self, routes: Iterable[Route]) -> None:
        self._routes = list(routes)
        self._lock = threading.Lock()
        self.calls: list[Call] = []

    def answer(self, request: Request) -> Reply:
        kind = host_kind(request.host)
        for candidate in self._routes:
            match = candidate.matches(request, kind)
            if match is None:
                continue
            try:
                reply = candidate.handler(request, match.groupdict())
            except Refused as refused:
                reply = refused.reply
            with self._lock:
                self.calls.append(
                    Call(
                        candidate.operation,
                        request.method,
                        request.path,
                        dict(request.query),
                        _body_of(request),
                        reply.status,
                    )
                )
            return reply
        raise UnmockedServiceCall(
            f"mock_azure_ai_ml: the local workspace does not serve {request.method} "
            f"{request.host}{request.path}",
            member=sdk_member(),
        )


def _body_of(request: Request) -> Any:
    if not request.body or host_kind(request.host) == BLOB:
        return None
    try:
        return json.loads(request.body)
    except ValueError:
        return None


def _read_body(body: Any) -> bytes:
    """A prepared request's body, whatever requests was handed: bytes, text, a file or an
    iterable of chunks (azure-storage-blob streams uploads)."""
    if body is None:
        return b""
    if isinstance(body, bytes):
        return body
    if isinstance(body, str):
        return body.encode()
    if hasattr(body, "read"):
        data = body.read()
        return data.encode() if isinstance(data, str) else bytes(data)
    return b"".join(chunk.encode() if isinstance(chunk, str) else bytes(chunk) for chunk in body)


class LocalAdapter(BaseAdapter):
    """The requests adapter that turns a prepared request into a `Request`, and the router's
    `Reply` into a `requests.Response` exactly as `HTTPAdapter` builds one from a socket."""

    def __init__(self, router: Router) -> None:
        super().__init__()
        self._router = router
        self._builder = HTTPAdapter()

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> Any:
        url = urllib.parse.urlsplit(str(request.url))
        query = dict(urllib.parse.parse_qsl(url.query, keep_blank_values=True))
        local = Request(
            method=str(request.method).upper(),
            url=str(request.url),
            host=url.hostname or "",
            path=urllib.parse.unquote(url.path),
            query=query,
            headers=CaseInsensitiveDict({str(k): str(v) for k, v in request.headers.items()}),
            body=_read_body(request.body),
        )
        reply = self._router.answer(local)
        body = b"" if local.method == "HEAD" else reply.body
        headers = {"Content-Length": str(len(reply.body)), **reply.headers}
        raw = urllib3.HTTPResponse(
            body=io.BytesIO(body),
            status=reply.status,
            headers=headers,
            preload_content=False,
            reason=_reason(reply.status),
            request_method=local.method,  # a HEAD answer announces a length it does not send
        )
        return self._builder.build_response(request, raw)

    def close(self) -> None:
        self._builder.close()


def _reason(status: int) -> str:
    from http import HTTPStatus

    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


class LocalTransport(RequestsTransport):  # type: ignore[misc]
    """azure-core's `RequestsTransport` over a session whose every request goes to `router`."""

    def __init__(self, router: Router) -> None:
        session = requests.Session()
        adapter = LocalAdapter(router)
        session.mount("https://", adapter)
        session.mount("http://", adapter)
        super().__init__(session=session, session_owner=False)
        self.router = router


__all__: Sequence[str] = [
    "API",
    "ARM",
    "BLOB",
    "Call",
    "LocalTransport",
    "Refused",
    "Reply",
    "Request",
    "Route",
    "Router",
    "route",
]
