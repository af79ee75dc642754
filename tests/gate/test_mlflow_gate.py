"""The register step on MLflow as real processes, and the MLflow backend's failures.

On both MLflow targets (a `sqlite:///` URI and a real `mlflow server`): the packaged step run as
`python -m champion.steps.register` with `MLFLOW_RUN_ID` set, a SIGKILL between the version's
creation and the alias move (the old champion stays; the retry finishes the move, never a
second version), a race made on purpose (a paused step whose alias was moved by another), and 8
challengers at once. Against the server, faults at the HTTP edge (`champion.testing.mlflow.
HttpEdge`): 401, 403, 500 and a stalled answer on the champion lookup fail closed; a single 500
is retried; a server without aliases falls back to the latest version, and the record says so.
A model whose champion's version was deleted (no version holds the alias) is refused, never
"first"; each call after the alias move failing for good, or a SIGKILL right after it, leaves
one line saying where the alias is and a record where one can be written; history shows only
the alias moves that were recorded.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from gate_targets import MLFLOW_TARGETS, Made, MlflowTarget, target_params

from champion import InfrastructureError, Outcome, Policy, RegisterRequest
from champion.record import read_record

pytestmark = pytest.mark.slow


@pytest.fixture(params=target_params(MLFLOW_TARGETS))
def target(request: pytest.FixtureRequest, tmp_path: Path) -> MlflowTarget:
    if request.param == "mlflow-sqlite":
        uri = request.getfixturevalue("mlflow_sqlite")
        return MlflowTarget(request.param, uri, tmp_path / "artifacts")
    return MlflowTarget(request.param, request.getfixturevalue("mlflow_server").url, None)


@pytest.fixture
def model(tmp_path: Path) -> Path:
    path = tmp_path / "model.pkl"
    path.write_bytes(b"weights")
    return path


def step_env(target: MlflowTarget, made: Made, **extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("CHAMPION_", "MLFLOW_RUN_ID", "AZUREML_"))
    }
    env.update(
        {
            "MLFLOW_TRACKING_URI": target.ws.tracking_uri,
            "MLFLOW_RUN_ID": made.step.id,
            "CHAMPION_BACKEND": "mlflow",
            "CHAMPION_RETRY_BASE_SECONDS": "0.01",
        }
    )
    env.update(extra)
    return env


def start_step(target: MlflowTarget, made: Made, model: Path, *args: str, **env: str):
    command = [sys.executable, "-m", "champion.steps.register", "--model-name"]
    command += [target.model_name, "--model-path", str(model), *args]
    return subprocess.Popen(
        command,
        env=step_env(target, made, **env),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def run_step(target: MlflowTarget, made: Made, model: Path, *args: str, **env: str):
    proc = start_step(target, made, model, *args, **env)
    out, err = proc.communicate(timeout=180)
    return proc.returncode, out, err


def test_the_packaged_step_gates_on_mlflow(target, model):
    made = target.pipeline_run({"accuracy": "0.9"})
    code, out, err = run_step(target, made, model, "--build-number", "7")
    assert code == 0, err
    assert out.startswith(f"champion: first as {target.model_name}:1")
    better = target.pipeline_run({"accuracy": "0.95"})
    code, out, err = run_step(target, better, model)
    assert code == 0, err
    assert "promoted" in out and target.alias_holder() == 2
    record = read_record(better.parent)
    assert record is not None and record["champion_rule"] == "the version holding alias 'champion'"
    files = better.parent.file_names()
    assert f"outputs/{target.model_name}/model.pkl" in files  # MLflow: <model>/model.pkl
    assert "outputs/champion_decision.json" in files  # MLflow: champion_decision.json


def test_outside_an_mlflow_run_the_step_says_so_in_one_line(target, model):
    made = target.pipeline_run({"accuracy": "0.9"})
    code, out, err = run_step(target, made, model, MLFLOW_RUN_ID="")
    assert code == 2 and out == ""
    (line,) = err.strip().splitlines()
    assert "MLFLOW_RUN_ID" in line and "champion register --backend mlflow" in line
    assert target.versions() == []


def test_a_missing_sqlite_database_is_refused_not_created(target, model, tmp_path):
    made = target.pipeline_run({"accuracy": "0.9"})
    missing = tmp_path / "typo" / "mlflow.db"
    code, _, err = run_step(target, made, model, MLFLOW_TRACKING_URI=f"sqlite:///{missing}")
    assert code == 2 and "no MLflow database at" in err
    assert not missing.exists()


def test_stage_and_alias_options(target, model):
    made = target.pipeline_run({"accuracy": "0.9"})
    options = ("--stage", "production", "--champion-alias", "prod")
    code, _, err = run_step(target, made, model, *options)
    assert code == 0, err
    version = target.ws.client.get_model_version(target.model_name, "1")
    assert version.current_stage == "Production" and version.aliases == ["prod"]
    bad = target.pipeline_run({"accuracy": "0.95"})
    code, _, err = run_step(target, bad, model, "--stage", "Live")
    assert code == 2 and "--stage 'Live' is not an MLflow stage" in err
    assert target.versions() == [1] and bad.parent.file_names() == []


def test_a_crash_between_registration_and_alias_move_keeps_the_old_champion(target, model):
    first = target.pipeline_run({"accuracy": "0.9"})
    assert run_step(target, first, model)[0] == 0
    made = target.pipeline_run({"accuracy": "0.95"})
    code, _, _ = run_step(target, made, model, CHAMPION_CRASH_AT="mlflow.version_created")
    assert code == -signal.SIGKILL
    assert target.versions() == [1, 2] and target.alias_holder() == 1  # old champion in place
    code, out, err = run_step(target, made, model)  # the retry of the same pipeline run
    assert code == 0, err
    assert "already_registered" in out
    assert target.versions() == [1, 2] and target.alias_holder() == 2  # the move is finished


def test_a_retry_does_not_move_an_alias_that_moved_on(target, model):
    """The crashed run's version lost its chance: another promotion happened since, so the
    retry leaves the alias where the later decision put it."""
    target.gate(target.pipeline_run({"accuracy": "0.9"}), _ask(target, model))
    crashed = target.pipeline_run({"accuracy": "0.95"})
    run_step(target, crashed, model, CHAMPION_CRASH_AT="mlflow.version_created")
    later = target.gate(target.pipeline_run({"accuracy": "0.97"}), _ask(target, model))
    assert later.registered_version == 3 and target.alias_holder() == 3
    code, out, _ = run_step(target, crashed, model)
    assert code == 0 and "already_registered" in out
    assert target.alias_holder() == 3 and target.versions() == [1, 2, 3]


@pytest.mark.parametrize("pause_at", ["mlflow.version_created", "mlflow.alias_checked"])
def test_an_alias_moved_by_another_writer_meanwhile_converges_on_the_best(target, model, pause_at):
    """A slow gate (A, 0.95) is paused after creating its version, or after reading the alias's
    holder; B (0.96) registers a later version and moves the alias meanwhile. A's move then
    lands on top of B's: the last move used to stand. Now A weighs both decisions (each made
    against v1) and moves the alias back to B's, the better: where a serial order ends."""
    target.gate(target.pipeline_run({"accuracy": "0.9"}), _ask(target, model))
    slow = target.pipeline_run({"accuracy": "0.95"})
    paused = start_step(target, slow, model, CHAMPION_PAUSE_AT=pause_at)
    try:
        _wait_stopped(paused.pid)
        other = target.gate(target.pipeline_run({"accuracy": "0.96"}), _ask(target, model))
        assert other.registered_version == 3 and target.alias_holder() == 3
        race = other.to_dict()["race"]
        assert other.race_detected and race["best"] == 3 and race["repairs"] == []
    finally:
        os.kill(paused.pid, signal.SIGCONT)
    out, err = paused.communicate(timeout=120)
    assert paused.returncode == 0, err
    assert "race detected" in out and "the champion is v3" in out
    record = read_record(slow.parent)
    assert record is not None and record["registered_version"] == 2
    assert record["race_detected"] is True
    assert record["race"]["repairs"] == [{"alias": "champion", "from": 2, "to": 3}]
    assert [s["version"] for s in record["race"]["saw"]] == [1, 2, 3]  # v1: no champion before
    assert slow.parent.get_tags()["champion.race_detected"] == "True"
    assert target.alias_holder() == 3


