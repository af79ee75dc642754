"""Behaviours of the local classes beyond the shared contract checks: how a workspace is found,
how a step finds its run, run trees, folders of files, recursive metrics, model-to-run links and
the whole-segment path prefix rule."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from azureml._restclient.exceptions import ServiceException
from azureml.core.run import _OfflineRun
from azureml.exceptions import (
    ModelPathNotFoundException,
    RunEnvironmentException,
    UserErrorException,
)

from champion.local import AzureMLTrapWarning, Experiment, Model, Run, Workspace
from champion.local.store import RUN_ORIGIN


def _files(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


# --------------------------------------------------------------------------- finding a workspace


def test_from_config_follows_config_json_up_the_tree(
    in_tmp: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    Workspace.create(in_tmp / "registry")
    config = {"champion_workspace": "registry", "subscription_id": "not used locally"}
    (in_tmp / "config.json").write_text(json.dumps(config))
    deeper = in_tmp / "src" / "steps"
    deeper.mkdir(parents=True)

    assert Workspace.from_config(deeper).path == in_tmp / "registry"
    monkeypatch.chdir(deeper)
    assert Workspace.from_config().path == in_tmp / "registry"  # relative to the file


def test_from_config_without_a_config_uses_the_environment(
    in_tmp: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    Workspace.create(in_tmp / "chosen")
    monkeypatch.setenv("CHAMPION_WORKSPACE", "chosen")
    assert Workspace.from_config().path == in_tmp / "chosen"


def test_from_config_finds_the_nearest_dot_champion_up_the_tree(
    in_tmp: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = Workspace.create(in_tmp / ".champion")
    deeper = in_tmp / "src" / "steps"
    deeper.mkdir(parents=True)
    monkeypatch.chdir(deeper)

    assert Workspace.from_config() == project
    assert not (deeper / ".champion").exists()


def test_opening_never_creates_a_workspace(in_tmp: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The SDK raises ProjectSystemException for a workspace that does not exist; so does
    every way of opening a local one, and the folder is left as it was."""
    from azureml.exceptions import ProjectSystemException, UserErrorException

    (in_tmp / "plain").mkdir()
    (in_tmp / "a-file").write_text("not a folder")
    for path in ("typo", "plain", "a-file"):
        for opener in (Workspace, Workspace.get):
            with pytest.raises(ProjectSystemException, match="not a champion workspace"):
                opener(in_tmp / path)
    for path in ("typo", "plain"):  # from_config(path) looks for a config file, as the SDK does
        with pytest.raises(UserErrorException, match=r"config\.json, could not be found"):
            Workspace.from_config(in_tmp / path)
    with pytest.raises(ProjectSystemException, match="create one with 'champion init"):
        Workspace.from_config()  # no config.json and no .champion/ up the tree
    monkeypatch.setenv("CHAMPION_WORKSPACE", str(in_tmp / "typo"))
    with pytest.raises(ProjectSystemException):
        Workspace()
    assert sorted(p.name for p in in_tmp.iterdir()) == ["a-file", "plain"]
    assert list((in_tmp / "plain").iterdir()) == []


def test_create_mirrors_the_sdk(in_tmp: Path) -> None:
    """`Workspace.create(name, ..., exist_ok=False)`: a second create raises the SDK's
    WorkspaceException unless exist_ok; a file or a folder holding other files is refused."""
    from azureml.exceptions import WorkspaceException

    from champion.errors import InputError

    ws = Workspace.create("new")
    assert (in_tmp / "new" / "workspace.db").is_file()
    with pytest.raises(WorkspaceException, match="already exists"):
        Workspace.create("new")
    assert Workspace.create("new", exist_ok=True) == ws
    (in_tmp / "a-file").write_text("x")
    (in_tmp / "project").mkdir()
    (in_tmp / "project" / "README.md").write_text("mine")
    with pytest.raises(InputError, match="is a file"):
        Workspace.create("a-file")
    with pytest.raises(InputError, match="not empty"):
        Workspace.create("project", exist_ok=True)
    assert sorted(p.name for p in (in_tmp / "project").iterdir()) == ["README.md"]


def test_from_config_accepts_a_workspace_folder(ws: Workspace, in_tmp: Path) -> None:
    assert Workspace.from_config(ws.path) == ws


def test_write_config_round_trips_from_any_directory(
    ws: Workspace, in_tmp: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (in_tmp / "project").mkdir()  # as with the SDK, only .azureml is created
    ws.write_config(path=str(in_tmp / "project"))
    ws.write_config(path=str(in_tmp / "project"), file_name="alt.json")
    elsewhere = in_tmp / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)

    assert Workspace.from_config(str(in_tmp / "project")) == ws
    assert Workspace.from_config(str(in_tmp / "project"), _file_name="alt.json") == ws
    (in_tmp / "project" / "sub").mkdir()
    monkeypatch.chdir(in_tmp / "project" / "sub")
    assert Workspace.from_config() == ws


def test_write_config_writes_where_the_sdk_does(ws: Workspace, in_tmp: Path) -> None:
    ws.write_config()
    assert (in_tmp / ".azureml" / "config.json").is_file()
    assert not (in_tmp / "config.json").exists()


