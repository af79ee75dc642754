"""Retry transient Azure ML failures, and only those.

Why narrowly: retrying a 400 or 403 hides a real problem and delays the build's failure; not
retrying a 503 or a timeout fails a training pipeline for a blip. Transient means: HTTP 429 or
5xx, a timeout, or a dropped connection. The wait is capped exponential backoff with full jitter,
or the service's Retry-After when it sends one (capped too). Exhausted retries raise an
InfrastructureError that lists every attempt, so the build log says what happened.

The status is read from the SDK's exceptions as they come: `.status_code` (ServiceException,
AzureHttpError), the "Response Code: N" line of a model-service WebserviceException (whose
status_code is None), or the HTTP response further down the exception's cause chain.
"""

from __future__ import annotations

import random
import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

from champion import _env
from champion._redact import redact
from champion.errors import ChampionError, InfrastructureError, from_environment

T = TypeVar("T")
_RESPONSE_CODE = re.compile(r"Response Code: (\d{3})")
_TIMEOUT_NAMES = {
    "Timeout",
    "ReadTimeout",
    "ConnectTimeout",
    "TimeoutError",
    "timeout",
    "ConnectionError",
    "ConnectionResetError",
    "ProtocolError",
}


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 5
    base_seconds: float = 0.5
    max_seconds: float = 30.0
    sleep: Callable[[float], None] = field(default=time.sleep, compare=False)

    @classmethod
    def from_env(cls) -> RetryPolicy:
        """`CHAMPION_RETRY_ATTEMPTS` and `CHAMPION_RETRY_BASE_SECONDS` tune it per build."""
        return cls(attempts=_env.retry_attempts(), base_seconds=_env.retry_base_seconds())

    def delay(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(max(retry_after, 0.0), self.max_seconds)
        return random.uniform(0, min(self.max_seconds, self.base_seconds * 2 ** (attempt - 1)))


def call_with_retry(
    action: str,
    call: Callable[[], T],
    policy: RetryPolicy | None = None,
) -> T:
    """Run `call`; on a transient failure wait and try again, up to `policy.attempts` times.

    Failures that are not transient, and our own errors, propagate at once. A call whose earlier
    attempt may have landed (a registration that timed out after the service committed it)
    checks that itself at the start of each later attempt: see `remote`."""
    failures: list[str] = []
    attempt = 0
    while True:
        attempt += 1
        try:
            return call()
        except ChampionError:
            raise
        except Exception as exc:
            transient, retry_after, status = classify(exc)
            failures.append(f"attempt {attempt}: {describe(exc, status)}")
            if not transient:
                raise
            # read only once a call has failed: most calls never need it (a registration
            # makes a dozen of them, each a few microseconds of environment lookups)
            policy = policy or RetryPolicy.from_env()
            if attempt >= policy.attempts:
                raise InfrastructureError(
                    f"{action} failed after {attempt} attempts: " + "; ".join(failures),
                    field="attempts",
                    value=attempt,
                ) from exc
            policy.sleep(policy.delay(attempt, retry_after))


def remote(
    action: str,
    call: Callable[[], T],
    *,
    passthrough: tuple[type[BaseException], ...] = (),
    policy: RetryPolicy | None = None,
) -> T:
    """One remote call in its one retry loop: transient failures are retried (`call_with_retry`),
    and any failure that is not already ours becomes an InfrastructureError naming `action`, so
    the step exits 3 and says what it was doing. `call` is one attempt and must not retry inside
    (no nested loops: 5 x 5 attempts once hid a dead service for minutes); an attempt that has
    to check whether a lost earlier attempt landed does the check itself, un-retried, so a
    failing check is a failed attempt of the same loop. `passthrough` exceptions (a caller's
    own signals) propagate as they are."""
    with failing_as_infrastructure(action, passthrough=passthrough):
        return call_with_retry(action, call, policy)


@contextmanager
def failing_as_infrastructure(
    action: str, *, passthrough: tuple[type[BaseException], ...] = ()
) -> Iterator[None]:
    """Turn any failure inside into InfrastructureError("<action> failed: ..."), except ours and
    `passthrough`; an OS error says what to do about it (a full disk, a read-only folder)."""
    try:
        yield
    except ChampionError:
        raise
    except Exception as exc:
        if passthrough and isinstance(exc, passthrough):
            raise
        known = from_environment(exc) if isinstance(exc, OSError) else None
        detail = known.message if known is not None else describe(exc, classify(exc)[2])
        raise InfrastructureError(
            f"{action} failed: {detail}", field="workspace", value=action
        ) from exc


def classify(exc: BaseException) -> tuple[bool, float | None, int | None]:
    """(transient?, Retry-After seconds if the service sent one, HTTP status if known)."""
    status = _status(exc)
    retry_after = _retry_after(exc)
    if status is not None:
        return status == 429 or 500 <= status <= 599, retry_after, status
    timed_out = any(type(e).__name__ in _TIMEOUT_NAMES for e in _chain(exc))
    return timed_out, retry_after, None


def describe(exc: BaseException, status: int | None = None) -> str:
    message = getattr(exc, "message", None) or str(exc)
    first = message.strip().splitlines()[0] if message.strip() else ""
    code = f"HTTP {status} " if status is not None else ""
    return redact(f"{code}{type(exc).__name__}: {first}")


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        inner = getattr(current, "inner_exception", None)
        current = (
            inner
            if isinstance(inner, BaseException)
            else (current.__cause__ or current.__context__)
        )


def _status(exc: BaseException) -> int | None:
    for e in _chain(exc):
        code = getattr(e, "status_code", None)
        if isinstance(code, int):
            return code
        response_code = getattr(getattr(e, "response", None), "status_code", None)
        if isinstance(response_code, int):
            return response_code
        match = _RESPONSE_CODE.search(str(getattr(e, "message", "") or ""))
        if match:
            return int(match.group(1))
    return None


def _retry_after(exc: BaseException) -> float | None:
    for e in _chain(exc):
        headers: Any = getattr(getattr(e, "response", None), "headers", None) or {}
        value = headers.get("Retry-After") if hasattr(headers, "get") else None
        if value is not None:
            try:
                return float(value)
            except ValueError:
                return None
    return None
