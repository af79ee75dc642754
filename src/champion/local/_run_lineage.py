"""The datasets a step run was given, as the local runner records them on the run.

Why one place: the local runner writes them (`names.INPUT_DATASETS_PROPERTY`, run history's own
`inputDatasets` shape), and both faces read them back for `run.get_details()["inputDatasets"]`:
the local `Run` and run history under `mock_azureml()`. A value that is not that shape reads as
no datasets, never as an error in someone's `get_details()`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from champion.names import INPUT_DATASETS_PROPERTY

__all__ = ["input_dataset_entries"]


def input_dataset_entries(properties: Mapping[str, str | None]) -> list[dict[str, Any]]:
    """Each recorded entry: `{"identifier": {"savedId", ...}, "consumptionType": "RunInput",
    "inputDetails": {"inputName", "mechanism", "pathOnCompute"}}`; [] for any other run."""
    text = properties.get(INPUT_DATASETS_PROPERTY)
    if not text:
        return []
    try:
        entries = json.loads(text)
    except ValueError:
        return []
    if not isinstance(entries, list):
        return []
    return [
        entry
        for entry in entries
        if isinstance(entry, dict)
        and isinstance(entry.get("identifier"), dict)
        and entry["identifier"].get("savedId")
    ]
