"""The v2 backend's own promises, beyond the scenarios every backend passes
(test_gate_scenarios.py): one PUT per registration with an explicit version, a lost answer found
and never registered twice, a race detected and recorded, the backend chosen inside a v2 job,
and one history with the decisions v1 steps made on the same model.

Everything runs under `mock_azure_ai_ml()` with the real azure-ai-ml; faults are injected at the
fake's router, where the service would lose an answer or another gate would register.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from gate_targets import AzureMLV2Target

from champion import MetricError, Outcome, Policy, RegisterRequest, register_if_better
from champion.record import read_record

PUT = "ModelVersions.createOrUpdate"


@pytest.fixture
def v2(tmp_path: Path) -> Iterator[AzureMLV2Target]:
    from azure.ai.ml import MLClient
    from azure.identity import DefaultAzureCredential

    target = AzureMLV2Target(tmp_path)
    # the backend's own client: azure-core's retries off, as `_ml_client()` builds it
    target.workspace._ml_client = MLClient(
        DefaultAzureCredential(), "sub", "rg", "ws", retry_total=0
    )
    yield target
    target.close()


@pytest.fixture
def model(tmp_path: Path) -> Path:
    path = tmp_path / "model.pkl"
    path.write_bytes(b"weights")
    return path


def ask(model: Path) -> RegisterRequest:
    return RegisterRequest("iris", model, Policy(), build_number="7")


def decide(v2: AzureMLV2Target, model: Path, value: str) -> Any:
    made = v2.pipeline_run({"accuracy": value})
    return register_if_better(made.step, ask(model)), made


def after(v2: AzureMLV2Target, operation: str, then: Callable[[], None], nth: int = 1) -> None:
    """Call `then` right after the service has answered `operation` for the `nth` time from
    now (calls `then` itself makes do not count)."""
    router = v2.mock.transport.router
    answer = router.answer
    seen, busy = [0], [False]

    def answering(request: Any) -> Any:
        reply = answer(request)
        if not busy[0] and router.calls and router.calls[-1].operation == operation:
            seen[0] += 1
            if seen[0] == nth:
                busy[0] = True
                try:
                    then()
                finally:
                    busy[0] = False
        return reply

    router.answer = answering  # type: ignore[method-assign]


def test_a_win_is_one_put_of_an_explicit_version_with_every_property(v2, model):
    decide(v2, model, "0.9")
    start = len(v2.mock.calls)
    record, made = decide(v2, model, "0.95")
    assert (record.decision.outcome, record.registered_version) == (Outcome.PROMOTED, 2)
    puts = [c for c in v2.mock.calls[start:] if c.operation == PUT]
    assert len(puts) == 1 and puts[0].path.endswith("/models/iris/versions/2")
    stored = puts[0].body["properties"]["properties"]
    assert stored["accuracy"] == "0.95" and stored["build_number"] == "7"
    assert stored["champion.parent_run_id"] == made.parent.id
    assert len(stored["artifact_sha256"]) == 64
    # the files are the pipeline run's: the version links to its job, nothing uploaded twice
    uri = puts[0].body["properties"]["modelUri"]
    assert uri == f"azureml://jobs/{made.parent.id}/outputs/artifacts/paths/outputs/iris"
    assert v2.ml_client.models.get("iris", version="2").job_name == made.parent.id


@pytest.mark.parametrize(
    ("second", "expected"),
    [
        ("0.95", ["ModelVersions.list", "ModelVersions.list", PUT]),
        ("0.85", ["ModelVersions.list"]),
    ],
    ids=["win", "loss"],
)
def test_a_decision_makes_only_the_model_registry_calls_it_needs(v2, model, second, expected):
    """The champion (one list), and for a winner the race re-read and the one PUT of the
    version after the champion (no `nextVersion` read while that number is free): a call
    added to the v2 path fails here (bench/README.md, azure_v2, says why each stays)."""
    decide(v2, model, "0.9")
    start = len(v2.mock.calls)
    decide(v2, model, second)
    assert [c.operation for c in v2.mock.calls[start:]] == expected


def test_a_registration_whose_answer_was_lost_is_found_not_repeated(v2, model):
    decide(v2, model, "0.9")

    def lose_the_answer() -> None:
        raise requests.exceptions.ConnectionError("connection reset after the PUT landed")

    after(v2, PUT, lose_the_answer)
    record, made = decide(v2, model, "0.95")
    assert (record.decision.outcome, record.registered_version) == (Outcome.PROMOTED, 2)
    assert v2.versions() == [1, 2]  # one version, not two
    assert [c.operation for c in v2.mock.calls].count(PUT) == 2  # v1's, and ours once
    on_run = read_record(made.parent)
    assert on_run is not None and on_run["registered_version"] == 2


def test_a_retried_step_finds_its_version_and_registers_nothing_new(v2, model):
    made = v2.pipeline_run({"accuracy": "0.9"})
    first = register_if_better(made.step, ask(model))
    again = register_if_better(made.step, ask(model))
    assert again.decision.outcome is Outcome.ALREADY_REGISTERED
    assert again.registered_version == first.registered_version == 1
    assert v2.versions() == [1]


def _intruder(v2: AzureMLV2Target, tmp_path: Path) -> Callable[[], None]:
    """Another writer registering the next version of `iris` through the SDK."""
    from azure.ai.ml.entities import Model

    other = tmp_path / "other.pkl"
    other.write_bytes(b"other weights")

    def register() -> None:
        v2.ml_client.models.create_or_update(
            Model(name="iris", path=other, properties={"accuracy": "0.1"})
        )

    return register


def test_a_race_is_detected_recorded_and_no_version_is_overwritten(v2, model, tmp_path):
    decide(v2, model, "0.9")
    # after the champion's re-read (the decision's second list), another writer registers
    # version 2: the service refuses our PUT of version 2, ours becomes version 3 (read from
    # `nextVersion`), and the record says there was a race
    after(v2, "ModelVersions.list", _intruder(v2, tmp_path), nth=2)
    record, made = decide(v2, model, "0.95")
    assert record.registered_version == 3 and record.race_detected
    assert v2.versions() == [1, 2, 3]
    ours = v2.ml_client.models.get("iris", version="3")
    assert ours.properties["champion.parent_run_id"] == made.parent.id
    theirs = v2.ml_client.models.get("iris", version="2")
    assert theirs.properties["accuracy"] == "0.1"  # untouched
    tags = made.parent.get_tags()
    assert tags["champion.race_detected"] == "True"


@pytest.mark.parametrize("how", ["archived", "deleted"])
def test_a_number_after_the_champion_that_is_used_up_is_skipped(v2, model, tmp_path, how):
    """The version after the champion is tried first; when a newer version was archived (it
    exists) or deleted (Azure never creates its number again), the service refuses the PUT,
    and the registration goes to the container's `nextVersion`: never an error, never a
    version overwritten."""
    decide(v2, model, "0.9")
    _intruder(v2, tmp_path)()  # version 2, then taken out of the way
    if how == "archived":
        v2.ml_client.models.archive("iris", "2")
    else:
        v2.mock.store.delete_model("iris", 2)
    start = len(v2.mock.calls)
    record, _ = decide(v2, model, "0.95")
    assert (record.decision.outcome, record.registered_version) == (Outcome.PROMOTED, 3)
    # version 2 tried and refused, then `nextVersion` read and version 3 sent
    sent = [(c.operation, c.status, c.path.rsplit("/", 1)[-1]) for c in v2.mock.calls[start:]]
    registering = [s for s in sent if s[0] in (PUT, "ModelContainers.get")]
    assert [(op, path) for op, _, path in registering] == [
        (PUT, "2"),
        ("ModelContainers.get", "iris"),
        (PUT, "3"),
    ]
    assert registering[0][1] in (400, 409) and registering[2][1] in (200, 201)
    assert v2.ml_client.models.get("iris", version="3").properties["accuracy"] == "0.95"
    if how == "archived":  # untouched, still archived
        assert v2.ml_client.models.get("iris", version="2").properties["accuracy"] == "0.1"


def test_racing_gates_end_on_the_best_a_worse_latest_is_covered_by_a_copy(v2, model):
    """Another gate promotes 0.99 between our champion read and our registration: ours (0.95,
    judged against 0.9) lands on top, so the latest is not the best; the gate registers the
    0.99's files again as the newest version (`race_repaired`), as on v1 (issue 28's rule)."""
    decide(v2, model, "0.9")
    after(v2, "ModelVersions.list", lambda: decide(v2, model, "0.99"), nth=2)
    record, _ = decide(v2, model, "0.95")
    assert record.registered_version == 3 and record.race_detected
    assert v2.versions() == [1, 2, 3, 4]
    latest = v2.ml_client.models.get("iris", version="4")
    assert latest.properties["accuracy"] == "0.99"
    assert latest.properties["champion.outcome"] == "race_repaired"
    assert record.race is not None and record.race["best"] == 2
    assert [r["copy_of"] for r in record.race["repairs"]] == [2]


@pytest.mark.parametrize(
    ("stored", "refusal"),
    [({}, "has no artifact_sha256 property"), ({"artifact_sha256": "0" * 64}, "hash to")],
    ids=["registered-outside-the-gate", "files-that-do-not-match"],
)
def test_a_download_that_cannot_be_verified_writes_nothing(v2, tmp_path, stored, refusal):
    """`champion models download` / a rollback's copy on v2: a version without its digest, or
    whose files hash to something else, is refused and nothing lands in the target."""
    from azure.ai.ml.entities import Model

    from champion import ChampionError
    from champion.registry.azureml_v2 import AzureMLV2Registry

    other = tmp_path / "other.pkl"
    other.write_bytes(b"other weights")
    v2.ml_client.models.create_or_update(Model(name="iris", path=other, properties=stored))
    target = tmp_path / "out"
    with pytest.raises(ChampionError, match=refusal):
        AzureMLV2Registry(v2.workspace).download("iris", 1, target)
    assert not target.exists() or list(target.iterdir()) == []


def test_a_missing_metric_changes_nothing(v2, model):
    made = v2.pipeline_run({})
    with pytest.raises(MetricError, match="no 'accuracy' tag"):
        register_if_better(made.step, ask(model))
    assert made.parent.file_names() == [] and v2.versions() == []


V2_JOB = {"AZUREML_RUN_ID": "j1", "MLFLOW_TRACKING_URI": "azureml://x"}


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({**V2_JOB, "AZURE_ML_INPUT_model": "/mnt/model"}, "azureml-v2"),
        ({**V2_JOB, "AZUREML_DATAREFERENCE_model_dir": "/mnt/model"}, "azureml"),
        ({"AZUREML_RUN_ID": "j1", "AZURE_ML_OUTPUT_decision": "/mnt/d"}, "azureml"),
        ({**V2_JOB, "AZURE_ML_OUTPUT_d": "/mnt/d", "CHAMPION_BACKEND": "azureml"}, "azureml"),
    ],
    ids=["v2-job", "v1-step", "no-mlflow", "explicit"],
)
def test_the_backend_is_chosen_by_the_job_azure_runs(monkeypatch, env, expected):
    """A v2 job has MLflow's tracking URI and AZURE_ML_INPUT_/OUTPUT_ variables; a v1 step has
    AZUREML_DATAREFERENCE_ ones; CHAMPION_BACKEND always wins."""
    from champion.context import backend_name

    for name in list(__import__("os").environ):
        if name.startswith(("AZURE_ML_", "AZUREML_", "MLFLOW_", "CHAMPION_BACKEND")):
            monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert backend_name() == expected


def test_decisions_of_v1_and_v2_steps_on_one_model_are_one_history(model, tmp_path):
    """A team moving a pipeline from v1 to v2 keeps its model: the v2 step's champion is the
    one the v1 step registered, each SDK's steps see the other's decisions, and `champion
    models history` lists them all in one timeline."""
    import json
    import subprocess
    import sys

    from gate_targets import AzureMLTarget

    v1 = AzureMLTarget(tmp_path)  # one workspace folder, through azureml-core ...
    v2 = AzureMLV2Target(tmp_path)  # ... and through azure-ai-ml
    try:
        first = register_if_better(v1.pipeline_run({"accuracy": "0.9"}).step, ask(model))
        loss, _ = decide(v2, model, "0.8")
        win, _ = decide(v2, model, "0.95")
        back = register_if_better(v1.pipeline_run({"accuracy": "0.93"}).step, ask(model))
    finally:
        v2.close()
        v1.close()
    assert [r.decision.outcome for r in (first, loss, win, back)] == [
        Outcome.FIRST, Outcome.REJECTED, Outcome.PROMOTED, Outcome.REJECTED,
    ]  # fmt: skip
    assert (loss.decision.champion, win.decision.champion) == (0.9, 0.9)
    assert back.decision.champion == 0.95 and back.decision.champion_version == 2
    done = subprocess.run(
        [str(Path(sys.executable).parent / "champion"), "models", "history", "iris",
         "--workspace", str(tmp_path / "ws"), "--format", "json"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    entries = [(e["outcome"], e["challenger"], e["version"]) for e in json.loads(done.stdout)]
    assert entries == [
        ("first", "0.9", 1), ("rejected", "0.8", None), ("promoted", "0.95", 2),
        ("rejected", "0.93", None),
    ]  # fmt: skip


def _counted_mlflow(v2: AzureMLV2Target) -> list[str]:
    """The MLflow requests the job's endpoint answers from now on (`METHOD path`)."""
    server = v2.mock._tracking
    assert server is not None
    answer, seen = server.answer, []

    def counting(method, path, query, body):  # type: ignore[no-untyped-def]
        seen.append(f"{method} {path.rsplit('/', 2)[-2]}/{path.rsplit('/', 1)[-1]}")
        return answer(method, path, query, body)

    server.answer = counting  # type: ignore[method-assign]
    return seen


