"""The packaged pipeline steps: `python -m champion.steps.register` and `champion.steps.train`.

Why in the wheel: a pipeline that uses the register step should not carry a copy of it. On Azure
ML the steps' environment installs champion, and the snapshot's script is a three-line wrapper
that calls the module's `main`; locally the same module runs under the pipeline runner or
`champion.testing.run_step`.

Both steps fail the same way outside a run: one line, exit 2, saying how to give them one.
"""

from __future__ import annotations

__all__ = ["NO_RUN_MESSAGE", "no_run_context"]

NO_RUN_MESSAGE = (
    "champion: error [no_run_context]: this step is not running inside a run; run it as a "
    "pipeline step (Azure ML, or `champion pipeline run FILE` locally), set CHAMPION_RUN_ID "
    "(and CHAMPION_WORKSPACE) to a step run of a local workspace, or use `champion register` "
    "for a model trained outside a pipeline"
)
"""What a step prints when it has no run: the user's mistake (exit 2), with its three fixes."""


def no_run_context(exc: BaseException) -> bool:
    """Whether `exc` is the SDK's "no run here" (`Run.get_context(allow_offline=False)` outside a
    run, raised by both faces): a mistake with a one-line fix, not an infrastructure failure."""
    kind = type(exc)
    return kind.__name__ == "RunEnvironmentException" and kind.__module__.startswith("azureml.")
