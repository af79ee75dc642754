"""`champion models list|show|history|download|delete|convert-onnx|rollback`: the registry; the
first four read only, `delete` removes a version nobody serves, `convert-onnx` registers an ONNX
copy of a version, `rollback` makes an earlier version the champion again."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from champion import names
from champion.cli import _output
from champion.cli._app import Commands, model_name, open_workspace, version_number
from champion.cli._output import Column, short_id, short_when
from champion.errors import InputError

_METRIC_HELP = "property shown as the metric (default: accuracy)"


def add_to(commands: Commands) -> None:
    models = commands.group(
        "models",
        help="registered models",
        description="The local workspace's model registry.",
        examples=["champion models list", "champion models show iris --json"],
    )
    listing = models.command(
        "list",
        cmd_list,
        help="the latest version of every model",
        description="The latest version of every model, by name.",
        examples=["champion models list", "champion models list --json | python -m json.tool"],
    )
    listing.add_argument("--metric", default="accuracy", help=_METRIC_HELP)

    show = models.command(
        "show",
        cmd_show,
        help="one version: tags, properties, framework, run",
        description="One version of a model (the latest by default), every field.",
        examples=["champion models show iris", "champion models show iris --version 2 --json"],
    )
    _name_and_version(show)

    history = models.command(
        "history",
        cmd_history,
        help="every decision, oldest first: promotions and rejections",
        description="Every decision the gate made on a model, oldest first: each challenger "
        "with its value and the champion's, the outcome, the version it became (rejections "
        "included, read from the decision records on the runs), and every version registered "
        "without a record. --plot draws the champion's metric over time (needs the plot "
        "extra: pip install 'champion[plot]').",
        examples=[
            "champion models history iris",
            "champion models history iris --plot history.png",
            "champion models history iris --format csv",
        ],
    )
    history.add_argument("name", type=model_name, help="the model's registered name")
    history.add_argument(
        "--metric",
        help="the metric shown (default: each decision's own, the policy's first metric)",
    )
    history.add_argument(
        "--plot",
        type=Path,
        metavar="FILE.png",
        help="also draw the champion's metric over time, each challenger a point, into this "
        "PNG (800x450; replaced if it exists)",
    )

    download = models.command(
        "download",
        cmd_download,
        help="download a version, verifying its digests",
        description="Download a version into --target, checking every file's digest and the "
        "model's registered artifact_sha256 before anything is moved into place.",
        examples=[
            "champion models download iris --target models/",
            "champion models download iris --version 1 --exist-ok",
        ],
        formats=_output.REPORTS,
    )
    _name_and_version(download)
    download.add_argument(
        "--target",
        type=Path,
        default=Path("."),
        metavar="DIR",
        help="folder to download into; it may hold other files (default: .)",
    )
    download.add_argument(
        "--exist-ok",
        action="store_true",
        help="replace files the model already has there (each one atomically)",
    )

    delete = models.command(
        "delete",
        cmd_delete,
        help="delete a version (refused while a deployment serves it)",
        description="Delete one version. Its number is never given out again; when it is the "
        "latest, the version before it becomes the champion. Refused (exit 2, nothing "
        "changed) while a running deployment ('champion serve') serves it, as Azure ML "
        "refuses to delete a model an active deployment uses.",
        examples=["champion models delete iris --version 3"],
        formats=_output.REPORTS,
    )
    delete.add_argument("name", type=model_name, help="the model's registered name")
    delete.add_argument(
        "--version", type=version_number, required=True, help="the version to delete"
    )

    convert = models.command(
        "convert-onnx",
        cmd_convert_onnx,
        help="convert a scikit-learn version to ONNX (NAME-onnx), checked on a sample",
        description="Convert NAME's champion (or --version) to ONNX with skl2onnx, check that "
        "onnxruntime predicts what scikit-learn predicts on every row of --sample (labels "
        "identical, class probabilities within 1e-5), and register the ONNX file as "
        "NAME-onnx with converted_from=NAME:VERSION and the check's figures. A conversion "
        "that predicts differently is refused (exit 2) and nothing is registered. Needs the "
        "[onnx] extra.",
        examples=[
            "champion models convert-onnx iris --sample sample_data/iris.csv",
            "champion models convert-onnx iris --version 1 --sample data.csv --json",
        ],
        formats=_output.REPORTS,
    )
    _name_and_version(convert)
    convert.add_argument(
        "--sample",
        type=Path,
        required=True,
        metavar="CSV",
        help="rows to compare the two on: the model's feature columns (others are ignored)",
    )
    _add_rollback(models)


def _add_rollback(models: Commands) -> None:
    rollback = models.command(
        "rollback",
        cmd_rollback,
        help="make an earlier version the champion again",
        description="Make an earlier version the champion again, keeping the history: its "
        "files are registered again as a new version (the champion is the latest version) "
        "with its original metric and test-data properties, outcome rolled_back and "
        "rollback_of, and a decision record on a run of the champion-rollback experiment. "
        "The next challenger is compared with it. Refuses a version that does not exist, is "
        "already the champion, or has no metric.",
        examples=[
            'champion models rollback iris --reason "v3 misclassifies new data"',
            'champion models rollback iris --to 1 --reason "back to the audited model" --json',
        ],
        formats=_output.REPORTS,
    )
    rollback.add_argument("name", type=model_name, help="the model's registered name")
    rollback.add_argument(
        "--to",
        type=version_number,
        metavar="VERSION",
        help="the version to make the champion (default: the version the champion replaced)",
    )
    rollback.add_argument(
        "--reason", required=True, help="why: kept in the history and the decision record"
    )
    rollback.add_argument(
        "--metric",
        action="append",
        default=None,
        metavar="NAME",
        help="a metric the version must have, repeatable (default: the metrics of the policy "
        "it was registered under, else accuracy)",
    )


def _name_and_version(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", type=model_name, help="the model's registered name")
    parser.add_argument("--version", type=version_number, help="the version (default: the latest)")


# ---------------------------------------------------------------------- list and show

_LIST = (
    Column("name", "model"),
    Column("version", "version"),
    Column("metric", None),
    Column("metric_value", "metric"),
    Column("outcome", "decision"),
    Column("build_number", "build"),
    Column("registered", "registered (UTC)", short_when),
    Column("run_id", None),
)


def cmd_list(args: argparse.Namespace) -> int:
    from champion.local import Model

    found = Model.list(open_workspace(args), latest=True, expand=False)
    rows = []
    for model in sorted(found, key=lambda m: str(m.name)):
        props = model.properties or {}
        rows.append(
            {
                "name": model.name,
                "version": model.version,
                "metric": args.metric,
                "metric_value": props.get(args.metric),
                "outcome": props.get(names.OUTCOME),
                "build_number": props.get(names.BUILD_NUMBER),
                "registered": _output.when(model.created_time),
                "run_id": model.run_id,
            }
        )
    columns = [Column(c.key, args.metric) if c.key == "metric_value" else c for c in _LIST]
    _output.records(columns, rows)
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    model = _model(args)
    _output.document(
        {
            "name": model.name,
            "version": model.version,
            "id": model.id,
            "registered": _output.when(model.created_time),
            "description": model.description,
            "framework": model.model_framework,
            "framework_version": model.model_framework_version,
            "experiment": model.experiment_name,
            "run_id": model.run_id,
            "tags": dict(model.tags or {}),
            "properties": dict(model.properties or {}),
        }
    )
    return 0


def _model(args: argparse.Namespace) -> Any:
    """The version asked for; a name or version the registry lacks is the user's to fix."""
    from champion.local import Model

    ws = open_workspace(args)
    try:
        return Model(ws, args.name, version=args.version, expand=False)
    except Exception as exc:
        if "ModelNotFound" not in (getattr(exc, "message", None) or str(exc)):
            raise
        what = f"version {args.version} of {args.name!r}" if args.version else repr(args.name)
        raise InputError(
            f"no model {what} in {ws.path}; 'champion models list' shows the names, "
            f"'champion models history {args.name}' the versions",
            field="name",
            value=args.name,
        ) from None


