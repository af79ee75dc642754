"""`Model` of the local workspace: lookup, registration, listing, tags, properties, download.

It follows what azureml-core 1.61 does, not what its docstrings say: a missing model raises
`WebserviceException` whose message starts with "ModelNotFound" (never ModelNotFoundException),
`add_properties` refuses any key already in the cached properties, `update(tags=...)` replaces all
tags, `Model.register` resolves paths against the working directory and refuses paths outside it.

The class is made of parts: lookup, listing and registration here; changing a version
(`_model_edits.py`); its files (`_model_files.py`); argument checks (`_model_inputs.py`).
"""

from __future__ import annotations

import builtins
import os
import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from champion.local import _sdk, _traps
from champion.local._model_edits import ModelEdits
from champion.local._model_files import ModelFiles, download_verified
from champion.local._model_inputs import (
    collect_paths,
    dataset_by_id,
    dataset_links,
    filter_query,
    model_by_id,
    resource_configuration,
    sample_dataset_id,
    serialize_resources,
    validate_model_path,
)
from champion.local._model_path import get_model_path
from champion.local.store import UPLOAD_ORIGIN, ModelInUse, ModelRecord, parse_filter_query

if TYPE_CHECKING:
    from champion.local.workspace import Workspace

__all__ = ["Model", "download_verified"]


