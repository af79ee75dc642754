"""The suite's own rules (tests/suite_rules.py) hold, tried on a small copy of the tests folder
run by pytest as a separate process: a fast test that starts a process or opens a network socket
fails, even when it swallows the refusal; `--fast` neither runs nor imports the other folders;
and under xdist the tests that share the mlflow server, or a module's fixture, share a worker."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

SUITE_RULES = Path(__file__).resolve().parents[1] / "suite_rules.py"

pytestmark = pytest.mark.process  # pytest itself, as a process

FILES = {
    "conftest.py": """
        import pytest

        pytest_plugins = ("suite_rules",)

        @pytest.fixture(scope="session")
        def mlflow_server(worker_id):
            return worker_id
    """,
    "unit/test_pure.py": """
        def test_pure():
            assert sum(range(4)) == 6
    """,
    "unit/test_starts.py": """
        import socket, subprocess, sys
        import pytest

        def test_starts_a_process():
            subprocess.run([sys.executable, "-c", "pass"], check=True)

        def test_swallows_the_refusal():
            try:
                subprocess.run(["true"])
            except Exception:
                pass

        def test_opens_a_socket():
            with socket.socket() as sock:
                sock.bind(("127.0.0.1", 0))  # a bound address alone sends nothing: allowed
                sock.connect(sock.getsockname())

        @pytest.mark.process
        def test_marked():
            subprocess.run([sys.executable, "-c", "pass"], check=True)
    """,
    "unit/test_server.py": """
        def test_asks_for_the_server(mlflow_server):
            assert mlflow_server
    """,
    "slow/test_elsewhere.py": """
        raise SystemExit("tests/slow was imported")
    """,
}

# Tests that record which xdist worker ran them: two use the server, two a module fixture.
GROUPED = {
    "conftest.py": FILES["conftest.py"],
    **{
        f"a/test_server_{n}.py": f"""
            def test_server_{n}(mlflow_server, worker_id):
                open("workers.txt", "a").write("server {{}}\\n".format(worker_id))
        """
        for n in range(4)
    },
    "a/test_module.py": """
        import pytest

        @pytest.fixture(scope="module")
        def shared():
            return object()

        @pytest.mark.parametrize("n", range(6))
        def test_module(shared, worker_id, n):
            open("workers.txt", "a").write("module {}\\n".format(worker_id))
    """,
    **{f"a/test_free_{n}.py": f"def test_free_{n}():\n    pass\n" for n in range(8)},
}


def tree(root: Path, files: dict[str, str]) -> Path:
    tests = root / "tests"
    for name, text in files.items():
        (tests / name).parent.mkdir(parents=True, exist_ok=True)
        (tests / name).write_text(textwrap.dedent(text))
    shutil.copy(SUITE_RULES, tests / "suite_rules.py")
    (root / "pyproject.toml").write_text('[tool.pytest.ini_options]\ntestpaths = ["tests"]\n')
    return root


def pytest_in(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "CHAMPION_"))}
    env["CI"] = "1"  # short summary lines in full
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-rfE", "-p", "no:cacheprovider", *args],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_a_fast_test_that_starts_a_process_or_opens_a_socket_fails(tmp_path: Path) -> None:
    done = pytest_in(tree(tmp_path, FILES), "--fast")
    output = done.stdout + done.stderr
    assert done.returncode == 1, output
    failed = set(re.findall(r"^FAILED \S+::(\w+)", done.stdout, re.MULTILINE))
    assert failed == {"test_starts_a_process", "test_swallows_the_refusal", "test_opens_a_socket"}
    assert "3 failed, 1 passed, 2 deselected" in done.stdout, output
    assert "started a process (subprocess.Popen" in output
    assert "opened a network socket (socket.connect" in output
    assert "mark the test @pytest.mark.process" in output
    assert "tests/slow was imported" not in output  # --fast does not even import it


def test_the_full_run_holds_the_same_rule_and_runs_the_rest(tmp_path: Path) -> None:
    root = tree(tmp_path, FILES)
    (root / "tests" / "slow" / "test_elsewhere.py").write_text("def test_slow():\n    pass\n")
    done = pytest_in(root)
    assert "3 failed, 4 passed" in done.stdout, done.stdout + done.stderr


def test_under_xdist_the_server_and_a_modules_fixture_each_stay_on_one_worker(
    tmp_path: Path,
) -> None:
    root = tree(tmp_path, GROUPED)
    done = pytest_in(root, "-n", "2", "--dist", "loadgroup")
    assert done.returncode == 0, done.stdout + done.stderr
    ran = [line.split() for line in (root / "workers.txt").read_text().splitlines()]
    assert len(ran) == 10 and {worker for _, worker in ran} == {"gw0", "gw1"}, ran
    assert len({worker for kind, worker in ran if kind == "server"}) == 1, ran
    assert len({worker for kind, worker in ran if kind == "module"}) == 1, ran
