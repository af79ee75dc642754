"""The Azure ML builder offline: `pipelines/iris.py --validate`, broken specs, and argv parity.

`--validate` runs as a subprocess, as the build's test stage runs it: a real interpreter, the
real SDK (the [pipelines] extra `make test` installs), no Azure account and no network. Broken
pipelines go through the same command line: a small pipeline file in tmp_path passes its own
`build_spec` to iris's `main`.

The parity tests hold the two backends to one argv: the local runner really runs a spec's steps
and records what each received; the Azure builder builds the same spec with the real SDK, and
each step's structured arguments (what the service receives), resolved the way the job runtime
resolves them, must give the same list.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from champion._extras import install_command
from champion.errors import ChampionError, InputError
from champion.local import Run, Workspace
from champion.pipeline import (
    DataReference,
    PipelineParameter,
    PipelineSpec,
    Step,
    azure,
    load_pipeline_file,
    resolve_arguments,
    run_pipeline,
)
from champion.pipeline._azure_offline import OfflineServiceError, OfflineSession, offline_session
from champion.pipeline.spec import validate

ROOT = Path(__file__).resolve().parents[2]
IRIS = ROOT / "pipelines" / "iris.py"
ENVIRONMENT = azure.EnvironmentSpec("test", "3.11", ("champion==0.1.0",))
COMPUTE = azure.Compute("cpu-cluster")


def iris_validate(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "TF_BUILD"}
    return subprocess.run(
        [sys.executable, str(IRIS), "--validate", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def session() -> Iterator[OfflineSession]:
    with offline_session() as s:
        yield s


def build(spec: PipelineSpec, session: OfflineSession) -> azure.AzurePipeline:
    return azure.build_pipeline(
        spec,
        session.workspace,
        compute=COMPUTE,
        environment=ENVIRONMENT,
        datastore=session.datastore,
        workflow_provider=session.workflow_provider,
    )


# --- python pipelines/iris.py --validate ------------------------------------------------------


def test_iris_validate_passes_offline_and_prints_each_step() -> None:
    done = iris_validate()
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert out.startswith("Azure ML pipeline iris-pipeline: valid")
    assert "snapshot        steps/ + iris.csv (from sample_data/iris.csv)" in out
    assert "compute         cpu-cluster (AmlCompute)" in out
    assert "parameter       build_number, default 'local'" in out
    assert "step train      train.py, allow_reuse=False" in out
    assert "outputs       model_dir" in out
    assert "--data iris.csv --seed 42 --output-dir {output:model_dir}" in out
    assert "step register   register_model.py, allow_reuse=False" in out
    assert "inputs        model_dir <- train" in out
    assert (
        "--model-name iris --model-path {input:model_dir} --training-step-name train "
        "--build-number {parameter:build_number}"
    ) in out
    assert "step score      score.py, allow_reuse=False" in out
    assert "outputs       predictions" in out and "after         register" in out
    assert "--model-name iris --champion --data iris.csv --output {output:predictions}" in out
    assert "scikit-learn==" in out and "joblib==1.5" in out and "champion==" in out
    assert done.stderr == ""


def test_iris_validate_takes_the_compute_target_and_data_from_options(tmp_path: Path) -> None:
    data = tmp_path / "my_data.csv"
    data.write_text((ROOT / "sample_data" / "iris_clean.csv").read_text())
    done = iris_validate("--compute-target", "gpu-cluster", "--data", str(data), "--seed", "7")
    assert done.returncode == 0, done.stderr
    assert "compute         gpu-cluster (AmlCompute)" in done.stdout
    assert f"+ my_data.csv (from {data})" in done.stdout
    assert "--data my_data.csv --seed 7 --output-dir" in done.stdout


def test_iris_validate_fails_clearly_for_a_missing_data_file(tmp_path: Path) -> None:
    done = iris_validate("--data", str(tmp_path / "nope.csv"))
    assert done.returncode == 2
    assert f"snapshot: data file not found: {tmp_path / 'nope.csv'}" in done.stderr


BROKEN_PIPELINE = """
from pathlib import Path

