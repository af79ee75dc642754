"""`champion serve` as a user runs it: a real server process on 127.0.0.1, real HTTP requests,
the deployment it records, the delete it blocks, and what stopping or killing it releases.

Every server here is started by the test in a session of its own and stopped by it (SIGTERM,
or SIGKILL of its process group), each wait bounded."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from champion.local import Model

from .conftest import FEATURES, SAMPLE, IrisWorkspace

pytest.importorskip("azureml_inference_server_http")

STARTUP_S = 120.0


def free_port() -> int:
    with contextlib.closing(socket.socket()) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def environment() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith(("CHAMPION_", "AZUREML_"))}


def champion(ws: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "champion.cli", "--workspace", str(ws), *args],
        capture_output=True,
        text=True,
        env=environment(),
        timeout=300,
    )


class Server:
    """`champion serve ...` started in its own session; its console goes to a log file."""

    def __init__(self, ws: Path, log: Path, *args: str, port: int | None = None) -> None:
        self.port = port or free_port()
        self.log = log
        with log.open("w") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "champion.cli", "--workspace", str(ws), "serve",
                 *args, "--port", str(self.port)],
                stdout=out,
                stderr=subprocess.STDOUT,
                env=environment(),
                start_new_session=True,
            )  # fmt: skip

    @property
    def output(self) -> str:
        return self.log.read_text()

    def wait_healthy(self) -> None:
        deadline = time.monotonic() + STARTUP_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"the server exited {self.process.returncode}:\n{self.output}")
            with contextlib.suppress(OSError):
                status, body = self.request("GET", "/")
                if status == 200:
                    assert body == "Healthy"
                    return
            time.sleep(0.2)
        raise AssertionError(f"the server was not healthy within {STARTUP_S} s:\n{self.output}")

    def request(
        self, method: str, path: str, body: bytes | None = None, content_type: str | None = None
    ) -> tuple[int, Any]:
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.port}{path}", data=body, method=method
        )
        if content_type:
            request.add_header("Content-Type", content_type)
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                status, text = response.status, response.read().decode()
        except urllib.error.HTTPError as error:
            status, text = error.code, error.read().decode()
        try:
            return status, json.loads(text)
        except ValueError:
            return status, text

    def score(self, payload: Any) -> tuple[int, Any]:
        return self.request("POST", "/score", json.dumps(payload).encode(), "application/json")

    def stop(self) -> int:
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=120)

    def kill(self) -> None:
        """SIGKILL the server and its workers (its own process group): a crash."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=60)


@pytest.fixture
def servers(tmp_path: Path) -> Iterator[list[Server]]:
    started: list[Server] = []
    yield started
    for server in started:
        if server.process.poll() is None:
            server.kill()


def start(servers: list[Server], iris: IrisWorkspace, log: Path, *args: str) -> Server:
    server = Server(iris.path, log, *args)
    servers.append(server)
    server.wait_healthy()
    return server


def listening_on(port: int) -> list[str]:
    """Local addresses of the sockets listening on `port` (hex as /proc/net/tcp shows them)."""
    found = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError):
            for line in Path(table).read_text().splitlines()[1:]:
                fields = line.split()
                address, hex_port = fields[1].rsplit(":", 1)
                if int(hex_port, 16) == port and fields[3] == "0A":  # 0A: LISTEN
                    found.append(address)
    return found