# --------------------------------------------------------------------------- experiments


@pytest.mark.parametrize("name", ["a.b", "-a", "a b", ""])
def test_an_invalid_experiment_name_is_refused(ws: Workspace, name: str) -> None:
    with pytest.raises(UserErrorException, match="Experiment name must be"):
        Experiment(ws, name)
    assert ws.experiments == {}


@pytest.mark.parametrize("name", ["ok-name_1", "1abc"])
def test_a_valid_experiment_is_created_once(ws: Workspace, name: str) -> None:
    first = Experiment(ws, name)
    assert Experiment(ws, name).id == first.id
    assert list(ws.experiments) == [name]


# --------------------------------------------------------------------------- run context


def test_get_context_returns_the_run_named_by_the_environment(
    ws: Workspace, in_tmp: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    parent = Experiment(ws, "pipeline").start_logging()
    step = parent.child_run("register")
    monkeypatch.setenv("CHAMPION_WORKSPACE", "ws")  # relative, as the local runner may set it
    monkeypatch.setenv("CHAMPION_RUN_ID", step.id)

    run = Run.get_context()

    assert isinstance(run, Run)
    assert run.id == step.id
    assert run.name == f"{parent.name or ''}>register"  # the SDK chains child run names
    assert run.parent is not None and run.parent.id == parent.id
    assert run.parent is run.parent  # looked up once, as the SDK caches it
    run.parent.tag("accuracy", 0.953)
    assert parent.get_tags() == {"accuracy": "0.953"}


def test_get_context_with_an_unknown_run_id_fails_loudly(
    ws: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CHAMPION_WORKSPACE", str(ws.path))
    monkeypatch.setenv("CHAMPION_RUN_ID", "no-such-run")
    with pytest.raises(ServiceException, match="no-such-run") as caught:
        Run.get_context()
    assert caught.value.status_code == 404  # what run history answers for an unknown run


def test_get_context_outside_a_step_is_the_sdks_offline_run(
    ws: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CHAMPION_WORKSPACE", str(ws.path))  # a workspace alone names no run

    run = Run.get_context()

    assert isinstance(run, _OfflineRun)
    assert not isinstance(run, Run)
    assert run.id.startswith("OfflineRun_")
    with pytest.raises(RunEnvironmentException):
        Run.get_context(allow_offline=False)
    with pytest.raises(RunEnvironmentException):
        Run.get_submitted_run()


# --------------------------------------------------------------------------- run trees


def test_recursive_children_are_the_subtree_without_the_run_itself(ws: Workspace) -> None:
    experiment = Experiment(ws, "pipeline")
    parent = experiment.start_logging()
    first = parent.child_run("train")
    second = parent.child_run("register")
    grandchild = first.child_run("fold")
    experiment.start_logging().child_run("unrelated")
    grandchild.tag("k", "v")

    assert [r.id for r in parent.get_children()] == [second.id, first.id]  # newest first
    assert {r.id for r in parent.get_children(recursive=True)} == {
        first.id,
        second.id,
        grandchild.id,
    }
    assert [r.id for r in first.get_children(recursive=True)] == [grandchild.id]
    assert list(grandchild.get_children(recursive=True)) == []
    assert [r.id for r in parent.get_children(recursive=True, tags="k")] == [grandchild.id]


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


# --------------------------------------------------------------------------- folders of files


@pytest.fixture
def data_folder(in_tmp: Path) -> Path:
    (in_tmp / "data" / "sub").mkdir(parents=True)
    (in_tmp / "data" / "a.txt").write_bytes(b"alpha")
    (in_tmp / "data" / "sub" / "b.txt").write_bytes(b"beta")
    return in_tmp / "data"


def test_upload_folder_names_each_file_name_plus_its_path_under_the_folder(
    ws: Workspace, data_folder: Path, in_tmp: Path
) -> None:
    experiment = Experiment(ws, "exp")
    run = experiment.start_logging()
    run.upload_folder("outputs/d", "data")
    assert run.get_file_names() == ["outputs/d/a.txt", "outputs/d/sub/b.txt"]
    run.download_file("outputs/d/sub/b.txt", "b.txt")
    assert (in_tmp / "b.txt").read_bytes() == b"beta"

    # the SDK concatenates verbatim: a trailing slash on the folder glues the names together
    other = experiment.start_logging()
    other.upload_folder("x", "data/")
    assert other.get_file_names() == ["xa.txt", "xsub/b.txt"]

    with pytest.raises(UserErrorException, match="not a valid directory"):
        run.upload_folder("outputs/e", "data/a.txt")


@pytest.fixture
def uploaded(ws: Workspace, data_folder: Path) -> Run:
    run = Experiment(ws, "exp").start_logging()
    run.upload_folder("outputs/d", "data")
    run.upload_file("outputs/other.txt", io.BytesIO(b"other"))
    return run


def test_download_files_keeps_or_strips_the_prefix(uploaded: Run, in_tmp: Path) -> None:
    uploaded.download_files(prefix="outputs/d", output_directory="kept")
    uploaded.download_files(prefix="outputs/d", output_directory="stripped", append_prefix=False)
    uploaded.download_files(output_directory="all")

    assert _files(in_tmp / "kept") == {"outputs/d/a.txt": b"alpha", "outputs/d/sub/b.txt": b"beta"}
    assert _files(in_tmp / "stripped") == {"a.txt": b"alpha", "sub/b.txt": b"beta"}
    assert _files(in_tmp / "all") == {
        "outputs/d/a.txt": b"alpha",
        "outputs/d/sub/b.txt": b"beta",
        "outputs/other.txt": b"other",
    }


def test_download_files_without_an_output_directory_keeps_artifact_paths(
    uploaded: Run, in_tmp: Path
) -> None:
    uploaded.download_files(prefix="outputs/d", append_prefix=False)
    assert (in_tmp / "outputs" / "d" / "a.txt").read_bytes() == b"alpha"
    assert not (in_tmp / "a.txt").exists()


# --------------------------------------------------------------------------- models and runs


def _run_with_model_file(ws: Workspace, experiment: str = "exp") -> Run:
    run = Experiment(ws, experiment).start_logging()
    run.upload_file("outputs/model.pkl", io.BytesIO(b"model"))
    return run


def test_model_list_filters_by_registering_run(ws: Workspace, in_tmp: Path) -> None:
    first, second = _run_with_model_file(ws), _run_with_model_file(ws)
    first.register_model("m", model_path="outputs/model.pkl")  # m:1
    first.register_model("m", model_path="outputs/model.pkl")  # m:2
    second.register_model("m", model_path="outputs/model.pkl")  # m:3
    second.register_model("n", model_path="outputs/model.pkl")  # n:1
    (in_tmp / "model.pkl").write_bytes(b"model")
    Model.register(ws, "model.pkl", "m")  # m:4, no run

    assert [m.id for m in Model.list(ws, run_id=first.id)] == ["m:2", "m:1"]
    assert [m.id for m in Model.list(ws, run_id=second.id)] == ["n:1", "m:3"]
    assert [m.id for m in Model.list(ws, name="m", run_id=second.id)] == ["m:3"]
    assert Model.list(ws, run_id="no-such-run") == []


def test_version_wins_over_tag_filters(ws: Workspace) -> None:
    run = _run_with_model_file(ws)
    run.register_model("m", model_path="outputs/model.pkl")
    run.register_model("m", model_path="outputs/model.pkl", tags={"a": "1"})
    run.register_model("m", model_path="outputs/model.pkl")

    assert Model(ws, "m", tags=["a"]).version == 2
    with pytest.warns(AzureMLTrapWarning, match="with version= Azure ML fetches m:1"):
        assert Model(ws, "m", tags=["a"], version=1).version == 1
    with pytest.warns(AzureMLTrapWarning, match="with version= Azure ML fetches m:3"):
        assert Model(ws, "m", tags=[["a", "1"]], version="3").version == 3


def test_model_run_is_the_registering_run(ws: Workspace, in_tmp: Path) -> None:
    run = _run_with_model_file(ws, "training")
    registered = run.register_model("m", model_path="outputs/model.pkl")
    (in_tmp / "model.pkl").write_bytes(b"model")
    uploaded = Model.register(ws, "model.pkl", "plain")

    for model in (registered, Model(ws, "m"), Model.list(ws, name="m")[0]):
        assert isinstance(model.run, Run)
        assert model.run == run
        assert model.run.experiment.name == "training"
    assert Model(ws, "m", expand=False).run is None
    assert uploaded.run is None
    assert Model(ws, "plain").run is None


def test_path_prefixes_match_whole_segments_only(ws: Workspace, in_tmp: Path) -> None:
    run = Experiment(ws, "exp").start_logging()
    run.upload_file("outputs/model/a.bin", io.BytesIO(b"in the folder"))
    run.upload_file("outputs/model/sub/c.bin", io.BytesIO(b"deeper"))
    run.upload_file("outputs/model2/b.bin", io.BytesIO(b"a sibling folder"))
    run.upload_file("outputs/model.txt", io.BytesIO(b"a sibling file"))
    store, container = ws._store, run._container

    def paths(prefix: str) -> list[str]:
        return [a.path for a in store.list_artifacts(RUN_ORIGIN, container, prefix)]

    in_folder = ["outputs/model/a.bin", "outputs/model/sub/c.bin"]
    assert paths("outputs/model") == in_folder
    assert paths("outputs/model/") == in_folder
    assert paths("outputs/model2/b.bin") == ["outputs/model2/b.bin"]
    assert paths("outputs/mod") == []

    model = run.register_model("m", model_path="outputs/model")
    assert model.download(str(in_tmp / "t")) == str(in_tmp / "t" / "model")
    assert _files(in_tmp / "t") == {"model/a.bin": b"in the folder", "model/sub/c.bin": b"deeper"}
    with pytest.raises(ModelPathNotFoundException, match="outputs/mod "):
        run.register_model("m", model_path="outputs/mod")