from champion.pipeline import DataReference, PipelineSpec, Step

HERE = Path(__file__).resolve().parent


def build_spec():
    {body}
"""


def broken_pipeline(tmp_path: Path, body: str) -> Path:
    """A pipeline file holding only its spec, as a user writes one."""
    (tmp_path / "first.py").write_text("print('first')\n")
    script = tmp_path / "broken_pipeline.py"
    script.write_text(
        BROKEN_PIPELINE.format(body=textwrap.indent(textwrap.dedent(body), "    ").strip())
    )
    return script


def champion_validate(file: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "TF_BUILD"}
    return subprocess.run(
        [sys.executable, "-m", "champion.cli", "pipeline", "validate", str(file), *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_validate_fails_clearly_for_a_missing_script(tmp_path: Path) -> None:
    script = broken_pipeline(
        tmp_path,
        """
        out = DataReference("out")
        return PipelineSpec(
            name="broken",
            steps=(
                Step("first", "first.py", ("--data", "d.csv", "--out", out), outputs=(out,)),
                Step("second", "missing.py", ("--in", out), inputs=(out,)),
            ),
            source_directory=HERE,
        )
        """,
    )
    done = champion_validate(script)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "Azure ML pipeline broken: 2 problem(s)" in done.stdout
    expected = f"Step [second]: script not found at: {tmp_path / 'missing.py'}."
    # Our spec check and the SDK's own builder say the same thing, each once, with the real path.
    assert f"  - spec: {expected}" in done.stderr
    assert f"  - azureml: {expected}" in done.stderr
    assert "champion-snapshot-" not in done.stderr


def test_validate_fails_clearly_for_an_orphan_input(tmp_path: Path) -> None:
    script = broken_pipeline(
        tmp_path,
        """
        orphan = DataReference("orphan")
        return PipelineSpec(
            name="broken",
            steps=(Step("first", "first.py", ("--in", orphan), inputs=(orphan,)),),
            source_directory=HERE,
        )
        """,
    )
    done = champion_validate(script)
    assert done.returncode == 2
    message = "Input orphan on step first is not connected to any previous step"
    assert f"  - spec: {message}" in done.stderr
    assert f"  - azureml: {message}" in done.stderr
    assert "champion: error [input_invalid]: pipeline 'broken' is not valid:" in done.stderr


def test_validate_reports_a_cycle_from_the_sdks_graph_validation(tmp_path: Path) -> None:
    (tmp_path / "second.py").write_text("")
    script = broken_pipeline(
        tmp_path,
        """
        a, b = DataReference("a"), DataReference("b")
        return PipelineSpec(
            name="broken",
            steps=(
                Step("first", "first.py", ("--in", b, "--out", a), inputs=(b,), outputs=(a,)),
                Step("second", "second.py", ("--in", a, "--out", b), inputs=(a,), outputs=(b,)),
            ),
            source_directory=HERE,
        )
        """,
    )
    done = champion_validate(script)
    assert done.returncode == 2
    assert "  - spec: Cycle detected including node" in done.stderr
    assert "  - azureml: Cycle detected including node" in done.stderr


def test_validation_opens_no_connection(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"network access during offline validation: {args}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    spec = load_pipeline_file(IRIS).build_spec(data="iris.csv")
    data = ROOT / "sample_data" / "iris.csv"
    report = azure.validate_offline(
        spec, compute=COMPUTE, environment=ENVIRONMENT, snapshot_files={"iris.csv": data}
    )
    assert report.ok, report.problems
    assert report.pipeline == "iris-pipeline" and len(report.lines) == 15


def test_importing_iris_for_a_local_run_does_not_import_the_pipelines_sdk() -> None:
    code = (
        "import sys; from champion.pipeline import load_pipeline_file; "
        f"load_pipeline_file({str(IRIS)!r}).build_spec(); "
        "print(sorted(m for m in sys.modules if m.startswith('azureml')))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


# --- what the builder makes of a spec -----------------------------------------------------------


def test_iris_builds_into_python_script_steps_that_never_reuse(session: OfflineSession) -> None:
    spec = load_pipeline_file(IRIS).build_spec(data="iris.csv", seed=3, model_name="m")
    built = build(spec, session)
    assert built.validate() == []
    train, register, score = built.steps
    assert (train.name, train.script, train.allow_reuse) == ("train", "train.py", False)
    assert (register.name, register.script, register.allow_reuse) == (
        "register",
        "register_model.py",
        False,
    )
    assert train.compute_target == register.compute_target == "cpu-cluster"
    assert train.outputs == ("model_dir",) and register.inputs == (("model_dir", "train"),)
    assert register.arguments == (
        ("Literal", "--model-name"),
        ("Literal", "m"),
        ("Literal", "--model-path"),
        ("Input", "model_dir"),
        ("Literal", "--training-step-name"),
        ("Literal", "train"),
        ("Literal", "--build-number"),
        ("Parameter", "build_number"),
    )
    assert (score.name, score.script, score.allow_reuse) == ("score", "score.py", False)
    assert score.inputs == () and score.outputs == ("predictions",)
    assert score.after == ("register",)  # the SDK's run_after: a sequencing edge, no data
    assert score.arguments == (
        ("Literal", "--model-name"),
        ("Literal", "m"),
        ("Literal", "--champion"),
        ("Literal", "--data"),
        ("Literal", "iris.csv"),
        ("Literal", "--output"),
        ("Output", "predictions"),
    )
    params = built.pipeline.graph.params
    assert list(params) == ["build_number"] and params["build_number"].default_value == "local"
    assert built.step("train") is train
    with pytest.raises(KeyError):
        built.step("nope")


def test_the_environment_rides_on_every_step(session: OfflineSession) -> None:
    spec = load_pipeline_file(IRIS).build_spec()
    built = build(spec, session)
    for node in built.pipeline.graph.module_nodes:
        runconfig = json.loads(node._runconfig)
        conda = runconfig["environment"]["python"]["condaDependencies"]
        assert runconfig["environment"]["name"] == "test"
        assert conda["channels"] == ["conda-forge"]
        assert conda["dependencies"][0] == "python=3.11"
        assert conda["dependencies"][1] == {"pip": ["champion==0.1.0"]}


def test_the_sdks_refusals_are_collected_as_a_build_error(session: OfflineSession) -> None:
    out = DataReference("out")
    spec = PipelineSpec(
        "p",
        (Step("a", "train.py", ("--out", out)),),  # used in arguments, not declared as output
        ROOT / "steps",
    )
    with pytest.raises(azure.AzureBuildError) as caught:
        build(spec, session)
    assert caught.value.problems == (
        "step a: Input/Output out appears in arguments list but is not in the input/output lists",
    )
    assert caught.value.exit_code == 2


def test_without_the_pipelines_extra_the_message_says_how_to_install_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "azureml.pipeline.steps", None)  # as if not installed
    spec = load_pipeline_file(IRIS).build_spec()
    with pytest.raises(ChampionError, match=re.escape(f"`{install_command('pipelines')}`")):
        azure.validate_offline(spec, compute=COMPUTE, environment=ENVIRONMENT)


def test_the_offline_provider_refuses_service_calls_with_a_clear_message(
    session: OfflineSession,
) -> None:
    built = build(load_pipeline_file(IRIS).build_spec(), session)
    with pytest.raises(OfflineServiceError, match=r"needs the Azure ML service"):
        built.pipeline.submit("iris-pipeline")


# --- one argv for both backends -----------------------------------------------------------------

RECORD_ARGV = """
import json, sys
from champion.local import Run
Run.get_context().set_tags({"argv": json.dumps(sys.argv[1:])})
"""


def test_azure_arguments_resolve_to_the_argv_the_local_runner_passed(
    tmp_path: Path, session: OfflineSession
) -> None:
    src = tmp_path / "src"
    src.mkdir()
    for name in ("produce.py", "transform.py", "consume.py"):
        (src / name).write_text(RECORD_ARGV)
    raw, features = DataReference("raw"), DataReference("features")
    build_number, rate = (
        PipelineParameter("build_number", "local"),
        PipelineParameter("rate", "0.5"),
    )
    spec = PipelineSpec(
        "parity",
        (
            Step(
                "produce",
                "produce.py",
                ("--out", raw, "--build", build_number, "a b", ""),
                outputs=(raw,),
            ),
            Step(
                "transform",
                "transform.py",
                ("--in", raw, "--out", features, "--rate", rate, "--in-again", raw),
                inputs=(raw,),
                outputs=(features,),
            ),
            Step(
                "consume",
                "consume.py",
                ("--features", features, "--raw", raw, "--build", build_number),
                inputs=(features, raw),
                allow_reuse=False,
            ),
        ),
        src,
        (build_number, rate),
    )
    result = run_pipeline(
        spec, tmp_path / "ws", parameters={"build_number": "7"}, stream_output=False
    )
    assert result.succeeded, result.summary()
    folders = {
        ref: tmp_path / "ws" / "pipeline-data" / result.run_id / ref for ref in ("raw", "features")
    }
    values = {"build_number": "7", "rate": "0.5"}
    built = build(spec, session)
    assert built.validate() == []
    ws = Workspace(tmp_path / "ws")
    for step_result in result.steps:
        local_argv = json.loads(str(Run.get(ws, step_result.run_id).get_tags()["argv"]))
        azure_argv = built.step(step_result.name).argv(folders, values)
        assert azure_argv == local_argv, step_result.name
        assert local_argv == resolve_arguments(spec.step(step_result.name), folders, values)
    assert [s.allow_reuse for s in built.steps] == [True, True, False]


def test_run_after_orders_the_steps_the_same_way_locally_and_on_azure(
    tmp_path: Path, session: OfflineSession
) -> None:
    """A step declared first but running after another (no data between): the local runner
    starts it second, and the Azure builder gives it the SDK's sequencing edge."""
    src = tmp_path / "src"
    src.mkdir()
    for name in ("late.py", "early.py"):
        (src / name).write_text(RECORD_ARGV)
    spec = PipelineSpec(
        "ordered",
        (
            Step("late", "late.py", ("--x", "1"), run_after=("early",)),
            Step("early", "early.py", ("--y", "2")),
        ),
        src,
    )
    result = run_pipeline(spec, tmp_path / "ws", stream_output=False)
    assert result.succeeded, result.summary()
    assert [step.name for step in result.steps] == ["early", "late"]
    built = build(spec, session)
    assert built.validate() == []
    assert built.step("late").after == ("early",) and built.step("early").after == ()
    assert "after         early" in "\n".join(built.step("late").describe())


