"""`Dataset` of the local workspace: `Dataset.Tabular`, `Dataset.File` and the lookups.

The classes it hands out are `TabularDataset` and `FileDataset` (`tabular_dataset.py`,
`file_dataset.py`), both `AbstractDataset`s (`abstract_dataset.py`); the factories are in
`dataset_factory.py`.
"""

from __future__ import annotations

from champion.local.abstract_dataset import AbstractDataset, DatasetConsumptionConfig
from champion.local.dataset_factory import FileDatasetFactory, TabularDatasetFactory
from champion.local.file_dataset import FileDataset
from champion.local.tabular_dataset import TabularDataset

__all__ = [
    "AbstractDataset",
    "Dataset",
    "DatasetConsumptionConfig",
    "FileDataset",
    "FileDatasetFactory",
    "TabularDataset",
    "TabularDatasetFactory",
]

AbstractDataset.Tabular = TabularDatasetFactory
AbstractDataset.File = FileDatasetFactory


class Dataset:
    """`azureml.core.Dataset` as code uses it today: the factories and the lookups
    (`Dataset.Tabular`, `Dataset.File`, `get_by_name`, `get_by_id`, `get_all`). The SDK's
    deprecated members of this class (its constructor, `get`, `from_delimited_files`, ...) are
    not here."""

    Tabular = TabularDatasetFactory
    File = FileDatasetFactory
    get_by_name = AbstractDataset.get_by_name
    get_by_id = AbstractDataset.get_by_id
    get_all = AbstractDataset.get_all
