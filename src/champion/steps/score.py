"""Score step: predict a table with the registered champion (or a given version) of a model.

    python -m champion.steps.score --model-name NAME [--version N | --champion]
        --data PATH|dataset:NAME[:VERSION] --output DIR [--id-column COLUMN] [--chunk-rows N]

Runs as an Azure ML PythonScriptStep (through the snapshot's `score.py`), as a step of the local
pipeline runner, or by hand inside a run; from a shell, without a run, `champion score` does the
same scoring. Thin on purpose: `champion.batch` resolves the version through the registry of
this run's backend (`champion.context`: the latest version on Azure ML and the local workspace;
the `champion` alias on MLflow), downloads it verified, loads and scores it into
`predictions.csv` in `--output`; the step writes `scoring.json` beside it and records on its run
which model and version made them: the tags `champion.scored_model` and
`champion.scored_version`, and the same JSON as `outputs/champion_scoring.json`.

Exit codes: 0 scored; 2 bad input (arguments, a missing or malformed data file, no such model,
version or dataset, a version that cannot be verified or loaded, no run); 3 infrastructure
failure (a download whose digests do not match, the workspace, the service, the disk).
"""

from __future__ import annotations

import argparse
import json
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from champion._usage import Parser

SCORING_SCHEMA_VERSION = 1
NO_RUN_MESSAGE = (
    "champion: error [no_run_context]: this step is not running inside a run, and it records on "
    "its run which version made the predictions; run it as a pipeline step (Azure ML, or "
    "`champion pipeline run FILE` locally), or set CHAMPION_RUN_ID (and CHAMPION_WORKSPACE) to "
    "a step run of a local workspace; from a shell, score with `champion score NAME --data FILE "
    "--output FILE`"
)


def positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} must be 1 or more")
    return value


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = Parser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-name", required=True)
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--version", type=positive, help="score with this version")
    which.add_argument(
        "--champion",
        action="store_true",
        help="score with the champion as the registry says now (the default)",
    )
    parser.add_argument(
        "--data",
        required=True,
        help="CSV file, or dataset:NAME[:VERSION] for a registered tabular dataset",
    )
    parser.add_argument("--output", required=True, type=Path, help="folder for predictions.csv")
    parser.add_argument(
        "--id-column",
        default=None,
        help="column copied into predictions.csv beside each prediction (default: a column "
        "named id, in any case, if the data has one)",
    )
    parser.add_argument(
        "--chunk-rows",
        type=positive,
        default=None,
        help="rows read and predicted at a time, so memory stays flat (default: 10000)",
    )
    return parser.parse_args(argv)


def record_name(existing: Sequence[str]) -> str:
    """`outputs/champion_scoring.json`, or `.2.json`, `.3.json`, ... for a retried step: an
    artifact is never overwritten."""
    from champion.names import SCORING_ARTIFACT

    if SCORING_ARTIFACT not in existing:
        return SCORING_ARTIFACT
    stem = SCORING_ARTIFACT.removesuffix(".json")
    number = 2
    while f"{stem}.{number}.json" in existing:
        number += 1
    return f"{stem}.{number}.json"


def score(args: argparse.Namespace, step_run: Any) -> dict[str, Any]:
    """Score through `champion.batch` (the one scoring path), then record on this run."""
    from champion import names
    from champion._retry import remote
    from champion.batch import score_version
    from champion.context import run_of
    from champion.registry.sdk_run import as_parent_run
    from champion.rescore import parse_spec
    from champion.scoring import PREDICTIONS_FILE

    parse_spec(args.data, option="--data")  # a malformed spec is refused before the run is read
    _, _, registry = run_of(step_run)
    own = as_parent_run(step_run)
    scored = score_version(
        registry,
        args.model_name,
        args.data,
        args.output / PREDICTIONS_FILE,
        version=args.version,
        id_column=args.id_column,
        chunk_rows=args.chunk_rows,
        make_folder=True,
        name_option="--model-name",
        unknown="check --model-name, or run the register step first",
    )
    record = {"schema_version": SCORING_SCHEMA_VERSION, **scored.to_dict(), "run_id": own.id}
    text = json.dumps(record, indent=2, sort_keys=True) + "\n"
    (args.output / "scoring.json").write_text(text, encoding="utf-8")
    name = record_name(remote("listing the run's files", own.file_names))
    remote("uploading the scoring record", lambda: own.upload_bytes(name, text.encode()))
    remote(
        "tagging the run",
        lambda: own.set_tags(
            {names.SCORED_MODEL: scored.model, names.SCORED_VERSION: str(scored.version)}
        ),
    )
    record["said"] = scored.said
    return record


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    from champion._redact import redact
    from champion.context import get_run
    from champion.errors import ChampionError, from_environment
    from champion.steps import no_run_context

    try:
        record = score(args, get_run())
    except ChampionError as exc:
        print(redact(f"champion: error [{exc.code}]: {exc.message}"), file=sys.stderr)
        return exc.exit_code
    except Exception as exc:
        if no_run_context(exc):
            print(NO_RUN_MESSAGE, file=sys.stderr)
            return 2
        known = from_environment(exc)
        if known is not None:
            print(redact(f"champion: error [{known.code}]: {known.message}"), file=sys.stderr)
            return known.exit_code
        print(redact(traceback.format_exc()), file=sys.stderr)
        print(
            redact(f"champion: infrastructure failure: {type(exc).__name__}: {exc}"),
            file=sys.stderr,
        )
        return 3
    print(redact(record["said"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
