"""A training step's metrics handed over as a JSON file (`--metrics-file`, the register
component's `metrics` input): the most common v2 hand-off, read as strictly as v1 tags.

Why a file at all: a v2 pipeline passes data between steps as inputs and outputs, and a
training step that writes `{"accuracy": 0.953}` to a `uri_file` (or `uri_folder`) output needs
no tracking server to hand its numbers on. Read here once, as text: numbers keep the exact
digits the file holds (`parse_float=str`), so `0.1` is compared and stored as `0.1`; every value
is then parsed by `champion.metrics.parse_metric` like a tag (finite, in range, a plain decimal:
`NaN`, `"95%"`, `true` and nested objects are refused, naming the file and the key).
"""

from __future__ import annotations

import json
from pathlib import Path

from champion.errors import InputError

__all__ = ["MAX_BYTES", "MetricsFile", "read_metrics_file"]

MAX_BYTES = 1 << 20
"""A metrics file larger than this is not one (a model or a data file passed by mistake)."""
FIELD = "--metrics-file"
DEFAULT_NAME = "metrics.json"


class MetricsFile:
    """The file's keys and raw values (numbers as their exact text), and where it was read."""

    def __init__(self, path: Path, values: dict[str, object]) -> None:
        self.path = path
        self.values = values

    def source(self, key: str) -> str:
        return f"metrics file {self.path} key {key!r}"


def read_metrics_file(path: Path) -> MetricsFile:
    """The JSON object in `path`, or in `metrics.json` (else the one `.json` file) of the
    folder `path`; InputError naming the path and what to do when it is not one."""
    file = _the_file(path)
    try:
        with open(file, "rb") as stream:
            data = stream.read(MAX_BYTES + 1)
    except OSError as exc:
        raise InputError(
            f"{FIELD} {file}: cannot be read ({exc.strerror or exc}); pass the JSON file the "
            "training step wrote",
            field=FIELD,
            value=str(file),
        ) from None
    if len(data) > MAX_BYTES:
        raise InputError(
            f"{FIELD} {file} is larger than {MAX_BYTES} bytes: not a metrics file; pass the "
            'JSON object of metrics the training step wrote ({"accuracy": 0.95})',
            field=FIELD,
            value=str(file),
        )
    try:
        parsed = json.loads(
            data.decode("utf-8"), parse_float=str, parse_int=str, parse_constant=str
        )
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise InputError(
            f"{FIELD} {file} is not JSON ({type(exc).__name__}); the training step must write "
            'a JSON object of metrics, e.g. {"accuracy": 0.95}',
            field=FIELD,
            value=str(file),
        ) from None
    if not isinstance(parsed, dict):
        raise InputError(
            f"{FIELD} {file} holds a JSON {type(parsed).__name__}, not an object; write "
            '{"accuracy": 0.95} (one key per metric)',
            field=FIELD,
            value=str(file),
        )
    return MetricsFile(file, {str(k): v for k, v in parsed.items()})


def _the_file(path: Path) -> Path:
    if path.is_file():
        return path
    if path.is_dir():
        named = path / DEFAULT_NAME
        if named.is_file():
            return named
        found = sorted(p for p in path.iterdir() if p.suffix == ".json" and p.is_file())
        if len(found) == 1:
            return found[0]
        raise InputError(
            f"{FIELD} {path} is a folder with {len(found) or 'no'} JSON files and no "
            f"{DEFAULT_NAME}; pass the file, or write the metrics to {DEFAULT_NAME}",
            field=FIELD,
            value=str(path),
        )
    raise InputError(
        f"{FIELD} {path} does not exist; pass the JSON file (or its folder) the training step "
        "wrote",
        field=FIELD,
        value=str(path),
    )