def test_run_after_must_name_a_step_and_cannot_close_a_cycle(tmp_path: Path) -> None:
    (tmp_path / "a.py").write_text("")
    unknown = PipelineSpec("p", (Step("a", "a.py", run_after=("nope",)),), tmp_path)
    assert validate(unknown) == [
        "step 'a' runs after 'nope', which names no step of pipeline 'p' (its steps: 'a')"
    ]
    looped = PipelineSpec(
        "p",
        (Step("a", "a.py", run_after=("b",)), Step("b", "a.py", run_after=("a",))),
        tmp_path,
    )
    assert any(p.startswith("Cycle detected including node") for p in validate(looped))


def test_iris_arguments_are_the_same_for_both_backends(session: OfflineSession) -> None:
    spec = load_pipeline_file(IRIS).build_spec(data="iris.csv")
    built = build(spec, session)
    folders = {"model_dir": "/mnt/azureml/model_dir", "predictions": "/mnt/azureml/predictions"}
    assert [step.name for step in spec.steps] == ["train", "register", "score"]
    for values in ({"build_number": "local"}, {"build_number": "20240611.4"}):
        for step in spec.steps:
            assert built.step(step.name).argv(folders, values) == resolve_arguments(
                step, folders, values
            )


# --- the pieces ---------------------------------------------------------------------------------


