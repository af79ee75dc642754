"""Sample training step: fit a few classifiers on a CSV, keep the best, and tag the runs with it.

    python -m champion.steps.train --data CSV --output-dir OUT [--seed 42] [--test-size 0.3]
                                   [--test-output-dir DIR]

This is the challenger side of the sample pipeline. The register step reads the ``accuracy`` tag
this step puts on the parent pipeline run (or, failing that, on this step's own run), so the tag
is the exact ``repr`` of a float: nothing is rounded between the score and the decision.

It also says what the accuracy was measured on: the hold-out rows, as the CSV ``test.csv`` they
make (``--test-output-dir`` writes it, for ``--rescore-champion --test-data DIR``). The tags
``champion.test_data_sha256`` (``champion.testdata.files_digest`` of that file) and
``champion.test_data`` (which split of which file) let the gate refuse to compare this accuracy
with a champion's measured on other rows.

The step stays thin and free of the library on purpose: the pure functions (``load_dataset``,
``train_candidates``) import nothing from ``champion`` and are tested directly; only ``main``
reaches for the run, through ``champion.context``, which picks Azure ML, MLflow or the local
workspace. On MLflow the model is saved as an MLflow model folder (``MLmodel``, the model, its
requirements) instead of ``model.pkl``, so the registered version loads with
``mlflow.pyfunc.load_model("models:/iris@champion")``; elsewhere (Azure ML has no mlflow in the
step's image) it stays ``model.pkl``.
It ships in the wheel, like the register step; the snapshot's ``train.py`` only calls ``main``.

Exit codes: 0 trained and recorded; 2 bad input (arguments, missing or malformed data file, no
run to record on).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import joblib
import pandas as pd

from champion._usage import Parser

# scikit-learn is imported inside the functions that train: it takes ~1.5 s to import, and a step
# given a wrong path or a wrong file should fail at once, before paying for it.

FEATURES = ("sepal_length", "sepal_width", "petal_length", "petal_width")
LABEL = "species"
# Azure ML exposes an output (PipelineData) named "model_dir" to the step under this variable.
OUTPUT_ENV = "AZUREML_DATAREFERENCE_model_dir"
MODEL_FILE = "model.pkl"
TEST_FILE = "test.csv"
# The names are champion.names.TEST_DATA_SHA256 / TEST_DATA, spelt here so that the pure
# functions of this sample import nothing from the library.
TEST_DATA_SHA256_TAG = "champion.test_data_sha256"
TEST_DATA_TAG = "champion.test_data"

Candidate = tuple[str, Any, float]
"""(name, fitted model, hold-out accuracy); the name is the model's class name."""


class DatasetError(ValueError):
    """The training data cannot be used: missing file, wrong columns, too few rows. Exit code 2."""


def load_dataset(path: Path | str) -> tuple[pd.DataFrame, pd.Series]:
    """Read features and labels from a CSV, failing with a message that names the file.

    The checks are here, not left to scikit-learn, because its errors ("could not convert string to
    float") do not say which file or column a pipeline operator has to fix.
    """
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"data file not found: {path}")
    try:
        frame = pd.read_csv(path)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise DatasetError(f"{path}: not a readable CSV file: {exc}") from exc
    expected = [*FEATURES, LABEL]
    missing = [column for column in expected if column not in frame.columns]
    if missing:
        raise DatasetError(
            f"{path}: missing column(s) {', '.join(missing)}; expected header "
            f"{','.join(expected)}, found {','.join(map(str, frame.columns))}"
        )
    empty = [column for column in expected if frame[column].isna().any()]
    if empty:
        raise DatasetError(f"{path}: empty values in column(s) {', '.join(empty)}")
    not_numeric = [c for c in FEATURES if not pd.api.types.is_numeric_dtype(frame[c])]
    if not_numeric:
        raise DatasetError(f"{path}: non-numeric values in column(s) {', '.join(not_numeric)}")
    if frame[LABEL].nunique() < 2:
        raise DatasetError(f"{path}: needs at least two species to train a classifier")
    return frame[list(FEATURES)], frame[LABEL].astype(str)


