"""What stands between a connection and the entry script: the body read whole and bounded
first, then one scoring request at a time.

Why: the server's workers are threaded (`_gunicorn`), so an idle or slow client waits on its
own thread and never in front of another client. Two things must not change with that. The
entry script still sees one `run()` at a time, as in an Azure ML deployment (a scoring script
written for one request at a time must not meet two here first). And a slow upload must not
hold that one turn: the body is read before the turn is taken, at most `MAX_BODY_BYTES`, so a
body too large is a 413 before a byte of it is parsed, and a body that cannot be read (cut
short, stalled, badly chunked) is a 400, never a 500 with a traceback from inside Flask; so is
a `GET /score` query the package's own JSON reading would choke on. Only `/score` runs the
entry script; health probes and unknown paths pass straight through.
"""

from __future__ import annotations

import io
import json
import threading
import urllib.parse
from collections.abc import Callable, Iterable
from typing import Any

from champion.serving._sockets import CLIENT_SILENCE_S

__all__ = ["MAX_BODY_BYTES", "Guard"]

MAX_BODY_BYTES = 16 * 1024 * 1024
SCORE_PATH = "/score"

StartResponse = Callable[..., Any]
App = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


class _Refusal(Exception):
    def __init__(self, status: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class Guard:
    """A WSGI middleware around the package's Flask app (installed by `_worker.Worker`)."""

    def __init__(self, app: App) -> None:
        self.app = app
        self._turn = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("PATH_INFO") != SCORE_PATH:
            return self.app(environ, start_response)
        try:
            _check_query(environ)
            _read_body(environ)
        except _Refusal as refusal:
            body = json.dumps({"message": refusal.message}).encode()
            # what is left of the body gunicorn drains within its own bound, or hangs up
            headers = [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
            start_response(refusal.status, headers)
            return [body]
        with self._turn:
            return self.app(environ, start_response)


def _check_query(environ: dict[str, Any]) -> None:
    """The package reads each parameter of `GET /score?...` as JSON and lets anything but a
    ValueError escape: a value nested deeper than the recursion limit was a 500."""
    for name, value in urllib.parse.parse_qsl(environ.get("QUERY_STRING", ""), True):
        try:
            json.loads(value)
        except RecursionError:
            raise _Refusal(
                "400 Bad Request", f"the query parameter {name!r} is nested too deeply to read"
            ) from None
        except ValueError:
            pass  # the package passes it on as text


def _read_body(environ: dict[str, Any]) -> None:
    """Replace `wsgi.input` by the whole body, read now, or raise the refusal to answer."""
    declared = environ.get("CONTENT_LENGTH") or None
    size = int(declared) if declared is not None else None  # gunicorn checked it is digits
    if size is not None and size > MAX_BODY_BYTES:
        raise _Refusal("413 Content Too Large", _too_large(f"{size} bytes"))
    try:
        data = environ["wsgi.input"].read(MAX_BODY_BYTES + 1 if size is None else size)
    except Exception as exc:  # the client's bytes: bad chunking, a reset, a stall
        raise _Refusal(
            "400 Bad Request", f"the request body could not be read ({type(exc).__name__}: {exc})"
        ) from None
    if len(data) > MAX_BODY_BYTES:
        raise _Refusal("413 Content Too Large", _too_large(f"more than {MAX_BODY_BYTES} bytes"))
    if size is not None and len(data) < size:
        raise _Refusal(
            "400 Bad Request",
            f"the request body ended after {len(data)} of its {size} bytes (the client closed "
            f"the connection, or sent nothing for {CLIENT_SILENCE_S:g} s)",
        )
    environ["wsgi.input"] = io.BytesIO(data)
    environ["CONTENT_LENGTH"] = str(len(data))


def _too_large(what: str) -> str:
    return (
        f"the request body is {what}; this endpoint takes at most {MAX_BODY_BYTES} bytes "
        f"({MAX_BODY_BYTES // (1024 * 1024)} MiB): send fewer rows per request, or score a "
        "file with the score step"
    )
