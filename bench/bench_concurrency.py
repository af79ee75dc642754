"""5. Concurrency: 2 and 8 processes registering one model at once.

Each writer is a process (_gate_worker.py; MLflow: _mlflow_worker.py concurrent) that runs the
full register flow `flows` times on ONE shared registry that starts empty (schema created, no
versions), so the first decisions race for "no champion yet". All writers are released together
through a barrier once every one of them has imported and opened the registry. Challengers'
accuracy rises with the wall clock, so most decisions are wins and writers keep contending.

Counted per trial, then summed over trials:
- errors: decisions that raised, plus writers that died or printed nothing;
- duplicates: a version number reported by two decisions, or one pipeline run registered twice;
- lost updates: a version not better than the version before it, or a final champion (ours:
  latest version; MLflow: the `champion` alias) that is not the best registered version;
- rate: decisions completed per second of wall time, all writers together (median of trials).
"""

from __future__ import annotations

import itertools
import sqlite3
import subprocess
from collections import Counter
from pathlib import Path
from typing import Any

from _common import BENCH, OUR_PYTHON, Row, child_env, collect, median, progress, release

WRITERS = (2, 8)


def analyse(
    reports: list[dict[str, Any]],
    problems: list[str],
    versions: list[tuple[int, str, float]],
    champion: int | None,
    start: float,
    expected: int,
) -> dict[str, Any]:
    flows = [f for r in reports for f in r["flows"]]
    errors = [f["error"] for f in flows if "error" in f] + problems
    missing = expected - len(flows) - len(problems)
    reported = Counter(f.get("version") for f in flows if f.get("version") is not None)
    runs = Counter(run for _, run, _ in versions)
    duplicates = sum(c - 1 for c in reported.values() if c > 1) + sum(
        c - 1 for c in runs.values() if c > 1
    )
    accs = [a for _, _, a in versions]
    order = sum(1 for a, b in itertools.pairwise(accs) if b <= a)
    best = max(accs) if accs else None
    champ_acc = next((a for v, _, a in versions if v == champion), None)
    wrong_champion = int(best is not None and champ_acc != best)
    end = max((r["end"] for r in reports), default=start)
    done = len(flows) - sum(1 for f in flows if "error" in f)
    return {
        "decisions": len(flows),
        "errors": len(errors) + max(0, missing),
        "error_samples": sorted(set(errors))[:3],
        "duplicates": duplicates,
        "lost_updates": order + wrong_champion,
        "registered": len(versions),
        "outcomes": dict(Counter(f.get("outcome", "error") for f in flows)),
        "seconds": round(end - start, 3),
        "rate": done / (end - start) if end > start else 0.0,
        "first_decision_ms": median(
            [r["flows"][0]["seconds"] * 1000 for r in reports if r["flows"]]
        )
        if reports
        else None,
        "later_decision_ms": median([f["seconds"] * 1000 for r in reports for f in r["flows"][1:]])
        if any(len(r["flows"]) > 1 for r in reports)
        else None,
    }