def test_a_better_paused_gate_is_made_champion_by_the_one_that_finished(target, model):
    """The other order: A (0.97) is paused between creating its version and moving the alias;
    B (0.96) decided against the same champion and finishes. B's version is not the best of
    the two decisions, so B moves the alias to A's version itself; A, resumed, finds it there."""
    target.gate(target.pipeline_run({"accuracy": "0.9"}), _ask(target, model))
    slow = target.pipeline_run({"accuracy": "0.97"})
    paused = start_step(target, slow, model, CHAMPION_PAUSE_AT="mlflow.version_created")
    try:
        _wait_stopped(paused.pid)
        other = target.gate(target.pipeline_run({"accuracy": "0.96"}), _ask(target, model))
        assert other.registered_version == 3 and target.alias_holder() == 2
        assert other.to_dict()["race"]["repairs"] == [{"alias": "champion", "from": 3, "to": 2}]
    finally:
        os.kill(paused.pid, signal.SIGCONT)
    _, err = paused.communicate(timeout=120)
    assert paused.returncode == 0, err
    assert target.alias_holder() == 2 and target.versions() == [1, 2, 3]


def test_eight_challengers_at_once(target, model):
    target.gate(target.pipeline_run({"accuracy": "0.5"}), _ask(target, model))
    runs = [target.pipeline_run({"accuracy": f"0.{60 + n}"}) for n in range(8)]
    procs = [start_step(target, made, model) for made in runs]
    results = [(p, *p.communicate(timeout=300)) for p in procs]
    for proc, _, err in results:
        assert proc.returncode == 0, err
    records = [read_record(made.parent) for made in runs]
    assert all(r is not None for r in records)
    registered = [r["registered_version"] for r in records if r["registered_version"]]
    assert len(registered) == len(set(registered))  # no version reported twice
    assert sorted(registered) == target.versions()[1:]  # every version is a decision's
    versions = target.registry().versions(target.model_name)
    by_version = {v.version: float(v.properties["accuracy"]) for v in versions}
    holder = target.alias_holder()
    assert by_version[holder] == max(by_version.values()), json.dumps(records, indent=1)
    for record in records:  # each decision names the version it compared with
        if record["registered_version"]:
            version = next(v for v in versions if v.version == record["registered_version"])
            expected = record["champion_version"]
            assert version.properties.get("champion.previous_version") == (
                None if expected is None else str(expected)
            )


