"""`TrackingServer`: the MLflow REST endpoint of `mock_azure_ai_ml()`, on 127.0.0.1, served by a
thread of the process that started the mock (and reachable from the processes it starts).

Why an HTTP endpoint and not a patch of MLflow: the MLflow client's own code (its REST store,
its artifact repository, its retries and error mapping) then runs unchanged, in this process
and in a step's process alike, as it runs against Azure ML's MLflow server; and champion
imports no mlflow for it. Each request is answered from the workspace store (`runs.py`,
`artifacts.py`, `registry.py`); what it does not serve answers MLflow's `ENDPOINT_NOT_FOUND`,
naming itself.
"""

from __future__ import annotations

import json
import threading
import urllib.parse
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from champion.errors import ChampionError
from champion.local.mock_v2.tracking.artifacts import ARTIFACTS, ArtifactsApi
from champion.local.mock_v2.tracking.registry import RegistryApi
from champion.local.mock_v2.tracking.runs import RunsApi
from champion.local.mock_v2.tracking.search import SearchError
from champion.local.mock_v2.tracking.wire import MlflowError
from champion.local.store import Store

Api = Callable[[dict[str, Any]], dict[str, Any]]


class TrackingServer:
    """An MLflow-compatible endpoint over `store` (see the module docstring)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.runs = RunsApi(store)
        self.artifacts = ArtifactsApi(store, self.runs)
        self.registry = RegistryApi(store, self.runs)
        self.artifacts.model_files = self.registry.model_files
        self.apis: dict[tuple[str, str], Api] = {**self.runs.apis(), **self.registry.apis()}
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def uri(self) -> str:
        if self._server is None:
            raise RuntimeError("the tracking server is not started")
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> None:
        handler = _handler_for(self)
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="champion-mlflow", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._server = self._thread = None

    # ------------------------------------------------------------------ dispatch

    def answer(
        self, method: str, path: str, query: dict[str, Any], body: bytes
    ) -> tuple[int, bytes, str]:
        """(status, body, content type) for one request."""
        try:
            if path.startswith(ARTIFACTS):
                return self.artifacts.answer(method, path[len(ARTIFACTS) :], query, body)
            api = self.apis.get((method, path))
            if api is None:
                raise MlflowError(
                    404,
                    "ENDPOINT_NOT_FOUND",
                    f"champion's local MLflow endpoint (mock_azure_ai_ml) does not serve "
                    f"{method} {path}; it serves runs, metrics, params, tags, artifacts and the "
                    "model registry's models and versions",
                )
            params = dict(query)
            if body:
                params.update(json.loads(body))
            return 200, json.dumps(api(params)).encode(), "application/json"
        except MlflowError as exc:
            return exc.status, exc.body(), "application/json"
        except SearchError as exc:
            return MlflowError(400, "INVALID_PARAMETER_VALUE", str(exc)).reply()
        except ChampionError as exc:
            return MlflowError(500, "INTERNAL_ERROR", str(exc)).reply()
        except (ValueError, KeyError, TypeError) as exc:
            return MlflowError(
                400, "INVALID_PARAMETER_VALUE", f"{type(exc).__name__}: {exc}"
            ).reply()


def _handler_for(server: TrackingServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _serve(self) -> None:
            url = urllib.parse.urlsplit(self.path)
            query = dict(urllib.parse.parse_qsl(url.query, keep_blank_values=True))
            status, payload, content_type = server.answer(
                self.command, urllib.parse.unquote(url.path), query, self._body()
            )
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def _body(self) -> bytes:
            if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                chunks: list[bytes] = []
                while True:
                    size = int(self.rfile.readline().strip() or b"0", 16)
                    if size == 0:
                        self.rfile.readline()
                        return b"".join(chunks)
                    chunks.append(self.rfile.read(size))
                    self.rfile.readline()
            length = int(self.headers.get("Content-Length") or 0)
            return self.rfile.read(length) if length else b""

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve

        def log_message(self, format: str, *args: Any) -> None:
            return  # quiet: a test's output is the test's

    return Handler
