"""How `AzureMLTrapWarning` behaves for a user: once per call site, again in each test, every
time under "always", an error under "error" (so `pytest -W error::...` fails each trap), also in
a plain script and in a process a local pipeline step starts; and the mock only looks.

What each trap returns and says, on both faces, is in tests/contract/test_traps.py."""

from __future__ import annotations

import inspect
import os
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path

import pytest

from champion.local import AzureMLTrapWarning, Model, Workspace, mock_azureml
from champion.local._traps import PYTEST_FILTER, raise_on_traps
from champion.pipeline import PipelineSpec, Step, run_pipeline

NAME = "compliance-classifier"


@pytest.fixture
def builds(ws: Workspace, in_tmp: Path) -> Workspace:
    (in_tmp / "model.pkl").write_bytes(b"model")
    for build in ("20190809.1", "20190809.2", "20190809.3"):
        Model.register(ws, "model.pkl", NAME, tags={"build_number": build})
    return ws


def _lookup(ws: Workspace, build: str) -> int:
    return int(Model(ws, NAME, tags={"build_number": build}).version or 0)  # the one call site


def _traps(caught: list[warnings.WarningMessage]) -> list[warnings.WarningMessage]:
    return [w for w in caught if issubclass(w.category, AzureMLTrapWarning)]


# --------------------------------------------------------------------------- once per call site


def test_warned_once_per_call_site_whatever_the_values(builds: Workspace) -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("default")  # Python's own action for a UserWarning
        versions = [_lookup(builds, b) for b in ("20190809.1", "20190809.2", "20190809.1")]
        Model(builds, NAME, tags={"build_number": "20190809.2"})  # a second call site
    assert versions == [3, 3, 3]
    traps = _traps(caught)
    assert len(traps) == 2
    lookup_line = inspect.getsourcelines(_lookup)[1] + 1
    assert [w.filename for w in traps] == [__file__, __file__]
    assert traps[0].lineno == lookup_line and traps[1].lineno != lookup_line
    assert "tags=[['build_number', '20190809.1']]" in str(traps[0].message)  # the first call's


def test_warned_again_when_the_filters_change_as_in_each_new_test(builds: Workspace) -> None:
    for _ in range(2):  # each catch_warnings block is what pytest does around every test
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("default")
            _lookup(builds, "20190809.1")
            _lookup(builds, "20190809.2")
        assert len(_traps(caught)) == 1


def test_always_shows_every_call_and_error_raises_every_call(builds: Workspace) -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for build in ("20190809.1", "20190809.1", "20190809.2"):
            _lookup(builds, build)
    assert len(_traps(caught)) == 3
    with warnings.catch_warnings():
        raise_on_traps()
        for _ in range(2):
            with pytest.raises(AzureMLTrapWarning, match="tags=\\[\\['build_number', 'x'\\]\\]"):
                _lookup(builds, "x")


# --------------------------------------------------------------------------- real processes


@pytest.mark.process
def test_a_script_warns_once_per_call_site_on_stderr(builds: Workspace, tmp_path: Path) -> None:
    script = tmp_path / "seed_lookup.py"
    script.write_text(
        textwrap.dedent(
            f"""
            from champion.local import Model, Workspace
            ws = Workspace({str(builds.path)!r})
            for build in ("20190809.1", "20190809.2", "20190809.3"):
                print(Model(ws, {NAME!r}, tags={{"build_number": build}}).version)
            print(Model(ws, {NAME!r}, tags=[["build_number", "20190809.2"]]).version)
            """
        )
    )
    done = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, check=True, timeout=120
    )
    assert done.stdout.split() == ["3", "3", "3", "2"]
    warned = [line for line in done.stderr.splitlines() if "AzureMLTrapWarning" in line]
    assert len(warned) == 1
    assert warned[0].startswith(f"{script}:5: AzureMLTrapWarning: Model(ws, '{NAME}'")
    assert "pass tags=[['build_number', '20190809.1']]" in warned[0]


TRAP_TESTS = """
import numpy as np, pytest
from pathlib import Path
from azureml.exceptions import WebserviceException
from champion.local import Experiment, Model, Run, Workspace, mock_azureml
from champion.local._traps import mark_step_workdir
from champion.pipeline import DataReference, PipelineSpec, Step, run_pipeline

@pytest.fixture
def ws(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("CHAMPION_RUN_ID", raising=False)
    Path("model.pkl").write_bytes(b"m")
    ws = Workspace.create(tmp_path / "ws")
    for build in ("20190809.1", "20190809.2"):
        Model.register(ws, "model.pkl", "m", tags={"build_number": build}, properties={"p": build})
    return ws

def family(ws):
    parent = Experiment(ws, "e").start_logging()
    parent.child_run("c").set_tags({"k": "1"})
    return parent

def test_tag_dict(ws):
    assert Model(ws, "m", tags={"build_number": "20190809.1"}).version == 2

def test_tag_dict_real_sdk(tmp_path, ws):
    import azureml.core
    with mock_azureml(tmp_path / "ws") as aml:
        found = azureml.core.Model(aml.workspace, "m", tags={"build_number": "20190809.1"})
        assert found.version == 2

def test_tag_string(ws):
    with pytest.raises(WebserviceException, match="ModelNotFound"):
        Model(ws, "m", tags="build_number")

def test_property_dict(ws):
    assert [m.version for m in Model.list(ws, "m", properties={"p": "20190809.1"})] == [2, 1]

def test_comma_in_a_value(ws):
    with pytest.raises(WebserviceException, match="ModelNotFound"):
        Model(ws, "m", tags=[["build_number", "a,b"]])

def test_ignored_filters(ws):
    assert Model(ws, "m", version=2, tags=[["build_number", "20190809.1"]]).version == 2

def test_children_list(ws):
    assert list(family(ws).get_children(tags=["k"])) == []

def test_children_number(ws):
    assert list(family(ws).get_children(tags={"k": 1})) == []

def test_metric_repr(ws):
    run = Experiment(ws, "e").start_logging()
    run.log("n", np.int64(5))
    assert run.get_metrics() == {"n": "np.int64(5)"}

def test_offline_context(tmp_path, monkeypatch):
    workdir = tmp_path / "step" / "cwd"
    workdir.mkdir(parents=True)
    mark_step_workdir(workdir, step="train", run_id="r")
    monkeypatch.chdir(workdir)
    assert Run.get_context().id.startswith("OfflineRun_")

def test_reused_register_step(tmp_path):
    (tmp_path / "register.py").write_text("print('registered')")
    spec = PipelineSpec("p", (Step("register", "register.py"),), tmp_path)
    assert run_pipeline(spec, tmp_path / "ws", stream_output=False).succeeded
"""


