"""The console of a pipeline command: safe to pipe, and safe under an Azure DevOps agent.

Why: text read from a run (a decision's reason, streamed step logs) reaches the console, and
under an agent a `##vso[` in it would be a logging command; a closed pipe (`| head -1`) must
end the output quietly, not with a traceback.
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
from collections.abc import Iterator
from typing import IO

from champion.record import neutralize_logging_commands


class PipeSafeStream(io.TextIOBase):
    """stdout that outlives its reader: once the pipe is closed (`... | head -1`) the rest of
    the output is dropped instead of raising, so the work still finishes and the exit code
    still says how it went."""

    def __init__(self, target: IO[str]) -> None:
        self._target = target
        self.broken = False

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        if not self.broken:
            try:
                self._target.write(text)
            except BrokenPipeError:
                self._close_quietly()
        return len(text)

    def flush(self) -> None:
        if not self.broken:
            try:
                self._target.flush()
            except BrokenPipeError:
                self._close_quietly()

    def _close_quietly(self) -> None:
        """Point the descriptor at /dev/null, so the interpreter's own flush at exit does not
        print "Exception ignored ... BrokenPipeError"."""
        self.broken = True
        devnull = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(devnull, self._target.fileno())
        except (OSError, ValueError):  # not a real file (a test's capture): nothing to quiet
            pass
        finally:
            os.close(devnull)


class _AgentSafeStream(io.TextIOBase):
    """Passes text on line by line with every logging command neutralized. A partial line is
    held back until its end: `#` now and `#vso[` later would still make one command."""

    def __init__(self, target: IO[str]) -> None:
        self._target = target
        self._pending = ""

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        *lines, self._pending = (self._pending + text).split("\n")
        for line in lines:
            self._target.write(neutralize_logging_commands(line) + "\n")
        return len(text)

    def flush(self) -> None:
        self._target.flush()

    def finish(self) -> None:
        if self._pending:
            self._target.write(neutralize_logging_commands(self._pending) + "\n")
            self._pending = ""
        self._target.flush()


@contextlib.contextmanager
def agent_safe_console(enabled: bool) -> Iterator[IO[str]]:
    """When `enabled`, filter stdout and stderr (ours and the SDK's) through
    `neutralize_logging_commands` and yield the real stdout, the one channel left for
    commands we mean; otherwise change nothing."""
    real = sys.stdout
    if not enabled:
        yield real
        return
    out, err = _AgentSafeStream(sys.stdout), _AgentSafeStream(sys.stderr)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            yield real
    finally:
        out.finish()
        err.finish()
