"""How every MLflow call is made: one remote call in one retry loop, MLflow's errors
translated, and the names and limits the backend's modules share.
"""

from __future__ import annotations

import re
import socket
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar
from urllib.parse import urlsplit

from mlflow.exceptions import MlflowException

from champion._redact import REDACTED, redact
from champion._retry import remote
from champion.errors import InfrastructureError, InputError
from champion.registry import (
    ModelVersion,
)

T = TypeVar("T")

DEFAULT_ALIAS = "champion"
ALIAS_PENDING = "champion.alias_pending"
"""On a model's first version from its creation until the gate has moved the alias to it: a
model whose versions exist but none holds the alias is, while one carries this, a first
registration under way (a lookup waits for it), not a champion whose version was deleted."""
PARENT_TAG = "mlflow.parentRunId"
RUN_NAME_TAG = "mlflow.runName"
STAGES = ("Staging", "Production", "Archived")
"""The stages `--stage` takes (MLflow's own, deprecated since 2.9; `None` is not a target)."""
_GATE_PREFIX = "outputs/"
_ALIAS_NAME = re.compile(r"[A-Za-z0-9_\-]{1,255}")
_NOT_FOUND = "RESOURCE_DOES_NOT_EXIST"
_NO_ALIASES = frozenset({"ENDPOINT_NOT_FOUND", "NOT_IMPLEMENTED"})
_PENDING = "PENDING_REGISTRATION"
_PENDING_WAIT_S = 60.0
_REGISTRY_META = "registered_model_meta"
_TOO_MANY = re.compile(r"too many (\d{3}) error responses")
_COLLISION = re.compile(
    r"UniqueViolation|UNIQUE constraint failed|duplicate key value violates unique constraint"
)
_CLIENT_SIDE = re.compile(r"API request to (\S+) failed with (?:timeout )?exception")


# ---------------------------------------------------------------------- errors and calls


class MlflowCallError(Exception):
    """An MlflowException with its HTTP status where `champion._retry` reads it (`status_code`),
    so 429 and 5xx (and MLflow's wrapped timeouts and dropped connections, INTERNAL_ERROR) are
    retried and every other status fails at once."""

    status_code: int | None

    def __init__(self, exc: MlflowException) -> None:
        self.error_code = str(exc.error_code)
        self.status_code = int(exc.get_http_status_code())  # type: ignore[no-untyped-call]
        # with MLflow's own retries off, urllib3 reports a 429/5xx as "too many N responses"
        # inside an INTERNAL_ERROR: the status the server sent is the one that counts
        sent = _TOO_MANY.search(str(exc.message))
        if sent:
            self.status_code = int(sent.group(1))
        elif _CLIENT_SIDE.match(str(exc.message)):
            # no answer at all (a timeout, a dropped connection): MLflow calls it INTERNAL_ERROR,
            # but no server said 500; the retry loop tells a timeout by the exceptions inside
            self.status_code = 503 if _environment_changed(exc) else None
        if self.error_code != "RESOURCE_ALREADY_EXISTS" and _COLLISION.search(str(exc.message)):
            # two writers inserted the same row at once (gates moving a new alias together):
            # the store refused one, as a busy server would; the same call again updates it
            self.status_code = 503
        text = str(exc.message)
        url = _CLIENT_SIDE.match(text)
        if url:  # the request URL as the client had it: a password in it is not shown
            text = text.replace(url.group(1), shown_uri(url.group(1)))
        self.message = f"{self.error_code}: {_first_line(text)}"
        super().__init__(self.message)


class ServerUnreachable(InfrastructureError):
    """Nothing listens where the tracking URI points, or its host name does not exist: not
    transient, so not retried (a typo or a stopped server), and said in one line."""


def _unreachable(exc: MlflowException) -> ServerUnreachable | None:
    """The error for an MLflow call that reached no server: a refused connection or a host
    name that does not resolve (a temporary DNS failure is left to the retry loop)."""
    why = None
    seen: set[int] = set()
    inner: BaseException | None = exc
    while inner is not None and id(inner) not in seen and why is None:
        seen.add(id(inner))
        if isinstance(inner, ConnectionRefusedError):
            why = "connection refused (is the server running, on that port?)"
        elif isinstance(inner, socket.gaierror) and inner.errno == socket.EAI_NONAME:
            why = "its host name does not resolve"
        inner = inner.__cause__ or inner.__context__
    if why is None:
        return None
    url = _CLIENT_SIDE.match(str(exc.message))
    where = shown_uri(url.group(1), path=False) if url else "the tracking URI"
    return ServerUnreachable(
        f"cannot reach the MLflow server at {where}: {why}; check MLFLOW_TRACKING_URI "
        "(and MLFLOW_REGISTRY_URI) and that the server is up, then run again",
        field="MLFLOW_TRACKING_URI",
        value=where,
    )


