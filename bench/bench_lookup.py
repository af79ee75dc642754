"""3. Lookups at 10 / 1,000 / 10,000 versions, in one process, on a warm workspace.

    latest              Model(ws, name)                          MLflow: get_latest_versions(name)
    champion alias      (the same call: our champion is latest)  MLflow: get_model_version_by_alias
    version k           Model(ws, name, version=k)               MLflow: get_model_version(name, k)
    tag, with name      Model.list(ws, name=.., tags=[["build_number", x]])
                                                      MLflow: search_model_versions(
                                                        "name='..' and tags.build_number='x'")
    tag, without name   Model.list(ws, tags=[["build_number", x]])
                                                      MLflow: the same filter without the name

Each tag search matches exactly one version (build numbers are unique), k = N/2. In every round
each operation runs in its own block after a warm-up call (so one operation's scan cannot evict
the pages the next one needs), every size is visited, and MLflow's batches alternate with ours.
"Flat in N" means the figure at 10,000 is at most 1.5x the figure at 10 versions.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from _common import Row, Stats, median, progress
from fixtures import MODEL, build_number_of

LATEST_LIMIT_MS = 1.0
TAG_LIMIT_MS = 2.0
FLAT_LIMIT = 1.5


def ours_ops(ws: Any, k: int) -> dict[str, tuple[Callable[[], Any], Callable[[Any], bool]]]:
    from champion.local import Model

    build = build_number_of(k)
    return {
        "latest": (lambda: Model(ws, MODEL), lambda m: m.version > 0),
        "version": (lambda: Model(ws, MODEL, version=k), lambda m: m.version == k),
        "tag_with_name": (
            lambda: Model.list(ws, name=MODEL, tags=[["build_number", build]]),
            lambda r: len(r) == 1 and r[0].version == k,
        ),
        "tag_without_name": (
            lambda: Model.list(ws, tags=[["build_number", build]]),
            lambda r: len(r) == 1 and r[0].version == k,
        ),
    }


LABELS = {
    "latest": "latest version: Model(ws, name)",
    "alias": "champion: Model(ws, name) / MLflow alias",
    "version": "version k: Model(ws, name, version=k)",
    "tag_with_name": "tag search with name: Model.list(ws, name, tags)",
    "tag_without_name": "tag search without name: Model.list(ws, tags)",
}


def run(ctx) -> None:
    from champion.local import Workspace

    sizes = ctx.pick((10, 1000, 10000), (10, 1000))
    reps = ctx.pick(300, 60)
    rounds = 10
    ours: dict[int, dict[str, list[float]]] = {}
    theirs: dict[int, dict[str, list[float]]] = {}
    setups: dict[int, dict[str, Any]] = {}
    for n in sizes:
        ws = Workspace(ctx.fixtures.workspace(n, ctx.work / "lookup" / f"ours-{n}"))
        k = max(1, n // 2)
        ops = ours_ops(ws, k)
        for key, (op, check) in ops.items():
            result = op()
            if not check(result):
                raise RuntimeError(f"{key} at N={n} returned {result!r}")
        peer_db, peer_reps = None, 0
        if ctx.peer:
            peer_reps = {10: 50, 1000: 20}.get(n, 10) // (2 if ctx.quick else 1)
            progress(f"lookup: MLflow registry with {n:,} versions")
            peer_db = ctx.peer.registry(
                ctx.work / "lookup" / f"mlflow-{n}", n, ctx.fixtures.model_file
            )
        setups[n] = {"ws": ws, "ops": ops, "k": k, "db": peer_db, "peer_reps": peer_reps}
        ours[n] = {key: [] for key in ops}
        theirs[n] = {}
    # Every round visits every size (order rotating), ours and MLflow's alternating, so that the
    # figures compared across N and across registries see the same machine load.
    for r in range(rounds):
        order = sizes[r % len(sizes) :] + sizes[: r % len(sizes)]
        for n in order:
            setup = setups[n]
            batches = [("ours", reps // rounds)]
            if ctx.peer:
                batches.append(("theirs", max(1, setup["peer_reps"] // rounds)))
            for who, count in batches if r % 2 == 0 else reversed(batches):
                if who == "ours":
                    # each operation in its own block after a warm-up call: a 10,000-version
                    # tag scan would otherwise evict the pages the next lookup needs
                    for key, (op, _check) in setup["ops"].items():
                        op()
                        for _ in range(count):
                            t0 = time.perf_counter()
                            op()
                            ours[n][key].append(time.perf_counter() - t0)
                else:
                    k = setup["k"]
                    out = ctx.peer.call(
                        "lookups", db=setup["db"], reps=count, version=k, build=build_number_of(k)
                    )
                    for key, values in out.items():
                        theirs[n].setdefault(key, []).extend(values)
    for n in sizes:
        setups[n]["ws"]._store.close()
        progress(
            f"lookup N={n:,}: "
            + ", ".join(f"{key} {median(v) * 1000:.3f} ms" for key, v in ours[n].items())
        )

    ctx.details["lookup"] = {
        "reps": reps,
        "ours": {n: {k: vars(Stats.of(v)) for k, v in ops_.items()} for n, ops_ in ours.items()},
        "theirs": {n: {k: vars(Stats.of(v)) for k, v in ops_.items()} for n, ops_ in theirs.items()}
        if ctx.peer
        else None,
    }

    smallest, largest = sizes[0], sizes[-1]
    for key in ("latest", "alias", "version", "tag_with_name", "tag_without_name"):
        our_key = "latest" if key == "alias" else key
        if key == "alias" and not ctx.peer:
            continue
        for n in sizes:
            ours_ms = median(ours[n][our_key]) * 1000
            theirs_ms = median(theirs[n][key]) * 1000 if ctx.peer else None
            row = Row("lookup", f"{LABELS[key]}, {n:,} versions", ours_ms, "ms", theirs=theirs_ms)
            if n == largest and key != "alias":
                flat = ours_ms / (median(ours[smallest][our_key]) * 1000)
                limit = {
                    "latest": LATEST_LIMIT_MS,
                    "tag_with_name": TAG_LIMIT_MS,
                    "tag_without_name": TAG_LIMIT_MS,
                }.get(key)
                if limit is not None:
                    row.target = (
                        f"< {limit:g} ms at {largest:,}, flat (<= {FLAT_LIMIT}x N={smallest})"
                    )
                    row.met = ours_ms < limit and flat <= FLAT_LIMIT
                row.note = f"x{flat:.2f} of the figure at {smallest} versions"
            ctx.add(row)
