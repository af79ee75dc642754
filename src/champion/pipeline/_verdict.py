"""A decision record read back from a run, said in one line: what the v1 and v2 drivers print
after a pipeline, as the register step prints its own."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["verdict"]


def verdict(record: Mapping[str, Any]) -> str:
    """One line from a decision record read back from a run, like the register step's own."""
    version = record.get("registered_version")
    registered = f" as {record.get('model_name')}:{version}" if version else ""
    champion = record.get("champion") or "-"
    return (
        f"{record.get('outcome')}{registered}: {record.get('metric')} "
        f"{record.get('challenger')} vs champion {champion}; {record.get('reason')} "
        f"(build {record.get('build_number')})"
    )