def candidate_models(seed: int) -> list[Any]:
    """Unfitted classifiers, every source of randomness pinned to ``seed`` so reruns agree."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.svm import SVC
    from sklearn.tree import DecisionTreeClassifier

    return [
        LogisticRegression(max_iter=1000),
        DecisionTreeClassifier(random_state=seed),
        KNeighborsClassifier(),
        SVC(random_state=seed),
    ]


def train_candidates(
    X: pd.DataFrame, y: pd.Series, seed: int = 42, test_size: float = 0.3
) -> list[Candidate]:
    """Fit every candidate on one stratified split; return them best first.

    Best means highest hold-out accuracy; ties go to the alphabetically first class name, so the
    same data and seed always pick the same model (and so the same ``best_model`` tag).
    """
    from sklearn.metrics import accuracy_score
    from sklearn.model_selection import train_test_split

    try:
        X_train, X_test, y_train, y_test = train_test_split(
            X, y, test_size=test_size, stratify=y, random_state=seed
        )
    except ValueError as exc:
        raise DatasetError(
            f"cannot make a stratified hold-out split of {len(y)} rows with test size "
            f"{test_size}: {exc}"
        ) from exc
    results: list[Candidate] = []
    for model in candidate_models(seed):
        name = type(model).__name__
        try:
            # Too little data can fail in fit or only in predict (k-NN needs k training rows).
            accuracy = float(accuracy_score(y_test, model.fit(X_train, y_train).predict(X_test)))
        except ValueError as exc:
            raise DatasetError(f"{name} cannot be trained on {len(y_train)} rows: {exc}") from exc
        results.append((name, model, accuracy))
    return sorted(results, key=lambda candidate: (-candidate[2], candidate[0]))


def holdout_csv(X: pd.DataFrame, y: pd.Series, seed: int = 42, test_size: float = 0.3) -> bytes:
    """The hold-out rows `train_candidates` scores on, as the bytes of a CSV (same split: same
    seed and size), with fixed line endings so the digest is the same on every platform."""
    from sklearn.model_selection import train_test_split

    _, X_test, _, y_test = train_test_split(
        X, y, test_size=test_size, stratify=y, random_state=seed
    )
    frame = X_test.assign(**{LABEL: y_test})
    return str(frame.to_csv(index=False, lineterminator="\n")).encode()


def test_data_tags(data: Path, csv: bytes, seed: int, test_size: float) -> dict[str, str]:
    """What the accuracy was measured on: the digest the gate compares, as
    `champion.testdata.files_digest` computes it for a file named `test.csv` holding `csv`,
    and a reference for people."""
    import hashlib

    listing = f"{TEST_FILE}\0{hashlib.sha256(csv).hexdigest()}\n"
    return {
        TEST_DATA_SHA256_TAG: hashlib.sha256(listing.encode()).hexdigest(),
        TEST_DATA_TAG: f"hold-out of {data.name} (seed {seed}, test size {test_size})",
    }


def save_test_data(csv: bytes, test_output_dir: Path) -> Path:
    """Write the hold-out rows as `test.csv`, for a later `--rescore-champion --test-data`."""
    test_output_dir.mkdir(parents=True, exist_ok=True)
    target = test_output_dir / TEST_FILE
    tmp = test_output_dir / f".{TEST_FILE}.{os.getpid()}.tmp"
    try:
        tmp.write_bytes(csv)
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return target


def save_model(model: Any, output_dir: Path) -> Path:
    """Write ``model.pkl`` atomically: a crash never leaves a truncated file for the next step."""
    output_dir.mkdir(parents=True, exist_ok=True)
    target = output_dir / MODEL_FILE
    # A per-process name rather than mkstemp: mkstemp creates 0600 files, and the model should get
    # the usual permissions for whoever uploads or serves it later.
    tmp = output_dir / f".{MODEL_FILE}.{os.getpid()}.tmp"
    try:
        with tmp.open("wb") as handle:
            joblib.dump(model, handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return target


def record(
    run: Any, candidates: Sequence[Candidate], test_data: Mapping[str, str] | None = None
) -> None:
    """Tag this step's run and the pipeline (parent) run, and log every candidate's score.

    The parent run carries the tags because the register step runs as a sibling and looks there
    first; the step's own run carries them too, as the fallback it reads by step name.
    """
    best_name, _, accuracy = candidates[0]
    tags = {
        "accuracy": repr(float(accuracy)),
        "best_model": best_name,
        "model_type": best_name,
        **(test_data or {}),
    }
    targets = [run] if run.parent is None else [run, run.parent]
    for target in targets:
        for key, value in tags.items():
            target.tag(key, value)
    run.log("accuracy", accuracy)
    for name, _, candidate_accuracy in candidates:
        run.log(f"accuracy_{name}", candidate_accuracy)


def hold_out_fraction(text: str) -> float:
    """Argparse type: a hold-out fraction strictly between 0 and 1."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0.0 < value < 1.0:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1 (exclusive), got {text}")
    return value


