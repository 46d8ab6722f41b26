"""TCP options that find a dead peer in seconds instead of Linux's 7,875 s default.

HTTP clients leave SO_KEEPALIVE off, so an idle pooled connection to a proxy that vanished is
found only when a request fails on it — and a request waiting on a dead peer waits for the
read timeout (or forever). Keepalive probes find a silent idle peer; TCP_USER_TIMEOUT bounds
how long sent data may stay unacknowledged. Every option is applied only where the platform
has it.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass

__all__ = ["KeepAlive", "apply_socket_options"]


@dataclass(frozen=True, slots=True)
class KeepAlive:
    """TCP keepalive and user-timeout settings.

    Attributes:
        idle: seconds of idleness before the first probe.
        interval: seconds between probes.
        count: unanswered probes before the connection is dropped.
        user_timeout: seconds sent data may stay unacknowledged before the kernel aborts the
            connection (TCP_USER_TIMEOUT); 0 leaves the kernel default. Keep it above the longest
            pause a slow but live peer may take to ACK.
    """

    idle: int = 15
    interval: int = 5
    count: int = 3
    user_timeout: float = 30.0

    def options(self) -> list[tuple[int, int, int]]:
        """``(level, option, value)`` triples, as httpx/httpcore and urllib3 take them."""
        opts = [(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)]
        for name, value in (("TCP_KEEPIDLE", self.idle), ("TCP_KEEPINTVL", self.interval), ("TCP_KEEPCNT", self.count)):
            if hasattr(socket, name):
                opts.append((socket.IPPROTO_TCP, getattr(socket, name), value))
        if self.user_timeout > 0 and hasattr(socket, "TCP_USER_TIMEOUT"):
            opts.append((socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT, int(self.user_timeout * 1000)))
        return opts


def apply_socket_options(sock: socket.socket, options: list[tuple[int, int, int]]) -> None:
    """Set each option on ``sock``."""
    for level, name, value in options:
        sock.setsockopt(level, name, value)
