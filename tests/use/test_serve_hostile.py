"""`champion serve` against a hostile client: one real server process, real sockets.

Idle and half-sent connections must not hold up anyone else's request; every request the
scoring contract cannot take (huge numbers, deep nesting, bytes that are not UTF-8, the wrong
content type, nothing, headers or URLs too long, paths and methods it has not, a body over the
limit, a chunked body that lies) is a 4xx with a message; the server stays up, answers a good
request afterwards, and its log holds no traceback."""

from __future__ import annotations

import contextlib
import http.client
import json
import socket
import time
from collections.abc import Iterator

import pandas as pd
import pytest

from champion.testing import create_workspace

from .conftest import FEATURES, SAMPLE, register
from .test_serve import Server

pytest.importorskip("azureml_inference_server_http")

PROMPT_S = 20.0  # far below the 300 s an idle connection used to cost every other request
GOOD = b'{"data": [[5.1, 3.5, 1.4, 0.2]]}'


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    from sklearn.neighbors import KNeighborsClassifier

    root = tmp_path_factory.mktemp("hostile")
    create_workspace(root / "ws")
    frame = pd.read_csv(SAMPLE)
    with pytest.MonkeyPatch.context() as env:
        env.delenv("CHAMPION_WORKSPACE", raising=False)
        env.delenv("CHAMPION_RUN_ID", raising=False)
        model = KNeighborsClassifier().fit(frame[FEATURES], frame["species"])
        register(root / "ws", model, root / "trained", "0.95")
    served = Server(root / "ws", root / "serve.log", "iris")
    try:
        served.wait_healthy()
        yield served
    finally:  # SIGTERM, so the server removes its deployment folder; SIGKILL if it will not
        with contextlib.suppress(Exception):
            served.stop()
        if served.process.poll() is None:
            served.kill()