# ---------------------------------------------------------------------- history

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


def cmd_history(args: argparse.Namespace) -> int:
    from champion.context import get_registry
    from champion.history import model_history

    if args.plot is not None:
        _check_plot_target(args.plot)
    ws = open_workspace(args)
    history = model_history(get_registry(ws), args.name, args.metric or "accuracy")
    if not history.entries:
        raise InputError(
            f"no model named {args.name!r} in {ws.path}, and no decision on it; "
            "'champion models list' shows the names",
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
    _output.records(_HISTORY, rows, title=_history_title(history, args.metric))
    if summary is not None:
        _output.note(
            f"champion: plot written to {summary.path} ({summary.width}x{summary.height} PNG, "
            f"{summary.metric}: {summary.promoted} promoted, {summary.rejected} rejected"
            + (f", {summary.rolled_back} rollback(s)" if summary.rolled_back else "")
            + (f", {summary.dry_runs} dry run(s)" if summary.dry_runs else "")
            + (f", {summary.not_drawn} not drawn" if summary.not_drawn else "")
            + ")"
        )
    return 0


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


def _history_title(history: Any, metric: str | None) -> str:
    decided = len(history.entries)
    on = metric or "/".join(dict.fromkeys(e.metric for e in history.entries))
    champion = history.champion
    if champion is None:
        now = "no live version"
    else:
        shown = metric or history.entries[-1].metric
        value = champion.properties.get(shown)
        now = f"the champion is {history.name}:{champion.version}" + (
            f" ({shown} {value})" if value is not None else ""
        )
    return f"{history.name}: {decided} decision(s) on {on}, oldest first; {now}"


# ---------------------------------------------------------------------- delete


def cmd_delete(args: argparse.Namespace) -> int:
    """`Model.delete()`; the refusal of a served version becomes one line naming who serves it."""
    from champion.local import Model
    from champion.local.access import deployments

    ws = open_workspace(args, write=True)
    try:
        model = Model(ws, args.name, version=args.version, expand=False)
    except Exception as exc:
        if "ModelNotFound" not in (getattr(exc, "message", None) or str(exc)):
            raise
        raise InputError(
            f"no model version {args.version} of {args.name!r} in {ws.path}; "
            f"'champion models history {args.name}' lists the versions",
            field="--version",
            value=args.version,
        ) from None
    try:
        model.delete()
    except Exception as exc:
        if "Response Code: 412" not in (getattr(exc, "message", None) or str(exc)):
            raise
        serving = [
            f"{d.name} (port {d.port}, pid {d.pid})"
            for d in deployments(ws)
            if d.active and (args.name, args.version) in d.models
        ]
        raise InputError(
            f"{args.name}:{args.version} is served by the running deployment(s) "
            f"{', '.join(serving) or '(another host)'}; stop it (Ctrl-C in its 'champion "
            "serve'), then delete. Nothing was deleted.",
            field="--version",
            value=args.version,
        ) from None
    doc = {"name": args.name, "version": args.version, "deleted": True}
    _output.report(doc, [f"deleted {args.name}:{args.version}"])
    return 0


# ---------------------------------------------------------------------- convert-onnx


def cmd_convert_onnx(args: argparse.Namespace) -> int:
    from champion.context import get_registry
    from champion.onnx_convert import convert

    registry = get_registry(open_workspace(args, write=True))
    done = convert(registry, args.name, args.version, args.sample)
    figures = done.check
    doc = {
        "name": done.name,
        "version": done.version,
        "converted_from": done.source,
        "model_type": done.model_type,
        "rows": figures.rows,
        "labels_equal": not figures.label_mismatches,
        "max_probability_diff": figures.max_probability_diff,
        "tolerance": figures.tolerance,
    }
    diff = figures.max_probability_diff
    said = (
        f"{done.source} ({done.model_type}) -> {done.name}:{done.version}: onnxruntime "
        f"predicts the same labels on {figures.rows} rows"
        + ("" if diff is None else f", probabilities within {diff:.3g} (allowed 1e-05)")
    )
    _output.report(doc, [said])
    return 0


# ---------------------------------------------------------------------- download


def cmd_download(args: argparse.Namespace) -> int:
    """Download and check every byte against what was registered, before anything is moved
    into place: each blob's digest and, when the gate registered it, the whole model's
    `artifact_sha256` over exactly the files written."""
    from champion.local.access import TargetExists
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
    doc = {"name": model.name, "version": model.version, "path": path, "verified": verified}
    said = f"{model.id} -> {path}" + (" (sha256 verified)" if verified else "")
    _output.report(doc, [said])
    return 0


# ---------------------------------------------------------------------- rollback


def cmd_rollback(args: argparse.Namespace) -> int:
    from champion.context import get_registry
    from champion.rollback import rollback

    ws = open_workspace(args, write=True)
    record = rollback(
        get_registry(ws), args.name, reason=args.reason, to=args.to, metrics=args.metric or ()
    )
    _output.report(record.to_dict(), [f"champion: {record.verdict}"])
    return 0
