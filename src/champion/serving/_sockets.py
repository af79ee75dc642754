"""The endpoint's port, claimed once, and client connections whose every wait has a bound.

Why claim the port here, before anything is downloaded or recorded: the old check probed the
port and let it go, then gunicorn bound it a second or more later. Two `champion serve` started
together both passed the probe; the loser's gunicorn retried for five seconds, gave up, and the
command printed "the server stopped" and exited 0. Now the socket that answered the check is the
one gunicorn serves on (`_gunicorn.on_starting`), so the check and the bind are one act.

Why a socket class of our own: gunicorn reads a request with a blocking `recv` that has no
bound. One client that connects and sends half a request (or nothing after its first byte)
held a worker until gunicorn's 300 s worker timeout, and every other client waited behind it.
The connections `Listener.accept` hands out turn "blocking" into "wait at most
`CLIENT_SILENCE_S`", whatever gunicorn version or worker class asks: a client silent for that
long in the middle of a request is treated as gone (its read ends, as on a closed connection),
and one that does not read its answer for that long is a broken pipe. gunicorn's own bounded
waits (an explicit `settimeout(seconds)`) keep their meaning.
"""

from __future__ import annotations

import errno
import socket
from typing import TYPE_CHECKING

from champion.errors import InputError

if TYPE_CHECKING:
    from _typeshed import ReadableBuffer, WriteableBuffer

__all__ = ["CLIENT_SILENCE_S", "Client", "Listener", "claim_port"]

CLIENT_SILENCE_S = 10.0
BACKLOG = 2048  # gunicorn's default


class Client(socket.socket):
    """An accepted connection: "blocking" means "blocking for at most CLIENT_SILENCE_S"."""

    _gone = False

    def setblocking(self, flag: bool) -> None:
        if flag:
            super().settimeout(CLIENT_SILENCE_S)
        else:
            super().setblocking(False)

    def settimeout(self, value: float | None) -> None:
        super().settimeout(CLIENT_SILENCE_S if value is None else value)

    def _silent(self) -> bool:
        """Whether the timeout that just fired is ours (not a bound gunicorn set itself)."""
        return self.gettimeout() == CLIENT_SILENCE_S

    def recv(self, bufsize: int, flags: int = 0) -> bytes:
        if self._gone:
            return b""
        try:
            return super().recv(bufsize, flags)
        except TimeoutError:
            if not self._silent():
                raise
            self._gone = True
            return b""

    def recv_into(self, buffer: WriteableBuffer, nbytes: int = 0, flags: int = 0) -> int:
        if self._gone:
            return 0
        try:
            return super().recv_into(buffer, nbytes, flags)
        except TimeoutError:
            if not self._silent():
                raise
            self._gone = True
            return 0

    def send(self, data: ReadableBuffer, flags: int = 0) -> int:
        try:
            return super().send(data, flags)
        except TimeoutError:
            if not self._silent():
                raise
            raise _unread() from None

    def sendall(self, data: ReadableBuffer, flags: int = 0) -> None:
        try:
            super().sendall(data, flags)
        except TimeoutError:
            if not self._silent():
                raise
            raise _unread() from None


def _unread() -> BrokenPipeError:
    return BrokenPipeError(
        errno.EPIPE, f"the client read none of its answer for {CLIENT_SILENCE_S:g} s"
    )


class Listener(socket.socket):
    """The endpoint's listening socket; what it accepts is a `Client`."""

    def accept(self) -> tuple[socket.socket, object]:
        fd, address = self._accept()  # type: ignore[attr-defined]
        client = Client(self.family, self.type, self.proto, fileno=fd)
        if socket.getdefaulttimeout() is None and self.gettimeout():
            client.setblocking(True)  # as socket.accept does for a listener with a timeout
        return client, address


def claim_port(host: str, port: int) -> Listener:
    """Bind and listen on `host:port` now, or one line saying why not (nothing else has been
    done yet). SO_REUSEADDR, as gunicorn sets it: a port left in TIME_WAIT by the last run is
    free; a port another process listens on is not."""
    listener = Listener(socket.AF_INET, socket.SOCK_STREAM)
    try:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((host, port))
        listener.listen(BACKLOG)
    except OSError as exc:
        listener.close()
        taken = exc.errno == errno.EADDRINUSE
        raise InputError(
            f"port {port} on {host} "
            + ("is in use" if taken else f"cannot be used ({exc.strerror})")
            + "; choose another with --port",
            field="--port",
            value=port,
        ) from None
    return listener
