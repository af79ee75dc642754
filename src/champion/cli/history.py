"""`champion models history NAME [--plot FILE.png]`: every decision on a model in one
timeline (the rejected challengers too), as a table, JSON or CSV, and its picture.

Apart from `models.py` because it reads another source than the registry's versions: the
decision records on runs (`Registry.decisions`), joined with the versions."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from champion.cli import _output
from champion.cli._app import backend_of, open_workspace
from champion.cli._output import Column, short_id, short_when
from champion.errors import InputError

_HISTORY = (
    Column("decided", "decided (UTC)", short_when),
    Column("run_id", "run", short_id),
    Column("outcome", "decision"),
    Column("metric", None),
    Column("challenger", "challenger"),
    Column("champion", None),
    Column("champion_version", None),
    Column("champion_shown", "champion", table_only=True),
    Column("version", "version"),
    Column("build_number", "build"),
    Column("reason", "reason"),
    Column("policy", None),
    Column("record", None),
    Column("registered", None),
)


_ALIAS_MOVES = (
    Column("alias_from", None),
    Column("alias_to", None),
    Column("alias_move", "alias", table_only=True),
)
"""MLflow only: the alias move each decision made, as its record says (MLflow keeps none)."""


def cmd_history(args: argparse.Namespace) -> int:
    from champion.history import model_history

    if args.plot is not None:
        _check_plot_target(args.plot)
    registry, where = _history_registry(args)
    history = model_history(registry, args.name, args.metric or "accuracy")
    on_alias = backend_of(args) == "mlflow"
    if not history.entries:
        listing = "champion models list" + (" --backend mlflow" if on_alias else "")
        raise InputError(
            f"no model named {args.name!r} {where}, and no decision on it; "
            f"'{listing}' shows the names",
            field="name",
            value=args.name,
        )
    summary = None
    if args.plot is not None:
        from champion.plot import plot_history

        summary = plot_history(history, args.plot, args.metric)
    rows = []
    for entry in history.entries:
        challenger, champion = history.values(entry, args.metric)
        rows.append(
            {
                "decided": _output.when(entry.time),
                "run_id": entry.run_id,
                "outcome": entry.outcome,
                "metric": args.metric or entry.metric,
                "challenger": challenger,
                "champion": champion,
                "champion_version": entry.champion_version,
                "champion_shown": _with_version(champion, entry.champion_version),
                "version": entry.registered_version,
                "build_number": entry.build_number,
                "reason": entry.reason,
                "policy": dict(entry.policy),
                "record": entry.record_name,
                "registered": _output.when(history.registered_at(entry.registered_version)),
            }
        )
    columns: tuple[Column, ...] = _HISTORY
    if on_alias:  # the champion is the alias holder, not the latest version
        from champion.cli._mlflow import add_alias_moves, champion_now

        add_alias_moves(history.entries, rows)
        at = next(i for i, c in enumerate(_HISTORY) if c.key == "version") + 1
        columns = (*_HISTORY[:at], *_ALIAS_MOVES, *_HISTORY[at:])
        current, rule = champion_now(registry, args.name)
        title = _history_title(history, args.metric, current, rule)
    else:
        title = _history_title(history, args.metric, history.champion)
    _output.records(columns, rows, title=title)
    if summary is not None:
        _output.note(
            f"champion: plot written to {summary.path} ({summary.width}x{summary.height} PNG, "
            f"{summary.metric}: {summary.promoted} promoted, {summary.rejected} rejected"
            + (f", {summary.rolled_back} rollback(s)" if summary.rolled_back else "")
            + (f", {summary.dry_runs} dry run(s)" if summary.dry_runs else "")
            + (f", {summary.not_drawn} not drawn" if summary.not_drawn else "")
            + (
                f"; {summary.labels_left_out} version label(s) left out for room"
                if summary.labels_left_out
                else ""
            )
            + ")"
        )
    return 0


def _history_registry(args: argparse.Namespace) -> tuple[Any, str]:
    """The registry whose history is read, and where it is, for messages."""
    from champion.context import get_registry

    backend = backend_of(args)
    if backend == "local":
        ws = open_workspace(args)
        return get_registry(ws), f"in {ws.path}"
    registry = get_registry(None, backend=backend)
    return registry, f"on {getattr(getattr(registry, 'workspace', None), 'name', backend)}"


def _check_plot_target(path: Path) -> None:
    """Before anything is read: the extra is installed, the name says PNG, the folder exists."""
    from champion.plot import require_matplotlib

    if path.suffix.lower() != ".png":
        raise InputError(
            f"--plot {path}: the plot is a PNG; name the file with .png (e.g. history.png)",
            field="--plot",
            value=str(path),
        )
    folder = path.parent
    if not folder.is_dir():
        raise InputError(
            f"--plot {path}: the folder {folder} does not exist; create it or choose another",
            field="--plot",
            value=str(path),
        )
    if path.is_dir():
        raise InputError(
            f"--plot {path} is a folder; name a file in it (e.g. {path / 'history.png'})",
            field="--plot",
            value=str(path),
        )
    require_matplotlib()


def _with_version(value: str | None, version: int | None) -> str:
    if value is None:
        return "-" if version is None else f"- (v{version})"
    return value if version is None else f"{value} (v{version})"


def _history_title(history: Any, metric: str | None, champion: Any, rule: str | None = None) -> str:
    decided = len(history.entries)
    on = metric or "/".join(dict.fromkeys(e.metric for e in history.entries))
    if champion is None:
        now = "no live version" if rule is None else "no champion"
    else:
        shown = metric or history.entries[-1].metric
        value = champion.properties.get(shown)
        now = f"the champion is {history.name}:{champion.version}" + (
            f" ({shown} {value})" if value is not None else ""
        )
    if rule is not None:
        now += f", {rule}"
    return f"{history.name}: {decided} decision(s) on {on}, oldest first; {now}"
