"""`Model` of the local workspace: lookup, registration, listing, tags, properties, download.

It follows what azureml-core 1.61 does, not what its docstrings say: a missing model raises
`WebserviceException` whose message starts with "ModelNotFound" (never ModelNotFoundException),
`add_properties` refuses any key already in the cached properties, `update(tags=...)` replaces all
tags, `Model.register` resolves paths against the working directory and refuses paths outside it.
"""

from __future__ import annotations

import builtins
import os
import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from champion.errors import WorkspaceStoreError
from champion.local import _sdk, _traps
from champion.local._export import TargetExists
from champion.local.store import (
    UPLOAD_ORIGIN,
    ArtifactRecord,
    ModelRecord,
    PropertyConflict,
    parse_filter_query,
)
from champion.local.workspace import Workspace
from champion.validation import model_files_digest


class Model:
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
            found = _by_id(workspace, model_id)
            if found is None:
                raise _sdk.model_not_found(id=model_id)
            return found
        matches = store.query_models(
            name=name,
            tags=parse_filter_query(_filter_query(tags)),
            properties=parse_filter_query(_filter_query(properties)),
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
            tags=parse_filter_query(_filter_query(tags)),
            properties=parse_filter_query(_filter_query(properties)),
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
        self.resource_configuration = _resource_configuration(record.resource_configuration)
        self.datasets = {}
        if expand:
            for scenario, dataset_id in record.datasets:
                self.datasets.setdefault(scenario, []).append(_dataset(workspace, dataset_id))
            self.sample_input_dataset = _dataset(workspace, record.sample_input_dataset)
            self.sample_output_dataset = _dataset(workspace, record.sample_output_dataset)
        if expand and record.run_id:
            from champion.local.run import Run

            run = workspace._store.get_run(record.run_id)
            self.run = Run.get(workspace, record.run_id) if run else None

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
        _validate_model_path(model_path, child_paths)
        _sdk.registration_dict(tags, "Tags")
        _sdk.registration_dict(properties, "Properties")
        store = workspace._store
        container = f"{datetime.now().strftime('%y%m%dT%H%M%S')}-{str(uuid.uuid4())[:8]}"
        files, names = _collect_paths(model_path, child_paths)
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
    ) -> Model:
        """One asset, then one registration row: the tags, properties, dataset links and
        resource configuration are stored with the version in the transaction that numbers
        it. Datasets are saved first (the SDK's `_ensure_saved`), as the SDK does."""
        clean_tags = _sdk.registration_dict(tags, "Tags")
        clean_properties = _sdk.registration_dict(properties, "Properties")
        links = _dataset_links(workspace, datasets)
        sample_in = _sample_dataset_id(workspace, sample_input_dataset, "sample input dataset")
        sample_out = _sample_dataset_id(workspace, sample_output_dataset, "sample output dataset")
        resources = _serialize_resources(resource_configuration)
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
        return Model(workspace, _record=record)

    # ------------------------------------------------------------------ tags and properties

    def add_tags(self, tags: Mapping[str, Any]) -> None:
        self.update_tags_properties(add_tags=tags)
        print("Model tag add operation complete.")

    def remove_tags(self, tags: Sequence[str] | str) -> None:
        self.update_tags_properties(remove_tags=tags)
        print("Model tag remove operation complete.")

    def add_properties(self, properties: Mapping[str, Any]) -> None:
        self.update_tags_properties(add_properties=properties)
        print("Model properties add operation complete.")

    def update_tags_properties(
        self,
        add_tags: Mapping[str, Any] | None = None,
        remove_tags: Sequence[str] | str | None = None,
        add_properties: Mapping[str, Any] | None = None,
    ) -> None:
        """The SDK's single PATCH: properties are checked against the cached copy first (any
        existing key, even with the same value, is refused before anything is sent), tags are
        edited locally and then sent whole."""
        if add_properties:
            duplicates = [k for k in add_properties if k in (self.properties or {})]
            if duplicates:
                raise _sdk.webservice_error(
                    "Error, properties are immutable, the following keys cannot be "
                    f"added/modified: {','.join(duplicates)}"
                )
        tag_update = False
        if add_tags is not None:
            tag_update = True
            self.tags = dict(self.tags or {})
            for key, value in add_tags.items():
                if key in self.tags:
                    print(f"Replacing tag {key} -> {self.tags[key]} with {key} -> {value}")
                self.tags[key] = value
        if remove_tags is not None:
            if self.tags is None:
                print("Model has no tags to remove.")
            else:
                tag_update = True
                for key in [remove_tags] if isinstance(remove_tags, str) else remove_tags:
                    if key in self.tags:
                        del self.tags[key]
                    else:
                        print(f"Tag with key {key} not found.")
        new_properties = None
        if add_properties is not None:
            self.properties = {**(self.properties or {}), **add_properties}
            new_properties = self.properties
        if not tag_update and new_properties is None:
            return
        self._patch(tags=self.tags if tag_update else None, properties=new_properties)

    def update(
        self,
        tags: Mapping[str, Any] | None = None,
        description: str | None = None,
        sample_input_dataset: Any = None,
        sample_output_dataset: Any = None,
        resource_configuration: Any = None,
    ) -> None:
        """Replace the tags, description, sample datasets and/or resource configuration;
        falsy arguments change nothing."""
        workspace = self._workspace()
        sample_in = _sample_dataset_id(workspace, sample_input_dataset, "sample input dataset")
        sample_out = _sample_dataset_id(workspace, sample_output_dataset, "sample output dataset")
        resources = _serialize_resources(resource_configuration)
        if not (tags or description or sample_in or sample_out or resources):
            return
        self._patch(
            tags=tags or None,
            description=description or None,
            sample_input_dataset=sample_in,
            sample_output_dataset=sample_out,
            resource_configuration=resources,
        )
        if tags:
            self.tags = dict(tags)
        if description:
            self.description = description
        if resource_configuration:
            self.resource_configuration = resource_configuration
        if sample_input_dataset:
            self.sample_input_dataset = sample_input_dataset
        if sample_output_dataset:
            self.sample_output_dataset = sample_output_dataset

    def add_dataset_references(self, datasets: Any) -> None:
        """Link datasets to this version by scenario (`[("training data", ds)]`); each is saved
        first, and added to `self.datasets`."""
        links = _dataset_links(self._workspace(), datasets)
        self._patch(add_datasets=links)
        for scenario, dataset in datasets:
            self.datasets.setdefault(scenario, []).append(dataset)

    def _patch(
        self,
        *,
        tags: Mapping[str, Any] | None = None,
        properties: Mapping[str, Any] | None = None,
        description: str | None = None,
        add_datasets: builtins.list[tuple[str, str]] | None = None,
        sample_input_dataset: str | None = None,
        sample_output_dataset: str | None = None,
        resource_configuration: dict[str, Any] | None = None,
    ) -> None:
        assert self.workspace is not None and self.name is not None and self.version is not None
        try:
            self.workspace._store.update_model(
                self.name,
                self.version,
                tags=_sdk.wire_str(tags) if tags is not None else None,
                properties=_sdk.wire_str(properties) if properties is not None else None,
                description=description,
                add_datasets=add_datasets or (),
                sample_input_dataset=sample_input_dataset,
                sample_output_dataset=sample_output_dataset,
                resource_configuration=resource_configuration,
            )
        except KeyError:
            raise _sdk.model_not_found(id=self.id) from None
        except PropertyConflict as exc:
            raise _sdk.webservice_error(
                "Received bad response from Model Management Service:\nResponse Code: 409\n"
                f"Correlation: None\nContent: properties are immutable: {','.join(exc.keys)}"
            ) from None

    # ------------------------------------------------------------------ files

    def download(
        self, target_dir: str = ".", exist_ok: bool = False, exists_ok: bool | None = None
    ) -> str:
        """Write the model's files under `target_dir` and return their common path: the file
        for a one-file model, the folder for a folder model. All files or none: each blob's
        digest is verified in a temp folder before anything is moved into place, and no
        symlink under `target_dir` is followed."""
        if exists_ok is not None:
            if exist_ok is not None:
                raise _sdk.webservice_error(
                    "Both exists_ok and exist_ok are set. Please use exist_ok only."
                )
            exist_ok = exists_ok
        try:
            written = self._export(target_dir, exist_ok=exist_ok)
        except TargetExists as exc:
            raise _sdk.webservice_error(
                f"File already exists. To overwrite, set exist_ok to True. {exc.path}"
            ) from None
        return os.path.commonpath(written)

    def _export(
        self,
        target_dir: str | os.PathLike[str],
        *,
        exist_ok: bool,
        check: Callable[[dict[str, str]], None] | None = None,
    ) -> builtins.list[str]:
        files = self._files()
        if not files:
            raise _sdk.webservice_error("No files to download. Did you upload files?")
        store = self._workspace()._store
        return store.export_files(
            [(relative, artifact.digest) for relative, artifact in files],
            target_dir,
            exist_ok=exist_ok,
            check=check,
        )

    def _files(self) -> builtins.list[tuple[str, ArtifactRecord]]:
        return self._workspace()._store.model_files(self._asset_id or "")

    def get_sas_urls(self) -> dict[str, str]:
        """Local files have no SAS: each artifact maps to its verified blob's file URL."""
        store = self._workspace()._store
        return {
            a.path: store.blob_path(a.digest).as_uri() if a.digest else ""
            for _, a in store.asset_artifacts(self._asset_id or "")
        }

    def delete(self) -> None:
        assert self.name is not None and self.version is not None
        if not self._workspace()._store.delete_model(self.name, self.version):
            raise _sdk.model_not_found(id=self.id)

    def _workspace(self) -> Workspace:
        if self.workspace is None:
            raise _sdk.webservice_error("Error, this Model has no workspace.")
        return self.workspace

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


