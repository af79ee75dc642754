"""Contract checks 55-57: what serving a model changes for the registry, identically on both
faces. A deployment is recorded in the store, as `champion serve` records it; its process is
this test's own (alive) or one that has exited."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from azureml.exceptions import ModelNotFoundException, WebserviceException

from .conftest import Target

BAD_RESPONSE_412 = "Received bad response from Model Management Service:\nResponse Code: 412\n"


def _two_versions(target: Target) -> None:
    for _ in range(2):
        target.Model.register(target.ws, "model.pkl", "m")


def _exited_pid() -> int:
    """The pid of a process that has ended (and been reaped): a server that crashed."""
    done = subprocess.Popen([sys.executable, "-c", "pass"])
    done.wait(timeout=60)
    return done.pid


def test_c55_a_version_an_active_deployment_serves_cannot_be_deleted(target: Target) -> None:
    _two_versions(target)
    target.store.start_deployment("svc", [("m", 1)], port=8890, pid=os.getpid())

    served = target.Model(target.ws, "m", version=1)
    with pytest.raises(WebserviceException) as refused:
        served.delete()
    # azureml-core 1.61 reports the service's 412 through ModelsClient's generic text and drops
    # the status code, so Model.delete's own 412 branch never runs (see champion.local._sdk)
    assert refused.value.message.startswith(BAD_RESPONSE_412)
    assert refused.value.status_code is None
    assert target.Model(target.ws, "m", version=1).version == 1  # still there

    target.Model(target.ws, "m", version=2).delete()  # a version nobody serves: deleted
    with pytest.raises(WebserviceException, match="ModelNotFound"):
        target.Model(target.ws, "m", version=2)


@pytest.mark.parametrize("ended", ["stopped", "crashed"])
@pytest.mark.process
def test_c56_a_stopped_or_crashed_deployment_releases_its_versions(
    target: Target, ended: str
) -> None:
    _two_versions(target)
    if ended == "stopped":
        deployment = target.store.start_deployment("svc", [("m", 1)], port=8890, pid=os.getpid())
        target.store.stop_deployment(deployment.id)
    else:
        target.store.start_deployment("svc", [("m", 1)], port=8890, pid=_exited_pid())

    [deployment] = target.store.list_deployments()
    assert deployment.status == ("stopped" if ended == "stopped" else "gone")
    target.Model(target.ws, "m", version=1).delete()
    with pytest.raises(WebserviceException, match="ModelNotFound"):
        target.Model(target.ws, "m", version=1)


def test_c57_get_model_path_searches_the_deployment_cache_then_the_workspace(
    target: Target, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    Model = target.Model
    app = tmp_path / "app"
    for version, text in ((1, "one"), (3, "three")):
        folder = app / "azureml-models" / "m" / str(version)
        folder.mkdir(parents=True)
        (folder / "model.pkl").write_text(text)
    monkeypatch.chdir(app)  # AML_APP_ROOT unset: the cache is relative to the working folder

    assert Model.get_model_path("m") == os.path.join("azureml-models", "m", "3", "model.pkl")
    assert Path(Model.get_model_path("m", version=1)).read_text() == "one"
    with pytest.raises(WebserviceException, match="version should be an int"):
        Model.get_model_path("m", version="1")
    with pytest.raises(ModelNotFoundException, match="Model nope not found in cache"):
        Model.get_model_path("nope")
    with pytest.raises(WebserviceException, match="Model m not found in cache"):
        Model.get_model_path("m", version=2)  # a version not in the cache, no workspace

    # with a workspace, a version that is not cached is downloaded into the cache first
    (target.workdir / "other.pkl").write_text("registered")
    monkeypatch.chdir(target.workdir)
    target.Model.register(target.ws, "other.pkl", "reg")
    monkeypatch.chdir(app)
    path = Model.get_model_path("reg", version=1, _workspace=target.ws)
    assert Path(path).read_text() == "registered"
    assert Path(path).parent == Path("azureml-models", "reg", "1")
    with pytest.raises(ModelNotFoundException, match=r"Model/Version nope/1 not found"):
        Model.get_model_path("nope", version=1, _workspace=target.ws)