def deployments(ws: Path) -> list[dict[str, Any]]:
    listed = champion(ws, "deployments", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    return list(json.loads(listed.stdout))


def test_serve_answers_with_the_champions_predictions_and_holds_the_version(
    iris: IrisWorkspace, tmp_path: Path, servers: list[Server]
) -> None:
    server = start(servers, iris, tmp_path / "serve.log", "iris")
    assert listening_on(server.port) == ["0100007F"]  # 127.0.0.1 only
    assert "serving iris:2 as deployment iris" in server.output

    # rows from sample_data, as lists and as objects: the champion's (iris:2's) predictions
    frame = pd.read_csv(SAMPLE).iloc[::10]
    rows = frame[FEATURES].to_numpy().tolist()
    status, answer = server.score({"data": rows})
    assert status == 200 and answer == iris.predict(2, frame)
    status, answer = server.score({"data": frame[FEATURES].to_dict("records")})
    assert status == 200 and answer == iris.predict(2, frame)

    # bad requests: 4xx with a message saying what was expected, and the server stays up
    bad = [
        (b"sepal_length=5.1", None, "the request body is empty"),
        (b"not json", "application/json", "the request body is not JSON"),
        (b'{"rows": [[1, 2, 3, 4]]}', "application/json", 'a "data" list of rows'),
        (b'{"data": [[1, 2]]}', "application/json", "row 0 has 2 values; the model takes 4"),
        (b'{"data": [[1, 2, 3, "x"]]}', "application/json", "row 0 holds 'x'"),
        (b'{"data": [{"sepal_length": 1}]}', "application/json", "row 0 lacks sepal_width"),
    ]
    for body, content_type, says in bad:
        status, answer = server.request("POST", "/score", body, content_type)
        assert 400 <= status < 500, (body, status, answer)
        assert says in answer["message"], (body, answer)
    assert server.score({"data": rows[:1]}) == (200, iris.predict(2, frame.iloc[:1]))

    # the deployment is recorded, and the version it serves cannot be deleted
    (deployment,) = deployments(iris.path)
    assert {k: deployment[k] for k in ("name", "versions", "status", "port", "pid")} == {
        "name": "iris",
        "versions": "iris:2",
        "status": "running",
        "port": server.port,
        "pid": server.process.pid,
    }
    refused = champion(iris.path, "models", "delete", "iris", "--version", "2")
    assert refused.returncode == 2, refused.stdout + refused.stderr
    (line,) = refused.stderr.splitlines()
    assert f"iris:2 is served by the running deployment(s) iris (port {server.port}" in line
    assert Model(iris.ws, "iris", version=2).version == 2

    # stopped, it releases the version
    assert server.stop() == 0
    assert "the deployment is recorded as stopped" in server.output
    assert [d["status"] for d in deployments(iris.path)] == ["stopped"]
    deleted = champion(iris.path, "models", "delete", "iris", "--version", "2", "--json")
    assert deleted.returncode == 0, deleted.stderr
    assert json.loads(deleted.stdout) == {"name": "iris", "version": 2, "deleted": True}
    assert Model(iris.ws, "iris").version == 1


def test_a_killed_server_releases_its_version(
    iris: IrisWorkspace, tmp_path: Path, servers: list[Server]
) -> None:
    server = start(
        servers, iris, tmp_path / "serve.log", "iris", "--version", "1",
        "--deployment-name", "old-tree",
    )  # fmt: skip
    status, answer = server.score({"data": [[5.1, 3.5, 1.4, 0.2]]})
    assert status == 200 and answer == ["setosa"]
    assert champion(iris.path, "models", "delete", "iris", "--version", "1").returncode == 2

    server.kill()
    (deployment,) = deployments(iris.path)
    assert (deployment["name"], deployment["status"]) == ("old-tree", "gone")
    assert champion(iris.path, "models", "delete", "iris", "--version", "1").returncode == 0


USER_SCRIPT = """
import json
import os

from azureml.core.model import Model

model_path = None


def init():
    global model_path
    model_path = Model.get_model_path("iris")


def run(raw_data):
    import joblib

    data = json.loads(raw_data)["data"]
    model = joblib.load(os.path.join(model_path, "model.pkl"))
    return {
        "model_dir": os.environ["AZUREML_MODEL_DIR"],
        "model_path": model_path,
        "predictions": model.predict(data).tolist(),
    }
"""


def test_a_users_entry_script_finds_the_model_as_in_an_azure_ml_deployment(
    iris: IrisWorkspace, tmp_path: Path, servers: list[Server]
) -> None:
    """`Model.get_model_path(name)` of the real SDK and `AZUREML_MODEL_DIR` both lead to the
    deployed version, laid out as an Azure ML scoring container has it."""
    script = tmp_path / "app" / "score.py"
    script.parent.mkdir()
    script.write_text(USER_SCRIPT)
    server = start(servers, iris, tmp_path / "serve.log", "iris", "--entry-script", str(script))
    status, answer = server.score({"data": [[6.7, 3.0, 5.2, 2.3]]})
    assert status == 200, answer
    assert answer["predictions"] == ["virginica"]
    model_dir = Path(answer["model_dir"])
    assert model_dir.parts[-3:] == ("azureml-models", "iris", "2")
    assert Path(answer["model_path"]) == model_dir / "trained-0.95"
    assert server.stop() == 0
    assert not model_dir.exists()  # the deployment's folder goes with it


def test_serve_refuses_what_it_cannot_serve_before_recording_anything(
    iris: IrisWorkspace, tmp_path: Path
) -> None:
    with contextlib.closing(socket.socket()) as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        cases = [
            (("iris", "--port", port), f"port {port} on 127.0.0.1 is in use"),
            (("nope", "--port", str(free_port())), "there is no model 'nope';"),
            (("irs",), "there is no model 'irs' (did you mean 'iris'?)"),
            (("iris", "--version", "9"), "there is no version 9 of model 'iris'"),
            (("iris", "--entry-script", str(tmp_path / "none.py")), "entry script not found"),
            (("iris", "--port", "0"), "'0' is not a port number"),
        ]
        for args, says in cases:
            done = champion(iris.path, "serve", *args)
            assert done.returncode == 2, (args, done.stdout, done.stderr)
            assert says in done.stderr and "Traceback" not in done.stderr
    assert deployments(iris.path) == []

    # a model that exists, but whose every version was deleted, keeps its own message
    for version in ("2", "1"):
        assert champion(iris.path, "models", "delete", "iris", "--version", version).returncode == 0
    done = champion(iris.path, "serve", "iris")
    assert done.returncode == 2, done.stderr
    assert "model 'iris' has no champion: every version of it was deleted" in done.stderr
    assert deployments(iris.path) == []


def test_two_servers_asking_for_one_port_at_once_one_serves_and_one_exits_2(
    iris: IrisWorkspace, tmp_path: Path, servers: list[Server]
) -> None:
    """Both passed the port check, then the loser's gunicorn could not bind: "Worker failed
    to boot", and `champion serve` exited 0 saying the server had stopped. The port is now
    held from the check on, so whichever asks second is told at once."""
    first = Server(iris.path, tmp_path / "first.log", "iris", "--deployment-name", "first")
    second = Server(
        iris.path, tmp_path / "second.log", "iris", "--deployment-name", "second",
        port=first.port,
    )  # fmt: skip
    servers.extend([first, second])
    deadline = time.monotonic() + STARTUP_S
    while first.process.poll() is None and second.process.poll() is None:
        assert time.monotonic() < deadline, first.output + second.output
        time.sleep(0.2)
    loser, winner = (first, second) if first.process.poll() is not None else (second, first)
    assert loser.process.returncode == 2, loser.output
    assert f"port {first.port} on 127.0.0.1 is in use" in loser.output.splitlines()[-1]
    winner.wait_healthy()
    assert winner.score({"data": [[5.1, 3.5, 1.4, 0.2]]}) == (200, ["setosa"])


ENTRY_SCRIPTS = {
    "a syntax error": ("def init(:\n    pass\n", "score.py:1: SyntaxError: invalid syntax"),
    "no init()": ("def run(raw_data):\n    return 1\n", "does not have a init() function"),
    "no run()": ("def init():\n    pass\n", "does not have a run() function"),
    "an import that fails": (
        "import no_such_module_here\n",
        "score.py:1 in <module>: ModuleNotFoundError: No module named 'no_such_module_here'",
    ),
    "init() raising": (
        "def init():\n    raise ValueError('no model.bin here')\n\ndef run(raw_data):\n    pass\n",
        "score.py:2 in init: ValueError: no model.bin here",
    ),
}


@pytest.mark.parametrize(("script", "says"), ENTRY_SCRIPTS.values(), ids=ENTRY_SCRIPTS.keys())
def test_an_entry_script_that_cannot_start_is_one_line_and_exit_2(
    iris: IrisWorkspace, tmp_path: Path, script: str, says: str
) -> None:
    """It printed "Worker failed to boot", then exited 0, as if the server had been stopped."""
    path = tmp_path / "score.py"
    path.write_text(script)
    done = champion(
        iris.path, "serve", "iris", "--entry-script", str(path), "--port", str(free_port())
    )
    assert done.returncode == 2, done.stdout + done.stderr
    line = done.stderr.splitlines()[-1]
    assert line.startswith("champion: error [input_invalid]: the entry script could not start: ")
    assert says in line, line
    assert "Traceback" not in done.stdout + done.stderr
    assert [d["status"] for d in deployments(iris.path)] == ["stopped"]


def test_a_model_joblib_cannot_load_is_exit_2_and_a_damaged_one_exit_3(
    iris: IrisWorkspace, tmp_path: Path
) -> None:
    garbage = tmp_path / "garbage"
    garbage.mkdir()
    (garbage / "model.pkl").write_bytes(b"not a pickle")
    registered = champion(
        iris.path, "register", "--model-name", "iris", "--model-path", str(garbage),
        "--metric-value", "0.99", "--model-framework", "ScikitLearn",
    )  # fmt: skip
    assert registered.returncode == 0, registered.stderr
    done = champion(iris.path, "serve", "iris", "--port", str(free_port()))
    assert done.returncode == 2, done.stdout + done.stderr
    line = done.stderr.splitlines()[-1]
    assert "the model could not be served: model.pkl could not be loaded with joblib" in line
    assert "Traceback" not in done.stdout + done.stderr

    # the stored bytes of iris:2 changed on disk: the verified download refuses, exit 3
    digest = hashlib.sha256((tmp_path / "trained-0.95" / "model.pkl").read_bytes()).hexdigest()
    blob = iris.path / "blobs" / "sha256" / digest[:2] / digest
    blob.chmod(0o600)
    blob.write_bytes(b"bit rot")
    damaged = champion(iris.path, "serve", "iris", "--version", "2", "--port", str(free_port()))
    assert damaged.returncode == 3, damaged.stdout + damaged.stderr
    assert f"blob {digest} is corrupt" in damaged.stderr.splitlines()[-1]
    assert [d["status"] for d in deployments(iris.path)] == ["stopped"]  # only the first try
