"""Batch scoring: a verified model loaded, a table predicted chunk by chunk, predictions written
in one rename.

Why here and not in the step: the score step, `champion serve`'s default scoring script,
`champion models convert-onnx` and `bench/` all load a registered model and feed it rows, and
they must agree on how (which file of the download is the model, which columns are its
features, what an id column is). The step only resolves the version, downloads it through the
registry and records what it did.

Trust. Loading a joblib or pickle file runs code: whoever can write the file can run anything in
the process that loads it. So a model is loaded only from a **verified download**
(`Registry.download`): every file's sha256, and the whole model's `artifact_sha256` that the gate
stored in the same call that registered the version, match before anything is loaded. What you
trust is therefore the registry's record of the version (whoever could register it, and the
training step that wrote the file), never the path the bytes travelled through; a version with
no `artifact_sha256` (registered by hand, outside the gate) is refused. `load_model` itself
trusts its caller to give it such a download.

Memory stays flat for large inputs: a CSV is read `chunk_rows` rows at a time
(`pandas.read_csv(chunksize=...)`), each chunk predicted and appended to a temp file beside the
output, which is renamed to `predictions.csv` only when every row has been scored. A bad row
anywhere leaves no predictions file (an older one stays as it was).
"""

from __future__ import annotations

import hashlib
import math
import os
import sys
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from champion.errors import InputError

__all__ = [
    "DEFAULT_CHUNK_ROWS",
    "MODEL_SUFFIXES",
    "PREDICTIONS_FILE",
    "ScoreSummary",
    "feature_frame",
    "find_id_column",
    "find_model_file",
    "frame_from_request",
    "load_model",
    "predict_rows",
    "read_csv_chunks",
    "score_chunks",
]

DEFAULT_CHUNK_ROWS = 10_000
PREDICTIONS_FILE = "predictions.csv"
PREDICTION_COLUMN = "prediction"
MODEL_SUFFIXES = (".pkl", ".joblib", ".pickle")
"""Files of a downloaded model folder that can be the model itself."""


@dataclass(frozen=True)
class ScoreSummary:
    """What one scoring wrote: how many rows, which id column was carried over (None: none),
    and the predictions file with its sha256."""

    rows: int
    id_column: str | None
    predictions: Path
    sha256: str


# ---------------------------------------------------------------------- the model


def find_model_file(path: Path) -> Path:
    """The model file of a download: the file itself, or the one model file in a folder."""
    if path.is_file():
        return path
    found = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix in MODEL_SUFFIXES)
    if len(found) != 1:
        listing = ", ".join(p.relative_to(path).as_posix() for p in found) or "none"
        raise InputError(
            f"the model folder {path} must hold exactly one model file "
            f"({', '.join(MODEL_SUFFIXES)}); found {listing}",
            field="model",
            value=str(path),
        )
    return found[0]


def load_model(path: Path) -> Any:
    """Load a verified download with joblib (see the module docstring for what that trusts)."""
    import joblib

    file = find_model_file(path)
    try:
        model = joblib.load(file)
    except Exception as exc:
        raise InputError(
            f"{file.name} could not be loaded with joblib ({type(exc).__name__}: {exc}); the "
            "model may need another scikit-learn version, or not be a joblib/pickle file",
            field="model",
            value=file.name,
        ) from exc
    if not callable(getattr(model, "predict", None)):
        raise InputError(
            f"{file.name} holds a {type(model).__name__}, which has no predict(); only models "
            "with scikit-learn's predict() can be scored",
            field="model",
            value=file.name,
        )
    return model


# ---------------------------------------------------------------------- the rows


def find_id_column(columns: Sequence[object], wanted: str | None) -> str | None:
    """The id column to carry into the predictions: `wanted` (which must exist), else a column
    named `id` in any case, else none."""
    names = [str(c) for c in columns]
    if wanted is not None:
        if wanted not in names:
            raise InputError(
                f"id column {wanted!r} is not in the data (columns: {', '.join(names)})",
                field="id_column",
                value=wanted,
            )
        return wanted
    return next((name for name in names if name.lower() == "id"), None)


