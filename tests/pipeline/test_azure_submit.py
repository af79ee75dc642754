"""`pipelines/iris.py --submit/--publish [--wait]` against the real SDK, patched at the service.

The SDK's own `Pipeline.submit`/`publish` run as shipped: it finalizes the graph, creates one
module per step, builds the run request and sends it. What is replaced is the far side:

- `FakePipelinesService` stands in for `AE3PServiceCaller`, the pipelines REST client, and keeps
  every request (module creation, the run with its graph, the published pipeline);
- the snapshot upload (`_AevaModuleSnapshotUploader.upload`) records the folder's files;
- `PipelineRun`, which the SDK creates from the returned id, is `FakePipelineRun`;
- the workspace is the offline one (`Workspace.from_config` and `get_default_datastore`
  patched), and `Environment.add_private_pip_wheel` records the wheel instead of uploading it.

So the assertions are on what would be sent: scripts, arguments, parameters, tags, compute
target, environment, allow_reuse, snapshot contents.
"""

from __future__ import annotations

import json
import uuid
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import azureml.pipeline.core.graph as graph_module
import pytest
from azureml.core import Environment, Workspace
from azureml.pipeline.core._aeva_provider import _AevaModuleSnapshotUploader, _AevaWorkflowProvider

from champion.pipeline import driver, load_pipeline_file
from champion.pipeline._azure_offline import offline_session
from champion.record import (
    DECISION_ARTIFACT,
    MODEL_TAG,
    OUTCOME_TAG,
    RECORD_TAG,
    VERSION_TAG,
    record_name,
)

ROOT = Path(__file__).resolve().parents[2]
iris = load_pipeline_file(ROOT / "pipelines" / "iris.py")
DATATYPES = (
    "AnyFile AzureBlobReference AzureDataLakeReference AzureFilesReference "
    "AzureSqlDatabaseReference AzurePostgresDatabaseReference AzureDataLakeGen2Reference "
    "AzureMLDataset AzureMySqlDatabaseReference DBFSReference AnyDirectory"
).split()


class FakePipelinesService:
    """The pipelines service as `AE3PServiceCaller` reaches it: answers what submit and publish
    ask, keeps every request, and refuses anything else."""

    _service_endpoint = "https://pipelines.invalid"

    def __init__(self) -> None:
        self.modules: dict[str, Any] = {}
        self.runs: list[tuple[Any, str]] = []
        self.submitted: list[dict[str, Any]] = []
        self.published: list[Any] = []

    def get_all_datatypes_async(self) -> list[Any]:
        return [
            SimpleNamespace(
                id=n,
                name=n,
                description=n,
                is_directory=n == "AnyDirectory",
                parent_data_type_ids=None,
            )
            for n in DATATYPES
        ]

    def try_get_module_by_hash_async(self, fingerprint: str) -> None:
        return None  # no step was ever created: nothing to reuse

    def create_module_async(self, creation_info: Any) -> Any:
        module_id = str(uuid.uuid4())
        self.modules[module_id] = creation_info
        return SimpleNamespace(id=module_id)

    def get_module_async(self, id: str) -> Any:
        info = self.modules[id]
        interface = info.structured_interface
        return SimpleNamespace(
            interface=SimpleNamespace(
                parameters=interface.parameters,
                metadata_parameters=interface.metadata_parameters,
                ports=SimpleNamespace(
                    inputs=[
                        SimpleNamespace(name=i.name, data_types_ids=i.data_type_ids_list)
                        for i in interface.inputs
                    ],
                    outputs=[SimpleNamespace(name=o.name) for o in interface.outputs],
                ),
            ),
            data=SimpleNamespace(
                id=id,
                name=info.name,
                description=info.description,
                structured_interface=interface,
                is_deterministic=info.is_deterministic,
                step_type=info.step_type,
                runconfig=info.runconfig,
                cloud_settings=info.cloud_settings,
                upload_state="Completed",
            ),
        )

    def create_unsubmitted_pipeline_run_async(self, submission: Any, experiment_name: str) -> Any:
        self.runs.append((submission, experiment_name))
        return SimpleNamespace(id=f"run-{len(self.runs)}")

    def submit_saved_pipeline_run_async(self, **kwargs: Any) -> None:
        self.submitted.append(kwargs)

    def create_pipeline_async(self, pipeline_creation_info: Any) -> Any:
        self.published.append(pipeline_creation_info)
        info = pipeline_creation_info
        return SimpleNamespace(
            id="published-1",
            name=info.name,
            description=info.description,
            graph_id="graph-1",
            version=info.version,
            entity_status="0",
            url="https://pipelines.invalid/published-1",
            total_run_steps=len(info.graph.module_nodes),
            continue_run_on_step_failure=info.continue_run_on_step_failure,
            enable_email_notification=info.enable_email_notification,
        )

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"unexpected call to the pipelines service: {name}")

    # What was sent, by step name.
    def module(self, step: str) -> Any:
        return self.modules[self.node(step).module_id]

    def node(self, step: str) -> Any:
        run, _ = self.runs[-1]
        for node in run.graph.module_nodes:
            if self.modules[node.module_id].name == step:
                return node
        raise KeyError(step)

    def node_parameters(self, step: str) -> dict[str, Any]:
        parameters = self.node(step).module_parameters
        return {p.name: p.value for p in parameters if p.value is not None}


