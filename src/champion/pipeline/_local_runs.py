"""How a local pipeline run ended (`PipelineResult`, `StepResult`), and where its files are.

Why apart: the local runner (`champion.pipeline.local`), the step it runs
(`champion.pipeline._local_step`), the MLflow runner and the testing kit all read these; the
runs themselves are made as Azure ML makes them by `champion.local.pipeline_runs`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from champion.local.pipeline_runs import create_pipeline_run, create_step_run, node_id

__all__ = [
    "CANCELED_EXIT_CODE",
    "DATA_FOLDER",
    "DRIVER_LOG",
    "STEPS_FOLDER",
    "TIMEOUT_EXIT_CODE",
    "UPLOADED_FOLDERS",
    "PipelineResult",
    "StepResult",
    "create_pipeline_run",
    "create_step_run",
    "node_id",
]

DRIVER_LOG = "logs/azureml/70_driver_log.txt"


#: Exit code of a pipeline a step canceled (`run.parent.cancel()`): not a success (later steps
#: did not run), not a failure (nothing broke); distinct so a build can tell.
CANCELED_EXIT_CODE = 4


#: Exit code of a pipeline whose step ran past its timeout (the step is Canceled, the pipeline
#: Failed): `timeout(1)`'s convention, so a build log reads it as a timeout.
TIMEOUT_EXIT_CODE = 124


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
    timeout: float | None = None  # the step ran past this many seconds and was ended

    @property
    def timed_out(self) -> bool:
        return self.timeout is not None

    @property
    def succeeded(self) -> bool:
        return self.exit_code == 0 and not self.canceled and not self.timed_out


@dataclass(frozen=True)
class PipelineResult:
    """How a pipeline run ended: the parent run, each step that ran, the steps never started,
    and the decision a register step recorded on the pipeline run (`decision`: the newest
    `outputs/champion_decision*.json` as a dict, None when no step wrote one), so a caller or a
    test reads the verdict from the result rather than from the console."""

    run_id: str
    experiment: str
    workspace: Path | str
    """The local workspace's folder; on MLflow, the tracking URI (credentials removed)."""
    steps: tuple[StepResult, ...]
    skipped: tuple[str, ...] = ()
    decision: dict[str, Any] | None = None
    canceled: bool = False
    """The pipeline was canceled between two steps (while no step ran)."""

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
        return (
            self.failed_step is None
            and self.canceled_step is None
            and not self.canceled
            and not self.skipped
        )

    @property
    def exit_code(self) -> int:
        """0; `CANCELED_EXIT_CODE` for a canceled pipeline; `TIMEOUT_EXIT_CODE` when a step ran
        past its timeout; else the failing step's exit code as a shell reports it (128+N for
        signal N), so a caller can `sys.exit()` with it and `make` fails with the step's own
        code."""
        if self.canceled_step is not None or self.canceled:
            return CANCELED_EXIT_CODE
        failed = self.failed_step
        if failed is None:
            return 0 if not self.skipped else 1
        if failed.timed_out:
            return TIMEOUT_EXIT_CODE
        if failed.exit_code == 0:
            return 1
        return failed.exit_code if failed.exit_code > 0 else 128 - failed.exit_code

    @property
    def status(self) -> str:
        if self.canceled_step is not None or self.canceled:
            return "Canceled"
        return "Completed" if self.succeeded else "Failed"

    def summary(self) -> str:
        """One line for a console: outcome, parent run, and each step's exit code and time."""
        steps = ", ".join(f"{s.name} {_how(s)}in {s.duration:.1f}s" for s in self.steps)
        line = f"pipeline {self.experiment} run {self.run_id}: {self.status} ({steps or 'no steps'}"
        if self.skipped:
            line += f"; not run: {', '.join(self.skipped)}"
        where = "workspace" if isinstance(self.workspace, Path) else "MLflow"
        return f"{line}) in {where} {self.workspace}"


def _how(step: StepResult) -> str:
    if step.timed_out:
        return f"timed out after {step.timeout:g}s, "
    canceled = "canceled the pipeline, " if step.canceled else ""
    return f"{canceled}exit {step.exit_code} "


def _say(console: IO[str] | None, prefix: str, message: str) -> None:
    if console is not None:
        console.write(f"{prefix}{message}\n")
        console.flush()
