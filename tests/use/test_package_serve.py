"""A package serves without champion, proven without Docker, as docs/how-to/deploy.md tells it
(its commands are read from the page): `make run`, then `champion models package iris --output
pkg/`; a fresh virtualenv made from `pkg/requirements.txt` alone stands for the image's Python;
the Dockerfile is followed (its COPY lines lay the files out under a folder standing for `/`,
its ENV, WORKDIR and CMD start the server, its HEALTHCHECK is run), then the page's command
without Docker; both answer the sample rows with the score step's predictions, row for row.
Where Docker runs, the image itself is built and asked the same.

Slow: the virtualenv installs scikit-learn, pandas and the inference server from the index (one
install, every assertion made on it)."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from .conftest import FEATURES, SAMPLE
from .dockerfile import Image

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "docs" / "how-to" / "deploy.md"
INSTALL_S = 1800.0
STARTUP_S = 180.0

pytestmark = pytest.mark.slow


def champion(ws: Path, *args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CHAMPION_", "AZUREML_"))}
    return subprocess.run(
        [sys.executable, "-m", "champion.cli", "--workspace", str(ws), *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=600,
    )


@contextlib.contextmanager
def server(command: list[str], cwd: Path, env: dict[str, str], log: Path) -> Iterator[Any]:
    """The command started in a session of its own, stopped (its whole group) on the way out."""
    with log.open("w") as out:
        started = subprocess.Popen(
            command, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
    try:
        yield started
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(started.pid, signal.SIGTERM)
        try:
            started.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(started.pid, signal.SIGKILL)
            started.wait(timeout=60)


def page_blocks(language: str) -> list[list[str]]:
    """The page's code blocks of `language`, each as its lines (continuations joined)."""
    blocks = re.findall(rf"```{language}\n(.*?)```", PAGE.read_text(), re.S)
    return [block.replace("\\\n", " ").strip().splitlines() for block in blocks]


def page_line(language: str, starts: str) -> str:
    (line,) = [x for b in page_blocks(language) for x in b if x.startswith(starts)]
    return line


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
    said = shlex.split(page_line("sh", "champion models package iris --output pkg/"))
    done = champion(ws, *said[1:], cwd=tmp_path)
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
    # the page's commands, as a user types them next to pkg/ (`python`: the Python here)
    (without_docker,) = [b for b in page_blocks("sh") if b[0].startswith("python -m venv")]
    for line in without_docker:
        words = shlex.split(line)
        words = [sys.executable, *words[1:]] if words[0] == "python" else words
        done = subprocess.run(words, cwd=tmp_path, capture_output=True, text=True,
                              timeout=INSTALL_S)  # fmt: skip
        assert done.returncode == 0, f"{line}\n{done.stderr[-4000:]}"
    venv = tmp_path / "pkg-venv"
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

    (tmp_path / "home").mkdir()
    env = {
        "PATH": f"{venv / 'bin'}{os.pathsep}/usr/bin{os.pathsep}/bin",
        "HOME": str(tmp_path / "home"),  # the image's user has a home (gunicorn's socket)
        "LANG": "C.UTF-8",
    }
    command = host(image.cmd)
    command[0] = str(venv / "bin" / command[0])
    as_image = {**env, **{key: host([value])[0] for key, value in image.env.items()}}
    workdir = image.host(image.workdir)
    with server(command, workdir, as_image, tmp_path / "image.log") as started:
        wait_healthy(port, lambda: started.poll() is None, tmp_path / "image.log")
        health = host(image.healthcheck)
        health[0] = str(venv / "bin" / health[0])
        assert subprocess.run(health, env=as_image, timeout=30).returncode == 0
        check_answers(port, expected)

    # the page's way without Docker: from pkg/code, the server of the venv next to pkg/
    folder, _, line = page_line("console", "cd pkg/code && ").partition(" && ")
    port = free_port()
    command = shlex.split(line.replace("--port 5001", f"--port {port}"))
    with server(
        command, tmp_path / folder.removeprefix("cd "), env, tmp_path / "page.log"
    ) as started:
        wait_healthy(port, lambda: started.poll() is None, tmp_path / "page.log")
        check_answers(port, expected)


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
