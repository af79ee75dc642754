"""The tutorial "Test your own step" (docs/tutorials/test-your-own-step.md), done as a user does
it: the step and the test are copied out of the page (so the text and this test cannot drift
apart) into a fresh project folder, and the page's `pytest` command runs there as a separate
process with nothing but the installed champion and its plugin."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from doc_pages import blocks, commands, run_by

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "docs/tutorials/test-your-own-step.md"


def readme_files() -> dict[str, str]:
    """Each ```python block of the page whose first line is `# <path>`, by that path."""
    return {b.file: b.text for b in blocks(PAGE) if b.lang == "python" and b.file is not None}


def pytest_command() -> list[str]:
    """The page's command, as this test runs it: with this interpreter's pytest."""
    (block,) = run_by("test_readme_testing.py", PAGE)
    (command,) = commands(block)
    assert command.split()[0] == "pytest"
    return [sys.executable, "-m", *command.split()]


def test_the_readme_shows_a_step_and_its_test_of_about_ten_lines() -> None:
    files = readme_files()
    assert sorted(files) == ["steps/my_train.py", "tests/test_my_train.py"]
    test_lines = [line for line in files["tests/test_my_train.py"].splitlines()[1:] if line]
    assert len(test_lines) <= 12
    # nothing private: the user's test needs no import of ours at all
    assert "import" not in files["tests/test_my_train.py"]
    assert "_store" not in "".join(files.values())


@pytest.mark.slow
def test_the_readme_example_passes_in_a_fresh_project(tmp_path: Path) -> None:
    project = tmp_path / "my-project"
    for name, text in readme_files().items():
        (project / name).parent.mkdir(parents=True, exist_ok=True)
        (project / name).write_text(text)
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("CHAMPION_", "AZUREML_", "PYTEST_")) and k != "TF_BUILD"
    }
    done = subprocess.run(
        [*pytest_command(), "-q", "-p", "no:cacheprovider"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "1 passed" in done.stdout
    # what the user's step did is real: the model went into the project's own tmp workspace,
    # not into the project folder
    assert not (project / ".champion").exists()
