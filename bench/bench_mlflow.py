"""10. The register step on MLflow, beside the hand-written MLflow flow, on the same server.

One real `mlflow server` (SQLite store, local artifacts; `champion.testing.mlflow`) with an
`HttpEdge` in front that counts every REST request. Two flows make the same decisions on it,
each on a model of its own, alternating decision by decision:

- ours: `register_if_better` on the register step's MLflow run (`MLFLOW_RUN_ID`'s run), in
  process after a warm-up: the step's run and its pipeline run, the step runs, the files, the
  champion (alias), the upload, for a win `create_model_version` + the alias re-read, move and
  check, the decision record and the run's tags;
- hand-written: `_mlflow_worker.Registry.register_if_better` (bench/_mlflow_worker.py), the
  same decision as an MLflow user writes it (get_run, search_runs, search_model_versions,
  get_model_version_by_alias, log_artifact, create_model_version, set_registered_model_alias,
  log_text, set_tag x2), given the pipeline run's id directly.

Rows: REST calls per decision (first model, win, loss) for both, and the time per decision
(median over alternating wins); ours minus theirs is our overhead. Then the step's fresh-process
time (`python -m champion.steps.register`, spawn to exit, a win) beside a fresh process running
the hand-written flow once. MLflow runs in the project's venv here (`[dev]` installs it), not the
peer venv: both flows must talk to the one server through the one edge.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

from _common import BENCH, OUR_PYTHON, Row, child_env, progress

DECISIONS = (("first model", "0.9"), ("win", "0.95"), ("loss", "0.93"))
HAND_STEP = """
import sys, time
sys.path.insert(0, {bench!r})
import _mlflow_worker as w
from mlflow import MlflowClient
reg = w.Registry.__new__(w.Registry)
reg.client = MlflowClient({url!r}, {url!r})
reg.exp_id = {exp!r}
print(reg.register_if_better({parent!r}, {model!r}, "fresh")["outcome"])
"""


def _quiet() -> None:
    os.environ.update(
        {"MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "true", "CHAMPION_BACKEND": "mlflow"}
    )


def run(ctx: Any) -> None:
    _quiet()
    sys.path.insert(0, str(BENCH))
    from champion.testing.mlflow import HttpEdge, mlflow_server

    root = ctx.work / "mlflow-server"
    model = ctx.fixtures.model_file
    with mlflow_server(root) as server, HttpEdge(server.url) as edge:
        progress(f"mlflow server up at {server.url}")
        ctx.details["mlflow"] = _measure(ctx, edge, Path(model), root)


def _measure(ctx: Any, edge: Any, model: Path, root: Path) -> dict[str, Any]:
    import _mlflow_worker as hand_module
    from mlflow import MlflowClient

    from champion import Policy, RegisterRequest, register_if_better
    from champion.registry.mlflow import PARENT_TAG, MlflowRun, connect

    ws = connect(edge.url)
    client: Any = ws.client
    ours_exp = client.create_experiment("ours")
    hand = hand_module.Registry.__new__(hand_module.Registry)
    hand.client = MlflowClient(edge.url, edge.url)
    hand.exp_id = client.create_experiment("hand")

    def our_tree(accuracy: str) -> MlflowRun:
        parent = client.create_run(ours_exp, run_name="pipeline", tags={"accuracy": accuracy})
        link = {PARENT_TAG: parent.info.run_id}
        client.create_run(ours_exp, run_name="train", tags=link)
        return MlflowRun(ws, client.create_run(ours_exp, run_name="register", tags=link))

    def ours(accuracy: str, name: str = "iris-ours") -> tuple[int, float, Counter[str], str]:
        step = our_tree(accuracy)
        request = RegisterRequest(name, model, Policy(), build_number="bench")
        edge.clear()
        t0 = time.perf_counter()
        record = register_if_better(step, request)
        seconds = time.perf_counter() - t0
        calls = Counter(f"{m} {p.split('/mlflow/')[-1]}" for m, p in edge.requests)
        return len(edge.requests), seconds, calls, record.decision.outcome.value

    def theirs(accuracy: str) -> tuple[int, float, Counter[str], str]:
        parent = hand.new_run(accuracy)
        edge.clear()
        t0 = time.perf_counter()
        result = hand.register_if_better(parent, str(model), "bench")
        seconds = time.perf_counter() - t0
        calls = Counter(f"{m} {p.split('/mlflow/')[-1]}" for m, p in edge.requests)
        return len(edge.requests), seconds, calls, str(result["outcome"])

    found: dict[str, Any] = {}
    for label, accuracy in DECISIONS:
        ours_n, _, ours_calls, ours_outcome = ours(accuracy)
        hand_n, _, hand_calls, hand_outcome = theirs(accuracy)
        found[label] = {
            "ours": {"calls": ours_n, "by_call": dict(ours_calls), "outcome": ours_outcome},
            "hand": {"calls": hand_n, "by_call": dict(hand_calls), "outcome": hand_outcome},
        }
        progress(
            f"mlflow {label}: ours {ours_n} calls ({ours_outcome}), hand {hand_n} ({hand_outcome})"
        )
        ctx.add(
            Row(
                "mlflow",
                f"REST calls per decision: {label}",
                float(ours_n),
                "calls",
                theirs=float(hand_n),
                note="ours: " + ", ".join(f"{k} x{v}" for k, v in sorted(ours_calls.items())),
            )
        )

    reps = ctx.pick(15, 4)
    ours_times, hand_times = [], []
    for i in range(reps):  # alternating wins: every decision registers and moves the alias
        accuracy = f"{0.95 + (i + 1) * 1e-4:.4f}"
        ours_times.append(ours(accuracy)[1])
        hand_times.append(theirs(accuracy)[1])
    ours_ms = statistics.median(ours_times) * 1000
    hand_ms = statistics.median(hand_times) * 1000
    ctx.add(
        Row(
            "mlflow",
            "time per decision, a win, warm, same server (median)",
            ours_ms,
            "ms",
            theirs=hand_ms,
            note=f"our overhead {ours_ms - hand_ms:+.1f} ms per decision over {reps} wins each",
        )
    )

    fresh_reps = ctx.pick(5, 2)
    step_times, hand_fresh = [], []
    env = child_env(MLFLOW_TRACKING_URI=edge.url, CHAMPION_BACKEND="mlflow")
    for i in range(fresh_reps):
        accuracy = f"{0.99 + (i + 1) * 1e-4:.4f}"
        step = our_tree(accuracy)
        command = [str(OUR_PYTHON), "-m", "champion.steps.register", "--model-name", "iris-ours"]
        command += ["--model-path", str(model)]
        t0 = time.perf_counter()
        done = subprocess.run(
            command, env={**env, "MLFLOW_RUN_ID": step.id}, capture_output=True, text=True
        )
        step_times.append(time.perf_counter() - t0)
        if done.returncode != 0:
            raise RuntimeError(f"the step failed: {done.stderr[-2000:]}")
        parent = hand.new_run(accuracy)
        script = HAND_STEP.format(
            bench=str(BENCH), url=edge.url, exp=hand.exp_id, parent=parent, model=str(model)
        )
        t0 = time.perf_counter()
        done = subprocess.run(
            [str(OUR_PYTHON), "-c", script], env=env, capture_output=True, text=True
        )
        hand_fresh.append(time.perf_counter() - t0)
        if done.returncode != 0:
            raise RuntimeError(f"the hand-written flow failed: {done.stderr[-2000:]}")
    step_ms = statistics.median(step_times) * 1000
    hand_fresh_ms = statistics.median(hand_fresh) * 1000
    ctx.add(
        Row(
            "mlflow",
            "register step, fresh process, a win (spawn to exit, median)",
            step_ms,
            "ms",
            theirs=hand_fresh_ms,
            note=f"{fresh_reps} runs each; both import mlflow (most of the time)",
        )
    )
    return {
        "decisions": found,
        "warm_ms": {"ours": ours_times, "hand": hand_times},
        "fresh_s": {"ours": step_times, "hand": hand_fresh},
        "server_dir": str(root),
        "json": json.dumps({"ours_ms": ours_ms, "hand_ms": hand_ms}),
    }
