"""`MlflowRegistry.decisions`: the decision records on runs, found by the model tag."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from champion import names
from champion.registry import (
    DecisionEntry,
)
from champion.registry._decisions import entries_on_run, sort_entries
from champion.registry.mlflow._calls import _from_millis, _remote
from champion.registry.mlflow.runs import MlflowParentRun

if TYPE_CHECKING:
    from champion.registry.mlflow.registry import MlflowRegistry


def decisions_of(
    registry: MlflowRegistry | Any,
    name: str,
    run_class: type[MlflowParentRun] = MlflowParentRun,
) -> Sequence[DecisionEntry]:
    """One run search over every experiment, filtered by the server on `MODEL_TAG=name`;
    then, per run found, one listing of its records' folder and one download per record.
    `registry` has the MLflow `workspace` and `client`; `run_class` reads a run's records
    where the runs keep their names (the v2 backend's runs keep `outputs/`)."""
    entries: list[DecisionEntry] = []
    for run in _runs_tagged(registry, name):
        entries += _remote(
            f"reading the decision records on run {run.info.run_id}",
            functools.partial(_records_on, registry, run, name, run_class),
        )
    return sort_entries(entries)


def _records_on(
    registry: MlflowRegistry | Any, run: Any, name: str, run_class: type[MlflowParentRun]
) -> list[DecisionEntry]:
    parent = run_class(registry.workspace, run)
    started = _from_millis(run.info.start_time)
    return entries_on_run(parent, name, parent.top_file_names(), started=lambda: started)


def _runs_tagged(registry: MlflowRegistry | Any, name: str) -> list[Any]:
    experiments: list[str] = []
    token: str | None = None
    while True:
        page = _remote(
            "listing the experiments",
            functools.partial(
                registry.client.search_experiments, max_results=1000, page_token=token
            ),
        )
        experiments += [str(e.experiment_id) for e in page]
        token = getattr(page, "token", None)
        if not token:
            break
    found: list[Any] = []
    for start in range(0, len(experiments), 100):  # the server takes up to 100 at once
        token = None
        while True:
            page = _remote(
                f"finding the runs that decided on {name!r}",
                functools.partial(
                    registry.client.search_runs,
                    experiments[start : start + 100],
                    f"tags.`{names.MODEL_TAG}` = '{name}'",
                    max_results=1000,
                    page_token=token,
                ),
            )
            found += list(page)
            token = getattr(page, "token", None)
            if not token:
                break
    return found
