"""The traps of `Model(...)` lookups and `Model.list(...)`: a dict or str where the SDK expects a
list of `'key'` / `['key', 'value']` items (values ignored, or a str iterated per character); a
`,` in a key or value, or `=` in a key (the SDK joins the filters unescaped); filters ignored
because `id=` or `version=` is given."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from champion.local._traps.warning import _call, _short, _warn

# --------------------------------------------------------------------------- Model lookups

_SINGULAR = {"tags": "tag", "properties": "property"}


def check_model_lookup(
    *,
    name: Any = None,
    id: Any = None,
    tags: Any = None,
    properties: Any = None,
    version: Any = None,
    run_id: Any = None,
    model_framework: Any = None,
) -> None:
    """`Model(workspace, name, id, tags, properties, version, run_id, model_framework)`, as
    `Model._get` reads it: id wins over everything, then version over the filters, then a
    query whose tag/property items are joined into one unescaped string."""
    if not id and not name:
        return  # the SDK raises
    given = {
        "tags": tags,
        "properties": properties,
        "run_id": run_id,
        "model_framework": model_framework,
    }
    if id or version:
        ignored = {k: v for k, v in given.items() if v}
        if id:
            if name and name != str(id).rpartition(":")[0]:
                ignored = {"name": name, **ignored}
            if version and str(version) != str(id).rpartition(":")[2]:
                ignored["version"] = version
        if ignored:
            _warn_ignored_filters(name, id, version, ignored)
        return
    if not tags and not properties:
        return  # the common lookup, Model(ws, name): nothing to check
    call = _call("Model", "ws", *([repr(name)] if name else []), tags=tags, properties=properties)
    for field, value in (("tags", tags), ("properties", properties)):
        _check_filter_items(call, field, value, name)


def check_model_list(*, name: Any = None, tags: Any = None, properties: Any = None) -> None:
    """`Model.list(...)`: tags that are not a list raise in the SDK (nothing to warn about);
    properties are not checked by the SDK, so a dict or str there is iterated like the lookup."""
    if not tags and not properties:
        return
    call = _call("Model.list", "ws", name=name, tags=tags, properties=properties)
    if type(tags) is list:
        _check_filter_items(call, "tags", tags, name)
    _check_filter_items(call, "properties", properties, name)


def _warn_ignored_filters(name: Any, id: Any, version: Any, ignored: Mapping[str, Any]) -> None:
    model_id = id or f"{name}:{version}"
    call = _call("Model", "ws", *([repr(name)] if name else []), id=id, version=version)
    extra = ", ".join(f"{k}={_short(v)}" for k, v in ignored.items() if k != "name")
    shown = f"{call[:-1]}, {extra})" if extra else call
    what = ", ".join(ignored)
    by = "id=" if id else "version="
    search = _call(
        "Model.list",
        "ws",
        repr(str(model_id).rpartition(":")[0]),
        tags=ignored.get("tags"),
        properties=ignored.get("properties"),
        run_id=ignored.get("run_id"),
    )
    _warn(
        "model-lookup-ignored",
        f"{shown}: with {by} Azure ML fetches {model_id} directly and ignores {what}; it does "
        f"not check them, so the result need not match. To check them, compare model.tags / "
        f"model.properties of the result; to search by them, drop {by} ({search} lists every "
        "match, newest first).",
    )


def _check_filter_items(call: str, field: str, value: Any, name: Any) -> None:
    """The SDK builds the query with `for item in value: item if str else item[0]=item[1]`,
    joined by ',' with no escaping."""
    if not value:
        return
    if isinstance(value, Mapping):
        meant = [[k, v] if v is not None else k for k, v in value.items()]
        if all(v is None for v in value.values()):
            return  # keys only: the dict does what a key list does
        keys = ", ".join(repr(k) for k in value)
        _warn(
            f"model-filter-{field}",
            f"{call}: Azure ML ignores the values of a {field} dict (the SDK iterates its keys) "
            f"and answers with the versions that have the {_SINGULAR[field]} key(s) {keys}, "
            "whatever their values (a lookup takes the latest of them). To match the values, "
            f"pass {field}={_short(meant)}.",
        )
        return
    if isinstance(value, str):
        _warn(
            f"model-filter-{field}",
            f"{call}: the SDK iterates a {field} string character by character, so Azure ML "
            f"looks for {field} named {', '.join(repr(c) for c in dict.fromkeys(value))}. To "
            f"ask for the key {value!r}, pass {field}={[value]!r}.",
        )
        return
    if not isinstance(value, Iterable):
        return
    for item in value:
        pair = type(item) is list
        if pair and len(item) < 2:
            return  # the SDK's item[1] raises IndexError
        key, text = (item[0], item[1]) if pair else (item, None)
        if not isinstance(key, str) or (pair and not isinstance(text, str)):
            return  # the SDK's string concatenation raises TypeError
        if "," in key or "=" in key or (text is not None and "," in text):
            joined = f"{key}={text}" if pair else key
            search = _call("Model.list", "ws", *([repr(name)] if name else []), **{field: [key]})
            _warn(
                f"model-filter-{field}",
                f"{call}: the SDK joins {field} filters into one string without escaping, so "
                f"Azure ML reads {joined!r} as {_reading(joined)}, not as the "
                f"{'value' if pair else 'key'} you gave. No filter can express it: search by "
                f"key ({search}) and compare model.{field}[{key!r}] yourself.",
            )
            return


def _reading(joined: str) -> str:
    terms = []
    for term in joined.split(","):
        key, sep, value = term.partition("=")
        terms.append(f"{key!r} = {value!r}" if sep else f"{key!r} present")
    return " and ".join(terms)
