"""Datasets made of a step's output files, as Azure ML's job runtime makes them.

Why the SDK's own factories: a step output consumed as a dataset reaches the next step as a
`TabularDataset` or `FileDataset` in `run.input_datasets[name]`, which that step reads with
dataprep (`to_pandas_dataframe()`, `download()`). So the dataset is built by the SDK, under
`mock_azureml()` on the same workspace, from the output's datastore path, and saved (or
registered) by the local dataset service: its dataflow is exactly what the SDK would read.

The consumer's parsing arrives as the SDK's dataflow blocks (`parse_parquet_files()`,
`parse_delimited_files(...)`, `read_delimited_files()`, `keep_columns`, `drop_columns`); each
known block maps onto the SDK factory argument or dataset method that does the same, and any
other block is refused with its name: the local runner does not guess what it means.
"""

from __future__ import annotations

import json
import os
from typing import Any

from champion.errors import InputError
from champion.local.mock.session import mock_azureml

__all__ = ["OutputDatasets"]

_FILTER = "Microsoft.DPrep.ExpressionFilterBlock"
_PARQUET = "Microsoft.DPrep.ReadParquetFileBlock"
_DELIMITED = "Microsoft.DPrep.ParseDelimitedBlock"
_DROP = "Microsoft.DPrep.DropColumnsBlock"
_KEEP = "Microsoft.DPrep.KeepColumnsBlock"


class OutputDatasets:
    """Saves and registers datasets of output files; holds a mock session until `close`."""

    def __init__(self, workspace: str | os.PathLike[str]) -> None:
        self._mock = mock_azureml(workspace)
        self._mock.start()

    def close(self) -> None:
        self._mock.stop()

    def from_files(self, datastore: str, path: str, kind: str, transformations: str | None) -> str:
        """The saved id of a `file` or `tabular` dataset over `path` (a file or a folder) of
        `datastore`, tabular by the SDK's `transformations`."""
        from azureml.core import Dataset, Datastore

        ws = self._mock.workspace
        store = Datastore.get(ws, datastore)
        folder = self._mock.store.datastore_file(datastore, path).is_dir()
        if kind == "file":
            dataset = Dataset.File.from_files((store, path), validate=False)
        else:
            dataset = _tabular(store, path, folder, _blocks(transformations))
        return str(dataset._ensure_saved(ws))

    def register(self, saved_id: str, name: str, *, new_version: bool) -> None:
        """Register the saved dataset as the next version of `name`."""
        from azureml.data._dataset import _Dataset

        ws = self._mock.workspace
        _Dataset._get_by_id(ws, saved_id).register(ws, name, create_new_version=new_version)


def _blocks(transformations: str | None) -> list[dict[str, Any]]:
    if not transformations:
        return []
    try:
        blocks = json.loads(transformations).get("blocks") or []
    except (ValueError, AttributeError):
        raise InputError(
            "a step output's dataset transformations are not the SDK's dataflow JSON",
            field="transformations",
            value=transformations[:80],
        ) from None
    return [b for b in blocks if isinstance(b, dict) and b.get("isEnabled", True)]


def _tabular(store: Any, path: str, folder: bool, blocks: list[dict[str, Any]]) -> Any:
    """A TabularDataset by the SDK factory the blocks describe, then its column steps."""
    from azureml.core import Dataset
    from azureml.data.dataset_type_definitions import PromoteHeadersBehavior

    extension = ""
    read: dict[str, Any] | None = None
    parquet = False
    columns: list[tuple[str, list[str]]] = []
    for block in blocks:
        kind, arguments = block.get("type"), block.get("arguments") or {}
        if kind == _FILTER:
            extension = _extension(arguments)
        elif kind == _PARQUET:
            parquet = True
        elif kind == _DELIMITED:
            read = arguments
        elif kind in (_DROP, _KEEP):
            selected = ((arguments.get("columns") or {}).get("details") or {}).get(
                "selectedColumns"
            ) or []
            columns.append((kind, [str(c) for c in selected]))
        else:
            raise InputError(
                f"the dataset transformation {kind} does not run locally (the local runner "
                "reads parquet or delimited files, and keeps or drops columns)",
                field="transformations",
                value=kind,
            )
    pattern = f"{path.rstrip('/')}/**/*{extension}" if folder else path
    include_path = not any(kind == _DROP and "Path" in names for kind, names in columns)
    if parquet:
        dataset = Dataset.Tabular.from_parquet_files(
            (store, pattern), validate=False, include_path=include_path
        )
    else:
        options = read or {}
        dataset = Dataset.Tabular.from_delimited_files(
            (store, pattern),
            validate=False,
            include_path=include_path,
            separator=str(options.get("separator", ",")),
            header=PromoteHeadersBehavior(int(options.get("columnHeadersMode", 3))),
        )
    for kind, names in columns:
        names = [n for n in names if n != "Path"]
        if names:
            dataset = dataset.keep_columns(names) if kind == _KEEP else dataset.drop_columns(names)
    return dataset


def _extension(arguments: dict[str, Any]) -> str:
    """The extension of the SDK's `String_EndsWith(GetResourceName(Path), ".ext")` filter."""
    text = json.dumps(arguments)
    if "String_EndsWith" not in text:
        raise InputError(
            "the dataset transformation filter does not run locally (the local runner "
            "filters files by their extension only)",
            field="transformations",
            value=text[:80],
        )
    values = [
        part["r"][1]
        for part in _walk(arguments)
        if isinstance(part, dict)
        and isinstance(part.get("r"), list)
        and part["r"][:1] == ["Value"]
        and isinstance(part["r"][1], str)
        and part["r"][1].startswith(".")
    ]
    return values[-1] if values else ""


def _walk(node: Any) -> list[Any]:
    found = [node]
    if isinstance(node, dict):
        for value in node.values():
            found += _walk(value)
    elif isinstance(node, list):
        for value in node:
            found += _walk(value)
    return found
