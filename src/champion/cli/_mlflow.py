"""`champion models ...` on an MLflow registry (`--backend mlflow`): the same commands, keys and
conventions as on the local workspace, read through `champion.registry.mlflow`.

What differs, and why: the champion is the version holding the alias (`champion`), not the
latest; `show` adds `aliases`, `stage` and `source`; `history` lists every decision recorded on
the runs (a rejected challenger too, which MLflow keeps no trace of in its registry) with the
alias move each made (`alias_from`, `alias_to`; MLflow keeps no alias history), and every version
registered without a decision record (by hand, by another tool).
"""

from __future__ import annotations

import argparse
import functools
from datetime import UTC, datetime
from typing import Any

from champion import names
from champion.cli import _output
from champion.cli._app import open_mlflow
from champion.cli._output import Column, short_when


def _when(millis: int | None) -> str | None:
    if not millis:
        return None
    return _output.when(datetime.fromtimestamp(millis / 1000, tz=UTC))


_LIST = (
    Column("name", "model"),
    Column("version", "champion"),
    Column("metric", None),
    Column("metric_value", "metric"),
    Column("outcome", "decision"),
    Column("build_number", "build"),
    Column("registered", "registered (UTC)", short_when),
    Column("run_id", None),
)


def cmd_list(args: argparse.Namespace) -> int:
    reader = open_mlflow(args)
    rows = []
    for name, aliases in reader.models():
        holder = aliases.get(reader.registry.alias)
        mv = reader.version(name, holder) if holder is not None else _latest_or_none(reader, name)
        tags = dict(mv.tags or {}) if mv is not None else {}
        rows.append(
            {
                "name": name,
                "version": None if mv is None else int(mv.version),
                "metric": args.metric,
                "metric_value": tags.get(args.metric),
                "outcome": tags.get(names.OUTCOME),
                "build_number": tags.get(names.BUILD_NUMBER),
                "registered": None if mv is None else _when(mv.creation_timestamp),
                "run_id": None if mv is None else mv.run_id,
            }
        )
    columns = [Column(c.key, args.metric) if c.key == "metric_value" else c for c in _LIST]
    _output.records(columns, rows)
    return 0


def _latest_or_none(reader: Any, name: str) -> Any:
    latest = reader.registry._latest(name)
    return None if latest is None else reader.version(name, latest.version)


def shown(mv: Any) -> dict[str, Any]:
    tags = dict(mv.tags or {})
    return {
        "name": mv.name,
        "version": int(mv.version),
        "id": f"{mv.name}:{mv.version}",
        "registered": _when(mv.creation_timestamp),
        "description": mv.description or None,
        "framework": None,
        "framework_version": None,
        "experiment": None,
        "run_id": mv.run_id or None,
        "tags": tags,
        "properties": tags,
        "aliases": sorted(mv.aliases or []),
        "stage": mv.current_stage,
        "source": mv.source,
    }


def cmd_show(args: argparse.Namespace) -> int:
    _output.document(shown(open_mlflow(args).version(args.name, args.version)))
    return 0


_HISTORY = (
    Column("version", "version"),
    Column("metric", None),
    Column("metric_value", "metric"),
    Column("outcome", "decision"),
    Column("previous_version", "replaced"),
    Column("alias_from", None),
    Column("alias_to", "alias"),
    Column("build_number", "build"),
    Column("run_id", "run"),
    Column("registered", "decided (UTC)", short_when),
    Column("reason", None),
)
_MOVES = ("first", "promoted", "already_registered", "rolled_back")


def cmd_history(args: argparse.Namespace) -> int:
    from champion._retry import remote
    from champion.errors import InputError
    from champion.record import all_records

    reader = open_mlflow(args)
    versions = reader.registry.versions(args.name)
    decisions = []
    for run, decided in reader.runs_with_records():
        files = remote(f"listing the files of run {run.id}", run.file_names)
        read = functools.partial(all_records, run, files)
        for _, record in remote(f"reading the records of run {run.id}", read):
            if record.get("model_name") == args.name:
                decisions.append((run.id, decided, record))
    decisions.sort(key=lambda d: str(d[1] or ""))
    if not versions and not decisions:
        raise InputError(
            f"no model named {args.name!r} on {reader.workspace.name} and no decision about "
            "it; 'champion models list --backend mlflow' shows the names",
            field="name",
            value=args.name,
        )
    rows = []
    covered = set()
    for run_id, decided, record in decisions:
        version = record.get("registered_version")
        moved = record.get("outcome") in _MOVES and version is not None
        covered.add(version)
        rows.append(
            {
                "version": version,
                "metric": record.get("metric", args.metric),
                "metric_value": record.get("challenger"),
                "outcome": record.get("outcome"),
                "previous_version": record.get("champion_version"),
                "alias_from": record.get("champion_version") if moved else None,
                "alias_to": version if moved else None,
                "build_number": record.get("build_number"),
                "run_id": run_id,
                "registered": _output.when(decided),
                "reason": record.get("reason"),
            }
        )
    for version in versions:  # registered without a record on any run
        if version.version in covered:
            continue
        props = version.properties
        moved = props.get(names.OUTCOME) in _MOVES  # `champion register`: the gate moved it
        previous = props.get(names.PREVIOUS_VERSION)
        rows.append(
            {
                "version": version.version,
                "metric": args.metric,
                "metric_value": props.get(args.metric),
                "outcome": props.get(names.OUTCOME),
                "previous_version": int(previous) if previous else None,
                "alias_from": int(previous) if moved and previous else None,
                "alias_to": version.version if moved else None,
                "build_number": props.get(names.BUILD_NUMBER),
                "run_id": version.run_id,
                "registered": _output.when(version.created),
                "reason": props.get(names.REASON),
            }
        )
    rows.sort(key=lambda row: str(row["registered"] or ""))
    champion = reader.registry._alias_holder(args.name)
    columns = [Column(c.key, args.metric) if c.key == "metric_value" else c for c in _HISTORY]
    title = (
        f"{args.name}: {len(rows)} decision(s) and registration(s), oldest first; the "
        f"champion (alias {reader.registry.alias!r}) is version {champion or '-'}"
    )
    _output.records(columns, rows, title=title)
    return 0


def cmd_download(args: argparse.Namespace) -> int:
    mv, path, verified = open_mlflow(args).download(
        args.name, args.version, args.target, exist_ok=args.exist_ok
    )
    doc = {"name": mv.name, "version": int(mv.version), "path": str(path), "verified": verified}
    said = f"{mv.name}:{mv.version} -> {path}" + (" (sha256 verified)" if verified else "")
    _output.report(doc, [said])
    return 0


def cmd_describe(args: argparse.Namespace) -> int:
    mv = open_mlflow(args).describe(args.name, args.version_number, args.text)
    _output.report(shown(mv), [f"{mv.name}:{mv.version} description set"])
    return 0


def cmd_stage(args: argparse.Namespace) -> int:
    from champion.registry.mlflow import check_stage

    stage = "None" if args.stage.lower() == "none" else check_stage(args.stage)
    mv = open_mlflow(args).set_stage(
        args.name, args.version_number, stage, archive=args.archive_existing
    )
    _output.report(shown(mv), [f"{mv.name}:{mv.version} is now in stage {mv.current_stage}"])
    return 0
