"""`champion`: a thin command line over the library and the local workspace.

Each command parses its arguments, makes one or two library calls and prints; every failure
becomes one line on stderr and an exit code: 2 when the user must change something (a path, a
value, a flag), 3 when the machine or the workspace failed. `--debug` adds the traceback.

Which workspace: `--workspace`, else `$CHAMPION_WORKSPACE`, else the nearest `.champion/` in
the working directory or its parents. Only `champion init` (and `champion run`, through the
local runner) creates one; every other command refuses a folder that is not a workspace, and
the read-only ones (`models`, `runs`, `verify`) open it read-only. Every command that writes
says which workspace it wrote to. Values read from the workspace are printed escaped
(`record.neutralize_logging_commands`), so a tag cannot repaint the terminal or issue an Azure
DevOps logging command.
"""

from __future__ import annotations

import argparse
import json
import sys
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from champion.errors import InputError, from_environment
from champion.record import neutralize_logging_commands as escape

Handler = Callable[[argparse.Namespace], int]


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    handler: Handler | None = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return 2
    try:
        return handler(args)
    except KeyboardInterrupt:
        print("champion: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        if args.debug:
            traceback.print_exc()
        known = from_environment(exc)
        if known is not None:
            print(f"champion: error [{known.code}]: {escape(known.message)}", file=sys.stderr)
            return known.exit_code
        if type(exc).__module__.startswith("azureml."):  # the SDK's own errors: say them plainly
            message = getattr(exc, "message", None) or str(exc)
            print(f"champion: {type(exc).__name__}: {escape(message)}", file=sys.stderr)
            return 2 if "ModelNotFound" in message or "Cannot find" in message else 3
        if not args.debug:
            print(
                f"champion: internal error: {type(exc).__name__}: {escape(str(exc))} "
                "(a bug in champion; run again with --debug for the traceback and report it)",
                file=sys.stderr,
            )
        return 1


# ---------------------------------------------------------------------- parser


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="champion",
        description="Champion/challenger model registration for Azure ML, and its local workspace.",
    )
    parser.add_argument(
        "--workspace",
        type=Path,
        default=None,
        help="local workspace folder (default: $CHAMPION_WORKSPACE, else the nearest "
        ".champion/ in this folder or its parents)",
    )
    parser.add_argument("--debug", action="store_true", help="print the traceback of an error, too")
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")

    init = commands.add_parser(
        "init",
        help="create a local workspace",
        description="Create a local workspace in PATH (default: --workspace, "
        "$CHAMPION_WORKSPACE, else .champion): a new or empty folder. An existing workspace "
        "is left as it is.",
    )
    init.add_argument("path", nargs="?", type=Path)
    init.set_defaults(handler=cmd_init)

    run = commands.add_parser(
        "run",
        help="run a pipeline file (as `python FILE`; same as `champion pipeline run`)",
        description="Run a pipeline file (e.g. pipelines/iris.py) on the local workspace, with "
        "the options of `python FILE` (--validate, --submit, --publish choose Azure ML).",
    )
    run.add_argument("pipeline_file", type=Path)
    run.add_argument("pipeline_args", nargs=argparse.REMAINDER)
    run.set_defaults(handler=cmd_run)

    pipeline = commands.add_parser(
        "pipeline",
        help="run, validate, submit or publish a pipeline file",
        description="Drive a pipeline file, a module defining build_spec(*, ...) -> "
        "PipelineSpec: locally, or on Azure ML. Options after FILE include the file's own "
        "(its build_spec parameters); `champion pipeline MODE FILE --help` lists them.",
    )
    pipeline.set_defaults(handler=_help_of(pipeline))
    modes = pipeline.add_subparsers(title="pipeline commands", metavar="COMMAND")
    for mode, text, example in (
        ("run", "run it on the local workspace", "--data sample_data/iris_clean.csv"),
        ("validate", "build the Azure ML pipeline offline and check it", ""),
        ("submit", "submit a run to the Azure ML workspace in config.json", "--wait"),
        ("publish", "publish it to Azure ML, version = --build-number", "--build-number 42"),
    ):
        sub = modes.add_parser(
            mode,
            help=text,
            description=f"{text[0].upper()}{text[1:]}.",
            epilog=f"example: champion pipeline {mode} pipelines/iris.py {example}".rstrip(),
        )
        sub.add_argument("pipeline_file", type=Path, metavar="FILE", help="the pipeline file")
        sub.add_argument(
            "pipeline_args",
            nargs=argparse.REMAINDER,
            metavar="...",
            help="--data, --build-number, the file's own options; FILE --help lists them",
        )
        sub.set_defaults(handler=cmd_pipeline, pipeline_mode=mode)

    models = commands.add_parser("models", help="registered models").add_subparsers(
        title="models commands", metavar="COMMAND"
    )
    listing = models.add_parser("list", help="the latest version of every model")
    listing.add_argument("--metric", default="accuracy")
    listing.set_defaults(handler=cmd_models_list)
    show = models.add_parser("show", help="one version as JSON (latest by default)")
    show.add_argument("name")
    show.add_argument("--version", type=int)
    show.set_defaults(handler=cmd_models_show)
    download = models.add_parser("download", help="download a version, verifying its digests")
    download.add_argument("name")
    download.add_argument("--version", type=int)
    download.add_argument("--target", type=Path, default=Path("."))
    download.add_argument("--exist-ok", action="store_true")
    download.set_defaults(handler=cmd_models_download)
    history = models.add_parser("history", help="every version, oldest first, with its decision")
    history.add_argument("name")
    history.add_argument("--metric", default="accuracy")
    history.add_argument("--json", action="store_true", help="print JSON lines")
    history.set_defaults(handler=cmd_models_history)

    runs = commands.add_parser("runs", help="runs in the local workspace").add_subparsers(
        title="runs commands", metavar="COMMAND"
    )
    runs_list = runs.add_parser("list", help="top-level runs, newest first")
    runs_list.add_argument("--experiment")
    runs_list.add_argument("--limit", type=int, default=20)
    runs_list.set_defaults(handler=cmd_runs_list)
    runs_show = runs.add_parser("show", help="a run's tags, properties, files and children")
    runs_show.add_argument("run_id")
    runs_show.set_defaults(handler=cmd_runs_show)

    register = commands.add_parser(
        "register",
        help="gate a model trained outside a pipeline",
        description="Register MODEL_PATH as MODEL_NAME only if --metric-value beats the champion.",
    )
    register.add_argument("--model-name", required=True)
    register.add_argument("--model-path", required=True, type=Path)
    register.add_argument("--metric-value", required=True)
    register.add_argument("--metric", default="accuracy")
    register.add_argument("--lower-is-better", action="store_true")
    register.add_argument("--min-delta", default=0.0)
    register.add_argument("--floor")
    register.add_argument("--build-number")
    register.add_argument("--model-type")
    register.add_argument("--model-framework", default="Custom")
    register.add_argument("--allow-unscored-champion", action="store_true")
    register.add_argument("--fail-on-reject", action="store_true")
    register.set_defaults(handler=cmd_register)

    verify = commands.add_parser(
        "verify",
        help="check the workspace: SQLite integrity, schema, artifact paths, blobs, models",
        description="Read everything, change nothing (the workspace may be read-only); report "
        "damage as PROBLEM lines and exit 3.",
    )
    verify.add_argument("--metric", default="accuracy")
    verify.set_defaults(handler=cmd_verify)
    gc = commands.add_parser(
        "gc",
        help="remove orphan blobs and stale temp files",
        description="Remove blobs no row refers to and temp files no upload is using, once "
        "older than --min-age seconds. Refuses (exit 3, deleting nothing) if the database "
        "fails its integrity or schema check. Safe while others write, --min-age 0 included.",
    )
    gc.add_argument("--min-age", type=float, default=3600.0)
    gc.set_defaults(handler=cmd_gc)
    return parser


