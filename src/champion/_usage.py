"""The one-line error every champion entry prints, and the argparse that prints its usage errors
so: `champion: error [CODE]: MESSAGE`.

Why a module of its own, below the CLI: the CLI, the pipeline driver (`champion pipeline ...`,
`python pipelines/iris.py`) and the packaged steps (`python -m champion.steps.register`) each
parse a command line. When one of them printed argparse's own `PROG: error: ...` after its usage
text, a user saw two error formats for one tool, and a script matching `champion: error [` missed
half of them. Importing this costs only argparse, so a step's cold start does not pay for the
CLI; the message is made safe for an Azure DevOps agent only when there is one to print.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any, NoReturn

__all__ = ["Parser", "error_line", "seconds"]


def error_line(code: str, message: str) -> str:
    """`champion: error [CODE]: MESSAGE`, with nothing in MESSAGE that an Azure DevOps agent
    would read as a logging command (no line break, no `##`)."""
    from champion.record import neutralize_logging_commands

    return f"champion: error [{code}]: {neutralize_logging_commands(message)}"


def seconds(text: str) -> float:
    """A number of seconds above 0 (a timeout), for argparse: anything else is a usage error,
    where the option is given (`--step-timeout` of `champion run` and `champion mock`)."""
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds above 0")
    return value


class Parser(argparse.ArgumentParser):
    """argparse, with its usage errors in the one-line form every other error has, and a
    `see '... --help'` the user can type: without a `prog`, the command as it was run
    (`python -m champion.steps.register`, `python steps/train.py`), not argparse's bare file
    name (`register.py`), which runs nothing."""

    def __init__(self, prog: str | None = None, *args: Any, **kwargs: Any) -> None:
        super().__init__(prog or _as_run(), *args, **kwargs)

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{error_line('usage', message)}; see '{self.prog} --help'\n")


def _as_run() -> str | None:
    """`python -m MODULE` or `python SCRIPT` for this process; None (argparse's own) otherwise."""
    main = sys.modules.get("__main__")
    module = getattr(getattr(main, "__spec__", None), "name", None)
    if module:
        return f"python -m {module.removesuffix('.__main__')}"
    script = sys.argv[0] if sys.argv else ""
    return f"python {script}" if script.endswith(".py") else None
