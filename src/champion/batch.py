"""Batch scoring with a registered version: resolve it, download it verified, load it, score a
table into one file. The one path `python -m champion.steps.score` (inside a run) and
`champion score` (from a shell) share.

Why apart from `champion.scoring`: that module is a library over a model and rows and sees no
registry; choosing the version (the champion as the registry says now, or the one asked for),
reading a registered dataset and the verified download need one (the `Registry` Protocol, any
backend). Why apart from the step: the step adds only what a run gives it (the record on the
run); a shell has no run, and scoring there must not need one.

Order, so that a refusal changes nothing: the data spec and the output path are checked first,
then the version is resolved, the data hashed (the user's file under the plain-file rule, a
registered dataset by its stored digest), the version downloaded into a temp folder and
verified, loaded, and only then is anything written.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from champion.errors import InputError

if TYPE_CHECKING:
    from champion.registry import Registry
    from champion.scoring import ScoreSummary

__all__ = ["BatchScore", "score_version"]

T = TypeVar("T")


@dataclass(frozen=True)
class BatchScore:
    """What one batch scoring did: which version made the predictions and how it was chosen
    (`champion` or `version`), the data (`iris.csv`, `dataset:NAME:V`) with its sha256, and
    the predictions written."""

    model: str
    version: int
    chosen_by: str
    data: str
    data_sha256: str | None
    summary: ScoreSummary

    def to_dict(self) -> dict[str, Any]:
        """The fields of the scoring record (`scoring.json`, `champion score --json`)."""
        return {
            "model": self.model,
            "version": self.version,
            "chosen_by": self.chosen_by,
            "data": self.data,
            "data_sha256": self.data_sha256,
            "rows": self.summary.rows,
            "id_column": self.summary.id_column,
            "predictions": self.summary.predictions.name,
            "predictions_sha256": self.summary.sha256,
        }

    @property
    def said(self) -> str:
        """The one line a person reads: how many rows, with which version, to where."""
        which = "the champion" if self.chosen_by == "champion" else "as asked"
        return (
            f"champion: scored {self.summary.rows} rows of {self.data} with "
            f"{self.model}:{self.version} ({which}) -> {self.summary.predictions}"
        )


def score_version(
    registry: Registry,
    name: str,
    data: str,
    target: Path,
    *,
    version: int | None = None,
    id_column: str | None = None,
    chunk_rows: int | None = None,
    replace: bool = True,
    make_folder: bool = False,
    name_option: str = "NAME",
    unknown: str = "'champion models list' shows the names",
    known_names: Callable[[], Iterable[str]] = tuple,
) -> BatchScore:
    """Score `data` (a CSV file, or `dataset:NAME[:VERSION]`) with `name`:`version` (default:
    the champion) into the file `target`.

    `replace` allows an existing file at `target` to be replaced; `make_folder` creates its
    folder (the step's output folder) instead of refusing a missing one. `name_option` and
    `unknown` are what the error for a name without a champion names and advises. Raises
    InputError (nothing written) for bad input, InfrastructureError for a download that does
    not verify or a failing service."""
    from champion._digest import check_plain, sha256_plain
    from champion.rescore import parse_spec
    from champion.scoring import (
        DEFAULT_CHUNK_ROWS,
        check_output,
        frame_chunks,
        load_model,
        read_csv_chunks,
        write_predictions,
    )

    rows_at_a_time = chunk_rows or DEFAULT_CHUNK_ROWS
    parsed = parse_spec(data, option="--data")
    if isinstance(parsed, Path):
        _user_file(check_plain, parsed, data)
    if not make_folder or target.parent.is_dir():  # a folder to be made holds nothing yet
        check_output(target, replace=replace)
    chosen, chosen_by = _version(registry, name, version, name_option, unknown, known_names)

    if isinstance(parsed, Path):
        # hashed first, under the rule every file of the user's is read by
        data_sha256: str | None = _user_file(sha256_plain, parsed, data)
        source = parsed.name
        chunks = read_csv_chunks(parsed, rows_at_a_time)
    else:
        read = registry.dataset(*parsed)
        source, data_sha256 = f"dataset:{read.name}:{read.version}", read.sha256
        chunks = frame_chunks(read.frame, rows_at_a_time)

    with tempfile.TemporaryDirectory(prefix="champion-score-") as tmp:
        model = load_model(registry.download(name, chosen, Path(tmp) / "model"))
        summary = write_predictions(
            model, chunks, target, where=source, id_column=id_column, replace=replace,
            make_folder=make_folder,
        )  # fmt: skip
    return BatchScore(name, chosen, chosen_by, source, data_sha256, summary)


def _user_file(read: Callable[[Path], T], path: Path, data: str) -> T:
    """`read(path)` under the plain-file rule; a missing path or one the rule refuses (a link,
    a folder, a FIFO, a device) is the user's mistake, said in one line."""
    from champion._digest import NotAPlainFile

    try:
        return read(path)
    except FileNotFoundError:
        raise InputError(f"data file not found: {data}", field="--data", value=data) from None
    except NotAPlainFile as exc:
        raise InputError(
            f"--data {data!r} is {exc.what}; refusing to read it (pass the CSV file itself)",
            field="--data",
            value=data,
        ) from None


def _version(
    registry: Registry,
    name: str,
    version: int | None,
    option: str,
    unknown: str,
    known_names: Callable[[], Iterable[str]],
) -> tuple[int, str]:
    """The version asked for, else the champion as the registry says now."""
    if version is not None:
        return version, "version"
    champion = registry.champion(name)
    if champion is None:
        from champion.registry.absent import no_champion

        raise no_champion(registry, name, names=known_names(), field=option, unknown=unknown)
    return champion.version, "champion"