def _workspace(args: argparse.Namespace, *, write: bool = False) -> Any:
    """Open the workspace the command means: an existing one only, read-only unless `write`
    (then say which one, so a write never lands in a registry the user did not mean)."""
    from champion.local.workspace import Workspace, resolve_workspace_path

    path, _ = resolve_workspace_path(args.workspace)
    ws = Workspace._open(path, read_only=not write)
    if write:
        print(f"champion: workspace {ws.path}")
    return ws


# ---------------------------------------------------------------------- init


def cmd_init(args: argparse.Namespace) -> int:
    from champion.local.store import is_workspace
    from champion.local.workspace import Workspace, default_workspace_path

    path = args.path or args.workspace or default_workspace_path()
    existed = is_workspace(path)
    ws = Workspace.create(path, exist_ok=True)
    if existed:
        print(f"champion: {ws.path} is already a champion workspace; nothing changed")
    else:
        print(f"champion: created workspace {ws.path}")
    return 0


# ---------------------------------------------------------------------- run


def cmd_run(args: argparse.Namespace) -> int:
    """`champion run FILE ...`: `python FILE ...` through the driver (mode flags included)."""
    from champion.pipeline.driver import main as drive

    return drive(_pipeline_args(args), file=args.pipeline_file, prog="champion run")