def exchange(port: int, raw: bytes, timeout: float = PROMPT_S) -> tuple[int, bytes]:
    """Send `raw` as it is on a connection of its own; the status and body of the answer."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as conn:
        conn.sendall(raw)
        answer = http.client.HTTPResponse(conn)
        answer.begin()
        return answer.status, answer.read()


def request(method: str, path: str, body: bytes = b"", *headers: str) -> bytes:
    head = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", f"Content-Length: {len(body)}"]
    return ("\r\n".join([*head, *headers]) + "\r\n\r\n").encode("latin-1") + body


def score(body: bytes, content_type: str = "application/json") -> bytes:
    return request("POST", "/score", body, f"Content-Type: {content_type}")


def message_of(body: bytes) -> str:
    """The server's JSON `{"message": ...}`, or gunicorn's HTML error page, as text."""
    text = body.decode(errors="replace")
    with contextlib.suppress(ValueError, TypeError, KeyError):
        return str(json.loads(text)["message"])
    return text


def assert_serves_a_good_request(server: Server) -> None:
    started = time.monotonic()
    status, body = exchange(server.port, score(GOOD))
    assert (status, json.loads(body)) == (200, ["setosa"])
    assert time.monotonic() - started < PROMPT_S


def test_idle_and_half_sent_connections_do_not_hold_up_a_scoring_request(server: Server) -> None:
    """One connection that sent nothing (a browser's preconnect, a port probe) blocked every
    request for the worker's 300 s timeout."""
    with contextlib.ExitStack() as held:
        for _ in range(6):
            held.enter_context(socket.create_connection(("127.0.0.1", server.port)))
        half = held.enter_context(socket.create_connection(("127.0.0.1", server.port)))
        half.sendall(b"POST /score HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Le")
        stalled = held.enter_context(socket.create_connection(("127.0.0.1", server.port)))
        stalled.sendall(b"POST /score HTTP/1.1\r\nContent-Length: 100\r\n\r\n{")
        time.sleep(0.5)  # the server has taken them all in

        assert_serves_a_good_request(server)

        # and the half-sent ones are let go after 10 s of silence, not held for ever: an
        # answer, if any, then the close (a wait past 60 s raises TimeoutError here)
        for conn in (half, stalled):
            conn.settimeout(60)
            with contextlib.suppress(ConnectionResetError):
                while conn.recv(4096):
                    pass


BATTERY: dict[str, tuple[bytes, int, str]] = {
    # name: (raw request, expected status, words in the answer)
    "a 401-digit integer": (
        score(b'{"data": [[' + b"9" * 401 + b", 1, 1, 1]]}"),
        400,
        "an integer of 401 digits",
    ),
    "a 5000-digit integer": (
        score(b'{"data": [[' + b"9" * 5000 + b", 1, 1, 1]]}"),
        400,
        "more than 4300 digits",
    ),
    "100,000-deep arrays": (score(b"[" * 100_000 + b"]" * 100_000), 400, "nested too deeply"),
    "50,000-deep objects": (
        score(b'{"a": ' * 50_000 + b"1" + b"}" * 50_000),
        400,
        "nested too deeply",
    ),
    "NaN": (score(b'{"data": [[NaN, 1, 1, 1]]}'), 400, "finite number"),
    "-Infinity": (score(b'{"data": [[-Infinity, 1, 1, 1]]}'), 400, "finite number"),
    "1e400": (score(b'{"data": [[1e400, 1, 1, 1]]}'), 400, "finite number"),
    "a string value": (score(b'{"data": [[1, 2, 3, "x"]]}'), 400, "row 0 holds 'x'"),
    "null": (score(b'{"data": [[1, 2, 3, null]]}'), 400, "row 0 holds null"),
    "a nested row": (score(b'{"data": [[[1], 2, 3, 4]]}'), 400, "row 0 holds [1]"),
    "a short row": (score(b'{"data": [[1, 2]]}'), 400, "row 0 has 2 values"),
    "data not a list": (score(b'{"data": "abc"}'), 400, 'a "data" list of rows'),
    "a JSON string": (score(b'"data"'), 400, 'a "data" list of rows'),
    "no rows": (score(b'{"data": []}'), 400, "no rows"),
    "not JSON": (score(b"data=1"), 400, "not JSON"),
    "invalid UTF-8": (score(b"\xff\xfe\x00{"), 400, "UTF-8"),
    "an empty body": (score(b""), 400, "the request body is empty"),
    "a form": (score(b"a=1&b=2", "application/x-www-form-urlencoded"), 400, "Content-Type"),
    "a broken multipart": (
        score(b"--x\r\ngarbage", "multipart/form-data; boundary=x"),
        400,
        "the request body",
    ),
    "a body over the limit": (
        b"POST /score HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 20000000\r\n\r\n",
        413,
        "at most 16777216 bytes",
    ),
    "a chunked body over the limit": (
        b"POST /score HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n"
        + (b"100000\r\n" + b"1" * 0x100000 + b"\r\n") * 16
        + b"10\r\n"
        + b"1" * 16
        + b"\r\n0\r\n\r\n",
        413,
        "at most 16777216 bytes",
    ),
    "a bad chunk size": (
        b"POST /score HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        400,
        "could not be read",
    ),
    "a deep query": (request("GET", "/score?data=" + "[" * 1300 + "]" * 1300), 400, "nested"),
    "a header of 20,000 bytes": (
        request("GET", "/", b"", "X-Long: " + "a" * 20_000),
        431,
        "Request Header Fields Too Large",
    ),
    "200 headers": (
        request("GET", "/", b"", *(f"X-H{i}: v" for i in range(200))),
        431,
        "Request Header Fields Too Large",
    ),
    "a URL of 10,000 bytes": (request("GET", "/" + "a" * 10_000), 400, "too large"),
    "a long x-request-id": (
        request("GET", "/", b"", "x-request-id: " + "a" * 200),
        431,
        "x-request-id",
    ),
    "an unknown path": (request("GET", "/nope"), 404, "not found"),
    "PUT /score": (request("PUT", "/score", b"{}"), 405, "not allowed"),
    "DELETE /": (request("DELETE", "/"), 405, "not allowed"),
    "a made-up method": (request("FROB", "/score"), 405, "not allowed"),
    "a lowercase method": (request("get", "/"), 400, "Invalid Method"),
    "two body lengths": (
        b"POST /score HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        400,
        "Invalid HTTP Header",
    ),
    "not HTTP": (b"\x00\xff\xfe garbage\r\n\r\n", 400, "Invalid Request Line"),
    "an HTTP/2 preface": (b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 400, "Invalid Request Line"),
}


@pytest.mark.parametrize(("raw", "status", "says"), BATTERY.values(), ids=BATTERY.keys())
def test_a_request_the_contract_cannot_take_is_a_4xx_with_a_message(
    server: Server, raw: bytes, status: int, says: str
) -> None:
    got, body = exchange(server.port, raw)
    assert (got, says in message_of(body)) == (status, True), body[:300]


def test_after_all_of_it_the_server_is_up_and_its_log_holds_no_traceback(server: Server) -> None:
    assert server.process.poll() is None
    assert_serves_a_good_request(server)
    chunked = (
        b"POST /score HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n"
        + f"{len(GOOD):x}\r\n".encode()
        + GOOD
        + b"\r\n0\r\n\r\n"
    )
    assert exchange(server.port, chunked) == (200, b'["setosa"]')
    log = server.output
    assert "Traceback" not in log, log
    assert " 500 " not in log, log
