"""Pipelines as data, run locally or (later) on Azure ML from the same description.

`spec` says what a pipeline is (steps, scripts, arguments, data passed between steps,
parameters) and checks it with the SDK's rules; `local` runs it against the local workspace, one
subprocess and one child run per step; `azure` builds it with the SDK; `driver` is the command
line over a pipeline file (`champion pipeline run|validate|submit|publish FILE`). Keeping the
description separate from both backends is what lets a laptop run and an Azure submission be the
same pipeline.
"""

from __future__ import annotations

from champion.pipeline.local import PipelineResult, StepResult, load_pipeline_file, run_pipeline
from champion.pipeline.spec import (
    Argument,
    DataReference,
    DatasetInput,
    DatastoreInput,
    PipelineParameter,
    PipelineSpec,
    Step,
    resolve_arguments,
    topological_order,
    validate,
)

__all__ = [
    "Argument",
    "DataReference",
    "DatasetInput",
    "DatastoreInput",
    "PipelineParameter",
    "PipelineResult",
    "PipelineSpec",
    "Step",
    "StepResult",
    "load_pipeline_file",
    "resolve_arguments",
    "run_pipeline",
    "topological_order",
    "validate",
]
