"""Installing champion as the README says, and knowing which one you have.

A newcomer found no install instructions, guessed `pip install <clone>`, had to guess that pytest
was needed for the fixtures, and had no `champion --version`. The README's install section now
(and docs/how-to/install.md) names a wheel `make dist` builds; this test builds that wheel,
installs it with the README's own line into a fresh virtual environment, and uses it as a user's
project would: the console script, the version, the pytest fixtures, every file of the
package."""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest
import sklearn
from doc_pages import commands, run_by

import champion
from champion import cli

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()


def test_champion_version_prints_the_version_from_its_one_home(capsys) -> None:
    """In process: the console script is checked in a fresh venv by the slow test below."""
    assert cli.main(["--version"]) == 0
    assert capsys.readouterr() == (f"champion {champion.__version__}\n", "")
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert "version" not in project["project"] and "version" in project["project"]["dynamic"]
    attr = project["tool"]["setuptools"]["dynamic"]["version"]["attr"]
    assert attr == "champion.__version__"


def wheel_line(page: Path) -> str:
    """The page's line that installs the wheel `make dist` builds."""
    (block,) = run_by("test_install.py", page)
    (line,) = commands(block)
    return line


def test_the_readme_and_the_install_page_name_the_wheel_of_this_version() -> None:
    line = wheel_line(ROOT / "README.md")
    assert line == wheel_line(ROOT / "docs/how-to/install.md")
    assert line == f"pip install 'dist/champion-{champion.__version__}-py3-none-any.whl[testing]'"
    assert "pip install 'champion[testing]'" in README  # once it is on the index


@pytest.mark.slow
def test_the_readme_install_line_gives_a_working_champion_in_a_fresh_venv(tmp_path: Path) -> None:
    source = tmp_path / "source"  # a copy: building leaves build/ and *.egg-info behind
    shutil.copytree(ROOT / "src", source / "src", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy2(ROOT / name, source / name)
    built = subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--outdir", tmp_path / "dist", source],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]
    (wheel,) = (tmp_path / "dist").glob("*.whl")
    with zipfile.ZipFile(wheel) as archive:
        shipped = {name for name in archive.namelist() if name.startswith("champion/")}
    source = {
        path.relative_to(ROOT / "src").as_posix()
        for path in (ROOT / "src" / "champion").rglob("*")
        if path.is_file() and "__pycache__" not in path.parts
    }
    assert source - shipped == set()  # every module and data file of the package

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", venv], check=True, timeout=120)
    python = venv / "bin" / "python"
    site = next((venv / "lib").glob("python3*/site-packages"))
    # The dependencies (a gigabyte) come from this environment: a plain path, so its own
    # champion (the checkout's, editable) is not imported; only the wheel's is.
    (site / "dependencies.pth").write_text(str(Path(sklearn.__file__).parents[1]) + "\n")
    pip = [sys.executable, "-m", "pip", "--python", str(python)]
    line = shlex.split(wheel_line(ROOT / "README.md"))
    install = subprocess.run(
        [*pip, *line[1:], "--no-deps", "--no-index"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert install.returncode == 0, install.stdout[-3000:] + install.stderr[-3000:]

    version = subprocess.run(
        [venv / "bin" / "champion", "--version"], capture_output=True, text=True, timeout=120
    )
    assert version.stdout == f"champion {champion.__version__}\n", version.stderr
    where = subprocess.run(
        [python, "-c", "import champion; print(champion.__file__)"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert where.stdout.startswith(str(site)), where.stdout + where.stderr

    project = tmp_path / "project"
    project.mkdir()
    fixtures = subprocess.run(
        [python, "-m", "pytest", "--fixtures", "-p", "no:cacheprovider"],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=300,
    )
    for name in ("local_workspace", "pipeline_run", "run_step", "mock_azureml"):
        assert re.search(rf"^{name}\b", fixtures.stdout, re.M), fixtures.stdout[-3000:]