def _ask(target: MlflowTarget, model: Path) -> RegisterRequest:
    return RegisterRequest(target.model_name, model, Policy(), build_number="1")


def _wait_stopped(pid: int, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with open(f"/proc/{pid}/stat") as fh:
            if fh.read().split(")")[-1].split()[0] == "T":
                return
        time.sleep(0.05)
    raise AssertionError(f"process {pid} never reached its pause point")


# ---------------------------------------------------------------------- faults at the HTTP edge


@pytest.fixture
def edge(mlflow_server) -> Iterator:
    from champion.testing.mlflow import HttpEdge

    with HttpEdge(mlflow_server.url) as proxy:
        yield proxy


@pytest.fixture
def fast_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHAMPION_RETRY_BASE_SECONDS", "0.01")
    monkeypatch.setenv("CHAMPION_RETRY_ATTEMPTS", "3")


ALIAS = "/registered-models/alias"


@pytest.mark.parametrize(
    ("status", "error_code"),
    [(401, "UNAUTHENTICATED"), (403, "PERMISSION_DENIED"), (500, None), (503, None)],
)
def test_a_failing_champion_lookup_fails_closed(edge, model, fast_retries, status, error_code):
    target = MlflowTarget("mlflow-server", edge.url, None)
    target.gate(target.pipeline_run({"accuracy": "0.9"}), _ask(target, model))
    made = target.pipeline_run({"accuracy": "0.95"})
    edge.clear()
    edge.fail("GET", ALIAS, status=status, error_code=error_code)
    with pytest.raises(InfrastructureError, match="nothing was registered") as caught:
        target.gate(made, _ask(target, model))
    assert f"HTTP {status}" in caught.value.message
    attempts = edge.count("GET", ALIAS)
    assert attempts == (3 if status >= 500 else 1)  # only 5xx is retried
    edge.clear()
    assert target.versions() == [1] and target.alias_holder() == 1
    assert made.parent.file_names() == []  # not even the model was uploaded


def test_a_stalled_lookup_is_a_timeout_that_fails_closed(edge, model, monkeypatch, fast_retries):
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "1")
    target = MlflowTarget("mlflow-server", edge.url, None)
    made = target.pipeline_run({"accuracy": "0.95"})
    edge.fail("GET", ALIAS, status=None, stall_s=3)
    with pytest.raises(InfrastructureError, match="after 3 attempts"):
        target.gate(made, _ask(target, model))
    edge.clear()
    assert target.versions() == []


