"""The decision record's reference (docs/reference/decision-record.md) names every field a record
holds, and nothing it does not: records made through the gate, a first model, a promotion with
test data on both sides, one whose champion says nothing of its test data, and a dry run."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from champion import Policy, RegisterRequest, register_file_if_better
from champion.testing import create_workspace

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "docs" / "reference" / "decision-record.md"


def fields(record: dict[str, Any], prefix: str = "") -> set[str]:
    """Every key, nested ones dotted, list entries as `[]` (`metrics[].passed`); `rescored`'s
    inside is keyed by metric name, so the page describes it in words."""
    found = set()
    for key, value in record.items():
        name = f"{prefix}{key}"
        found.add(name)
        if isinstance(value, dict) and name != "rescored":
            found |= fields(value, f"{name}.")
        elif isinstance(value, list) and value and isinstance(value[0], dict):
            found |= fields(value[0], f"{name}[].")
    return found


def documented() -> set[str]:
    table = PAGE.read_text().split("| field | value |", 1)[1].split("\n\n", 1)[0]
    return {re.match(r"\| `([^`]+)` \|", row).group(1) for row in table.splitlines()[2:]}


def test_the_reference_names_every_field_of_a_record(tmp_path: Path) -> None:
    ws = create_workspace(tmp_path / "ws")
    data = tmp_path / "test.csv"
    data.write_text("x,y\n1,2\n")

    def register(value: str, **kwargs: Any) -> dict[str, Any]:
        model = tmp_path / f"model-{value}.pkl"
        model.write_bytes(value.encode())
        dry = kwargs.pop("dry_run", False)
        request = RegisterRequest("iris", model, Policy(), dry_run=dry)
        return register_file_if_better(ws, request, value, **kwargs).to_dict()

    records = [
        register("0.9"),  # first, no test data: test_data is null
        register("0.95", test_data=str(data)),  # the champion says nothing of its data: a note
        register("0.97", test_data=str(data)),  # both sides measured on the same data
        register("0.99", test_data=str(data), dry_run=True),
    ]
    assert [r["outcome"] for r in records] == ["first", "promoted", "promoted", "would_promote"]
    held = set().union(*(fields(record) for record in records))
    assert documented() == held
