"""A command that needs an optional extra this installation lacks says so in one line, exit 3,
with a `pip install` line that works for the way champion was installed; nothing is written.

`--backend mlflow` without the [mlflow] extra ended in "internal error: ModuleNotFoundError ...
(a bug in champion)", exit 1; the other extras named `pip install 'champion[...]'`, a package no
index has yet. Each command runs as a process in which the extra's modules cannot be imported
(`sys.modules[name] = None`, which is how Python itself reports a module that is not there)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from cli_helpers import clean_env

from champion._extras import install_command
from champion.local import Workspace

ROOT = Path(__file__).resolve().parents[2]
HIDE = "import sys\nfor name in {hidden!r}: sys.modules[name] = None\n"
MAIN = "from champion.cli import main\nraise SystemExit(main(sys.argv[1:]))\n"

CASES = [
    ("mlflow", ["mlflow"], ["models", "list", "--backend", "mlflow"], "--backend mlflow"),
    ("serve", ["azureml_inference_server_http"], ["serve", "iris"], "champion serve"),
    (
        "onnx",
        ["skl2onnx", "onnxruntime", "onnx"],
        ["models", "convert-onnx", "iris", "--sample", str(ROOT / "sample_data/iris.csv")],
        "converting to ONNX",
    ),
    ("plot", ["matplotlib"], ["models", "history", "iris", "--plot", "h.png"], "--plot"),
]


@pytest.mark.parametrize(("extra", "hidden", "args", "needs"), CASES, ids=[c[0] for c in CASES])
def test_a_missing_extra_is_one_line_with_a_true_install_command(
    tmp_path: Path, extra: str, hidden: list[str], args: list[str], needs: str
) -> None:
    ws = Workspace.create(str(tmp_path / "ws"))
    (tmp_path / "mlflow.db").touch()
    env = clean_env(
        CHAMPION_WORKSPACE=str(ws.path), MLFLOW_TRACKING_URI=f"sqlite:///{tmp_path}/mlflow.db"
    )
    before = sorted(tmp_path.rglob("*"))
    done = subprocess.run(
        [sys.executable, "-c", HIDE.format(hidden=hidden) + MAIN, *args],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 3, done.stdout + done.stderr
    lines = [line for line in done.stderr.splitlines() if not line.startswith("champion: work")]
    (line,) = lines
    assert line.startswith("champion: error [")
    assert f"{needs}" in line and f"champion's [{extra}] extra" in line
    assert f"`{install_command(extra)}`" in line  # this installation's own line
    assert "internal error" not in line
    assert sorted(tmp_path.rglob("*")) == before
