"""`--peer mlflow`: MLflow's tracking + model registry on SQLite, driven from its own venv.

`bench/.peer-venv` is created on first use (peer_venv.py). Every MLflow operation runs in that
interpreter, through `_mlflow_worker.py`: a long-lived `serve` process for in-process figures
(register flow, lookups) and fresh processes for start-up, memory, upload and concurrency.
Nothing of MLflow is imported here.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

from _common import BENCH, ChildResult, child_env, progress, run_child
from peer_venv import ensure_peer_venv, peer_version

WORKER = BENCH / "_mlflow_worker.py"


class PeerError(RuntimeError):
    pass


class MlflowPeer:
    name = "mlflow"

    def __init__(self, work: Path) -> None:
        self.python = ensure_peer_venv(log=progress)
        self.version = peer_version()
        self.work = work / "mlflow"
        self._server: subprocess.Popen[str] | None = None
        self._template: Path | None = None

    # ------------------------------------------------------------------ the serve process

    def _start(self) -> subprocess.Popen[str]:
        if self._server is None or self._server.poll() is not None:
            self._server = subprocess.Popen(
                [str(self.python), str(WORKER), "serve"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                text=True,
                env=child_env(),
            )
        return self._server

    def call(self, op: str, **args: Any) -> Any:
        server = self._start()
        assert server.stdin is not None and server.stdout is not None
        server.stdin.write(json.dumps({"op": op, **args}) + "\n")
        server.stdin.flush()
        while True:
            line = server.stdout.readline()
            if not line:
                raise PeerError(f"the MLflow worker exited during {op!r}")
            if line.startswith("@@RESULT "):
                reply = json.loads(line[len("@@RESULT ") :])
                if not reply["ok"]:
                    raise PeerError(f"MLflow {op} failed:\n{reply['error']}")
                return reply["result"]

    def close(self) -> None:
        if self._server is not None and self._server.poll() is None:
            assert self._server.stdin is not None
            try:
                self._server.stdin.write(json.dumps({"op": "quit"}) + "\n")
                self._server.stdin.flush()
                self._server.wait(timeout=30)
            except (OSError, subprocess.TimeoutExpired):
                self._server.kill()
                self._server.wait()
        self._server = None

    # ------------------------------------------------------------------ fresh processes

    def fresh(self, *args: str, timeout: float = 300) -> ChildResult:
        return run_child([str(self.python), str(WORKER), *args], env=child_env(), timeout=timeout)

    def fresh_popen(self, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [str(self.python), str(WORKER), *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=child_env(),
        )

    # ------------------------------------------------------------------ registries

    def registry(self, folder: Path, versions: int, model: Path) -> str:
        """An MLflow registry under `folder` holding `versions` versions; returns its db path.

        Creating MLflow's schema runs its migrations (seconds), so an empty registry is made
        once per session and copied; the copy gets its own artifact folder when opened."""
        if self._template is None:
            template = self.work / "template"
            template.mkdir(parents=True, exist_ok=True)
            progress("peer: creating MLflow's schema (once per session)")
            self.call("open", db=str(template / "mlflow.db"))
            self.call("close", db=str(template / "mlflow.db"))
            self._template = template / "mlflow.db"
        folder.mkdir(parents=True, exist_ok=True)
        db = folder / "mlflow.db"
        shutil.copyfile(self._template, db)
        self.call("open", db=str(db))
        if versions:
            self.call("populate", db=str(db), versions=versions, model=str(model))
        return str(db)
