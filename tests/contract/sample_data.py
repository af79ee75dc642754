"""The data the data-plane checks start from, put into the face's default datastore through the
face's own calls."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .conftest import Target

IRIS = Path(__file__).resolve().parents[2] / "sample_data" / "iris.csv"


def upload_iris(target: Target, name: str = "iris.csv") -> Any:
    """iris.csv in the default datastore, uploaded through the face's own datastore."""
    local = target.workdir / name
    local.write_bytes(IRIS.read_bytes())
    datastore = target.ws.get_default_datastore()
    datastore.upload_files([str(local)], relative_root=str(target.workdir), overwrite=True,
                           show_progress=False)  # fmt: skip
    return datastore


def files_tree(target: Target) -> Any:
    """imgs/2.txt, imgs/3.csv and imgs/a/1.txt in the default datastore."""
    folder = target.workdir / "imgs"
    (folder / "a").mkdir(parents=True)
    (folder / "a" / "1.txt").write_text("one")
    (folder / "2.txt").write_text("two")
    (folder / "3.csv").write_text("three")
    datastore = target.ws.get_default_datastore()
    datastore.upload(str(folder), target_path="imgs", show_progress=False)
    return datastore
