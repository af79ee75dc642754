"""MLflow's model registry over the store's model versions: the same rows azure-ai-ml, v1 and
`champion.local` read, under the same rules (`store/model_versions.py`).

As Azure ML's MLflow registry does (Microsoft Learn, how-to-manage-models-mlflow):

- a version is registered from a run's artifacts (`runs:/<run>/<path>`, the run's
  `mlflow-artifacts:` uri, or `azureml://jobs/<job>/outputs/artifacts/paths/<path>`), and only
  an MLflow-format model (an `MLmodel` file) is accepted; the number is the next one;
- a registered model exists once it has a version (`create_registered_model` of a new name
  answers as created; the registry holds nothing until `create_model_version`);
- search by `name` or `run_id` with `=`; no search by tag (MLflow 3's default prompt filter on
  `search_registered_models` is refused as Azure refuses it: Azure/azure-sdk-for-python#42155);
- version tags and description change; aliases and stage transitions are not served.

A version's `source` is where MLflow can load it from: the run's artifacts, or, for a version
registered through azure-ai-ml or v1, `mlflow-artifacts:/registry/<name>/<version>` (its files).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from champion.local.mock_v2.tracking.artifacts import REGISTRY_ROOT
from champion.local.mock_v2.tracking.runs import API, RunsApi
from champion.local.mock_v2.tracking.search import check_registry_filter, parse_filter
from champion.local.mock_v2.tracking.wire import (
    TO_MLFLOW_STAGE,
    MlflowError,
    invalid,
    key_values,
    millis,
    not_found,
)
from champion.local.store import (
    RUN_ORIGIN,
    ArtifactRecord,
    ModelRecord,
    ModelSource,
    ModelVersionExists,
    ModelVersionRefused,
    Store,
    artifact_store_uri,
    utcnow,
)

_RUN_SOURCES = (
    re.compile(r"mlflow-artifacts:/(?P<exp>[^/]+)/(?P<run>[^/]+)/artifacts/(?P<path>.+)"),
    re.compile(r"runs:/(?P<run>[^/]+)/(?P<path>.+)"),
    re.compile(r"azureml://jobs/(?P<run>[^/]+)/outputs/artifacts/(?:paths/)?(?P<path>.+)"),
)
_RUN_PREFIX = re.compile(rf"{RUN_ORIGIN}/dcid\.(?P<run>[^/]+)/(?P<path>.+)")
MLMODEL = "MLmodel"
Api = Callable[[dict[str, Any]], dict[str, Any]]


class RegistryApi:
    """Registered models and model versions (see the module docstring)."""

    def __init__(self, store: Store, runs: RunsApi) -> None:
        self.store = store
        self.runs = runs

    def apis(self) -> dict[tuple[str, str], Api]:
        return {
            ("POST", f"{API}/registered-models/create"): self.create_registered_model,
            ("GET", f"{API}/registered-models/get"): self.get_registered_model,
            ("GET", f"{API}/registered-models/search"): self.search_registered_models,
            ("POST", f"{API}/model-versions/create"): self.create_model_version,
            ("GET", f"{API}/model-versions/get"): self.get_model_version,
            ("GET", f"{API}/model-versions/search"): self.search_model_versions,
            ("GET", f"{API}/model-versions/get-download-uri"): self.download_uri,
            ("POST", f"{API}/model-versions/set-tag"): self.set_tag,
            ("DELETE", f"{API}/model-versions/delete-tag"): self.delete_tag,
            ("PATCH", f"{API}/model-versions/update"): self.update_version,
        }

    # ------------------------------------------------------------------ registered models

    def create_registered_model(self, params: dict[str, Any]) -> dict[str, Any]:
        name = str(params["name"])
        if self.store.model_container(name) is not None:
            raise MlflowError(
                400, "RESOURCE_ALREADY_EXISTS", f"Registered Model (name={name}) already exists."
            )
        now = millis(utcnow())
        return {"registered_model": {"name": name, "creation_timestamp": now,
                                     "last_updated_timestamp": now}}  # fmt: skip

    def get_registered_model(self, params: dict[str, Any]) -> dict[str, Any]:
        name = str(params["name"])
        if self.store.model_container(name) is None:
            raise not_found(f"Registered Model with name={name} not found")
        return {"registered_model": self.registered_model_body(name)}

    def search_registered_models(self, params: dict[str, Any]) -> dict[str, Any]:
        clauses = parse_filter(params.get("filter"))
        check_registry_filter(clauses, ["name"])
        names = [c.name for c in self.store.model_containers()]
        for clause in clauses:
            names = [n for n in names if n == str(clause.value)]
        return {"registered_models": [self.registered_model_body(n) for n in names]}

    def registered_model_body(self, name: str) -> dict[str, Any]:
        container = self.store.model_container(name)
        latest = self.store.latest_model(name)
        return {
            "name": name,
            "creation_timestamp": millis(container.created_utc) if container else None,
            "last_updated_timestamp": millis(container.modified_utc) if container else None,
            "user_id": "champion",
            "description": "",
            "latest_versions": [self.version_body(latest)] if latest else [],
            "tags": [],
            "aliases": [],
        }

    # ------------------------------------------------------------------ versions

    def create_model_version(self, params: dict[str, Any]) -> dict[str, Any]:
        name, source = str(params["name"]), str(params.get("source") or "")
        run_id, path = self._run_source(source, params.get("run_id"))
        run = self.runs.run(run_id)
        files = self.store.list_artifacts(RUN_ORIGIN, run.data_container_id, path)
        if not any(a.path.rsplit("/", 1)[-1] == MLMODEL for a in files):
            raise invalid(
                f"{source} holds no MLmodel file: Azure Machine Learning registers only "
                "MLflow-format models through MLflow; register other files with azure-ai-ml "
                "(ml_client.models.create_or_update)"
            )
        prefix = f"{RUN_ORIGIN}/{run.data_container_id}/{path}"
        spec = {"modelType": "mlflow_model", "flavors": _flavors(self.store, files),
                "jobName": run.run_id}  # fmt: skip
        tags = {t["key"]: t.get("value") for t in params.get("tags") or []}
        for _ in range(5):
            try:
                record, _created = self.store.put_model_version(
                    name,
                    self.store.next_model_version(name),
                    ModelSource(uri=artifact_store_uri(prefix), prefix=prefix, spec=spec),
                    tags=tags,
                    description=params.get("description") or None,
                    run_id=run.run_id,
                    experiment_name=run.experiment,
                    must_create=True,
                )
                return {"model_version": self.version_body(record)}
            except ModelVersionExists:
                continue  # another writer took the number: take the next one
            except ModelVersionRefused as exc:
                raise invalid(str(exc)) from None
        raise MlflowError(409, "RESOURCE_ALREADY_EXISTS", f"Could not number a version of {name}")

    def get_model_version(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"model_version": self.version_body(self._version(params))}

    def search_model_versions(self, params: dict[str, Any]) -> dict[str, Any]:
        clauses = parse_filter(params.get("filter"))
        check_registry_filter(clauses, ["name", "run_id"])
        by = {c.key: str(c.value) for c in clauses}
        records = self.store.query_models(name=by.get("name"), run_id=by.get("run_id"))
        records.sort(key=lambda r: (r.name, -r.version))
        start = int(params.get("page_token") or 0)
        size = int(params.get("max_results") or 10000)
        answer: dict[str, Any] = {
            "model_versions": [self.version_body(r) for r in records[start : start + size]]
        }
        if start + size < len(records):
            answer["next_page_token"] = str(start + size)
        return answer

    def download_uri(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"artifact_uri": self.version_body(self._version(params))["source"]}

    def set_tag(self, params: dict[str, Any]) -> dict[str, Any]:
        record = self._version(params)
        tags = {**record.tags, str(params["key"]): str(params.get("value"))}
        self.store.update_model(record.name, record.version, tags=tags)
        return {}

    def delete_tag(self, params: dict[str, Any]) -> dict[str, Any]:
        record = self._version(params)
        tags = {k: v for k, v in record.tags.items() if k != str(params["key"])}
        self.store.update_model(record.name, record.version, tags=tags)
        return {}

    def update_version(self, params: dict[str, Any]) -> dict[str, Any]:
        record = self._version(params)
        updated = self.store.update_model(
            record.name, record.version, description=str(params.get("description") or "")
        )
        return {"model_version": self.version_body(updated)}

    def version_body(self, record: ModelRecord) -> dict[str, Any]:
        asset = self.store.get_asset(record.asset_id)
        prefix = asset.prefixes[0] if asset and asset.prefixes else ""
        from_run = _RUN_PREFIX.fullmatch(prefix)
        if from_run is not None:
            run = self.store.get_run(from_run["run"])
            exp_id = self.runs.experiment_id(run.experiment) if run else "0"
            source = f"mlflow-artifacts:/{exp_id}/{from_run['run']}/artifacts/{from_run['path']}"
        else:
            source = f"mlflow-artifacts:/{REGISTRY_ROOT}/{record.name}/{record.version}"
        return {
            "name": record.name,
            "version": str(record.version),
            "creation_timestamp": millis(record.created_utc),
            "last_updated_timestamp": millis(record.modified_utc or record.created_utc),
            "user_id": "champion",
            "current_stage": TO_MLFLOW_STAGE.get(record.shown_stage, record.shown_stage),
            "description": record.description or "",
            "source": source,
            "run_id": record.run_id or (record.spec or {}).get("jobName") or "",
            "status": "READY",
            "tags": key_values(dict(record.tags)),
            "run_link": "",
            "aliases": [],
        }

    def model_files(self, name: str, version: str) -> list[tuple[str, ArtifactRecord]]:
        """A version's files by the path a download gives them (the artifact proxy's
        `registry/<name>/<version>/...`)."""
        try:
            record = self.store.get_model(name, int(version))
        except ValueError:
            return []
        return self.store.model_files(record.asset_id) if record else []

    def _version(self, params: dict[str, Any]) -> ModelRecord:
        name, version = str(params["name"]), str(params["version"])
        record = self.store.get_model(name, int(version)) if version.isdigit() else None
        if record is None:
            raise not_found(f"Model Version (name={name}, version={version}) not found")
        return record

    def _run_source(self, source: str, run_id: Any) -> tuple[str, str]:
        for pattern in _RUN_SOURCES:
            match = pattern.fullmatch(source)
            if match is not None:
                return match["run"], match["path"].strip("/")
        raise invalid(
            f"Unsupported model source {source!r}: the local workspace registers from a run's "
            "artifacts (runs:/<run>/<path>); logged models (models:/...) are not served"
            + (f" (run_id {run_id})" if run_id else "")
        )


def _flavors(store: Store, files: list[ArtifactRecord]) -> dict[str, Any]:
    """The flavors an MLmodel file names (its top-level keys under `flavors:`), read without
    a YAML parser: `{flavor: {}}` is what the v2 registry shows for each."""
    mlmodel = next((a for a in files if a.path.rsplit("/", 1)[-1] == MLMODEL), None)
    if mlmodel is None or mlmodel.digest is None:
        return {}
    with store.open_blob(mlmodel.digest) as stream:
        text = stream.read().decode(errors="replace")
    flavors: dict[str, Any] = {}
    inside = False
    for line in text.splitlines():
        if line.startswith("flavors:"):
            inside = True
            continue
        if inside and line and not line.startswith(" "):
            break
        match = re.fullmatch(r"  ([A-Za-z_][\w.]*):\s*", line) if inside else None
        if match:
            flavors[match[1]] = {}
    return flavors
