"""The socket guard of `mock_azure_ai_ml()`: inside the mock, nothing leaves the machine.

Why a guard beside the transport: the transport answers every request of every client that was
given it, but code can still reach the network another way (a storage client for a file share
or a data lake, a registry's discovery host, a credential nobody patched, a library of its
own). Any connection or name lookup for a host that is not this machine raises
`UnmockedServiceCall`, naming the SDK member on the call stack and where it was going; the
loopback interface stays open (the local MLflow endpoint, a local `mlflow server`, `champion
serve`), and so do Unix sockets.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable
from typing import Any

from champion.local._unmocked import UnmockedServiceCall, sdk_member

Patch = tuple[object, str, object]
_LOCAL_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback", ""}


def is_loopback(host: Any) -> bool:
    if host is None:
        return True
    if isinstance(host, bytes):
        host = host.decode(errors="replace")
    text = str(host).strip("[]").split("%", 1)[0].lower()
    if text in _LOCAL_NAMES:
        return True
    try:
        return ipaddress.ip_address(text).is_loopback
    except ValueError:
        return False


def _refuse(host: Any, port: Any) -> UnmockedServiceCall:
    return UnmockedServiceCall(
        f"mock_azure_ai_ml: a connection to {host}:{port} would leave this machine; the local "
        "workspace answers only what azure-ai-ml asks through MLClient and its storage clients",
        member=sdk_member(),
    )


def guard_patches() -> list[Patch]:
    """(owner, attribute, replacement) for `socket.socket.connect`, `connect_ex` and
    `socket.getaddrinfo`; `create_connection` goes through both."""
    connect: Callable[..., Any] = socket.socket.connect
    connect_ex: Callable[..., Any] = socket.socket.connect_ex
    getaddrinfo: Callable[..., Any] = socket.getaddrinfo

    def _check(sock: socket.socket, address: Any) -> None:
        if sock.family in (socket.AF_INET, socket.AF_INET6) and isinstance(address, tuple):
            if not is_loopback(address[0]):
                raise _refuse(address[0], address[1])

    def guarded_connect(sock: socket.socket, address: Any) -> Any:
        _check(sock, address)
        return connect(sock, address)

    def guarded_connect_ex(sock: socket.socket, address: Any) -> Any:
        _check(sock, address)
        return connect_ex(sock, address)

    def guarded_getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        if not is_loopback(host):
            raise _refuse(host, port)
        return getaddrinfo(host, port, *args, **kwargs)

    return [
        (socket.socket, "connect", guarded_connect),
        (socket.socket, "connect_ex", guarded_connect_ex),
        (socket, "getaddrinfo", guarded_getaddrinfo),
    ]
