"""`tools/check_env_reads.py`, run by `make lint`: the environment is read only in `_env.py` (and
at the process's edges), and nothing outside `local/` touches a workspace's store."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("check_env_reads", ROOT / "tools/check_env_reads.py")
assert _spec is not None and _spec.loader is not None
checker = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(checker)


def tree(tmp_path: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    return tmp_path


def test_the_library_keeps_both_rules():
    assert checker.check(ROOT / "src" / "champion") == []


def test_an_environment_read_outside_env_is_refused(tmp_path):
    root = tree(
        tmp_path,
        {
            "_env.py": "import os\nWORKSPACE = os.environ.get('CHAMPION_WORKSPACE')\n",
            "gate.py": "import os\n\ndef f():\n    return os.environ.get('CHAMPION_BUILD')\n",
            "retry.py": "from os import getenv\n",
            "pipeline/local.py": "import os\nos.environ['CHAMPION_BACKEND'] = 'local'\n",
            "steps/register.py": "import os\n\ndef main():\n    return os.getenv('TF_BUILD')\n",
            "steps/helper.py": "import os\nBUILD = os.getenv('BUILD_BUILDNUMBER')\n",
        },
    )
    found = checker.check(root)
    assert [line.split(": ", 1)[0].rsplit("/", 1)[-1] for line in found] == [
        "gate.py:4",
        "retry.py:1",
        "helper.py:2",
    ], found
    assert "add the variable to champion._env" in found[0]


def test_the_store_is_touched_only_inside_local(tmp_path):
    root = tree(
        tmp_path,
        {
            "local/access.py": "def f(ws):\n    return ws._store\n",
            "context.py": "def f(ws):\n    return ws._store.transaction()\n",
        },
    )
    found = checker.check(root)
    assert len(found) == 1 and found[0].startswith(f"{root}/context.py:2: touches")


@pytest.mark.process
def test_importing_champion_imports_no_mlflow_unless_the_mlflow_backend_is_used():
    """A fresh process: every module a local or Azure user touches, and the local register
    path, leave mlflow unimported; only choosing the mlflow backend imports it."""
    import subprocess
    import sys

    code = (
        "import sys, champion, champion.gate, champion.context, champion.cli, champion.record, "
        "champion.steps.register, champion.steps.train, champion.pipeline.driver, "
        "champion.testing, champion.testing.mlflow\n"
        "from champion.context import get_registry\n"
        "assert not [m for m in sys.modules if m.split('.')[0] == 'mlflow'], 'imported'\n"
        "import champion.registry.mlflow\n"
        "assert 'mlflow' in sys.modules\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
