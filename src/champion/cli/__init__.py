"""`champion`: a thin command line over the library and the local workspace.

Each command parses its arguments, makes one or two library calls and prints through
`_output` (table, JSON or CSV); every failure becomes one line on stderr and an exit code (see
`_app`). One module per command group; a new group is a module with `add_to(commands)` and one
entry in `MODULES`.

Which workspace: `--workspace`, else `$CHAMPION_WORKSPACE`, else the nearest `.champion/` in
the working directory or its parents. Only `champion init` (and `champion run`, through the
local runner) creates one; every other command refuses a folder that is not a workspace, and
the read-only ones (`models`, `runs`, `verify`) open it read-only. Every command that writes
says which workspace it wrote to.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from champion.cli import _app, mock, models, register, run, runs, score, serve, workspace

__all__ = ["build_parser", "main"]

# The order of `champion --help`.
MODULES = (workspace, models, runs, register, run, score, serve, mock)


def build_parser() -> argparse.ArgumentParser:
    parser, commands = _app.top_parser()
    for module in MODULES:
        module.add_to(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    return _app.run(build_parser(), argv)
