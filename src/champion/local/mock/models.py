"""The model registry and assets: `ModelsClient` (register, get, query, PATCH, delete) and
`AssetsClient` (create, get), answered from the store's model and asset rows."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from azureml._restclient import models as rest
from azureml._restclient.assets_client import AssetsClient
from azureml._restclient.models_client import ModelsClient

from champion.local._unmocked import UnmockedServiceCall
from champion.local.mock.backend import ClientFamily, Patch, as_method, bind
from champion.local.mock.faults import timeout_error
from champion.local.mock.wire import as_str_dict, model_error, parse_time, service_error, wire
from champion.local.store import (
    AssetRecord,
    ModelInUse,
    ModelRecord,
    PropertyConflict,
    parse_filter_query,
)

ASSET_URL_PREFIX = "aml://asset/"


def asset_dto(record: AssetRecord) -> Any:
    return rest.Asset(
        id=record.id,
        name=record.name or "",
        artifacts=[rest.ArtifactDetails(prefix=p) for p in record.prefixes],
        kv_tags={},
        properties={},
        runid=record.run_id,
        meta={},
    )


def model_dto(record: ModelRecord) -> Any:
    dto = rest.Model(
        id=record.id,
        name=record.name,
        version=record.version,
        url=record.url,
        mime_type=record.mime_type,
        framework=record.framework,
        framework_version=record.framework_version,
        description=record.description,
        created_time=parse_time(record.created_utc),
        modified_time=parse_time(record.modified_utc),
        unpack=False,
        run_id=record.run_id,
        experiment_name=record.experiment_name,
        kv_tags=dict(record.tags),
        properties=dict(record.properties),
        datasets=[rest.DatasetReference(name=s, id=i) for s, i in record.datasets],
        sample_input_data=dataset_url(record.sample_input_dataset),
        sample_output_data=dataset_url(record.sample_output_dataset),
        resource_requirements=(
            rest.ModelResourceRequirements(
                cpu=record.resource_configuration.get("cpu"),
                memory_in_gb=record.resource_configuration.get("memoryInGB"),
                gpu=record.resource_configuration.get("gpu"),
            )
            if record.resource_configuration
            else None
        ),
        derived_model_ids=[],
    )
    return dto


def dataset_url(saved_id: str | None) -> str | None:
    return f"aml://dataset/{saved_id}" if saved_id else None


def resource_requirements(value: Any) -> dict[str, Any] | None:
    """A model's resource requirements as the service keeps them (the SDK's serialised
    `ResourceConfiguration`: cpu, memoryInGB, gpu), from a wire object or a patch's dict."""
    if not value:
        return None
    if not isinstance(value, dict):
        value = {"cpu": value.cpu, "memoryInGB": value.memory_in_gb, "gpu": value.gpu}
    wired = wire(
        {"cpu": value.get("cpu"), "memory_in_gb": value.get("memoryInGB"), "gpu": value.get("gpu")},
        "ModelResourceRequirements",
    )
    return {"cpu": wired.cpu, "memoryInGB": wired.memory_in_gb, "gpu": wired.gpu}


