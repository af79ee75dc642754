"""Batch scoring: a verified model loaded, a table predicted chunk by chunk, predictions written
in one rename.

Why here and not in the step: the score step, `champion score`, `champion serve`'s default
scoring script, `champion models convert-onnx` and `bench/` all load a registered model and feed
it rows, and they must agree on how (which file of the download is the model, which columns are
its features, what an id column is). `champion.batch` resolves and downloads the version through
a registry (this module sees none); the step only adds the record on its run.

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
output, which is renamed to its name only when every row has been scored. A bad row anywhere
leaves no predictions file (an older one stays as it was). Where predictions may be written is
`check_output`'s to say, once, for every caller.
"""

from __future__ import annotations

import errno
import hashlib
import os
import uuid
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from champion.errors import InputError
from champion.scoring_request import frame_from_request

__all__ = [
    "DEFAULT_CHUNK_ROWS",
    "MODEL_SUFFIXES",
    "PREDICTIONS_FILE",
    "ScoreSummary",
    "check_output",
    "feature_frame",
    "find_id_column",
    "find_model_file",
    "frame_from_request",
    "load_model",
    "predict_rows",
    "read_csv_chunks",
    "score_chunks",
    "write_predictions",
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


def check_output(target: Path, *, replace: bool, option: str = "--output") -> None:
    """Refuse a predictions file that may not be written, before anything is read: an existing
    file unless `replace` says so, anything but a plain file even then (the rule of
    `champion._digest.check_plain`: a link, a folder, a FIFO, a device, a shared hardlink), and
    a missing folder (it is the user's to create: a typo must not become a new tree)."""
    from champion._digest import NotAPlainFile, check_plain

    try:
        check_plain(target)
    except FileNotFoundError:
        folder = target.parent
        if not folder.is_dir():
            raise InputError(
                f"{option} {target}: the folder {folder} does not exist; create it or choose "
                "another path",
                field=option,
                value=str(target),
            ) from None
        return
    except NotAPlainFile as exc:
        raise InputError(
            f"{option} {target} is {exc.what}; champion writes predictions only to a new or a "
            "plain file: name another path",
            field=option,
            value=str(target),
        ) from None
    if not replace:
        raise InputError(
            f"{option} {target} already exists; nothing was written. Pass --overwrite to "
            "replace it, or choose another path",
            field=option,
            value=str(target),
        )


def score_chunks(
    model: Any,
    chunks: Iterable[Any],
    output_dir: Path,
    *,
    where: str,
    id_column: str | None = None,
) -> ScoreSummary:
    """Predict every chunk into `output_dir/predictions.csv`, creating the folder (see
    `write_predictions`)."""
    return write_predictions(
        model, chunks, output_dir / PREDICTIONS_FILE, where=where, id_column=id_column,
        make_folder=True,
    )  # fmt: skip


def write_predictions(
    model: Any,
    chunks: Iterable[Any],
    target: Path,
    *,
    where: str,
    id_column: str | None = None,
    replace: bool = True,
    make_folder: bool = False,
) -> ScoreSummary:
    """Predict every chunk into the file `target`, which appears in one rename at the end.

    The id column is chosen from the first chunk's header (`find_id_column`). Nothing is left
    behind on failure: the temp file beside `target` is removed, an existing file is untouched,
    and a folder `make_folder` created is removed again while empty. Without `replace` the file
    is linked into place, which fails if a file appeared at `target` meanwhile: what
    `check_output` found absent is never overwritten."""
    from champion.errors import naming

    folder = target.parent
    created = make_folder and not folder.exists()
    if make_folder:
        folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / f".{target.name}.{uuid.uuid4().hex[:12]}.tmp"
    digest = hashlib.sha256()
    rows = 0
    chosen: str | None = None
    try:
        check_output(target, replace=replace)  # a link or a FIFO is never written, whatever
        with naming(target, "writing the predictions to"):
            with tmp.open("x", newline="", encoding="utf-8") as handle:
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
            _move_into_place(tmp, target, replace=replace)
    except BaseException:
        tmp.unlink(missing_ok=True)
        if created and not any(folder.iterdir()):
            folder.rmdir()
        raise
    return ScoreSummary(rows=rows, id_column=chosen, predictions=target, sha256=digest.hexdigest())


_NO_HARDLINKS = (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EMLINK)


def _move_into_place(tmp: Path, target: Path, *, replace: bool) -> None:
    if replace:
        os.replace(tmp, target)
        return
    try:
        os.link(tmp, target)  # atomic, and refuses an existing name
        os.unlink(tmp)
    except FileExistsError:
        check_output(target, replace=False)  # raises: the file appeared while scoring
        raise
    except OSError as exc:
        if exc.errno not in _NO_HARDLINKS:  # a file system without hardlinks: check, rename
            raise
        check_output(target, replace=False)
        os.replace(tmp, target)
