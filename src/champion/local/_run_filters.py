"""How runs are filtered: the SDK's client-side child filter (`get_children`) and the service-side
query filters (`Experiment.get_runs`, `Run.list`)."""

from __future__ import annotations

import builtins
from collections.abc import Mapping
from typing import Any

from champion.local.store import RunRecord


def matches(
    record: RunRecord, *, tags: Any, properties: Any, type: str | None, status: str | None
) -> bool:
    """The SDK's client-side child filter: a str means "key present", a dict means "these
    items are a subset", any other type (a list, say) matches nothing."""
    return (
        _kv_match(record.tags, tags)
        and _kv_match(record.properties, properties)
        and (type is None or record.run_type == type)
        and (status is None or record.status == status)
    )


_QUERY_FIELDS = {
    "tags": "run tags",
    "properties": "run properties",
    "type": "run type",
    "status": "run status",
}


def query_filter(field: str, value: Any) -> Any:
    """A filter of `Experiment.get_runs` / `Run.list`, which the SDK turns into a service query
    (`_odata/runs.py`) as it is called: a str is kept; a tags/properties dict is compared as the
    service compares it, each value as its string (`{'n': 1}` matches '1'); anything else raises
    the SDK's ValueError. Unlike `get_children`'s client-side filter, nothing matches silently."""
    if value is None or isinstance(value, str):
        return value
    if field in ("tags", "properties") and isinstance(value, dict):
        return {k: None if v is None else str(v) for k, v in value.items()}
    raise ValueError(f"Unknown filter type for {_QUERY_FIELDS[field]}: {builtins.type(value)}")


def _kv_match(values: Mapping[str, Any], wanted: Any) -> bool:
    if wanted is None:
        return True
    if isinstance(wanted, str):
        return wanted in values
    if isinstance(wanted, dict):
        return all(k in values and values[k] == v for k, v in wanted.items())
    return False