# ---------------------------------------------------------------------- helpers


def _dataset_links(workspace: Workspace, datasets: Any) -> builtins.list[tuple[str, str]]:
    """`[(scenario, dataset)]` as the service stores it, each dataset by its saved id (saved
    now if it is not yet), with the SDK's checks and message."""
    from champion.local.dataset import AbstractDataset

    links = []
    for scenario, dataset in datasets or ():
        if not isinstance(dataset, AbstractDataset):
            raise _sdk.webservice_error(
                f"Invalid dataset of type {type(dataset)} passed, must be of type Dataset or "
                "DatasetSnapshot"
            )
        links.append((str(scenario), dataset._ensure_saved(workspace)))
    return links


def _sample_dataset_id(workspace: Workspace, dataset: Any, what: str) -> str | None:
    if not dataset:
        return None
    from champion.local.dataset import FileDataset, TabularDataset

    if not isinstance(dataset, TabularDataset | FileDataset):
        raise _sdk.webservice_error(
            f"Invalid {what} of type {type(dataset)} passed, must be of type TabularDataset or "
            "FileDataset"
        )
    return dataset._ensure_saved(workspace)


def _serialize_resources(configuration: Any) -> dict[str, Any] | None:
    """A `ResourceConfiguration` as the service stores it, after the SDK's own validation;
    the wire turns cpu and memory into floats."""
    if not configuration:
        return None
    configuration._validate_configuration()
    data = configuration.serialize()
    return {
        "cpu": None if data.get("cpu") is None else float(data["cpu"]),
        "memoryInGB": None if data.get("memoryInGB") is None else float(data["memoryInGB"]),
        "gpu": None if data.get("gpu") is None else int(data["gpu"]),
    }