def build_parser() -> argparse.ArgumentParser:
    """The step's command line; Azure ML passes the output folder in argv."""
    parser = Parser(description="Train sample classifiers and tag the best one's accuracy.")
    parser.add_argument(
        "--data",
        type=Path,
        required=True,
        help="training CSV with columns " + ",".join((*FEATURES, LABEL)),
    )
    parser.add_argument("--seed", type=int, default=42, help="split and model seed (default: 42)")
    parser.add_argument(
        "--test-size", type=hold_out_fraction, default=0.3, help="hold-out fraction (default: 0.3)"
    )
    parser.add_argument(
        "--output-dir",
        type=Path,
        default=None,
        help=f"folder for {MODEL_FILE} (required unless {OUTPUT_ENV} is set)",
    )
    parser.add_argument(
        "--test-output-dir",
        type=Path,
        default=None,
        help=f"folder to write the hold-out rows to, as {TEST_FILE} (for the register step's "
        "--rescore-champion --test-data)",
    )
    return parser


def resolve_output_dir(argument: Path | None, environ: Mapping[str, str]) -> Path | None:
    """The output folder from argv, else from Azure ML's data-reference variable, else None."""
    if argument is not None:
        return argument
    from_env = environ.get(OUTPUT_ENV, "")
    return Path(from_env) if from_env else None


def main(argv: Sequence[str] | None = None) -> int:
    """Parse, validate the data, train, save, then record on the runs; return the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    output_dir = resolve_output_dir(args.output_dir, os.environ)
    if output_dir is None:
        parser.error(f"no output folder: pass --output-dir PATH or set {OUTPUT_ENV}")
    try:
        X, y = load_dataset(args.data)
    except DatasetError as exc:
        print(f"{parser.prog}: error: {exc}", file=sys.stderr)
        return 2

    # Imported here so the functions above stay importable without the library or azureml.
    # The run is fetched before training: outside a run, fail at once, not after the fit.
    from champion.context import backend_name, get_run
    from champion.errors import ChampionError
    from champion.steps import NO_RUN_MESSAGE, no_run_context

    try:
        run = get_run()
    except ChampionError as exc:  # e.g. on MLflow: no MLFLOW_RUN_ID, no tracking URI
        print(f"{parser.prog}: error: {exc.message}", file=sys.stderr)
        return exc.exit_code
    except Exception as exc:
        if not no_run_context(exc):
            raise
        print(NO_RUN_MESSAGE, file=sys.stderr)
        return 2
    try:
        candidates = train_candidates(X, y, seed=args.seed, test_size=args.test_size)
    except DatasetError as exc:
        print(f"{parser.prog}: error: {exc}", file=sys.stderr)
        return 2
    best_name, best_model, accuracy = candidates[0]
    csv = holdout_csv(X, y, seed=args.seed, test_size=args.test_size)
    if backend_name() == "mlflow":  # an MLflow model folder: models:/<name>@champion loads it
        from champion.registry.mlflow import save_sklearn_model

        model_path = save_sklearn_model(best_model, output_dir)
    else:
        model_path = save_model(best_model, output_dir)
    if args.test_output_dir is not None:
        save_test_data(csv, args.test_output_dir)
    try:
        record(run, candidates, test_data_tags(args.data, csv, args.seed, args.test_size))
    except Exception as exc:  # the service refused or failed: say so in one line, exit 3
        from champion._retry import describe

        print(
            f"{parser.prog}: error: tagging the runs with the result failed: {describe(exc)}; "
            f"the model is saved at {model_path}, but the register step reads the tags: "
            "retry the step",
            file=sys.stderr,
        )
        return 3
    print(f"trained {best_name} accuracy={float(accuracy)!r} -> {model_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
