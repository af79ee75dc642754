"""`champion models ...`: the parsers of every models command, and the reading ones here
(`list`, `show`, `download`); `history` is in `history.py`, the commands that change a model
(`delete`, `convert-onnx`, `rollback`, `describe`, `stage`) in `model_changes.py`."""

from __future__ import annotations

import argparse
from pathlib import Path

from champion import names
from champion.cli import _output
from champion.cli._app import (
    Commands,
    backend_of,
    model_name,
    open_workspace,
    registered_model,
    version_number,
)
from champion.cli._output import Column, short_when
from champion.cli.history import cmd_history
from champion.cli.model_changes import (
    cmd_convert_onnx,
    cmd_delete,
    cmd_describe,
    cmd_rollback,
    cmd_stage,
)
from champion.cli.model_package import add_package
from champion.errors import InputError

_METRIC_HELP = "property shown as the metric (default: accuracy)"


def add_to(commands: Commands) -> None:
    models = commands.group(
        "models",
        help="registered models",
        description="The model registry: the local workspace's (read-only), or an MLflow "
        "server's with --backend mlflow (where describe and stage also change a version).",
        examples=[
            "champion models list",
            "champion models show iris --json",
            "champion models history iris --backend mlflow",
        ],
    )
    listing = models.command(
        "list",
        cmd_list,
        help="the champion of every model",
        description="The champion of every model, by name: the latest version (on MLflow, "
        "the version holding the alias 'champion', else the latest).",
        examples=["champion models list", "champion models list --json | python -m json.tool"],
    )
    listing.add_argument("--metric", default="accuracy", help=_METRIC_HELP)

    show = models.command(
        "show",
        cmd_show,
        help="one version: tags, properties, framework, run",
        description="One version of a model (the champion by default), every field; on "
        "MLflow also its aliases, stage and source.",
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
        "without a record. On MLflow also the alias move each decision made (alias_from, "
        "alias_to), which MLflow does not keep. --plot draws the champion's metric decision by "
        "decision, each at its time (needs the [plot] extra, matplotlib; without it the "
        "command says how to install it).",
        examples=[
            "champion models history iris",
            "champion models history iris --plot history.png",
            "champion models history iris --format csv",
            "champion models history iris --backend mlflow",
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
        help="also draw the champion's metric decision by decision, each challenger a point, "
        "into this PNG (800x450; replaced if it exists)",
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

    describe = models.command(
        "describe",
        cmd_describe,
        help="set a version's description (MLflow)",
        description="Set the description of a version on an MLflow registry "
        "(update_model_version). The local workspace's versions are immutable, as on Azure ML.",
        examples=['champion models describe iris 2 "retrained on the March data" --backend mlflow'],
        formats=_output.REPORTS,
    )
    describe.add_argument("name", type=model_name, help="the model's registered name")
    describe.add_argument(
        "version_number", type=version_number, metavar="VERSION", help="the version"
    )
    describe.add_argument("text", help="the new description")

    stage = models.command(
        "stage",
        cmd_stage,
        help="move a version to a stage (MLflow; deprecated there since 2.9)",
        description="Move a version on an MLflow registry to Staging, Production, Archived or "
        "None (transition_model_version_stage). MLflow deprecated stages in 2.9 in favour of "
        "aliases, which the gate moves; use this for tools that still read stages.",
        examples=[
            "champion models stage iris 2 Production --archive-existing --backend mlflow",
            "champion models stage iris 1 Archived --backend mlflow",
        ],
        formats=_output.REPORTS,
    )
    stage.add_argument("name", type=model_name, help="the model's registered name")
    stage.add_argument("version_number", type=version_number, metavar="VERSION", help="the version")
    stage.add_argument("stage", metavar="STAGE", help="Staging, Production, Archived or None")
    stage.add_argument(
        "--archive-existing",
        action="store_true",
        help="archive the versions already in that stage (Staging and Production only)",
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
    add_package(models)


def _add_rollback(models: Commands) -> None:
    rollback = models.command(
        "rollback",
        cmd_rollback,
        help="make an earlier version the champion again",
        description="Make an earlier version the champion again, keeping the history: its "
        "files are registered again as a new version (the champion is the latest version) "
        "with its original metric and test-data properties, outcome rolled_back and "
        "rollback_of, and a decision record on a run of the champion-rollback experiment. "
        "On MLflow (--backend mlflow) no version is made: the champion alias moves back to "
        "the version, which is tagged with the event, and the run holds the record. "
        "The next challenger is compared with it. Refuses a version that does not exist, is "
        "already the champion, or has no metric.",
        examples=[
            'champion models rollback iris --reason "v3 misclassifies new data"',
            'champion models rollback iris --to 1 --reason "back to the audited model" --json',
            'champion models rollback iris --reason "v3 drifts" --backend mlflow',
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
    rollback.add_argument(
        "--champion-alias",
        default=None,
        metavar="ALIAS",
        help="MLflow only: the alias that names the champion (default: champion)",
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
    if backend_of(args) == "mlflow":
        from champion.cli import _mlflow

        return _mlflow.cmd_list(args)
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
    if backend_of(args) == "mlflow":
        from champion.cli import _mlflow

        return _mlflow.cmd_show(args)
    model = registered_model(args)
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


# ---------------------------------------------------------------------- download


def cmd_download(args: argparse.Namespace) -> int:
    """Download and check every byte against what was registered, before anything is moved
    into place: each blob's digest and, when the gate registered it, the whole model's
    `artifact_sha256` over exactly the files written."""
    if backend_of(args) == "mlflow":
        from champion.cli import _mlflow

        return _mlflow.cmd_download(args)
    from champion.local.access import TargetExists
    from champion.local.model import download_verified

    model = registered_model(args)
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