@dataclass
class FakePipelineRun:
    """What the SDK's `Graph.submit` returns, with a decision the test chooses."""

    experiment: Any
    run_id: str
    _service_endpoint: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    status: str = "Finished"
    files: dict[str, str] = field(default_factory=dict)  # artifact name -> content
    waited: list[bool] = field(default_factory=list)

    @property
    def id(self) -> str:
        return self.run_id

    def get_portal_url(self) -> str:
        return f"https://ml.azure.com/runs/{self.run_id}"

    def set_tags(self, tags: dict[str, str]) -> None:
        self.tags.update(tags)

    def get_tags(self) -> dict[str, str]:
        return dict(self.tags)

    def wait_for_completion(self, show_output: bool = True, raise_on_error: bool = True) -> str:
        self.waited.append(show_output)
        print("PipelineRun Status: Running")  # the SDK streams the step logs here
        print(f"step log: {self.tags.get('log', '')}")
        return self.status

    def get_file_names(self) -> list[str]:
        return [*self.files, "outputs/iris/model.pkl", "logs/azureml/70_driver_log.txt"]

    def download_file(self, name: str, output_file_path: str | None = None) -> None:
        assert output_file_path is not None
        Path(output_file_path).write_text(self.files[name])


@dataclass
class Azure:
    service: FakePipelinesService
    runs: list[FakePipelineRun]
    snapshots: list[list[str]]
    wheels: list[str]
    auths: list[Any] = field(default_factory=list)
    next_record: dict[str, Any] | None = None
    earlier_records: list[dict[str, Any] | None] = field(default_factory=list)
    next_status: str = "Finished"
    next_tags: dict[str, str] = field(default_factory=dict)


@pytest.fixture
def azure(monkeypatch: pytest.MonkeyPatch) -> Iterator[Azure]:
    monkeypatch.delenv("TF_BUILD", raising=False)
    monkeypatch.delenv("BUILD_BUILDNUMBER", raising=False)
    with offline_session() as session:
        fake = Azure(FakePipelinesService(), [], [], [])

        def new_run(experiment: Any, run_id: str, _service_endpoint: str | None = None) -> Any:
            run = FakePipelineRun(experiment, run_id, _service_endpoint, status=fake.next_status)
            records = [*fake.earlier_records, fake.next_record]
            run.files = {
                record_name(n): "" if record is None else json.dumps(record)  # "": failed upload
                for n, record in enumerate(records, start=1)
                if record is not None or n < len(records)
            }
            run.tags = dict(fake.next_tags)
            fake.runs.append(run)
            return run

        def upload(uploader: Any, directory: str) -> str:
            fake.snapshots.append(sorted(p.name for p in Path(directory).iterdir()))
            return f"snapshot-{len(fake.snapshots)}"

        def add_wheel(workspace: Any, file_path: str, exist_ok: bool = False) -> str:
            assert workspace is session.workspace and exist_ok
            fake.wheels.append(Path(file_path).name)
            return f"https://store.invalid/wheels/{Path(file_path).name}"

        def from_config(path: str | None = None, auth: Any = None) -> Any:
            fake.auths.append(auth)
            return session.workspace

        monkeypatch.setattr(Workspace, "from_config", staticmethod(from_config))
        monkeypatch.setattr(Workspace, "get_default_datastore", lambda _ws: session.datastore)
        monkeypatch.setattr(
            _AevaWorkflowProvider, "create_service_caller", staticmethod(lambda **_: fake.service)
        )
        monkeypatch.setattr(_AevaModuleSnapshotUploader, "upload", upload)
        monkeypatch.setattr(graph_module, "PipelineRun", new_run)
        monkeypatch.setattr(Environment, "add_private_pip_wheel", staticmethod(add_wheel))
        yield fake


