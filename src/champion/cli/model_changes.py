"""`champion models delete|convert-onnx|rollback|describe|stage`: the commands that change a
model (the reading ones are in `models.py`, history in `history.py`), each refusing before
it changes anything."""

from __future__ import annotations

import argparse

from champion.cli import _output
from champion.cli._app import backend_of, open_workspace
from champion.errors import InputError

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


# ---------------------------------------------------------------------- MLflow only


def _mlflow_only(args: argparse.Namespace, command: str) -> None:
    if backend_of(args) != "mlflow":
        raise InputError(
            f"'champion models {command}' changes a version on an MLflow registry; pass "
            "--backend mlflow (the local workspace's versions are immutable, as on Azure ML)",
            field="--backend",
            value=backend_of(args),
        )


def cmd_describe(args: argparse.Namespace) -> int:
    from champion.cli import _mlflow

    _mlflow_only(args, "describe")
    return _mlflow.cmd_describe(args)


def cmd_stage(args: argparse.Namespace) -> int:
    from champion.cli import _mlflow

    _mlflow_only(args, "stage")
    return _mlflow.cmd_stage(args)


# ---------------------------------------------------------------------- rollback


def cmd_rollback(args: argparse.Namespace) -> int:
    from champion.context import get_registry
    from champion.registry import BackendOptions
    from champion.rollback import rollback

    options = BackendOptions(champion_alias=args.champion_alias)
    backend = backend_of(args)
    if backend == "local":
        registry = get_registry(open_workspace(args, write=True), options)
    else:  # the registry $MLFLOW_TRACKING_URI names, or config.json's Azure ML workspace
        registry = get_registry(None, options, backend=backend)
        where = getattr(getattr(registry, "workspace", None), "name", "")
        _output.note(f"champion: {backend} registry {where}".rstrip())
    record = rollback(
        registry, args.name, reason=args.reason, to=args.to, metrics=args.metric or ()
    )
    _output.report(record.to_dict(), [f"champion: {record.verdict}"])
    return 0
