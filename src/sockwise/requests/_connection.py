"""urllib3 connections and pools that report an attempt's progress and hold its deadline.

The adapter puts the running attempt (an :class:`AttemptState`) in a thread-local for the
duration of one attempt; the classes here read it:

* the pools note whether the attempt got a pooled keep-alive connection
  (``ctx.reused_connection``) and, when the attempt must not reuse one (``ctx.fresh_connection``,
  after the stale keep-alive race), close it so that urllib3 opens a new one;
* the connections note the phase as they go: connect (to the proxy or the origin), proxy
  handshake (TLS to the proxy, CONNECT), TLS, send (on a new connection once it is up, on a
  pooled one as soon as the pool hands it out), wait;
* the response reads its socket through :class:`BoundedReader`, which sets the socket's timeout
  before every ``recv`` to what is left of the attempt. A per-read timeout alone never fires while
  bytes keep trickling in; with the deadline checked before each ``recv``, no read can block past
  it, for the status line, the headers and the body alike.

Outside an attempt (``AttemptState`` absent) every class behaves exactly like urllib3's own.
"""

from __future__ import annotations

import contextlib
import http.client
import io
import socket
import threading
import time
from typing import TYPE_CHECKING, Any

from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from sockwise._model import Phase
from sockwise.runner import AttemptContext

if TYPE_CHECKING:
    from urllib3._base_connection import BaseHTTPConnection, BaseHTTPSConnection

__all__ = [
    "POOL_CLASSES",
    "AttemptState",
    "BoundedReader",
    "BoundedResponse",
    "TrackedHTTPConnection",
    "TrackedHTTPConnectionPool",
    "TrackedHTTPSConnection",
    "TrackedHTTPSConnectionPool",
    "after_connect",
    "current",
    "note_pooled",
]


class AttemptState:
    """One attempt as the urllib3 layer sees it (set as :data:`current` while the attempt runs).

    Attributes:
        ctx: the runner's context: the phase and reuse hints are written into it.
        deadline: monotonic time the attempt must end by, or None (no sockwise bound).
        read_timeout: the per-read timeout urllib3 was given for this attempt (None: none).
        sock: the socket the response is read from, once there is one.
        manager: the proxy pool manager the attempt holds (the adapter keeps it open until the
            attempt ends), or None.
    """

    __slots__ = ("ctx", "deadline", "manager", "read_timeout", "sock")

    def __init__(self, ctx: AttemptContext, deadline: float | None, read_timeout: float | None) -> None:
        self.ctx = ctx
        self.deadline = deadline
        self.read_timeout = read_timeout
        self.sock: socket.socket | None = None
        self.manager: Any = None

    def hand_over(self) -> None:
        """The attempt ended with a response the caller streams: lift the deadline from its reads.

        The caller's reads keep the per-read timeout of the attempt, and no total bound.
        """
        self.deadline = None
        sock = self.sock
        if sock is not None:
            with contextlib.suppress(OSError):  # already closed (an empty body): nothing left to read
                sock.settimeout(self.read_timeout)


class _Current(threading.local):
    attempt: AttemptState | None = None


current = _Current()
"""The attempt running on this thread, set by the adapter around one attempt."""


class BoundedReader(io.RawIOBase):
    """The raw stream under an HTTP response: every ``recv`` ends by the attempt's deadline.

    Wraps the ``socket.SocketIO`` that ``http.client`` made; before each read it sets the socket's
    timeout to the time left (or to the per-read timeout, when that is shorter), and once the
    deadline has passed it raises ``TimeoutError`` — which urllib3 reports as a read timeout,
    exactly as for a socket that timed out.
    """

    def __init__(self, raw: io.RawIOBase, sock: socket.socket, attempt: AttemptState) -> None:
        super().__init__()
        self._raw = raw
        self._sock = sock
        self._attempt = attempt

    def readable(self) -> bool:
        """Always: it is a read stream."""
        return True

    def readinto(self, buffer: Any) -> int | None:
        """One ``recv`` into ``buffer``, within the attempt's deadline."""
        attempt = self._attempt
        deadline = attempt.deadline
        if deadline is not None:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("timed out")
            per_read = attempt.read_timeout
            self._sock.settimeout(left if per_read is None or left < per_read else per_read)
        return self._raw.readinto(buffer)

    def fileno(self) -> int:
        """The socket's file descriptor."""
        return self._raw.fileno()

    def close(self) -> None:
        """Close the socket's reader (the socket stays with its connection, as with ``makefile``)."""
        if not self.closed:
            try:
                self._raw.close()
            finally:
                super().close()


