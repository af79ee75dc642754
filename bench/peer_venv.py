"""The MLflow peer's own interpreter: `bench/.peer-venv`, created with `python -m venv` and
`pip install mlflow` on first use. Nothing of MLflow is ever imported into the project's venv:
the peer runs in that interpreter, as subprocesses (see peer_mlflow.py / _mlflow_worker.py).

    .venv/bin/python bench/peer_venv.py          # create or check it, print the MLflow version
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
PEER_VENV = BENCH / ".peer-venv"
PEER_PYTHON = PEER_VENV / "bin" / "python"
STAMP = PEER_VENV / ".installed-stamp"
# Override with MLFLOW_SPEC="mlflow==3.17.0" to compare against a given release.
MLFLOW_SPEC = os.environ.get("MLFLOW_SPEC", "mlflow")


class PeerUnavailable(RuntimeError):
    """The peer interpreter could not be created; the message carries pip's own words."""


def ensure_peer_venv(log=print) -> Path:
    """Return the peer interpreter, creating it (minutes, once) if needed."""
    if STAMP.exists() and PEER_PYTHON.exists():
        return PEER_PYTHON
    started = time.perf_counter()
    log(f"[peer] creating {PEER_VENV} and installing {MLFLOW_SPEC!r} (first use; a few minutes)")
    if not PEER_PYTHON.exists():
        _run([sys.executable, "-m", "venv", str(PEER_VENV)], "python -m venv")
    _run(
        [str(PEER_PYTHON), "-m", "pip", "install", "--quiet", "--upgrade", "pip"],
        "pip install --upgrade pip",
    )
    _run(
        [str(PEER_PYTHON), "-m", "pip", "install", "--quiet", MLFLOW_SPEC],
        f"pip install {MLFLOW_SPEC}",
    )
    STAMP.write_text(MLFLOW_SPEC + "\n")
    log(f"[peer] installed in {time.perf_counter() - started:.0f} s: mlflow {peer_version()}")
    return PEER_PYTHON


def peer_version() -> str:
    out = subprocess.run(
        [
            str(PEER_PYTHON),
            "-c",
            "from importlib.metadata import version; print(version('mlflow'))",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    return out.stdout.strip() or "unknown"


def _run(cmd: list[str], what: str) -> None:
    result = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        tail = "\n".join((result.stdout + result.stderr).strip().splitlines()[-25:])
        raise PeerUnavailable(f"{what} failed (exit {result.returncode}):\n{tail}")


if __name__ == "__main__":
    try:
        ensure_peer_venv()
    except PeerUnavailable as exc:
        print(exc, file=sys.stderr)
        sys.exit(1)
    print(f"mlflow {peer_version()} in {PEER_VENV}")
