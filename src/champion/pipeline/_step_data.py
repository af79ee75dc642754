"""The data a step is given and leaves behind, delivered as Azure ML's job runtime delivers it.

- An output is a path that does not exist yet, in a folder that does: the step decides whether
  it is a folder or a file (`df.to_csv(args.output)` is common), as on Azure. A `PipelineData`
  of a submitted graph lives on its datastore at `azureml/<step run id>/<name>`, an
  `OutputFileDatasetConfig` at `dataset/<step run id>/<name>` (or its destination); a spec's
  `DataReference` under the workspace's `pipeline-data/<pipeline run id>/`.
- An input is another step's output, a datastore path or a dataset: in place (`mount`), copied
  into the step's folder (`download`), or for a dataset its id (`direct`). A step output read
  as a dataset (`PipelineData(...).as_dataset().parse_parquet_files()`,
  `OutputFileDatasetConfig(...).read_delimited_files()`) becomes a saved dataset over the
  output's files when the consumer starts, so `run.input_datasets[name]` is a `TabularDataset`
  or `FileDataset`, as the consumer asked.
- Every dataset a step is given is recorded on its run (`names.INPUT_DATASETS_PROPERTY`), which
  is what `run.get_details()["inputDatasets"]` lists.
- When a step completes, each output marked for registration (`register_on_complete`,
  `as_dataset().register(name)`) is registered as a dataset version.

Making datasets of files the way the SDK does (its factories, its dataflow JSON) needs the SDK,
so it is done by `champion.local.mock.pipeline_data`, under `mock_azureml()` on the same
workspace, imported only when a plan asks for it.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from champion import _env
from champion.errors import InputError
from champion.local.plan import Input, PlanStep, output_path
from champion.local.store import DataPathError, Store
from champion.local.workspace import Workspace
from champion.pipeline._local_runs import DATA_FOLDER

__all__ = ["Bound", "DatasetMaker", "Produced", "StepData", "bind_step"]

DATA_REFERENCE_PREFIX = _env.DATA_REFERENCE_PREFIX
DATASET_INPUTS_ENV = _env.DATASET_INPUTS
FILE_OUTPUTS_ENV = _env.DATASET_FILE_OUTPUTS
_MECHANISMS = {"direct": "Direct", "mount": "Mount", "download": "Download"}


class DatasetMaker(Protocol):
    """Makes datasets of files on a datastore, as the SDK makes them."""

    def from_files(
        self, datastore: str, path: str, kind: str, transformations: str | None
    ) -> str: ...

    def register(self, saved_id: str, name: str, *, new_version: bool) -> None: ...

    def close(self) -> None: ...


def _sdk_dataset_maker(workspace: Path) -> DatasetMaker:
    from champion.local.mock.pipeline_data import OutputDatasets

    return OutputDatasets(workspace)


@dataclass(frozen=True)
class Produced:
    """Where a step's output is: its path, and its datastore and path there (None: it is in
    the workspace's pipeline-data folder, on no datastore)."""

    path: Path
    datastore: str | None
    on_datastore: str | None


@dataclass
class StepData:
    """What the steps of one pipeline run share: the workspace, the pipeline run, the outputs
    produced so far, and the dataset maker (made on first use: it imports the SDK)."""

    store: Store
    ws: Workspace
    parent_id: str
    produced: dict[tuple[str, str], Produced] = field(default_factory=dict)
    make_datasets: Callable[[Path], DatasetMaker] = _sdk_dataset_maker
    _maker: DatasetMaker | None = None

    def canceled(self) -> bool:
        """Whether the pipeline run was canceled (by `PipelineRun.cancel()`, from anywhere)."""
        record = self.store.get_run(self.parent_id)
        return record is not None and record.status in ("Canceled", "CancelRequested")

    def datasets(self) -> DatasetMaker:
        if self._maker is None:
            self._maker = self.make_datasets(self.ws.path)
        return self._maker

    def close(self) -> None:
        if self._maker is not None:
            self._maker.close()
            self._maker = None

    def register_outputs(self, step: PlanStep, *, run_id: str) -> None:
        """Register each output of a completed step that asks for it, as a new dataset version
        over the files the step wrote (tabular when the output parses them)."""
        for output in step.outputs:
            if not output.register_as:
                continue
            produced = self.produced[(step.node_id, output.name)]
            datastore, path = _on_datastore(produced, f"output {output.name!r}")
            kind = "tabular" if output.transformations else "file"
            saved = self.datasets().from_files(datastore, path, kind, output.transformations)
            self.datasets().register(saved, output.register_as, new_version=output.new_version)


@dataclass(frozen=True)
class Bound:
    """A step's data, delivered: what each port puts in argv, the environment that names them,
    and the datasets it was given (run history's lineage entries)."""

    values: dict[str, str]
    env: dict[str, str]
    lineage: list[dict[str, Any]]


