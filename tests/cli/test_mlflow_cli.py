"""`champion models ...` and `champion register` with `--backend mlflow`, as a user runs them:
the console script, as a process, against a real MLflow registry on a `sqlite:///` URI that the
gate filled (a first model, a win, a loss)."""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
from cli_helpers import CHAMPION, clean_env

from champion import Policy, RegisterRequest, register_if_better

pytestmark = pytest.mark.slow


@dataclass(frozen=True)
class Scene:
    root: Path
    uri: str
    runs: list[str]  # the pipeline runs, oldest first: 0.9 first, 0.95 promoted, 0.8 rejected

    def champion(self, *args: str | Path, cwd: Path | None = None, **env: str):
        return subprocess.run(
            [CHAMPION, *map(str, args)],
            env=clean_env(**{"MLFLOW_TRACKING_URI": self.uri, **env}),
            cwd=cwd or self.root,
            capture_output=True,
            text=True,
            timeout=180,
        )


def pipeline(ws, experiment: str, accuracy: str):
    from champion.registry.mlflow import PARENT_TAG, MlflowRun

    client = ws.client
    parent = client.create_run(experiment, run_name="pipeline", tags={"accuracy": accuracy})
    link = {PARENT_TAG: parent.info.run_id}
    client.create_run(experiment, run_name="train", tags=link)
    return MlflowRun(ws, client.create_run(experiment, run_name="register", tags=link))


def make_scene(root: Path, template: Path) -> Scene:
    from champion.registry.mlflow import connect

    shutil.copyfile(template, root / "mlflow.db")
    uri = f"sqlite:///{root / 'mlflow.db'}"
    ws = connect(uri)
    experiment = ws.client.create_experiment("iris-pipeline", str(root / "artifacts"))
    model = root / "model"
    model.mkdir()
    (model / "model.pkl").write_bytes(b"weights")
    (model / "MLmodel").write_text("flavors: {}\n")
    runs = []
    for accuracy in ("0.9", "0.95", "0.8"):
        step = pipeline(ws, experiment, accuracy)
        register_if_better(step, RegisterRequest("iris", model, Policy(), build_number="7"))
        runs.append(step.parent.id)
    return Scene(root, uri, runs)


@pytest.fixture(scope="module")
def scene(tmp_path_factory: pytest.TempPathFactory, mlflow_db_template: Path) -> Scene:
    return make_scene(tmp_path_factory.mktemp("mlflow-cli"), mlflow_db_template)


@pytest.fixture
def fresh_scene(tmp_path: Path, mlflow_db_template: Path) -> Scene:
    """A scene of its own, for a test that changes the champion."""
    return make_scene(tmp_path, mlflow_db_template)


def test_list_shows_the_champion_the_alias_names(scene):
    done = scene.champion("models", "list", "--backend", "mlflow", "--json")
    assert done.returncode == 0, done.stderr
    (row,) = json.loads(done.stdout)
    assert (row["name"], row["version"], row["metric_value"]) == ("iris", 2, "0.95")
    assert row["outcome"] == "promoted" and row["run_id"] == scene.runs[1]


def test_the_backend_can_come_from_the_environment(scene):
    done = scene.champion("models", "list", "--json", CHAMPION_BACKEND="mlflow")
    assert done.returncode == 0 and json.loads(done.stdout)[0]["version"] == 2


def test_show_adds_aliases_stage_and_source(scene):
    done = scene.champion(
        "models", "show", "iris", "--version", "1", "--backend", "mlflow", "--json"
    )
    assert done.returncode == 0, done.stderr
    shown = json.loads(done.stdout)
    assert shown["version"] == 1 and shown["aliases"] == []
    assert shown["properties"]["accuracy"] == "0.9" and shown["source"].endswith("/iris")
    champion = json.loads(
        scene.champion("models", "show", "iris", "--backend", "mlflow", "--json").stdout
    )
    assert champion["version"] == 2 and champion["aliases"] == ["champion"]


def test_history_lists_every_decision_and_each_alias_move(scene):
    done = scene.champion("models", "history", "iris", "--backend", "mlflow", "--json")
    assert done.returncode == 0, done.stderr
    rows = json.loads(done.stdout)
    assert [(r["outcome"], r["version"], r["alias_from"], r["alias_to"]) for r in rows] == [
        ("first", 1, None, 1),
        ("promoted", 2, 1, 2),
        ("rejected", None, None, None),  # MLflow's registry keeps no trace of this one
    ]
    assert [r["run_id"] for r in rows] == scene.runs
    table = scene.champion("models", "history", "iris", "--backend", "mlflow")
    assert "the champion is iris:2 (accuracy 0.95), the version holding alias 'champion'" in (
        table.stdout
    )