class BoundedResponse(http.client.HTTPResponse):
    """``http.client``'s response, reading through a :class:`BoundedReader` during a bounded attempt."""

    def __init__(self, sock: socket.socket, debuglevel: int = 0, method: str | None = None, url: str | None = None):
        super().__init__(sock, debuglevel, method, url)
        attempt = current.attempt
        if attempt is None or attempt.deadline is None:
            return
        # makefile()'s reader, detached from its socket.SocketIO (which stays open) and rebuilt over it.
        self.fp = io.BufferedReader(BoundedReader(self.fp.detach(), sock, attempt))
        attempt.sock = sock


def after_connect(conn: HTTPConnection, ctx: AttemptContext) -> None:
    # What comes next on a connection that has just been made.
    if conn._tunnel_host is not None:
        ctx.phase = Phase.PROXY_HANDSHAKE  # TLS to an https proxy, then CONNECT
    elif isinstance(conn, HTTPSConnection):
        ctx.phase = Phase.TLS
    else:
        ctx.phase = Phase.SEND


class TrackedHTTPConnection(HTTPConnection):
    """urllib3's ``HTTPConnection``, noting the phase of the running attempt."""

    response_class = BoundedResponse

    def _connect_phase(self) -> Phase:
        return Phase.PROXY_CONNECT if self.proxy is not None else Phase.CONNECT

    def _new_conn(self) -> socket.socket:
        attempt = current.attempt
        if attempt is None:
            return super()._new_conn()
        attempt.ctx.phase = self._connect_phase()
        sock = super()._new_conn()
        after_connect(self, attempt.ctx)
        return sock

    def _tunnel(self) -> None:
        super()._tunnel()
        attempt = current.attempt
        if attempt is not None:
            attempt.ctx.phase = Phase.TLS if isinstance(self, HTTPSConnection) else Phase.SEND

    def getresponse(self) -> Any:  # urllib3's HTTPResponse
        """Wait for the response headers (phase ``wait``)."""
        attempt = current.attempt
        if attempt is not None:
            attempt.ctx.phase = Phase.WAIT
        return super().getresponse()


class TrackedHTTPSConnection(TrackedHTTPConnection, HTTPSConnection):
    """urllib3's ``HTTPSConnection``, noting the phase of the running attempt."""

    def connect(self) -> None:
        """Connect (through any proxy) and shake hands; what follows is sending the request."""
        super().connect()
        attempt = current.attempt
        if attempt is not None:
            attempt.ctx.phase = Phase.SEND


def note_pooled(conn: Any) -> None:
    """Tell the running attempt whether ``conn`` is a pooled live connection (or drop it when it must be fresh)."""
    attempt = current.attempt
    if attempt is None or conn.is_closed:
        return
    ctx = attempt.ctx
    if ctx.fresh_connection:
        # After the stale keep-alive race the retry must not ride another pooled connection.
        conn.close()
    else:
        ctx.reused_connection = True
        ctx.phase = Phase.SEND  # a live connection: the request goes out next


class TrackedHTTPConnectionPool(HTTPConnectionPool):
    """An ``HTTPConnectionPool`` of :class:`TrackedHTTPConnection` that reports connection reuse."""

    ConnectionCls: type[BaseHTTPConnection] | type[BaseHTTPSConnection] = TrackedHTTPConnection

    def _get_conn(self, timeout: float | None = None) -> Any:
        conn = super()._get_conn(timeout)
        note_pooled(conn)
        return conn


class TrackedHTTPSConnectionPool(HTTPSConnectionPool):
    """An ``HTTPSConnectionPool`` of :class:`TrackedHTTPSConnection` that reports connection reuse."""

    ConnectionCls: type[BaseHTTPSConnection] = TrackedHTTPSConnection

    def _get_conn(self, timeout: float | None = None) -> Any:
        conn = super()._get_conn(timeout)
        note_pooled(conn)
        return conn


POOL_CLASSES: dict[str, type[HTTPConnectionPool]] = {
    "http": TrackedHTTPConnectionPool,
    "https": TrackedHTTPSConnectionPool,
}
"""``PoolManager.pool_classes_by_scheme`` for the adapter's pool managers."""
