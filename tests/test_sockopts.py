"""Keepalive and TCP_USER_TIMEOUT options land on real sockets as configured."""

from __future__ import annotations

import socket

from sockwise._sockopts import KeepAlive, apply_socket_options


def test_default_options_apply_to_a_socket() -> None:
    """The defaults turn keepalive on with 15/5/3 and a 30 s user timeout."""
    with socket.socket() as sock:
        apply_socket_options(sock, KeepAlive().options())
        assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE) == 1
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE) == 15
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL) == 5
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT) == 3
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT) == 30_000


def test_zero_user_timeout_leaves_kernel_default() -> None:
    """user_timeout=0 adds no TCP_USER_TIMEOUT option."""
    names = [name for _, name, _ in KeepAlive(user_timeout=0).options()]
    assert socket.TCP_USER_TIMEOUT not in names
    assert socket.SO_KEEPALIVE in names
