"""`PipelineRunner`: `ml_client.jobs.create_or_update(pipeline_job)` inside `mock_azure_ai_ml()`
runs the job on this machine, as Azure ML would run it, against the local workspace.

What a node gets, as on Azure (azureml-v2-facts.md §1.2):

- a fresh copy of its component's `code` folder as its working directory, a job (a run of the
  store, child of the pipeline's) of its own, and its command run by bash with
  `${{inputs.x}}` / `${{outputs.y}}` filled in (`pipeline_spec.render_command`);
- Azure's environment: `AZURE_ML_INPUT_<name>` and `AZURE_ML_OUTPUT_<name>`, `AZUREML_RUN_ID`
  and `MLFLOW_RUN_ID` (its job's name), `AZUREML_ROOT_RUN_ID` (the pipeline's),
  `MLFLOW_TRACKING_URI` (the session's MLflow endpoint, so `mlflow.log_metric` lands on its
  job), `AZUREML_ARM_*` (the local workspace's names), and the fakes in every Python process
  it starts, as `champion mock --` hands them on (`champion.mock.child_environment`): an
  `MLClient` there talks to the same workspace, with the session's MLflow endpoint rather than
  one of its own (`NODE_ENV`), and the network stays closed;
- inputs as local paths: another node's output folder, a datastore path
  (`azureml://datastores/<d>/paths/<p>`: the datastore's folder), a registered data asset
  (`azureml:<name>:<version>`: its files), or a local file or folder; outputs as folders kept
  under `<workspace>/pipeline-data/<pipeline job>/<node>/<output>` (or the datastore path an
  output names);
- control outputs (`is_control: true`) from its job's `azureml.pipeline.control` property,
  which decide the `if_else` nodes (`dsl.condition`): a branch not taken does not run.

Nothing needs Docker: a node's environment and compute matter only on Azure, and it runs in
the current Python, with one line saying so. Statuses are Azure's (Running, Completed, Failed);
a failed node fails the pipeline and no later node starts. The nodes run one at a time, in an
order that respects their bindings. The job has run by the time `create_or_update` returns
(its status is final); `jobs.get` and `jobs.stream` read it afterwards.
"""

from __future__ import annotations

import json
import os
import sys
import time
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Any

from champion import _env
from champion.local.mock_v2.node_process import copy_code, execute
from champion.local.mock_v2.pipeline_spec import (
    PRIMITIVES,
    JobSpec,
    NodeSpec,
    PipelineSpecError,
    order,
    read_job,
    render_command,
)
from champion.local.store import RUN_ORIGIN, Store

__all__ = ["NODE_ENV", "PipelineRunner", "PipelineSpecError"]

PIPELINE_RUN = "azureml.PipelineRun"
STEP_RUN = "azureml.StepRun"
CONTROL_OUTPUTS = "azureml.pipeline.control"
DATA_FOLDER = "pipeline-data"
STEPS_FOLDER = "pipeline-steps"
LOG_NAME = "user_logs/std_log.txt"
#: The node's exit code, kept on its job: what `champion pipeline run` exits with when it fails.
EXIT_CODE = "champion.exit_code"
#: Set in a node's processes: the v2 fake the launcher's hook starts there serves no MLflow
#: endpoint of its own (`session.activate`), the node's `MLFLOW_TRACKING_URI` is the session's.
NODE_ENV = _env.MOCK_V2_NODE
#: Variables of this process a node must not inherit: the local runner's run, a backend chosen
#: for this shell. A v2 job on Azure has none of them.
_NOT_INHERITED = (_env.RUN_ID, _env.BACKEND)


