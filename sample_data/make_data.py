"""Regenerate the sample CSVs: real iris data and two variants that make a challenger win or lose.

The files are committed, so nobody needs to run this; it exists so that anyone can see exactly how
the variants were made and reproduce them byte for byte. Everything is deterministic (fixed seed,
no network: ``load_iris`` ships inside scikit-learn).

    python sample_data/make_data.py [OUT_DIR]
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.datasets import load_iris
from sklearn.model_selection import LeaveOneOut, cross_val_predict
from sklearn.neighbors import KNeighborsClassifier

FEATURES = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
LABEL = "species"
SEED = 42
NOISE_FRACTION = 0.25
EDIT_NEIGHBOURS = 5


def iris_frame() -> pd.DataFrame:
    """The 150 iris rows with short column names and species as strings, as the train step reads."""
    bunch = load_iris()
    frame = pd.DataFrame(bunch.data, columns=FEATURES)
    frame[LABEL] = np.asarray(bunch.target_names)[bunch.target]
    return frame


def with_label_noise(
    frame: pd.DataFrame, fraction: float = NOISE_FRACTION, seed: int = SEED
) -> pd.DataFrame:
    """Give ``fraction`` of the rows a different (wrong) species, so a model fit on it loses.

    Each chosen label is moved to another class rather than shuffled among the chosen rows:
    a shuffle leaves many labels unchanged, which would make the noise level depend on luck.
    """
    rng = np.random.default_rng(seed)
    noisy = frame.copy()
    classes = np.array(sorted(frame[LABEL].unique()))
    rows = rng.choice(len(frame), size=round(fraction * len(frame)), replace=False)
    for row in sorted(rows):
        others = classes[classes != noisy.at[row, LABEL]]
        noisy.at[row, LABEL] = others[rng.integers(len(others))]
    return noisy


def without_border_points(frame: pd.DataFrame, k: int = EDIT_NEIGHBOURS) -> pd.DataFrame:
    """Drop the rows whose own neighbours outvote their label (Wilson editing, leave-one-out k-NN).

    These are the overlapping versicolor/virginica points that no model separates; without them the
    classes are cleanly separable and a model fit on the result wins. No row is altered or invented.
    """
    predicted = cross_val_predict(
        KNeighborsClassifier(n_neighbors=k), frame[FEATURES], frame[LABEL], cv=LeaveOneOut()
    )
    return frame[predicted == frame[LABEL].to_numpy()].reset_index(drop=True)


def write_csv(frame: pd.DataFrame, path: Path) -> None:
    """Write with a fixed line ending so the bytes are the same on every platform."""
    frame.to_csv(path, index=False, lineterminator="\n")


def main(out_dir: Path) -> None:
    """Write iris.csv, iris_noisy.csv and iris_clean.csv into ``out_dir``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    iris = iris_frame()
    variants = {
        "iris.csv": iris,
        "iris_noisy.csv": with_label_noise(iris),
        "iris_clean.csv": without_border_points(iris),
    }
    for name, frame in variants.items():
        write_csv(frame, out_dir / name)
        print(f"wrote {out_dir / name} ({len(frame)} rows)")  # noqa: T201


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parent)
