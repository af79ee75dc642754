"""A real `mlflow server` for tests, and an HTTP edge in front of it that counts and breaks
requests: what our own MLflow tests and `bench/` use, and what yours can.

    from champion.testing.mlflow import HttpEdge, mlflow_server

    with mlflow_server(tmp_path / "mlflow") as server:      # SQLite store, local artifacts
        with HttpEdge(server.url) as edge:                  # MLFLOW_TRACKING_URI=edge.url
            edge.fail("GET", "/registered-models/alias", status=500, times=1)
            ...                                              # the step sees one HTTP 500
            edge.requests                                    # every (method, path) it forwarded

    # a team's server: its store on PostgreSQL (`champion.testing.postgres`)
    with mlflow_server(root, backend_store_uri=pg.create_database("mlflow")) as server:
        ...

Why a real server and an edge, not a mock of MlflowClient: the backend's promises (a lookup
that fails is never "no champion", a retried registration is found by its run, an alias moved
by someone else is seen) are about what crosses the wire. The server is the real one, started
from the full `mlflow` package (`pip install mlflow`; the `[mlflow]` extra is the client only);
the edge changes nothing unless told to.

`mlflow_server` starts the server in a process group of its own and stops it by killing the
whole group: its workers outlive a SIGTERM to the parent. Start-up takes ~20 s, so start one per
test session. Importing this module imports no mlflow.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

from champion import _env

__all__ = ["HttpEdge", "MlflowServer", "free_port", "mlflow_server"]

START_TIMEOUT_S = 180.0
QUIET_ENV = {"MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "true"}
"""Set for the server (and worth setting for clients): no telemetry leaves a test machine."""
SERVER_ENV = {**QUIET_ENV, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
"""The server's: no background job runner (eight huey workers, ~2 GiB) for a registry test."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class MlflowServer:
    """A running `mlflow server`: its URL, its backend store, its artifact folder."""

    url: str
    database: Path | None
    """The SQLite file of the backend store; None when the store is a database server."""
    artifacts: Path
    process: subprocess.Popen[bytes]
    log: Path
    store_uri: str = ""
    """The backend store's URI (`sqlite:///...`, `postgresql://...`)."""

    def stop(self) -> None:
        """Kill the server's whole process group (uvicorn workers, the job runner)."""
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)


@contextlib.contextmanager
def mlflow_server(
    root: str | os.PathLike[str],
    *,
    port: int | None = None,
    python: str | None = None,
    backend_store_uri: str | None = None,
    workers: int = 1,
) -> Iterator[MlflowServer]:
    """Start `mlflow server` on 127.0.0.1 with a local artifact folder under `root` and a
    backend store: a SQLite file under `root`, or `backend_store_uri` (a team's PostgreSQL:
    `champion.testing.postgres`; MLflow creates its tables on start), wait for `/health`, yield
    it, and kill its process group at the end. `python` is the interpreter that has the full
    `mlflow` package (default: this one); `workers` its uvicorn workers."""
    folder = Path(root)
    folder.mkdir(parents=True, exist_ok=True)
    artifacts, log = folder / "artifacts", folder / "server.log"
    database = None if backend_store_uri is not None else folder / "mlflow.db"
    store = backend_store_uri if backend_store_uri is not None else f"sqlite:///{database}"
    port = port or free_port()
    command = [python or sys.executable, "-m", "mlflow", "server"]
    command += ["--backend-store-uri", store]
    command += ["--artifacts-destination", str(artifacts), "--host", "127.0.0.1"]
    command += ["--port", str(port), "--workers", str(workers)]
    with open(log, "wb") as out:
        process = subprocess.Popen(
            command,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            cwd=folder,
            env={**_env.inherited(), **SERVER_ENV},
            start_new_session=True,  # its own process group: killed whole in stop()
        )
    server = MlflowServer(
        f"http://127.0.0.1:{port}", database, artifacts, process, log, store_uri=store
    )
    try:
        _wait_healthy(server)
        yield server
    finally:
        server.stop()


