"""Profile the register flow (or a lookup) on a registry of N versions: where does the time go?

    .venv/bin/python bench/profile_gate.py --versions 10000 --flows 100
    .venv/bin/python bench/profile_gate.py --versions 10000 --flows 100 --no-fsync   # CPU only
    .venv/bin/python bench/profile_gate.py --versions 10000 --tag-search

Prints the SQL statements by total time per flow (through a timing proxy on the store's
connection), the fsync/commit counts per flow, and cProfile's top functions by own time.
`--no-fsync` turns fsync and SQLite's synchronous off for the profiled part, so growth in CPU
and SQL work is not hidden by disk latency. Nothing here is part of `make bench`.
"""

from __future__ import annotations

import argparse
import collections
import cProfile
import dataclasses
import io
import os
import pstats
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from fixtures import MODEL, Pipeline, build_number_of, populate, write_model


class TimedConnection:
    """Wraps a sqlite3.Connection: time and count per statement (whitespace-normalised)."""

    def __init__(self, conn: Any) -> None:
        self._conn = conn
        self.seconds: collections.Counter[str] = collections.Counter()
        self.calls: collections.Counter[str] = collections.Counter()

    def _timed(self, method: str, sql: str, *args: Any) -> Any:
        key = " ".join(sql.split())[:160]
        start = time.perf_counter()
        try:
            return getattr(self._conn, method)(sql, *args)
        finally:
            self.seconds[key] += time.perf_counter() - start
            self.calls[key] += 1

    def execute(self, sql: str, *args: Any) -> Any:
        return self._timed("execute", sql, *args)

    def executemany(self, sql: str, *args: Any) -> Any:
        return self._timed("executemany", sql, *args)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._conn, name)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--versions", type=int, default=10000)
    parser.add_argument("--flows", type=int, default=100)
    parser.add_argument("--no-fsync", action="store_true")
    parser.add_argument("--tag-search", action="store_true", help="profile Model.list(tags=...)")
    parser.add_argument("--top", type=int, default=15)
    args = parser.parse_args()

    from champion.decision import Policy
    from champion.gate import RegisterRequest, register_if_better
    from champion.local import Model

    root = Path(tempfile.mkdtemp(prefix="champion-profile-"))
    try:
        model = write_model(root / "model")
        if args.versions:
            print(f"populating {args.versions:,} versions...", file=sys.stderr)
            populate(root / "ws", args.versions, model_file=model)
        pipe = Pipeline(root / "ws")
        store = pipe.ws._store
        request = RegisterRequest(
            model_name=MODEL, model_path=model, policy=Policy("accuracy"), build_number="p"
        )
        # one untimed flow first: imports, caches (and the first model's ModelNotFound path)
        register_if_better(pipe.new_run("0.7"), request)
        with store.transaction():
            steps = [pipe.new_run(f"{0.7 + (i + 1) * 1e-5:.6f}") for i in range(args.flows)]
        fsyncs = collections.Counter()
        real_fsync = os.fsync
        if args.no_fsync:
            os.fsync = lambda fd: None  # type: ignore[assignment]
            store._conn.execute("PRAGMA synchronous=OFF")
        else:

            def counting_fsync(fd: int) -> None:
                fsyncs["fsync"] += 1
                real_fsync(fd)

            os.fsync = counting_fsync  # type: ignore[assignment]
        timed = TimedConnection(store._conn)
        store._conn = timed  # type: ignore[assignment]
        profiler = cProfile.Profile()
        n = args.flows
        start = time.perf_counter()
        profiler.enable()
        if args.tag_search:
            for i in range(n):
                Model.list(pipe.ws, tags=[["build_number", build_number_of(1 + i % 100)]])
        else:
            for i, step in enumerate(steps):
                register_if_better(step, dataclasses.replace(request, build_number=str(i)))
        profiler.disable()
        elapsed = time.perf_counter() - start
        os.fsync = real_fsync
        what = "tag search" if args.tag_search else "register flow"
        print(f"{what} at {args.versions:,} versions: {elapsed / n * 1000:.2f} ms each ({n} runs)")
        commits = sum(v for k, v in timed.calls.items() if k == "COMMIT")
        print(
            f"per run: {sum(timed.calls.values()) / n:.1f} SQL statements, {commits / n:.1f} "
            f"commits (one fsync of the WAL each, plus SQLite's periodic checkpoint), "
            f"{fsyncs['fsync'] / n:.1f} other fsyncs (blob files and folders)"
            + (" (fsync disabled)" if args.no_fsync else "")
        )
        print(f"\nSQL by time per run ({sum(timed.seconds.values()) / n * 1000:.2f} ms in all):")
        for sql, seconds in timed.seconds.most_common(args.top // 2):
            print(f"  {seconds / n * 1000:8.3f} ms  x{timed.calls[sql] / n:<4.1f} {sql}")
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(args.top)
        print("\n" + out.getvalue().split("\n", 4)[-1].strip())
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
