"""The graph `Pipeline.submit` sends, compiled to the plan the local runner executes.

Why from the graph and not from the `Pipeline` object: the graph (its module nodes, dataset
nodes and edges, each module's structured interface and snapshot, the parameter and data path
assignments) is what the service receives and runs, for a `Pipeline.submit`, a
`PublishedPipeline.submit` days later, or a `PipelineEndpoint.submit` from another script. Read
from there, what runs locally is what Azure ML would run.

What maps to what (`champion.local.plan`):

- a module node with a `Script` parameter (`PythonScriptStep`, `EstimatorStep`, `MpiStep`) is a
  step: its snapshot, script, structured arguments (`Literal`, `Input`, `Output`, `Parameter`,
  and the `DatasetConsumptionConfig:<name>` / `DatasetOutputConfig:<name>` texts the runtime
  replaces), `allow_reuse` and run configuration (`maxRunDurationSeconds`, environment
  variables). Any other kind of step needs Azure: `UnmockedServiceCall`.
- an output port is an output on its datastore: `azureml/{run-id}/{output-name}` for a
  `PipelineData`, `dataset/{run-id}/{output-name}` (or the destination) for an
  `OutputFileDatasetConfig`, registered on completion when the output setting says so;
- an input port is fed by its edge: another step's output (a folder, or a dataset when the
  producer promoted it or the consumer parses it), a data source (`DataReference`,
  `DataPath`, a `DataPath` pipeline parameter) or a dataset definition (a registered dataset
  by id and version, a saved dataset, a dataset pipeline parameter);
- the fake `_run_after_*` ports are `run_after` / `StepSequence` order.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from champion.local._unmocked import UnmockedServiceCall
from champion.local.mock.pipeline_store import PipelineDocuments
from champion.local.plan import (
    OUTPUT_DATASET_PATH,
    PIPELINE_DATA_PATH,
    Input,
    Output,
    Plan,
    PlanStep,
)
from champion.local.store import Store

__all__ = ["Submission", "compile_graph"]

#: Step types whose module runs a Python script, which is what the local runner runs.
SCRIPT_STEPS = ("PythonScriptStep", "EstimatorStep", "MpiStep")
_PLACEHOLDER = re.compile(r"Dataset(?:Consumption|Output)Config:(?P<name>\w+)")
_FAKE_PORT = "_run_after_"


@dataclass
class Submission:
    """What one submission carries, as the SDK sent it (aeva models)."""

    experiment: str
    graph: Any
    interface: Any
    parameter_assignments: Mapping[str, str] = field(default_factory=dict)
    data_path_assignments: Mapping[str, Any] = field(default_factory=dict)
    dataset_assignments: Mapping[str, Any] = field(default_factory=dict)


def compile_graph(
    submission: Submission, documents: PipelineDocuments, store: Store, deserialize: Any
) -> Plan:
    """The plan of a submitted graph. `deserialize(type_name, data)` reads a kept document.
    Raises UnmockedServiceCall for a step the local runner cannot run, KeyError for a module,
    data source or dataset the workspace does not have."""
    graph = submission.graph
    modules = {
        node.id: deserialize("ModuleCreationInfo", documents.get("modules", node.module_id))
        for node in graph.module_nodes
    }
    parameters = _parameter_values(submission)
    edges = {
        (e.destination_input_port.node_id, e.destination_input_port.port_name): e.source_output_port
        for e in graph.edges or []
        if e.destination_input_port is not None and e.destination_input_port.node_id
    }
    output_settings = {
        (node.id, setting.name): setting
        for node in graph.module_nodes
        for setting in node.module_output_settings or []
    }
    dataset_nodes = {node.id: node for node in graph.dataset_nodes or []}
    default_datastore = store.default_datastore().name
    steps = []
    for node in graph.module_nodes:
        module = modules[node.id]
        values = _module_parameters(node)
        if module.step_type not in SCRIPT_STEPS or not values.get("Script"):
            raise UnmockedServiceCall(
                f"mock_azureml: step {module.name!r} is a {module.step_type or 'step'} "
                f"without a script; the local runner runs Python script steps only "
                f"({', '.join(SCRIPT_STEPS)})",
                member=f"{module.step_type or 'Step'}",
            )
        interface = module.structured_interface
        inputs: list[Input] = []
        after: list[str] = []
        for port in interface.inputs or []:
            source = edges.get((node.id, port.name))
            if port.name.startswith(_FAKE_PORT):
                if source is not None and source.node_id in modules:
                    after.append(source.node_id)
                continue
            if source is None:
                raise KeyError(f"input {port.name!r} of step {module.name!r} is not connected")
            settings = {s.name: s for s in node.module_input_settings or []}
            inputs.append(
                _input(
                    port,
                    settings.get(port.name),
                    source,
                    modules=modules,
                    output_settings=output_settings,
                    dataset_nodes=dataset_nodes,
                    submission=submission,
                    documents=documents,
                    store=store,
                    deserialize=deserialize,
                )
            )
        outputs = [
            _output(port, output_settings.get((node.id, port.name)), default_datastore)
            for port in interface.outputs or []
            if not port.skip_processing and not port.name.startswith(_FAKE_PORT)
        ]
        ports = {i.name for i in inputs} | {o.name for o in outputs}
        runconfig = _runconfig(node.runconfig or module.runconfig)
        steps.append(
            PlanStep(
                name=str(module.name),
                node_id=str(node.id),
                source=str(documents.snapshot_folder(str(module.storage_id))),
                script=str(values["Script"]),
                arguments=_arguments(interface.arguments or [], values, ports),
                inputs=tuple(inputs),
                outputs=tuple(outputs),
                after=tuple(after),
                allow_reuse=bool(module.is_deterministic),
                timeout=_timeout(values.get("MaxRunDurationSeconds"), runconfig),
                environment=_environment(runconfig),
            )
        )
    return Plan(submission.experiment, tuple(steps), parameters, sdk=True)


def _parameter_values(submission: Submission) -> dict[str, str]:
    """Each pipeline parameter's value for this run: the assignment, else the default."""
    values = {
        str(p.name): "" if p.default_value is None else str(p.default_value)
        for p in submission.interface.parameters or []
    }
    values.update({str(k): str(v) for k, v in submission.parameter_assignments.items()})
    return values


