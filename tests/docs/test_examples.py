"""Every code example of the documentation works as written.

The README's and the site's pages are read block by block (`doc_pages`). A shell or Python block
is run, in page order, in a fresh project folder holding a copy of the sample (`pipelines/`,
`steps/`, `sample_data/`) with `.venv/bin` first on PATH, as a reader runs it; a block whose first
line is `# PATH` is written there first. A directive above a block may expect another exit code,
name the test that runs it, or excuse it with a reason; a block nothing runs and nothing excuses
fails here, so an example cannot quietly stop being checked."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from doc_pages import ROOT, Block, blocks, directives, pages

BIN = Path(sys.executable).parent
DIRECTIVE = re.compile(r"^(skip \S.*|exit \d+|run by tests/[\w/]+\.py)$")


def test_every_example_is_run_or_excused_with_a_reason() -> None:
    problems = []
    for page in pages():
        opened = {b.line for b in blocks(page)}
        for line, said in directives(page):
            if not DIRECTIVE.match(said):
                problems.append(f"{page.relative_to(ROOT)}:{line}: unknown directive {said!r}")
            elif line + 1 not in opened:
                problems.append(f"{page.relative_to(ROOT)}:{line}: no code block right below")
            elif said.startswith("run by "):
                test = ROOT / said.removeprefix("run by ")
                named = page.relative_to(ROOT).as_posix()
                if not test.is_file() or named not in test.read_text():
                    problems.append(f"{named}:{line}: {test.name} must read {named}")
    assert problems == []


def runnable(page: Path) -> list[Block]:
    """The blocks this test runs or writes, in page order."""
    run_here = (None, *(f"exit {code}" for code in range(256)))
    return [b for b in blocks(page) if b.file is not None or (b.runs and b.directive in run_here)]


PAGES = [page for page in pages() if any(b.runs for b in runnable(page))]


@pytest.mark.slow
@pytest.mark.parametrize("page", PAGES, ids=[str(p.relative_to(ROOT)) for p in PAGES])
def test_the_examples_of_a_page_work_as_written(page: Path, tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    for folder in ("pipelines", "steps", "sample_data"):
        shutil.copytree(ROOT / folder, project / folder)
    (project / ".venv").symlink_to(BIN.parent)
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("CHAMPION_", "MLFLOW_", "AZUREML_", "PYTEST_"))
        and k not in ("TF_BUILD", "BUILD_BUILDNUMBER", "VIRTUAL_ENV")
    }
    env.update(
        PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}",
        MLFLOW_DISABLE_TELEMETRY="true",
        DO_NOT_TRACK="true",
    )
    for block in runnable(page):
        if block.file is not None:
            target = project / block.file
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(block.text)
            continue
        expected = int(block.directive.split()[1]) if block.directive else 0
        command = (
            ["bash", "-e", "-o", "pipefail", "-c", block.text]
            if block.lang in ("sh", "bash")
            else [str(BIN / "python"), "-c", block.text]
        )
        done = subprocess.run(
            command, cwd=project, env=env, capture_output=True, text=True, timeout=600
        )
        assert done.returncode == expected, (
            f"{block.where} exited {done.returncode}, not {expected}:\n{block.text}\n"
            f"stdout: {done.stdout[-2000:]}\nstderr: {done.stderr[-3000:]}"
        )
