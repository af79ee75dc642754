"""MkDocs hook (mkdocs.yml `hooks:`): the command line reference is generated from the parsers.

Why generated: the help text lives in the code (every option has help and every command an
example, a test in tests/docs holds that), and a hand-copied reference drifts from it the day an
option is added. `docs/reference/cli.md` ends with a marker comment; when the site is built, the
marker becomes one section per command, `champion` first, each with the `--help` that command
prints, at a fixed width so the page does not depend on the builder's terminal.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Iterator
from typing import Any

MARKER = "<!-- champion-cli-help:"
WIDTH = "100"


def commands(parser: argparse.ArgumentParser, path: str = "champion") -> Iterator[tuple[str, str]]:
    """(command path, its help) for `parser` and every subcommand below it, depth first."""
    yield path, parser.format_help()
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from commands(sub, f"{path} {name}")


def cli_reference() -> str:
    """The generated part of the page: a section per command with its help."""
    from champion.cli import build_parser

    before = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = WIDTH  # argparse wraps to the terminal's width
    try:
        helps = commands(build_parser())
        sections = [f"### `{path}`\n\n```text\n{text.rstrip()}\n```\n" for path, text in helps]
    finally:
        if before is None:
            os.environ.pop("COLUMNS", None)
        else:
            os.environ["COLUMNS"] = before
    return "\n".join(sections)


def on_page_markdown(markdown: str, page: Any, **_: Any) -> str:
    """Replace the marker line (and nothing else) with the generated sections."""
    if MARKER not in markdown:
        return markdown
    kept = [line for line in markdown.splitlines() if not line.startswith(MARKER)]
    return "\n".join(kept).rstrip() + "\n\n" + cli_reference()