def _module_parameters(node: Any) -> dict[str, str | tuple[str]]:
    """A node's parameters: a literal value, or `(pipeline parameter,)` for an assigned one."""
    found: dict[str, str | tuple[str]] = {}
    for param in [*(node.module_parameters or []), *(node.module_metadata_parameters or [])]:
        if param.value is None:
            continue
        found[param.name] = (param.value,) if str(param.value_type) == "1" else str(param.value)
    return found


def _arguments(
    arguments: list[Any], values: Mapping[str, str | tuple[str]], ports: set[str]
) -> tuple[tuple[str, str], ...]:
    converted = []
    for arg in arguments:
        kind, value = str(arg.value_type), str(arg.value)
        if kind in ("Input", "Output"):
            converted.append(("port", value))
        elif kind == "Parameter":
            assigned = values.get(value, "")
            if isinstance(assigned, tuple):
                converted.append(("parameter", assigned[0]))
            else:
                converted.append(("literal", assigned))
        else:
            placeholder = _PLACEHOLDER.fullmatch(value)
            if placeholder and placeholder["name"] in ports:
                converted.append(("port", placeholder["name"]))
            else:
                converted.append(("literal", value))
    return tuple(converted)


def _output(port: Any, setting: Any, default_datastore: str) -> Output:
    datastore = (setting.data_store_name if setting else None) or port.data_store_name
    registration = setting.dataset_registration if setting else None
    options = setting.dataset_output_options if setting else None
    if options is not None:  # an OutputFileDatasetConfig
        path = options.path_on_datastore or OUTPUT_DATASET_PATH
    else:
        path = PIPELINE_DATA_PATH
    return Output(
        name=str(port.name),
        datastore=str(datastore or default_datastore),
        path=str(path).lstrip("/"),
        dataset=options is not None,
        register_as=registration.name if registration is not None and registration.name else None,
        new_version=bool(registration.create_new_version) if registration is not None else True,
        transformations=_transformations(registration.additional_transformations)
        if registration is not None
        else None,
    )


