"""`champion init`, `verify` and `gc`: create a local workspace, check it, tidy it."""

from __future__ import annotations

import argparse
from pathlib import Path

from champion.cli import _output
from champion.cli._app import Commands, open_workspace


def add_to(commands: Commands) -> None:
    init = commands.command(
        "init",
        cmd_init,
        help="create a local workspace",
        description="Create a local workspace in PATH (default: --workspace, "
        "$CHAMPION_WORKSPACE, else .champion): a new or empty folder. An existing workspace "
        "is left as it is.",
        examples=["champion init", "champion init ~/registries/team --json"],
        formats=_output.REPORTS,
    )
    init.add_argument("path", nargs="?", type=Path, help="folder to create it in (new or empty)")

    verify = commands.command(
        "verify",
        cmd_verify,
        help="check the workspace: SQLite integrity, schema, artifact paths, blobs, models",
        description="Read everything, change nothing (the workspace may be read-only); report "
        "damage as PROBLEM lines and exit 3.",
        examples=["champion verify", "champion verify --workspace .champion --json"],
        formats=_output.REPORTS,
    )
    verify.add_argument(
        "--metric",
        default="accuracy",
        help="property every registered version should carry (default: accuracy)",
    )

    gc = commands.command(
        "gc",
        cmd_gc,
        help="remove orphan blobs and stale temp files",
        description="Remove blobs no row refers to and temp files no upload is using, once "
        "older than --min-age seconds. Refuses (exit 3, deleting nothing) if the database "
        "fails its integrity or schema check. Safe while others write, --min-age 0 included.",
        examples=["champion gc", "champion gc --min-age 0 --json"],
        formats=_output.REPORTS,
    )
    gc.add_argument(
        "--min-age",
        type=_seconds,
        default=3600.0,
        metavar="SECONDS",
        help="leave files younger than this (default: 3600)",
    )


def _seconds(text: str) -> float:
    """An argparse type: a grace period, 0 or more seconds (NaN and infinity are no period)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not 0 <= value < float("inf"):
        raise argparse.ArgumentTypeError(f"{text!r} must be 0 or more seconds")
    return value


def cmd_init(args: argparse.Namespace) -> int:
    from champion.local.store import is_workspace
    from champion.local.workspace import Workspace, default_workspace_path

    path = args.path or args.workspace or default_workspace_path()
    existed = is_workspace(path)
    ws = Workspace.create(path, exist_ok=True)
    said = (
        f"champion: {ws.path} is already a champion workspace; nothing changed"
        if existed
        else f"champion: created workspace {ws.path}"
    )
    _output.report({"workspace": str(ws.path), "created": not existed}, [said])
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    from champion.local.maintenance import verify_path
    from champion.local.workspace import resolve_workspace_path

    path, _ = resolve_workspace_path(args.workspace)
    report = verify_path(path, metric=args.metric)
    where = str(Path(path).resolve())
    state = "healthy" if report.healthy else f"DAMAGED ({len(report.problems)} problem(s))"
    lines = [
        *(f"PROBLEM  {text}" for text in report.problems),
        *(f"warning  {text}" for text in report.warnings),
        f"{where}: {state}; {report.blobs_checked} blob(s) and {report.versions_checked} "
        f"version(s) checked, {len(report.warnings)} warning(s)",
    ]
    doc = {
        "workspace": where,
        "healthy": report.healthy,
        "problems": report.problems,
        "warnings": report.warnings,
        "blobs_checked": report.blobs_checked,
        "versions_checked": report.versions_checked,
    }
    _output.report(doc, lines)
    return 0 if report.healthy else 3


def cmd_gc(args: argparse.Namespace) -> int:
    from champion.local.access import collect_garbage

    ws = open_workspace(args, write=True)
    report = collect_garbage(ws, grace_seconds=args.min_age)
    said = (
        f"removed {len(report.removed_blobs)} orphan blob(s) and "
        f"{len(report.removed_temp_files)} temp file(s), {report.bytes_freed} bytes"
        + ("; temp files left: a writer is uploading" if report.temp_in_use else "")
    )
    doc = {
        "workspace": str(ws.path),
        "removed_blobs": report.removed_blobs,
        "removed_temp_files": report.removed_temp_files,
        "bytes_freed": report.bytes_freed,
        "temp_in_use": report.temp_in_use,
    }
    _output.report(doc, [said])
    return 0
