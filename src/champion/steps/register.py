"""Register step: register the trained model only if it beats the registered champion.

    python -m champion.steps.register --model-name NAME --model-path PATH [options]

Runs as an Azure ML PythonScriptStep (through the snapshot's `register_model.py`, which calls
`main`), as the command of champion's v2 register component (`champion.components`), as a step
of the local pipeline runners, or by hand inside a run. It ships in the wheel so a pipeline never
carries a copy of it. Thin on purpose: parse arguments, get the run, call `champion.gate`, hand
the decision on (`--decision-output`, `--control-outputs`), print one line, exit.

Exit codes: 0 first/promoted/rejected/already_registered (and a dry run's would_promote /
would_reject), 1 rejected with --fail-on-reject, 2 bad input (including no run to register from,
and a champion scored on other test data), 3 infrastructure failure (workspace, service,
storage).
"""

from __future__ import annotations

import argparse
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path

from champion import _env
from champion._gate_options import add_gate_options, flag
from champion._usage import Parser


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = Parser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-name", required=True)
    parser.add_argument(
        "--model-path",
        required=True,
        type=Path,
        help="the model file or folder the training step wrote",
    )
    parser.add_argument(
        "--training-step-name",
        default="train",
        help="step whose run tags carry the metric if the pipeline run's do not",
    )
    parser.add_argument(
        "--metrics-file",
        type=Path,
        default=None,
        metavar="PATH",
        help='the training step\'s metrics as a JSON object ({"accuracy": 0.95}; a folder: its '
        "metrics.json), read before the runs' tags and checked against them",
    )
    add_gate_options(parser, standalone=False)
    parser.add_argument("--build-number", default=_env.build_number())
    parser.add_argument("--model-framework", default="ScikitLearn")
    parser.add_argument("--model-framework-version", default=None)
    parser.add_argument("--description", default=None)
    flag(
        parser,
        "--fail-on-reject",
        help="exit 1 when the challenger is rejected (a dry run never fails)",
    )
    parser.add_argument(
        "--decision-output",
        type=Path,
        default=None,
        metavar="PATH",
        help="also write the decision record (JSON) to this file (a v2 uri_file output; a "
        "folder: its champion_decision.json)",
    )
    flag(
        parser,
        "--control-outputs",
        help="hand `promoted` (true when this run's model is the champion now) to the pipeline "
        "as the job's control output, for dsl.condition (Azure ML v2 jobs only)",
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    from champion._gate_options import policy_of, rescore_of
    from champion._redact import redact
    from champion.context import control_outputs_of, get_run
    from champion.decision import Outcome
    from champion.errors import ChampionError, from_environment
    from champion.gate import RegisterRequest, register_if_better
    from champion.record import devops_commands
    from champion.steps import NO_RUN_MESSAGE, no_run_context

    try:
        policy = policy_of(args)
        request = RegisterRequest(
            model_name=args.model_name,
            model_path=args.model_path,
            policy=policy,
            training_step_name=args.training_step_name or None,
            build_number=args.build_number,
            model_framework=args.model_framework,
            model_framework_version=args.model_framework_version,
            description=args.description,
            dry_run=args.dry_run,
            rescore=rescore_of(args, standalone=False),
            champion_alias=args.champion_alias,
            stage=args.stage,
            metrics_file=args.metrics_file,
        )
        run = get_run()
        # refused before anything is decided: a step asked for what its run cannot take
        hand_on = control_outputs_of(run) if args.control_outputs else None
        record = register_if_better(run, request)
        if args.decision_output is not None:
            write_decision(args.decision_output, record)
        if hand_on is not None:
            hand_on({"promoted": record.registered_version is not None})
    except ChampionError as exc:
        print(redact(f"champion: error [{exc.code}]: {exc.message}"), file=sys.stderr)
        return exc.exit_code
    except Exception as exc:  # the run context or the SDK failed outside the gate
        if no_run_context(exc):
            print(NO_RUN_MESSAGE, file=sys.stderr)
            return 2
        known = from_environment(exc)  # a disk, permission or database failure: one line
        if known is not None:
            print(redact(f"champion: error [{known.code}]: {known.message}"), file=sys.stderr)
            return known.exit_code
        print(redact(traceback.format_exc()), file=sys.stderr)
        print(
            redact(f"champion: infrastructure failure: {type(exc).__name__}: {exc}"),
            file=sys.stderr,
        )
        return 3

    print(redact(f"champion: {record.verdict}"))
    if _env.under_devops_agent():
        for line in devops_commands(record):
            print(line)
    if args.fail_on_reject and record.decision.outcome is Outcome.REJECTED:
        return 1
    return 0


def write_decision(path: Path, record: object) -> None:
    """The record's JSON (the bytes the run holds) at `path`, or in `path/champion_decision.json`
    when `path` is a folder (a v2 output Azure made as one). An OS error reaches `main`'s one
    line, as any other."""
    from champion.record import DecisionRecord, record_body

    assert isinstance(record, DecisionRecord)
    target = path / "champion_decision.json" if path.is_dir() else path
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(record_body(record)[1])


if __name__ == "__main__":
    sys.exit(main())
