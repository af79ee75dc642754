"""The Azure ML path makes only the service calls the decision needs, counted at the REST edge
(`mock_azureml().calls`: the real azureml.core classes, answered by the local store). The table
in bench/README.md says why each one stays; a call added anywhere in the flow fails here."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from champion import Outcome, Policy, RegisterRequest, register_if_better
from champion.errors import ConflictError, InfrastructureError
from champion.local import Model, Run, mock_azureml
from champion.record import read_record
from champion.testing import make_pipeline_run

STEPS = {"train": {}, "register": {}}

# Before the decision: the pipeline run and its step runs (one run query, `RootRunId eq`), the
# champion (one query). The run's files are not listed: the run holds no record yet, and Azure
# ML refuses an upload to a taken name, which is when a retried step lists them. A rejection is
# final at first look, so its record is created in the model's batch (one artifact create, two
# blob uploads), then the run is tagged. A winner creates its record's name in the model's batch
# too and uploads the model, reads the champion again just before registering (the race
# re-read), creates the asset and the model, then transfers its record's bytes to the name it
# reserved and tags the run.
LOSS = Counter(
    {
        "runs.query": 1,
        "models.query": 1,
        "artifacts.create": 1,
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
    make_workspace, model: Path, accuracies, outcome, expected
) -> None:
    from azureml.core import Run

    ws = make_workspace()
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


def test_a_winners_record_goes_to_the_name_reserved_with_the_model(
    make_workspace, model: Path
) -> None:
    ws = make_workspace()
    with mock_azureml(ws.path) as aml:
        tree, step = _step_of(aml, ws, "0.9")
        aml.calls.clear()
        record = register_if_better(step, RegisterRequest("iris", model, Policy()))

    on_run = read_record(Run.get(ws, tree.parent.id))
    assert aml.calls.count("artifacts.create") == 1
    parent = Run.get(ws, tree.parent.id)
    assert sorted(parent.get_file_names()) == [
        "outputs/champion_decision.json",
        "outputs/iris/model.pkl",
    ]
    assert on_run is not None and on_run["registered_version"] == record.registered_version == 1
    assert parent.get_tags()["champion.record"] == "outputs/champion_decision.json"


def test_a_model_folder_goes_up_in_one_batch_with_its_record_name(
    make_workspace, tmp_path: Path
) -> None:
    """Every file of a folder model and the record's name in one create call; the files'
    transfers overlap; the downloaded version holds exactly the folder."""
    ws = make_workspace()
    folder = tmp_path / "model"
    (folder / "sub").mkdir(parents=True)
    contents = {"model.pkl": b"weights", "scaler.pkl": b"scaler", "sub/vocab.txt": b"a b c"}
    for relative, data in contents.items():
        (folder / relative).write_bytes(data)
    with mock_azureml(ws.path) as aml:
        _, step = _step_of(aml, ws, "0.9")
        aml.calls.clear()
        record = register_if_better(step, RegisterRequest("iris", folder, Policy()))

    assert record.registered_version == 1
    assert aml.calls.count("artifacts.create") == 1
    assert aml.calls.count("artifacts.upload") == len(contents) + 1
    target = Path(Model(ws, "iris").download(str(tmp_path / "dl")))
    got = {
        p.relative_to(target).as_posix(): p.read_bytes() for p in target.rglob("*") if p.is_file()
    }
    assert got == contents


def test_a_transfer_that_fails_mid_batch_is_retried_under_a_fresh_prefix(
    make_workspace, tmp_path: Path
) -> None:
    """One file of a folder model fails to transfer (every retry of the batch then finds its
    names taken): the files are listed, the empty leftover is stepped past, the whole model
    goes up again under `outputs/<name>.retry1`, and that is what the version holds."""
    ws = make_workspace()
    folder = tmp_path / "model"
    folder.mkdir()
    contents = {"a.pkl": b"a weights", "b.pkl": b"b weights", "c.pkl": b"c weights"}
    for relative, data in contents.items():
        (folder / relative).write_bytes(data)
    with mock_azureml(ws.path) as aml:
        tree, step = _step_of(aml, ws, "0.9")
        aml.inject_fault("artifacts.upload", 500, after=1)
        record = register_if_better(step, RegisterRequest("iris", folder, Policy()))

    assert record.registered_version == 1
    assert record.artifact_path == "outputs/iris.retry1"
    target = Path(Model(ws, "iris").download(str(tmp_path / "dl")))
    got = {
        p.relative_to(target).as_posix(): p.read_bytes() for p in target.rglob("*") if p.is_file()
    }
    assert got == contents
    parent = Run.get(ws, tree.parent.id)
    on_run = read_record(parent)
    assert on_run is not None and on_run["registered_version"] == 1
    # the record goes to the name reserved with the first batch: one record, no empty leftover
    assert [f for f in parent.get_file_names() if "champion_decision" in f] == [
        "outputs/champion_decision.json"
    ]
    assert parent.get_tags()["champion.record"] == "outputs/champion_decision.json"


def test_a_record_whose_write_url_storage_refuses_gets_a_fresh_one_once(
    make_workspace, model: Path
) -> None:
    """The write URL handed out with the model's batch is used after the model's transfer and
    the registration; if storage refuses it by then (an expired SAS), one fresh URL is asked
    for and the record still lands under its reserved name."""
    ws = make_workspace()
    with mock_azureml(ws.path) as aml:
        tree, step = _step_of(aml, ws, "0.9")
        aml.inject_fault("artifacts.upload", 403, after=1)  # the model's goes through
        aml.calls.clear()
        record = register_if_better(step, RegisterRequest("iris", model, Policy()))

    on_run = read_record(Run.get(ws, tree.parent.id))
    assert record.decision.outcome is Outcome.FIRST
    assert aml.calls.count("artifacts.get_write_sas") == 1
    assert aml.calls.count("artifacts.upload") == 3  # the model, the refused try, the record
    assert on_run is not None and on_run["outcome"] == "first"
    assert Run.get(ws, tree.parent.id).get_tags()["champion.outcome"] == "first"


def test_a_step_that_fails_after_reserving_leaves_an_empty_name_the_retry_steps_past(
    make_workspace, model: Path
) -> None:
    """The registration fails (the service refuses it): the reserved record name stays empty,
    which no reader takes for a verdict; the retry registers once and records under the next
    name."""
    ws = make_workspace()
    request = RegisterRequest("iris", model, Policy())
    with mock_azureml(ws.path) as aml:
        tree, step = _step_of(aml, ws, "0.9")
        aml.inject_fault("models.register", 400)
        with pytest.raises(InfrastructureError, match="registering iris failed: HTTP 400"):
            register_if_better(step, request)
        parent = Run.get(ws, tree.parent.id)
        assert read_record(parent) is None  # the empty reservation is not a verdict
        assert "champion.outcome" not in parent.get_tags()
        assert aml.workspace.models == {}

        record = register_if_better(step, request)

    on_run = read_record(Run.get(ws, tree.parent.id))
    assert record.decision.outcome is Outcome.FIRST
    assert [int(m.version) for m in Model.list(ws, name="iris")] == [1]
    assert on_run is not None and on_run["outcome"] == "first"
    tags = Run.get(ws, tree.parent.id).get_tags()
    assert tags["champion.record"] == "outputs/champion_decision.2.json"
    assert tags["champion.version"] == "1"


@pytest.fixture
def model(tmp_path: Path) -> Path:
    path = tmp_path / "model.pkl"
    path.write_bytes(b"weights")
    return path


def _step_of(aml, ws, accuracy: str):
    from azureml.core import Run

    tree = make_pipeline_run(ws, {"accuracy": accuracy}, STEPS)
    return tree, Run.get(aml.workspace, tree.steps["register"].id)


def test_a_retry_after_an_attempt_that_died_mid_upload_lists_the_files_and_reuses_them(
    make_workspace, model: Path
) -> None:
    """The run holds no record, so nothing is listed up front; the model's name is taken by an
    attempt that died before recording, which the upload finds out: then the files are listed,
    the same bytes reused, and the decision made once."""
    ws = make_workspace()
    request = RegisterRequest("iris", model, Policy())
    with mock_azureml(ws.path) as aml:
        tree, step = _step_of(aml, ws, "0.9")
        tree.parent.upload_file("outputs/iris/model.pkl", str(model))  # the dead attempt's
        aml.calls.clear()
        record = register_if_better(step, request)

    assert record.decision.outcome is Outcome.FIRST
    assert record.registered_version == 1
    assert aml.calls.count("artifacts.list") == 1
    assert aml.calls.count("artifacts.upload") == 1  # the record's; the model's was reused
    assert record.artifact_path == "outputs/iris"


def test_a_retry_after_an_attempt_that_died_mid_upload_with_other_bytes_is_refused(
    make_workspace, model: Path, tmp_path: Path
) -> None:
    ws = make_workspace()
    other = tmp_path / "other.pkl"
    other.write_bytes(b"other weights")
    with mock_azureml(ws.path) as aml:
        tree, step = _step_of(aml, ws, "0.9")
        tree.parent.upload_file("outputs/iris/model.pkl", str(other))
        with pytest.raises(ConflictError, match="already on pipeline run"):
            register_if_better(step, RegisterRequest("iris", model, Policy()))
        assert aml.workspace.models == {}  # nothing registered
        assert "champion.outcome" not in Run.get(ws, tree.parent.id).get_tags()


def test_a_retry_after_an_attempt_that_died_after_registering_answers_already_registered(
    make_workspace, model: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The attempt registered and died before its record: the run holds no record, but the
    champion the first look reads is this run's own, so the retry says so and registers
    nothing."""
    import champion.judge

    ws = make_workspace()
    request = RegisterRequest("iris", model, Policy())

    def die(name: str) -> None:
        if name == "gate.registered":
            raise KeyboardInterrupt(name)

    with mock_azureml(ws.path) as aml:
        tree, step = _step_of(aml, ws, "0.9")
        monkeypatch.setattr(champion.judge, "failpoint", die)
        with pytest.raises(KeyboardInterrupt):
            register_if_better(step, request)
        monkeypatch.undo()
        aml.calls.clear()
        record = register_if_better(step, request)

    assert record.decision.outcome is Outcome.ALREADY_REGISTERED
    assert record.registered_version == 1
    # told at first look: the model is not offered for upload again, only the record goes up
    assert aml.calls.count("artifacts.create") == 1, aml.calls
    assert [int(m.version) for m in Model.list(ws, name="iris")] == [1]
    tags = Run.get(ws, tree.parent.id).get_tags()
    assert tags["champion.version"] == "1"


