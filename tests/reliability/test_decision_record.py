"""The decision record and the run's `champion.*` tags describe the latest attempt, on both faces
(the local classes and the real azureml.core classes under mock_azureml()).

A retried register step may decide differently from the attempt before it (rejected, then the
champion was deleted, so the retry registers a version). Artifacts have no overwrite, so each
new verdict is a new numbered record; these tests drive `write_record` as successive attempts
would, each with the run fetched afresh, including attempts cut short between the upload and the
tagging, and an upload whose transfer left an empty artifact.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import champion.local
from champion.decision import Decision, Outcome, Policy, decide
from champion.local.mock import mock_azureml
from champion.record import (
    DECISION_ARTIFACT,
    RECORD_TAG,
    DecisionRecord,
    newest_record,
    read_record,
    record_names,
    tags_for,
    write_record,
)

SECOND = "outputs/champion_decision.2.json"
THIRD = "outputs/champion_decision.3.json"


def record(decision: Decision, version: int | None) -> DecisionRecord:
    return DecisionRecord(
        decision=decision,
        model_name="iris",
        registered_version=version,
        build_number="42",
        challenger_source="parent run tag 'accuracy'",
        parent_run_id="run-1",
        artifact_path="outputs/iris",
        artifact_sha256="ab" * 32,
    )


REJECTED = record(decide(0.9, 0.95, Policy(), champion_version=1), None)
FIRST = record(decide(0.9, None, Policy()), 2)
RESTATED = record(
    Decision(Outcome.ALREADY_REGISTERED, 0.9, None, None, Policy(), "", "already registered"), 2
)
REJECTED_AGAIN = record(decide(0.9, 0.99, Policy(), champion_version=3), None)


@pytest.fixture(params=["local", "azureml"])
def attempt(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[[], Any]]:
    """Returns the pipeline run as a new attempt of the step sees it: fetched afresh."""
    if request.param == "local":
        ws = champion.local.Workspace.create(tmp_path / "ws")
        exp = champion.local.Experiment(ws, "iris-pipeline")
        run_id = exp.start_logging().id
        yield lambda: champion.local.Run(exp, run_id)
    else:
        from azureml.core import Experiment, Run

        with mock_azureml(tmp_path / "ws") as mock:
            exp = Experiment(mock.workspace, "iris-pipeline")
            run_id = exp.start_logging(snapshot_directory=None).id
            yield lambda: Run(exp, run_id)


def champion_tags(run: Any) -> dict[str, str]:
    return {k: v for k, v in run.get_tags().items() if k.startswith("champion.")}


def test_a_different_verdict_adds_a_record_and_retags_the_run(attempt: Callable[[], Any]) -> None:
    write_record(attempt(), REJECTED)
    assert champion_tags(attempt()) == {
        "champion.outcome": "rejected",
        "champion.record": DECISION_ARTIFACT,
        "champion.model": "iris",
    }

    written = write_record(attempt(), FIRST)  # the retry after the champion was deleted

    run = attempt()
    assert record_names(run.get_file_names()) == [DECISION_ARTIFACT, SECOND]
    assert read_record(run) == written == FIRST.to_dict()
    assert champion_tags(run) == {
        "champion.outcome": "first",
        "champion.version": "2",
        "champion.record": SECOND,
        "champion.model": "iris",
    }

    # A later rejection takes the version tag away: it no longer describes the newest record.
    write_record(attempt(), REJECTED_AGAIN)
    run = attempt()
    assert record_names(run.get_file_names()) == [DECISION_ARTIFACT, SECOND, THIRD]
    assert read_record(run) == REJECTED_AGAIN.to_dict()
    assert champion_tags(run) == {
        "champion.outcome": "rejected",
        "champion.record": THIRD,
        "champion.model": "iris",
    }


def test_the_same_verdict_again_adds_no_record(attempt: Callable[[], Any]) -> None:
    write_record(attempt(), REJECTED)
    assert write_record(attempt(), REJECTED) == REJECTED.to_dict()
    write_record(attempt(), FIRST)
    # a retry that finds the version this run registered restates it: the record of the
    # registration itself (outcome "first") stays the newest
    assert write_record(attempt(), RESTATED) == FIRST.to_dict()
    write_record(attempt(), FIRST)
    run = attempt()
    assert record_names(run.get_file_names()) == [DECISION_ARTIFACT, SECOND]
    assert champion_tags(run)[RECORD_TAG] == SECOND


def test_a_stop_between_upload_and_tagging_is_detectable_and_the_retry_repairs_it(
    attempt: Callable[[], Any],
) -> None:
    write_record(attempt(), REJECTED)
    cut_short = attempt()

    def killed(tags: Any) -> None:
        raise KeyboardInterrupt("the step was stopped here")

    cut_short.set_tags = killed
    with pytest.raises(KeyboardInterrupt):
        write_record(cut_short, FIRST)

    run = attempt()
    name, newest = newest_record(run) or ("", {})
    assert (name, newest) == (SECOND, FIRST.to_dict())  # readers take the newest record
    assert champion_tags(run) != tags_for(name, newest)  # and can tell the tags are older
    assert champion_tags(run)[RECORD_TAG] == DECISION_ARTIFACT

    write_record(attempt(), FIRST)  # the retry decides the same: it re-tags, adds nothing

    run = attempt()
    assert record_names(run.get_file_names()) == [DECISION_ARTIFACT, SECOND]
    assert champion_tags(run) == tags_for(SECOND, FIRST.to_dict())


def test_an_empty_record_left_by_a_failed_transfer_is_not_a_verdict(
    attempt: Callable[[], Any],
) -> None:
    write_record(attempt(), REJECTED)
    attempt().upload_file(SECOND, io.BytesIO(b""))  # the artifact exists, its bytes never came
    assert read_record(attempt()) == REJECTED.to_dict()

    write_record(attempt(), FIRST)

    run = attempt()
    assert record_names(run.get_file_names()) == [DECISION_ARTIFACT, SECOND, THIRD]
    assert read_record(run) == FIRST.to_dict()
    assert champion_tags(run)[RECORD_TAG] == THIRD
