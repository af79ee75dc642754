"""The OData filters of run and experiment queries, evaluated over store records: exactly the
filters the SDK's run-history client generates, and nothing more."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from champion.local.store import RunRecord

_TOKEN = re.compile(r'\s*(?:(?P<open>\()|(?P<close>\))|"(?P<quoted>[^"]*)"|(?P<bare>[^\s()"]+))')

#: How a filter reads one field of a record: (field present?, value).
Accessor = Callable[[Any], tuple[bool, Any]]
_Tokens = list[tuple[str, str | None]]
_Predicate = Callable[[Any], bool]

_RUN_COLUMNS: dict[str, Callable[[RunRecord], str | None]] = {
    "RunId": lambda r: r.run_id,
    "RootRunId": lambda r: r.root_id,
    "ParentRunId": lambda r: r.parent_id,
    "RunType": lambda r: r.run_type,
    "Status": lambda r: r.status,
}


def run_filter(expression: str | None) -> Callable[[RunRecord], bool]:
    """The OData filter of a run query (`_odata/runs.py`) as a predicate over run records."""
    return odata_filter(expression, _run_field)


def experiment_filter(expression: str | None) -> Callable[[str], bool]:
    """The OData filter of an experiment query (`_odata/experiments.py`) over experiment
    names; the local workspace keeps no experiment tags, so a tag clause matches nothing."""
    return odata_filter(expression, _experiment_field)


def odata_filter(expression: str | None, field: Callable[[str], Accessor]) -> _Predicate:
    """Evaluate the OData filters the SDK's run-history client generates, and nothing more.

    Understood: `and`/`or`/parentheses over `<field> eq|ne <value>`, where the value is quoted,
    bare or `null`. A field that is missing (a tag the record lacks) makes both `eq` and `ne`
    false, which is why the SDK writes "key present" as `(Tags/k ne null or Tags/k eq null)`.
    Anything else raises ValueError at parse time: a filter is never guessed at."""
    if not expression:
        return lambda _record: True
    tokens: _Tokens = []
    pos = 0
    while expression[pos:].strip():
        match = _TOKEN.match(expression, pos)
        if match is None:
            raise ValueError(f"cannot parse filter {expression!r}")
        pos = match.end()
        kind = str(match.lastgroup)
        text = match.group(kind)
        tokens.append((kind, None if (kind, text) == ("bare", "null") else text))
    predicate, rest_tokens = _parse_or(tokens, field)
    if rest_tokens:
        raise ValueError(f"cannot parse filter {expression!r}")
    return predicate


def _parse_or(tokens: _Tokens, field: Callable[[str], Accessor]) -> tuple[_Predicate, _Tokens]:
    left, tokens = _parse_and(tokens, field)
    while tokens and tokens[0] == ("bare", "or"):
        right, tokens = _parse_and(tokens[1:], field)
        left = (lambda a, b: lambda r: a(r) or b(r))(left, right)
    return left, tokens


def _parse_and(tokens: _Tokens, field: Callable[[str], Accessor]) -> tuple[_Predicate, _Tokens]:
    left, tokens = _parse_atom(tokens, field)
    while tokens and tokens[0] == ("bare", "and"):
        right, tokens = _parse_atom(tokens[1:], field)
        left = (lambda a, b: lambda r: a(r) and b(r))(left, right)
    return left, tokens


def _parse_atom(tokens: _Tokens, field: Callable[[str], Accessor]) -> tuple[_Predicate, _Tokens]:
    if tokens and tokens[0][0] == "open":
        inner, tokens = _parse_or(tokens[1:], field)
        if not tokens or tokens[0][0] != "close":
            raise ValueError("unbalanced parentheses in filter")
        return inner, tokens[1:]
    if (
        len(tokens) < 3
        or tokens[0][0] != "bare"
        or tokens[1] not in (("bare", "eq"), ("bare", "ne"))
    ):
        raise ValueError(f"unsupported filter clause near {tokens[:3]!r}")
    access, negate, expected = field(str(tokens[0][1])), tokens[1][1] == "ne", tokens[2][1]

    def compare(record: Any) -> bool:
        present, actual = access(record)
        if not present:
            return False
        return bool(actual != expected) if negate else bool(actual == expected)

    return compare, tokens[3:]


def _run_field(name: str) -> Accessor:
    kind, _, key = name.partition("/")
    if kind in ("Tags", "Properties") and key:
        if kind == "Tags":
            return lambda r: (key in r.tags, r.tags.get(key))
        return lambda r: (key in r.properties, r.properties.get(key))
    column = _RUN_COLUMNS.get(name)
    if column is None:
        raise ValueError(f"unsupported run filter field {name!r}")
    return lambda r: (True, column(r))


def _experiment_field(name: str) -> Accessor:
    if name == "name":
        return lambda experiment: (True, experiment)
    if name.startswith("Tags/"):
        return lambda experiment: (False, None)
    raise ValueError(f"unsupported experiment filter field {name!r}")
