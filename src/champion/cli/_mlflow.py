"""`champion models ...` on an MLflow registry (`--backend mlflow`): the same commands, keys and
conventions as on the local workspace, read through `champion.registry.mlflow`.

What differs, and why: the champion is the version holding the alias (`champion`), not the
latest; `show` adds `aliases`, `stage` and `source`. (`history` is the one command for every
backend, in `champion.cli.models`, over `Registry.decisions`; on MLflow it adds the alias move
each decision made, which MLflow keeps no history of.)
"""

from __future__ import annotations

import argparse
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
