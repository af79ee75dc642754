"""11. A team's registry: an `mlflow server` whose store is PostgreSQL, our gate beside MLflow's
hand-written flow on the same server, in one run.

The server: a throw-away PostgreSQL cluster (`champion.testing.postgres`, durable: fsync on, as
a real server has it) under `mlflow server --workers 2` with a local artifact folder
(`champion.testing.mlflow`). Everything runs in the project's venv (MLflow is in `[dev]`): both
flows talk to the one server.

Rows:

- **8 concurrent writers** (`_gate_worker.py --mlflow`: `register_if_better` on pipeline-shaped
  MLflow runs; `_mlflow_worker.py concurrent URL`: the hand-written flow), each running its flow
  `flows` times on a model of the trial's own that starts empty, released together by a
  barrier; accuracy rises with the wall clock, so most decisions are wins and the writers keep
  racing. Errors (raised decisions, dead writers), duplicates (a version reported twice, a run
  registered twice), lost updates (registered versions better than the version the `champion`
  alias holds at the end: wins the registry lost) and the decisions per second of all writers.
  Our registrations are out of order too (gates race; MLflow has no lock): what counts is that
  the alias ends on the best, which the note says for both.
- **time per decision, a win**, at 1,000 and at 10,000 versions: a model of each size for each
  flow, pre-filled by cloning the rows of a real registration in SQL (model versions and their
  tags, the alias; runs and artifacts are not needed by either flow's decision), then wins
  alternating between the four models, so all four see the same load. Growth: 10,000 / 1,000.
- **what the server costs per call**: the median of `get_model_version_by_alias` (one indexed
  read) and the REST calls each flow makes for a win, counted at an `HttpEdge`: calls x cost is
  most of either flow's time, which is what the ratio of the two comes from; and the median of
  `get_registered_model` at each size, whose answer lists every version of the model (what
  grows with the model: MLflow's client reads it before every alias move).
"""

from __future__ import annotations

import itertools
import os
import statistics
import subprocess
import time
from collections import Counter
from pathlib import Path
from typing import Any

from _common import BENCH, OUR_PYTHON, Row, child_env, collect, median, progress, release

WRITERS = 8
SIZES = (1_000, 10_000)
HAND = "_mlflow_worker.py"


