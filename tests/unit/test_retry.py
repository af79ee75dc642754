"""Which failures are retried, how long it waits, and what it says when it gives up."""

from __future__ import annotations

import pytest
import requests

from champion._retry import RetryPolicy, call_with_retry, classify
from champion.errors import InfrastructureError, MetricError


class HttpError(Exception):
    def __init__(self, status: int, retry_after: str | None = None) -> None:
        super().__init__(f"HTTP {status}")
        self.status_code = status
        self.response = type(
            "R",
            (),
            {"headers": {"Retry-After": retry_after} if retry_after else {}, "status_code": status},
        )()


class WebserviceLike(Exception):
    """The model service's error: status_code None, the code only in the message."""

    def __init__(self, status: int) -> None:
        self.message = (
            f"Received bad response from Model Management Service:\nResponse Code: {status}"
        )
        self.status_code = None
        super().__init__(self.message)


def failing(errors: list[Exception], result: str = "ok"):
    calls = []

    def call() -> str:
        calls.append(1)
        if errors:
            raise errors.pop(0)
        return result

    return call, calls


def policy(sleeps: list[float], attempts: int = 5) -> RetryPolicy:
    return RetryPolicy(attempts=attempts, base_seconds=1.0, max_seconds=8.0, sleep=sleeps.append)


@pytest.mark.parametrize(
    "error",
    [
        HttpError(500),
        HttpError(503),
        HttpError(429),
        WebserviceLike(502),
        requests.exceptions.ReadTimeout("slow"),
        requests.exceptions.ConnectionError("reset"),
    ],
)
def test_transient_failures_are_retried(error):
    call, calls = failing([error, error])
    sleeps: list[float] = []
    assert call_with_retry("x", call, policy(sleeps)) == "ok"
    assert len(calls) == 3 and len(sleeps) == 2


@pytest.mark.parametrize(
    "error",
    [
        HttpError(400),
        HttpError(401),
        HttpError(403),
        HttpError(404),
        HttpError(409),
        WebserviceLike(400),
        KeyError("bug"),
    ],
)
def test_other_failures_are_not_retried(error):
    call, calls = failing([error])
    with pytest.raises(type(error)):
        call_with_retry("x", call, policy([]))
    assert len(calls) == 1


def test_our_own_errors_are_never_retried():
    call, calls = failing([MetricError("bad", field="accuracy", value="nan")])
    with pytest.raises(MetricError):
        call_with_retry("x", call, policy([]))
    assert len(calls) == 1


def test_retry_after_is_honoured_and_capped():
    sleeps: list[float] = []
    call, _ = failing([HttpError(429, "2.5"), HttpError(503, "600")])
    call_with_retry("x", call, policy(sleeps))
    assert sleeps == [2.5, 8.0]  # the service's wait, capped at max_seconds


def test_backoff_is_exponential_jittered_and_capped():
    sleeps: list[float] = []
    call, _ = failing([HttpError(500)] * 6)
    call_with_retry("x", call, policy(sleeps, attempts=7))
    caps = [1.0, 2.0, 4.0, 8.0, 8.0, 8.0]
    assert all(0 <= s <= cap for s, cap in zip(sleeps, caps, strict=True))


def test_exhausted_retries_list_every_attempt():
    call, calls = failing([HttpError(503)] * 5)
    with pytest.raises(InfrastructureError) as caught:
        call_with_retry("uploading outputs/iris/model.pkl", call, policy([]))
    assert len(calls) == 5
    message = caught.value.message
    assert "uploading outputs/iris/model.pkl failed after 5 attempts" in message
    assert [f"attempt {n}: HTTP 503" in message for n in range(1, 6)] == [True] * 5


def test_classify_reads_the_status_from_the_message_or_the_chain():
    assert classify(WebserviceLike(503))[:1] == (True,)
    try:
        try:
            raise HttpError(429, "3")
        except HttpError as inner:
            raise RuntimeError("wrapped") from inner
    except RuntimeError as outer:
        assert classify(outer) == (True, 3.0, 429)