def test_download_verifies_and_refuses_to_overwrite(scene, tmp_path):
    done = scene.champion(
        "models", "download", "iris", "--backend", "mlflow", "--target", tmp_path, "--json"
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["verified"] is True
    assert sorted(p.name for p in (tmp_path / "iris").iterdir()) == ["MLmodel", "model.pkl"]
    again = scene.champion(
        "models", "download", "iris", "--backend", "mlflow", "--target", tmp_path
    )
    assert again.returncode == 2 and "already exists; nothing was written" in again.stderr


def test_a_tampered_version_is_not_downloaded(scene, tmp_path):
    from champion.registry.mlflow import connect

    ws = connect(scene.uri)
    source = Path(ws.client.get_model_version("iris", "1").source)
    original = (source / "model.pkl").read_bytes()
    (source / "model.pkl").write_bytes(b"tampered")
    try:
        done = scene.champion(
            "models",
            "download",
            "iris",
            "--version",
            "1",
            "--backend",
            "mlflow",
            "--target",
            tmp_path,
        )
    finally:
        (source / "model.pkl").write_bytes(original)
    assert done.returncode == 3 and "nothing was written" in done.stderr
    assert [p.name for p in tmp_path.iterdir() if not p.name.startswith(".")] == []


def test_describe_and_stage_change_a_version(scene):
    done = scene.champion(
        "models", "describe", "iris", "1", "kept for audit", "--backend", "mlflow", "--json"
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["description"] == "kept for audit"
    done = scene.champion(
        "models", "stage", "iris", "2", "production", "--backend", "mlflow", "--json"
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["stage"] == "Production"
    bad = scene.champion("models", "stage", "iris", "2", "Live", "--backend", "mlflow")
    assert bad.returncode == 2 and "not an MLflow stage" in bad.stderr
    missing = scene.champion("models", "describe", "iris", "9", "x", "--backend", "mlflow")
    assert missing.returncode == 2 and "no model version 9 of 'iris'" in missing.stderr


def test_describe_and_stage_are_refused_on_the_local_workspace(scene):
    done = scene.champion("models", "stage", "iris", "1", "Production")
    assert done.returncode == 2 and "pass --backend mlflow" in done.stderr


def test_local_only_commands_say_so(scene):
    done = scene.champion("runs", "list", "--backend", "mlflow")
    assert done.returncode == 2
    (line,) = done.stderr.strip().splitlines()
    assert "reads the local workspace" in line


def test_register_outside_a_pipeline_on_mlflow(scene, tmp_path):
    model = tmp_path / "better.pkl"
    model.write_bytes(b"better weights")
    args = ("register", "--model-name", "iris", "--model-path", model, "--backend", "mlflow")
    done = scene.champion(*args, "--metric-value", "0.99", "--json")
    assert done.returncode == 0, done.stderr
    record = json.loads(done.stdout)
    assert (record["outcome"], record["registered_version"]) == ("promoted", 3)
    assert record["champion_rule"] == "the version holding alias 'champion'"
    shown = json.loads(
        scene.champion("models", "show", "iris", "--backend", "mlflow", "--json").stdout
    )
    assert shown["version"] == 3 and shown["properties"]["accuracy"] == "0.99"
    # one run holds the decision's record and the model's files, as a pipeline run does
    from champion.registry.mlflow import connect

    client = connect(scene.uri).client
    run = client.get_run(record["parent_run_id"])
    assert shown["run_id"] == run.info.run_id and run.info.status == "FINISHED"
    assert client.get_experiment(run.info.experiment_id).name == "champion-register"
    files = sorted(f.path for f in client.list_artifacts(run.info.run_id))
    assert files == ["champion_decision.json", "iris"]
    # a rejection made outside a pipeline is in the history too
    worse = tmp_path / "worse.pkl"
    worse.write_bytes(b"worse weights")
    args = ("register", "--model-name", "iris", "--model-path", worse, "--backend", "mlflow")
    assert scene.champion(*args, "--metric-value", "0.5").returncode == 0
    history = json.loads(
        scene.champion("models", "history", "iris", "--backend", "mlflow", "--json").stdout
    )
    assert [(r["outcome"], r["challenger"]) for r in history][-2:] == [
        ("promoted", "0.99"),
        ("rejected", "0.5"),
    ]


def test_a_missing_database_is_one_line_and_not_created(scene, tmp_path):
    missing = tmp_path / "nope.db"
    done = scene.champion(
        "models", "list", "--backend", "mlflow", MLFLOW_TRACKING_URI=f"sqlite:///{missing}"
    )
    assert done.returncode == 2 and not missing.exists()
    (line,) = done.stderr.strip().splitlines()
    assert "no MLflow database at" in line


def test_rollback_moves_the_alias_back_and_history_shows_it(fresh_scene, tmp_path):
    scene = fresh_scene
    done = scene.champion(
        "--backend", "mlflow", "models", "rollback", "iris", "--reason", "v2 drifts", "--json"
    )
    assert done.returncode == 0, done.stderr
    record = json.loads(done.stdout)
    assert (record["outcome"], record["rollback_of"], record["registered_version"]) == (
        "rolled_back",
        1,
        1,
    )
    listed = json.loads(scene.champion("models", "list", "--backend", "mlflow", "--json").stdout)
    assert [(r["version"], r["metric_value"]) for r in listed] == [(1, "0.9")]
    history = json.loads(
        scene.champion("models", "history", "iris", "--backend", "mlflow", "--json").stdout
    )
    assert [(r["outcome"], r["version"], r["alias_from"], r["alias_to"]) for r in history] == [
        ("first", 1, None, 1),
        ("promoted", 2, 1, 2),
        ("rejected", None, None, None),
        ("rolled_back", 1, 2, 1),
    ]
    assert "v2 drifts" in history[-1]["reason"]
    # the next challenger meets v1's 0.9, not v2's 0.95
    model = tmp_path / "next.pkl"
    model.write_bytes(b"next weights")
    args = ("register", "--model-name", "iris", "--model-path", model, "--backend", "mlflow")
    done = scene.champion(*args, "--metric-value", "0.92", "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["outcome"] == "promoted"


def test_a_rollback_that_cannot_be_done_is_one_line_and_changes_nothing(fresh_scene):
    scene = fresh_scene
    for args, says in [
        (("--to", "2"), "iris:2 already is the champion"),
        (("--to", "9"), "there is no version 9 of 'iris'"),
    ]:
        done = scene.champion(
            "models", "rollback", "iris", *args, "--reason", "x", "--backend", "mlflow"
        )
        assert done.returncode == 2
        (line,) = done.stderr.strip().splitlines()
        assert says in line
    shown = json.loads(
        scene.champion("models", "show", "iris", "--backend", "mlflow", "--json").stdout
    )
    assert shown["version"] == 2 and shown["aliases"] == ["champion"]


def test_test_data_from_a_dataset_is_refused_on_mlflow(scene, tmp_path):
    model = tmp_path / "m.pkl"
    model.write_bytes(b"m")
    done = scene.champion(
        "register", "--model-name", "iris", "--model-path", model, "--metric-value", "0.99",
        "--test-data", "dataset:iris-test", "--backend", "mlflow",
    )  # fmt: skip
    assert done.returncode == 2
    (line,) = done.stderr.strip().splitlines()
    assert "--test-data dataset:iris-test: MLflow has no dataset registry" in line


# ---------------------------------------------------------------------- "no model" means no model


def test_an_alias_no_version_holds_is_said_as_such_never_no_model(fresh_scene, tmp_path):
    """`--champion-alias prod`, which no version holds, used to be "there is no model named
    'iris'". Every command that needs the champion now names the versions, the aliases the
    model has, and how to set it; "no model" is said only of a model the registry lacks."""
    scene = fresh_scene
    done = scene.champion(
        "models", "rollback", "iris", "--champion-alias", "prod", "--reason", "x",
        "--backend", "mlflow",
    )  # fmt: skip
    assert done.returncode == 2
    (line,) = done.stderr.strip().splitlines()
    assert "model 'iris' has versions 1, 2 but none holds alias 'prod'" in line
    assert "its aliases are champion -> v2" in line and "no model" not in line
    assert "--champion-alias prod --backend mlflow" in line
    done = scene.champion("models", "rollback", "nosuch", "--reason", "x", "--backend", "mlflow")
    assert done.returncode == 2 and "no version of 'nosuch' is registered" in done.stderr
    # the champion's version deleted: no champion to list, show or download, never the latest
    from champion.registry.mlflow import connect

    connect(scene.uri).client.delete_model_version("iris", "2")
    listed = scene.champion("models", "list", "--backend", "mlflow", "--json")
    assert listed.returncode == 0, listed.stderr
    assert [(r["name"], r["version"]) for r in json.loads(listed.stdout)] == [("iris", None)]
    assert "none holds alias 'champion'" in listed.stderr
    for args in (("show", "iris"), ("download", "iris", "--target", tmp_path / "out")):
        done = scene.champion("models", *args, "--backend", "mlflow")
        assert done.returncode == 2
        (line,) = done.stderr.strip().splitlines()
        assert "model 'iris' has version 1 but none holds alias 'champion'" in line
    assert not (tmp_path / "out").exists()
    history = scene.champion("models", "history", "iris", "--backend", "mlflow")
    assert history.returncode == 0, history.stderr
    assert "no champion, no version holds alias 'champion'" in history.stdout
    done = scene.champion(
        "models", "rollback", "iris", "--to", "1", "--reason", "v2 was deleted",
        "--backend", "mlflow", "--json",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    record = json.loads(done.stdout)
    assert record["alias_move"] == {"alias": "champion", "from": None, "to": 1}
    shown = json.loads(
        scene.champion("models", "show", "iris", "--backend", "mlflow", "--json").stdout
    )
    assert shown["version"] == 1 and shown["aliases"] == ["champion"]


# ---------------------------------------------------------------------- no server, no extra


def test_a_server_that_refuses_connections_is_one_line_at_once_without_its_password(
    scene, tmp_path
):
    from champion.testing.mlflow import free_port

    url = f"http://alice:S3cret@127.0.0.1:{free_port()}"
    model = tmp_path / "m.pkl"
    model.write_bytes(b"m")
    for args in (
        ("models", "list"),
        ("register", "--model-name", "iris", "--model-path", model, "--metric-value", "0.9"),
    ):
        done = scene.champion(
            *args, "--backend", "mlflow", MLFLOW_TRACKING_URI=url, CHAMPION_RETRY_ATTEMPTS="5"
        )
        assert done.returncode == 3
        assert "S3cret" not in done.stdout + done.stderr
        (line,) = [x for x in done.stderr.splitlines() if x.startswith("champion: error")]
        assert "cannot reach the MLflow server at http://***@127.0.0.1:" in line
        assert "connection refused" in line
        assert "attempt" not in line and "HTTP 500" not in line  # refused once, not retried


@pytest.mark.parametrize("uri", ["mlruns", "file:///tmp/mlruns", "ftp://host/x", "\\tmp"])
def test_a_tracking_uri_no_champion_can_use_is_named_in_one_line(scene, uri):
    """A path (MLflow 3's file store, which it no longer writes) or an unknown scheme gave
    "internal error: MlflowException ... (a bug in champion)"."""
    done = scene.champion("models", "list", "--backend", "mlflow", MLFLOW_TRACKING_URI=uri)
    assert done.returncode == 2, done.stderr
    (line,) = done.stderr.splitlines()
    assert line.startswith("champion: error [input_invalid]: MLFLOW_TRACKING_URI=")
    assert "is not an MLflow server or database" in line and "sqlite:///" in line


BLOCKER = """
import sys

class NoMlflow:
    def find_spec(self, name, path=None, target=None):
        if name == "mlflow" or name.startswith("mlflow."):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None

sys.meta_path.insert(0, NoMlflow())
"""


def test_every_way_to_mlflow_without_the_extra_says_how_to_install_it(scene, tmp_path):
    """Where mlflow cannot be imported, each entry that reaches MLflow (the models commands,
    register, the pipeline runner, the packaged steps) exits 3 with the one line that names
    the `[mlflow]` extra, never "internal error: ModuleNotFoundError"."""
    blocked = tmp_path / "blocked"
    blocked.mkdir()
    (blocked / "sitecustomize.py").write_text(BLOCKER)
    model = tmp_path / "m.pkl"
    model.write_bytes(b"m")
    root = Path(__file__).resolve().parents[2]
    python = str(Path(CHAMPION).parent / "python")
    step_env = {"CHAMPION_BACKEND": "mlflow", "MLFLOW_RUN_ID": "0" * 32}
    commands = [
        "models list",
        "models show iris",
        "models history iris",
        "models rollback iris --reason x",
        "models download iris --target t",
        "models describe iris 1 x",
        f"register --model-name iris --model-path {model} --metric-value 0.9",
        f"pipeline run {root / 'pipelines' / 'iris.py'}",
    ]
    steps = [
        f"register --model-name iris --model-path {model}",
        f"score --model-name iris --data {model} --output scored",
        f"train --data {root / 'sample_data' / 'iris.csv'} --output-dir trained",
    ]
    entries = [([CHAMPION, *c.split(), "--backend", "mlflow"], {}) for c in commands]
    entries += [
        ([python, "-m", f"champion.steps.{s.split()[0]}", *s.split()[1:]], step_env) for s in steps
    ]
    for command, extra in entries:
        done = subprocess.run(
            command,
            env=clean_env(MLFLOW_TRACKING_URI=scene.uri, PYTHONPATH=str(blocked), **extra),
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=180,
        )
        said = f"{command[1:4]}: {done.returncode}\n{done.stderr}"
        assert done.returncode == 3, said
        (line,) = done.stderr.strip().splitlines()
        assert "needs champion's [mlflow] extra" in line and "pip install" in line, said
        assert "[mlflow]'" in line, said  # the line champion._extras makes for this install
        assert "internal error" not in line and "Traceback" not in done.stderr, said
    assert sorted(p.name for p in tmp_path.iterdir()) == ["blocked", "m.pkl"]  # nothing made