def test_one_server_error_is_retried_and_the_gate_goes_on(edge, model, fast_retries):
    target = MlflowTarget("mlflow-server", edge.url, None)
    made = target.pipeline_run({"accuracy": "0.9"})
    edge.fail("GET", ALIAS, status=503, times=1)
    edge.fail("POST", "/model-versions/create", status=502, times=1)
    record = target.gate(made, _ask(target, model))
    assert record.decision.outcome is Outcome.FIRST and target.versions() == [1]


def test_a_concurrent_insert_of_the_alias_refused_by_the_store_is_retried(
    edge, model, fast_retries
):
    """Two gates moving a new model's alias at once: MLflow's store inserts the alias row for
    both and PostgreSQL refuses the second (a unique-key violation, answered as 400
    BAD_REQUEST). The same call again updates the row: retried, not a failed step."""
    target = MlflowTarget("mlflow-server", edge.url, None)
    collided = "(psycopg2.errors.UniqueViolation) duplicate key value violates unique constraint"
    edge.fail("POST", ALIAS, status=400, error_code="BAD_REQUEST", message=collided, times=1)
    record = target.gate(target.pipeline_run({"accuracy": "0.9"}), _ask(target, model))
    assert record.decision.outcome is Outcome.FIRST and target.alias_holder() == 1
    assert edge.count("POST", ALIAS) == 2


def test_a_win_never_reads_the_whole_registered_model(edge, model):
    """MLflow's answer to `get_registered_model` lists every version of the model, so its cost
    grows with the model (0.07 s at 1,000 versions, 0.4 s at 10,000 on PostgreSQL). A win (the
    champion read twice, the alias read before the move, the move, the race check) asks for
    the alias and the versions it needs instead, so a decision on a model with many versions
    costs what it does on a new one (bench/README.md, team: growth)."""
    target = MlflowTarget("mlflow-server", edge.url, None)
    target.gate(target.pipeline_run({"accuracy": "0.9"}), _ask(target, model))
    made = target.pipeline_run({"accuracy": "0.95"})
    edge.clear()
    record = target.gate(made, _ask(target, model))
    whole = edge.count("GET", "/registered-models/get")
    assert record.decision.outcome is Outcome.PROMOTED and record.registered_version == 2
    assert whole == 0, edge.requests
    assert target.alias_holder() == 2


def test_a_request_the_environment_changed_under_is_retried(edge, model, fast_retries):
    """MLflow's telemetry thread removes a variable while a request reads the proxy variables
    (`os.environ` raises KeyError): the request never left, and the same call again goes
    through, where it used to fail the step with exit 3."""
    import unittest.mock

    import requests.sessions

    real = requests.sessions.get_environ_proxies
    calls: list[str] = []

    def changing(url: str, no_proxy: object = None) -> object:
        calls.append(url)
        if len(calls) == 1:
            os.environ["CHAMPION_TEST_GONE"] = "1"
            del os.environ["CHAMPION_TEST_GONE"]
            return os.environ["CHAMPION_TEST_GONE"]  # KeyError, raised inside os
        return real(url, no_proxy=no_proxy)

    target = MlflowTarget("mlflow-server", edge.url, None)
    made = target.pipeline_run({"accuracy": "0.9"})
    with unittest.mock.patch.object(requests.sessions, "get_environ_proxies", changing):
        record = target.gate(made, _ask(target, model))
    assert record.decision.outcome is Outcome.FIRST and len(calls) > 1


def test_a_server_whose_search_does_not_know_version_number_is_listed_instead(
    edge, model, fast_retries
):
    """The race check after the alias move searches `version_number > N`; an older server that
    refuses the filter (400 INVALID_PARAMETER_VALUE) gets one listing of the versions instead:
    the decision goes through, no race is claimed, the alias names the new version."""
    target = MlflowTarget("mlflow-server", edge.url, None)
    target.gate(target.pipeline_run({"accuracy": "0.9"}), _ask(target, model))
    edge.clear()
    edge.fail(
        "GET", "/model-versions/search", status=400, times=1, error_code="INVALID_PARAMETER_VALUE"
    )
    record = target.gate(target.pipeline_run({"accuracy": "0.95"}), _ask(target, model))
    assert record.registered_version == 2 and not record.race_detected
    assert target.alias_holder() == 2
    assert edge.count("GET", "/model-versions/search") == 2  # refused, then the listing


