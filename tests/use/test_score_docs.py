"""docs/how-to/score.md, done as a reader does it: every ```sh and ```python block of the page,
in order, in a fresh folder holding the checkout's sample pipeline and data, with the installed
`champion`. Each command must succeed, and each output the page shows after a block must be
what that block printed (so the page and the command cannot drift apart)."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "docs" / "how-to" / "score.md"
BIN = Path(sys.executable).parent
TIMEOUT_S = 600


def blocks() -> list[tuple[str, str]]:
    """(language, text) of every fenced block of the page, in order ('' for a plain one)."""
    return re.findall(r"^```(\w*)\n(.*?)^```", PAGE.read_text(), re.S | re.M)


def shown_lines(text: str) -> list[str]:
    """An output block's lines as patterns: `<run>` stands for a run id, `<workspace>` for a
    path."""
    return [
        re.escape(line)
        .replace(re.escape("<run>"), r"[0-9a-f-]+")
        .replace(re.escape("<workspace>"), r"/\S+")
        for line in text.splitlines()
    ]


@pytest.mark.slow
def test_every_example_of_the_score_page_runs(tmp_path: Path) -> None:
    for folder in ("pipelines", "steps", "sample_data"):
        shutil.copytree(ROOT / folder, tmp_path / folder)
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("CHAMPION_", "AZUREML_", "MLFLOW_")) and k != "TF_BUILD"
    }
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"  # `champion` and `python`: the venv's
    printed = ""
    ran = 0
    for language, text in blocks():
        if language == "" and printed:
            for pattern in shown_lines(text):
                assert re.search(pattern, printed), (pattern, printed)
            continue
        if language == "python":
            argv = [[sys.executable, "-c", text]]
        elif language == "sh":
            argv = []
            for line in text.splitlines():
                command = line.split("  #")[0].strip()
                if command.startswith("export "):
                    name, _, value = command.removeprefix("export ").partition("=")
                    env[name] = value
                elif command:
                    argv.append(shlex.split(command))
        else:
            continue
        printed = ""
        for args in argv:
            done = subprocess.run(
                args, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=TIMEOUT_S
            )
            assert done.returncode == 0, (args, done.stdout[-2000:], done.stderr[-2000:])
            printed += done.stdout
            ran += 1
    assert ran >= 7  # the page's examples were found and run
    assert (tmp_path / "predictions.csv").is_file() and (tmp_path / "flowers.csv").is_file()