class ModelRegistry(ClientFamily):
    """Model versions and the assets they point at (see the module docstring)."""

    def patches(self) -> list[Patch]:
        return [
            (ModelsClient, "_execute_with_workspace_arguments",
             as_method(self._models_exec, "models_exec")),
            (AssetsClient, "_execute_with_workspace_arguments",
             as_method(self._assets_exec, "assets_exec")),
        ]  # fmt: skip

    def _models_exec(self, client: Any, func: Any, *args: Any, **kwargs: Any) -> Any:
        name = func.__name__
        operation = {
            "register": "models.register",
            "query_by_id": "models.get",
            "list_query": "models.query",
            "patch": "models.patch",
            "delete": "models.delete",
        }.get(name)
        if operation is None:
            raise UnmockedServiceCall(
                f"mock_azureml: the local workspace does not implement the model operation {name}"
            )
        params = bind(func, client._workspace_arguments, args, kwargs)
        committed_then_timeout = self.backend.begin(operation, self.backend.model_error)
        result = self._models_dispatch(name, params)
        if committed_then_timeout is not None:
            raise timeout_error(operation)
        return result

    def _models_dispatch(self, name: str, params: dict[str, Any]) -> Any:
        if name == "register":
            return self._model_register(params["body"])
        if name == "list_query":
            return iter(self._model_query(params))
        model_name, version = self._model_key(params["id"])
        if name == "query_by_id":
            record = self.store.get_model(model_name, version)
            if record is None:
                raise model_error(404, f"Model {params['id']} not found")
            return model_dto(record)
        if name == "delete":
            try:
                deleted = self.store.delete_model(model_name, version)
            except ModelInUse as exc:  # what Model.delete expects: 412, "DeletionRequired"
                raise model_error(412, str(exc), code="DeletionRequired") from None
            if not deleted:
                raise model_error(404, f"Model {params['id']} not found")
            return None
        return self._model_patch(model_name, version, params["body"] or [])

    @staticmethod
    def _model_key(model_id: str) -> tuple[str, int]:
        name, _, version = str(model_id).rpartition(":")
        if not name or not version.isdigit():
            raise model_error(404, f"Model {model_id} not found")
        return name, int(version)

    def _model_register(self, body: Any) -> Any:
        model = wire(body, "Model")
        url = model.url or ""
        asset_id = url[len(ASSET_URL_PREFIX) :] if url.startswith(ASSET_URL_PREFIX) else ""
        if self.store.get_asset(asset_id) is None:
            raise model_error(400, f"Model url {url!r} does not name an asset")
        record = self.store.register_model(
            model.name,
            asset_id,
            tags=model.kv_tags,
            properties=model.properties,
            description=model.description,
            framework=model.framework,
            framework_version=model.framework_version,
            run_id=model.run_id,
            experiment_name=model.experiment_name,
            mime_type=model.mime_type or "application/json",
            resource_configuration=resource_requirements(model.resource_requirements),
            datasets=self._dataset_links(model.datasets),
            sample_input_dataset=self._dataset_url(model.sample_input_data),
            sample_output_dataset=self._dataset_url(model.sample_output_data),
        )
        return model_dto(record)

    def _dataset_links(self, references: Iterable[Any] | None) -> list[tuple[str, str]]:
        links = []
        for reference in references or []:
            reference = reference if isinstance(reference, dict) else vars(reference)
            dataset_id = str(reference.get("id"))
            if self.store.get_saved_dataset(dataset_id) is None:
                raise model_error(400, f"Dataset {dataset_id} was not found")
            links.append((str(reference.get("name")), dataset_id))
        return links

    def _dataset_url(self, url: str | None) -> str | None:
        """`aml://dataset/<saved id>` of a sample dataset, checked like a linked dataset."""
        if not url:
            return None
        dataset_id = url.removeprefix("aml://dataset/")
        if self.store.get_saved_dataset(dataset_id) is None:
            raise model_error(400, f"Dataset {dataset_id} was not found")
        return dataset_id

    def _model_query(self, params: Mapping[str, Any]) -> list[Any]:
        tags = parse_filter_query(params.get("tags"))
        if params.get("tag"):
            tags.append((str(params["tag"]), None))
        records = self.store.query_models(
            name=params.get("name"),
            tags=tags,
            properties=parse_filter_query(params.get("properties")),
            run_id=params.get("run_id"),
            framework=params.get("framework"),
            latest_only=bool(params.get("latest_version_only")),
            dataset_id=params.get("dataset_id") or None,
        )
        return [model_dto(r) for r in records]

    def _model_patch(self, name: str, version: int, operations: Iterable[Any]) -> Any:
        changes: dict[str, Any] = {}
        for op in operations:
            op = op if isinstance(op, dict) else vars(op)
            path = op.get("path")
            if path == "/kvTags":
                changes["tags"] = as_str_dict(op.get("value"))
            elif path == "/properties":
                changes["properties"] = as_str_dict(op.get("value"))
            elif path == "/description":
                changes["description"] = op.get("value")
            elif path == "/datasets":
                changes["add_datasets"] = self._dataset_links(op.get("value"))
            elif path == "/sampleInputData":
                changes["sample_input_dataset"] = self._dataset_url(op.get("value"))
            elif path == "/sampleOutputData":
                changes["sample_output_dataset"] = self._dataset_url(op.get("value"))
            elif path == "/resourceRequirements":
                changes["resource_configuration"] = resource_requirements(op.get("value"))
            else:
                raise UnmockedServiceCall(
                    f"mock_azureml: the local workspace does not store model field {path}"
                )
        try:
            record = self.store.update_model(name, version, **changes)
        except KeyError as exc:
            raise model_error(404, f"Model {name}:{version} not found") from exc
        except PropertyConflict as exc:
            raise model_error(409, str(exc)) from exc
        return model_dto(record)

    def _assets_exec(self, client: Any, func: Any, *args: Any, **kwargs: Any) -> Any:
        name = func.__name__
        params = bind(func, client._workspace_arguments, args, kwargs)
        if name == "create":
            self.backend.begin("assets.create", self.backend.rest_error)
            asset = wire(params["body"], "Asset")
            if asset.kv_tags or asset.properties or asset.meta:
                raise UnmockedServiceCall(
                    "mock_azureml: the local workspace does not store "
                    "asset tags, properties or metadata"
                )
            prefixes = [a.prefix or a.id for a in asset.artifacts or []]
            return asset_dto(self.store.create_asset(prefixes, name=asset.name, run_id=asset.runid))
        if name == "query_by_id":
            self.backend.begin("assets.get", self.backend.rest_error)
            record = self.store.get_asset(params["id"])
            if record is None:
                raise service_error(404, f"Asset {params['id']} was not found")
            return asset_dto(record)
        raise UnmockedServiceCall(
            f"mock_azureml: the local workspace does not implement the asset operation {name}"
        )
