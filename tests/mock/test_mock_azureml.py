"""`mock_azureml()`: the real azureml.core classes against a local workspace folder.

Every test runs with the network cut (any socket connect or name lookup fails the test), so a
call the mock does not answer cannot hide behind the SDK's retries; the file runs in seconds.
"""

from __future__ import annotations

import io
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from champion.local import store as store_module
from champion.local.mock import MockAzureML, UnmockedServiceCall, mock_azureml
from champion.local.store import RUN_ORIGIN, UPLOAD_ORIGIN, Store

azureml_core = pytest.importorskip("azureml.core")
from azureml._common.exceptions import AzureMLAggregatedException  # noqa: E402
from azureml._restclient.exceptions import ServiceException  # noqa: E402
from azureml.core import Experiment, Model, Run, Workspace  # noqa: E402
from azureml.exceptions import UserErrorException, WebserviceException  # noqa: E402


class NetworkUsed(AssertionError):
    pass


@pytest.fixture(autouse=True)
def _no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise NetworkUsed(f"network attempt inside the mock: {args[1:]!r}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CHAMPION_WORKSPACE", raising=False)
    monkeypatch.delenv("CHAMPION_RUN_ID", raising=False)


@pytest.fixture(autouse=True)
def _close_stores() -> Iterator[None]:
    before = set(store_module._open_stores)
    yield
    for key in set(store_module._open_stores) - before:
        opened = store_module._open_stores.get(key)
        if opened is not None:
            opened.close()


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The workspace folder; the CWD is a sibling folder holding the files to register, because
    `Model.register` only accepts paths under the CWD."""
    work = tmp_path / "work"
    (work / "mdir" / "sub").mkdir(parents=True)
    (work / "model.pkl").write_bytes(b"pickled")
    (work / "mdir" / "a.txt").write_text("a")
    (work / "mdir" / "sub" / "b.txt").write_text("b")
    monkeypatch.chdir(work)
    return tmp_path / "ws"


@pytest.fixture
def aml(folder: Path) -> Iterator[MockAzureML]:
    with mock_azureml(folder) as mock:
        yield mock


def _patch_points() -> dict[str, object]:
    import azureml._restclient.artifacts_client as artifacts_client
    import msrest.service_client
    from azureml._restclient.clientbase import ClientBase
    from azureml._restclient.models_client import ModelsClient
    from azureml._restclient.service_context import ServiceContext

    return {
        "fetch": vars(ServiceContext)["_fetch_endpoints"],
        "models": vars(ModelsClient).get("_execute_with_workspace_arguments"),
        "execute": vars(ClientBase)["_execute_with_arguments"],
        "upload": vars(artifacts_client)["upload_blob_from_stream"],
        "send": vars(msrest.service_client.ServiceClient)["send"],
        "from_config": vars(Workspace)["from_config"],
        "get_context": vars(Run)["get_context"],
    }


# --------------------------------------------------------------------------- lifecycle


@pytest.mark.process
def test_importing_the_mock_does_not_import_azureml() -> None:
    code = (
        "import sys, champion.local.mock; "
        "sys.exit(any(m.split('.')[0] == 'azureml' for m in sys.modules))"
    )
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[2] / "src")}
    assert subprocess.run([sys.executable, "-c", code], env=env, check=False).returncode == 0


def test_context_manager_restores_every_patch(folder: Path) -> None:
    from azureml._restclient.models_client import ModelsClient

    before = _patch_points()
    assert before["models"] is None  # inherited from WorkspaceClient before the mock
    with mock_azureml(folder) as aml:
        during = _patch_points()
        assert all(during[k] is not before[k] for k in before)
        assert isinstance(aml.workspace, Workspace)
    assert _patch_points() == before
    assert "_execute_with_workspace_arguments" not in vars(ModelsClient)
    with pytest.raises(RuntimeError, match="not started"):
        aml.stop()


def test_decorator_forms(folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    @mock_azureml(folder)
    def register() -> int:
        return int(Model.register(Workspace.from_config(), "model.pkl", "m").version)

    monkeypatch.setenv("CHAMPION_WORKSPACE", str(folder))

    @mock_azureml
    def latest() -> int:
        """Docstring kept by the decorator."""
        return int(Model(Workspace.from_config(), "m").version)

    before = _patch_points()
    assert register() == 1
    assert register() == 2
    assert latest() == 2
    assert latest.__name__ == "latest"
    assert latest.__doc__ == "Docstring kept by the decorator."
    assert _patch_points() == before


def test_default_folder_is_dot_champion_in_cwd(folder: Path) -> None:
    with mock_azureml() as aml:
        assert aml.store.root == (Path.cwd() / ".champion").resolve()
        ws = Workspace.from_config()
        assert ws.name == ".champion"


def test_nesting_restart_and_order(tmp_path: Path, folder: Path) -> None:
    outer, inner = MockAzureML(tmp_path / "outer"), MockAzureML(tmp_path / "inner")
    before = _patch_points()
    with outer:
        Model.register(Workspace.from_config(), "model.pkl", "m")
        with inner:
            assert Workspace.from_config().name == "inner"
            Model.register(Workspace.from_config(), "model.pkl", "m")
            with outer:  # re-entering an active mock only counts
                pass
            assert Model(Workspace.from_config(), "m").version == 1
            with pytest.raises(RuntimeError, match="reverse order"):
                outer.stop()
        assert Model.register(Workspace.from_config(), "model.pkl", "m").version == 2
    assert _patch_points() == before
    with outer:  # a stopped mock starts again on the same folder
        assert Model(outer.workspace, "m").version == 2
    assert _patch_points() == before


def test_workspace_from_config_shape(aml: MockAzureML, folder: Path) -> None:
    ws = Workspace.from_config()
    assert ws.subscription_id == "00000000-0000-0000-0000-000000000000"
    assert ws.resource_group == "local"
    assert ws.name == folder.name
    assert ws.location == "local"
    assert ws._workspace_id == aml.store.workspace_id


# --------------------------------------------------------------------------- models


def test_register_versions_and_lookup(aml: MockAzureML) -> None:
    ws = aml.workspace
    first = Model.register(ws, "model.pkl", "m", tags={"n": 1, "b": True}, properties={"p": "x"})
    second = Model.register(ws, "model.pkl", "m")
    assert (first.version, first.id, second.version, second.id) == (1, "m:1", 2, "m:2")
    assert first.tags == {"n": "1", "b": "True"}
    assert first.run_id is None and first.experiment_name is None
    assert first.model_framework == "Custom"
    assert Model.register(ws, "model.pkl", "other").version == 1
    assert Model(ws, "m").version == 2
    assert Model(ws, "m", version="1").version == 1
    assert Model(ws, id="m:2").version == 2
    assert Model(ws, "m", tags=[["n", "1"]]).version == 1
    assert [m.version for m in Model.list(ws, name="m")] == [2, 1]
    assert {n: m.version for n, m in ws.models.items()} == {"m": 2, "other": 1}

    record = aml.store.get_model("m", 1)
    assert record is not None
    assert first.url == f"aml://asset/{record.asset_id}"
    asset = aml.store.get_asset(record.asset_id)
    assert asset is not None and len(asset.prefixes) == 1
    origin, _container, path = asset.prefixes[0].split("/", 2)
    assert (origin, path) == (UPLOAD_ORIGIN, "model.pkl")
    [(_, artifact)] = aml.store.asset_artifacts(record.asset_id)
    assert aml.store.read_blob(artifact.digest) == b"pickled"


def test_model_not_found_is_the_sdk_message(aml: MockAzureML) -> None:
    with pytest.raises(WebserviceException) as err:
        Model(aml.workspace, "nope")
    assert err.value.message.startswith("ModelNotFound: Model with name nope")
    assert err.value.status_code is None
    Model.register(aml.workspace, "model.pkl", "m")
    with pytest.raises(WebserviceException, match="Model with id m:99 not found"):
        Model(aml.workspace, "m", version=99)


def test_injected_fault_is_a_bad_response(aml: MockAzureML) -> None:
    ws = aml.workspace
    Model.register(ws, "model.pkl", "m")
    aml.calls.clear()
    aml.inject_fault("models.query", 500, times=2)
    for _ in range(2):
        with pytest.raises(WebserviceException) as err:
            Model(ws, "m")
        assert err.value.message.startswith("Received bad response from Model Management Service")
        assert "Response Code: 500" in err.value.message
    assert Model(ws, "m").version == 1
    assert aml.calls == ["models.query"] * 3

    aml.inject_fault("models.register", 503)
    with pytest.raises(WebserviceException, match="Response Code: 503"):
        Model.register(ws, "model.pkl", "m")
    with pytest.raises(ValueError, match="unknown operation"):
        aml.inject_fault("models.lookup", 500)


def test_injected_fault_in_other_layers(aml: MockAzureML) -> None:
    from azure.common import AzureHttpError  # type: ignore[import-untyped]

    run = Experiment(aml.workspace, "exp").start_logging(snapshot_directory=None)
    aml.inject_fault("runs.get", 429, retry_after=2.5)
    with pytest.raises(ServiceException) as err:
        run.get_tags()
    assert err.value.status_code == 429
    assert err.value.response.headers["Retry-After"] == "2.5"
    aml.inject_fault("artifacts.upload", 500)
    with pytest.raises(AzureHttpError):
        run.upload_file("outputs/x.bin", io.BytesIO(b"x"))


def test_a_fault_can_wait_for_calls_that_succeed_first_and_a_403_transfer_is_the_sdks_shape(
    aml: MockAzureML,
) -> None:
    """`after` lets the first calls through (the model's transfer, then the record's fails); a
    refused transfer (403) comes as the SDK raises it, an AzureMLException over the storage
    error."""
    from azureml._common.exceptions import AzureMLException

    run = Experiment(aml.workspace, "exp").start_logging(snapshot_directory=None)
    aml.inject_fault("artifacts.upload", 403, after=1)
    run.upload_file("outputs/first.bin", io.BytesIO(b"1"))
    with pytest.raises(AzureMLException) as err:
        run.upload_file("outputs/second.bin", io.BytesIO(b"2"))
    assert err.value.inner_exception.status_code == 403
    run.upload_file("outputs/third.bin", io.BytesIO(b"3"))
    with pytest.raises(ValueError, match="after must be 0 or more"):
        aml.inject_fault("artifacts.upload", 500, after=-1)


def test_model_tags_properties_and_delete(aml: MockAzureML) -> None:
    ws = aml.workspace
    model = Model.register(ws, "model.pkl", "m", properties={"p": "x"})
    model.add_tags({"k": "v"})
    model.add_properties({"new": "1"})
    fresh = Model(ws, "m")
    assert fresh.tags == {"k": "v"}
    assert fresh.properties == {"p": "x", "new": "1"}
    with pytest.raises(WebserviceException, match="cannot be added/modified: p"):
        fresh.add_properties({"p": "y"})
    fresh.remove_tags(["k", "missing"])
    fresh.update(description="d")
    assert Model(ws, "m").tags == {} and Model(ws, "m").description == "d"
    model.delete()
    with pytest.raises(WebserviceException, match="ModelNotFound"):
        Model(ws, "m", version=1)
    assert Model.register(ws, "model.pkl", "m").version == 2  # a number is never reused


def test_download_of_a_folder_model(aml: MockAzureML, tmp_path: Path) -> None:
    model = Model.register(aml.workspace, "mdir", "folder_model")
    target = tmp_path / "download"
    target.mkdir()
    returned = Path(model.download(str(target)))
    assert returned == target / "mdir"
    assert (target / "mdir" / "a.txt").read_text() == "a"
    assert (target / "mdir" / "sub" / "b.txt").read_text() == "b"
    with pytest.raises(WebserviceException, match="File already exists"):
        model.download(str(target))


# --------------------------------------------------------------------------- runs


def test_run_files_and_register_model(aml: MockAzureML) -> None:
    ws = aml.workspace
    run = Experiment(ws, "exp").start_logging(snapshot_directory=None)
    run.upload_file("outputs/model.pkl", "model.pkl")
    run.upload_file("outputs/conf.json", io.BytesIO(b"{}"))
    assert sorted(run.get_file_names()) == ["outputs/conf.json", "outputs/model.pkl"]
    with pytest.raises(AzureMLAggregatedException, match="already exists"):
        run.upload_file("outputs/model.pkl", "model.pkl")
    with pytest.raises(UserErrorException, match="Cannot find the artifact"):
        run.download_file("outputs/missing")

    model = run.register_model("rm", model_path="outputs/model.pkl", tags={"t": 1})
    assert (model.run_id, model.experiment_name, model.tags) == (run.id, "exp", {"t": "1"})
    assert [m.id for m in Model.list(ws, run_id=run.id)] == ["rm:1"]
    assert Model(ws, "rm").run.id == run.id

    record = aml.store.get_run(run.id)
    assert record is not None and record.data_container_id == f"dcid.{run.id}"
    artifact = aml.store.get_artifact(RUN_ORIGIN, record.data_container_id, "outputs/model.pkl")
    assert artifact is not None and aml.store.read_blob(artifact.digest) == b"pickled"
    model_record = aml.store.get_model("rm", 1)
    assert model_record is not None
    asset = aml.store.get_asset(model_record.asset_id)
    assert asset is not None
    assert asset.prefixes == [f"{RUN_ORIGIN}/dcid.{run.id}/outputs/model.pkl"]
    assert asset.run_id == run.id


def test_run_tags_properties_status(aml: MockAzureML) -> None:
    run = Experiment(aml.workspace, "exp").start_logging(snapshot_directory=None)
    run.set_tags({"n": 1})
    run.tag("flag")
    assert run.get_tags() == {"n": "1", "flag": None}
    run.remove_tags(["n"])
    assert run.get_tags() == {"flag": None}
    run.add_properties({"p": "1"})
    run.add_properties({"p": "1"})  # the same value again is accepted
    with pytest.raises(ServiceException) as err:
        run.add_properties({"p": "2"})
    assert err.value.status_code in (400, 409)
    assert run.get_properties()["p"] == "1"
    assert run.get_status() == "Running"
    child = run.child_run("c1")
    assert child.parent.id == run.id
    assert [c.id for c in run.get_children()] == [child.id]
    assert [c.id for c in run.get_children(tags={"x": "y"})] == []
    child.complete()
    run.fail(error_details="boom")
    assert aml.store.get_run(run.id).status == "Failed"  # type: ignore[union-attr]
    assert run.get_details()["error"]["error"]["message"] == "boom"
    assert aml.store.get_run(child.id).status == "Completed"  # type: ignore[union-attr]


def test_log_and_get_metrics(aml: MockAzureML) -> None:
    run = Experiment(aml.workspace, "exp").start_logging(snapshot_directory=None)
    run.log("acc", 0.5)
    assert run.get_metrics() == {"acc": 0.5}
    run.log("acc", 0.7, step=2)
    run.log("n", 3)
    run.log_list("l", [1, 2])
    run.log_row("r", x=1, y=0.5)
    assert run.get_metrics() == {
        "acc": [0.5, 0.7],
        "n": 3,
        "l": [1, 2],
        "r": {"x": 1, "y": 0.5},
    }
    assert run.get_metrics(name="zzz") == {}
    with pytest.raises(UserErrorException):
        run.log("x", [1])
    assert aml.store.get_metrics(run.id)["acc"] == [0.5, 0.7]


def test_get_context_reads_champion_run_id(
    aml: MockAzureML, monkeypatch: pytest.MonkeyPatch
) -> None:
    offline = Run.get_context()
    assert not isinstance(offline, Run) and offline.id.startswith("OfflineRun_")
    record = aml.store.create_run("exp", tags={"k": "v"})
    monkeypatch.setenv("CHAMPION_RUN_ID", record.run_id)
    run = Run.get_context()
    assert isinstance(run, Run)
    assert (run.id, run.experiment.name, run.get_tags()) == (record.run_id, "exp", {"k": "v"})
    assert Run.get_context() is run
    monkeypatch.setenv("CHAMPION_RUN_ID", "missing")
    with pytest.raises(ServiceException):
        Run.get_context()


def test_pipeline_run_and_step_runs_offline(
    aml: MockAzureML, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("azureml.pipeline.core")
    from azureml.pipeline.core import PipelineRun, StepRun

    store = aml.store
    parent = store.create_run("pipe", run_type="azureml.PipelineRun")
    steps = {}
    for node, name in (("n1", "train"), ("n2", "register")):
        steps[name] = store.create_run(
            "pipe",
            parent_id=parent.run_id,
            name=name,
            run_type="azureml.StepRun",
            tags={"azureml.nodeid": node, "azureml.pipeline": parent.run_id},
        )
    store.update_run(steps["train"].run_id, status="Completed")
    monkeypatch.setenv("CHAMPION_RUN_ID", steps["register"].run_id)

    step = Run.get_context()
    assert step.name == "register"
    pipeline = step.parent
    assert isinstance(pipeline, PipelineRun) and pipeline.id == parent.run_id
    children = list(pipeline.get_children())
    assert all(isinstance(c, StepRun) for c in children)
    assert sorted(c.name for c in children) == ["register", "train"]
    [train] = pipeline.find_step_run("train")
    assert isinstance(train, StepRun) and train.id == steps["train"].run_id
    assert train.get_status() == "Finished"
    assert train.parent.id == parent.run_id
    assert pipeline.get_status() == "Running"


def test_unanswered_operation_raises_instead_of_calling_azure(aml: MockAzureML) -> None:
    ws = aml.workspace
    experiment = Experiment(ws, "exp")
    assert list(ws.experiments) == ["exp"]
    with pytest.raises(UnmockedServiceCall, match="ExperimentOperations"):
        experiment.archive()
    with pytest.raises(UnmockedServiceCall):
        ws.get_details()  # Resource Manager
    with pytest.raises(UnmockedServiceCall, match=r"^Workspace.webservices needs Azure"):
        ws.webservices  # noqa: B018


# --------------------------------------------------------------------------- persistence


def test_data_written_under_the_mock_persists(folder: Path) -> None:
    with mock_azureml(folder) as aml:
        run = Experiment(aml.workspace, "exp").start_logging(snapshot_directory=None)
        run.upload_file("outputs/model.pkl", "model.pkl")
        run.log("acc", 0.9)
        run.register_model("m", model_path="outputs/model.pkl", properties={"acc": "0.9"})
        run.complete()
        run_id = run.id
    Store.open(folder).close()  # drop the cached instance: read back from disk
    fresh = Store.open(folder)
    [model] = fresh.query_models(name="m")
    assert (model.version, model.run_id, model.experiment_name) == (1, run_id, "exp")
    assert model.properties == {"acc": "0.9"}
    record = fresh.get_run(run_id)
    assert record is not None and record.status == "Completed"
    assert fresh.get_metrics(run_id) == {"acc": [0.9]}
    [(_, artifact)] = fresh.asset_artifacts(model.asset_id)
    assert fresh.read_blob(artifact.digest) == b"pickled"


def test_unmocked_calls_name_the_sdk_member_and_why(
    aml: MockAzureML, caplog: pytest.LogCaptureFixture
) -> None:
    from azureml.core import Environment

    ws = aml.workspace
    cases = [
        (lambda: Environment("env").build(ws), "Environment.build", "Container Registry"),
        (lambda: ws.get_default_keyvault().get_secret("s"), "Keyvault.get_secret", "Key Vault"),
        (lambda: ws.webservices, "Workspace.webservices", "deployments"),
    ]
    for call, member, why in cases:
        try:
            call()
        except Exception:
            pytest.fail(f"{member}: an UnmockedServiceCall was caught by `except Exception`")
        except UnmockedServiceCall as exc:
            assert exc.member == member and why in exc.reason
            assert str(exc).startswith(f"{member} needs Azure: ")
    with (
        caplog.at_level("WARNING", logger="champion.local.mock"),
        pytest.raises(UnmockedServiceCall),
    ):
        Environment("other").build(ws)
    [logged] = [r for r in caplog.records if "Environment.build" in r.getMessage()]
    assert "Container Registry" in logged.getMessage()
    caplog.clear()
    with (
        caplog.at_level("WARNING", logger="champion.local.mock"),
        pytest.raises(UnmockedServiceCall),
    ):
        Environment("other").build(ws)
    assert not [r for r in caplog.records if r.name == "champion.local.mock"]  # logged once
