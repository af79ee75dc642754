"""A package serves without champion, proven without Docker: `make run`, then `champion models
package iris --output pkg/`; a fresh virtualenv made from `pkg/requirements.txt` alone stands for
the image's Python, the Dockerfile is followed (its COPY lines lay the files out under a folder
standing for `/`, its ENV, WORKDIR and CMD start the server, its HEALTHCHECK is run), and the
answers to the sample rows are the score step's predictions, row for row. Where Docker runs,
the image itself is built and asked the same.

Slow: the virtualenv installs scikit-learn, pandas and the inference server from the index (one
install, every assertion made on it)."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from .conftest import FEATURES, SAMPLE
from .dockerfile import Image

ROOT = Path(__file__).resolve().parents[2]
INSTALL_S = 1800.0
STARTUP_S = 180.0

pytestmark = pytest.mark.slow


def champion(ws: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CHAMPION_", "AZUREML_"))}
    return subprocess.run(
        [sys.executable, "-m", "champion.cli", "--workspace", str(ws), *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=600,
    )


def free_port() -> int:
    with contextlib.closing(socket.socket()) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def ask(port: int, method: str, path: str, payload: Any = None) -> tuple[int, Any]:
    body = None if payload is None else json.dumps(payload).encode()
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=body, method=method)
    if body is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            status, text = response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        status, text = error.code, error.read().decode()
    with contextlib.suppress(ValueError):
        return status, json.loads(text)
    return status, text


def wait_healthy(port: int, alive: Any, log: Path) -> None:
    deadline = time.monotonic() + STARTUP_S
    while time.monotonic() < deadline:
        if not alive():
            raise AssertionError(f"the server exited:\n{log.read_text()[-4000:]}")
        with contextlib.suppress(OSError):
            if ask(port, "GET", "/") == (200, "Healthy"):
                return
        time.sleep(0.5)
    raise AssertionError(f"not healthy within {STARTUP_S} s:\n{log.read_text()[-4000:]}")


@pytest.fixture
def made(tmp_path: Path) -> tuple[Path, list[str]]:
    """`make run` in a new workspace, then the package: the package and the score step's
    predictions of the sample rows by the champion."""
    ws = tmp_path / "ws"
    run = champion(ws, "run", "pipelines/iris.py")
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    (line,) = [x for x in run.stdout.splitlines() if x.startswith("[score] champion:")]
    assert "iris.csv with iris:1" in line
    predictions = pd.read_csv(line.split(" -> ")[1])["prediction"].tolist()
    done = champion(ws, "models", "package", "iris", "--output", str(tmp_path / "pkg"))
    assert done.returncode == 0, done.stderr
    return tmp_path / "pkg", predictions


def check_answers(port: int, expected: list[str]) -> None:
    rows = pd.read_csv(SAMPLE)
    assert ask(port, "POST", "/score", {"data": rows[FEATURES].values.tolist()}) == (200, expected)
    records = rows[FEATURES].to_dict("records")
    assert ask(port, "POST", "/score", {"data": records}) == (200, expected)
    status, body = ask(port, "POST", "/score", {"data": [[1.0, 2.0]]})
    assert status == 400
    assert body["message"].startswith("row 0 has 2 values; the model takes 4")


def test_a_fresh_venv_from_requirements_txt_serves_the_package_as_its_dockerfile_says(
    made: tuple[Path, list[str]], tmp_path: Path
) -> None:
    pkg, expected = made
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    installed = subprocess.run(
        [str(venv / "bin/python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
         "--requirement", str(pkg / "requirements.txt")],
        capture_output=True, text=True, timeout=INSTALL_S,
    )  # fmt: skip
    assert installed.returncode == 0, installed.stderr[-4000:]
    # nothing of champion's is installed there: only the copy in the package can answer
    bare = subprocess.run(
        [str(venv / "bin/python"), "-c", "import champion"],
        capture_output=True, text=True, cwd=tmp_path, timeout=60,
    )  # fmt: skip
    assert bare.returncode != 0 and "No module named 'champion'" in bare.stderr

    image = Image.build(pkg, tmp_path / "root")
    port = free_port()

    def host(words: Sequence[str]) -> list[str]:
        """The container's paths as the folder standing for `/` holds them; its port ours."""
        return [
            str(image.host(w)) if w.startswith("/") else w.replace("5001", str(port)) for w in words
        ]

    env = {
        "PATH": f"{venv / 'bin'}{os.pathsep}/usr/bin{os.pathsep}/bin",
        "HOME": str(tmp_path / "home"),  # the image's user has a home (gunicorn's socket)
        "LANG": "C.UTF-8",
        **{key: host([value])[0] for key, value in image.env.items()},
    }
    (tmp_path / "home").mkdir()
    command = host(image.cmd)
    command[0] = str(venv / "bin" / command[0])
    log = tmp_path / "server.log"
    with log.open("w") as out:
        server = subprocess.Popen(
            command,
            cwd=image.host(image.workdir),
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        wait_healthy(port, lambda: server.poll() is None, log)
        health = host(image.healthcheck)
        health[0] = str(venv / "bin" / health[0])
        assert subprocess.run(health, env=env, timeout=30).returncode == 0
        check_answers(port, expected)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(timeout=60)


def docker_runs() -> bool:
    if shutil.which("docker") is None:
        return False
    with contextlib.suppress(subprocess.TimeoutExpired, OSError):
        return subprocess.run(["docker", "info"], capture_output=True, timeout=30).returncode == 0
    return False


@pytest.mark.skipif(not docker_runs(), reason="no Docker daemon answers `docker info` here")
def test_the_image_builds_and_serves(made: tuple[Path, list[str]]) -> None:
    pkg, expected = made
    tag = f"champion-package-test:{uuid.uuid4().hex[:12]}"
    port = free_port()
    built = subprocess.run(["docker", "build", "-t", tag, str(pkg)], capture_output=True,
                           text=True, timeout=INSTALL_S)  # fmt: skip
    assert built.returncode == 0, built.stderr[-4000:]
    name = f"champion-package-test-{uuid.uuid4().hex[:12]}"
    try:
        started = subprocess.run(
            ["docker", "run", "-d", "--name", name, "-p", f"127.0.0.1:{port}:5001", tag],
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert started.returncode == 0, started.stderr
        user = subprocess.run(["docker", "exec", name, "id", "-u"], capture_output=True,
                              text=True, timeout=60)  # fmt: skip
        assert user.stdout.strip() not in ("", "0")

        def running() -> bool:
            state = subprocess.run(["docker", "inspect", "-f", "{{.State.Running}}", name],
                                   capture_output=True, text=True, timeout=60)  # fmt: skip
            return state.stdout.strip() == "true"

        logs = pkg.parent / "docker.log"
        logs.write_text("")
        wait_healthy(port, running, logs)
        check_answers(port, expected)
    finally:
        subprocess.run(["docker", "rm", "-f", name], capture_output=True, timeout=120)
        subprocess.run(["docker", "rmi", "-f", tag], capture_output=True, timeout=120)
