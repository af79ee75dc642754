"""Benchmarks: the register step and the local workspace, optionally beside MLflow's registry.

    .venv/bin/python bench/run.py                  # everything, ours only (make bench)
    .venv/bin/python bench/run.py --peer mlflow    # side by side (make bench PEER=mlflow)
    .venv/bin/python bench/run.py --quick          # a fast smoke pass, smaller N and sizes
    .venv/bin/python bench/run.py --only gate,lookup --json out.json

Prints progress on stderr, then a table and one JSON object on stdout (also written to --json).
Medians over repeated runs; ratios are ours/theirs measured in the same run, alternating.
See bench/README.md for what each row means and how the targets are judged.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (
    Row,
    dump_json,
    fmt,
    machine_info,
    progress,
    render_table,
    set_pycache_prefix,
)
from fixtures import FixtureCache

FAMILIES = (
    "cold", "gate", "lookup", "upload", "concurrency", "azure", "azure_v2", "availability",
    "mlflow", "scoring", "team",
)  # fmt: skip


@dataclass
class Context:
    quick: bool
    work: Path
    fixtures: FixtureCache
    peer: Any = None  # peer_mlflow.MlflowPeer
    rows: list[Row] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)

    def pick(self, default: Any, quick: Any) -> Any:
        return quick if self.quick else default

    def add(self, row: Row) -> Row:
        self.rows.append(row)
        return row

    @property
    def peer_name(self) -> str | None:
        return self.peer.name if self.peer is not None else None


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--peer", choices=["mlflow"], help="also measure this peer, side by side")
    parser.add_argument("--quick", action="store_true", help="a fast smoke pass (small N)")
    parser.add_argument(
        "--only", default="", help=f"comma-separated families to run: {', '.join(FAMILIES)}"
    )
    parser.add_argument("--json", type=Path, help="also write the JSON object to this file")
    parser.add_argument(
        "--workdir",
        type=Path,
        help="where workspaces and big files go (default: a temporary folder, removed after)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    parser.add_argument(
        "--readme",
        action="store_true",
        help="also replace the figures in bench/README.md with this run's (header, table, targets)",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    only = [f.strip() for f in args.only.split(",") if f.strip()] or list(FAMILIES)
    unknown = sorted(set(only) - set(FAMILIES))
    if unknown:
        print(
            f"unknown benchmark(s): {', '.join(unknown)}; choose from {FAMILIES}", file=sys.stderr
        )
        return 2

    work = args.workdir or Path(tempfile.mkdtemp(prefix="champion-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    set_pycache_prefix(work / "pycache")
    machine = machine_info()
    progress(
        f"machine: {machine['nproc']} cpu ({machine['cpu']}), python {machine['python']}, "
        f"load {machine['loadavg_at_start']}, work folder {work}"
    )
    ctx = Context(quick=args.quick, work=work, fixtures=FixtureCache(work / "fixtures"))
    failures: dict[str, str] = {}
    started = time.perf_counter()
    try:
        if args.peer == "mlflow":
            from peer_mlflow import MlflowPeer
            from peer_venv import PeerUnavailable

            try:
                ctx.peer = MlflowPeer(work)
                progress(f"peer: mlflow {ctx.peer.version} ({ctx.peer.python})")
            except PeerUnavailable as exc:
                print(f"the MLflow peer is unavailable:\n{exc}", file=sys.stderr)
                return 1
        for family in only:
            progress(f"== {family}")
            module = __import__(f"bench_{family}")
            t0 = time.perf_counter()
            try:
                module.run(ctx)
            except Exception:
                failures[family] = traceback.format_exc()
                progress(f"!! {family} failed:\n{failures[family]}")
            ctx.details.setdefault(family, {})["seconds"] = round(time.perf_counter() - t0, 1)
            progress(f"== {family} done in {time.perf_counter() - t0:.0f} s")
    finally:
        if ctx.peer is not None:
            ctx.peer.close()
        if args.workdir is None and not args.keep:
            shutil.rmtree(work, ignore_errors=True)

    machine["loadavg_at_end"] = [round(x, 2) for x in os.getloadavg()]
    machine["total_seconds"] = round(time.perf_counter() - started, 1)
    result = {
        "machine": machine,
        "mode": "quick" if args.quick else "full",
        "peer": None if ctx.peer is None else {"name": ctx.peer.name, "version": ctx.peer.version},
        "rows": [r.to_dict() for r in ctx.rows],
        "targets": [
            {
                "target": r.target,
                "row": f"{r.family}: {r.name}",
                "figure": r.ours,
                "unit": r.unit,
                "met": r.met,
                "note": r.note,
            }
            for r in ctx.rows
            if r.target
        ],
        "details": ctx.details,
        "failures": failures,
    }
    header = (
        f"champion benchmarks, {machine['date']}, {machine['nproc']} x {machine['cpu']}, "
        f"{machine['memory']}, Python {machine['python']}, SQLite {machine['sqlite']}, "
        f"commit {machine['commit']}, load {machine['loadavg_at_start']} -> "
        f"{machine['loadavg_at_end']}, {'quick' if args.quick else 'full'} run, "
        f"{machine['total_seconds']:.0f} s"
        + (f", peer mlflow {ctx.peer.version}" if ctx.peer is not None else "")
    )
    table = render_table(ctx.rows, ctx.peer_name)
    verdicts = target_lines(ctx.rows, failures)
    print(header)
    print()
    print(table)
    notes = [f"  {r.family}: {r.name}: {r.note}" for r in ctx.rows if r.note]
    if notes:
        print("\nnotes:")
        print("\n".join(notes))
    print()
    print("\n".join(verdicts))
    if args.readme:
        measured = [
            *(["--peer", args.peer] if args.peer else []),
            *(["--quick"] if args.quick else []),
            *(["--only", args.only] if args.only else []),
        ]
        command = " ".join(["bench/run.py", *measured])
        write_readme(README, command, header, table, verdicts, notes, only=args.only)
        progress(f"figures written to {README}")
    text = dump_json(result)
    print()
    print(text)
    if args.json:
        args.json.write_text(text + "\n")
    return 1 if failures else 0


README = Path(__file__).resolve().parent / "README.md"
BEGIN, END = "<!-- figures: begin (bench/run.py --readme) -->", "<!-- figures: end -->"


def target_lines(rows: list[Row], failures: dict[str, str]) -> list[str]:
    """Every row that has a target, with MET / NOT MET, then the count."""
    judged = [r for r in rows if r.met is not None]
    width = max((len(f"{r.family}: {r.name}") for r in judged), default=0)
    lines = ["targets:"]
    lines += [
        f"  {'MET    ' if r.met else 'NOT MET'}  {f'{r.family}: {r.name}':<{width}}  "
        f"{fmt(r.ours, r.unit)} {r.unit} (target {r.target})"
        for r in judged
    ]
    lines.append(
        f"{sum(bool(r.met) for r in judged)} met, {sum(not r.met for r in judged)} not met"
        + (f"; FAILED families: {', '.join(failures)}" if failures else "")
    )
    return lines


def markers(only: str) -> tuple[str, str]:
    """The figures block of a run of every family, or of a run of some (`--only`): each its
    own block, so a run of one family never overwrites the figures of the others."""
    if not only:
        return BEGIN, END
    chosen = ",".join(sorted(f.strip() for f in only.split(",") if f.strip()))
    return (
        f"<!-- figures --only {chosen}: begin (bench/run.py --only {chosen} --readme) -->",
        f"<!-- figures --only {chosen}: end -->",
    )


def write_readme(
    path: Path,
    command: str,
    header: str,
    table: str,
    verdicts: list[str],
    notes: list[str],
    *,
    only: str = "",
) -> None:
    """Replace the block between the markers in bench/README.md with this run's figures: one
    run, with its header (date, machine, load, commit), so the figures always agree. A run of
    some families (`--only`) has a block of its own, added after the full run's when new."""
    begin, end = markers(only)
    text = path.read_text()
    if begin not in text or end not in text:
        if not only or END not in text:
            raise SystemExit(f"{path} has no {begin} ... {end} block to replace")
        text = text.replace(END, f"{END}\n\n{begin}\n{end}", 1)
    block = "\n".join(
        [
            begin,
            "",
            f"`{command}`:",
            "",
            "```",
            header,
            "",
            table,
            "",
            *verdicts,
            "```",
            "",
            "<details><summary>notes</summary>",
            "",
            "```",
            *(n.strip() for n in notes),
            "```",
            "",
            "</details>",
            "",
            end,
        ]
    )
    head, rest = text.split(begin, 1)
    path.write_text(head + block + rest.split(end, 1)[1])


if __name__ == "__main__":
    sys.exit(main())
