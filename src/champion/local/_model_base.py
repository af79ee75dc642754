"""What a `Model` holds, declared once for the parts its class is made of (`model.py`,
`_model_edits.py`, `_model_files.py`); `Model.__init__` sets each of them, as the SDK's does."""

from __future__ import annotations

import builtins
from datetime import datetime
from typing import TYPE_CHECKING, Any

from champion.local import _sdk

if TYPE_CHECKING:
    from champion.local.workspace import Workspace


class ModelBase:
    """The fields of a model version, as the SDK's `Model` names them."""

    created_by: Any
    created_time: datetime | None
    description: str | None
    id: str | None
    mime_type: str | None
    name: str | None
    model_framework: str | None
    model_framework_version: str | None
    tags: dict[str, Any] | None
    properties: dict[str, Any] | None
    unpack: bool | None
    url: str | None
    version: int | None
    workspace: Workspace | None
    experiment_name: str | None
    run_id: str | None
    run: Any
    datasets: dict[str, Any]
    sample_input_dataset: Any
    sample_output_dataset: Any
    resource_configuration: Any
    parent_id: str | None
    derived_model_ids: builtins.list[str] | None
    _asset_id: str | None

    def _workspace(self) -> Workspace:
        if self.workspace is None:
            raise _sdk.webservice_error("Error, this Model has no workspace.")
        return self.workspace
