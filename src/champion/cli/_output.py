"""How every command prints: one format choice, one escape, one JSON writer, and stdout that a
reader may close early.

Formats. `table` is the default on a terminal and in a pipe alike: output that changes shape
when redirected surprises everyone who pipes into `grep` or `less`, reads a build log, or copies
a docs example, and the table is already one record per line, untruncated and uncoloured.
Scripts ask for a stable shape explicitly: `json` (one document on stdout; lists are an array of
objects, everything else one object; keys are fixed and documented in the CLI reference) or `csv` (a
header row of the same keys, then one row per record). Tables and CSV show stored values
through the one escape, `record.neutralize_logging_commands`, so a tag cannot repaint the
terminal or issue an Azure DevOps logging command; JSON stays JSON and holds no `##`.

Stdout is only the command's output: while a command runs, anything the library prints (the
SDK-style "Registering model ..." lines) goes to stderr, so `--json` output always parses.

A reader that goes away (`champion models show iris | head -1`) is not an error: the first
write that finds the pipe closed points stdout at /dev/null (the standard recipe, so nothing is
left to fail at exit), the command finishes as it would have, and its exit code is its own.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import re
import sys
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TextIO, cast

from champion._redact import redact
from champion.record import neutralize_logging_commands as escape

FORMATS = ("table", "json", "csv")
LISTS = FORMATS  # list and show commands: records, in every format
REPORTS = ("table", "json")  # commands that act, then report what they did
TEXT = ("table",)  # commands whose output is another program's (`champion run`)

_state: dict[str, Any] = {"out": None, "format": "table", "gone": False}


class _Redacted(io.TextIOBase):
    """A stream whose every write passes through `redact`: what a command prints (its output,
    its error line, the library's and the SDKs' prints) may quote a URL with a password, a SAS
    token or a key, and a build log is read by many. One write is one `print` argument, so a
    secret is never split across two writes by our own prints."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        self._write(redact(text))
        return len(text)

    def _write(self, text: str) -> None:
        self._stream.write(text)

    def flush(self) -> None:
        self._stream.flush()

    def fileno(self) -> int:
        return self._stream.fileno()

    def isatty(self) -> bool:
        return self._stream.isatty()

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return getattr(self._stream, "encoding", None) or "utf-8"


class _PipeSafe(_Redacted):
    """Stdout whose writes survive a reader that went away: output stops, the command goes on."""

    def _write(self, text: str) -> None:
        if not _state["gone"]:
            try:
                self._stream.write(text)
            except BrokenPipeError:
                _reader_gone(self._stream)

    def flush(self) -> None:
        if not _state["gone"]:
            try:
                self._stream.flush()
            except BrokenPipeError:
                _reader_gone(self._stream)


def _reader_gone(stream: TextIO) -> None:
    """Python's documented recipe for SIGPIPE: point the descriptor at /dev/null, so the bytes
    still buffered, and the flush at exit, go nowhere instead of raising again."""
    _state["gone"] = True
    with contextlib.suppress(OSError, ValueError, io.UnsupportedOperation):
        devnull = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(devnull, stream.fileno())
        finally:
            os.close(devnull)


@contextlib.contextmanager
def pipe_safe_stdout() -> Iterator[None]:
    """For one `main()`: stdout that a closed pipe cannot turn into a traceback, and both
    streams redacted."""
    real, real_err = sys.stdout, sys.stderr
    if real is None:  # started with no stdout at all (fd 1 closed): output goes nowhere
        real = open(os.devnull, "w")  # lives as long as the process
    safe = cast(TextIO, _PipeSafe(real))
    sys.stdout, _state["out"], _state["gone"] = safe, safe, False
    if real_err is not None:
        sys.stderr = cast(TextIO, _Redacted(real_err))
    try:
        yield
    finally:
        safe.flush()
        sys.stdout, sys.stderr, _state["out"] = real, real_err, None


@contextlib.contextmanager
def command_output(fmt: str, *, passthrough: bool) -> Iterator[None]:
    """While a command runs: its output in `fmt` goes to stdout, the library's prints to stderr
    (unless the output is the library's, as for `champion run`)."""
    _state["format"] = fmt
    with contextlib.redirect_stdout(sys.stdout if passthrough else sys.stderr):
        yield


def output_format() -> str:
    return str(_state["format"])


def write(text: str) -> None:
    """The command's own output; `text` must already be escaped or JSON."""
    stream = _state["out"] or sys.stdout
    stream.write(text)


def line(text: str) -> None:
    """One line of human text, escaped (it may hold stored values)."""
    write(escape(text) + "\n")


def note(text: str) -> None:
    """A line about the command rather than its result (which workspace it wrote to): part of
    the table output, but kept off stdout when stdout must hold exactly one document."""
    if output_format() == "table":
        line(text)
    else:
        print(escape(text), file=sys.stderr)


