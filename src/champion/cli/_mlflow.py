"""`champion models ...` on an MLflow registry (`--backend mlflow`): the same commands, keys and
conventions as on the local workspace, read through `champion.registry.mlflow`.

What differs, and why: the champion is the version holding the alias (`champion`), not the
latest, and a model whose versions exist but none holds the alias has no champion to show,
list or download (it is never taken for the latest); `show` adds `aliases`, `stage` and
`source`. (`history` is the one command for every backend, in `champion.cli.history`, over
`Registry.decisions`; on MLflow it adds the alias move each decision made, as its record says,
which MLflow keeps no history of: `add_alias_moves`, `champion_now`.)
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from champion import names
from champion.cli import _output
from champion.cli._app import open_mlflow
from champion.cli._output import Column, short_when
from champion.errors import ChampionUnknownError, InputError
from champion.registry import DecisionEntry, ModelVersion, Registry


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
        mv = _champion_of(reader, name, aliases.get(reader.registry.alias))
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


def _champion_of(reader: Any, name: str, holder: int | None) -> Any:
    """The champion's MLflow version for a row of the listing (which names the alias's holder
    when there is one); None for a model without one, said on stderr when it has versions."""
    if holder is not None:
        return reader.version(name, holder)
    try:
        return reader.version(name, None)
    except ChampionUnknownError as exc:
        _output.note(f"champion: {exc.message}")
    except InputError:  # a model without versions
        pass
    return None


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


# ---------------------------------------------------------------------- history


def add_alias_moves(entries: Sequence[DecisionEntry], rows: list[dict[str, Any]]) -> None:
    """Each line's alias move, as its decision record says (`alias_move`): a move is shown
    only where one was recorded, never inferred from an outcome (a version whose registration
    failed before the move, a retry that found the move done or the alias moved on)."""
    for entry, row in zip(entries, rows, strict=True):
        move = entry.alias_move
        row["alias_from"], row["alias_to"] = move if move is not None else (None, None)
        if move is None:
            row["alias_move"] = "-"
        else:
            row["alias_move"] = (f"v{move[0]} " if move[0] is not None else "") + f"-> v{move[1]}"


def champion_now(registry: Registry, name: str) -> tuple[ModelVersion | None, str]:
    """The champion for the history's title, and how it was chosen; an alias that no version
    holds is said as such (the history is what to read then)."""
    try:
        return registry.champion(name), registry.champion_rule
    except ChampionUnknownError:
        alias = getattr(registry, "alias", "champion")
        return None, f"no version holds alias {alias!r}"
