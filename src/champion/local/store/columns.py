"""The one place a value read back from the workspace database becomes a Python value.

Why: a damaged row (a flipped bit, a hand edit, another tool writing the file) must be reported
as damage that names its table, its row and its column, not surface as a JSONDecodeError or
ValueError traceback from whichever command happened to read it; nor may a value of the wrong
shape (a list where tags were, text where a version number was) be handed on to fail later,
further from its cause. Every record the store returns is decoded by `decode`, column by column
with one of the kinds below, and `champion verify` decodes every row the same way to list the
damaged ones.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, Protocol

from champion.errors import WorkspaceStoreError


class Row(Protocol):
    """A row as read (`sqlite3.Row`), or as a write is about to store it (a dict)."""

    def __getitem__(self, column: str, /) -> Any: ...


Kind = Callable[[Any], Any]
"""Turns a stored value into its Python value, or raises `Bad` saying what it is not."""

_SHOWN = 60  # characters of a damaged value quoted in the error


class Bad(ValueError):
    """A stored value that is not what its column holds (the reason is the message)."""


def text(value: Any) -> str:
    if type(value) is str:
        return value
    raise Bad("not text")


def text_or_null(value: Any) -> str | None:
    if value is None or type(value) is str:
        return value
    raise Bad("not text")


def integer(value: Any) -> int:
    if type(value) is int:
        return value
    raise Bad("not an integer")


def flag(value: Any) -> bool:
    if type(value) is int and value in (0, 1):
        return bool(value)
    raise Bad("not 0 or 1")


def timestamp(value: Any) -> str:
    """An ISO-8601 time, kept as the text the service returns (the faces parse it)."""
    if type(value) is str:
        try:
            datetime.fromisoformat(value)
            return value
        except ValueError:
            pass
    raise Bad("not an ISO-8601 timestamp")


def timestamp_or_null(value: Any) -> str | None:
    return None if value is None else timestamp(value)


def _json(value: Any) -> Any:
    if type(value) is not str:
        raise Bad("not JSON text")
    try:
        return json.loads(value)
    except (ValueError, RecursionError):  # JSONDecodeError; nesting deeper than ours ever is
        raise Bad("not JSON") from None


def json_value(value: Any) -> Any:
    return _json(value)


def json_object(value: Any) -> dict[str, Any]:
    decoded = _json(value)
    if type(decoded) is dict:
        return decoded
    raise Bad("not a JSON object")


def json_object_or_null(value: Any) -> dict[str, Any] | None:
    return None if value is None or value == "" else json_object(value)


def json_texts(value: Any) -> list[str]:
    decoded = _json(value)
    if type(decoded) is list and all(type(item) is str for item in decoded):
        return decoded
    raise Bad("not a JSON list of strings")


def json_pairs(value: Any) -> tuple[tuple[str, str], ...]:
    decoded = _json(value)
    if type(decoded) is list and all(
        type(pair) is list and len(pair) == 2 and all(type(s) is str for s in pair)
        for pair in decoded
    ):
        return tuple((pair[0], pair[1]) for pair in decoded)
    raise Bad("not a JSON list of [scenario, dataset id] pairs")


def decode(
    table: str,
    row: Row,
    columns: Mapping[str, Kind],
    key: Callable[[Row], str],
) -> dict[str, Any]:
    """`{column: value}` for `columns` of `row`, each decoded by its kind; the first value
    that is not what its column holds raises the store's damage error, naming the row by
    `key(row)`. (A `sqlite3.Row` is read by position, its columns looked up once per query
    shape: by name, each lookup scans the row's column names.)"""
    values: Any
    if type(row) is sqlite3.Row:
        names = tuple(row.keys())
        plan = _plans.get((id(columns), names))
        if plan is None:
            plan = _plans[(id(columns), names)] = _plan(columns, names)
        values = tuple(row)
    else:
        plan, values = [(column, column, kind) for column, kind in columns.items()], row
    decoded: dict[str, Any] = {}
    try:
        for column, at, kind in plan:
            decoded[column] = kind(values[at])
    except Bad as exc:
        raise damaged_row(table, key(row), column, values[at], str(exc)) from None
    return decoded


_plans: dict[tuple[int, tuple[str, ...]], list[tuple[str, Any, Kind]]] = {}
_kept: list[Mapping[str, Kind]] = []  # the column maps planned for, so no id is reused


def _plan(columns: Mapping[str, Kind], names: tuple[str, ...]) -> list[tuple[str, Any, Kind]]:
    _kept.append(columns)
    return [(column, names.index(column), kind) for column, kind in columns.items()]


class DamagedRow(WorkspaceStoreError):
    """A stored value that is not what its column holds; `detail` names it (for verify)."""

    def __init__(self, detail: str, *, field: str, value: str) -> None:
        super().__init__(
            f"the workspace database is damaged: {detail}. Nothing was changed; run `champion "
            "verify`, and restore the workspace from a copy.",
            field=field,
            value=value,
        )
        self.detail = detail


def damaged_row(table: str, row: str, column: str, raw: Any, reason: str) -> DamagedRow:
    """One line naming the damaged value, its row and column, and what to do."""
    quoted = repr(raw)
    if len(quoted) > _SHOWN:
        quoted = quoted[: _SHOWN - 3] + "..."
    return DamagedRow(
        f"table {table}, row {row}, column {column} holds {quoted}, {reason}",
        field=f"{table}.{column}",
        value=row,
    )


def shown(value: Any) -> str:
    """A stored key value as a row's name: text as it is, anything else (damage) as a repr."""
    return value if type(value) is str else repr(value)