def _input(
    port: Any,
    setting: Any,
    source: Any,
    *,
    modules: Mapping[str, Any],
    output_settings: Mapping[tuple[str, str], Any],
    dataset_nodes: Mapping[str, Any],
    submission: Submission,
    documents: PipelineDocuments,
    store: Store,
    deserialize: Any,
) -> Input:
    name = str(port.name)
    mode = str((setting.data_store_mode if setting else None) or port.data_store_mode or "mount")
    mode = mode.lower() if mode.lower() in ("mount", "download", "direct") else "mount"
    if source.node_id in modules:  # another step's output
        produced = output_settings.get((source.node_id, source.port_name))
        registration = produced.dataset_registration if produced else None
        promoted = produced is not None and (
            registration is not None or produced.dataset_output_options is not None
        )
        parse = _transformations(setting.additional_transformations if setting else None) or (
            _transformations(registration.additional_transformations) if registration else None
        )
        dataset = "tabular" if parse else ("file" if promoted or mode == "direct" else None)
        if dataset is None and mode == "direct":
            mode = "mount"
        return Input(name, f"step:{source.node_id}/{source.port_name}", mode, dataset, parse)
    node = dataset_nodes.get(source.node_id)
    if node is None:
        raise KeyError(f"input {name!r} is fed by node {source.node_id!r}, which the graph lacks")
    if node.dataset_id:  # a data source: the SDK's DataReference to a datastore path
        datasource = documents.get("datasources", node.dataset_id) or {}
        where = f"{datasource.get('DataStoreName')}/{datasource.get('PathOnDataStore') or ''}"
        return Input(name, f"datastore:{where}", "download" if mode == "download" else "mount")
    if node.data_path_parameter_name:
        path = _data_path(submission, node.data_path_parameter_name)
        return Input(name, f"datastore:{path}", "download" if mode == "download" else "mount")
    definition = node.data_set_definition
    value = definition.value if definition is not None else None
    if definition is not None and definition.parameter_name:
        value = _dataset_parameter(submission, definition.parameter_name)
    saved_id, kind = _saved_dataset(value, store)
    return Input(name, f"dataset:{saved_id}", mode, kind)


def _data_path(submission: Submission, parameter: str) -> str:
    """`<datastore>/<path>` of a `DataPath` pipeline parameter for this run."""
    value = submission.data_path_assignments.get(parameter)
    if value is None:
        for declared in submission.interface.data_path_parameters or []:
            if declared.name == parameter:
                value = declared.default_value
    if value is None:
        raise KeyError(f"DataPath pipeline parameter {parameter!r} has no value")
    return f"{value.data_store_name}/{value.relative_path or ''}"


def _dataset_parameter(submission: Submission, parameter: str) -> Any:
    value = submission.dataset_assignments.get(parameter)
    if value is None:
        for declared in submission.interface.data_path_parameter_list or []:
            if declared.name == parameter:
                value = declared.default_value
    if value is None:
        raise KeyError(f"dataset pipeline parameter {parameter!r} has no value")
    return value


def _saved_dataset(value: Any, store: Store) -> tuple[str, str]:
    """(saved id, `file` or `tabular`) of a dataset definition value."""
    if value is None:
        raise KeyError("a dataset input without a dataset")
    saved_id: str | None = None
    if value.saved_data_set_reference is not None and value.saved_data_set_reference.id:
        saved_id = str(value.saved_data_set_reference.id)
    elif value.data_set_reference is not None:
        reference = value.data_set_reference
        versions = [
            record
            for record in _registered_versions(store, reference.id, reference.name)
            if not reference.version or str(record.version) == str(reference.version)
        ]
        if not versions:
            raise KeyError(
                f"dataset {reference.name or reference.id!r} version "
                f"{reference.version or 'latest'} is not registered in this workspace"
            )
        saved_id = max(versions, key=lambda record: record.version).saved_id
    saved = store.get_saved_dataset(saved_id) if saved_id else None
    if saved is None:
        raise KeyError(f"dataset {saved_id!r} is not saved in this workspace")
    return saved.id, saved.dataset_type.lower()


def _registered_versions(store: Store, registered_id: str | None, name: str | None) -> list[Any]:
    for latest in store.list_datasets():
        if latest.registered_id == registered_id or (name and latest.name == name):
            return [
                store.get_dataset(latest.name, version)
                for version in range(1, latest.version + 1)
                if store.get_dataset(latest.name, version) is not None
            ]
    return []


def _transformations(text: str | None) -> str | None:
    """The SDK's dataflow JSON when it holds a step (`{"blocks": []}` holds none)."""
    if not text:
        return None
    try:
        blocks = json.loads(text).get("blocks")
    except (ValueError, AttributeError):
        return text
    return text if blocks else None


def _runconfig(text: str | None) -> dict[str, Any]:
    try:
        parsed = json.loads(text) if text else {}
    except ValueError:
        return {}
    return parsed if isinstance(parsed, dict) else {}


def _timeout(parameter: object, runconfig: Mapping[str, Any]) -> float | None:
    for value in (parameter, runconfig.get("maxRunDurationSeconds")):
        if isinstance(value, tuple):
            continue
        try:
            seconds = float(str(value))
        except ValueError:
            continue
        if seconds > 0:
            return seconds
    return None


def _environment(runconfig: Mapping[str, Any]) -> tuple[tuple[str, str], ...]:
    """The run configuration's environment variables, as the job runtime sets them."""
    variables: dict[str, str] = {}
    environment = runconfig.get("environment") or {}
    for source in (environment.get("environmentVariables"), runconfig.get("environmentVariables")):
        if isinstance(source, Mapping):
            variables.update({str(k): str(v) for k, v in source.items()})
    return tuple(sorted(variables.items()))
