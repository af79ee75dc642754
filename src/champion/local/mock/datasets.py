"""Datasets: the generated `DatasetOperations` (save, register, get by name or id, list, update,
unregister), and the helpers each dataset module imported by name (its REST client, the raw GET
of a dataflow, the v2 data-asset lookup), answered from the store's saved and registered
datasets. Definitions travel as the SDK's dataflow JSON (`dataflows.py`)."""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from azureml._restclient import models as rest
from azureml._restclient.operations.dataset_operations import DatasetOperations

from champion.local.mock.backend import (
    Backend,
    ClientFamily,
    Patch,
    local_rest_client,
    replace_operation,
)
from champion.local.mock.dataflows import Dataflows, rs_yaml
from champion.local.mock.wire import as_str_dict, data_plane_error, wire
from champion.local.store import (
    FILE,
    TABULAR,
    DataPathError,
    DatasetConflict,
    DatasetRecord,
    SavedDatasetRecord,
)

_SDK_TYPES = {TABULAR: "tabular", FILE: "file"}
_FROM_SDK_TYPE = {v: k for k, v in _SDK_TYPES.items()}
_DATASET_MODULES = (
    "azureml.data._dataset_rest_helper",
    "azureml.data.abstract_dataset",
    "azureml.data.tabular_dataset",
    "azureml.data.dataset_profile",
    "azureml.data.dataset_profile_run_config",
    "azureml.data._dataset_profile_run",
)