def test_a_rejection_on_a_run_an_attempt_died_on_lists_and_records_once(
    make_workspace, model: Path
) -> None:
    """A rejection's record goes up in the model's batch; when the batch finds a name taken
    (the dead attempt's model), the files are listed and the record written after them."""
    ws = make_workspace()
    request = RegisterRequest("iris", model, Policy())
    with mock_azureml(ws.path) as aml:
        _, first = _step_of(aml, ws, "0.95")
        register_if_better(first, request)
        tree, step = _step_of(aml, ws, "0.9")
        tree.parent.upload_file("outputs/iris/model.pkl", str(model))
        record = register_if_better(step, request)

    assert record.decision.outcome is Outcome.REJECTED
    parent = Run.get(ws, tree.parent.id)
    assert parent.get_tags()["champion.outcome"] == "rejected"
    assert sorted(parent.get_file_names()) == [
        "outputs/champion_decision.json",
        "outputs/iris/model.pkl",
    ]


def test_the_pipeline_run_and_its_step_runs_come_in_one_query_and_only_direct_children_count(
    make_workspace, model: Path
) -> None:
    """A training step's own child run (a sweep's trial) is in the same tree: it is not a step
    run, so its tag neither feeds nor contradicts the challenger's metric."""
    ws = make_workspace()
    with mock_azureml(ws.path) as aml:
        tree, step = _step_of(aml, ws, "0.9")
        trial = tree.steps["train"].child_run(name="trial")
        trial.set_tags({"accuracy": "0.99"})
        aml.calls.clear()
        record = register_if_better(step, RegisterRequest("iris", model, Policy()))

    assert record.decision.outcome is Outcome.FIRST
    assert record.challenger_source.startswith("pipeline run")
    assert aml.calls.count("runs.query") == 1
    assert not {"runs.get", "runs.get_children"} & set(aml.calls)


