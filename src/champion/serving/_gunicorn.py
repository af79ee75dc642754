"""gunicorn's settings for `champion serve`, read by gunicorn as a config module
(`GUNICORN_CMD_ARGS="--config python:champion.serving._gunicorn"`, set by `_server`).

Why a config module: azureml-inference-server-http builds gunicorn's command line itself (bind,
worker count, timeout, logs) and offers no way to choose the worker or add hooks; gunicorn
reads this module before that command line, which still wins for what it sets. Naming it also
keeps gunicorn from loading a `gunicorn.conf.py` that happens to sit in the working folder.

Every lowercase name gunicorn knows as a setting is read from here, so this module defines
only settings and imports nothing at module level.
"""

from __future__ import annotations

from typing import Any

# A thread per connection that is sending a request: idle connections wait on the worker's
# poller, not a thread, and the entry script still runs one request at a time (`_guard`).
worker_class = "champion.serving._worker.Worker"
threads = 16
sendfile = False  # every write goes through `_sockets.Client`, whose waits are bounded
control_socket_disable = True  # one per user ($HOME/.gunicorn): two endpoints would fight


def on_starting(server: Any) -> None:
    """Serve on the port `champion serve` claimed (`_sockets.claim_port`) instead of binding
    it again: the check that it is free and the bind are one act."""
    import os

    from gunicorn.sock import TCPSocket

    from champion.serving._setup import current

    claimed = current().listener
    listener = TCPSocket(claimed.getsockname(), server.cfg, server.log, fd=os.dup(claimed.fileno()))
    listener.sock.close()  # the duplicate gunicorn made: accept on ours, which bounds clients
    claimed.setblocking(False)
    listener.sock = claimed
    server.LISTENERS = [listener]


def child_exit(server: Any, worker: Any) -> None:
    """A worker that ended before it was ready (killed, out of memory, a crash in native code
    during init()) would be forked again, and again, for ever: stop the server instead."""
    from gunicorn.errors import HaltServer

    from champion.errors import InfrastructureError
    from champion.serving._setup import current

    setup = current()
    if not server.LISTENERS or setup.ready_marker(worker.pid).exists():
        return  # stopping (gunicorn lets go of its listeners first), or it had started
    setup.report_boot_failure(
        InfrastructureError(
            f"the server's worker (pid {worker.pid}) ended before the entry script's init() "
            "returned: killed (out of memory?) or crashed in native code; the log above says "
            "which",
            field="--entry-script",
            value=str(setup.entry_script),
        )
    )
    raise HaltServer("Worker failed to boot.", 3)