class DatasetService(ClientFamily):
    """Saved definitions and registered versions (see the module docstring)."""

    def __init__(self, backend: Backend, dataflows: Dataflows) -> None:
        super().__init__(backend)
        self.dataflows = dataflows

    def patches(self) -> list[Patch]:
        patches: list[Patch] = []
        # each dataset module imported these helpers by name: patch every copy
        helpers = {
            "_restclient": local_rest_client,
            "_fetch_rslex_dataflow_yaml": self._fetch_dataflow_yaml,
            "_fetch_v2_data_asset": self._fetch_v2_asset,
        }
        for module_name in _DATASET_MODULES:
            module = importlib.import_module(module_name)
            for attribute, replacement in helpers.items():
                if hasattr(module, attribute):
                    patches.append((module, attribute, replacement))
        for name, handler in {
            "ensure_saved": self._dataset_save,
            "register": self._dataset_register,
            "get_dataset_by_name": self._dataset_by_name,
            "get_datasets_by_saved_dataset_id": self._datasets_by_saved_id,
            "get_by_id": self._dataset_by_saved_id,
            "list": self._dataset_list,
            "update_dataset": self._dataset_update,
            "unregister_dataset": self._dataset_unregister,
        }.items():
            patches.append(
                (DatasetOperations, name, replace_operation(DatasetOperations, name, handler))
            )
        return patches

    def _begin(self, operation: str) -> None:
        self.backend.begin(operation, data_plane_error)

    def _dataset_save(self, p: Mapping[str, Any]) -> Any:
        self._begin("datasets.save")
        body = wire(p["dataset"], "SavedDatasetDto")
        saved = self._save(body.dataset_type, body.dataflow_json, body.properties)
        return self._saved_dto(saved)

    def _save(
        self, sdk_type: str | None, dataflow: str | None, properties: Any
    ) -> SavedDatasetRecord:
        dataset_type = _FROM_SDK_TYPE.get(str(sdk_type), TABULAR)
        definition = self.dataflows.definition_from_dataflow(dataset_type, dataflow or "")
        try:
            return self.store.save_dataset(
                dataset_type, definition, dataflow=dataflow, properties=dict(properties or {})
            )
        except DataPathError as exc:
            raise data_plane_error(400, f"{exc}") from None

    def _dataset_register(self, p: Mapping[str, Any]) -> Any:
        self._begin("datasets.register")
        body = wire(p["dataset_dto"], "DatasetDto")
        latest = body.latest
        saved_id = getattr(latest, "saved_dataset_id", None)
        if not saved_id or self.store.get_saved_dataset(saved_id) is None:
            saved_id = self._save(body.dataset_type, latest.dataflow, latest.properties).id
        create_new_version = bool(p.get("if_exists_ok")) and bool(
            p.get("update_definition_if_exists")
        )
        try:
            record = self.store.register_dataset(
                body.name,
                saved_id=saved_id,
                description=body.description,
                tags=as_str_dict(body.tags),
                create_new_version=create_new_version,
            )
        except DatasetConflict as exc:
            raise data_plane_error(409, f"{exc}") from None
        return self._dataset_dto(record)

    def _dataset_by_name(self, p: Mapping[str, Any]) -> Any:
        self._begin("datasets.get")
        version = p.get("version_id")
        record = self.store.get_dataset(p["dataset_name"], int(version) if version else None)
        if record is None:
            raise data_plane_error(404, f"Dataset {p['dataset_name']} was not found")
        return self._dataset_dto(record)

    def _datasets_by_saved_id(self, p: Mapping[str, Any]) -> Any:
        self._begin("datasets.get")
        records = self.store.datasets_for_saved_id(p["saved_dataset_id"])
        page = records[: int(p.get("page_size") or 10)]
        return rest.PaginatedResultDatasetDto(value=[self._dataset_dto(r) for r in page])

    def _dataset_by_saved_id(self, p: Mapping[str, Any]) -> Any:
        self._begin("datasets.get")
        saved = self.store.get_saved_dataset(p["id"])
        if saved is None:
            raise data_plane_error(404, f"Dataset {p['id']} was not found")
        return self._saved_dto(saved)

    def _dataset_list(self, p: Mapping[str, Any]) -> Any:
        self._begin("datasets.query")
        records = self.store.list_datasets()
        names = p.get("dataset_names")
        if names:
            records = [r for r in records if r.name in set(names)]
        return rest.PaginatedResultDatasetDto(
            value=[self._dataset_dto(r) for r in records], continuation_token=None
        )

    def _dataset_update(self, p: Mapping[str, Any]) -> Any:
        self._begin("datasets.update")
        body = wire(p["new_dataset_dto"], "DatasetDto")
        name = body.name or self._name_of(p["dataset_id"])
        try:
            record = self.store.update_dataset(
                name,
                description=body.description,
                tags=as_str_dict(body.tags) if body.tags is not None else None,
            )
        except KeyError:
            raise data_plane_error(404, f"Dataset {name} was not found") from None
        return self._dataset_dto(record)

    def _name_of(self, registered_id: str) -> str:
        for record in self.store.list_datasets():
            if record.registered_id == registered_id:
                return record.name
        raise data_plane_error(404, f"Dataset {registered_id} was not found")

    def _dataset_unregister(self, p: Mapping[str, Any]) -> None:
        self._begin("datasets.delete")
        if not self.store.unregister_dataset(p["name"]):
            raise data_plane_error(404, f"Dataset {p['name']} was not found")

    def _fetch_dataflow_yaml(self, workspace: Any, fetch_id: str) -> str:
        """The service's answer to GET .../dataversion/unregistered-<saved id>/versions/1: the
        dataflow as the Rust engine's YAML."""
        self._begin("datasets.get")
        saved = self.store.get_saved_dataset(fetch_id.removeprefix("unregistered-"))
        if saved is None:
            raise data_plane_error(404, f"Dataset {fetch_id} was not found")
        return rs_yaml(self.dataflows.dataflow_of(saved))

    def _fetch_v2_asset(self, workspace: Any, name: str, version: Any) -> Any:
        """The local workspace has no SDK v2 data assets: the service's 404."""
        self._begin("datasets.get")
        raise data_plane_error(404, f"Data asset {name} was not found")

    def _saved_dto(self, saved: SavedDatasetRecord) -> Any:
        return rest.SavedDatasetDto(
            id=saved.id,
            dataset_type=_SDK_TYPES[saved.dataset_type],
            properties=dict(saved.properties),
            dataflow_json=self.dataflows.dataflow_of(saved),
        )

    def _dataset_dto(self, record: DatasetRecord) -> Any:
        created = datetime.fromisoformat(record.created_utc)
        return rest.DatasetDto(
            dataset_id=record.registered_id,
            name=record.name,
            description=record.description,
            tags=dict(record.tags),
            is_visible=True,
            dataset_type=_SDK_TYPES[record.saved.dataset_type],
            created_time=created,
            latest=rest.DatasetDefinitionDto(
                dataset_id=record.registered_id,
                version_id=str(record.version),
                dataflow=self.dataflows.dataflow_of(record.saved),
                properties=dict(record.saved.properties),
                saved_dataset_id=record.saved.id,
                created_time=created,
            ),
        )
