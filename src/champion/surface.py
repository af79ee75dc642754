"""The few members of Run, Model and Workspace that the library touches, as Protocols.

Why: `gate`, `lookup` and `record` must run unchanged against the real `azureml.core` classes,
the local workspace, and the real SDK under `mock_azureml()`. Naming the surface here keeps it
small and lets mypy check the library without importing azureml (which has no type hints).
"""

from __future__ import annotations

import io
from collections.abc import Iterator, Mapping
from typing import Any, Protocol


class WorkspaceLike(Protocol):
    """A workspace: only passed through to the Model class that matches it."""

    @property
    def name(self) -> str: ...


class ExperimentLike(Protocol):
    @property
    def name(self) -> str: ...

    @property
    def workspace(self) -> Any: ...


class ModelLike(Protocol):
    """A registered model version, as `Model(ws, name)` returns it."""

    name: Any
    version: Any
    id: Any
    tags: Any
    properties: Any
    run_id: Any


class RunLike(Protocol):
    """A run: the register step's own run and its parent pipeline run."""

    @property
    def id(self) -> str: ...

    @property
    def name(self) -> str | None: ...

    @property
    def parent(self) -> RunLike | None: ...

    @property
    def experiment(self) -> ExperimentLike: ...

    @property
    def tags(self) -> Mapping[str, Any]: ...

    def get_tags(self) -> Mapping[str, Any]: ...

    def set_tags(self, tags: Mapping[str, Any]) -> None: ...

    def remove_tags(self, tags: list[str]) -> Any: ...

    def get_children(
        self,
        recursive: bool = ...,
        tags: Any = ...,
        properties: Any = ...,
        type: str | None = ...,
        status: str | None = ...,
    ) -> Iterator[RunLike]: ...

    def get_file_names(self) -> list[str]: ...

    def upload_file(
        self, name: str, path_or_stream: str | io.IOBase, datastore_name: str | None = ...
    ) -> Any: ...

    def download_file(self, name: str, output_file_path: str | None = ...) -> Any: ...

    def register_model(
        self,
        model_name: str,
        model_path: str | None = ...,
        tags: Any = ...,
        properties: Any = ...,
        model_framework: str | None = ...,
        model_framework_version: str | None = ...,
        description: str | None = ...,
    ) -> Any: ...