def feature_frame(model: Any, frame: Any, id_column: str | None, where: str) -> Any:
    """The columns the model takes, in its order, checked: present, numeric, no missing value.

    A model fitted on a DataFrame knows its feature names (`feature_names_in_`): those are
    taken, so a label or any other extra column is ignored. A model fitted on an array gets
    every column but the id column, and their number must be the model's."""
    import pandas as pd

    names = getattr(model, "feature_names_in_", None)
    if names is not None:
        wanted = [str(n) for n in names]
        missing = [n for n in wanted if n not in frame.columns]
        if missing:
            raise InputError(
                f"{where}: missing column(s) {', '.join(missing)} the model was trained on "
                f"(it takes {', '.join(wanted)})",
                field="data",
                value=where,
            )
    else:
        wanted = [str(c) for c in frame.columns if str(c) != id_column]
        expected = getattr(model, "n_features_in_", None)
        if expected is not None and len(wanted) != int(expected):
            raise InputError(
                f"{where}: {len(wanted)} feature column(s) ({', '.join(wanted)}) but the model "
                f"takes {int(expected)}",
                field="data",
                value=where,
            )
    features = frame[wanted]
    for column in wanted:
        values = features[column]
        if not pd.api.types.is_numeric_dtype(values):
            bad = pd.to_numeric(values, errors="coerce").isna() & values.notna()
            row = int(bad.idxmax()) if bad.any() else int(values.index[0])
            raise InputError(
                f"{where}: column {column!r} is not numeric (data row {row + 1} holds "
                f"{values.loc[row]!r})",
                field="data",
                value=where,
            )
        if values.isna().any():
            row = int(values.isna().idxmax())
            raise InputError(
                f"{where}: column {column!r} has an empty value (data row {row + 1})",
                field="data",
                value=where,
            )
    return features


def predict_rows(model: Any, frame: Any, id_column: str | None, where: str) -> Any:
    """One chunk's predictions as a frame: the id column (when there is one), then
    `prediction`."""
    import pandas as pd

    predicted = model.predict(feature_frame(model, frame, id_column, where))
    out = pd.DataFrame({PREDICTION_COLUMN: predicted}, index=frame.index)
    if id_column is not None:
        out.insert(0, id_column, frame[id_column])
    return out


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


def read_csv_chunks(path: Path, chunk_rows: int) -> Iterator[Any]:
    """The CSV `chunk_rows` rows at a time; a file pandas cannot read is an InputError naming
    it (raised when the chunk that shows it is read)."""
    import pandas as pd

    if not path.is_file():
        raise InputError(f"data file not found: {path}", field="data", value=str(path))
    try:
        reader = pd.read_csv(path, chunksize=chunk_rows)
        yield from reader
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise InputError(
            f"{path}: not a readable CSV file: {exc}", field="data", value=str(path)
        ) from exc


def frame_chunks(frame: Any, chunk_rows: int) -> Iterator[Any]:
    """A frame already in memory (a registered dataset), in slices of `chunk_rows`."""
    for start in range(0, max(len(frame), 1), chunk_rows):
        yield frame.iloc[start : start + chunk_rows]


# ---------------------------------------------------------------------- the output


def score_chunks(
    model: Any,
    chunks: Iterable[Any],
    output_dir: Path,
    *,
    where: str,
    id_column: str | None = None,
) -> ScoreSummary:
    """Predict every chunk and write `output_dir/predictions.csv` in one rename at the end.

    The id column is chosen from the first chunk's header (`find_id_column`). Nothing is left
    behind on failure: the temp file is removed and an existing predictions file is untouched."""
    created = not output_dir.exists()
    output_dir.mkdir(parents=True, exist_ok=True)
    target = output_dir / PREDICTIONS_FILE
    tmp = output_dir / f".{PREDICTIONS_FILE}.{os.getpid()}.tmp"
    digest = hashlib.sha256()
    rows = 0
    chosen: str | None = None
    try:
        with tmp.open("w", newline="", encoding="utf-8") as handle:
            for index, chunk in enumerate(chunks):
                if index == 0:
                    chosen = find_id_column(list(chunk.columns), id_column)
                text = predict_rows(model, chunk, chosen, where).to_csv(
                    header=index == 0, index=False, lineterminator="\n"
                )
                handle.write(text)
                digest.update(text.encode("utf-8"))
                rows += len(chunk)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        if created and not any(output_dir.iterdir()):
            output_dir.rmdir()
        raise
    return ScoreSummary(rows=rows, id_column=chosen, predictions=target, sha256=digest.hexdigest())
