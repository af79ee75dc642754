"""Contract checks 49-51: the metadata Azure keeps with a model version (resource
configuration, datasets by scenario, sample input and output datasets), the same assertions on
both faces (see README.md)."""

from __future__ import annotations

from typing import Any

import pytest
from azureml.core.resource_configuration import ResourceConfiguration
from azureml.exceptions import WebserviceException

from .conftest import Target
from .sample_data import upload_iris


def stored_model(target: Target, **kwargs: Any) -> Any:
    run = target.new_run()
    run.upload_file("outputs/model.pkl", "model.pkl")
    run.register_model("m", model_path="outputs/model.pkl", **kwargs)
    return target.Model(target.ws, "m")


def test_c49_resource_configuration_round_trips(target: Target) -> None:
    configuration = ResourceConfiguration(cpu=1, memory_in_gb=0.5)
    target.Model.register(target.ws, "model.pkl", "m", resource_configuration=configuration)
    model = stored_model(target, resource_configuration=ResourceConfiguration(cpu=2, gpu=1))
    assert model.version == 2
    assert model.resource_configuration.serialize() == {"cpu": 2, "memoryInGB": None, "gpu": 1}
    first = target.Model(target.ws, "m", version=1).resource_configuration
    assert (first.cpu, first.memory_in_gb) == (1, 0.5)
    with pytest.raises(WebserviceException, match="cpu must be greater than zero"):
        stored_model(target, resource_configuration=ResourceConfiguration(cpu=-1))


def test_c50_dataset_links_and_sample_datasets(target: Target) -> None:
    datastore = upload_iris(target)
    train = target.Dataset.Tabular.from_delimited_files((datastore, "iris.csv"))
    train = train.register(target.ws, "train")
    sample = target.Dataset.Tabular.from_delimited_files((datastore, "iris.csv"))
    model = stored_model(target, datasets=[("training data", train)], sample_input_dataset=sample)
    [linked] = model.datasets["training data"]
    assert (linked.name, linked.version, linked.id) == ("train", 1, train.id)
    assert model.sample_input_dataset.id == sample.id  # saved by the registration
    assert model.sample_output_dataset is None
    assert [m.version for m in target.Model.list(target.ws, dataset_id=train.id)] == [1]
    assert target.Model.list(target.ws, dataset_id=sample.id) == []  # samples are not links
    with pytest.raises(WebserviceException, match="Invalid dataset of type"):
        stored_model(target, datasets=[("training data", "not a dataset")])


def test_c51_add_dataset_references_and_update_sample_datasets(target: Target) -> None:
    datastore = upload_iris(target)
    dataset = target.Dataset.Tabular.from_delimited_files((datastore, "iris.csv"))
    dataset = dataset.register(target.ws, "iris")
    model = stored_model(target)
    model.add_dataset_references([("validation", dataset)])
    model.update(sample_output_dataset=dataset)
    fresh = target.Model(target.ws, "m")
    assert [d.name for d in fresh.datasets["validation"]] == ["iris"]
    assert fresh.sample_output_dataset.name == "iris"
