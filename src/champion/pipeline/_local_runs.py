"""The runs and results of a local pipeline run: shaped as Azure ML makes them.

Why apart: the local runner (`champion.pipeline.local`), the step it runs
(`champion.pipeline._local_step`) and the testing kit (`champion.testing`) all make pipeline and
step runs, and they must be the same runs Azure ML makes (types, names, tags), so the SDK
rehydrates them into its `PipelineRun` and `StepRun`.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from champion.local.store import Store
from champion.names import PIPELINE_RUN_TYPE, STEP_RUN_TYPE

DRIVER_LOG = "logs/azureml/70_driver_log.txt"


#: Exit code of a pipeline a step canceled (`run.parent.cancel()`): not a success (later steps
#: did not run), not a failure (nothing broke); distinct so a build can tell.
CANCELED_EXIT_CODE = 4


#: Folders of a step's working directory uploaded to its run when it ends, as Azure ML does.
UPLOADED_FOLDERS = ("outputs", "logs")


DATA_FOLDER = "pipeline-data"


STEPS_FOLDER = "pipeline-steps"


@dataclass(frozen=True)
class StepResult:
    """How one step ended. `exit_code` is as the OS reported it: negative means the step was
    killed by that signal (subprocess's convention)."""

    name: str
    run_id: str
    exit_code: int
    duration: float
    canceled: bool = False  # the pipeline was canceled while this step ran

    @property
    def succeeded(self) -> bool:
        return self.exit_code == 0 and not self.canceled


@dataclass(frozen=True)
class PipelineResult:
    """How a pipeline run ended: the parent run, each step that ran, the steps never started,
    and the decision a register step recorded on the pipeline run (`decision`: the newest
    `outputs/champion_decision*.json` as a dict, None when no step wrote one), so a caller or a
    test reads the verdict from the result rather than from the console."""

    run_id: str
    experiment: str
    workspace: Path
    steps: tuple[StepResult, ...]
    skipped: tuple[str, ...] = ()
    decision: dict[str, Any] | None = None

    @property
    def exit_codes(self) -> dict[str, int]:
        """Each step that ran, by name, with its exit code (negative: killed by that signal)."""
        return {step.name: step.exit_code for step in self.steps}

    def step(self, name: str) -> StepResult:
        """The step called `name`; KeyError if it did not run (see `skipped`)."""
        for step in self.steps:
            if step.name == name:
                return step
        raise KeyError(name)

    @property
    def canceled_step(self) -> StepResult | None:
        """The step during which the pipeline was canceled, if it was."""
        return next((s for s in self.steps if s.canceled), None)

    @property
    def failed_step(self) -> StepResult | None:
        """The step that stopped the pipeline by failing, if one did."""
        return next((s for s in self.steps if not s.succeeded and not s.canceled), None)

    @property
    def succeeded(self) -> bool:
        return self.failed_step is None and self.canceled_step is None and not self.skipped

    @property
    def exit_code(self) -> int:
        """0; `CANCELED_EXIT_CODE` for a canceled pipeline; else the failing step's exit code as
        a shell reports it (128+N for signal N), so a caller can `sys.exit()` with it and `make`
        fails with the step's own code."""
        if self.canceled_step is not None:
            return CANCELED_EXIT_CODE
        failed = self.failed_step
        if failed is None:
            return 0 if not self.skipped else 1
        return failed.exit_code if failed.exit_code > 0 else 128 - failed.exit_code

    @property
    def status(self) -> str:
        if self.canceled_step is not None:
            return "Canceled"
        return "Completed" if self.succeeded else "Failed"

    def summary(self) -> str:
        """One line for a console: outcome, parent run, and each step's exit code and time."""
        steps = ", ".join(
            f"{s.name} {'canceled the pipeline, ' if s.canceled else ''}exit {s.exit_code} in "
            f"{s.duration:.1f}s"
            for s in self.steps
        )
        line = f"pipeline {self.experiment} run {self.run_id}: {self.status} ({steps or 'no steps'}"
        if self.skipped:
            line += f"; not run: {', '.join(self.skipped)}"
        return f"{line}) in workspace {self.workspace}"


def create_pipeline_run(
    store: Store,
    experiment: str,
    *,
    run_id: str | None = None,
    tags: Mapping[str, str | None] | None = None,
) -> str:
    """A pipeline's parent run, shaped as Azure ML makes it (so the real SDK rehydrates it into
    `PipelineRun`); returns its id."""
    record = store.create_run(
        experiment,
        run_id=run_id or str(uuid.uuid4()),
        display_name=experiment,
        run_type=PIPELINE_RUN_TYPE,
        tags=tags,
        properties={"azureml.runsource": PIPELINE_RUN_TYPE},
    )
    return record.run_id


def create_step_run(
    store: Store,
    experiment: str,
    parent_id: str,
    step_name: str,
    node_id: str,
    *,
    run_id: str | None = None,
) -> str:
    """A step's run: named like the step and tagged with its node and pipeline, as Azure ML
    does (the SDK's StepRun reads `azureml.nodeid`); returns its id."""
    record = store.create_run(
        experiment,
        run_id=run_id or str(uuid.uuid4()),
        parent_id=parent_id,
        name=step_name,
        display_name=step_name,
        run_type=STEP_RUN_TYPE,
        tags={"azureml.nodeid": node_id, "azureml.pipeline": parent_id},
        properties={"azureml.runsource": STEP_RUN_TYPE, "StepType": "PythonScriptStep"},
    )
    return record.run_id


def node_id(pipeline: str, step_name: str) -> str:
    """An 8-hex-digit node id like Azure's, stable for the same pipeline and step name; the
    `azureml.nodeid` tag of the step's run (`champion.testing` makes its step runs with it)."""
    return hashlib.sha256(f"{pipeline}/{step_name}".encode()).hexdigest()[:8]


def _say(console: IO[str] | None, prefix: str, message: str) -> None:
    if console is not None:
        console.write(f"{prefix}{message}\n")
        console.flush()
