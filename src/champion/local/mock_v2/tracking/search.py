"""MLflow's search filters, read as Azure ML's MLflow server reads them: clauses joined by `AND`
only, each `<entity>.<key> <comparator> <value>`. What Azure does not support is refused with
an error saying so, so that a search that works here works there (Microsoft Learn,
how-to-track-experiments-mlflow and how-to-manage-models-mlflow support matrices; the refusal
of MLflow 3's prompt filter is Azure/azure-sdk-for-python#42155):

- no `OR`; no `!=` on tags (runs), no search by tag at all for registered models and versions;
  no `LIKE`/`ILIKE`;
- runs: metrics with `= != < <= > >=`, params and attributes (`status`, `run_name`,
  `run_id`, `start_time`, `end_time`) with `=` and `!=` (times with any comparator), tags with
  `=`; ordering only by `start_time`/`end_time`/`run_name` attributes (not by a metric, a param
  or a tag).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

_ENTITIES = {
    "metric": "metric", "metrics": "metric",
    "param": "param", "params": "param", "parameter": "param", "parameters": "param",
    "tag": "tag", "tags": "tag",
    "attribute": "attribute", "attributes": "attribute", "attr": "attribute", "run": "attribute",
}  # fmt: skip
_CLAUSE = re.compile(
    r"\s*(?P<ident>(?:[\w]+\.)?(?:`[^`]+`|\"[^\"]+\"|'[^']+'|[\w.\-]+))\s*"
    r"(?P<op>!=|>=|<=|=|>|<|(?i:not\s+like)|(?i:like)|(?i:ilike)|(?i:in))\s*"
    r"(?P<value>'[^']*'|\"[^\"]*\"|[-+0-9.eE]+|\(.*\))\s*"
)
_AND = re.compile(r"\s+and\s+", re.IGNORECASE)
_OR = re.compile(r"\s+or\s+", re.IGNORECASE)

AZURE_NO_OR = "Currently unsupported filter string format (we currently do not support OR): {text}"


class SearchError(ValueError):
    """A filter or ordering Azure ML's MLflow server refuses (MLflow's INVALID_PARAMETER_VALUE)."""


@dataclass(frozen=True)
class Clause:
    entity: str  # metric, param, tag, attribute
    key: str
    op: str
    value: Any


def parse_filter(text: str | None, *, default_entity: str = "attribute") -> list[Clause]:
    """The clauses of `text` (an empty filter has none)."""
    if not text or not text.strip():
        return []
    stripped = _without_quoted(text)
    if _OR.search(stripped):
        raise SearchError(AZURE_NO_OR.format(text=text))
    clauses = []
    for part in _split_and(text):
        match = _CLAUSE.fullmatch(part)
        if match is None:
            raise SearchError(f"Invalid filter clause {part.strip()!r} in {text!r}")
        entity, key = _identifier(match["ident"], default_entity)
        op = " ".join(match["op"].upper().split())
        if op in ("LIKE", "ILIKE", "NOT LIKE", "IN"):
            raise SearchError(
                f"The comparator {op} is not supported by Azure Machine Learning's MLflow "
                f"server (in {text!r}); compare with '='"
            )
        clauses.append(Clause(entity, key, op, _value(match["value"])))
    return clauses


def check_runs_filter(clauses: Sequence[Clause]) -> None:
    for clause in clauses:
        if clause.entity == "tag" and clause.op != "=":
            raise SearchError(
                f"The comparator {clause.op!r} is not supported for tags by Azure Machine "
                f"Learning's MLflow server (tags.{clause.key}); only '=' is"
            )
        if clause.entity == "param" and clause.op not in ("=", "!="):
            raise SearchError(
                f"Parameters are compared with '=' or '!=' only (params.{clause.key})"
            )


def check_registry_filter(clauses: Sequence[Clause], keys: Sequence[str]) -> None:
    """Registered models and versions: `keys` with `=`; Azure supports no search by tag."""
    for clause in clauses:
        if clause.entity == "tag":
            raise SearchError(
                "Searching registered models or versions by tag is not supported by Azure "
                f"Machine Learning's MLflow server (tags.{clause.key} {clause.op} ...)"
            )
        if clause.key not in keys or clause.op != "=":
            raise SearchError(
                f"Unsupported filter {clause.key} {clause.op} ...: the local workspace searches "
                f"by {', '.join(keys)} with '=' only"
            )


def matches(clause: Clause, read: Callable[[str, str], Any]) -> bool:
    """Whether the value `read(entity, key)` satisfies `clause` (None: the key is absent)."""
    have = read(clause.entity, clause.key)
    if have is None:
        return False
    want = clause.value
    if clause.entity == "metric" or (clause.entity == "attribute" and clause.key.endswith("_time")):
        try:
            have, want = float(have), float(want)
        except (TypeError, ValueError):
            return False
    else:
        have, want = str(have), str(want)
    result: bool = {
        "=": have == want,
        "!=": have != want,
        ">": have > want,
        ">=": have >= want,
        "<": have < want,
        "<=": have <= want,
    }[clause.op]
    return result


def parse_order(order_by: Sequence[str] | None) -> list[tuple[str, bool]]:
    """`(attribute, descending)` pairs; ordering by a metric, param or tag is refused."""
    out = []
    for item in order_by or []:
        words = item.split()
        ident, direction = words[0], (words[1].upper() if len(words) > 1 else "ASC")
        entity, key = _identifier(ident, "attribute")
        if entity != "attribute":
            raise SearchError(
                f"Ordering by {entity}s is not supported by Azure Machine Learning's MLflow "
                f"server (order_by {item!r}); order by start_time, end_time or run_name"
            )
        out.append((key, direction == "DESC"))
    return out


def _identifier(ident: str, default_entity: str) -> tuple[str, str]:
    head, dot, rest = ident.partition(".")
    if dot and head.lower() in _ENTITIES:
        return _ENTITIES[head.lower()], _unquote(rest)
    return default_entity, _unquote(ident)


def _unquote(text: str) -> str:
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "`'\"":
        return text[1:-1]
    return text


def _value(text: str) -> Any:
    if text[:1] in "'\"":
        return text[1:-1]
    try:
        return float(text)
    except ValueError:
        return text


def _without_quoted(text: str) -> str:
    return re.sub(r"'[^']*'|\"[^\"]*\"|`[^`]*`", "''", text)


def _split_and(text: str) -> list[str]:
    """Split at ` AND ` outside quotes."""
    parts, start = [], 0
    masked = _without_quoted_keep_length(text)
    for match in _AND.finditer(masked):
        parts.append(text[start : match.start()])
        start = match.end()
    parts.append(text[start:])
    return parts


def _without_quoted_keep_length(text: str) -> str:
    return re.sub(r"'[^']*'|\"[^\"]*\"|`[^`]*`", lambda m: "x" * len(m.group()), text)