def _resource_configuration(stored: dict[str, Any] | None) -> Any:
    if not stored:
        return None
    from azureml.core.resource_configuration import ResourceConfiguration

    return ResourceConfiguration.deserialize(stored)


def _dataset(workspace: Workspace, dataset_id: str | None) -> Any:
    if dataset_id is None:
        return None
    from champion.local.dataset import Dataset

    return Dataset.get_by_id(workspace, dataset_id)


def _by_id(workspace: Workspace, model_id: str) -> ModelRecord | None:
    name, _, version = model_id.rpartition(":")
    if not name or not version.isdigit():
        return None
    return workspace._store.get_model(name, int(version))


def _filter_query(items: Any) -> str | None:
    """The SDK's client-side join of tag/property filters: `'k'` or `['k', 'v']` items into
    "k,k2=v2". A tuple item fails exactly as the SDK's string concatenation fails."""
    if not items:
        return None
    terms = []
    for item in items:
        if type(item) is list:
            terms.append(f"{item[0]}={item[1]}")
        elif isinstance(item, str):
            terms.append(item)
        else:
            raise TypeError(f'can only concatenate str (not "{type(item).__name__}") to str')
    return ",".join(terms)


def _validate_model_path(model_path: str, child_paths: Sequence[str] | None) -> None:
    cwd = os.getcwd()
    full = os.path.normpath(os.path.join(cwd, model_path))
    if not os.path.exists(full):
        raise FileNotFoundError("Path does not exist")
    if not os.path.abspath(full).startswith(os.path.abspath(cwd)):
        raise PermissionError("Unauthorized access: Path outside current working directory")
    for child in child_paths or ():
        if not os.path.exists(os.path.join(full, child)):
            raise _sdk.webservice_error(f'Error, provided child path "{child}" cannot be found')


