"""What `Model` registration, lookup and update take as arguments, checked and turned into what
the service stores, with the SDK's rules and messages: dataset links and sample datasets (each
saved first), resource configurations, tag/property filters, model paths in the working
directory."""

from __future__ import annotations

import builtins
import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from champion.local import _sdk
from champion.local.abstract_dataset import AbstractDataset
from champion.local.dataset import Dataset
from champion.local.file_dataset import FileDataset
from champion.local.store import ModelRecord
from champion.local.tabular_dataset import TabularDataset

if TYPE_CHECKING:
    from champion.local.workspace import Workspace


def dataset_links(workspace: Workspace, datasets: Any) -> builtins.list[tuple[str, str]]:
    """`[(scenario, dataset)]` as the service stores it, each dataset by its saved id (saved
    now if it is not yet), with the SDK's checks and message."""
    links = []
    for scenario, dataset in datasets or ():
        if not isinstance(dataset, AbstractDataset):
            raise _sdk.webservice_error(
                f"Invalid dataset of type {type(dataset)} passed, must be of type Dataset or "
                "DatasetSnapshot"
            )
        links.append((str(scenario), dataset._ensure_saved(workspace)))
    return links


def sample_dataset_id(workspace: Workspace, dataset: Any, what: str) -> str | None:
    if not dataset:
        return None
    if not isinstance(dataset, TabularDataset | FileDataset):
        raise _sdk.webservice_error(
            f"Invalid {what} of type {type(dataset)} passed, must be of type TabularDataset or "
            "FileDataset"
        )
    return dataset._ensure_saved(workspace)


def serialize_resources(configuration: Any) -> dict[str, Any] | None:
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


def resource_configuration(stored: dict[str, Any] | None) -> Any:
    if not stored:
        return None
    from azureml.core.resource_configuration import ResourceConfiguration

    return ResourceConfiguration.deserialize(stored)


def dataset_by_id(workspace: Workspace, dataset_id: str | None) -> Any:
    if dataset_id is None:
        return None
    return Dataset.get_by_id(workspace, dataset_id)


def model_by_id(workspace: Workspace, model_id: str) -> ModelRecord | None:
    name, _, version = model_id.rpartition(":")
    if not name or not version.isdigit():
        return None
    return workspace._store.get_model(name, int(version))


def filter_query(items: Any) -> str | None:
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


def validate_model_path(model_path: str, child_paths: Sequence[str] | None) -> None:
    cwd = os.getcwd()
    full = os.path.normpath(os.path.join(cwd, model_path))
    if not os.path.exists(full):
        raise FileNotFoundError("Path does not exist")
    if not os.path.abspath(full).startswith(os.path.abspath(cwd)):
        raise PermissionError("Unauthorized access: Path outside current working directory")
    for child in child_paths or ():
        if not os.path.exists(os.path.join(full, child)):
            raise _sdk.webservice_error(f'Error, provided child path "{child}" cannot be found')


def collect_paths(
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
