"""The Azure ML path makes only the service calls the decision needs, counted at the REST edge
(`mock_azureml().calls`: the real azureml.core classes, answered by the local store). The table
in bench/README.md says why each one stays; a call added anywhere in the flow fails here."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from champion import Outcome, Policy, RegisterRequest, register_if_better
from champion.local import mock_azureml
from champion.testing import make_pipeline_run

STEPS = {"train": {}, "register": {}}

# Before the decision: the pipeline run (GET) and its step runs (one listing), the run's files
# (one listing), the champion (one query). Every outcome then uploads the model and the record
# (artifact create + blob upload each) and tags the run. A winner adds the champion read again
# just before registering (the race re-read), the asset and the model.
LOSS = Counter(
    {
        "runs.get": 1,
        "runs.get_children": 1,
        "artifacts.list": 1,
        "models.query": 1,
        "artifacts.create": 2,
        "artifacts.upload": 2,
        "runs.patch": 1,
    }
)
WIN = LOSS + Counter({"models.query": 1, "assets.create": 1, "models.register": 1})


@pytest.mark.parametrize(
    ("accuracies", "outcome", "expected"),
    [
        (("0.9",), Outcome.FIRST, WIN),
        (("0.9", "0.95"), Outcome.PROMOTED, WIN),
        (("0.95", "0.9"), Outcome.REJECTED, LOSS),
    ],
    ids=["first", "win", "loss"],
)
def test_a_decision_makes_only_the_calls_it_needs(
    make_workspace, tmp_path: Path, accuracies, outcome, expected
) -> None:
    from azureml.core import Run

    ws = make_workspace()
    model = tmp_path / "model.pkl"
    model.write_bytes(b"weights")
    request = RegisterRequest("iris", model, Policy(), build_number="42")
    with mock_azureml(ws.path) as aml:
        for accuracy in accuracies:
            tree = make_pipeline_run(ws, {"accuracy": accuracy}, STEPS)
            step = Run.get(aml.workspace, tree.steps["register"].id)  # the step's own run
            aml.calls.clear()
            record = register_if_better(step, request)

    assert record.decision.outcome is outcome
    assert Counter(aml.calls) == expected, aml.calls
    # what Run.register_model would add: the run's files listed again under the model path,
    # and the returned model expanded (an experiment GET, the pipeline run fetched again)
    assert not {"artifacts.list_prefix", "experiments.get"} & set(aml.calls)
