"""The pytest plugin `pip install champion` registers (entry point `pytest11`, name `champion`):
the `champion.testing` kit as fixtures.

Why fixtures: a test of a step wants a fresh workspace, runs shaped like a pipeline's and the
step started inside them, and wants them gone afterwards; pytest's `tmp_path` and fixture scoping
give exactly that. The plugin loads in every pytest session where champion is installed, so
this module imports only pytest and `champion.testing` (neither imports azureml or the local
workspace); each fixture imports what it needs when a test asks for it. `-p no:champion`
switches it off.

Fixtures (function scope; all share the test's one workspace):

- `local_workspace`: a fresh `champion.local.Workspace` in `tmp_path / "workspace"`, also set
  as `$CHAMPION_WORKSPACE` for the test, so `Workspace.from_config()` finds it;
- `pipeline_run`: `pipeline_run(parent_tags=None, steps=None, experiment="pipeline")` makes a
  `PipelineRunTree` in that workspace (default steps: `train` tagged `accuracy=0.93`, `register`);
- `run_step`: `run_step(script_or_module, *args, step="register", run=<the test's latest
  pipeline_run>, real_sdk=False, env=None, cwd=None)` runs the step as a process, returns a
  `StepRunResult` (`exit_code`, `output`, `decision`);
- `mock_azureml`: the real `azureml.core` classes against that workspace, for the test
  (yields `champion.local.MockAzureML`; `mock_azureml.workspace` is an `azureml.core.Workspace`);
- `mock_azure_ai_ml`: the real `azure-ai-ml` (every `MLClient`), and MLflow, against that
  workspace, for the test (yields `champion.local.mock_v2.MockAzureAIML`).

Traps are errors. A call Azure ML answers differently from what it reads like (an
`AzureMLTrapWarning`) fails the test that makes it: the plugin adds the filter line
`error::champion.local.AzureMLTrapWarning` after the project's own `filterwarnings` lines, so it
wins over a broad `ignore::UserWarning`, while the command line (`-W
default::champion.local.AzureMLTrapWarning`, one run) and marks (`@pytest.mark.filterwarnings`,
one test; `pytest.warns(AzureMLTrapWarning)`, expected) still override it. A project opts out
with the ini option `champion_traps = "warn"` (default `"error"`). The line names the category
by its import path, which pytest resolves at the first test; the plugin itself imports
`champion.local` only to read that line, in `pytest_configure`.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from champion.testing import PipelineRunTree, StepRunResult
from champion.testing import make_pipeline_run as _make_pipeline_run
from champion.testing import run_step as _run_step

if TYPE_CHECKING:
    from champion.local import MockAzureML, Run, Workspace
    from champion.local.mock_v2 import MockAzureAIML

__all__ = [
    "TRAPS_INI",
    "local_workspace",
    "mock_azure_ai_ml",
    "mock_azureml",
    "pipeline_run",
    "pytest_addoption",
    "pytest_configure",
    "run_step",
]

TRAPS_INI = "champion_traps"
_TRAPS_CHOICES = ("error", "warn")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini(
        TRAPS_INI,
        help="champion: 'error' (default) fails a test that makes a call Azure ML answers "
        "differently from what it reads like (AzureMLTrapWarning); 'warn' only warns",
        default="error",
    )


def pytest_configure(config: pytest.Config) -> None:
    """Add the traps' error filter after the project's own lines, unless it opted out."""
    setting = str(config.getini(TRAPS_INI)).strip().lower()
    if setting not in _TRAPS_CHOICES:
        raise pytest.UsageError(
            f"{TRAPS_INI} = {setting!r} is not a choice; use 'error' (a trap fails the test) "
            "or 'warn' (it only warns)"
        )
    if setting == "error":
        from champion.local._traps import PYTEST_FILTER

        config.addinivalue_line("filterwarnings", PYTEST_FILTER)


class _Latest:
    """`run_step`'s default `run`: the test's most recent `pipeline_run(...)`."""

    def __repr__(self) -> str:
        return "<the latest pipeline_run>"


LATEST: Any = _Latest()


@pytest.fixture
def local_workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Workspace:
    """A fresh local workspace for this test, in `tmp_path`, and `$CHAMPION_WORKSPACE`."""
    from champion.testing import create_workspace

    workspace = create_workspace(tmp_path / "workspace")
    monkeypatch.setenv("CHAMPION_WORKSPACE", os.fspath(workspace.path))
    monkeypatch.delenv("CHAMPION_RUN_ID", raising=False)
    return workspace


class _PipelineRuns:
    """The `pipeline_run` factory; remembers the latest tree for `run_step`'s default."""

    def __init__(self, workspace: Workspace) -> None:
        self.workspace = workspace
        self.latest: PipelineRunTree | None = None

    def __call__(
        self,
        parent_tags: Mapping[str, Any] | None = None,
        steps: Mapping[str, Mapping[str, Any] | None] | None = None,
        experiment: str = "pipeline",
    ) -> PipelineRunTree:
        self.latest = _make_pipeline_run(self.workspace, parent_tags, steps, experiment)
        return self.latest


@pytest.fixture
def pipeline_run(local_workspace: Workspace) -> Callable[..., PipelineRunTree]:
    """Factory: a pipeline run and its step runs, named and typed as Azure ML makes them."""
    return _PipelineRuns(local_workspace)


@pytest.fixture
def run_step(
    local_workspace: Workspace, pipeline_run: _PipelineRuns
) -> Callable[..., StepRunResult]:
    """Factory: run a step script or module as a process in a step run of this workspace."""

    def run(
        script_or_module: str | os.PathLike[str],
        *args: str | os.PathLike[str],
        step: str = "register",
        run: PipelineRunTree | Run | None = LATEST,
        real_sdk: bool = False,
        env: Mapping[str, str | None] | None = None,
        cwd: str | os.PathLike[str] | None = None,
        timeout: float | None = None,
    ) -> StepRunResult:
        if run is LATEST:
            if pipeline_run.latest is None:
                raise RuntimeError(
                    "run_step needs a run: make one first with pipeline_run(...), or pass "
                    "run=... (run=None runs the step outside any run)"
                )
            run = pipeline_run.latest
        options: dict[str, Any] = {} if timeout is None else {"timeout": timeout}
        return _run_step(
            script_or_module,
            *args,
            run=run,
            step=step,
            workspace=local_workspace,
            real_sdk=real_sdk,
            env=env,
            cwd=cwd,
            **options,
        )

    return run


@pytest.fixture
def mock_azureml(local_workspace: Workspace) -> Iterator[MockAzureML]:
    """The real azureml.core SDK answered by this test's workspace, for the whole test."""
    from champion.local import mock_azureml as start

    with start(local_workspace.path) as mock:
        yield mock


@pytest.fixture
def mock_azure_ai_ml(local_workspace: Workspace) -> Iterator[MockAzureAIML]:
    """The real azure-ai-ml, and MLflow, answered by this test's workspace, for the whole test."""
    from champion.local.mock_v2 import mock_azure_ai_ml as start

    with start(local_workspace.path) as mock:
        yield mock
