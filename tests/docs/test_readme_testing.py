"""README's "Test your own steps", done as a user does it: the step and the test are copied out of
README.md (so the text and this test cannot drift apart) into a fresh project folder, and
`pytest` runs there as a separate process with nothing but the installed champion and its
plugin."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SECTION = "## Test your own steps"


def readme_files() -> dict[str, str]:
    """Each ```python block of the section whose first line is `# <path>`, by that path."""
    readme = (ROOT / "README.md").read_text()
    start = readme.index(SECTION)
    end = readme.find("\n## ", start + len(SECTION))
    section = readme[start : end if end != -1 else len(readme)]
    files = {}
    for block in re.findall(r"```python\n(.*?)```", section, re.S):
        first, _, _ = block.partition("\n")
        if re.fullmatch(r"# [\w/]+\.py", first):
            files[first[2:]] = block
    return files


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
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
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
