"""One concurrent writer for bench_concurrency and bench_team: a process that runs the full
register flow `--flows` times against a shared local workspace (or, with `--mlflow URL`, an
MLflow server's registry, model `--name`), starting when the barrier opens, and prints one JSON
line with what each flow did. Challengers' accuracy rises with the wall clock, so most
decisions are wins and every writer keeps contending for the next version number.

Runs in the project's venv:
    python bench/_gate_worker.py --ws W --model M --flows N --barrier DIR --worker I
    python bench/_gate_worker.py --mlflow URL --name NAME --model M --flows N --barrier DIR ...
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
import traceback
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))


def wait_for_go(barrier: str, worker: str) -> float:
    """Say ready (a file), then wait for the `go` file; return the start time it holds."""
    Path(barrier, f"ready-{worker}").write_text("ready")
    go = Path(barrier, "go")
    while True:
        try:
            text = go.read_text().strip()
            if text:
                return float(text)
        except FileNotFoundError:
            pass
        time.sleep(0.0005)


class MlflowPipeline:
    """Pipeline-shaped runs on an MLflow server: a parent tagged with the accuracy, a `train`
    child and the `register` step's own run, as the MLflow pipeline runner makes them."""

    def __init__(self, url: str) -> None:
        import os

        os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
        from champion.registry.mlflow import connect

        self.ws = connect(url)
        client = self.ws.client
        found = client.get_experiment_by_name("team-bench")
        if found is None:
            try:
                self.experiment = client.create_experiment("team-bench")
            except Exception:  # another writer created it
                self.experiment = client.get_experiment_by_name("team-bench").experiment_id
        else:
            self.experiment = found.experiment_id

    def new_run(self, accuracy: str):  # type: ignore[no-untyped-def]
        from champion.registry.mlflow import PARENT_TAG, MlflowRun

        client = self.ws.client
        tags = {"accuracy": accuracy, "best_model": "SVC"}
        parent = client.create_run(self.experiment, run_name="pipeline", tags=tags)
        link = {PARENT_TAG: parent.info.run_id}
        client.create_run(self.experiment, run_name="train", tags=link)
        return MlflowRun(
            self.ws, client.create_run(self.experiment, run_name="register", tags=link)
        )


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--ws", type=Path)
    parser.add_argument("--mlflow", help="an MLflow tracking server's URL instead of --ws")
    parser.add_argument("--name", default="iris", help="the model name on --mlflow")
    parser.add_argument("--model", required=True, type=Path)
    parser.add_argument("--flows", type=int, required=True)
    parser.add_argument("--barrier", required=True)
    parser.add_argument("--worker", type=int, default=0)
    args = parser.parse_args()

    from fixtures import MODEL, Pipeline

    from champion.decision import Policy
    from champion.gate import RegisterRequest, register_if_better

    pipe = Pipeline(args.ws) if args.mlflow is None else MlflowPipeline(args.mlflow)
    name = MODEL if args.mlflow is None else args.name
    request = RegisterRequest(name, args.model, Policy("accuracy"), model_framework="ScikitLearn")
    results = []
    start_at = wait_for_go(args.barrier, str(args.worker))
    begin = time.time()
    for i in range(args.flows):
        accuracy = f"{0.6 + (time.time() - start_at) / 1000:.9f}"
        entry: dict[str, object] = {"accuracy": accuracy}
        t0 = time.perf_counter()
        try:
            step = pipe.new_run(accuracy)
            req = dataclasses.replace(request, build_number=f"w{args.worker}.{i}")
            record = register_if_better(step, req)
            entry.update(
                outcome=record.decision.outcome.value,
                version=record.registered_version,
                race=record.race_detected,
                repaired=bool(record.race and record.race.get("repairs")),
                parent=step.parent.id,
            )
        except Exception as exc:
            entry.update(error=f"{type(exc).__name__}: {exc}", tb=traceback.format_exc()[-800:])
        entry["seconds"] = time.perf_counter() - t0
        results.append(entry)
    end = time.time()
    print(json.dumps({"worker": args.worker, "begin": begin, "end": end, "flows": results}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
