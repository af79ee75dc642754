"""`champion runs list|show`: the local workspace's runs, read-only."""

from __future__ import annotations

import argparse
from typing import Any

from champion import names
from champion.cli import _output
from champion.cli._app import Commands, open_workspace, positive_int
from champion.cli._output import Column, short_when
from champion.errors import InputError


def add_to(commands: Commands) -> None:
    runs = commands.group(
        "runs",
        help="runs in the local workspace",
        description="The local workspace's runs (pipeline runs and their steps), read-only.",
        examples=["champion runs list", "champion runs show RUN_ID --json"],
    )
    listing = runs.command(
        "list",
        cmd_list,
        help="top-level runs, newest first",
        description="Top-level runs (pipeline runs, runs started by hand), newest first.",
        examples=[
            "champion runs list --limit 5",
            "champion runs list --experiment pipeline --format csv",
        ],
    )
    listing.add_argument("--experiment", help="only this experiment's runs")
    count = listing.add_mutually_exclusive_group()
    count.add_argument(
        "--limit",
        type=positive_int,
        default=20,
        metavar="N",
        help="at most N runs, the newest (default: 20)",
    )
    count.add_argument("--all", action="store_true", help="every run")

    show = runs.command(
        "show",
        cmd_show,
        help="a run's tags, properties, metrics, files and children",
        description="One run (a pipeline run or a step) and everything stored on it.",
        examples=["champion runs show RUN_ID", "champion runs show RUN_ID --json"],
    )
    show.add_argument(
        "run_id",
        help="the run's id, as 'champion runs list' shows it, or its start when no other run's "
        "id starts so (the 8 characters 'champion models history' prints)",
    )


_LIST = (
    Column("run_id", "run"),
    Column("experiment", "experiment"),
    Column("name", None),
    Column("status", "status"),
    Column("outcome", "champion"),
    Column("created", "started (UTC)", short_when),
)


def cmd_list(args: argparse.Namespace) -> int:
    ws = open_workspace(args)
    from champion.local.access import top_level_runs

    found = top_level_runs(ws, args.experiment)
    rows = [
        {
            "run_id": r.run_id,
            "experiment": r.experiment,
            "name": r.display_name or r.name,
            "status": r.status,
            "outcome": r.tags.get(names.OUTCOME),
            "created": r.created_utc,
        }
        for r in (found if args.all else found[: args.limit])
    ]
    _output.records(_LIST, rows)
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    ws = open_workspace(args)
    run = _run(ws, args.run_id)
    details = run.get_details()
    _output.document(
        {
            "run_id": run.id,
            "experiment": run.experiment.name,
            "name": run.name,
            "type": run.type,
            "status": run.get_status(),
            "started": details.get("startTimeUtc"),
            "ended": details.get("endTimeUtc"),
            "parent_run_id": run.parent.id if run.parent else None,
            "tags": run.get_tags(),
            "properties": run.get_properties(),
            "metrics": run.get_metrics(),
            "files": run.get_file_names(),
            "children": [
                {"run_id": c.id, "name": c.name, "status": c.status} for c in run.get_children()
            ],
        }
    )
    return 0


def _run(ws: Any, run_id: str) -> Any:
    """The run `run_id` names: its whole id, or a prefix only it has (as git takes a short
    commit id: tables print the first 8 characters)."""
    from champion.local import Run
    from champion.local.access import find_run, run_ids_starting

    if find_run(ws, run_id) is None:
        found = run_ids_starting(ws, run_id)
        if len(found) > 1:
            shown = ", ".join(found[:5]) + (", ..." if len(found) > 5 else "")
            raise InputError(
                f"run id {run_id!r} is the start of several runs ({shown}); give more of it",
                field="run_id",
                value=run_id,
            )
        if not found:
            raise InputError(
                f"no run {run_id!r} in {ws.path}; 'champion runs list' shows the run ids",
                field="run_id",
                value=run_id,
            )
        run_id = found[0]
    return Run.get(ws, run_id)
