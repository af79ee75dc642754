"""`champion register`: the gate, for a model trained outside a pipeline."""

from __future__ import annotations

import argparse
from pathlib import Path

from champion._gate_options import add_gate_options, policy_of, rescore_of
from champion.cli import _output
from champion.cli._app import Commands, backend_of, model_name, open_workspace
from champion.errors import InputError


def add_to(commands: Commands) -> None:
    register = commands.command(
        "register",
        cmd_register,
        help="gate a model trained outside a pipeline",
        description="Register MODEL_PATH as MODEL_NAME only if --metric-value beats the "
        "champion on every --metric, in the local workspace, or with --backend mlflow on the "
        "MLflow registry $MLFLOW_TRACKING_URI names (the files are logged to a run of "
        "experiment champion-register first). Exit 0 for every decision (1 for a rejection "
        "with --fail-on-reject), 2 for a mistake (also a champion scored on other --test-data).",
        examples=[
            "champion register --model-name iris --model-path model.pkl --metric-value 0.95",
            "champion register --model-name iris --model-path out/ --metric-value 0.12 "
            "--metric rmse --lower-is-better --json",
            "champion register --model-name iris --model-path model.pkl --metric-value 0.95 "
            "--backend mlflow",
            "champion register --model-name iris --model-path model.pkl --metric accuracy "
            "--metric f1_macro,min_relative=0.01 --metric-value accuracy=0.95 "
            "--metric-value f1_macro=0.94 --test-data test.csv --dry-run",
        ],
        formats=_output.REPORTS,
    )
    add = register.add_argument
    add("--model-name", required=True, type=model_name, help="the registry name")
    add("--model-path", required=True, type=Path, help="the model file or folder to register")
    add(
        "--metric-value",
        required=True,
        action="append",
        metavar="VALUE|NAME=VALUE",
        help="the challenger's metric value; with several --metric, one NAME=VALUE each",
    )
    add_gate_options(register, standalone=True)
    add("--build-number", help="stored on the version (a CI build number)")
    add("--model-type", help="stored on the version (e.g. SVC)")
    add("--model-framework", default="Custom", help="the SDK's framework name (default: Custom)")
    add(
        "--model-framework-version",
        metavar="VERSION",
        help="the framework's version, stored for 'champion models package' to pin (default: "
        "for ScikitLearn, the scikit-learn installed here)",
    )
    add(
        "--fail-on-reject",
        action="store_true",
        help="exit 1 when the challenger is rejected (a dry run never fails)",
    )


def cmd_register(args: argparse.Namespace) -> int:
    from champion.decision import Outcome
    from champion.gate import RegisterRequest, register_file_if_better

    policy = policy_of(args)
    request = RegisterRequest(
        model_name=args.model_name,
        model_path=args.model_path,
        policy=policy,
        training_step_name=None,
        build_number=args.build_number,
        model_framework=args.model_framework,
        model_framework_version=args.model_framework_version,
        dry_run=args.dry_run,
        rescore=rescore_of(args, standalone=True),
        champion_alias=args.champion_alias,
        stage=args.stage,
    )
    values = _metric_values(args.metric_value)
    backend = backend_of(args)
    if backend == "local":
        ws = open_workspace(args, write=True)
    else:  # the registry $MLFLOW_TRACKING_URI names, or config.json's Azure ML workspace
        from champion.context import get_registry

        ws = get_registry(None, request.backend_options, backend=backend)
        where = getattr(getattr(ws, "workspace", None), "name", "")
        _output.note(f"champion: {backend} registry {where}".rstrip())
    record = register_file_if_better(ws, request, values, args.model_type, args.test_data)
    _output.report(record.to_dict(), [f"champion: {record.verdict}"])
    return 1 if args.fail_on_reject and record.decision.outcome is Outcome.REJECTED else 0


def _metric_values(given: list[str]) -> str | dict[str, str]:
    """One bare value (a one-metric policy), or NAME=VALUE for each metric."""
    if len(given) == 1 and "=" not in given[0]:
        return given[0]
    values: dict[str, str] = {}
    for item in given:
        name, equals, value = item.partition("=")
        if not equals or not name or name in values:
            raise InputError(
                f"--metric-value {item!r}: with several values give each as NAME=VALUE, "
                "each name once",
                field="--metric-value",
                value=item,
            )
        values[name] = value
    return values
