"""The lab starts, survives hostile clients, and stops without leaving a socket or thread behind."""

from __future__ import annotations

import gc
import http.client
import os
import socket
import struct
import threading

import pytest

from sockwise import ConfigError
from sockwise.lab import Lab


def _fds() -> set[str]:
    # Collect first: an object an earlier test dropped may otherwise close its fd mid-test.
    gc.collect()
    return set(os.listdir("/proc/self/fd"))


def _get_ok(lab: Lab) -> bytes:
    conn = http.client.HTTPConnection(lab.host, lab.port("origin"), timeout=5)
    try:
        conn.request("GET", "/fault/ok")
        return conn.getresponse().read()
    finally:
        conn.close()


def _rst_close(sock: socket.socket) -> None:
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


def test_stop_leaves_no_fd_or_thread() -> None:
    """After stop(), every fd and thread the lab (and its clients' peers) opened is gone."""
    before_fds, before_threads = _fds(), threading.active_count()
    lab = Lab().start()
    assert _get_ok(lab) == b"ok"
    idle = socket.create_connection(lab.address("origin"), timeout=5)  # held open across stop()
    stalled = socket.create_connection(lab.address("tls-stall"), timeout=5)
    assert lab.wait_for(lambda: lab.accepted("origin") >= 2 and lab.accepted("tls-stall") >= 1)
    lab.stop()
    idle.close()
    stalled.close()
    assert _fds() - before_fds == set()  # nothing opened by the lab is left
    assert threading.active_count() == before_threads


def test_stop_is_idempotent_and_restartable() -> None:
    """stop() twice is harmless, and a stopped Lab object can start again on new ports."""
    lab = Lab().start()
    lab.stop()
    lab.stop()
    with lab:
        assert _get_ok(lab) == b"ok"


def test_survives_1000_resets_before_accept(sockwise_lab: Lab) -> None:
    """1,000 clients that reset right after connecting never stop the lab from answering `ok`."""
    addr = sockwise_lab.address("origin")
    for _ in range(1000):
        sock = socket.create_connection(addr, timeout=5)
        _rst_close(sock)
    assert _get_ok(sockwise_lab) == b"ok"
    assert sockwise_lab.wait_for(lambda: sockwise_lab.accepted("origin") >= 1001, timeout=30)
    assert _get_ok(sockwise_lab) == b"ok"
    assert sockwise_lab.errors == []


def test_survives_silent_clients(sockwise_lab: Lab) -> None:
    """Clients that connect and never send do not block anyone else."""
    silent = [socket.create_connection(sockwise_lab.address("origin"), timeout=5) for _ in range(50)]
    try:
        assert sockwise_lab.wait_for(lambda: sockwise_lab.accepted("origin") >= 50)
        assert _get_ok(sockwise_lab) == b"ok"
    finally:
        for sock in silent:
            sock.close()


def test_serves_heads_sent_byte_by_byte(sockwise_lab: Lab) -> None:
    """A request head that arrives one byte per send is still parsed and answered."""
    head = b"GET /fault/ok HTTP/1.1\r\nHost: lab\r\nConnection: close\r\n\r\n"
    with socket.create_connection(sockwise_lab.address("origin"), timeout=5) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for i in range(len(head)):
            sock.sendall(head[i : i + 1])
        data = b""
        while chunk := sock.recv(4096):
            data += chunk
    assert data.startswith(b"HTTP/1.1 200 OK")
    assert data.endswith(b"ok")


def test_not_http_gets_400(sockwise_lab: Lab) -> None:
    """Binary junk on the plain port is answered with 400 and a close, like a plain server does."""
    with socket.create_connection(sockwise_lab.address("origin"), timeout=5) as sock:
        sock.sendall(b"\x16\x03\x01\x00\x05hello")
        data = sock.recv(4096)
    assert data.startswith(b"HTTP/1.1 400 Bad Request")
    assert _get_ok(sockwise_lab) == b"ok"


def test_port_in_use_is_a_config_error() -> None:
    """Asking for a port that is taken gives a ConfigError naming the port and the fix."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        with pytest.raises(ConfigError, match=f"port {port} on 127.0.0.1 is in use"):
            Lab(port=port).start()
