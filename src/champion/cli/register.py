"""`champion register`: the gate, for a model trained outside a pipeline."""

from __future__ import annotations

import argparse
from pathlib import Path

from champion.cli import _output
from champion.cli._app import Commands, backend_of, model_name, open_workspace


def add_to(commands: Commands) -> None:
    register = commands.command(
        "register",
        cmd_register,
        help="gate a model trained outside a pipeline",
        description="Register MODEL_PATH as MODEL_NAME only if --metric-value beats the "
        "champion, in the local workspace, or with --backend mlflow on the MLflow registry "
        "$MLFLOW_TRACKING_URI names (the files are logged to a run of experiment "
        "champion-register first). Exit 0 for every decision (1 for a rejection with "
        "--fail-on-reject).",
        examples=[
            "champion register --model-name iris --model-path model.pkl --metric-value 0.95",
            "champion register --model-name iris --model-path out/ --metric-value 0.12 "
            "--metric rmse --lower-is-better --json",
            "champion register --model-name iris --model-path model.pkl --metric-value 0.95 "
            "--backend mlflow",
        ],
        formats=_output.REPORTS,
    )
    add = register.add_argument
    add("--model-name", required=True, type=model_name, help="the registry name")
    add("--model-path", required=True, type=Path, help="the model file or folder to register")
    add("--metric-value", required=True, metavar="VALUE", help="the challenger's metric value")
    add("--metric", default="accuracy", help="the metric compared (default: accuracy)")
    add("--lower-is-better", action="store_true", help="a lower value wins (a loss, an error)")
    add(
        "--min-delta",
        default=0.0,
        metavar="DELTA",
        help="absolute improvement the challenger must exceed (default: 0; a tie keeps the "
        "champion)",
    )
    add("--floor", metavar="VALUE", help="value the challenger must reach, even with no champion")
    add("--build-number", help="stored on the version (a CI build number)")
    add("--model-type", help="stored on the version (e.g. SVC)")
    add("--model-framework", default="Custom", help="the SDK's framework name (default: Custom)")
    add(
        "--allow-unscored-champion",
        action="store_true",
        help="let the challenger replace a champion that has no metric",
    )
    add("--fail-on-reject", action="store_true", help="exit 1 when the challenger is rejected")
    add(
        "--champion-alias",
        metavar="ALIAS",
        help="MLflow only: the alias that names the champion (default: champion)",
    )
    add(
        "--stage",
        help="MLflow only: also move a winner to this stage (Staging, Production), archiving "
        "the versions there; stages are deprecated by MLflow since 2.9, prefer the alias",
    )


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
        champion_alias=args.champion_alias,
        stage=args.stage,
    )
    backend = backend_of(args)
    if backend == "local":
        ws = open_workspace(args, write=True)
    else:  # the registry $MLFLOW_TRACKING_URI names, or config.json's Azure ML workspace
        from champion.context import get_registry

        ws = get_registry(None, request.backend_options, backend=backend)
        where = getattr(getattr(ws, "workspace", None), "name", "")
        _output.note(f"champion: {backend} registry {where}".rstrip())
    record = register_file_if_better(ws, request, args.metric_value, args.model_type)
    _output.report(record.to_dict(), [f"champion: {record.verdict}"])
    return 1 if args.fail_on_reject and record.decision.outcome is Outcome.REJECTED else 0