@pytest.mark.process
def test_pytest_W_error_turns_every_trap_into_a_failing_test(tmp_path: Path) -> None:
    """The README's promise, in a real pytest run over a user's kind of test file: with
    champion's plugin each trap fails its test by default; a project that opted out
    (`champion_traps = "warn"`) gets warnings, and `-W error::...` still fails every trap."""
    tests = tmp_path / "test_user_steps.py"
    tests.write_text(TRAP_TESTS)
    names = [
        line[4:].split("(")[0] for line in TRAP_TESTS.splitlines() if line.startswith("def test_")
    ]
    base = [sys.executable, "-m", "pytest", "-q", "-rfE", "-p", "no:cacheprovider", str(tests)]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CHAMPION_", "PYTEST_"))}
    env["CI"] = "1"  # short summary lines in full, not cut to a terminal's width

    warned = subprocess.run(
        [*base, "-o", "champion_traps=warn"], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert warned.returncode == 0, warned.stdout + warned.stderr
    assert f"{len(names)} passed" in warned.stdout
    assert warned.stdout.count("AzureMLTrapWarning") >= len(names)  # the warnings summary

    for extra in ([], ["-o", "champion_traps=warn", "-W", PYTEST_FILTER]):
        failed = subprocess.run(
            [*base, *extra], cwd=tmp_path, env=env, capture_output=True, text=True
        )
        assert failed.returncode == 1, failed.stdout + failed.stderr
        assert f"{len(names)} failed" in failed.stdout, failed.stdout
        for name in names:
            assert f"FAILED test_user_steps.py::{name} - champion.local.AzureMLTrapWarning" in (
                failed.stdout
            ), name


@pytest.mark.process
def test_a_process_started_by_a_local_step_without_its_run_variables_warns(
    tmp_path: Path,
) -> None:
    """The runner marks each step's working directory; a subprocess the step starts with its own
    environment gets the offline run (as on Azure) and is told why, in the step's log."""
    steps = tmp_path / "steps"
    steps.mkdir()
    (steps / "train.py").write_text(
        textwrap.dedent(
            """
            import os, subprocess, sys
            from champion.local import Run
            print("step sees", Run.get_context().id)
            child = "from champion.local import Run; print('child sees', Run.get_context().id)"
            env = {k: v for k, v in os.environ.items() if not k.startswith("CHAMPION_")}
            subprocess.run([sys.executable, "-c", child], env=env, check=True)
            """
        )
    )
    spec = PipelineSpec("p", (Step("train", "train.py", allow_reuse=False),), steps)
    result = run_pipeline(spec, tmp_path / "ws", stream_output=False)
    assert result.succeeded
    step = result.steps[0]
    log = next((tmp_path / "ws" / "pipeline-steps").glob(f"*/{step.run_id}/70_driver_log.txt"))
    text = log.read_text()
    assert f"step sees {step.run_id}" in text
    assert "child sees OfflineRun_" in text
    assert "AzureMLTrapWarning: Run.get_context() returned an offline run" in text
    assert f"inside local pipeline step 'train' (step run {step.run_id})" in text
    assert text.count("AzureMLTrapWarning") == 1  # the step itself, with its run, is fine


# --------------------------------------------------------------------------- the mock only looks


def test_the_mock_observes_the_sdk_with_its_own_signatures_and_restores_it(
    tmp_path: Path,
) -> None:
    from azureml.core import Model as SdkModel
    from azureml.core import Run as SdkRun

    points = [(SdkModel, "__init__"), (SdkModel, "list"), (SdkRun, "get_children")]
    points += [(SdkRun, "log"), (SdkRun, "get_context")]
    before = {(o, n): vars(o)[n] for o, n in points}
    parameters = {point: _parameters(*point) for point in points}
    with mock_azureml(tmp_path / "ws"):
        assert all(vars(o)[n] is not before[(o, n)] for o, n in points)
        assert {point: _parameters(*point) for point in points} == parameters
    assert {(o, n): vars(o)[n] for o, n in points} == before


def _parameters(owner: object, name: str) -> list[tuple[str, object, object]]:
    """Names, kinds and defaults: what a caller can pass (annotations aside)."""
    signature = inspect.signature(getattr(owner, name))
    return [(p.name, p.kind, p.default) for p in signature.parameters.values()]