def _environment_changed(exc: BaseException) -> bool:
    """Whether the request never left because this process's environment changed under it: a
    KeyError raised by `os.environ` while the HTTP client read the proxy variables, because
    another thread (MLflow's telemetry client) removed one meanwhile. Nothing was sent; the
    same call again goes through."""
    seen: set[int] = set()
    inner: BaseException | None = exc
    while inner is not None and id(inner) not in seen:
        seen.add(id(inner))
        if isinstance(inner, KeyError) and inner.__traceback__ is not None:
            frame = inner.__traceback__
            while frame.tb_next is not None:
                frame = frame.tb_next
            if frame.tb_frame.f_globals.get("__name__") == "os":
                return True
        inner = inner.__cause__ or inner.__context__
    return False


def shown_uri(uri: str, *, path: bool = True) -> str:
    """A tracking or request URI as messages show it: a user name and password in it become
    `***` (whoever reads a build log must not learn them), and without `path` only
    `scheme://host:port` is left."""
    parts = urlsplit(uri)
    if not parts.netloc:
        return redact(uri)  # sqlite:///..., a file path
    _, at, host = parts.netloc.rpartition("@")
    netloc = f"{REDACTED}@{host}" if at else host
    return redact(f"{parts.scheme}://{netloc}" + (parts.path if path else ""))


class _Busy(Exception):
    """SQLite's "database is locked" under MLflow's SQLAlchemy store: transient, like a 503."""

    status_code = 503


def _first_line(text: object) -> str:
    lines = str(text).strip().splitlines()
    return lines[0] if lines else ""


def _translated(call: Callable[[], T]) -> T:
    """One attempt, with MLflow's failures in the shape `champion._retry` classifies."""
    try:
        return call()
    except MlflowException as exc:
        unreachable = _unreachable(exc)
        if unreachable is not None:
            raise unreachable from None
        raise MlflowCallError(exc) from exc
    except Exception as exc:
        if "database is locked" in str(exc):
            raise _Busy(_first_line(exc)) from exc
        raise


def _remote(action: str, call: Callable[[], T]) -> T:
    """One MLflow call in its one retry loop; failures become InfrastructureError(action)."""
    return remote(action, lambda: _translated(call))


_ABSENT: Any = object()


def _found(call: Callable[[], T]) -> T:
    """`call`, with MLflow's RESOURCE_DOES_NOT_EXIST answered as `_ABSENT`: the one not-found."""
    try:
        return _translated(call)
    except MlflowCallError as exc:
        if exc.error_code == _NOT_FOUND:
            return _ABSENT  # type: ignore[no-any-return]
        raise


def version_of(mv: Any) -> ModelVersion:
    """An MLflow model version as the Protocol's plain value: its tags are its stored metadata
    (Azure ML's properties)."""
    tags = {str(k): str(v) for k, v in (mv.tags or {}).items()}
    created = mv.creation_timestamp
    return ModelVersion(
        name=str(mv.name),
        version=int(mv.version),
        properties=tags,
        tags=tags,
        run_id=str(mv.run_id) if mv.run_id else None,
        created=datetime.fromtimestamp(created / 1000, tz=UTC) if created else None,
    )


def _from_millis(millis: int | None) -> datetime | None:
    return datetime.fromtimestamp(millis / 1000, tz=UTC) if millis else None


def _optional_int(text: str | None) -> int | None:
    return int(text) if text and text.isdigit() else None


def check_alias(alias: str) -> str:
    """An alias MLflow accepts and that cannot be mistaken for a version reference."""
    lowered = alias.lower()
    if (
        not _ALIAS_NAME.fullmatch(alias)
        or lowered == "latest"
        or re.fullmatch(r"v\d+", lowered) is not None
    ):
        raise InputError(
            f"--champion-alias {alias!r} is not an alias MLflow can hold: use letters, digits, "
            "'_' and '-' (not 'latest', not v<number>)",
            field="--champion-alias",
            value=alias,
        )
    return alias


def check_stage(stage: str) -> str:
    """The stage's canonical spelling (MLflow's), or InputError."""
    for known in STAGES:
        if stage.lower() == known.lower():
            return known
    raise InputError(
        f"--stage {stage!r} is not an MLflow stage; use one of {', '.join(STAGES)}",
        field="--stage",
        value=stage,
    )
