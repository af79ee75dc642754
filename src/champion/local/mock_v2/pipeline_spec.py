"""A v2 pipeline job read as Azure ML reads it: its command nodes, their bindings
(`${{parent.inputs.x}}`, `${{parent.jobs.n.outputs.y}}`), its `if_else` conditions, and each
node's command with `${{inputs.x}}` / `${{outputs.y}}` filled in and the `$[[...]]` parts of
unset optional inputs left out.

Why from the job's YAML and not from the SDK's objects: `PipelineJob.dump()` is the SDK's own,
public serialisation, the same document `az ml job create -f` takes, so a pipeline built with
`@dsl.pipeline` and one written in YAML are read by one reader, and the SDK's private node
classes stay out of it. The `if_else` node (`dsl.condition`) is a private-preview feature of
azure-ai-ml: the SDK serialises (and validates, before it submits) such a job only when
`AZURE_ML_CLI_PRIVATE_FEATURES_ENABLED=true` was set before it was imported, and so does this.
"""

from __future__ import annotations

import io
import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "Binding",
    "Condition",
    "JobSpec",
    "NodeSpec",
    "PipelineSpecError",
    "read_job",
    "render_command",
]

PRIVATE_FEATURES = "AZURE_ML_CLI_PRIVATE_FEATURES_ENABLED"
PRIMITIVES = ("string", "integer", "number", "boolean")
_PARENT_INPUT = re.compile(r"\$\{\{\s*parent\.inputs\.(?P<name>[\w.-]+)\s*\}\}")
_NODE_OUTPUT = re.compile(
    r"\$\{\{\s*parent\.jobs\.(?P<node>[\w.-]+)\.outputs\.(?P<name>[\w.-]+)\s*\}\}"
)
_NODE = re.compile(r"\$\{\{\s*parent\.jobs\.(?P<node>[\w.-]+)\s*\}\}")
_OPTIONAL = re.compile(r"\$\[\[(?P<part>.*?)\]\]", re.DOTALL)
_PLACEHOLDER = re.compile(r"\$\{\{\s*(?P<kind>inputs|outputs)\.(?P<name>[\w.-]+)\s*\}\}")


class PipelineSpecError(Exception):
    """The job cannot run as written (a binding to nothing, a cycle, a node type the local run
    does not know); the message names the node and what to change."""


@dataclass(frozen=True)
class Binding:
    """What a node input is bound to: a pipeline input, another node's output, or a value."""

    parent_input: str | None = None
    node: str | None = None
    output: str | None = None
    value: Any = None
    mode: str | None = None


@dataclass
class NodeSpec:
    name: str
    display_name: str | None
    command: str
    code: Path | None
    environment: str | None
    compute: str | None
    inputs: dict[str, Binding]
    input_types: dict[str, dict[str, Any]]
    outputs: dict[str, dict[str, Any]]
    environment_variables: dict[str, str] = field(default_factory=dict)
    timeout: float | None = None

    @property
    def upstream(self) -> set[str]:
        return {b.node for b in self.inputs.values() if b.node is not None}


@dataclass(frozen=True)
class Condition:
    """An `if_else` node: which node's output decides, and the nodes of each branch."""

    name: str
    node: str | None
    output: str | None
    value: bool | None
    true_block: tuple[str, ...]
    false_block: tuple[str, ...]


@dataclass
class JobSpec:
    display_name: str | None
    experiment_name: str | None
    tags: dict[str, str]
    inputs: dict[str, Any]
    nodes: dict[str, NodeSpec]
    conditions: list[Condition]
    base_path: Path
    compute: str | None = None