class PipelineRunner:
    """Runs one pipeline job in the local workspace `store` (see the module docstring)."""

    def __init__(
        self,
        store: Store,
        tracking_uri: str | None,
        names: tuple[str, str, str],
        console: IO[str] | None = None,
    ) -> None:
        self.store = store
        self.tracking_uri = tracking_uri
        self.names = names  # subscription, resource group, workspace of the local workspace
        self.console = console if console is not None else sys.stderr

    def run(self, job: Any, experiment_name: str | None = None) -> str:
        """Run `job` to its end; return its name (the pipeline run's id)."""
        spec = read_job(job)
        experiment = experiment_name or spec.experiment_name or Path.cwd().name or "Default"
        steps = order(spec)
        for name, value in spec.inputs.items():  # as Azure's upload would, before any job
            path = value.get("path") if isinstance(value, Mapping) else None
            if isinstance(path, str) and _local_path(path) is not None:  # surely a path
                _existing(path, spec.base_path, f"pipeline input {name!r}")
        pipeline = self.store.create_run(
            experiment,
            run_id=getattr(job, "name", None) or _job_name(),
            display_name=spec.display_name or experiment,
            run_type=PIPELINE_RUN,
            tags=spec.tags,
            properties={"azureml.runsource": PIPELINE_RUN},
        )
        self._say(f"pipeline job {pipeline.run_id} ({experiment}): running {len(steps)} nodes")
        run = _Run(self, spec, pipeline.run_id, experiment)
        status = "Failed"
        try:
            status = run.all(steps)
        finally:
            self.store.update_run(pipeline.run_id, status=status)
            self._say(f"pipeline job {pipeline.run_id}: {status} ({run.summary()})")
        return pipeline.run_id

    def _say(self, line: str) -> None:
        self.console.write(f"champion: {line}\n")
        self.console.flush()