@pytest.mark.parametrize(
    "hint", ["the-pipeline", "another-pipeline", "no-such-run", "malformed", "unset"]
)
def test_a_step_finds_its_pipeline_run_and_never_trusts_the_root_hint_unchecked(
    v2, monkeypatch, hint
):
    """Inside a v2 node, `AZUREML_ROOT_RUN_ID` names the pipeline job: its run and its steps
    are read (what the gate reads anyway) and the step's own run is found among them, with
    no request of its own. A hint that names another run, or none, is checked and the step's
    real parent is read instead."""
    from champion.registry.azureml_v2 import current_run

    made = v2.pipeline_run(step_metrics={"accuracy": 0.9})
    other = v2.pipeline_run()
    roots = {
        "the-pipeline": made.parent.id,
        "another-pipeline": other.parent.id,
        "no-such-run": "0" * 32,
        "malformed": "not a run/id",
        "unset": None,
    }
    monkeypatch.setenv("MLFLOW_TRACKING_URI", v2.mock.tracking_uri)
    monkeypatch.setenv("MLFLOW_RUN_ID", made.step.id)
    if roots[hint] is None:
        monkeypatch.delenv("AZUREML_ROOT_RUN_ID", raising=False)
    else:
        monkeypatch.setenv("AZUREML_ROOT_RUN_ID", roots[hint])
    requests_made = _counted_mlflow(v2)
    step = current_run()
    parent = step.parent_run()
    assert step.id == made.step.id and parent is not None and parent.id == made.parent.id
    steps = {s.name: s for s in parent.step_runs()}
    assert steps["train"].metrics == {"accuracy": 0.9} and set(steps) == {"train", "register"}
    if hint == "the-pipeline":  # the pipeline run and its steps: two requests in all
        assert requests_made == ["GET runs/get", "POST runs/search"]
    else:  # never fewer requests than reading the step's run, then its parent, then its steps
        assert requests_made[-3:] == ["GET runs/get", "GET runs/get", "POST runs/search"]
