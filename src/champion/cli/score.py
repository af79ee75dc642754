"""`champion score NAME --data FILE|dataset:NAME[:V] --output FILE`: batch scoring from a shell.

The score step needs a run (it records on it which version made the predictions); a person at a
shell has none, and scoring there must not need one. So this command takes the same path as the
step (`champion.batch.score_version`: resolve, download verified, load, score in chunks, one
rename) over the registry `--backend` names, and says instead of recording: where the
predictions went and which version made them. It reads the registry and never writes to it.
"""

from __future__ import annotations

import argparse
import functools
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from champion.cli import _output
from champion.cli._app import (
    Commands,
    backend_of,
    model_name,
    open_workspace,
    positive_int,
    version_number,
)
from champion.errors import InputError


def add_to(commands: Commands) -> None:
    score = commands.command(
        "score",
        cmd_score,
        help="score a CSV or a registered dataset with the champion (or a version)",
        description="Predict every row of --data with the champion of NAME as the registry "
        "says now (the latest version; on MLflow the version holding the alias 'champion'), or "
        "with --version, and write the predictions to the CSV file --output: the data's id "
        "column (--id-column, else a column named id) and 'prediction'. The version is "
        "downloaded and its sha256 verified before it is loaded; the data is read --chunk-rows "
        "rows at a time; the file appears in one rename when every row is scored. An existing "
        "--output is refused unless --overwrite; a link, a folder or a device is never written. "
        "Exit 2 for a mistake (nothing written), 3 when the machine or the registry fails.",
        examples=[
            "champion score iris --data sample_data/iris.csv --output predictions.csv",
            "champion score iris --version 1 --data dataset:flowers:2 --output v1.csv --json",
            "champion score iris --data new.csv --output predictions.csv --overwrite "
            "--backend mlflow",
        ],
        formats=_output.REPORTS,
    )
    score.add_argument("name", type=model_name, help="the model's registered name")
    score.add_argument(
        "--data",
        required=True,
        metavar="FILE|dataset:NAME[:V]",
        help="the rows to score: a CSV file, or a registered tabular dataset (local workspace)",
    )
    score.add_argument(
        "--output",
        required=True,
        type=Path,
        metavar="FILE",
        help="the predictions CSV to write; its folder must exist",
    )
    score.add_argument(
        "--version", type=version_number, help="score with this version (default: the champion)"
    )
    score.add_argument(
        "--overwrite",
        action="store_true",
        help="replace --output if it exists (a plain file only; replaced in one rename)",
    )
    score.add_argument(
        "--id-column",
        metavar="COLUMN",
        help="column copied beside each prediction (default: a column named id, in any case)",
    )
    score.add_argument(
        "--chunk-rows",
        type=positive_int,
        metavar="N",
        help="rows read and predicted at a time, so memory stays flat (default: 10000)",
    )
    score.add_argument(
        "--champion-alias",
        metavar="ALIAS",
        help="MLflow only: the alias that names the champion (default: champion)",
    )


def cmd_score(args: argparse.Namespace) -> int:
    from champion.batch import score_version
    from champion.context import get_registry
    from champion.registry import BackendOptions

    options = BackendOptions(champion_alias=args.champion_alias)
    backend = backend_of(args)
    known_names: Callable[[], Iterable[str]] = tuple
    if backend == "local":
        ws = open_workspace(args)
        registry = get_registry(ws, options)
        known_names = functools.partial(_model_names, ws)
    elif backend == "mlflow":
        registry = get_registry(None, options, backend=backend)
    else:
        raise InputError(
            f"champion score reads the local workspace or an MLflow registry; on Azure ML "
            f"score inside a pipeline with the score step (python -m champion.steps.score), or "
            f"download the version with the SDK. --backend {backend} is not offered here.",
            field="--backend",
            value=backend,
        )
    scored = score_version(
        registry,
        args.name,
        args.data,
        args.output,
        version=args.version,
        id_column=args.id_column,
        chunk_rows=args.chunk_rows,
        replace=args.overwrite,
        known_names=known_names,
    )
    doc = {**scored.to_dict(), "predictions": str(scored.summary.predictions), "backend": backend}
    _output.report(doc, [scored.said])
    return 0


def _model_names(ws: Any) -> list[str]:
    """The local workspace's model names, for "did you mean" (read only on that failure)."""
    from champion.local import Model

    return [str(m.name) for m in Model.list(ws, latest=True, expand=False)]