def test_stage_snapshot_copies_the_scripts_and_adds_the_data(tmp_path: Path) -> None:
    spec = load_pipeline_file(IRIS).build_spec(data="iris.csv")
    data = ROOT / "sample_data" / "iris.csv"
    staged = azure.stage_snapshot(spec, tmp_path / "snap", {"iris.csv": data})
    assert staged.source_directory == tmp_path / "snap" and staged.steps == spec.steps
    assert sorted(p.name for p in (tmp_path / "snap").iterdir()) == [
        "iris.csv",
        "register_model.py",
        "score.py",
        "train.py",
    ]
    assert (tmp_path / "snap" / "iris.csv").read_bytes() == data.read_bytes()
    with pytest.raises(InputError, match="would replace"):
        azure.stage_snapshot(spec, tmp_path / "again", {"train.py": data})
    with pytest.raises(InputError, match="plain file name"):
        azure.stage_snapshot(spec, tmp_path / "third", {"../x.csv": data})


def test_parameter_values_keep_the_defaults_type_and_refuse_unknown_names() -> None:
    spec = PipelineSpec(
        "p",
        (),
        ROOT,
        (
            PipelineParameter("build_number", "local"),
            PipelineParameter("epochs", 3),
            PipelineParameter("rate", 0.5),
            PipelineParameter("strict", False),
        ),
    )
    assert azure.parameter_values(spec, None) == {
        "build_number": "local",
        "epochs": 3,
        "rate": 0.5,
        "strict": False,
    }
    given = {"build_number": "42", "epochs": "5", "rate": "0.25", "strict": "True"}
    assert azure.parameter_values(spec, given) == {
        "build_number": "42",
        "epochs": 5,
        "rate": 0.25,
        "strict": True,
    }
    with pytest.raises(InputError, match="unknown pipeline parameter"):
        azure.parameter_values(spec, {"nope": "1"})
    with pytest.raises(InputError, match="'five' is not a int"):
        azure.parameter_values(spec, {"epochs": "five"})


