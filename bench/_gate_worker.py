"""One concurrent writer for bench_concurrency: a process that runs the full register flow
`--flows` times against a shared local workspace, starting at `--start-at` (time.time()), and
prints one JSON line with what each flow did. Challengers' accuracy rises with the wall clock,
so most decisions are wins and every writer keeps contending for the next version number.

Runs in the project's venv:
    python bench/_gate_worker.py --ws W --model M --flows N --barrier DIR --worker I
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


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--ws", required=True, type=Path)
    parser.add_argument("--model", required=True, type=Path)
    parser.add_argument("--flows", type=int, required=True)
    parser.add_argument("--barrier", required=True)
    parser.add_argument("--worker", type=int, default=0)
    args = parser.parse_args()

    from fixtures import MODEL, Pipeline

    from champion.decision import Policy
    from champion.gate import RegisterRequest, register_if_better

    pipe = Pipeline(args.ws)
    request = RegisterRequest(MODEL, args.model, Policy("accuracy"), model_framework="ScikitLearn")
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
