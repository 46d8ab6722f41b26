"""What every lab listener shares: connection tracking, request records, clean shutdown.

Every listener of the lab (origins, port scenarios, proxies) accepts through a ``Tracker``, so
that stopping the lab closes every socket it opened and a test can count what the server saw.
"""

from __future__ import annotations

import asyncio
import itertools
import socket
import threading
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

__all__ = ["Record", "Tracker", "bind_socket"]

ConnHandler = Callable[[asyncio.StreamReader, asyncio.StreamWriter, int], Awaitable[None]]

# A connection that is reset or closed under us is what the lab is for, not an error of the lab.
_PEER_GONE = (ConnectionError, asyncio.IncompleteReadError, TimeoutError, BrokenPipeError)


@dataclass(frozen=True, slots=True)
class Record:
    """One request (or proxy handshake) that a lab listener received.

    Attributes:
        scenario: the scenario or proxy profile name.
        method: the request method (``CONNECT`` for tunnels, ``SOCKS5`` for SOCKS handshakes).
        target: the request target as sent.
        conn_id: the connection it came on (unique within the lab).
        nth: 1 for the first request on its connection.
        monotonic: ``time.monotonic()`` when its head was read.
        wall: ``time.time()`` at the same moment.
        headers: the request headers.
    """

    scenario: str
    method: str
    target: str
    conn_id: int
    nth: int
    monotonic: float
    wall: float
    headers: tuple[tuple[str, str], ...] = ()


class Tracker:
    """Tracks connections and records across all listeners of one lab; thread-safe to read."""

    def __init__(self) -> None:
        self._ids = itertools.count(1)
        self._tasks: set[asyncio.Task[None]] = set()
        self._writers: set[asyncio.StreamWriter] = set()
        self._cond = threading.Condition()
        self._records: list[Record] = []
        self._accepted: Counter[str] = Counter()
        self.errors: list[BaseException] = []

    # -- used on the lab's loop ------------------------------------------------------------------
    def wrap(self, name: str, handler: ConnHandler) -> Callable[[asyncio.StreamReader, asyncio.StreamWriter], None]:
        """Make a ``start_server`` callback that counts, tracks and always closes the connection."""

        def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            conn_id = next(self._ids)
            with self._cond:
                self._accepted[name] += 1
                self._cond.notify_all()
            task = asyncio.get_running_loop().create_task(self._run(handler, reader, writer, conn_id))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

        return on_connect

    async def _run(
        self, handler: ConnHandler, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, conn_id: int
    ) -> None:
        self._writers.add(writer)
        try:
            await handler(reader, writer, conn_id)
        except _PEER_GONE:
            pass
        except OSError:
            pass  # e.g. ENOTCONN from a client that reset before accept
        except Exception as exc:  # a bug in the lab: keep serving, but let tests see it
            self.errors.append(exc)
        finally:
            self._writers.discard(writer)
            if not writer.transport.is_closing():
                writer.transport.abort()

    def record(self, record: Record) -> None:
        """Store one request record and wake whoever waits for it."""
        with self._cond:
            self._records.append(record)
            self._cond.notify_all()

    def notify(self) -> None:
        """Wake ``wait_for`` callers (for listeners that keep counters of their own)."""
        with self._cond:
            self._cond.notify_all()

    def next_conn_id(self) -> int:
        """A fresh connection id (for listeners that accept without ``wrap``)."""
        return next(self._ids)

    async def close_all(self) -> None:
        """Abort every open connection and wait for every handler to finish."""
        for writer in list(self._writers):
            writer.transport.abort()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    # -- used from any thread ------------------------------------------------------------------
    def records(self, scenario: str | None = None) -> list[Record]:
        """A copy of the records, optionally of one scenario."""
        with self._cond:
            return [r for r in self._records if scenario is None or r.scenario == scenario]

    def accepted(self, name: str) -> int:
        """How many connections the listener ``name`` accepted."""
        with self._cond:
            return self._accepted[name]

    def wait_for(self, predicate: Callable[[], bool], timeout: float = 5.0) -> bool:
        """Block until ``predicate()`` holds (re-checked on every record/accept); False on timeout."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while not predicate():
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(left)
            return True


def bind_socket(host: str, port: int) -> socket.socket:
    """A TCP socket bound (not listening) to host:port with SO_REUSEADDR."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto must be IPPROTO_TCP: asyncio sets TCP_NODELAY on accepted sockets only then, and a
    # response written in two parts would otherwise wait for the client's delayed ACK (~40 ms).
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
    except BaseException:
        sock.close()
        raise
    return sock