def test_datastore_input_argv_is_the_same_for_both_backends(
    tmp_path: Path, session: OfflineSession
) -> None:
    """A datastore path reaches the step in argv (and AZUREML_DATAREFERENCE_<name>) as Azure's
    DataReference does: the local runner's argv is what the built step resolves to."""
    from champion.pipeline import DatastoreInput

    src = tmp_path / "src"
    src.mkdir()
    (src / "consume.py").write_text(RECORD_ARGV)
    raw = DatastoreInput("raw_in", "raw/table.csv")
    folder = DatastoreInput("all_raw", "raw", mode="download")
    step = Step(
        "consume",
        "consume.py",
        ("--raw", raw, "--folder", folder, "--literal", "x"),
        inputs=(raw, folder),
        allow_reuse=False,
    )
    spec = PipelineSpec("datastore-parity", (step,), src)
    result = run_pipeline(spec, tmp_path / "ws", stream_output=False)
    assert result.succeeded, result.summary()
    ws = Workspace(tmp_path / "ws")
    local_argv = json.loads(str(Run.get(ws, result.steps[0].run_id).get_tags()["argv"]))
    paths = {"raw_in": local_argv[1], "all_raw": local_argv[3]}
    assert local_argv[1] == str(
        tmp_path / "ws" / "datastores" / "workspaceblobstore" / "raw" / "table.csv"
    )
    built = build(spec, session)
    assert built.validate() == []
    assert built.step("consume").argv(paths, {}) == local_argv
    assert built.step("consume").arguments == (
        ("Literal", "--raw"),
        ("Input", "raw_in"),
        ("Literal", "--folder"),
        ("Input", "all_raw"),
        ("Literal", "--literal"),
        ("Literal", "x"),
    )  # what the service receives: the datastore paths are data ports, as PipelineData is