def run(ctx: Any) -> None:
    os.environ.update({"MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "true"})
    from champion.testing.mlflow import mlflow_server
    from champion.testing.postgres import postgres_server

    root = ctx.work / "team"
    with postgres_server(durable=True) as pg:
        store = pg.create_database("mlflow")
        with mlflow_server(root / "mlflow", backend_store_uri=store, workers=2) as server:
            progress(f"team: mlflow server on PostgreSQL {pg.port} up at {server.url}")
            details: dict[str, Any] = {}
            details["concurrency"] = _concurrency(ctx, server.url, root)
            details["scale"] = _scale(ctx, server.url, pg.url("mlflow"), root)
            details["per_call"] = _per_call(ctx, server.url)
    ctx.details["team"] = details


# ---------------------------------------------------------------------- concurrency


def _audit(url: str, name: str) -> tuple[list[tuple[int, str, float]], int | None]:
    from mlflow import MlflowClient

    client = MlflowClient(url, url)
    found = client.search_model_versions(f"name='{name}'", max_results=10_000)
    versions = sorted(
        (int(mv.version), str(mv.run_id), float(mv.tags["accuracy"]))
        for mv in found
        if "accuracy" in (mv.tags or {})
    )
    try:
        alias = int(client.get_model_version_by_alias(name, "champion").version)
    except Exception:
        alias = None
    return versions, alias


def _trial(url: str, model: Path, folder: Path, name: str, flows: int, ours: bool) -> dict:
    barrier = folder / f"barrier-{name}"
    barrier.mkdir(parents=True)
    procs = []
    for worker in range(WRITERS):
        if ours:
            command = [str(OUR_PYTHON), str(BENCH / "_gate_worker.py"), "--mlflow", url]
            command += ["--name", name, "--model", str(model), "--flows", str(flows)]
            command += ["--barrier", str(barrier), "--worker", str(worker)]
        else:
            command = [str(OUR_PYTHON), str(BENCH / HAND), "concurrent", url, str(model)]
            command += [str(flows), str(barrier), str(worker), name]
        procs.append(
            subprocess.Popen(
                command,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                env=child_env(MLFLOW_TRACKING_URI=url, MLFLOW_DISABLE_TELEMETRY="true"),
            )
        )
    start = release(procs, barrier)
    reports, problems = collect(procs, timeout=1800)
    versions, alias = _audit(url, name)
    flows_done = [f for r in reports for f in r["flows"]]
    errors = [f["error"] for f in flows_done if "error" in f] + problems
    missing = WRITERS * flows - len(flows_done) - len(problems)
    reported = Counter(f.get("version") for f in flows_done if f.get("version") is not None)
    runs = Counter(run for _, run, _ in versions)
    duplicates = sum(c - 1 for c in reported.values() if c > 1)
    duplicates += sum(c - 1 for c in runs.values() if c > 1)
    held = next((a for v, _, a in versions if v == alias), None)
    lost = sum(1 for _, _, a in versions if held is None or a > held)
    out_of_order = sum(1 for a, b in itertools.pairwise(versions) if b[2] <= a[2])
    end = max((r["end"] for r in reports), default=start)
    done = len(flows_done) - sum(1 for f in flows_done if "error" in f)
    return {
        "decisions": len(flows_done),
        "errors": len(errors) + max(0, missing),
        "error_samples": sorted(set(errors))[:3],
        "duplicates": duplicates,
        "lost": lost,
        "best_held": held is not None and held == max(a for _, _, a in versions),
        "out_of_order": out_of_order,
        "registered": len(versions),
        "races": sum(1 for f in flows_done if f.get("race")),
        "repaired": sum(1 for f in flows_done if f.get("repaired")),
        "rate": done / (end - start) if end > start else 0.0,
    }


def _concurrency(ctx: Any, url: str, root: Path) -> dict[str, Any]:
    trials, flows = ctx.pick(3, 1), ctx.pick(20, 4)
    model = Path(ctx.fixtures.model_file)
    ours: list[dict[str, Any]] = []
    theirs: list[dict[str, Any]] = []
    for t in range(trials):
        order = [True, False] if t % 2 == 0 else [False, True]
        for is_ours in order:
            name = f"team-{'ours' if is_ours else 'hand'}-{t}"
            result = _trial(url, model, root / "concurrency", name, flows, is_ours)
            (ours if is_ours else theirs).append(result)
        progress(
            f"team 8 writers, trial {t + 1}/{trials}: ours {ours[-1]['errors']} errors, "
            f"{ours[-1]['lost']} lost, {ours[-1]['rate']:.1f}/s; mlflow {theirs[-1]['errors']} "
            f"errors, {theirs[-1]['lost']} lost, {theirs[-1]['rate']:.1f}/s"
        )
    decisions = WRITERS * flows * trials

    def total(results: list[dict[str, Any]], key: str) -> float:
        return float(sum(r[key] for r in results))

    samples = sorted({s for r in theirs for s in r["error_samples"]})[:1]
    ctx.add(
        Row(
            "team",
            f"MLflow on PostgreSQL, 8 writers: errors in {decisions} decisions",
            total(ours, "errors"),
            "errors",
            theirs=total(theirs, "errors"),
            target="0",
            met=total(ours, "errors") == 0,
            note=f"MLflow's hand-written flow: errors in {sum(1 for r in theirs if r['errors'])}"
            f" of {trials} trials" + (f", e.g. {samples[0][:160]}" if samples else ""),
        )
    )
    ctx.add(
        Row(
            "team",
            "MLflow on PostgreSQL, 8 writers: duplicates",
            total(ours, "duplicates"),
            "duplicates",
            theirs=total(theirs, "duplicates"),
            target="0",
            met=total(ours, "duplicates") == 0,
        )
    )
    ctx.add(
        Row(
            "team",
            "MLflow on PostgreSQL, 8 writers: lost updates (versions better than the champion)",
            total(ours, "lost"),
            "count",
            theirs=total(theirs, "lost"),
            target="0",
            met=total(ours, "lost") == 0,
            note=f"the alias ends on the best version: ours in "
            f"{sum(r['best_held'] for r in ours)} of {trials} trials, MLflow's in "
            f"{sum(r['best_held'] for r in theirs)}; registered out of order (a racing win "
            f"registered after a better one): ours {total(ours, 'out_of_order'):.0f}, MLflow's "
            f"{total(theirs, 'out_of_order'):.0f}; our gates saw {total(ours, 'races'):.0f} "
            f"races and moved the alias back {total(ours, 'repaired'):.0f} times",
        )
    )
    ctx.add(
        Row(
            "team",
            "MLflow on PostgreSQL, 8 writers: decisions per second, all writers",
            median([r["rate"] for r in ours]),
            "1/s",
            theirs=median([r["rate"] for r in theirs]),
            note=f"ours registered {total(ours, 'registered'):.0f} versions, MLflow's "
            f"{total(theirs, 'registered'):.0f}",
        )
    )
    return {"trials": trials, "flows_per_writer": flows, "ours": ours, "theirs": theirs}


# ---------------------------------------------------------------------- scale


def _scale(ctx: Any, url: str, database: str, root: Path) -> dict[str, Any]:
    import sys

    sys.path.insert(0, str(BENCH))
    import _mlflow_worker as hand_module

    from champion import Policy, RegisterRequest, register_if_better

    sizes = ctx.pick(SIZES, (100, 1_000))
    model = Path(ctx.fixtures.model_file)
    from _gate_worker import MlflowPipeline

    pipe = MlflowPipeline(url)

    def ours(name: str, accuracy: str) -> float:
        step = pipe.new_run(accuracy)
        request = RegisterRequest(name, model, Policy(), build_number="bench")
        t0 = time.perf_counter()
        record = register_if_better(step, request)
        seconds = time.perf_counter() - t0
        assert record.decision.promote, record.verdict
        return seconds

    hands = {}
    for size in sizes:
        hand = hand_module.Registry(url, name=f"team-hand-{size}")
        hands[size] = hand

    def theirs(size: int, accuracy: str) -> float:
        hand = hands[size]
        parent = hand.new_run(accuracy)
        t0 = time.perf_counter()
        result = hand.register_if_better(parent, str(model), "bench")
        seconds = time.perf_counter() - t0
        assert result["outcome"] in ("first", "promoted"), result
        return seconds

    filled: dict[str, Any] = {}
    for size in sizes:
        for i in range(1, 4):  # three real registrations: the rows the rest are cloned from
            ours(f"team-ours-{size}", f"{0.5 + i * 1e-5:.6f}")
            theirs(size, f"{0.5 + i * 1e-5:.6f}")
        t0 = time.perf_counter()
        _clone(database, f"team-ours-{size}", size)
        _clone(database, f"team-hand-{size}", size)
        filled[str(size)] = round(time.perf_counter() - t0, 2)
        progress(f"team: two models of {size:,} versions cloned in {filled[str(size)]} s")
    reps = ctx.pick(15, 4)
    times: dict[str, list[float]] = {f"{who}-{s}": [] for who in ("ours", "hand") for s in sizes}
    for i in range(reps):  # alternating: all four models see the same minutes of load
        accuracy = f"{0.7 + (i + 1) * 1e-4:.4f}"
        for size in sizes:
            times[f"ours-{size}"].append(ours(f"team-ours-{size}", accuracy))
            times[f"hand-{size}"].append(theirs(size, accuracy))
    small, large = sizes
    med = {key: median(values) * 1000 for key, values in times.items()}
    for size in sizes:
        ctx.add(
            Row(
                "team",
                f"MLflow on PostgreSQL: time per decision, a win, {size:,} versions (median)",
                med[f"ours-{size}"],
                "ms",
                theirs=med[f"hand-{size}"],
                note=f"{reps} wins each, alternating with the other size",
            )
        )
    growth_ours = med[f"ours-{large}"] / med[f"ours-{small}"]
    growth_hand = med[f"hand-{large}"] / med[f"hand-{small}"]
    ctx.add(
        Row(
            "team",
            f"MLflow on PostgreSQL: growth, {large:,} / {small:,} versions",
            growth_ours,
            "x",
            theirs=growth_hand,
            target="<= 1.5",
            met=growth_ours <= 1.5,
            note=f"ours {med[f'ours-{small}']:.0f} -> {med[f'ours-{large}']:.0f} ms; MLflow's "
            f"{med[f'hand-{small}']:.0f} -> {med[f'hand-{large}']:.0f} ms",
        )
    )
    return {"sizes": list(sizes), "reps": reps, "times_s": times, "fill_s": filled}


def _clone(database: str, name: str, upto: int) -> None:
    """Grow model `name` to `upto` versions by copying its newest version's rows (the version
    and its tags), each copy one step better than the last, and point the alias at the newest:
    a registry that got there through `upto` serial decisions, as far as a decision reads it."""
    import psycopg2

    dsn = database.replace("postgresql+psycopg2://", "postgresql://")
    conn = psycopg2.connect(dsn)
    try:
        with conn, conn.cursor() as cur:
            cur.execute("SELECT max(version) FROM model_versions WHERE name=%s", (name,))
            template = int(cur.fetchone()[0])
            cur.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_name=%s",
                ("model_versions",),
            )
            columns = [c for (c,) in cur.fetchall()]
            chosen = ", ".join(columns)
            picked = ", ".join(
                "g.v" if c == "version" else "mv.creation_time + g.v" if c in (
                    "creation_time", "last_updated_time") else f"mv.{c}"
                for c in columns
            )  # fmt: skip
            cur.execute(
                f"INSERT INTO model_versions ({chosen}) SELECT {picked} FROM model_versions mv, "
                "generate_series(%s, %s) AS g(v) WHERE mv.name=%s AND mv.version=%s",
                (template + 1, upto, name, template),
            )
            cur.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_name=%s",
                ("model_version_tags",),
            )
            columns = [c for (c,) in cur.fetchall()]
            chosen = ", ".join(columns)
            value = (
                "CASE t.key WHEN 'accuracy' THEN to_char(0.5 + g.v * 0.00001, 'FM0.000000') "
                "WHEN 'champion.previous_version' THEN (g.v - 1)::text "
                "WHEN 'champion.previous_metric' THEN "
                "to_char(0.5 + (g.v - 1) * 0.00001, 'FM0.000000') "
                "WHEN 'build_number' THEN 'clone.' || g.v ELSE t.value END"
            )
            picked = ", ".join(
                "g.v" if c == "version" else value if c == "value" else f"t.{c}" for c in columns
            )
            cur.execute(
                f"INSERT INTO model_version_tags ({chosen}) SELECT {picked} FROM "
                "model_version_tags t, generate_series(%s, %s) AS g(v) "
                "WHERE t.name=%s AND t.version=%s",
                (template + 1, upto, name, template),
            )
            cur.execute(
                "UPDATE registered_model_aliases SET version=%s WHERE name=%s AND alias=%s",
                (upto, name, "champion"),
            )
            cur.execute("ANALYZE model_versions")
            cur.execute("ANALYZE model_version_tags")
    finally:
        conn.close()


