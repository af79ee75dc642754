"""MLflow's tracking API over the store's runs: experiments, runs (a job's name is its MLflow run
id, as on Azure ML), metrics, params, tags and search; the run's artifacts are `artifacts.py`.

How MLflow's data map onto a run of the store (what v1's `Run` and `jobs.get` read):

- tags are the run's tags; `mlflow.runName` is its display name, `mlflow.parentRunId` its
  parent (how Azure ML exposes a pipeline's children to MLflow);
- params are run properties named `mlflow.param.<key>`: immutable, as both MLflow params and
  Azure run properties are;
- metrics are the run's metrics (the value, step and time of each log);
- MLflow statuses map to Azure's (`FINISHED` is `Completed`, `KILLED` is `Canceled`).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from champion.local.mock_v2.tracking.search import (
    Clause,
    check_runs_filter,
    matches,
    parse_filter,
    parse_order,
)
from champion.local.mock_v2.tracking.wire import (
    DEFAULT_EXPERIMENT,
    FROM_MLFLOW_STATUS,
    TO_MLFLOW_STATUS,
    MlflowError,
    invalid,
    key_values,
    millis,
    not_found,
)
from champion.local.store import (
    PropertyConflict,
    RunRecord,
    Store,
)

API = "/api/2.0/mlflow"
PARAM_PREFIX = "mlflow.param."
RUN_NAME, PARENT = "mlflow.runName", "mlflow.parentRunId"

Api = Callable[[dict[str, Any]], dict[str, Any]]


class RunsApi:
    """Experiments, runs and their artifacts (see the module docstring)."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def apis(self) -> dict[tuple[str, str], Api]:
        return {
            ("GET", f"{API}/experiments/get-by-name"): self.get_experiment_by_name,
            ("GET", f"{API}/experiments/get"): self.get_experiment,
            ("POST", f"{API}/experiments/create"): self.create_experiment,
            ("POST", f"{API}/experiments/search"): self.search_experiments,
            ("POST", f"{API}/runs/create"): self.create_run,
            ("GET", f"{API}/runs/get"): self.get_run,
            ("POST", f"{API}/runs/update"): self.update_run,
            ("POST", f"{API}/runs/log-metric"): self.log_metric,
            ("POST", f"{API}/runs/log-parameter"): self.log_param,
            ("POST", f"{API}/runs/set-tag"): self.set_tag,
            ("POST", f"{API}/runs/delete-tag"): self.delete_tag,
            ("POST", f"{API}/runs/log-batch"): self.log_batch,
            ("POST", f"{API}/runs/search"): self.search_runs,
            ("GET", f"{API}/metrics/get-history"): self.metric_history,
        }

    # ------------------------------------------------------------------ experiments

    def experiments(self) -> dict[str, str]:
        """Experiment id -> name; MLflow's default experiment "0" is the store's "Default"."""
        found = {exp_id: name for name, exp_id in self.store.list_experiments()}
        return {DEFAULT_EXPERIMENT[0]: DEFAULT_EXPERIMENT[1], **found}

    def experiment_id(self, name: str) -> str:
        if name == DEFAULT_EXPERIMENT[1]:
            return DEFAULT_EXPERIMENT[0]
        return self.store.get_or_create_experiment(name)

    def experiment_body(self, exp_id: str, name: str) -> dict[str, Any]:
        return {
            "experiment_id": exp_id,
            "name": name,
            "artifact_location": f"mlflow-artifacts:/{exp_id}",
            "lifecycle_stage": "active",
            "tags": [],
        }

    def get_experiment_by_name(self, params: dict[str, Any]) -> dict[str, Any]:
        name = str(params["experiment_name"])
        for exp_id, known in self.experiments().items():
            if known == name:
                return {"experiment": self.experiment_body(exp_id, known)}
        raise not_found(f"Could not find experiment with name '{name}'")

    def get_experiment(self, params: dict[str, Any]) -> dict[str, Any]:
        exp_id = str(params["experiment_id"])
        name = self.experiments().get(exp_id)
        if name is None:
            raise not_found(f"No Experiment with id={exp_id} exists")
        return {"experiment": self.experiment_body(exp_id, name)}

    def create_experiment(self, params: dict[str, Any]) -> dict[str, Any]:
        name = str(params["name"])
        if name in self.experiments().values():
            raise MlflowError(
                400, "RESOURCE_ALREADY_EXISTS", f"Experiment '{name}' already exists."
            )
        return {"experiment_id": self.experiment_id(name)}

    def search_experiments(self, params: dict[str, Any]) -> dict[str, Any]:
        clauses = parse_filter(params.get("filter"))
        found = []
        for exp_id, name in self.experiments().items():
            if all(matches(c, _named(name)) for c in clauses):
                found.append(self.experiment_body(exp_id, name))
        return {"experiments": found}

    # ------------------------------------------------------------------ runs

    def run(self, run_id: str) -> RunRecord:
        record = self.store.get_run(run_id)
        if record is None:
            raise not_found(f"Run with id={run_id} not found")
        return record

    def run_body(self, run: RunRecord) -> dict[str, Any]:
        exp_id = self.experiment_id(run.experiment)
        tags = {k: v for k, v in run.tags.items()}
        tags[RUN_NAME] = run.display_name or run.name or run.run_id
        if run.parent_id:
            tags[PARENT] = run.parent_id
        params = {
            k[len(PARAM_PREFIX) :]: v
            for k, v in run.properties.items()
            if k.startswith(PARAM_PREFIX)
        }
        return {
            "info": {
                "run_id": run.run_id,
                "run_uuid": run.run_id,
                "run_name": tags[RUN_NAME],
                "experiment_id": exp_id,
                "user_id": "champion",
                "status": TO_MLFLOW_STATUS.get(run.status, "RUNNING"),
                "start_time": millis(run.start_utc or run.created_utc),
                "end_time": millis(run.end_utc),
                "artifact_uri": f"mlflow-artifacts:/{exp_id}/{run.run_id}/artifacts",
                "lifecycle_stage": "active",
            },
            "data": {
                "metrics": self._latest_metrics(run.run_id),
                "params": key_values(params),
                "tags": key_values(tags),
            },
            "inputs": {},
            "outputs": {},
        }

    def _latest_metrics(self, run_id: str) -> list[dict[str, Any]]:
        latest: dict[str, dict[str, Any]] = {}
        for name, value, step, logged in self.store.metric_history(run_id):
            number = _number(value)
            if number is None:
                continue  # a v1 metric MLflow cannot hold (a string, a table)
            entry = {"key": name, "value": number, "timestamp": millis(logged), "step": step or 0}
            if name not in latest or entry["step"] >= latest[name]["step"]:
                latest[name] = entry
        return list(latest.values())

    def create_run(self, params: dict[str, Any]) -> dict[str, Any]:
        exp_id = str(params.get("experiment_id") or DEFAULT_EXPERIMENT[0])
        experiment = self.experiments().get(exp_id)
        if experiment is None:
            raise not_found(f"No Experiment with id={exp_id} exists")
        tags = {t["key"]: t.get("value") for t in params.get("tags") or []}
        parent = tags.pop(PARENT, None)
        name = params.get("run_name") or tags.pop(RUN_NAME, None)
        tags.pop(RUN_NAME, None)
        try:
            record = self.store.create_run(
                experiment,
                run_id=uuid.uuid4().hex,
                parent_id=parent,
                name=name,
                display_name=name,
                tags=tags,
            )
        except KeyError:
            raise not_found(f"Run with id={parent} (the parent run) not found") from None
        return {"run": self.run_body(record)}

    def get_run(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"run": self.run_body(self.run(str(params.get("run_id") or params["run_uuid"])))}

    def update_run(self, params: dict[str, Any]) -> dict[str, Any]:
        run = self.run(str(params.get("run_id") or params["run_uuid"]))
        status = FROM_MLFLOW_STATUS.get(str(params.get("status") or ""))
        record = self.store.update_run(
            run.run_id, status=status, display_name=params.get("run_name") or None
        )
        return {"run_info": self.run_body(record)["info"]}

    def log_metric(self, params: dict[str, Any]) -> dict[str, Any]:
        run = self.run(str(params.get("run_id") or params["run_uuid"]))
        self._metric(run.run_id, params)
        return {}

    def _metric(self, run_id: str, metric: dict[str, Any]) -> None:
        value = _number(metric.get("value"))
        if value is None:
            raise invalid(
                f"Metric {metric.get('key')!r} has the value {metric.get('value')!r}, not a number"
            )
        step = metric.get("step")
        self.store.log_metric(
            run_id, str(metric["key"]), value, int(step) if step is not None else None
        )

    def log_param(self, params: dict[str, Any]) -> dict[str, Any]:
        run = self.run(str(params.get("run_id") or params["run_uuid"]))
        self._params(run.run_id, [params])
        return {}

    def _params(self, run_id: str, items: list[dict[str, Any]]) -> None:
        try:
            self.store.update_run(
                run_id,
                add_properties={PARAM_PREFIX + str(p["key"]): str(p.get("value")) for p in items},
            )
        except PropertyConflict as exc:
            keys = ", ".join(k[len(PARAM_PREFIX) :] for k in exc.keys)
            raise invalid(
                f"Changing param values is not allowed. Params were already logged with other "
                f"values for run ID '{run_id}': {keys}"
            ) from None

    def set_tag(self, params: dict[str, Any]) -> dict[str, Any]:
        run = self.run(str(params.get("run_id") or params["run_uuid"]))
        self._tags(run.run_id, {str(params["key"]): params.get("value")})
        return {}

    def _tags(self, run_id: str, tags: dict[str, Any]) -> None:
        name = tags.pop(RUN_NAME, None)
        tags.pop(PARENT, None)  # a run's parent is set when it is created
        self.store.update_run(
            run_id,
            set_tags={k: None if v is None else str(v) for k, v in tags.items()} or None,
            display_name=str(name) if name is not None else None,
        )

    def delete_tag(self, params: dict[str, Any]) -> dict[str, Any]:
        run = self.run(str(params["run_id"]))
        self.store.update_run(run.run_id, remove_tags=[str(params["key"])])
        return {}

    def log_batch(self, params: dict[str, Any]) -> dict[str, Any]:
        run = self.run(str(params["run_id"]))
        for metric in params.get("metrics") or []:
            self._metric(run.run_id, metric)
        if params.get("params"):
            self._params(run.run_id, list(params["params"]))
        if params.get("tags"):
            self._tags(run.run_id, {t["key"]: t.get("value") for t in params["tags"]})
        return {}

    def metric_history(self, params: dict[str, Any]) -> dict[str, Any]:
        run = self.run(str(params.get("run_id") or params["run_uuid"]))
        history = [
            {"key": name, "value": _number(value), "timestamp": millis(logged), "step": step or 0}
            for name, value, step, logged in self.store.metric_history(
                run.run_id, str(params["metric_key"])
            )
            if _number(value) is not None
        ]
        return {"metrics": history}

    def search_runs(self, params: dict[str, Any]) -> dict[str, Any]:
        clauses = parse_filter(params.get("filter"))
        check_runs_filter(clauses)
        order = parse_order(params.get("order_by"))
        names = self.experiments()
        wanted = [names[e] for e in params.get("experiment_ids") or [] if e in names]
        runs = [r for name in wanted for r in self.store.list_runs(name)]
        bodies = [self.run_body(r) for r in runs]
        bodies = [b for b in bodies if all(matches(c, _reader(b)) for c in clauses)]
        for key, descending in reversed(order):
            bodies.sort(key=_by_attribute(key), reverse=descending)
        start = int(params.get("page_token") or 0)
        size = int(params.get("max_results") or 1000)
        page = bodies[start : start + size]
        answer: dict[str, Any] = {"runs": page}
        if start + size < len(bodies):
            answer["next_page_token"] = str(start + size)
        return answer


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, int | float):
        return float(value)
    try:
        return float(str(value))
    except (TypeError, ValueError):
        return None


def _reader(body: dict[str, Any]) -> Callable[[str, str], Any]:
    data = body["data"]
    values = {
        "metric": {m["key"]: m["value"] for m in data["metrics"]},
        "param": {p["key"]: p["value"] for p in data["params"]},
        "tag": {t["key"]: t["value"] for t in data["tags"]},
    }

    def read(entity: str, key: str) -> Any:
        if entity == "attribute":
            return _attribute(body, key)
        return values[entity].get(key)

    return read


def _attribute(body: dict[str, Any], key: str) -> Any:
    return body["info"].get({"created": "start_time"}.get(key, key))


def _by_attribute(key: str) -> Callable[[dict[str, Any]], Any]:
    return lambda body: _attribute(body, key) or 0


def _named(name: str) -> Callable[[str, str], Any]:
    return lambda entity, key: name if key == "name" else None


__all__ = ["Clause", "RunsApi"]
