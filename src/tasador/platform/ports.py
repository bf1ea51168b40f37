"""The ports the local platform listens on: taken ones are found before anything starts.

A service that cannot listen fails late and obscurely (PostgreSQL's log, a subprocess's exit
code), and one already answering on the port could pass a health check meant for ours. So
`tasador up` checks every port it would listen on first, and names each taken one with the
setting that moves it.
"""

from __future__ import annotations

import socket
from collections.abc import Iterable
from dataclasses import dataclass

from tasador.platform import PlatformStartError


class PortInUseError(PlatformStartError):
    """A port the local platform needs is taken; the message says which and how to move it."""


@dataclass(frozen=True)
class Listener:
    """A service the local platform would start, where it listens, and the setting for the port."""

    service: str
    host: str
    port: int
    setting: str


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nothing listens on right now (the OS picks it)."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def port_in_use(host: str, port: int) -> bool:
    """Whether something accepts connections on host:port right now (IPv4, IPv6 or a name)."""
    try:
        with socket.create_connection((host, port), timeout=1.0):
            return True
    except OSError:  # refused, unreachable, timed out, or a name that does not resolve
        return False


def require_free(listeners: Iterable[Listener]) -> None:
    """Raise `PortInUseError` naming every listener whose port is taken."""
    taken = [item for item in listeners if port_in_use(item.host, item.port)]
    if taken:
        raise PortInUseError(
            "\n".join(
                f"{item.host}:{item.port}, for {item.service}, is in use (another tasador up?): "
                f"stop what listens there, or set {item.setting} to another port"
                for item in taken
            )
        )
