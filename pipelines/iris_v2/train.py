"""The sample v2 pipeline's training command, as a v2 user writes one: fit a few classifiers on
the iris CSV, keep the best, log its hold-out accuracy with MLflow (Azure ML gives the job its
MLflow run; locally `champion pipeline run` does) and save it to the model output folder.

    python train.py --data iris.csv --model OUT_FOLDER [--seed 42]

It imports nothing of champion: the register component reads the `accuracy` metric of this job
(the pipeline node called `train`) through MLflow, as it would read it on Azure ML.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import joblib
import mlflow
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score
from sklearn.model_selection import train_test_split
from sklearn.neighbors import KNeighborsClassifier
from sklearn.svm import SVC


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True)
    parser.add_argument("--model", required=True)
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()

    frame = pd.read_csv(args.data)
    features, labels = frame.drop(columns=["species"]), frame["species"]
    x_train, x_test, y_train, y_test = train_test_split(
        features, labels, test_size=0.3, random_state=args.seed, stratify=labels
    )
    candidates = [
        LogisticRegression(max_iter=1000),
        SVC(random_state=args.seed),
        KNeighborsClassifier(),
    ]
    scored = []
    for model in candidates:
        model.fit(x_train, y_train)
        scored.append((accuracy_score(y_test, model.predict(x_test)), type(model).__name__, model))
    accuracy, name, best = max(scored, key=lambda s: (s[0], s[1]))

    mlflow.log_metric("accuracy", accuracy)  # the number the register component decides on
    mlflow.set_tag("model_type", name)
    out = Path(args.model)
    out.mkdir(parents=True, exist_ok=True)
    joblib.dump(best, out / "model.pkl")
    print(f"best: {name}, accuracy {accuracy!r}")


if __name__ == "__main__":
    main()