def read_job(job: Any) -> JobSpec:
    """The pipeline job `job` (an azure-ai-ml `PipelineJob`) as the local run needs it."""
    import yaml  # type: ignore[import-untyped]

    stream = io.StringIO()
    try:
        job.dump(stream)
    except Exception as exc:
        if "if_else" not in str(exc):
            raise
        raise PipelineSpecError(
            "the pipeline has a dsl.condition (if_else) node, a private-preview feature of "
            f"azure-ai-ml: set {PRIVATE_FEATURES}=true before azure.ai.ml is imported (Azure "
            "ML's own jobs.create_or_update refuses the job without it, too)"
        ) from None
    document = yaml.safe_load(stream.getvalue()) or {}
    base = Path(getattr(job, "_base_path", None) or Path.cwd())
    nodes: dict[str, NodeSpec] = {}
    conditions: list[Condition] = []
    for name, body in (document.get("jobs") or {}).items():
        kind = body.get("type")
        if kind == "command":
            nodes[name] = _node(name, body, base)
        elif kind == "if_else":
            conditions.append(_condition(name, body))
        else:
            raise PipelineSpecError(
                f"node {name!r} is a {kind!r} node; the local run runs command nodes and "
                "dsl.condition (if_else) only. Run it on Azure ML, or make it a command node"
            )
    spec = JobSpec(
        display_name=document.get("display_name") or getattr(job, "display_name", None),
        experiment_name=document.get("experiment_name"),
        tags={str(k): str(v) for k, v in (document.get("tags") or {}).items()},
        inputs=dict(document.get("inputs") or {}),
        nodes=nodes,
        conditions=conditions,
        base_path=base,
        compute=_compute(
            document.get("compute") or (document.get("settings") or {}).get("default_compute")
        ),
    )
    _check(spec)
    return spec


def _compute(value: Any) -> str | None:
    return None if value is None else str(value).removeprefix("azureml:")


def _node(name: str, body: Mapping[str, Any], base: Path) -> NodeSpec:
    component = body.get("component")
    if not isinstance(component, Mapping):
        raise PipelineSpecError(
            f"node {name!r} names its component by reference ({component!r}); the local run "
            "needs the component itself (load_component(FILE), or a command component inline)"
        )
    code = component.get("code")
    code_path = None
    if code:
        text = str(code)
        if text.startswith("azureml:"):
            raise PipelineSpecError(
                f"node {name!r}: its code is a registered asset ({text}); the local run copies a "
                "local code folder: give the component's code as a path"
            )
        code_path = (base / text).resolve() if not Path(text).is_absolute() else Path(text)
    inputs: dict[str, Binding] = {}
    for key, raw in (body.get("inputs") or {}).items():
        inputs[key] = _binding(name, key, raw)
    environment = component.get("environment")
    limits = body.get("limits") or {}
    return NodeSpec(
        name=name,
        display_name=body.get("display_name"),
        command=str(component.get("command") or ""),
        code=code_path,
        environment=_environment_name(environment),
        compute=_compute(body.get("compute")),
        inputs=inputs,
        input_types={k: dict(v or {}) for k, v in (component.get("inputs") or {}).items()},
        outputs=_outputs(component, body),
        environment_variables={
            str(k): str(v) for k, v in (body.get("environment_variables") or {}).items()
        },
        timeout=float(limits["timeout"]) if limits.get("timeout") else None,
    )


def _environment_name(environment: Any) -> str | None:
    if environment is None:
        return None
    if isinstance(environment, Mapping):
        return str(environment.get("image") or environment.get("name") or "an inline environment")
    return str(environment)


