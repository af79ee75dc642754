"""A pipeline run as the local job runtime executes it: steps, their snapshots, argv and data.

Why a plan between the pipeline and the runner: two descriptions of a pipeline reach the local
runner. `champion run FILE` has a `PipelineSpec`; a user's own definition script has the graph
`Pipeline.submit` sends to Azure ML, which the local pipelines service (`mock_azureml()`)
receives. Both compile to this one plan, and the runner (`champion.pipeline`) executes only
plans, so what a step gets (its snapshot, argv, data folders, datasets, timeout, cancellation)
is decided once, whichever way it was submitted. A submitted plan is kept as JSON in the
workspace (`pipelines/plans/<run id>.json`) and executed by a runner process of its own, as the
service hands a run to compute; the JSON is the whole contract between the two.

Names follow the job runtime's: a step's data ports are named as the SDK names them (the name a
step reads `AZUREML_DATAREFERENCE_<name>` or `run.input_datasets[name]` by), and an output's
`path` on its datastore keeps the SDK's placeholders `{run-id}` (the step run's id) and
`{output-name}`; `{pipeline-run-id}` is champion's own, for outputs kept in the workspace's
`pipeline-data/` folder (a spec's `DataReference`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = [
    "ARGUMENT_KINDS",
    "INPUT_MODES",
    "Input",
    "Output",
    "Plan",
    "PlanStep",
    "output_path",
]

#: ("literal", text) is passed as is, ("port", name) becomes that input's or output's path (or
#: a dataset's id, in direct mode), ("parameter", name) the run's value of that parameter.
ARGUMENT_KINDS = ("literal", "port", "parameter")

#: How an input is delivered: in place (`mount`), as a copy in the step's folder (`download`),
#: or, for a dataset, as its saved id (`direct`).
INPUT_MODES = ("mount", "download", "direct")

#: Where a `PipelineData` output lives on its datastore (the SDK's default).
PIPELINE_DATA_PATH = "azureml/{run-id}/{output-name}"

#: Where an `OutputFileDatasetConfig` without a destination lives (the SDK's default).
OUTPUT_DATASET_PATH = "dataset/{run-id}/{output-name}"

#: A spec's `DataReference`, under `<workspace>/pipeline-data/` (no datastore).
SPEC_DATA_PATH = "{pipeline-run-id}/{output-name}"


@dataclass(frozen=True)
class Output:
    """A place a step writes: a path that does not exist yet, in a folder that does.

    `datastore` None keeps it under the workspace's `pipeline-data/` folder. `dataset` marks an
    `OutputFileDatasetConfig` (the step finds it in `run.output_datasets[name]`); `register_as`
    names the dataset registered from it when the step completes (`register_on_complete`,
    `PipelineData.as_dataset().register(name)`), tabular when `transformations` (the SDK's
    dataflow JSON) parse its files into a table."""

    name: str
    datastore: str | None = None
    path: str = SPEC_DATA_PATH
    dataset: bool = False
    register_as: str | None = None
    new_version: bool = True
    transformations: str | None = None


@dataclass(frozen=True)
class Input:
    """Data a step reads. `source` is `step:<node id>/<output>` (another step's output),
    `datastore:<datastore>/<path>` or `dataset:<saved dataset id>`. `dataset` None delivers a
    folder or file; `file` or `tabular` a dataset (its id in `direct` mode, a folder of its files
    otherwise), tabular by the SDK's `transformations`."""

    name: str
    source: str
    mode: str = "mount"
    dataset: str | None = None
    transformations: str | None = None

    @property
    def producer(self) -> tuple[str, str] | None:
        """(node id of the step, output) when the input is another step's output."""
        kind, _, rest = self.source.partition(":")
        if kind != "step":
            return None
        step, _, output = rest.rpartition("/")
        return step, output


@dataclass(frozen=True)
class PlanStep:
    """One step: its run's name and its node id (what other steps name it by: two steps of a
    graph may share a name), the folder copied as its working directory, its script (relative
    to that folder), argv and data, the node ids of the steps it waits for without data
    (`after`), and its timeout in seconds (None: the runner's default, or none)."""

    name: str
    node_id: str
    source: str
    script: str
    arguments: tuple[tuple[str, str], ...] = ()
    inputs: tuple[Input, ...] = ()
    outputs: tuple[Output, ...] = ()
    after: tuple[str, ...] = ()
    allow_reuse: bool = True
    timeout: float | None = None
    environment: tuple[tuple[str, str], ...] = ()

    def port(self, name: str) -> Input | Output | None:
        ports: list[Input | Output] = [*self.inputs, *self.outputs]
        return next((item for item in ports if item.name == name), None)

    @property
    def upstream(self) -> tuple[str, ...]:
        """Node ids of the steps this one waits for: producers of its inputs, then `after`."""
        producers = [i.producer[0] for i in self.inputs if i.producer is not None]
        return tuple(dict.fromkeys([*producers, *self.after]))


@dataclass(frozen=True)
class Plan:
    """A pipeline run to execute: the experiment its runs go to, the steps, the value of every
    pipeline parameter, and whether the steps run with the real azureml SDK against the local
    workspace (`sdk`: a submitted graph's steps import `azureml.core` themselves)."""

    experiment: str
    steps: tuple[PlanStep, ...]
    parameters: Mapping[str, str] = field(default_factory=dict)
    sdk: bool = False

    def step(self, name: str) -> PlanStep:
        for step in self.steps:
            if step.name == name:
                return step
        raise KeyError(name)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=1, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Plan:
        """The plan `to_json` wrote; ValueError for anything else."""
        try:
            data = json.loads(text)
            steps = tuple(_step(s) for s in data["steps"])
            return cls(
                experiment=str(data["experiment"]),
                steps=steps,
                parameters={str(k): str(v) for k, v in dict(data["parameters"]).items()},
                sdk=bool(data["sdk"]),
            )
        except (KeyError, TypeError, AttributeError, json.JSONDecodeError) as exc:
            raise ValueError(f"not a pipeline plan: {exc!r}") from None


def _step(data: Mapping[str, Any]) -> PlanStep:
    return PlanStep(
        name=str(data["name"]),
        node_id=str(data["node_id"]),
        source=str(data["source"]),
        script=str(data["script"]),
        arguments=tuple((str(k), str(v)) for k, v in data["arguments"]),
        inputs=tuple(Input(**item) for item in data["inputs"]),
        outputs=tuple(Output(**item) for item in data["outputs"]),
        after=tuple(str(name) for name in data["after"]),
        allow_reuse=bool(data["allow_reuse"]),
        timeout=None if data["timeout"] is None else float(data["timeout"]),
        environment=tuple((str(k), str(v)) for k, v in data["environment"]),
    )


def output_path(output: Output, *, run_id: str, pipeline_run_id: str) -> str:
    """The output's path on its datastore (or under `pipeline-data/`) for this step run: the
    SDK's placeholders filled in."""
    return (
        output.path.replace("{run-id}", run_id)
        .replace("{output-name}", output.name)
        .replace("{pipeline-run-id}", pipeline_run_id)
    )
