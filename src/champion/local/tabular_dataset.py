"""`TabularDataset` of the local workspace: delimited files read as one table, with pandas (the
SDK uses azureml-dataprep): same columns and values for delimited files; `to_pandas_dataframe`
infers column types as pandas does."""

from __future__ import annotations

from typing import Any

from champion.local.abstract_dataset import AbstractDataset
from champion.local.store import TABULAR


class TabularDataset(AbstractDataset):
    """Delimited files read as one table."""

    _kind = TABULAR

    def to_pandas_dataframe(
        self, on_error: str = "null", out_of_range_datetime: str = "null"
    ) -> Any:
        """Every file's rows, in file-name order, as one pandas DataFrame."""
        import pandas as pd

        read = dict(self._definition.get("read", {}))
        frames = []
        for name, path in self._files():
            header = read.get("header", True)
            frame = pd.read_csv(
                path,
                sep=read.get("separator", ","),
                header=0 if header else None,
                encoding=_encoding(read.get("encoding", "utf8")),
                dtype=None if read.get("infer_column_types", True) else str,
                keep_default_na=not read.get("empty_as_string", False),
            )
            if not header:
                frame.columns = [f"Column{i + 1}" for i in range(len(frame.columns))]
            if read.get("include_path"):
                frame.insert(0, "Path", "/" + name)
            frames.append(frame)
        if not frames:
            return pd.DataFrame()
        return pd.concat(frames, ignore_index=True)


def _encoding(name: str) -> str:
    return {"utf8": "utf-8", "utf8bom": "utf-8-sig", "iso88591": "iso-8859-1"}.get(name, name)