@pytest.fixture
def wheel(tmp_path: Path) -> Path:
    """A small real wheel standing in for `pip wheel .` (which needs the network here)."""
    path = tmp_path / "champion-0.1.0-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("champion/__init__.py", "")
        archive.writestr("champion-0.1.0.dist-info/METADATA", "Name: champion\nVersion: 0.1.0\n")
    return path


def submit(*args: str, wheel: Path) -> int:
    return int(iris.main(["--submit", "--wheel", str(wheel), *args]))


RECORD = {
    "schema_version": 1,
    "model_name": "iris",
    "outcome": "promoted",
    "registered_version": 4,
    "metric": "accuracy",
    "challenger": "0.98",
    "champion": "0.95",
    "reason": "0.98 beats 0.95",
    "build_number": "20240611.4",
}


# --- --submit -----------------------------------------------------------------------------------


def test_submit_sends_every_step_with_parameters_tags_compute_and_environment(
    azure: Azure, wheel: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = submit(
        "--build-number",
        "20240611.4",
        "--experiment",
        "iris-ci",
        "--compute-target",
        "gpu-cluster",
        wheel=wheel,
    )
    assert code == 0
    ((submission, experiment),) = azure.service.runs
    assert experiment == "iris-ci"
    assert azure.service.submitted == [
        {"pipeline_run_id": "run-1", "parent_run_id": None, "credential_passthrough": None}
    ]
    assert submission.creation_info.parameter_assignments == {"build_number": "20240611.4"}

    modules = [azure.service.module(name) for name in ("train", "register", "score")]
    assert [m.is_deterministic for m in modules] == [False, False, False]  # allow_reuse
    arguments = {
        name: [
            (a.value_type, a.value)
            for a in azure.service.module(name).structured_interface.arguments
        ]
        for name in ("train", "register", "score")
    }
    assert arguments["train"] == [
        ("Literal", "--data"),
        ("Literal", "iris.csv"),
        ("Literal", "--seed"),
        ("Literal", "42"),
        ("Literal", "--output-dir"),
        ("Output", "model_dir"),
    ]
    assert arguments["register"] == [
        ("Literal", "--model-name"),
        ("Literal", "iris"),
        ("Literal", "--model-path"),
        ("Input", "model_dir"),
        ("Literal", "--training-step-name"),
        ("Literal", "train"),
        ("Literal", "--build-number"),
        ("Parameter", "build_number"),
    ]
    assert arguments["score"] == [
        ("Literal", "--model-name"),
        ("Literal", "iris"),
        ("Literal", "--champion"),
        ("Literal", "--data"),
        ("Literal", "iris.csv"),
        ("Literal", "--output"),
        ("Output", "predictions"),
    ]
    for name, script in (
        ("train", "train.py"),
        ("register", "register_model.py"),
        ("score", "score.py"),
    ):
        parameters = azure.service.node_parameters(name)
        assert parameters["Script"] == script
        assert parameters["Target"] == "gpu-cluster"
        assert parameters["MLCComputeType"] == "AmlCompute"
    assert azure.service.node_parameters("register")["build_number"] == "build_number"
    # the score step waits for the register step's decision: a sequencing edge, no data
    run_graph = azure.service.runs[-1][0].graph
    edges = {
        (e.source_output_port.node_id, e.destination_input_port.node_id) for e in run_graph.edges
    }
    register_id, score_id = azure.service.node("register").id, azure.service.node("score").id
    assert (register_id, score_id) in edges

    # One snapshot per step: the scripts and the training data, nothing else of the checkout.
    assert azure.snapshots == [["iris.csv", "register_model.py", "score.py", "train.py"]] * 3
    (run,) = azure.runs
    assert run.tags == {"build_number": "20240611.4"}
    assert f"submitted pipeline run run-1: {run.get_portal_url()}" in capsys.readouterr().out
    assert run.waited == []  # no --wait


def test_submit_installs_pinned_requirements_and_the_content_tagged_wheel(
    azure: Azure, wheel: Path
) -> None:
    assert submit(wheel=wheel) == 0
    (uploaded,) = azure.wheels
    assert uploaded.startswith("champion-0.1.0-0") and uploaded.endswith("-py3-none-any.whl")
    runconfigs = [json.loads(azure.service.node(step).runconfig) for step in ("train", "register")]
    assert runconfigs[0] == runconfigs[1]
    assert runconfigs[0]["target"] == "cpu-cluster"
    environment = runconfigs[0]["environment"]
    pip = environment["python"]["condaDependencies"]["dependencies"][1]["pip"]
    assert pip[-1] == f"https://store.invalid/wheels/{uploaded}"
    names = [p.split("==")[0] for p in pip[:-1]]
    assert names == ["azureml-core", "scikit-learn", "joblib", "pandas", "numpy"]
    assert all("==" in p for p in pip[:-1])
    assert environment["python"]["condaDependencies"]["dependencies"][0] == "python=3.11"
    # Without --build-number the parameter's default is sent, and tagged, explicitly.
    ((submission, _),) = azure.service.runs
    assert submission.creation_info.parameter_assignments == {"build_number": "local"}
    assert azure.runs[0].tags == {"build_number": "local"}


def test_submit_takes_the_build_number_from_the_agent(
    azure: Azure, wheel: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BUILD_BUILDNUMBER", "20240612.1")
    assert submit(wheel=wheel) == 0
    assert azure.service.runs[0][0].creation_info.parameter_assignments == {
        "build_number": "20240612.1"
    }


def test_submit_refuses_an_invalid_pipeline_before_calling_the_service(
    azure: Azure, wheel: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = submit("--data", str(tmp_path / "missing.csv"), wheel=wheel)
    assert code == 2
    assert "data file not found" in capsys.readouterr().err
    assert azure.service.runs == [] and azure.service.modules == {}


# --- --wait: the decision read back from the run ------------------------------------------------


def test_wait_prints_the_decision_read_from_the_pipeline_run(
    azure: Azure, wheel: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    azure.next_record = RECORD
    azure.next_tags = {
        OUTCOME_TAG: "promoted",
        VERSION_TAG: "4",
        RECORD_TAG: DECISION_ARTIFACT,
        MODEL_TAG: "iris",
    }
    assert submit("--wait", "--build-number", "20240611.4", wheel=wheel) == 0
    out = capsys.readouterr().out
    assert "pipeline run run-1: Finished" in out
    assert "champion: promoted as iris:4: accuracy 0.98 vs champion 0.95; 0.98 beats 0.95" in out
    assert '"registered_version": 4' in out
    assert "##vso[" not in out  # not under an agent
    assert azure.runs[0].waited == [True]


@pytest.mark.parametrize(
    ("status", "record", "tags", "code"),
    [
        ("Failed", None, {}, 1),
        ("Failed", {**RECORD, "outcome": "rejected", "registered_version": None}, {}, 1),
        ("Finished", None, {}, 3),
        ("Finished", RECORD, {OUTCOME_TAG: "rejected"}, 3),
    ],
    ids=["failed", "rejected-with-fail-on-reject", "no-record", "tags-disagree"],
)
def test_wait_exit_codes(
    azure: Azure,
    wheel: Path,
    capsys: pytest.CaptureFixture[str],
    status: str,
    record: dict[str, Any] | None,
    tags: dict[str, str],
    code: int,
) -> None:
    azure.next_status, azure.next_record, azure.next_tags = status, record, tags
    assert submit("--wait", wheel=wheel) == code
    captured = capsys.readouterr()
    assert f"pipeline run run-1: {status}" in captured.out
    if record is None:
        assert "has no decision record" in captured.err
    if tags:
        assert "disagrees with the decision record" in captured.err


REJECTED = {**RECORD, "outcome": "rejected", "registered_version": None, "reason": "0.9 < 0.95"}
FIRST_AFTER_RETRY = {**RECORD, "outcome": "first", "registered_version": 5, "champion": None}
SECOND = "outputs/champion_decision.2.json"


def test_wait_reads_the_newest_record_when_a_retry_decided_differently(
    azure: Azure, wheel: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The register step was rejected, the champion was deleted, the retried step registered
    version 5: the build must see version 5, so Deploy runs, not the first attempt's rejection."""
    monkeypatch.setenv("TF_BUILD", "True")
    azure.earlier_records = [REJECTED]
    azure.next_record = FIRST_AFTER_RETRY
    azure.next_tags = {
        OUTCOME_TAG: "first",
        VERSION_TAG: "5",
        RECORD_TAG: SECOND,
        MODEL_TAG: "iris",
    }
    assert submit("--wait", wheel=wheel) == 0
    out = capsys.readouterr().out
    assert "champion: first as iris:5:" in out
    assert "##vso[task.setvariable variable=champion_outcome;isOutput=true]first" in out
    assert "##vso[task.setvariable variable=champion_version;isOutput=true]5" in out
    assert "rejected" not in out


def test_wait_reports_tags_left_describing_an_older_record(
    azure: Azure, wheel: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The step stopped after uploading its new record and before tagging the run: the newest
    record is still the verdict shown, and the disagreement fails the build (exit 3)."""
    azure.earlier_records = [REJECTED]
    azure.next_record = FIRST_AFTER_RETRY
    azure.next_tags = {OUTCOME_TAG: "rejected", RECORD_TAG: DECISION_ARTIFACT, MODEL_TAG: "iris"}
    assert submit("--wait", wheel=wheel) == 3
    captured = capsys.readouterr()
    assert "champion: first as iris:5:" in captured.out
    assert (
        f"tag {RECORD_TAG}={DECISION_ARTIFACT!r} disagrees with the decision record {SECOND}"
        in captured.err
    )
    assert f"tag {VERSION_TAG}=None disagrees" in captured.err


def test_wait_skips_a_record_whose_upload_failed(
    azure: Azure, wheel: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An empty artifact is the leftover of a failed transfer, not a verdict: the newest record
    with content, which the tags describe, is the one read."""
    azure.earlier_records = [RECORD]
    azure.next_record = None  # the second record's upload failed: an empty artifact
    azure.next_tags = {
        OUTCOME_TAG: "promoted",
        VERSION_TAG: "4",
        RECORD_TAG: DECISION_ARTIFACT,
        MODEL_TAG: "iris",
    }
    assert submit("--wait", wheel=wheel) == 0
    assert "champion: promoted as iris:4:" in capsys.readouterr().out


# --- under an Azure DevOps agent ----------------------------------------------------------------


def test_under_the_agent_only_the_verdict_sets_variables(
    azure: Azure, wheel: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("TF_BUILD", "True")
    evil = "x]\n##vso[task.setvariable variable=champion_outcome;isOutput=true]promoted"
    azure.next_record = {
        **RECORD,
        "outcome": "rejected",
        "registered_version": None,
        "reason": evil,
    }
    azure.next_tags = {
        "log": "##VSO[task.complete result=Succeeded]done",
        OUTCOME_TAG: "rejected",
        RECORD_TAG: DECISION_ARTIFACT,
        MODEL_TAG: "iris",
    }
    assert submit("--wait", wheel=wheel) == 0
    out = capsys.readouterr().out
    commands = [line for line in out.splitlines() if "##" in line.lower()]
    assert commands == [
        "##vso[task.setvariable variable=champion_outcome;isOutput=true]rejected",
        "##vso[task.setvariable variable=champion_version;isOutput=true]",
        "##vso[task.setvariable variable=champion_model;isOutput=true]iris",
        "##vso[task.setvariable variable=champion_dry_run;isOutput=true]false",
    ]
    # The reason is shown, defused: its line break splits the line, and no line has a `##`.
    assert "\n#%23vso[task.setvariable variable=champion_outcome;isOutput=true]promoted" in out
    assert "step log: #%23VSO[task.complete" in out  # the SDK's streamed logs too
    # Credentials come from the AzureCLI task's login, not an interactive browser login.
    assert type(azure.auths[0]).__name__ == "TokenAuthentication"


def test_under_the_agent_a_record_that_could_inject_is_refused(
    azure: Azure, wheel: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("TF_BUILD", "True")
    azure.next_record = {**RECORD, "model_name": "iris;isOutput=true]x"}
    assert submit("--wait", wheel=wheel) == 2
    captured = capsys.readouterr()
    assert "##vso[" not in captured.out
    assert "not what a register step writes" in captured.err


# --- --publish ----------------------------------------------------------------------------------


def test_publish_uses_the_build_number_as_the_version(
    azure: Azure, wheel: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = iris.main(["--publish", "--build-number", "20240611.4", "--wheel", str(wheel)])
    assert code == 0
    (info,) = azure.service.published
    assert (info.name, info.version) == ("iris-pipeline", "20240611.4")
    assert info.continue_run_on_step_failure is False
    assert [n.module_id in azure.service.modules for n in info.graph.module_nodes] == [True] * 3
    assert azure.service.runs == []
    out = capsys.readouterr().out
    assert "published iris-pipeline version 20240611.4: published-1" in out


def test_publish_needs_a_build_number(
    azure: Azure, wheel: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert iris.main(["--publish", "--wheel", str(wheel)]) == 2
    assert "--publish needs --build-number" in capsys.readouterr().err
    assert azure.service.published == []


def test_wait_without_submit_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    for argv in (["--wait"], ["--validate", "--wait"], ["--publish", "--wait"]):
        with pytest.raises(SystemExit) as exit_:
            iris.main(argv)
        assert exit_.value.code == 2
    assert "--wait applies to --submit" in capsys.readouterr().err


def test_modes_are_exclusive(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        iris.main(["--validate", "--submit"])
    assert "not allowed with argument" in capsys.readouterr().err


def test_a_service_failure_exits_3_with_the_services_message(
    azure: Azure, wheel: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def unavailable(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("503 Service Unavailable")

    monkeypatch.setattr(azure.service, "create_unsubmitted_pipeline_run_async", unavailable)
    assert submit(wheel=wheel) == 3
    err = capsys.readouterr().err
    assert "champion: error [infrastructure]: RuntimeError: 503 Service Unavailable" in err


def test_without_wheel_one_is_built_from_the_checkout(
    azure: Azure, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    commands: list[list[str]] = []
    real_run = driver.subprocess.run

    def pip(command: list[str], **kwargs: Any) -> Any:
        if command[1:4] != ["-m", "pip", "wheel"]:  # the SDK runs git for its run properties
            return real_run(command, **kwargs)
        commands.append(command)
        dest = Path(command[command.index("--wheel-dir") + 1])
        dest.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(dest / "champion-0.1.0-py3-none-any.whl", "w") as archive:
            archive.writestr("champion/__init__.py", "")
        return SimpleNamespace(returncode=0, stderr="")

    monkeypatch.setattr(driver.subprocess, "run", pip)
    assert iris.main(["--submit"]) == 0
    (command,) = commands
    assert command[:6] == [driver.sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet"]
    assert command[6] == "--wheel-dir" and command[8:] == [str(ROOT)]
    assert azure.wheels[0].startswith("champion-0.1.0-0")


def test_a_failed_wheel_build_says_how_to_pass_one(
    azure: Azure, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    failed = SimpleNamespace(returncode=1, stderr="ERROR: Could not find setuptools>=68")
    monkeypatch.setattr(driver.subprocess, "run", lambda command, **kwargs: failed)
    assert iris.main(["--submit"]) == 3
    err = capsys.readouterr().err
    assert "could not build champion's wheel" in err and "Could not find setuptools" in err
    assert "pass --wheel" in err
    assert azure.service.runs == []
