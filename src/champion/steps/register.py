"""Register step: register the trained model only if it beats the registered champion.

    python -m champion.steps.register --model-name NAME --model-path PATH [options]

Runs as an Azure ML PythonScriptStep (through the snapshot's `register_model.py`, which calls
`main`), as a step of the local pipeline runner, or by hand inside a run. It ships in the wheel
so a pipeline never carries a copy of it. Thin on purpose: parse arguments, get the run, call
`champion.gate`, print one line, exit.

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
from champion._gate_options import add_gate_options
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
    add_gate_options(parser, standalone=False)
    parser.add_argument("--build-number", default=_env.build_number())
    parser.add_argument("--model-framework", default="ScikitLearn")
    parser.add_argument("--model-framework-version", default=None)
    parser.add_argument("--description", default=None)
    parser.add_argument(
        "--fail-on-reject",
        action="store_true",
        help="exit 1 when the challenger is rejected (a dry run never fails)",
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    from champion._gate_options import policy_of, rescore_of
    from champion._redact import redact
    from champion.context import get_run
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
        )
        record = register_if_better(get_run(), request)
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


if __name__ == "__main__":
    sys.exit(main())
