"""One line per failure in the server's log, and the one line that says why a worker did not
start.

Why: azureml-inference-server-http writes whole tracebacks into its log messages ("Encountered
Exception: Traceback ..."), and gunicorn logs its own with `log.exception`. A request the
scoring script cannot take, or a typo in a user's entry script, filled the console of `champion
serve` with a stack of the server's internals, where what a person needs is where it failed
and why: `score.py:12 in init: ValueError: ...`. `OneLine` is the formatter of the workers' log
(written into the deployment's logging.json, which the package loads from AML_APP_ROOT); with
`champion serve --debug` it leaves the tracebacks in.
"""

from __future__ import annotations

import logging
import os
import sys
import time
import traceback
from pathlib import Path

from champion.errors import ChampionError, InfrastructureError, InputError, from_environment
from champion.serving._setup import Setup, current

__all__ = ["OneLine", "boot_failure", "describe"]

FORMAT = "%(asctime)s %(levelname).1s [%(process)d] %(name)s - %(message)s"  # the package's
TRACEBACK = "Traceback (most recent call last):"
LONGEST = 600
HINT = "champion serve --debug shows the traceback"


def _root(exc: BaseException) -> BaseException:
    """The exception that says what went wrong: through the package's wrappers (which keep the
    user's exception as `user_ex`) and through `sys.exit()` called while handling one."""
    seen: set[int] = set()
    while id(exc) not in seen:
        seen.add(id(exc))
        inner = getattr(exc, "user_ex", None)
        if isinstance(inner, BaseException):
            exc = inner
        elif isinstance(exc, SystemExit) and exc.__context__ is not None:
            exc = exc.__context__
        else:
            break
    return exc


def _one_line(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= LONGEST else flat[: LONGEST - 3] + "..."


def _where(exc: BaseException, entry_script: Path | None, *, anywhere: bool) -> str:
    """`file:line in function` of the entry script's frame, then the frame that raised when it
    is another; a SyntaxError's own file and line. With no frame in the entry script, the frame
    that raised when `anywhere` (the log), else nothing: the server's own frames say nothing
    about a script that, say, lacks init()."""
    if isinstance(exc, SyntaxError) and exc.filename:
        return f"{exc.filename}:{exc.lineno}"
    frames = traceback.extract_tb(exc.__traceback__)
    script = str(entry_script) if entry_script else None
    own = [f for f in frames if script and os.path.realpath(f.filename) == script]
    if not frames or not (own or anywhere):
        return ""
    last = frames[-1]
    shown = [own[-1]] if own else []
    if not own or own[-1] is not last:
        shown.append(last)
    return " -> ".join(f"{f.filename}:{f.lineno} in {f.name}" for f in shown)


def describe(exc: BaseException, entry_script: Path | None = None, *, anywhere: bool = True) -> str:
    """`where: Type: message` on one line, for the log and for the command's error line."""
    root = _root(exc)
    if isinstance(root, ChampionError):
        return _one_line(root.message)
    where = _where(root, entry_script, anywhere=anywhere)
    said = root.msg if isinstance(root, SyntaxError) else str(root)
    what = f"{type(root).__name__}: {said}".rstrip(". ") if said else type(root).__name__
    return _one_line(f"{where}: {what}" if where else what)


def boot_failure(exc: BaseException, setup: Setup) -> ChampionError:
    """Why a worker could not load the entry script or run its init(), as the error the
    command exits with: champion's own errors keep their code (a model file joblib cannot load
    is the user's, 2); an OS error its usual one; anything else raised by the user's entry
    script is the user's (2), by champion's default script the machine's (3)."""
    root = _root(exc)
    known = from_environment(root) if isinstance(root, Exception) else None
    code = known.exit_code if known is not None else (3 if setup.default else 2)
    text = describe(root, setup.entry_script, anywhere=False)
    cls = InputError if code == 2 else InfrastructureError
    if setup.default:
        return cls(f"the model could not be served: {text}", field="model", value=None)
    return cls(
        f"the entry script could not start: {text}; fix it, then serve again",
        field="--entry-script",
        value=str(setup.entry_script),
    )


class OneLine(logging.Formatter):
    """The package's log format, with each traceback cut to its one-line summary (all of it
    under --debug). Made by logging.config from the deployment's logging.json."""

    def __init__(self, fmt: str | None = None, datefmt: str | None = None, style: str = "%"):
        super().__init__(fmt or FORMAT, datefmt, style)  # type: ignore[arg-type]
        self.converter = time.gmtime

    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        cut = message.find(TRACEBACK)
        if (cut < 0 and not record.exc_info) or _debug():
            return super().format(record)
        exc = record.exc_info[1] if record.exc_info else sys.exc_info()[1]
        head = (message[:cut] if cut >= 0 else message).rstrip(" :\n")
        if exc is not None:
            tail = describe(exc, _entry_script())
        else:  # logged outside the handler: the traceback's own last line
            tail = message[cut:].strip().splitlines()[-1]
        text = f"{head}: {tail}" if head else tail
        flat = logging.makeLogRecord({**record.__dict__, "msg": f"{text} ({HINT})", "args": None})
        flat.exc_info = flat.exc_text = None
        flat.stack_info = None
        return super().format(flat)


def _debug() -> bool:
    try:
        return current().debug
    except RuntimeError:
        return False


def _entry_script() -> Path | None:
    try:
        return current().entry_script
    except RuntimeError:
        return None
