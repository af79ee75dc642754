"""Changing a registered model version the SDK's way: tags, properties (immutable once set),
description, sample datasets, resource configuration and dataset links, each as the SDK's one
PATCH to the model service."""

# ruff: noqa: T201 - the SDK prints from add_tags/remove_tags/...; the local Model prints the same

from __future__ import annotations

import builtins
from collections.abc import Mapping, Sequence
from typing import Any

from champion.local import _sdk
from champion.local._model_base import ModelBase
from champion.local._model_inputs import dataset_links, sample_dataset_id, serialize_resources
from champion.local.store import PropertyConflict


class ModelEdits(ModelBase):
    """`add_tags`, `remove_tags`, `add_properties`, `update_tags_properties`, `update`,
    `add_dataset_references`."""

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
        sample_in = sample_dataset_id(workspace, sample_input_dataset, "sample input dataset")
        sample_out = sample_dataset_id(workspace, sample_output_dataset, "sample output dataset")
        resources = serialize_resources(resource_configuration)
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
        links = dataset_links(self._workspace(), datasets)
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