def test_a_server_without_aliases_falls_back_to_the_latest_version(edge, model, fast_retries):
    target = MlflowTarget("mlflow-server", edge.url, None)
    edge.fail("GET", ALIAS, status=404)  # no JSON body: the endpoint does not exist
    edge.fail("POST", ALIAS, status=404)
    first = target.gate(target.pipeline_run({"accuracy": "0.9"}), _ask(target, model))
    second = target.gate(target.pipeline_run({"accuracy": "0.95"}), _ask(target, model))
    assert (first.registered_version, second.registered_version) == (1, 2)
    assert second.decision.champion_version == 1  # the latest version was the champion
    assert second.champion_rule.startswith("the latest version")
    assert "does not support model aliases" in second.champion_rule


def test_a_rollback_on_a_server_without_aliases_registers_the_files_again(
    edge, model, fast_retries, tmp_path
):
    """Where the latest version is the champion, a rollback makes a new version from the
    earlier version's source, as on Azure ML; its files are the earlier version's."""
    from champion.rollback import rollback

    target = MlflowTarget("mlflow-server", edge.url, None)
    edge.fail("GET", ALIAS, status=404)
    edge.fail("POST", ALIAS, status=404)
    target.gate(target.pipeline_run({"accuracy": "0.9"}), _ask(target, model))
    model.write_bytes(b"the second model")
    target.gate(target.pipeline_run({"accuracy": "0.95"}), _ask(target, model))
    registry = target.registry()
    record = rollback(registry, target.model_name, reason="v2 drifts")
    assert (record.decision.outcome, record.registered_version) == (Outcome.ROLLED_BACK, 3)
    champion = registry.champion(target.model_name)
    assert champion is not None and champion.version == 3
    assert champion.properties["accuracy"] == "0.9"
    assert champion.properties["champion.rollback_of"] == "1"
    got = registry.download(target.model_name, 3, tmp_path / "v3")
    assert (got / "model.pkl").read_bytes() == b"weights"  # v1's files, verified


# ---------------------------------------------------------------------- an alias nobody holds


def test_a_deleted_champion_version_is_an_unknown_champion_not_no_champion(target, model):
    """Deleting the champion's version drops the alias with it. The model still has versions,
    so a challenger is not "first": the step and the score step refuse in one line naming the
    versions and how to set the alias, nothing is registered; `rollback --to` sets it, and the
    next challenger meets that champion."""
    from champion.rollback import rollback

    target.gate(target.pipeline_run({"accuracy": "0.8"}), _ask(target, model))
    target.gate(target.pipeline_run({"accuracy": "0.9"}), _ask(target, model))
    target.ws.client.delete_model_version(target.model_name, "2")
    made = target.pipeline_run({"accuracy": "0.1"})
    code, out, err = run_step(target, made, model)
    assert code == 2 and out == ""
    (line,) = err.strip().splitlines()
    assert f"model '{target.model_name}' has version 1 but none holds alias 'champion'" in line
    assert f"champion models rollback {target.model_name} --to VERSION" in line
    assert "no registered champion" not in line
    assert target.versions() == [1] and made.parent.file_names() == []

    score = [sys.executable, "-m", "champion.steps.score", "--model-name", target.model_name]
    score += ["--data", str(model), "--output", str(model.parent / "scored")]
    done = subprocess.run(
        score, env=step_env(target, made), capture_output=True, text=True, timeout=180
    )
    assert done.returncode == 2 and "none holds alias 'champion'" in done.stderr
    assert not (model.parent / "scored").exists()

    record = rollback(target.registry(), target.model_name, reason="v2 was deleted", to=1)
    assert record.registered_version == 1 and target.alias_holder() == 1
    assert record.to_dict()["alias_move"] == {"alias": "champion", "from": None, "to": 1}
    code, out, err = run_step(target, made, model)
    assert code == 0, err
    assert out.startswith("champion: rejected") and target.versions() == [1]


# ---------------------------------------------------------------------- after the alias moved


