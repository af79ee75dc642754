"""The workspace: how one is found (`from_config`, `$CHAMPION_WORKSPACE`, the nearest
`.champion/`), opened (never created by opening), created (`Workspace.create`) and named in
`config.json` (`write_config`), as the SDK's `Workspace` does it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from azureml.exceptions import (
    UserErrorException,
)

from champion.local import Workspace


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
    from azureml.exceptions import ProjectSystemException

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
