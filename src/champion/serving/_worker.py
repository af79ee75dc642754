"""The gunicorn worker `champion serve` runs: gunicorn's threaded worker, with the entry script's
start-up failure said in one line, and the app behind `_guard.Guard`.

Why threaded: gunicorn's default (sync) worker serves one connection at a time, so a single
connection that sent nothing (a browser's preconnect, a port probe) blocked every request until
the worker timeout killed it, 300 s later. The threaded worker waits for a request on each
connection apart; `_sockets.Client` bounds each of those waits.

Why `load_wsgi` is ours: the package answers an entry script that cannot be imported, lacks
init() or run(), or raises in init() by logging a traceback and exiting 3, and gunicorn's
master then stops with "Worker failed to boot", which `champion serve` reported as a clean stop
(exit 0). Here the reason is written for the serving process (`Setup.report_boot_failure`),
which exits with it: one line, the entry script's file:line, exit 2 (3 for champion's own
script failing on the machine's side).
"""

from __future__ import annotations

import os
import sys
from typing import Any

from gunicorn.workers.gthread import ThreadWorker

from champion.serving._guard import Guard
from champion.serving._logs import boot_failure
from champion.serving._setup import current

__all__ = ["BOOT_ERROR", "Worker"]

BOOT_ERROR = 3  # gunicorn's WORKER_BOOT_ERROR: the master stops instead of forking again


class Worker(ThreadWorker):  # type: ignore[misc]  # gunicorn has no type hints
    def load_wsgi(self) -> None:
        setup = current()
        try:
            super().load_wsgi()
        except BaseException as exc:
            if isinstance(exc, SystemExit) and exc.code in (0, None):
                raise  # stopped (Ctrl-C) while starting: not a failure
            setup.report_boot_failure(boot_failure(exc, setup))
            sys.exit(BOOT_ERROR)
        self.wsgi: Any = Guard(self.wsgi)
        setup.ready_marker(os.getpid()).touch()