def to_json(data: Any) -> str:
    """JSON that stays JSON (control characters escaped by json.dumps, non-ASCII as \\uXXXX)
    and holds no `##`: a `#` after another is written `\\u0023`, which reads back the same,
    so no value can issue an Azure DevOps logging command."""
    text = json.dumps(data, indent=2, sort_keys=True, default=str)
    return text.replace("##", "#\\u0023")


def when(moment: datetime | None) -> str | None:
    """A time for JSON: ISO 8601 in UTC, with its offset, at the precision stored."""
    return moment.astimezone(UTC).isoformat() if moment else None


def short_when(iso: Any) -> str:
    """A time for a table: `YYYY-MM-DD HH:MM:SS`, UTC (the column header says so)."""
    return str(iso)[:19].replace("T", " ") if iso else "-"


_UUID = re.compile(
    r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|[0-9a-f]{32}", re.IGNORECASE
)


def short_id(run_id: Any) -> str:
    """A run id for a table: a UUID's first 8 characters (Azure ML's and the local workspace's
    ids, and MLflow's, which are UUIDs without dashes), as git shortens a commit (the full id
    is in JSON and CSV); any other id as it is."""
    if not run_id:
        return "-"
    text = str(run_id)
    return text[:8] if _UUID.fullmatch(text) else text


@dataclass(frozen=True)
class Column:
    """One key of a list command's records: `label` is its table header (None: JSON and CSV
    only, e.g. a long reason), `show` how a table prints it. A `table_only` column is a cell
    composed for people from keys JSON and CSV carry apart (a value and its version)."""

    key: str
    label: str | None
    show: Any = None  # Callable[[Any], str]; Any keeps the dataclass simple for mypy
    table_only: bool = False

    def cell(self, record: Mapping[str, Any]) -> str:
        value = record.get(self.key)
        if self.show is not None:
            return str(self.show(value))
        return "-" if value is None or value == "" else str(value)


def records(
    columns: Sequence[Column], rows: Sequence[Mapping[str, Any]], *, title: str = ""
) -> None:
    """A list command's output: a JSON array of objects with exactly the columns' keys, CSV
    with those keys as header (objects in a cell as JSON), or a table of the labelled
    columns."""
    fmt = output_format()
    kept = [c for c in columns if not c.table_only]
    if fmt == "json":
        write(to_json([{c.key: row.get(c.key) for c in kept} for row in rows]) + "\n")
    elif fmt == "csv":
        _csv([c.key for c in kept], [[row.get(c.key) for c in kept] for row in rows])
    else:
        if title:
            line(title)
        shown = [c for c in columns if c.label is not None]
        table([str(c.label) for c in shown], [[c.cell(row) for c in shown] for row in rows])


def document(doc: Mapping[str, Any]) -> None:
    """A show command's output: the object as JSON, or `field,value` rows (nested keys dotted,
    one row per list item) as CSV or a two-column table."""
    fmt = output_format()
    if fmt == "json":
        write(to_json(doc) + "\n")
        return
    rows = list(_flatten(doc))
    if fmt == "csv":
        _csv(["field", "value"], rows)
    else:
        table(["field", "value"], [[f, "-" if v is None or v == "" else v] for f, v in rows])


def report(doc: Mapping[str, Any], lines: Sequence[str]) -> None:
    """What a command that acted did: the lines, or `doc` as one JSON object."""
    if output_format() == "json":
        write(to_json(doc) + "\n")
    else:
        for text in lines:
            line(text)


def table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """Columns padded to fit; every cell escaped, since cells come from the workspace."""
    cells = [[escape(str(c)) for c in header], *[[escape(str(c)) for c in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    for index, row in enumerate(cells):
        write("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() + "\n")
        if index == 0:
            write("  ".join("-" * w for w in widths) + "\n")
    if not rows:
        write("(none)\n")


def _csv(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow(["" if v is None else _inert(escape(_cell(v))) for v in row])
    write(buffer.getvalue())


_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _inert(cell: str) -> str:
    """A cell a spreadsheet would run as a formula (`=HYPERLINK(...)` in a model's tag, opened
    from `--format csv` in Excel) gets a leading `'`, which shows the text as typed; a number
    such as -0.5 is left alone."""
    if not cell.startswith(_FORMULA_STARTS):
        return cell
    try:
        float(cell)
    except ValueError:
        return "'" + cell
    return cell


def _cell(value: Any) -> str:
    """A CSV cell: an object or a list (a policy) as compact JSON, anything else as text."""
    if isinstance(value, Mapping | list):
        return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
    return str(value)


def _flatten(doc: Mapping[str, Any], prefix: str = "") -> Iterator[list[Any]]:
    for key, value in doc.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            if not value:
                yield [name, None]
            yield from _flatten(value, f"{name}.")
        elif isinstance(value, list):
            if not value:
                yield [name, None]
            for item in value:
                shown = "  ".join(map(str, item.values())) if isinstance(item, Mapping) else item
                yield [name, shown]
        else:
            yield [name, value]