def history(url: str, name: str) -> list[dict]:
    """`champion models history NAME --backend mlflow --json`, as a user runs it."""
    champion = str(Path(sys.executable).parent / "champion")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CHAMPION_", "MLFLOW_"))}
    done = subprocess.run(
        [champion, "models", "history", name, "--backend", "mlflow", "--json"],
        env={**env, "MLFLOW_TRACKING_URI": url},
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def moves(rows: list[dict]) -> list[tuple]:
    return [(r["outcome"], r["version"], r["alias_from"], r["alias_to"]) for r in rows]


def test_history_shows_only_the_alias_moves_that_were_made(edge, model):
    """The server fails the alias move after creating version 2: the step says that v2 is
    registered but the alias may not have moved, and history shows no move to v2 (it used to
    infer `v1 -> v2` from the version's outcome). The retry of the pipeline run makes the move,
    and its record says so."""
    target = MlflowTarget("mlflow-server", edge.url, None)
    target.gate(target.pipeline_run({"accuracy": "0.9"}), _ask(target, model))
    made = target.pipeline_run({"accuracy": "0.95"})
    edge.fail("POST", ALIAS, status=503)
    code, _, err = run_step(target, made, model, CHAMPION_RETRY_ATTEMPTS="2")
    edge.clear()
    assert code == 3
    (line,) = err.strip().splitlines()
    assert f"{target.model_name}:2 is registered, but alias 'champion' may not have moved" in line
    assert "A retry of the same pipeline run finds version 2 and finishes the move" in line
    assert target.versions() == [1, 2] and target.alias_holder() == 1
    assert moves(history(edge.url, target.model_name)) == [
        ("first", 1, None, 1),
        ("promoted", 2, None, None),  # a version without a record: its move was never made
    ]
    code, out, err = run_step(target, made, model)
    assert code == 0 and "already_registered" in out, err
    assert target.alias_holder() == 2
    assert moves(history(edge.url, target.model_name)) == [
        ("first", 1, None, 1),
        ("already_registered", 2, 1, 2),  # the retry moved it, and recorded that
    ]


AFTER_THE_MOVE = [
    ("GET", "/model-versions/search", "then reading the decisions on", True),
    ("POST", "/model-versions/transition-stage", "then moving version 2", True),
    ("PUT", "/champion_decision.json$", "then recording the decision failed", False),
    ("POST", "/runs/log-batch", "then recording the decision failed", False),
]


@pytest.mark.parametrize(("method", "path", "says", "recorded"), AFTER_THE_MOVE)
def test_a_call_failing_after_the_alias_moved_says_where_the_alias_is(
    edge, model, method, path, says, recorded
):
    """Each call the step makes after the alias names its version fails for good: the step
    exits 3 with one line saying the version is registered and the champion, what failed, and
    where the decision is recorded (or that a retry records it); the retry of the same
    pipeline run finds the version and records it, never a second version."""
    target = MlflowTarget("mlflow-server", edge.url, None)
    target.gate(target.pipeline_run({"accuracy": "0.9"}), _ask(target, model))
    made = target.pipeline_run({"accuracy": "0.95"})
    edge.fail(method, path, status=503)
    code, out, err = run_step(target, made, model, "--stage", "Production")
    edge.clear()
    assert code == 3 and out == ""
    (line,) = err.strip().splitlines()
    name = target.model_name
    assert f"{name}:2 is registered and " in line and "is the champion" in line
    assert says in line
    assert target.versions() == [1, 2] and target.alias_holder() == 2
    record = read_record(made.parent)
    if recorded:
        assert f"The decision is recorded on run {made.parent.id}" in line
        assert record is not None and record["outcome"] == "promoted"
        assert record["registered_version"] == 2
        assert record["alias_move"] == {"alias": "champion", "from": 1, "to": 2}
        assert says in record["notes"][0]
    else:
        assert "a retry of the same pipeline run finds version 2 and records it" in line
    code, out, err = run_step(target, made, model)
    assert code == 0, err
    assert ("already_registered" in out) or ("promoted" in out)
    assert target.versions() == [1, 2] and target.alias_holder() == 2
    assert read_record(made.parent)["registered_version"] == 2


def test_a_step_killed_right_after_the_move_leaves_the_new_champion_and_the_retry_records_it(
    target, model
):
    target.gate(target.pipeline_run({"accuracy": "0.9"}), _ask(target, model))
    made = target.pipeline_run({"accuracy": "0.95"})
    code, _, _ = run_step(target, made, model, CHAMPION_CRASH_AT="mlflow.alias_moved")
    assert code == -signal.SIGKILL
    assert target.versions() == [1, 2] and target.alias_holder() == 2
    code, out, err = run_step(target, made, model)
    assert code == 0 and "already_registered" in out, err
    assert target.versions() == [1, 2] and target.alias_holder() == 2