def test_a_pipeline_run_that_is_not_the_root_is_read_with_a_get(
    make_workspace, model: Path
) -> None:
    """A sub-pipeline's step: its pipeline run is not the root of the tree, so the one query
    does not apply; the run is fetched and its step runs listed, as before."""
    from champion.local import Experiment

    ws = make_workspace()
    outer = Experiment(ws, "pipeline").start_logging()
    inner = outer.child_run(name="sub-pipeline")
    inner.set_tags({"accuracy": "0.9"})
    inner.child_run(name="train")
    register = inner.child_run(name="register")
    with mock_azureml(ws.path) as aml:
        from azureml.core import Run as SdkRun

        step = SdkRun.get(aml.workspace, register.id)
        aml.calls.clear()
        record = register_if_better(step, RegisterRequest("iris", model, Policy()))

    assert record.decision.outcome is Outcome.FIRST
    assert record.parent_run_id == inner.id
    assert {"runs.get", "runs.get_children"} <= set(aml.calls)


def test_a_dry_run_whose_record_name_another_attempt_took_records_under_the_next(
    make_workspace, model: Path, tmp_path: Path
) -> None:
    """An untouched run is written to without a listing; when the record's name is taken (an
    attempt that died before tagging), the run is listed and the record goes under the next
    name, tagged, instead of failing the step."""
    ws = make_workspace()
    with mock_azureml(ws.path) as aml:
        tree, step = _step_of(aml, ws, "0.9")
        earlier = tmp_path / "earlier.json"  # the dead attempt's record, another verdict
        earlier.write_text('{"model_name": "iris", "outcome": "rejected"}')
        tree.parent.upload_file("outputs/champion_decision.json", str(earlier))
        record = register_if_better(step, RegisterRequest("iris", model, Policy(), dry_run=True))

    assert record.decision.outcome is Outcome.WOULD_PROMOTE
    tags = Run.get(ws, tree.parent.id).get_tags()
    assert tags["champion.record"] == "outputs/champion_decision.2.json"
    assert tags["champion.outcome"] == "would_promote"