class _Run:
    """One pipeline job's nodes, as they run: outputs, control values, what ran."""

    def __init__(self, runner: PipelineRunner, spec: JobSpec, pipeline_id: str, experiment: str):
        self.runner = runner
        self.store = runner.store
        self.spec = spec
        self.pipeline_id = pipeline_id
        self.experiment = experiment
        self.outputs: dict[str, dict[str, str]] = {}
        self.controls: dict[str, dict[str, Any]] = {}
        self.ran: list[tuple[str, str]] = []  # (node, status)
        self.skipped: list[str] = []

    def all(self, steps: list[str]) -> str:
        for name in steps:
            why = self._skip_reason(name)
            if why is not None:
                self.skipped.append(name)
                self.runner._say(f"node {name}: not run ({why})")
                continue
            status = self.node(self.spec.nodes[name])
            self.ran.append((name, status))
            if status != "Completed":
                later = steps[steps.index(name) + 1 :]
                if later:
                    self.runner._say(f"no later node starts ({', '.join(later)})")
                return "Failed"
        return "Completed"

    def summary(self) -> str:
        parts = [f"{name} {status}" for name, status in self.ran]
        parts += [f"{name} not run" for name in self.skipped]
        return ", ".join(parts) or "no nodes"

    def _skip_reason(self, name: str) -> str | None:
        node = self.spec.nodes[name]
        for upstream in sorted(node.upstream):
            if upstream in self.skipped:
                return f"it reads the outputs of {upstream}, which did not run"
        for condition in self.spec.conditions:
            if name not in (*condition.true_block, *condition.false_block):
                continue
            value = condition.value
            if condition.node is not None:
                if condition.node in self.skipped:
                    return f"{condition.node}, whose output decides it, did not run"
                controls = self.controls.get(condition.node, {})
                if condition.output not in controls:
                    raise PipelineSpecError(
                        f"node {condition.node!r} did not set its control output "
                        f"{condition.output!r} (the job property {CONTROL_OUTPUTS}), which "
                        f"condition {condition.name!r} reads"
                    )
                value = _truth(controls[condition.output])
            taken = condition.true_block if value else condition.false_block
            if name not in taken:
                source = f"{condition.node}.{condition.output}" if condition.node else "it"
                return f"condition {condition.name}: {source} is {str(bool(value)).lower()}"
        return None

    # ------------------------------------------------------------------ one node

    def node(self, node: NodeSpec) -> str:
        root = self.store.root
        run_id = _job_name()
        self.store.create_run(
            self.experiment,
            run_id=run_id,
            parent_id=self.pipeline_id,
            name=node.name,
            display_name=node.display_name or node.name,
            run_type=STEP_RUN,
            tags={"azureml.nodeid": node.name, "azureml.pipeline": self.pipeline_id},
        )
        folder = root / STEPS_FOLDER / self.pipeline_id / run_id
        cwd = folder / "cwd"
        try:
            copy_code(node.code, cwd, root)
            inputs = {k: self._input(node, k) for k in node.input_types}
            outputs = self._outputs(node)
            command = render_command(node, inputs, outputs)
        except BaseException as exc:
            self.store.update_run(run_id, status="Failed", error={"message": str(exc)})
            raise
        where = [f"environment {node.environment}"] if node.environment else []
        compute = node.compute or self.spec.compute
        where += [f"compute {compute}"] if compute else []
        if where:
            self.runner._say(
                f"node {node.name}: {' and '.join(where)} matter only on Azure; it runs here in "
                f"this Python ({sys.executable})"
            )
        self.runner._say(f"node {node.name}: job {run_id}: {command}")
        env = self._environment(node, run_id, inputs, outputs)
        started = time.monotonic()
        code = execute(command, cwd, env, folder / "std_log.txt", f"[{node.name}] ",
                        self.runner.console, node.timeout)  # fmt: skip
        self._upload_log(run_id, folder / "std_log.txt")
        status = "Completed" if code == 0 else "Failed"
        error = None if code == 0 else {"message": f"the command exited with code {code}"}
        record = self.store.update_run(
            run_id, status=status, error=error, add_properties={EXIT_CODE: str(code)}
        )
        self.outputs[node.name] = outputs
        control = record.properties.get(CONTROL_OUTPUTS)
        self.controls[node.name] = json.loads(control) if control else {}
        took = time.monotonic() - started
        self.runner._say(f"node {node.name}: {status} (exit code {code}, {took:.1f}s)")
        return status

    def _input(self, node: NodeSpec, key: str) -> str | None:
        binding = node.inputs.get(key)
        declared = node.input_types.get(key, {})
        kind = str(declared.get("type", "string"))
        if binding is None:
            default = declared.get("default")
            return None if default is None else _text(default)
        if binding.node is not None:
            assert binding.output is not None
            if binding.output in self.outputs.get(binding.node, {}):
                return self.outputs[binding.node][binding.output]
            control = self.controls.get(binding.node, {})
            return None if binding.output not in control else _text(control[binding.output])
        value = binding.value
        if binding.parent_input is not None:
            value = self.spec.inputs.get(binding.parent_input)
            if isinstance(value, Mapping):
                value = value.get("path", value.get("value"))
        if value is None:
            default = declared.get("default")
            return None if default is None else _text(default)
        if kind in PRIMITIVES:
            return _text(value)
        return self._data_path(node, key, str(value))

    def _data_path(self, node: NodeSpec, key: str, value: str) -> str:
        """A data input as the local path Azure would mount: a datastore path, a registered
        data asset, or a local file or folder."""
        if value.startswith("azureml://datastores/"):
            rest = value[len("azureml://datastores/") :]
            datastore, _, path = rest.partition("/paths/")
            return str(self.store.datastore_file(datastore, path.strip("/")))
        if value.startswith(("http://", "https://", "wasbs://", "abfss://", "azureml://")):
            raise PipelineSpecError(
                f"node {node.name!r} input {key!r} is {value!r}; the local run reads local "
                "paths, azureml://datastores/<name>/paths/<path> and registered data assets "
                "(azureml:<name>:<version>), never the network"
            )
        text = value.removeprefix("azureml:")
        local = Path(text) if Path(text).is_absolute() else self.spec.base_path / text
        if local.exists():
            return str(local.resolve())
        if _local_path(value) is None:  # azureml:<name>[:<version>|@latest], or a name
            name, _, version = text.replace("@latest", "").partition(":")
            return self._data_asset(node, key, name, int(version) if version.isdigit() else None)
        return _existing(value, self.spec.base_path, f"node {node.name!r} input {key!r}")

    def _data_asset(self, node: NodeSpec, key: str, name: str, version: int | None) -> str:
        found = self.store.get_dataset(name, version)
        if found is None:
            what = f"{name}:{version}" if version is not None else f"{name} (latest)"
            raise PipelineSpecError(
                f"node {node.name!r} input {key!r}: there is no registered data asset {what} "
                f"in the local workspace, nor a file or folder {name!r} here (relative paths "
                f"are read from {self.spec.base_path})"
            )
        files = [path for _, path in self.store.dataset_files(found.saved.definition)]
        if len(files) == 1:
            return str(files[0])
        return os.path.commonpath([str(p.parent) for p in files]) if files else ""

    def _outputs(self, node: NodeSpec) -> dict[str, str]:
        found: dict[str, str] = {}
        for key, spec in node.outputs.items():
            kind = str(spec.get("type", "uri_folder"))
            if spec.get("path", "").startswith("azureml://datastores/"):
                rest = spec["path"][len("azureml://datastores/") :]
                datastore, _, path = rest.partition("/paths/")
                folder = self.store.datastore_file(datastore, path.strip("/"))
            else:
                folder = self.store.root / DATA_FOLDER / self.pipeline_id / node.name / key
            if kind in PRIMITIVES:
                folder.mkdir(parents=True, exist_ok=True)
                found[key] = str(folder / key)  # where a script may write it; read from the job
                continue
            if kind == "uri_file":
                folder.mkdir(parents=True, exist_ok=True)
                found[key] = str(folder / key)
            else:
                folder.mkdir(parents=True, exist_ok=True)
                found[key] = str(folder)
        return found

    def _environment(
        self, node: NodeSpec, run_id: str, inputs: Mapping[str, str | None],
        outputs: Mapping[str, str],
    ) -> dict[str, str]:  # fmt: skip
        env = {k: v for k, v in _env.inherited().items() if k not in _NOT_INHERITED}
        subscription, group, workspace = self.runner.names
        env.update(
            {
                "AZUREML_RUN_ID": run_id,
                "MLFLOW_RUN_ID": run_id,
                "AZUREML_ROOT_RUN_ID": self.pipeline_id,
                _env.AZUREML_ARM_SUBSCRIPTION: subscription,
                _env.AZUREML_ARM_RESOURCEGROUP: group,
                _env.AZUREML_ARM_WORKSPACE_NAME: workspace,
                "AZUREML_ARM_PROJECT_NAME": self.experiment,
                NODE_ENV: "1",
                "PYTHONUNBUFFERED": "1",
                "PATH": os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")]),
            }
        )
        if self.runner.tracking_uri:
            env[_env.MLFLOW_TRACKING_URI] = self.runner.tracking_uri
            env[_env.MLFLOW_REGISTRY_URI] = self.runner.tracking_uri
        for key, value in inputs.items():
            if value is not None:
                env[_env.V2_INPUT_PREFIX + key] = value
        for key, value in outputs.items():
            env[_env.V2_OUTPUT_PREFIX + key] = value
        env.update(node.environment_variables)
        # the launcher's own hand-over (its `sitecustomize` first on PYTHONPATH, the workspace):
        # one mechanism for every process that must run under the fakes
        from champion.mock import child_environment

        return child_environment(self.store.root, env)

    def _upload_log(self, run_id: str, log: Path) -> None:
        """The node's output, as the job's `user_logs/std_log.txt` (Azure's v2 log name)."""
        if not log.is_file():
            return
        record = self.store.get_run(run_id)
        assert record is not None
        with self.store.staging() as staging:
            staged = staging.stage(log)
            self.store.add_artifacts(
                RUN_ORIGIN,
                record.data_container_id,
                [(LOG_NAME, staged.digest, staged.size)],
                blobs=[staged],
            )


def _local_path(value: str) -> str | None:
    """The local path a data input names, or None when it may name a registered data asset.
    The SDK writes a local path it cannot find as `azureml:<path>`; an asset's name has no `/`
    (a bare `azureml:c.txt` may be either: a file here first, else an asset)."""
    text = value.removeprefix("azureml:")
    if value.startswith("azureml:") and "/" not in text and not text.startswith("."):
        return None
    return text


def _existing(value: str, base: Path, where: str) -> str:
    """The absolute path of the local file or folder `value` names (relative to `base`)."""
    text = _local_path(value) or value
    local = Path(text) if Path(text).is_absolute() else base / text
    if not local.exists():
        raise PipelineSpecError(
            f"{where}: {text!r} is not a file or folder here (relative paths are read from "
            f"{base}); give an existing path, a datastore path or a registered data asset"
        )
    return str(local.resolve())


def _job_name() -> str:
    """A job name as Azure makes them: unique, lowercase, no dashes."""
    return f"champion_{uuid.uuid4().hex[:12]}"


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "True" if value else "False"
    return str(value)


def _truth(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in ("true", "1", "yes")
