"""Starting a submitted pipeline run on this machine, and knowing whether it still runs.

Why a process of its own: on Azure ML `Pipeline.submit` returns at once and the pipeline runs
on compute, whatever the submitting script does next (waits, cancels, exits). Locally the
compute is a runner process (`python -m champion.pipeline.submitted WORKSPACE RUN_ID`),
started in a session of its own so that the script's end or Ctrl-C does not end it, executing
the plan kept in `pipelines/plans/<run id>.json`; its console goes to
`pipelines/runners/<run id>.log`. The local workspace names the runner only by module name, as
the service names a compute: it imports nothing of the runner.

A runner that died (killed, out of memory) would leave its pipeline run Running for ever, and
`wait_for_completion()` with it. So its process is recorded on the run (pid, the kernel's start
time of that pid, host: `champion.local.store.processes`), and a pipeline run still Running
whose runner no longer runs is marked Failed the next time it is read, with the runner's log
named: every wait ends.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

from champion import _env
from champion.local.mock.pipeline_store import PipelineDocuments
from champion.local.plan import Plan
from champion.local.store import Store
from champion.local.store.processes import host_name, is_running, process_token

__all__ = ["RUNNER_MODULE", "RUNNER_PROPERTY", "Runners"]

RUNNER_MODULE = "champion.pipeline.submitted"
RUNNER_PROPERTY = "champion.runner"
_TERMINAL = ("Completed", "Failed", "Canceled")


class Runners:
    """The runner processes this session started, and the check on any run's runner."""

    def __init__(self, store: Store, documents: PipelineDocuments) -> None:
        self.store = store
        self.documents = documents
        self._started: list[subprocess.Popen[bytes]] = []
        self._lock = threading.Lock()

    def start(self, run_id: str, plan: Plan) -> None:
        """Keep the plan and start its runner. A runner that cannot start fails the run."""
        self.documents.put("plans", run_id, json.loads(plan.to_json()))
        log = self.log_path(run_id)
        log.parent.mkdir(parents=True, exist_ok=True)
        command = [sys.executable, "-m", RUNNER_MODULE, str(self.store.root), run_id]
        try:
            with open(log, "ab") as output:
                process = subprocess.Popen(
                    command,
                    stdin=subprocess.DEVNULL,
                    stdout=output,
                    stderr=subprocess.STDOUT,
                    env=_env.inherited(),
                    start_new_session=True,
                )
        except OSError as exc:
            self.store.update_run(
                run_id,
                status="Failed",
                error={"message": f"the local runner could not start: {exc}", "code": "System"},
            )
            raise
        runner = {"pid": process.pid, "token": process_token(process.pid), "host": host_name()}
        self.store.update_run(run_id, add_properties={RUNNER_PROPERTY: json.dumps(runner)})
        with self._lock:
            self._started.append(process)
        self.reap()

    def log_path(self, run_id: str) -> Path:
        return self.documents.root / "runners" / f"{run_id}.log"

    def reap(self) -> None:
        """Collect the runners of this session that ended (no zombies left behind)."""
        with self._lock:
            self._started = [p for p in self._started if p.poll() is None]

    def check(self, run_id: str) -> None:
        """Fail a pipeline run that is not finished although its runner no longer runs."""
        self.reap()
        record = self.store.get_run(run_id)
        if record is None or record.status in _TERMINAL:
            return
        runner = _runner_of(record.properties)
        if runner is None or is_running(runner["pid"], runner["token"], runner["host"]):
            return
        again = self.store.get_run(run_id)  # it may have finished between the two reads
        if again is None or again.status in _TERMINAL:
            return
        self.store.update_run(
            run_id,
            status="Failed",
            error={
                "message": f"the local runner of this pipeline run (pid {runner['pid']}) ended "
                f"without finishing it; its log: {self.log_path(run_id)}",
                "code": "SystemError",
            },
        )
        for child in self.store.list_children(run_id):
            if child.status not in _TERMINAL:
                self.store.update_run(child.run_id, status="Failed")


def _runner_of(properties: dict[str, Any]) -> dict[str, Any] | None:
    text = properties.get(RUNNER_PROPERTY)
    if not text:
        return None
    try:
        runner = json.loads(str(text))
        return {"pid": int(runner["pid"]), "token": runner.get("token"), "host": runner["host"]}
    except (ValueError, KeyError, TypeError):
        return None
