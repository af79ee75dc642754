"""Using the champion: batch scoring latency, scikit-learn vs onnxruntime, and the score path's
memory on a large CSV.

    .venv/bin/python bench/run.py --only scoring      # with the other rows' header and JSON
    .venv/bin/python bench/bench_scoring.py [--quick] # alone

1. Latency. The sample pipeline's model: the train step's pick on sample_data/iris.csv (seed 42,
   k-nearest neighbours), and for a second model type the pick on iris_clean.csv (a decision
   tree). Each is converted with `champion.onnx_convert.to_onnx` (float32 input, no ZipMap) and
   asked for the labels of the same rows by `model.predict(frame)` and by an onnxruntime
   session's `run` (the session built once, outside the timing; the frame's float32 array is
   built inside it, as a scorer has to). Batches: the 150 sample rows, and the sample repeated
   to 150,000 rows. Median of repeated calls after a warm-up, in this process.
2. Memory. A fresh process scores a CSV with `champion.scoring.score_chunks` (10,000-row
   chunks, predictions written as it goes); its peak RSS (VmHWM, read by the child itself: wait4's
   figure would include the pages of this parent, which it was forked from), for 150,000 and
   1,500,000 rows (about 5 and 50 MiB of CSV). Flat means the ten-times-larger file costs
   (almost) no more.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import OUR_PYTHON, ROOT, Row, Stats, child_env, progress, run_child, timed

SAMPLE = ROOT / "sample_data"
FEATURES = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
BIG_ROWS = 150_000
RSS_GROWTH_LIMIT = 1.25  # the 10x file may cost at most 25% more peak memory

SCORE_CHILD = """
import sys
from pathlib import Path
import joblib
from champion.scoring import read_csv_chunks, score_chunks
model = joblib.load(sys.argv[1])
summary = score_chunks(model, read_csv_chunks(Path(sys.argv[2]), 10_000), Path(sys.argv[3]),
                       where="bench.csv")
status = Path("/proc/self/status").read_text().splitlines()
peak_kib = next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
print(summary.rows, peak_kib)
"""


def sample_model(data: str) -> Any:
    """What the sample's train step registers when trained on `data`."""
    from champion.steps.train import load_dataset, train_candidates

    X, y = load_dataset(SAMPLE / data)
    return train_candidates(X, y, seed=42)[0][1]


def latency(ctx: Any, label: str, model: Any, rows: int, reps: int) -> None:
    import numpy as np
    import onnxruntime
    import pandas as pd

    from champion.onnx_convert import INPUT_NAME, to_onnx

    base = pd.read_csv(SAMPLE / "iris.csv")[FEATURES]
    frame = pd.concat([base] * max(1, rows // len(base)), ignore_index=True)
    session = onnxruntime.InferenceSession(
        to_onnx(model, len(FEATURES)), providers=["CPUExecutionProvider"]
    )

    def with_onnx() -> Any:
        return session.run(None, {INPUT_NAME: frame.to_numpy(dtype=np.float32)})[0]

    same = [str(x) for x in with_onnx()] == [str(x) for x in model.predict(frame)]
    sk: list[float] = []
    ox: list[float] = []
    for _ in range(reps):  # alternate, so both see the same machine load
        sk += timed(lambda: model.predict(frame), 1, warmup=0 if sk else 1)
        ox += timed(with_onnx, 1, warmup=0 if ox else 1)
    sk_stats, ox_stats = Stats.of(sk), Stats.of(ox)
    speedup = sk_stats.median_ms / ox_stats.median_ms
    name = f"{label}, {len(frame):,} rows"
    ctx.add(Row("scoring", f"{name}: scikit-learn predict", sk_stats.median_ms, "ms",
                detail=sk_stats.__dict__))  # fmt: skip
    ctx.add(
        Row(
            "scoring",
            f"{name}: onnxruntime run",
            ox_stats.median_ms,
            "ms",
            note=f"{speedup:.1f}x scikit-learn's speed; same labels: {same}",
            detail=ox_stats.__dict__,
        )
    )
    progress(
        f"{name}: sklearn {sk_stats.median_ms:.3f} ms, onnxruntime {ox_stats.median_ms:.3f} ms"
    )


def memory(ctx: Any, work: Path, model: Any, sizes: list[int]) -> None:
    import joblib
    import pandas as pd

    work.mkdir(parents=True, exist_ok=True)
    model_file = work / "model.pkl"
    joblib.dump(model, model_file)
    base = pd.read_csv(SAMPLE / "iris.csv")
    peaks = {}
    for rows in sizes:
        data = work / f"rows-{rows}.csv"
        pd.concat([base] * (rows // len(base)), ignore_index=True).to_csv(data, index=False)
        done = run_child(
            [str(OUR_PYTHON), "-c", SCORE_CHILD, str(model_file), str(data), str(work / "out")],
            env=child_env(),
            timeout=1800,
        ).check(f"scoring {rows} rows")
        scored, peak_kib = (int(x) for x in done.stdout.split())
        assert scored == rows
        peaks[rows] = round(peak_kib / 1024, 1)
        size = data.stat().st_size / 1024 / 1024
        progress(f"score_chunks {rows:,} rows ({size:.0f} MiB): peak RSS {peaks[rows]} MiB")
        data.unlink()
    small, large = sizes[0], sizes[-1]
    growth = peaks[large] / peaks[small]
    ctx.add(
        Row(
            "scoring",
            f"score step's scoring, peak RSS at {small:,} / {large:,} rows",
            peaks[large],
            "MiB",
            target=f"<= {RSS_GROWTH_LIMIT}x for 10x the rows",
            met=growth <= RSS_GROWTH_LIMIT,
            note=f"{peaks[small]} MiB -> {peaks[large]} MiB ({growth:.2f}x)",
            detail={"peak_rss_mib": peaks},
        )
    )


def run(ctx: Any) -> None:
    reps = ctx.pick(30, 5)
    knn, tree = sample_model("iris.csv"), sample_model("iris_clean.csv")
    for label, model in (
        (f"sample model ({type(knn).__name__})", knn),
        (f"iris_clean model ({type(tree).__name__})", tree),
    ):
        for rows in (150, ctx.pick(BIG_ROWS, 15_000)):
            latency(ctx, label, model, rows, reps)
    sizes = [ctx.pick(BIG_ROWS, 15_000), ctx.pick(BIG_ROWS * 10, 150_000)]
    memory(ctx, ctx.work / "scoring", knn, sizes)


def main(argv: list[str]) -> int:
    import tempfile

    from _common import machine_info, render_table

    class Alone:
        def __init__(self, quick: bool, work: Path) -> None:
            self.quick, self.work, self.rows = quick, work, []

        def pick(self, default: Any, quick: Any) -> Any:
            return quick if self.quick else default

        def add(self, row: Row) -> Row:
            self.rows.append(row)
            return row

    with tempfile.TemporaryDirectory(prefix="champion-bench-scoring-") as tmp:
        ctx = Alone("--quick" in argv, Path(tmp))
        started = time.perf_counter()
        run(ctx)
    machine = machine_info()
    print(
        f"champion scoring benchmark, {machine['date']}, {machine['nproc']} x {machine['cpu']}, "
        f"Python {machine['python']}, commit {machine['commit']}, "
        f"{time.perf_counter() - started:.0f} s"
    )
    print(render_table(ctx.rows, None))
    for row in ctx.rows:
        print(f"  {row.name}: {row.note}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
