"""The gate's options, written once for the register step and `champion register`: the policy
(`--metric` specs, today's one-metric flags, `--policy FILE`), the test-data rule, dry runs,
re-scoring, and the MLflow backend's `--champion-alias` and `--stage` (refused by the others).

Why one module: the step and the CLI run the same gate, and a flag that means one thing in a
pipeline and another at a terminal is a trap; help texts (the pickle warning above all) must be
the same words in both places.
"""

from __future__ import annotations

import argparse
import os
import stat
from pathlib import Path
from typing import Any

from champion._policy_text import MAX_FILE_BYTES as MAX_POLICY_BYTES
from champion.errors import InputError, PolicyError

__all__ = ["add_gate_options", "policy_of", "rescore_of"]

PICKLE_WARNING = (
    "LOADS BOTH MODELS WITH joblib: loading a pickle runs code, so use it only with models you "
    "trust (the champion is loaded only after its files are verified against the registry's "
    "artifact_sha256); by default nothing is ever deserialised"
)


def add_gate_options(parser: argparse.ArgumentParser | Any, *, standalone: bool) -> None:
    """Add the policy, test-data, dry-run, re-scoring and MLflow options. `standalone` is
    `champion register`, whose `--test-data` also names the data `--metric-value` was
    measured on."""
    add = parser.add_argument
    add(
        "--metric",
        action="append",
        default=None,
        metavar="SPEC",
        help="a metric that must pass, repeatable (all must pass; the first is the primary): "
        "NAME[:higher|:lower][,min_delta=X][,min_relative=R][,floor=F]"
        "[,valid_range=LOW:HIGH|none], e.g. --metric accuracy --metric f1,min_relative=0.01 "
        "--metric latency_ms:lower (default: accuracy); after the last ':' comes exactly "
        "higher or lower",
    )
    add(
        "--lower-is-better",
        action="store_true",
        help="with one metric: a lower value wins (a loss, an error)",
    )
    add(
        "--min-delta",
        default=None,
        metavar="DELTA",
        help="with one metric: absolute improvement the challenger must exceed (default: 0; "
        "a tie keeps the champion)",
    )
    add(
        "--floor",
        default=None,
        metavar="VALUE",
        help="with one metric: value the challenger must reach, even with no champion",
    )
    add(
        "--policy",
        type=Path,
        default=None,
        metavar="FILE",
        help="a TOML policy file ([[metric]] tables; docs/how-to/policies.md) instead of "
        "--metric and the one-metric flags",
    )
    add(
        "--allow-unscored-champion",
        action="store_true",
        help="let the challenger replace a champion that has no value for a metric (recorded)",
    )
    add(
        "--allow-different-test-data",
        action="store_true",
        help="compare numbers measured on different test data instead of refusing (exit 2); "
        "the choice is recorded",
    )
    add(
        "--dry-run",
        action="store_true",
        help="decide and record (would_promote / would_reject) but register nothing",
    )
    add(
        "--rescore-champion",
        action="store_true",
        help="score the champion and the challenger on --test-data with scikit-learn's "
        f"get_scorer(METRIC) and decide on those numbers. {PICKLE_WARNING}",
    )
    test_data_help = (
        "the test data --metric-value was measured on, or with --rescore-champion the data "
        "both models are scored on"
        if standalone
        else "with --rescore-champion: the data both models are scored on"
    )
    add(
        "--test-data",
        default=None,
        metavar="PATH|dataset:NAME[:VERSION]",
        help=f"{test_data_help}: a CSV file, a folder of CSV files, or a registered tabular "
        "dataset",
    )
    add(
        "--label-column",
        default=None,
        metavar="NAME",
        help="with --rescore-champion: the test data's label column (default: the one column "
        "the models were not fit on)",
    )
    add(
        "--champion-alias",
        default=None,
        metavar="ALIAS",
        help="MLflow only: the alias that names the champion (default: champion)",
    )
    add(
        "--stage",
        default=None,
        help="MLflow only: also move a winner to this stage (Staging, Production), archiving "
        "the versions there; stages are deprecated by MLflow since 2.9, prefer the alias",
    )


def policy_of(args: argparse.Namespace) -> Any:
    """The `champion.decision.Policy` the options describe; PolicyError for any mistake."""
    from champion.decision import Policy

    one_metric = {
        "--metric": args.metric,
        "--lower-is-better": args.lower_is_better or None,
        "--min-delta": args.min_delta,
        "--floor": args.floor,
    }
    if args.policy is not None:
        given = [flag for flag, value in one_metric.items() if value is not None]
        if given:
            raise PolicyError(
                f"--policy {args.policy} and {', '.join(given)} both say what better means; "
                "put the metrics in the file or in the flags, not both",
                field="--policy",
                value=str(args.policy),
            )
        policy = Policy.from_toml(_read_policy(args.policy), source=str(args.policy))
        return policy.with_allowances(
            allow_unscored_champion=policy.allow_unscored_champion or args.allow_unscored_champion,
            allow_different_test_data=policy.allow_different_test_data
            or args.allow_different_test_data,
        )
    return Policy.from_specs(
        args.metric or [],
        lower_is_better=args.lower_is_better,
        min_delta=args.min_delta,
        floor=args.floor,
        allow_unscored_champion=args.allow_unscored_champion,
        allow_different_test_data=args.allow_different_test_data,
    )


def rescore_of(args: argparse.Namespace, *, standalone: bool) -> Any:
    """The `champion.gate.RescoreRequest` the options ask for, or None."""
    from champion.gate import RescoreRequest

    if not args.rescore_champion:
        if args.test_data is not None and not standalone:
            raise InputError(
                "--test-data is the data --rescore-champion scores both models on; pass "
                "--rescore-champion too (the challenger's own test data comes from its run's "
                "champion.test_data_sha256 tag)",
                field="--test-data",
                value=args.test_data,
            )
        if args.label_column is not None:
            raise InputError(
                "--label-column is used only with --rescore-champion",
                field="--label-column",
                value=args.label_column,
            )
        return None
    if args.test_data is None:
        raise InputError(
            "--rescore-champion needs --test-data PATH|dataset:NAME[:VERSION]: the data both "
            "models are scored on",
            field="--test-data",
            value=None,
        )
    return RescoreRequest(args.test_data, args.label_column)


def _read_policy(path: Path) -> str:
    """The policy file's text: a regular file, read no further than a policy can be long (a
    FIFO or `/dev/zero` given as `--policy` would otherwise wait or read forever)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
        with os.fdopen(fd, "rb") as file:
            if not stat.S_ISREG(os.fstat(file.fileno()).st_mode):
                raise InputError(
                    f"--policy {path}: not a regular file; give a TOML policy file",
                    field="--policy",
                    value=str(path),
                )
            data = file.read(MAX_POLICY_BYTES + 1)
        return data.decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(
            f"--policy {path}: cannot read it ({getattr(exc, 'strerror', None) or exc}); "
            "give a TOML policy file",
            field="--policy",
            value=str(path),
        ) from None