def cmd_pipeline(args: argparse.Namespace) -> int:
    from champion.pipeline.driver import main as drive

    mode = args.pipeline_mode
    return drive(
        _pipeline_args(args, local=mode == "run"),
        file=args.pipeline_file,
        mode=mode,
        prog=f"champion pipeline {mode}",
    )


def _pipeline_args(args: argparse.Namespace, *, local: bool = True) -> list[str]:
    """The arguments after FILE, with the global --workspace passed on to a local run."""
    if args.workspace is None or not local:
        return list(args.pipeline_args)
    return ["--workspace", str(args.workspace), *args.pipeline_args]


def _help_of(parser: argparse.ArgumentParser) -> Handler:
    """A handler for a command group given no command: its own help, exit 2."""

    def show(args: argparse.Namespace) -> int:
        parser.print_help()
        return 2

    return show


# ---------------------------------------------------------------------- models


def cmd_models_list(args: argparse.Namespace) -> int:
    from champion.local import Model

    models = sorted(
        Model.list(_workspace(args), latest=True, expand=False), key=lambda m: str(m.name)
    )
    rows = [
        (
            m.name,
            m.version,
            (m.properties or {}).get(args.metric, "-"),
            (m.properties or {}).get("build_number", "-"),
            _date(m),
        )
        for m in models
    ]
    _table(("model", "version", args.metric, "build", "registered"), rows)
    return 0


def cmd_models_show(args: argparse.Namespace) -> int:
    model = _model(args)
    print(_json(model.serialize(), indent=2))
    return 0


def cmd_models_download(args: argparse.Namespace) -> int:
    """Download and check every byte against what was registered, before anything is moved
    into place: each blob's digest and, when the gate registered it, the whole model's
    `artifact_sha256` over exactly the files written."""
    from champion.local._export import TargetExists
    from champion.local.model import download_verified

    model = _model(args)
    try:
        path, verified = download_verified(model, args.target, exist_ok=args.exist_ok)
    except TargetExists as exc:
        raise InputError(
            f"{exc.path} already exists; nothing was written. Pass --exist-ok to replace it, "
            "or choose another --target",
            field="--target",
            value=exc.path,
        ) from None
    print(escape(f"{model.id} -> {path}" + (" (sha256 verified)" if verified else "")))
    return 0


def cmd_models_history(args: argparse.Namespace) -> int:
    from champion.local import Model

    ws = _workspace(args)
    versions = sorted(Model.list(ws, name=args.name, expand=False), key=lambda m: m.version or 0)
    if not versions:
        raise InputError(
            f"no model named {args.name!r} in {ws.path}", field="name", value=args.name
        )
    entries = [_history_entry(m, args.metric) for m in versions]
    if args.json:
        for entry in entries:
            print(_json(entry))
        return 0
    rows = [
        (
            e["version"],
            e[args.metric] or "-",
            e["outcome"] or "-",
            e["previous"] or "-",
            e["build_number"] or "-",
            e["run_id"] or "-",
            e["registered"],
        )
        for e in entries
    ]
    print(escape(f"{args.name}: {len(entries)} version(s), oldest first; the last is the champion"))
    _table(("version", args.metric, "decision", "replaced", "build", "run", "registered"), rows)
    return 0


def _history_entry(model: Any, metric: str) -> dict[str, Any]:
    props = model.properties or {}
    return {
        "version": int(model.version),
        metric: props.get(metric),
        "outcome": props.get("champion.outcome"),
        "previous": props.get("champion.previous_version"),
        "build_number": props.get("build_number"),
        "run_id": model.run_id,
        "registered": _date(model),
        "reason": props.get("champion.reason"),
    }


def _model(args: argparse.Namespace) -> Any:
    from champion.local import Model

    return Model(_workspace(args), args.name, version=args.version, expand=False)


