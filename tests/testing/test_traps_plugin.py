"""The pytest plugin makes every `AzureMLTrapWarning` an error, as a user's project sees it: a
fresh project with its own `pyproject.toml` (a broad `ignore::UserWarning`, as many have) and
test file, `pytest` run as a separate process with nothing but the installed champion."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

TESTS = textwrap.dedent(
    """
    import pytest
    from champion.local import AzureMLTrapWarning, Experiment, Workspace

    @pytest.fixture
    def run(tmp_path):
        ws = Workspace.create(tmp_path / "ws")
        return Experiment(ws, "e").start_logging()

    def test_a_trap_fails(run):
        assert list(run.get_children(tags=["k"])) == []  # a list matches no child on Azure ML

    @pytest.mark.filterwarnings("default::champion.local.AzureMLTrapWarning")
    def test_a_mark_lets_one_test_warn(run):
        assert list(run.get_children(tags=["k"])) == []

    def test_an_expected_trap(run):
        with pytest.warns(AzureMLTrapWarning, match="a list matches no run"):
            list(run.get_children(tags=["k"]))
    """
)


def project(root: Path, *ini_lines: str) -> Path:
    root.mkdir(exist_ok=True)
    ini = "\n".join(["[tool.pytest.ini_options]", 'filterwarnings = ["ignore::UserWarning"]'])
    (root / "pyproject.toml").write_text("\n".join([ini, *ini_lines, ""]))
    (root / "test_steps.py").write_text(TESTS)
    return root


def pytest_in(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("CHAMPION_", "AZUREML_", "PYTEST_")) and k != "TF_BUILD"
    }
    env["CI"] = "1"  # short summary lines in full, not cut to a terminal's width
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-rfE", "-p", "no:cacheprovider", *args],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.mark.slow
def test_a_trap_fails_its_test_by_default_even_under_ignore_user_warning(tmp_path: Path) -> None:
    done = pytest_in(project(tmp_path / "p"))
    assert done.returncode == 1, done.stdout + done.stderr
    assert "1 failed, 2 passed" in done.stdout, done.stdout
    assert "FAILED test_steps.py::test_a_trap_fails - champion.local.AzureMLTrapWarning" in (
        done.stdout
    )


@pytest.mark.slow
def test_the_command_line_overrides_it_for_one_run(tmp_path: Path) -> None:
    done = pytest_in(project(tmp_path / "p"), "-W", "default::champion.local.AzureMLTrapWarning")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "3 passed" in done.stdout
    assert "AzureMLTrapWarning" in done.stdout  # still reported, in the warnings summary


@pytest.mark.slow
def test_a_project_opts_out_with_the_ini_option(tmp_path: Path) -> None:
    done = pytest_in(project(tmp_path / "p", 'champion_traps = "warn"'))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "3 passed" in done.stdout


@pytest.mark.slow
def test_an_unknown_setting_is_a_usage_error(tmp_path: Path) -> None:
    done = pytest_in(project(tmp_path / "p", 'champion_traps = "maybe"'))
    assert done.returncode == 4, done.stdout + done.stderr  # pytest's usage error
    assert "champion_traps = 'maybe' is not a choice; use 'error'" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.slow
def test_without_the_plugin_traps_only_warn(tmp_path: Path) -> None:
    done = pytest_in(project(tmp_path / "p"), "-p", "no:champion")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "3 passed" in done.stdout