def ours_trial(ctx, folder: Path, writers: int, flows: int) -> dict[str, Any]:
    from champion.local import Workspace

    folder.mkdir(parents=True, exist_ok=True)
    ws = folder / "ws"
    Workspace.create(ws)._store.close()  # the schema exists before the race; no versions yet
    barrier = folder / "barrier"
    barrier.mkdir()
    procs = [
        subprocess.Popen(
            [
                str(OUR_PYTHON),
                str(BENCH / "_gate_worker.py"),
                "--ws",
                str(ws),
                "--model",
                str(ctx.fixtures.model_file),
                "--flows",
                str(flows),
                "--barrier",
                str(barrier),
                "--worker",
                str(i),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=child_env(),
        )
        for i in range(writers)
    ]
    start = release(procs, barrier)
    reports, problems = collect(procs)
    conn = sqlite3.connect(ws / "workspace.db", timeout=60)
    try:
        rows = conn.execute(
            "SELECT version, run_id, json_extract(properties, '$.accuracy') FROM models"
            " WHERE name='iris' AND deleted=0 ORDER BY version"
        ).fetchall()
    finally:
        conn.close()
    versions = [(int(v), str(r), float(a)) for v, r, a in rows]
    champion = versions[-1][0] if versions else None
    return analyse(reports, problems, versions, champion, start, writers * flows)


def theirs_trial(ctx, folder: Path, writers: int, flows: int) -> dict[str, Any]:
    db = ctx.peer.registry(folder, 0, ctx.fixtures.model_file)
    barrier = folder / "barrier"
    barrier.mkdir()
    procs = [
        ctx.peer.fresh_popen(
            "concurrent", db, str(ctx.fixtures.model_file), str(flows), str(barrier), str(i)
        )
        for i in range(writers)
    ]
    start = release(procs, barrier)
    reports, problems = collect(procs)
    audit = ctx.peer.call("audit", db=db)
    versions = [(int(v), str(r), float(a)) for v, r, a in audit["versions"] if a is not None]
    return analyse(reports, problems, versions, audit["alias"], start, writers * flows)


def run(ctx) -> None:
    trials = ctx.pick(3, 1)
    flows = ctx.pick(20, 5)
    peer_flows = ctx.pick(10, 5)  # MLflow writers serialise at ~0.5 s a decision
    details: dict[str, Any] = {
        "trials": trials,
        "flows_per_writer": flows,
        "peer_flows_per_writer": peer_flows,
    }
    for writers in WRITERS:
        ours: list[dict[str, Any]] = []
        theirs: list[dict[str, Any]] = []
        for t in range(trials):
            folder = ctx.work / "concurrency" / f"{writers}-{t}"

            order = ["ours"] + (["mlflow"] if ctx.peer else [])
            for who in order if t % 2 == 0 else reversed(order):
                if who == "ours":
                    ours.append(ours_trial(ctx, folder / "ours", writers, flows))
                else:
                    theirs.append(theirs_trial(ctx, folder / "mlflow", writers, peer_flows))
            progress(
                f"concurrency {writers} writers, trial {t + 1}/{trials}: ours {ours[-1]['errors']} "
                f"errors, {ours[-1]['registered']} versions, {ours[-1]['rate']:.0f} decisions/s"
                + (
                    f"; mlflow {theirs[-1]['errors']} errors, {theirs[-1]['registered']} "
                    f"versions, {theirs[-1]['rate']:.1f} decisions/s"
                    if theirs
                    else ""
                )
            )
        details[f"{writers}_writers"] = {"ours": ours, "theirs": theirs or None}

        def total(results: list[dict[str, Any]], key: str) -> float | None:
            return float(sum(r[key] for r in results)) if results else None

        decisions = writers * flows * trials
        gate = writers == max(WRITERS)
        err_trials = sum(1 for r in theirs if r["errors"])
        samples = sorted({s for r in theirs for s in r["error_samples"]})[:1]
        ctx.add(
            Row(
                "concurrency",
                f"{writers} writers: errors in {decisions} decisions",
                total(ours, "errors"),
                "errors",
                theirs=total(theirs, "errors"),
                target="0" if gate else "",
                met=(total(ours, "errors") == 0) if gate else None,
                note=(
                    f"MLflow: errors in {err_trials} of {trials} trials "
                    f"({writers * peer_flows * trials} decisions)"
                    + (f", e.g. {samples[0][:160]}" if samples else "")
                )
                if theirs
                else "",
            )
        )
        ctx.add(
            Row(
                "concurrency",
                f"{writers} writers: duplicates",
                total(ours, "duplicates"),
                "duplicates",
                theirs=total(theirs, "duplicates"),
                target="0" if gate else "",
                met=(total(ours, "duplicates") == 0) if gate else None,
            )
        )
        ctx.add(
            Row(
                "concurrency",
                f"{writers} writers: lost updates (champion not the best)",
                total(ours, "lost_updates"),
                "count",
                theirs=total(theirs, "lost_updates"),
                target="0" if gate else "",
                met=(total(ours, "lost_updates") == 0) if gate else None,
            )
        )
        ctx.add(
            Row(
                "concurrency",
                f"{writers} writers: decisions per second, all writers",
                median([r["rate"] for r in ours]),
                "1/s",
                theirs=median([r["rate"] for r in theirs]) if theirs else None,
                note=f"ours registered {sum(r['registered'] for r in ours)} versions, first "
                f"decision of a writer {median([r['first_decision_ms'] for r in ours]):.0f} ms, "
                f"later ones {median([r['later_decision_ms'] for r in ours]):.0f} ms"
                + (
                    f"; MLflow {sum(r['registered'] for r in theirs)} versions, first "
                    f"{median([r['first_decision_ms'] for r in theirs]):.0f} ms, later "
                    f"{median([r['later_decision_ms'] for r in theirs]):.0f} ms"
                    if theirs
                    else ""
                ),
            )
        )
    ctx.details["concurrency"] = details