def bind_step(data: StepData, step: PlanStep, *, run_id: str, step_dir: Path) -> Bound:
    """Make the step's outputs' folders' parents, deliver its inputs, and say how."""
    values: dict[str, str] = {}
    env: dict[str, str] = {}
    datasets: list[str] = []
    file_outputs: list[str] = []
    lineage: list[dict[str, Any]] = []
    for output in step.outputs:
        relative = output_path(output, run_id=run_id, pipeline_run_id=data.parent_id)
        try:
            if output.datastore is None:
                path = data.ws.path / DATA_FOLDER / relative
            else:
                path = data.store.datastore_file(output.datastore, relative)
        except DataPathError as exc:
            raise InputError(
                f"step {step.name!r}: output {output.name!r}: {exc}",
                field="outputs",
                value=relative,
            ) from None
        path.parent.mkdir(parents=True, exist_ok=True)  # the output itself is the step's to make
        data.produced[(step.node_id, output.name)] = Produced(
            path, output.datastore, relative if output.datastore else None
        )
        values[output.name] = str(path)
        if output.dataset:
            file_outputs.append(output.name)
            env[output.name] = str(path)
        else:
            env[DATA_REFERENCE_PREFIX + output.name] = str(path)
    for item in step.inputs:
        value, saved_id = _deliver(data, step, item, step_dir)
        values[item.name] = value
        if saved_id is None:
            env[DATA_REFERENCE_PREFIX + item.name] = value
            continue
        datasets.append(f"{item.name}:{item.mode}")
        env[item.name] = value
        lineage.append(_lineage(data.store, item, saved_id, value))
    if datasets:
        env[DATASET_INPUTS_ENV] = ",".join(datasets)
    if file_outputs:
        env[FILE_OUTPUTS_ENV] = ";".join(file_outputs)
    return Bound(values, env, lineage)


def _deliver(data: StepData, step: PlanStep, item: Input, step_dir: Path) -> tuple[str, str | None]:
    """(what the step gets, the saved dataset id when it gets a dataset)."""
    kind, _, rest = item.source.partition(":")
    where = f"step {step.name!r}: input {item.name!r}"
    saved_id: str | None = None
    place: Path
    if kind == "step":
        producer = item.producer
        produced = data.produced.get(producer) if producer else None
        if produced is None:
            raise InputError(
                f"{where} reads {rest!r}, which no earlier step produced",
                field="inputs",
                value=rest,
            )
        if item.dataset is None:
            place = produced.path
        else:
            datastore, path = _on_datastore(produced, where)
            saved_id = data.datasets().from_files(
                datastore, path, item.dataset, item.transformations
            )
    elif kind == "datastore":
        datastore, _, path = rest.partition("/")
        try:
            place = (
                data.store.datastore_file(datastore, path)
                if path.strip("/.")
                else data.store.datastore_folder(datastore)
            )
        except DataPathError as exc:
            raise InputError(f"{where}: {exc}", field="inputs", value=item.name) from None
    elif kind == "dataset":
        saved_id = rest
    else:
        raise InputError(f"{where}: unknown source {item.source!r}", field="inputs", value=kind)

    if saved_id is not None:
        if item.mode == "direct":
            return saved_id, saved_id
        from champion.local.dataset import Dataset

        folder = step_dir / "inputs" / item.name
        Dataset.get_by_id(data.ws, saved_id).download(str(folder), overwrite=True)
        return str(folder), saved_id
    if item.mode == "download":
        copy = step_dir / "inputs" / item.name / place.name
        copy.parent.mkdir(parents=True, exist_ok=True)
        if place.is_dir():
            shutil.copytree(place, copy)
        elif place.is_file():
            shutil.copyfile(place, copy)
        place = copy
    return str(place), None


def _on_datastore(produced: Produced, where: str) -> tuple[str, str]:
    if produced.datastore is None or produced.on_datastore is None:
        raise InputError(
            f"{where}: only an output on a datastore can be read as a dataset",
            field="inputs",
            value=str(produced.path),
        )
    return produced.datastore, produced.on_datastore


def _lineage(store: Store, item: Input, saved_id: str, value: str) -> dict[str, Any]:
    """One entry of run history's `inputDatasets`, as the service records a step's dataset."""
    identifier: dict[str, Any] = {"savedId": saved_id}
    registered = store.datasets_for_saved_id(saved_id)
    if registered:
        newest = max(registered, key=lambda record: record.version)
        identifier.update(
            {"registeredId": newest.registered_id, "registeredVersion": str(newest.version)}
        )
    details: dict[str, Any] = {"inputName": item.name, "mechanism": _MECHANISMS[item.mode]}
    if item.mode != "direct":
        details["pathOnCompute"] = value
    return {"identifier": identifier, "consumptionType": "RunInput", "inputDetails": details}