def _wait_healthy(server: MlflowServer) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            tail = server.log.read_text(errors="replace")[-2000:]
            raise RuntimeError(f"mlflow server exited ({server.process.returncode}):\n{tail}")
        with contextlib.suppress(OSError):
            with urllib.request.urlopen(f"{server.url}/health", timeout=2) as answer:
                if answer.status == 200:
                    return
        time.sleep(0.25)
    raise RuntimeError(f"mlflow server at {server.url} not healthy after {START_TIMEOUT_S} s")


# ---------------------------------------------------------------------- the HTTP edge


@dataclass
class _Fault:
    method: str
    path: re.Pattern[str]
    status: int | None  # None: stall (a timeout) or drop the connection
    times: int | None  # None: every matching request
    body: Mapping[str, str] | None
    stall_s: float = 0.0

    def matches(self, method: str, path: str) -> bool:
        return method == self.method and self.path.search(path) is not None


@dataclass
class HttpEdge:
    """A forwarding proxy on 127.0.0.1 in front of `upstream`: it records every request and
    answers the ones a fault matches itself (an HTTP status, a stall longer than the client's
    timeout, a dropped connection). Use `url` where the client would use the server's."""

    upstream: str
    requests: list[tuple[str, str]] = field(default_factory=list)
    _faults: list[_Fault] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self._server is not None, "use HttpEdge as a context manager"
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def fail(
        self,
        method: str,
        path: str,
        *,
        status: int | None = 500,
        times: int | None = None,
        error_code: str | None = None,
        stall_s: float = 0.0,
        message: str = "injected",
    ) -> None:
        """Answer requests whose path matches the regex `path` with `status` (a JSON error body
        in MLflow's shape, with `message`, when `error_code` is given, else plain text), or with
        `status=None` stall `stall_s` seconds and drop the connection. `times` limits how
        many."""
        body = None if error_code is None else {"error_code": error_code, "message": message}
        with self._lock:
            self._faults.append(
                _Fault(method.upper(), re.compile(path), status, times, body, stall_s)
            )

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()
            self.requests.clear()

    def count(self, method: str | None = None, path: str = "") -> int:
        with self._lock:
            return sum(
                1
                for m, p in self.requests
                if (method is None or m == method.upper()) and re.search(path, p)
            )

    def _fault_for(self, method: str, path: str) -> _Fault | None:
        with self._lock:
            self.requests.append((method, path))
            for fault in self._faults:
                if fault.matches(method, path) and fault.times != 0:
                    if fault.times is not None:
                        fault.times -= 1
                    return fault
        return None

    def __enter__(self) -> HttpEdge:
        edge = self
        target = urlsplit(self.upstream)
        host = target.hostname or "127.0.0.1"

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:
                pass

            def _forward(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                fault = edge._fault_for(self.command, self.path.split("?", 1)[0])
                if fault is not None:
                    self._answer_fault(fault)
                    return
                connection = http.client.HTTPConnection(host, target.port, timeout=120)
                try:
                    headers = {k: v for k, v in self.headers.items() if k.lower() != "host"}
                    connection.request(self.command, self.path, body=body, headers=headers)
                    answer = connection.getresponse()
                    data = answer.read()
                finally:
                    connection.close()
                self.send_response(answer.status)
                for key, value in answer.getheaders():
                    if key.lower() not in ("transfer-encoding", "connection", "content-length"):
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _answer_fault(self, fault: _Fault) -> None:
                if fault.status is None:
                    time.sleep(fault.stall_s)
                    self.close_connection = True
                    with contextlib.suppress(OSError):
                        self.connection.shutdown(socket.SHUT_RDWR)
                    return
                data = (
                    json.dumps(fault.body).encode()
                    if fault.body is not None
                    else f"injected HTTP {fault.status}".encode()
                )
                self.send_response(fault.status)
                kind = "application/json" if fault.body is not None else "text/plain"
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _forward

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
