"""Run a user's step as a process group that ends with the step: the one way champion starts one.

Why a module of its own: the local runner, the MLflow runner and the testing kit's `run_step`
all run a user's step script, and each used to read the step's output to the end before it
waited for the step. A step that exits at once but leaves a background child holding its
stdout (a server it forgot, a daemon, `cmd &` in a shell) then kept the pipeline waiting for
that child's whole life: forever, for a daemon. On Azure ML a step's container ends with its
main process; here its process group does:

- the step starts in a session and process group of its own (which also keeps a Ctrl-C at
  the terminal from reaching it before the runner has decided what to do);
- its output is read until every pipe is closed, or until `DRAIN_S` after its main process
  exited, whichever comes first: what a child prints in that time is still logged;
- then whatever is left of the group gets SIGTERM, and SIGKILL after `GRACE_S`. The same
  happens when the runner is interrupted, the caller's timeout passes or the caller's `stop`
  says so (the pipeline was canceled), and a second Ctrl-C during the grace kills at once.

The main process is not reaped until the group has been signalled, so its id (the group's)
cannot be reused by an unrelated process in between. A child that left the group on purpose
(`setsid`) is out of reach, as it would be of a process-group kill anywhere; the runner no
longer waits for it. POSIX only, as the rest of the local runner.
"""

from __future__ import annotations

import contextlib
import os
import select
import selectors
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

__all__ = [
    "DRAIN_S",
    "GRACE_S",
    "WATCH_S",
    "Sink",
    "StepTimedOut",
    "Stopped",
    "run_in_own_group",
]

Sink = Callable[[bytes], None]
"""Where a chunk of the step's output goes, as it arrives."""

DRAIN_S = 2.0
"""How long output is still read after the step's main process exited."""

GRACE_S = 10.0
"""How long the group gets between SIGTERM and SIGKILL."""

WATCH_S = 0.5
"""How often the caller's `stop` is asked while the step runs."""

_POLL_S = 0.1  # only where the kernel cannot say when a process exits (no pidfd)
_CHUNK = 65536


def run_in_own_group(
    command: Sequence[str],
    *,
    cwd: str | os.PathLike[str],
    env: Mapping[str, str],
    stdout: Sink,
    stderr: Sink | None = None,
    timeout: float | None = None,
    stop: Callable[[], bool] | None = None,
) -> int:
    """Run `command` in its own process group, passing its output to `stdout` (and its stderr
    to `stderr`, or merged into stdout when None) as it arrives; return the main process's
    exit code (negative: killed by that signal). Whatever is left of the group when the
    main process has exited is ended (see the module). `timeout` (seconds) ends the whole group
    and raises `StepTimedOut` (a `subprocess.TimeoutExpired`); `stop`, asked every `WATCH_S`
    while the main process runs, ends the whole group when it returns True and raises
    `Stopped`."""
    deadline = None if timeout is None else time.monotonic() + timeout
    watch = _Watch(stop)
    held = _CtrlCHeld()
    try:
        proc = subprocess.Popen(
            list(command),
            cwd=cwd,
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT if stderr is None else subprocess.PIPE,
            start_new_session=True,
        )
        main = _MainExit(proc.pid)
    except BaseException:
        held.release()
        raise
    try:
        held.release()  # a Ctrl-C that came during the start is raised here, where it is ended
        pipes = [(proc.stdout, stdout), (proc.stderr, stderr)]
        read = [(p.fileno(), sink) for p, sink in pipes if p is not None and sink is not None]
        # a step may close its output and run on: then its exit is what ends it
        finished = _pump(read, main, deadline, watch) and main.wait(deadline, watch)
    finally:
        for pipe in (proc.stdout, proc.stderr):
            if pipe is not None:
                pipe.close()
        try:
            _end_group(proc, main)
        finally:
            main.close()
    if watch.stopped:
        raise Stopped(proc.returncode)
    if not finished:
        raise StepTimedOut(list(command), timeout or 0.0, proc.returncode)
    return proc.returncode


class StepTimedOut(subprocess.TimeoutExpired):
    """The timeout passed and the step's group was ended; `returncode` is how its main process
    ended (negative: the signal that ended it)."""

    def __init__(self, cmd: list[str], timeout: float, returncode: int) -> None:
        super().__init__(cmd, timeout)
        self.returncode = returncode


class Stopped(Exception):
    """The caller's `stop` ended the step's group; `returncode` is how its main process ended."""

    def __init__(self, returncode: int) -> None:
        super().__init__(f"the step was stopped (exit code {returncode})")
        self.returncode = returncode


class _Watch:
    """The caller's `stop`, asked at most every `WATCH_S`; once it said yes, it stays yes."""

    def __init__(self, stop: Callable[[], bool] | None) -> None:
        self._stop = stop
        self._next = time.monotonic() + WATCH_S
        self.stopped = False

    @property
    def active(self) -> bool:
        return self._stop is not None

    def due(self) -> float | None:
        """Seconds until the next question (None: no question to ask)."""
        return None if self._stop is None else max(0.0, self._next - time.monotonic())

    def says_stop(self) -> bool:
        if self._stop is None or self.stopped:
            return self.stopped
        if time.monotonic() >= self._next:
            self._next = time.monotonic() + WATCH_S
            self.stopped = bool(self._stop())
        return self.stopped


