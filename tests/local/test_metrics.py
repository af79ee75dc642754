"""Run metrics beyond the contract checks: `get_metrics(recursive=True)` keyed by run id."""

from __future__ import annotations

from champion.local import Experiment, Workspace


def test_recursive_metrics_are_keyed_by_run_id(ws: Workspace) -> None:
    parent = Experiment(ws, "pipeline").start_logging()
    train = parent.child_run("train")
    silent = parent.child_run("silent")
    fold = train.child_run("fold")
    parent.log("accuracy", 0.5)
    train.log("accuracy", 0.7)
    train.log("accuracy", 0.8)
    fold.log("loss", 1.5)

    assert silent.get_metrics(recursive=True) == {}
    assert parent.get_metrics(recursive=True) == {
        parent.id: {"accuracy": 0.5},
        train.id: {"accuracy": [0.7, 0.8]},
        fold.id: {"loss": 1.5},
    }
    assert parent.get_metrics(name="accuracy", recursive=True) == {
        parent.id: {"accuracy": 0.5},
        train.id: {"accuracy": [0.7, 0.8]},
    }
    assert train.get_metrics(recursive=True) == {
        train.id: {"accuracy": [0.7, 0.8]},
        fold.id: {"loss": 1.5},
    }