def _outputs(component: Mapping[str, Any], body: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Each output's type, and where the node's binding puts it (`path`, when a datastore)."""
    found: dict[str, dict[str, Any]] = {}
    for key, spec in (component.get("outputs") or {}).items():
        found[key] = {"type": (spec or {}).get("type", "uri_folder")}
    for key, bound in (body.get("outputs") or {}).items():
        if isinstance(bound, Mapping) and bound.get("path"):
            found.setdefault(key, {"type": "uri_folder"})["path"] = str(bound["path"])
    return found


def _binding(node: str, key: str, raw: Any) -> Binding:
    mode = None
    if isinstance(raw, Mapping):
        mode = raw.get("mode")
        if "path" in raw:
            raw = raw["path"]
        elif "value" in raw:
            raw = raw["value"]
        else:
            return Binding(value=dict(raw), mode=mode)
    if isinstance(raw, str):
        if match := _PARENT_INPUT.fullmatch(raw.strip()):
            return Binding(parent_input=match["name"], mode=mode)
        if match := _NODE_OUTPUT.fullmatch(raw.strip()):
            return Binding(node=match["node"], output=match["name"], mode=mode)
        if "${{" in raw:
            raise PipelineSpecError(
                f"node {node!r} input {key!r} is bound to {raw!r}, which the local run does not "
                "read (it reads ${{parent.inputs.x}} and ${{parent.jobs.n.outputs.y}})"
            )
    return Binding(value=raw, mode=mode)


def _condition(name: str, body: Mapping[str, Any]) -> Condition:
    raw = body.get("condition")
    node = output = None
    value: bool | None = None
    if isinstance(raw, bool):
        value = raw
    elif isinstance(raw, str) and (match := _NODE_OUTPUT.fullmatch(raw.strip())):
        node, output = match["node"], match["name"]
    elif isinstance(raw, str) and raw.strip().lower() in ("true", "false"):
        value = raw.strip().lower() == "true"
    else:
        raise PipelineSpecError(
            f"condition {name!r} is {raw!r}; the local run evaluates a node's boolean output "
            "(${{parent.jobs.n.outputs.y}}) or a constant"
        )
    return Condition(name, node, output, value, _block(body.get("true_block")),
                     _block(body.get("false_block")))  # fmt: skip


def _block(raw: Any) -> tuple[str, ...]:
    items = raw if isinstance(raw, list) else [] if raw is None else [raw]
    names = []
    for item in items:
        match = _NODE.fullmatch(str(item).strip())
        names.append(match["node"] if match else str(item))
    return tuple(names)


def _check(spec: JobSpec) -> None:
    for node in spec.nodes.values():
        for key, binding in node.inputs.items():
            if binding.node is not None and binding.node not in spec.nodes:
                raise PipelineSpecError(
                    f"node {node.name!r} input {key!r} is bound to node {binding.node!r}, which "
                    "the pipeline does not have"
                )
            if binding.parent_input is not None and binding.parent_input not in spec.inputs:
                raise PipelineSpecError(
                    f"node {node.name!r} input {key!r} is bound to the pipeline input "
                    f"{binding.parent_input!r}, which the pipeline does not have"
                )
    for condition in spec.conditions:
        for name in (*condition.true_block, *condition.false_block):
            if name not in spec.nodes:
                raise PipelineSpecError(
                    f"condition {condition.name!r} names node {name!r}, which the pipeline "
                    "does not have"
                )


def order(spec: JobSpec) -> list[str]:
    """The nodes in an order that runs every node after those it reads from and after the
    node its condition reads (Azure runs independent nodes at once; locally, one by one)."""
    after: dict[str, set[str]] = {name: set(node.upstream) for name, node in spec.nodes.items()}
    for condition in spec.conditions:
        for name in (*condition.true_block, *condition.false_block):
            if condition.node is not None:
                after[name].add(condition.node)
    done: list[str] = []
    pending = list(spec.nodes)
    while pending:
        ready = [name for name in pending if after[name] <= set(done)]
        if not ready:
            raise PipelineSpecError(
                f"nodes {', '.join(sorted(pending))} wait for each other (a cycle of bindings)"
            )
        done.append(ready[0])
        pending.remove(ready[0])
    return done


def render_command(
    node: NodeSpec, inputs: Mapping[str, str | None], outputs: Mapping[str, str]
) -> str:
    """The node's command as Azure runs it: each `${{inputs.x}}` / `${{outputs.y}}` replaced
    by its value (a path with characters a shell would split is quoted), and each `$[[...]]`
    kept, without its brackets, only when every input it names has a value."""

    def value(kind: str, name: str) -> str | None:
        found = inputs.get(name) if kind == "inputs" else outputs.get(name)
        if found is None:
            return None
        return found if re.fullmatch(r"[\w@%+=:,./-]*", found) else shlex.quote(found)

    def optional(match: re.Match[str]) -> str:
        part = match["part"]
        names = _PLACEHOLDER.findall(part)
        if any(value(kind, name) is None for kind, name in names):
            return ""
        return part

    command = _OPTIONAL.sub(optional, node.command)

    def required(match: re.Match[str]) -> str:
        found = value(match["kind"], match["name"])
        if found is None:
            raise PipelineSpecError(
                f"node {node.name!r}: its command needs {match['kind']}.{match['name']}, which "
                "has no value (give the input, or put that part of the command in $[[...]])"
            )
        return found

    return " ".join(_PLACEHOLDER.sub(required, command).split())
