"""Re-score the champion and the challenger on the same test data (`--rescore-champion`).

Why opt-in: it is the only way to compare like with like when the champion's stored numbers
were measured on other data (TFX's Evaluator, Databricks' MLOps Stacks and Azure's v2 template
all do it), but it loads both models, and **loading a pickle runs code**. So the default stays
"never deserialise", and when asked the step loads only what it has just verified: the champion
is downloaded through `Registry.download`, which checks its files against the registry's
`artifact_sha256` before anything is returned; the challenger is the file the training step
wrote and the gate has just hashed.

Each metric of the policy is scored with scikit-learn's `get_scorer(name)` (so metric names must
be scorer names: `accuracy`, `f1_macro`, `roc_auc`, `neg_mean_squared_error`, ...) on the same
rows, with the same scorer, for both models. Imports of pandas, scikit-learn and joblib happen
here only, when re-scoring: the gate's usual path never pays for them.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from champion.errors import InputError
from champion.registry import ModelVersion, Registry
from champion.scoring import MODEL_SUFFIXES as _MODEL_SUFFIXES
from champion.testdata import DataIdentity, files_digest

__all__ = ["DATASET_PREFIX", "Rescored", "ScoringData", "load_test_data", "parse_spec", "rescore"]

DATASET_PREFIX = "dataset:"


@dataclass(frozen=True)
class ScoringData:
    """The rows both models are scored on, and what they are."""

    frame: Any
    identity: DataIdentity


@dataclass(frozen=True)
class Rescored:
    """Fresh numbers for both models, on `identity`, against champion `champion_version`."""

    champion_version: int
    champion: dict[str, float]
    challenger: dict[str, float]
    identity: DataIdentity


def parse_spec(spec: str, option: str = "--test-data") -> tuple[str, int | None] | Path:
    """`dataset:NAME[:VERSION]` as (name, version), or a path. Checked before the gate reads
    anything, so a malformed spec changes nothing. `option` is the flag the refusal names (the
    score step's `--data` takes the same spec)."""
    if not spec.startswith(DATASET_PREFIX):
        return Path(spec)
    name, _, version = spec[len(DATASET_PREFIX) :].partition(":")
    if not name or (version and not (version.isdigit() and int(version) >= 1)):
        raise InputError(
            f"{option} {spec!r} is not dataset:NAME[:VERSION] (a version is a whole number from 1)",
            field=option,
            value=spec,
        )
    return name, int(version) if version else None


def load_test_data(spec: str, registry: Registry) -> ScoringData:
    """The test data `spec` names: a registered tabular dataset, or a CSV file or a folder of
    CSV files (read in name order), with its identity."""
    parsed = parse_spec(spec)
    if isinstance(parsed, Path):
        # hashed first: the digest refuses a link, FIFO or device unread, which pandas would
        # follow or block on
        identity = DataIdentity(files_digest(parsed), parsed.name)
        return ScoringData(_read_csvs(parsed), identity)
    name, version = parsed
    found = registry.dataset(name, version)
    reference = f"{DATASET_PREFIX}{found.name}:{found.version}"
    return ScoringData(found.frame, DataIdentity(found.sha256, reference))


def check_scorers(metrics: Sequence[str]) -> None:
    """Every metric must be a scikit-learn scorer name, or it cannot be re-scored."""
    from sklearn.metrics import get_scorer_names

    known = set(get_scorer_names())
    unknown = [name for name in metrics if name not in known]
    if unknown:
        raise InputError(
            f"--rescore-champion scores each metric with scikit-learn's get_scorer, and "
            f"{', '.join(repr(n) for n in unknown)} is not a scorer name; name the metrics as "
            "scikit-learn does (accuracy, f1_macro, roc_auc, neg_mean_squared_error, ...) or "
            "drop --rescore-champion",
            field="--metric",
            value=unknown[0],
        )


def rescore(
    registry: Registry,
    champion: ModelVersion,
    challenger_path: Path,
    data: ScoringData,
    metrics: Sequence[str],
    label_column: str | None,
) -> Rescored:
    """Download the champion (verified), load both models and score them on `data`."""
    check_scorers(metrics)
    who = f"champion {champion.name}:{champion.version}"
    with tempfile.TemporaryDirectory(prefix="champion-rescore-") as tmp:
        downloaded = registry.download(champion.name, champion.version, Path(tmp) / "champion")
        champion_model = _load(_model_file(downloaded, who), who)
    challenger_model = _load(_model_file(challenger_path, "the challenger"), "the challenger")
    return Rescored(
        champion_version=champion.version,
        champion=_score(champion_model, data, metrics, label_column, who),
        challenger=_score(challenger_model, data, metrics, label_column, "the challenger"),
        identity=data.identity,
    )


def _read_csvs(path: Path) -> Any:
    import pandas as pd

    if path.is_dir():
        files = sorted(p for p in path.rglob("*.csv") if p.is_file())
    elif path.is_file():
        files = [path]
    else:
        raise InputError(
            f"--test-data {str(path)!r} does not exist; give a CSV file, a folder of CSV files "
            "or dataset:NAME[:VERSION]",
            field="--test-data",
            value=str(path),
        )
    if not files:
        raise InputError(
            f"--test-data folder {str(path)!r} holds no .csv file",
            field="--test-data",
            value=str(path),
        )
    try:
        return pd.concat([pd.read_csv(file) for file in files], ignore_index=True)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise InputError(
            f"--test-data {str(path)!r} is not a readable CSV: {exc}",
            field="--test-data",
            value=str(path),
        ) from None


def _model_file(root: Path, who: str) -> Path:
    """The one model file of a model: the file itself, or the one .pkl/.joblib/.pickle file
    in its folder."""
    if root.is_file():
        return root
    found = sorted(p for p in root.rglob("*") if p.is_file() and p.suffix in _MODEL_SUFFIXES)
    if len(found) != 1:
        listing = ", ".join(p.relative_to(root).as_posix() for p in found) or "none"
        raise InputError(
            f"{who}'s files hold {len(found)} model files ({listing}); --rescore-champion loads "
            f"exactly one {'/'.join(_MODEL_SUFFIXES)} file per model",
            field="model_path",
            value=str(root),
        )
    return found[0]


def _load(path: Path, who: str) -> Any:
    import joblib

    try:
        return joblib.load(path)
    except Exception as exc:
        raise InputError(
            f"{who}'s model file {path.name} cannot be loaded with joblib: "
            f"{type(exc).__name__}: {exc}",
            field="model_path",
            value=path.name,
        ) from None


def _score(
    model: Any, data: ScoringData, metrics: Sequence[str], label: str | None, who: str
) -> dict[str, float]:
    from sklearn.metrics import get_scorer

    frame = data.frame
    features = getattr(model, "feature_names_in_", None)
    features = [str(c) for c in features] if features is not None else None
    label = label or _infer_label(frame, features, who)
    if label not in frame.columns:
        raise InputError(
            f"the test data {data.identity.describe()} has no column {label!r}; columns: "
            f"{', '.join(map(str, frame.columns))}",
            field="--label-column",
            value=label,
        )
    missing = [c for c in features or () if c not in frame.columns]
    if missing:
        raise InputError(
            f"{who} was fit on column(s) the test data {data.identity.describe()} lacks: "
            f"{', '.join(missing)}",
            field="--test-data",
            value=data.identity.describe(),
        )
    X = frame[features] if features is not None else frame.drop(columns=[label])
    y = frame[label]
    scores = {}
    for metric in metrics:
        try:
            scores[metric] = float(get_scorer(metric)(model, X, y))
        except Exception as exc:
            raise InputError(
                f"{who} cannot be scored with {metric!r} on {data.identity.describe()}: "
                f"{type(exc).__name__}: {exc}",
                field="--test-data",
                value=data.identity.describe(),
            ) from None
    return scores


def _infer_label(frame: Any, features: list[str] | None, who: str) -> str:
    """The label column: the one column the model was not fit on."""
    if features is not None:
        missing = [c for c in features if c not in frame.columns]
        rest = [str(c) for c in frame.columns if c not in features]
        if not missing and len(rest) == 1:
            return rest[0]
    raise InputError(
        f"cannot tell which column of the test data is the label for {who} (columns: "
        f"{', '.join(map(str, frame.columns))}); pass --label-column NAME",
        field="--label-column",
        value=None,
    )