def _collect_paths(
    model_path: str, child_paths: Sequence[str] | None
) -> tuple[list[str], list[str]]:
    """Local files and their artifact names, relative to the model path's parent folder, so a
    folder `mdir` uploads as `mdir/...` and a file as its basename."""
    model_path = os.path.normpath(model_path)
    parent = os.path.dirname(os.path.abspath(model_path))
    if child_paths:
        chosen: set[str] = set()
        for child in child_paths:
            full = os.path.abspath(os.path.join(model_path, os.path.normpath(child)))
            if os.path.isdir(full):
                chosen.update(os.path.join(d, f) for d, _, fs in os.walk(full) for f in fs)
            else:
                chosen.add(full)
        files = sorted(chosen)
    elif os.path.isdir(model_path):
        files = sorted(
            os.path.abspath(os.path.join(d, f)) for d, _, fs in os.walk(model_path) for f in fs
        )
    else:
        return [model_path], [os.path.basename(os.path.abspath(model_path))]
    return files, [os.path.relpath(f, parent).replace(os.sep, "/") for f in files]


def download_verified(
    model: Model, target_dir: str | os.PathLike[str], *, exist_ok: bool = False
) -> tuple[str, bool]:
    """`model.download`, plus the whole model checked against its registered `artifact_sha256`
    (when the gate registered it) over exactly the files written, before any is moved into
    place; returns the download's path and whether that check ran. What `champion models
    download` does: a tampered or mixed-up model is never left where it could be loaded."""
    expected = (model.properties or {}).get("artifact_sha256")

    def check(written: dict[str, str]) -> None:
        actual = model_files_digest(written)
        if actual != expected:
            raise WorkspaceStoreError(
                f"the files of {model.id} hash to {actual}, not its registered artifact_sha256 "
                f"{expected}; nothing was written. Do not use this version; run `champion verify`.",
                field="artifact_sha256",
                value=actual,
            )

    written = model._export(target_dir, exist_ok=exist_ok, check=check if expected else None)
    return os.path.commonpath(written), bool(expected)