# ---------------------------------------------------------------------- per call


def _per_call(ctx: Any, url: str) -> dict[str, Any]:
    import sys

    sys.path.insert(0, str(BENCH))
    import _mlflow_worker as hand_module
    from mlflow import MlflowClient

    from champion import Policy, RegisterRequest, register_if_better
    from champion.testing.mlflow import HttpEdge

    model = Path(ctx.fixtures.model_file)
    client = MlflowClient(url, url)
    sizes = ctx.pick(SIZES, (100, 1_000))
    name = f"team-ours-{sizes[0]}"

    def timed(call: Any) -> float:
        call()
        samples = []
        for _ in range(ctx.pick(50, 10)):
            t0 = time.perf_counter()
            call()
            samples.append(time.perf_counter() - t0)
        return statistics.median(samples) * 1000

    per_call = timed(lambda: client.get_model_version_by_alias(name, "champion"))
    whole = {
        size: timed(lambda size=size: client.get_registered_model(f"team-ours-{size}"))
        for size in sizes
    }
    calls: dict[str, int] = {}
    with HttpEdge(url) as edge:
        from _gate_worker import MlflowPipeline

        pipe = MlflowPipeline(edge.url)
        step = pipe.new_run("0.9")
        edge.clear()
        register_if_better(step, RegisterRequest(name, model, Policy(), build_number="calls"))
        calls["ours"] = len(edge.requests)
        hand = hand_module.Registry(edge.url, name=f"team-hand-{ctx.pick(SIZES, (100, 1_000))[0]}")
        parent = hand.new_run("0.9")
        edge.clear()
        hand.register_if_better(parent, str(model), "calls")
        calls["hand"] = len(edge.requests)
    ctx.add(
        Row(
            "team",
            "MLflow on PostgreSQL: REST calls per decision, a win",
            float(calls["ours"]),
            "calls",
            theirs=float(calls["hand"]),
            note=f"one call to MLflow's server costs {per_call:.1f} ms here (median of "
            f"get_model_version_by_alias, a one-row read): calls x that is most of either "
            f"flow's time",
        )
    )
    ctx.add(
        Row(
            "team",
            "MLflow on PostgreSQL: one server call, get_model_version_by_alias (median)",
            per_call,
            "ms",
            note="get_registered_model, whose answer lists every version: "
            + ", ".join(f"{whole[s]:.0f} ms at {s:,} versions" for s in sizes)
            + "; MLflow's client makes one before every alias move (its prompt check), most "
            "of the hand-written flow's growth; our gate makes none on a win",
        )
    )
    return {"per_call_ms": per_call, "get_registered_model_ms": whole, "calls": calls}
