"""The rows of a real-time scoring request (`{"data": [...]}`), as a frame a model takes.

Apart from `champion.scoring` (rows read from files, predictions written to files) because its
input is a stranger's HTTP body, not the user's file: every way it can be malformed must turn
into one InputError the HTTP layer answers with 400, never a 500. `champion.scoring` re-exports
`frame_from_request`, the name the default entry script imports.
"""

from __future__ import annotations

import math
import sys
from typing import Any

from champion.errors import InputError

__all__ = ["frame_from_request"]


def frame_from_request(model: Any, body: str) -> Any:
    """The rows of a scoring request, `{"data": [...]}` as Azure ML's samples send it, as a
    frame the model takes: each row a list of the feature values in the model's order, or an
    object keyed by feature name. Anything else is an InputError whose message says what was
    expected (the HTTP layer answers it with 400)."""
    import pandas as pd

    if not body.strip():
        raise InputError(
            'the request body is empty; send {"data": [[...], ...]} as JSON, with the header '
            "Content-Type: application/json",
            field="body",
            value="",
        )
    payload = _request_json(body)
    if not isinstance(payload, dict) or not isinstance(payload.get("data"), list):
        raise InputError(
            'the request must be a JSON object with a "data" list of rows: {"data": [[...], ...]}',
            field="body",
            value=body[:80],
        )
    rows = payload["data"]
    if not rows:
        raise InputError('"data" has no rows', field="data", value=0)
    names = getattr(model, "feature_names_in_", None)
    wanted = [str(n) for n in names] if names is not None else None
    count = len(wanted) if wanted is not None else getattr(model, "n_features_in_", None)
    table: list[list[Any]] = []
    for index, row in enumerate(rows):
        if isinstance(row, dict):
            if wanted is None:
                raise InputError(
                    f"row {index} is an object, but the model has no feature names; send each "
                    "row as a list of values",
                    field="data",
                    value=index,
                )
            missing = [n for n in wanted if n not in row]
            if missing:
                raise InputError(
                    f"row {index} lacks {', '.join(missing)} (the model takes {', '.join(wanted)})",
                    field="data",
                    value=index,
                )
            row = [row[n] for n in wanted]
        if not isinstance(row, list) or (count is not None and len(row) != int(count)):
            size = len(row) if isinstance(row, list) else type(row).__name__
            raise InputError(
                f"row {index} has {size} values; the model takes {count}"
                + (f" ({', '.join(wanted)})" if wanted else ""),
                field="data",
                value=index,
            )
        bad = [v for v in row if not _finite_number(v)]
        if bad:
            raise InputError(
                f"row {index} holds {_shown(bad[0])}; every value must be a finite number",
                field="data",
                value=index,
            )
        table.append(row)
    return pd.DataFrame(table, columns=wanted)


def _request_json(body: str) -> Any:
    """The body parsed, or an InputError saying why not: besides text that is not JSON, Python's
    reader refuses nesting deeper than its recursion limit and integers longer than
    `sys.get_int_max_str_digits()`, errors a request must not turn into a 500."""
    import json

    ask = 'send {"data": [[...], ...]}'
    try:
        return json.loads(body)
    except json.JSONDecodeError as exc:
        why = f"the request body is not JSON ({exc}); {ask}"
    except RecursionError:
        why = f"the request body is nested too deeply to read; {ask}"
    except ValueError:  # json's one other refusal: an integer too long for int()
        why = (
            f"the request body holds an integer of more than {sys.get_int_max_str_digits()} "
            "digits; every value must be a finite number"
        )
    raise InputError(why, field="body", value=body[:80])


def _finite_number(value: Any) -> bool:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:  # an integer beyond a float's range (1e308)
        return False


def _shown(value: Any) -> str:
    """A value of a request in an error message: short, whatever was sent."""
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > sys.float_info.max:
        return f"an integer of {len(str(abs(value)))} digits, beyond a float's range"
    if value is None or isinstance(value, bool):
        return "null" if value is None else str(value).lower()  # as the request wrote it
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