class Model(ModelEdits, ModelFiles):
    """A registered model version in a local workspace."""

    class Framework:
        """The SDK's framework constants; like the SDK, any other string is accepted too."""

        CUSTOM = "Custom"
        TENSORFLOW = "TensorFlow"
        SCIKITLEARN = "ScikitLearn"
        ONNX = "Onnx"
        TFKERAS = "TfKeras"
        PYTORCH = "PyTorch"
        MULTI = "Multi"

    def __init__(
        self,
        workspace: Workspace | None,
        name: str | None = None,
        id: str | None = None,
        tags: Sequence[Any] | None = None,
        properties: Sequence[Any] | None = None,
        version: int | str | None = None,
        run_id: str | None = None,
        model_framework: str | None = None,
        expand: bool = True,
        **kwargs: Any,
    ) -> None:
        self.created_by: Any = None
        self.created_time: datetime | None = None
        self.description: str | None = None
        self.id: str | None = None
        self.mime_type: str | None = None
        self.name: str | None = None
        self.model_framework: str | None = None
        self.model_framework_version: str | None = None
        self.tags: dict[str, Any] | None = None
        self.properties: dict[str, Any] | None = None
        self.unpack: bool | None = None
        self.url: str | None = None
        self.version: int | None = None
        self.workspace: Workspace | None = None
        self.experiment_name: str | None = None
        self.run_id: str | None = None
        self.run: Any = None
        self.datasets: dict[str, Any] = {}
        self.sample_input_dataset: Any = None
        self.sample_output_dataset: Any = None
        self.resource_configuration: Any = None
        self.parent_id: str | None = None
        self.derived_model_ids: builtins.list[str] | None = None
        self._asset_id: str | None = None

        record: ModelRecord | None = kwargs.get("_record")
        if record is not None and workspace is not None:
            self._load(workspace, record, expand)
        elif workspace is not None:
            _traps.check_model_lookup(
                name=name,
                id=id,
                tags=tags,
                properties=properties,
                version=version,
                run_id=run_id,
                model_framework=model_framework,
            )
            record = self._get(
                workspace, name, id, tags, properties, version, model_framework, run_id
            )
            if record is None:
                raise _sdk.model_not_found(
                    name=name,
                    id=id,
                    tags=tags,
                    properties=properties,
                    version=version,
                    run_id=run_id,
                    model_framework=model_framework,
                )
            self._load(workspace, record, expand)

    # ------------------------------------------------------------------ lookup

    @staticmethod
    def _get(
        workspace: Workspace,
        name: str | None,
        id: str | None,
        tags: Any,
        properties: Any,
        version: int | str | None,
        model_framework: str | None,
        run_id: str | None,
    ) -> ModelRecord | None:
        """The SDK's precedence: id, then name+version, then a query whose first (newest)
        match wins."""
        if not id and not name:
            raise _sdk.webservice_error("Error, one of id or name must be provided.")
        store = workspace._store
        if id or version:
            model_id = id or f"{name}:{version}"
            found = model_by_id(workspace, model_id)
            if found is None:
                raise _sdk.model_not_found(id=model_id)
            return found
        matches = store.query_models(
            name=name,
            tags=parse_filter_query(filter_query(tags)),
            properties=parse_filter_query(filter_query(properties)),
            run_id=run_id,
            framework=model_framework,
            limit=1,
        )
        return matches[0] if matches else None

    @staticmethod
    def list(
        workspace: Workspace,
        name: str | None = None,
        tags: Any = None,
        properties: Any = None,
        run_id: str | None = None,
        latest: bool = False,
        dataset_id: str | None = None,
        expand: bool = True,
        page_count: int = 255,
        model_framework: str | None = None,
    ) -> builtins.list[Model]:
        """Every matching version, newest first; `latest=True` keeps one per name."""
        _traps.check_model_list(name=name, tags=tags, properties=properties)
        if page_count and (page_count < 20 or page_count > 255):
            raise _sdk.user_error(
                f"Expected page_count value is between 20 and 255. Provided: {page_count}"
            )
        if tags is not None and type(tags) is not list:
            raise _sdk.user_error(
                'Expected tags must be list type. Ex. ["key", ["key2", "key2 value"]]: provided '
                f"{type(tags)}"
            )
        records = workspace._store.query_models(
            name=name,
            tags=parse_filter_query(filter_query(tags)),
            properties=parse_filter_query(filter_query(properties)),
            run_id=run_id,
            framework=model_framework,
            latest_only=bool(latest),
            dataset_id=dataset_id or None,
        )
        return [Model(workspace, _record=r, expand=expand) for r in records]

    def _load(self, workspace: Workspace, record: ModelRecord, expand: bool) -> None:
        self.workspace = workspace
        self.name, self.version, self.id = record.name, record.version, record.id
        self.tags, self.properties = dict(record.tags), dict(record.properties)
        self.description = record.description
        self.created_time = datetime.fromisoformat(record.created_utc)
        self.model_framework = record.framework
        self.model_framework_version = record.framework_version
        self.url, self._asset_id = record.url, record.asset_id
        self.mime_type, self.unpack = record.mime_type, False
        self.experiment_name, self.run_id = record.experiment_name, record.run_id
        self.resource_configuration = resource_configuration(record.resource_configuration)
        self.datasets = {}
        if expand:
            for scenario, dataset_id in record.datasets:
                self.datasets.setdefault(scenario, []).append(dataset_by_id(workspace, dataset_id))
            self.sample_input_dataset = dataset_by_id(workspace, record.sample_input_dataset)
            self.sample_output_dataset = dataset_by_id(workspace, record.sample_output_dataset)
        if expand and record.run_id:
            run = workspace._store.get_run(record.run_id)
            self.run = workspace.get_run(record.run_id) if run else None

    def __getattr__(self, name: str) -> Any:
        raise _sdk.missing_member("Model", name)

    def __repr__(self) -> str:
        return (
            f"Model(workspace={self.workspace!r}, name={self.name}, id={self.id}, "
            f"version={self.version}, tags={self.tags}, properties={self.properties})"
        )

    # ------------------------------------------------------------------ registration

    @staticmethod
    def register(
        workspace: Workspace,
        model_path: str,
        model_name: str,
        tags: Mapping[str, Any] | None = None,
        properties: Mapping[str, Any] | None = None,
        description: str | None = None,
        datasets: Any = None,
        model_framework: str | None = None,
        model_framework_version: str | None = None,
        child_paths: Sequence[str] | None = None,
        sample_input_dataset: Any = None,
        sample_output_dataset: Any = None,
        resource_configuration: Any = None,
    ) -> Model:
        """Upload a file or folder from the working directory and register it (1.61 rules:
        a missing path is FileNotFoundError, a path outside the CWD is PermissionError)."""
        _sdk.validate_model_name(model_name)
        if model_framework is None and model_framework_version is not None:
            raise _sdk.webservice_error(
                "Model framework version cannot be provided without a valid framework"
            )
        validate_model_path(model_path, child_paths)
        _sdk.registration_dict(tags, "Tags")
        _sdk.registration_dict(properties, "Properties")
        store = workspace._store
        container = f"{datetime.now().strftime('%y%m%dT%H%M%S')}-{str(uuid.uuid4())[:8]}"
        files, names = collect_paths(model_path, child_paths)
        with store.staging() as session:
            staged = [session.stage(path) for path in files]
            entries = [(n, b.digest, b.size) for n, b in zip(names, staged, strict=True)]
            store.add_artifacts(UPLOAD_ORIGIN, container, entries, staged)
        base_name = os.path.basename(os.path.abspath(os.path.normpath(model_path)))
        print(f"Registering model {model_name}")
        return Model._register_asset(
            workspace,
            model_name,
            prefixes=[f"{UPLOAD_ORIGIN}/{container}/{base_name}"],
            tags=tags,
            properties=properties,
            description=description,
            model_framework=model_framework,
            model_framework_version=model_framework_version,
            datasets=datasets,
            sample_input_dataset=sample_input_dataset,
            sample_output_dataset=sample_output_dataset,
            resource_configuration=resource_configuration,
        )

    @staticmethod
    def _register_asset(
        workspace: Workspace,
        model_name: str,
        *,
        prefixes: builtins.list[str],
        tags: Any,
        properties: Any,
        description: str | None,
        model_framework: str | None,
        model_framework_version: str | None,
        run_id: str | None = None,
        experiment_name: str | None = None,
        datasets: Any = None,
        sample_input_dataset: Any = None,
        sample_output_dataset: Any = None,
        resource_configuration: Any = None,
        expand: bool = True,
    ) -> Model:
        """One asset, then one registration row: the tags, properties, dataset links and
        resource configuration are stored with the version in the transaction that numbers
        it. Datasets are saved first (the SDK's `_ensure_saved`), as the SDK does."""
        clean_tags = _sdk.registration_dict(tags, "Tags")
        clean_properties = _sdk.registration_dict(properties, "Properties")
        links = dataset_links(workspace, datasets)
        sample_in = sample_dataset_id(workspace, sample_input_dataset, "sample input dataset")
        sample_out = sample_dataset_id(workspace, sample_output_dataset, "sample output dataset")
        resources = serialize_resources(resource_configuration)
        store = workspace._store
        asset = store.create_asset(prefixes, name=model_name, run_id=run_id)
        record = store.register_model(
            model_name,
            asset.id,
            tags=clean_tags,
            properties=clean_properties,
            description=description,
            framework=model_framework,
            framework_version=model_framework_version,
            run_id=run_id,
            experiment_name=experiment_name,
            resource_configuration=resources,
            datasets=links,
            sample_input_dataset=sample_in,
            sample_output_dataset=sample_out,
        )
        return Model(workspace, _record=record, expand=expand)

    def delete(self) -> None:
        """Delete this version (never its number); refused while a deployment serves it."""
        assert self.name is not None and self.version is not None
        try:
            deleted = self._workspace()._store.delete_model(self.name, self.version)
        except ModelInUse as exc:
            raise _sdk.model_in_use(str(exc)) from None
        if not deleted:
            raise _sdk.model_not_found(id=self.id)

    @staticmethod
    def get_model_path(
        model_name: str, version: int | None = None, _workspace: Workspace | None = None
    ) -> str:
        """Where a scoring script finds `model_name` on disk, searched as the SDK searches
        (`_model_path.py`): the `azureml-models/` cache of a deployment first."""
        return get_model_path(Model, model_name, version, _workspace)

    # ------------------------------------------------------------------ serialisation

    def serialize(self) -> dict[str, Any]:
        return {
            "createdTime": self.created_time.isoformat() if self.created_time else None,
            "createdBy": self.created_by,
            "description": self.description,
            "id": self.id,
            "mimeType": self.mime_type,
            "name": self.name,
            "framework": self.model_framework,
            "frameworkVersion": self.model_framework_version,
            "tags": self.tags,
            "properties": self.properties,
            "unpack": self.unpack,
            "url": self.url,
            "version": self.version,
            "experimentName": self.experiment_name,
            "runId": self.run_id,
            "runDetails": str(self.run),
            "datasets": [
                {"name": scenario, "id": getattr(dataset, "id", None)}
                for scenario, found in self.datasets.items()
                for dataset in found
            ],
            "resourceConfiguration": (
                self.resource_configuration.serialize() if self.resource_configuration else None
            ),
            "sampleInputDatasetId": getattr(self.sample_input_dataset, "id", None),
            "sampleOutputDatasetId": getattr(self.sample_output_dataset, "id", None),
        }

    @staticmethod
    def deserialize(workspace: Workspace, model_payload: Mapping[str, Any]) -> Model:
        """Rebuild from `serialize()` output with no store access, as the SDK does."""
        model = Model(None)
        model.workspace = workspace
        created = model_payload["createdTime"]
        model.created_time = datetime.fromisoformat(created) if created else None
        model.created_by = model_payload["createdBy"]
        model.description = model_payload["description"]
        model.id, model.name = model_payload["id"], model_payload["name"]
        model.mime_type = model_payload["mimeType"]
        model.model_framework = model_payload["framework"]
        model.model_framework_version = model_payload["frameworkVersion"]
        model.tags = model_payload.get("tags")
        model.properties = model_payload["properties"]
        model.unpack, model.url = model_payload["unpack"], model_payload["url"]
        model.version = model_payload["version"]
        model.experiment_name = model_payload["experimentName"]
        model.run_id = model_payload["runId"]
        model._asset_id = (model.url or "").removeprefix("aml://asset/") or None
        return model
