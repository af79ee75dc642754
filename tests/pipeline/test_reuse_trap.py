"""The reuse trap: a step with allow_reuse=True that is, or feeds, a register step.

On Azure ML such a step is not run when its script, arguments and inputs are unchanged, so a
rebuild silently registers nothing; the local runner runs every step. Both the local runner and
the Azure builder warn, and neither changes what it does (the runner still runs every step, the
builder still sends allow_reuse=True)."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest

from champion.local import AzureMLTrapWarning
from champion.pipeline import DataReference, PipelineSpec, Step, azure, run_pipeline
from champion.pipeline._azure_offline import offline_session


def _spec(tmp_path: Path, *, train_reuse: bool, register_reuse: bool) -> PipelineSpec:
    (tmp_path / "train.py").write_text(
        "import sys, pathlib; pathlib.Path(sys.argv[1]).write_text('m')"  # a file at the path
    )
    (tmp_path / "register_model.py").write_text("import sys; print('registering', sys.argv[1])")
    (tmp_path / "report.py").write_text("print('report')")
    model = DataReference("model_dir")
    return PipelineSpec(
        "reuse",
        (
            Step("train", "train.py", (model,), outputs=(model,), allow_reuse=train_reuse),
            Step(
                "publish",
                "register_model.py",
                (model,),
                inputs=(model,),
                allow_reuse=register_reuse,
            ),
            Step("report", "report.py"),  # feeds nothing: its reuse is harmless
        ),
        tmp_path,
    )


def test_the_local_runner_warns_for_the_register_step_and_its_feeder_and_runs_both(
    tmp_path: Path,
) -> None:
    spec = _spec(tmp_path, train_reuse=True, register_reuse=True)
    with pytest.warns(AzureMLTrapWarning) as caught:
        result = run_pipeline(spec, tmp_path / "ws", stream_output=False)
    traps = [w for w in caught if issubclass(w.category, AzureMLTrapWarning)]
    texts = [str(w.message) for w in traps]
    assert len(texts) == 2
    assert texts[0].startswith("step 'publish' (register_model.py) has allow_reuse=True")
    assert "Azure ML does not run it but reuses its earlier run" in texts[0]
    assert texts[1].startswith("step 'train' (train.py) feeds register step 'publish'")
    assert all("Pass Step(..., allow_reuse=False)" in text for text in texts)
    assert {w.filename for w in traps} == {__file__}  # the caller's line, not champion's
    assert result.succeeded and [s.name for s in result.steps] == ["train", "publish", "report"]


def test_no_warning_without_reuse_before_a_register_step(tmp_path: Path) -> None:
    spec = _spec(tmp_path, train_reuse=False, register_reuse=False)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert run_pipeline(spec, tmp_path / "ws", stream_output=False).succeeded
    assert not [w for w in caught if issubclass(w.category, AzureMLTrapWarning)]


def test_the_azure_builder_warns_and_still_sends_allow_reuse(tmp_path: Path) -> None:
    spec = _spec(tmp_path, train_reuse=True, register_reuse=False)
    with (
        offline_session() as session,
        pytest.warns(AzureMLTrapWarning, match="step 'train' .* feeds register step 'publish'"),
    ):
        built = azure.build_pipeline(
            spec,
            session.workspace,
            compute=azure.Compute("cpu-cluster"),
            environment=azure.EnvironmentSpec("test", "3.11", ("champion==0.1.0",)),
            datastore=session.datastore,
            workflow_provider=session.workflow_provider,
        )
    assert {s.name: s.allow_reuse for s in built.steps} == {
        "train": True,
        "publish": False,
        "report": True,
    }
