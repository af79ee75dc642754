"""Run a pipeline that a script submitted through the SDK, on this machine.

    python -m champion.pipeline.submitted WORKSPACE PIPELINE_RUN_ID

Why a process of its own: the local pipelines service (`mock_azureml()`) answers
`Experiment.submit(pipeline)` as Azure ML does, at once, with a `PipelineRun` that is running;
the steps run here, in the runner the service starts for that run
(`champion.local.mock.pipeline_jobs`), whatever the submitting script does next. It executes
the plan the service compiled from the submitted graph (`pipelines/plans/<run id>.json`) with
the same runner as `champion run` (`_plan_run`): every step under the real SDK, its outputs,
datasets, cancellation and timeouts as there. Its console (each step's output, prefixed) goes
to the runner's log, `pipelines/runners/<run id>.log`; each step's own log is uploaded to its
run, as on Azure.

`CHAMPION_STEP_TIMEOUT` (seconds; `champion mock --step-timeout`) is the timeout of a step whose
run configuration sets none (`max_run_duration_seconds`). Exit status: the pipeline's, as
`champion run`'s.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from pathlib import Path

from champion import _env
from champion.errors import ChampionError, InputError

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    from champion.mock import disarm

    disarm()  # the steps start their own fake; this process needs none
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 2:
        sys.stderr.write("usage: python -m champion.pipeline.submitted WORKSPACE RUN_ID\n")
        return 2
    workspace, run_id = args
    try:
        return _run(Path(workspace), run_id)
    except ChampionError as exc:
        sys.stderr.write(f"champion: error [{exc.code}]: {exc.message}\n")
        return exc.exit_code
    except KeyboardInterrupt:
        sys.stderr.write("champion: interrupted\n")
        return 130


def _run(workspace: Path, run_id: str) -> int:
    from champion.local.mock.pipeline_store import PipelineDocuments
    from champion.local.plan import Plan
    from champion.local.run import Run
    from champion.local.workspace import Workspace
    from champion.pipeline._plan_run import run_plan

    ws = Workspace(workspace)
    document = PipelineDocuments(ws.path).get("plans", run_id)
    if document is None:
        raise InputError(
            f"pipeline run {run_id} has no plan in workspace {ws.path}",
            field="run_id",
            value=run_id,
        )
    try:
        plan = Plan.from_json(json.dumps(document))
        timeout = _step_timeout()
    except (ValueError, InputError) as exc:
        Run.get(ws, run_id).fail(error_details=str(exc), error_code="SystemError")
        raise InputError(str(exc), field="plan", value=run_id) from None
    result = run_plan(plan, ws, parent_id=run_id, console=sys.stdout, step_timeout=timeout)
    sys.stdout.write(result.summary() + "\n")
    sys.stdout.flush()
    return result.exit_code


def _step_timeout() -> float | None:
    text = _env.step_timeout()
    if text is None:
        return None
    try:
        seconds = float(text)
    except ValueError:
        seconds = -1.0
    if not seconds > 0:
        raise InputError(
            f"{_env.STEP_TIMEOUT}={text!r} is not a number of seconds above 0",
            field=_env.STEP_TIMEOUT,
            value=text,
        )
    return seconds


if __name__ == "__main__":
    sys.exit(main())