# ---------------------------------------------------------------------- runs


def cmd_runs_list(args: argparse.Namespace) -> int:
    ws = _workspace(args)
    records = [r for r in ws._store.list_runs(args.experiment) if r.parent_id is None]
    rows = [
        (
            r.run_id,
            r.experiment,
            r.status,
            r.tags.get("champion.outcome") or "-",
            r.created_utc[:19],
        )
        for r in records[: args.limit]
    ]
    _table(("run", "experiment", "status", "champion", "started"), rows)
    return 0


def cmd_runs_show(args: argparse.Namespace) -> int:
    from champion.local import Run

    run = Run.get(_workspace(args), args.run_id)
    details = {
        "id": run.id,
        "experiment": run.experiment.name,
        "name": run.name,
        "type": run.type,
        "status": run.get_status(),
        "parent": run.parent.id if run.parent else None,
        "tags": run.get_tags(),
        "properties": run.get_properties(),
        "metrics": run.get_metrics(),
        "files": run.get_file_names(),
        "children": [{"id": c.id, "name": c.name, "status": c.status} for c in run.get_children()],
    }
    print(_json(details, indent=2))
    return 0


# ---------------------------------------------------------------------- register


def cmd_register(args: argparse.Namespace) -> int:
    from champion.decision import Outcome, Policy
    from champion.gate import RegisterRequest, register_file_if_better

    policy = Policy.from_flags(
        args.metric,
        lower_is_better=args.lower_is_better,
        min_delta=args.min_delta,
        floor=args.floor,
        allow_unscored_champion=args.allow_unscored_champion,
    )
    request = RegisterRequest(
        model_name=args.model_name,
        model_path=args.model_path,
        policy=policy,
        training_step_name=None,
        build_number=args.build_number,
        model_framework=args.model_framework,
    )
    ws = _workspace(args, write=True)
    record = register_file_if_better(ws, request, args.metric_value, args.model_type)
    print(escape(f"champion: {record.verdict}"))
    return 1 if args.fail_on_reject and record.decision.outcome is Outcome.REJECTED else 0


# ---------------------------------------------------------------------- maintenance


def cmd_verify(args: argparse.Namespace) -> int:
    from champion.local.maintenance import verify_path
    from champion.local.workspace import resolve_workspace_path

    path, _ = resolve_workspace_path(args.workspace)
    report = verify_path(path, metric=args.metric)
    for line in report.problems:
        print(escape(f"PROBLEM  {line}"))
    for line in report.warnings:
        print(escape(f"warning  {line}"))
    state = "healthy" if report.healthy else f"DAMAGED ({len(report.problems)} problem(s))"
    print(
        escape(
            f"{Path(path).resolve()}: {state}; {report.blobs_checked} blob(s) and "
            f"{report.versions_checked} version(s) checked, {len(report.warnings)} warning(s)"
        )
    )
    return 0 if report.healthy else 3


def cmd_gc(args: argparse.Namespace) -> int:
    from champion.local.maintenance import gc

    ws = _workspace(args, write=True)
    report = gc(ws._store, grace_seconds=args.min_age)
    print(
        f"removed {len(report.removed_blobs)} orphan blob(s) and "
        f"{len(report.removed_temp_files)} temp file(s), {report.bytes_freed} bytes"
        + ("; temp files left: a writer is uploading" if report.temp_in_use else "")
    )
    return 0


# ---------------------------------------------------------------------- output


def _date(model: Any) -> str:
    created = getattr(model, "created_time", None)
    return created.strftime("%Y-%m-%d %H:%M:%S") if created else "-"


def _table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """Columns padded to fit; every cell escaped, since cells come from the workspace."""
    cells = [[escape(str(c)) for c in header], *[[escape(str(c)) for c in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    for index, row in enumerate(cells):
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
        if index == 0:
            print("  ".join("-" * w for w in widths))
    if not rows:
        print("(none)")


def _json(data: Any, indent: int | None = None) -> str:
    """JSON that stays JSON (control characters escaped by json.dumps, non-ASCII as \\uXXXX)
    and holds no `##`: a `#` after another is written `\\u0023`, which reads back the same,
    so no value can issue an Azure DevOps logging command."""
    return json.dumps(data, indent=indent, sort_keys=True, default=str).replace("##", "#\\u0023")


if __name__ == "__main__":
    sys.exit(main())