class _CtrlCHeld:
    """Ctrl-C held back while the step starts: Popen interrupted after its fork loses the
    child, which then runs on as an orphan nobody ends. `release()` restores the handler and
    sends a Ctrl-C that came meanwhile again. Only the main thread handles signals."""

    def __init__(self) -> None:
        self.came = False
        self.held = threading.current_thread() is threading.main_thread()
        self.previous: Any = signal.signal(signal.SIGINT, self._note) if self.held else None

    def _note(self, signum: int, frame: Any) -> None:
        self.came = True

    def release(self) -> None:
        if self.held:
            self.held = False
            # None: a handler not set from Python, which Python cannot put back; the default
            previous = signal.default_int_handler if self.previous is None else self.previous
            signal.signal(signal.SIGINT, previous)
            if self.came:
                signal.raise_signal(signal.SIGINT)


class _MainExit:
    """Whether the step's main process has exited, learnt without reaping it (`WNOWAIT`): a
    pidfd where the kernel has them (a selector wakes on it), else a poll."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.fd: int | None = None
        with contextlib.suppress(AttributeError, OSError):
            self.fd = os.pidfd_open(pid)

    def exited(self) -> bool:
        try:
            found = os.waitid(os.P_PID, self.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
        except ChildProcessError:  # already reaped
            return True
        return found is not None

    def wait(self, deadline: float | None, watch: _Watch | None = None) -> bool:
        """Wait until it exited, `deadline` passed or `watch` says stop; True when it exited."""
        while not self.exited():
            if watch is not None and watch.says_stop():
                return False
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                return False
            due = None if watch is None else watch.due()
            if due is not None:
                left = due if left is None else min(left, due)
            if self.fd is not None:  # poll, not select: a pidfd may be numbered past 1,024
                waiting = select.poll()
                waiting.register(self.fd, select.POLLIN)
                waiting.poll(None if left is None else left * 1000)
            else:
                time.sleep(_POLL_S if left is None else min(_POLL_S, left))
        return True

    def close(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


def _pump(
    pipes: list[tuple[int, Sink]], main: _MainExit, deadline: float | None, watch: _Watch
) -> bool:
    """Pass each pipe's chunks to its sink until every pipe is closed, or `DRAIN_S` after the
    main process exited (a child may hold a pipe for ever); False when `deadline` came first
    or `watch` said stop while the main process ran."""
    with selectors.DefaultSelector() as selector:
        for fd, sink in pipes:
            selector.register(fd, selectors.EVENT_READ, sink)
        if main.fd is not None:
            selector.register(main.fd, selectors.EVENT_READ, None)
        open_pipes = len(pipes)
        drain_end: float | None = None
        while open_pipes:
            now = time.monotonic()
            if drain_end is None and main.fd is None and main.exited():
                drain_end = now + DRAIN_S
            if deadline is not None and now >= deadline:
                return False
            if drain_end is not None and now >= drain_end:
                return True
            if drain_end is None and watch.says_stop():
                return False
            ends = [t - now for t in (deadline, drain_end) if t is not None]
            due = watch.due()
            if due is not None and drain_end is None:
                ends.append(due)
            wait = min(ends) if ends else None
            if main.fd is None and drain_end is None:
                wait = _POLL_S if wait is None else min(wait, _POLL_S)
            for key, _ in selector.select(wait):
                if key.data is None:  # the pidfd: the main process exited
                    selector.unregister(key.fd)
                    drain_end = time.monotonic() + DRAIN_S
                    continue
                chunk = os.read(key.fd, _CHUNK)
                if chunk:
                    key.data(chunk)
                else:
                    selector.unregister(key.fd)
                    open_pipes -= 1
    return True


def _end_group(proc: subprocess.Popen[bytes], main: _MainExit) -> None:
    """SIGTERM to the step's group, SIGKILL to what is left of it after `GRACE_S` (at once on
    a second interrupt); the main process is reaped after its group was signalled."""
    group = proc.pid
    grace_end = time.monotonic() + GRACE_S
    _signal(group, signal.SIGTERM)
    try:
        if not main.wait(grace_end):
            _signal(group, signal.SIGKILL)
        proc.wait()
        while _alive(group) and time.monotonic() < grace_end:
            time.sleep(0.05)
    except BaseException:
        _signal(group, signal.SIGKILL)
        proc.wait()
        raise
    if _alive(group):
        _signal(group, signal.SIGKILL)


def _signal(group: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(group, signum)


_PROC = Path("/proc")


def _alive(group: int) -> bool:
    """Whether a process of the group still runs. A zombie does not: where init does not reap
    orphans (some containers) the ended ones stay in the group until the container ends."""
    try:
        os.killpg(group, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    if not _PROC.is_dir():
        return True
    for entry in os.scandir(_PROC):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(entry.path, "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2 :].split()  # state, ppid, pgrp, ...
        if len(fields) > 2 and int(fields[2]) == group and fields[0] not in ("Z", "X"):
            return True
    return False
