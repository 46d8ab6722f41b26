"""A watchdog that ends blocking attempts at their deadline by shutting their socket down.

A blocking read cannot be interrupted from its own thread, and httpcore reads its read timeout
once per body: a body that trickles a byte per second never trips a 5 s read timeout. So one
daemon thread keeps a heap of attempt deadlines; when one passes, it shuts the attempt's socket
down (``shutdown(SHUT_RDWR)``), which wakes the blocked ``recv`` at once with an end of stream.
The transport then reports a timeout, since it knows the watchdog fired.

It costs a heap push per attempt; the thread wakes only when the earliest deadline passes,
never per request, and stops after a while without work.
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import os
import socket
import threading
import time
from typing import Protocol

__all__ = ["WATCHDOG", "Timer", "Watchdog", "Watched", "shutdown_socket"]

_IDLE_EXIT = 10.0  # seconds without armed timers before the thread ends (a new arm restarts it)
_PRUNE_AT = 1024  # cancelled timers tolerated in the heap before it is rebuilt


class Watched(Protocol):
    """What a timer ends when it fires (an attempt's socket holder)."""

    def expire(self) -> None:
        """Called once, from the watchdog thread, when the deadline passed."""
        ...


class Timer:
    """One armed deadline; :meth:`cancel` it when the attempt ends in time."""

    __slots__ = ("cancelled", "fired", "target")

    def __init__(self, target: Watched) -> None:
        self.target = target
        self.cancelled = False
        self.fired = False

    def cancel(self) -> None:
        """Disarm (idempotent); the heap entry is dropped lazily."""
        self.cancelled = True


class Watchdog:
    """The deadline heap and its thread (one per process is enough: see :data:`WATCHDOG`)."""

    def __init__(self) -> None:
        self._reset()

    def _reset(self) -> None:
        # arm() takes the bare lock (no Python-level Condition.__enter__ per request); notify needs it held.
        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)
        self._heap: list[tuple[float, int, Timer]] = []
        self._seq = itertools.count()
        self._thread: threading.Thread | None = None
        self._wake_at = float("inf")
        self._prune_at = _PRUNE_AT

    def arm(self, when: float, target: Watched) -> Timer:
        """Call ``target.expire()`` at monotonic time ``when`` unless the timer is cancelled first."""
        timer = Timer(target)
        with self._lock:
            heap = self._heap
            if len(heap) > self._prune_at:
                # Timers of attempts that ended in time stay until their deadline; drop them in bulk,
                # and look again only when the heap has doubled (amortised O(1) per arm).
                live = [entry for entry in heap if not entry[2].cancelled]
                if len(live) < len(heap) // 2:
                    heapq.heapify(live)
                    self._heap = heap = live
                self._prune_at = max(_PRUNE_AT, 2 * len(heap))
            heapq.heappush(heap, (when, next(self._seq), timer))
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="sockwise-httpx-watchdog", daemon=True)
                self._thread.start()
            elif when < self._wake_at:
                self._cond.notify()
        return timer

    def _run(self) -> None:
        with self._cond:
            while True:
                now = time.monotonic()
                heap = self._heap
                while heap and (heap[0][2].cancelled or heap[0][0] <= now):
                    _, _, timer = heapq.heappop(heap)
                    if not timer.cancelled:
                        timer.fired = True
                        with contextlib.suppress(Exception):  # a socket already gone: nothing left to end
                            timer.target.expire()
                if heap:
                    self._wake_at = heap[0][0]
                    self._cond.wait(self._wake_at - now)
                    continue
                self._wake_at = float("inf")
                if not self._cond.wait(_IDLE_EXIT) and not self._heap:
                    self._thread = None
                    return


def shutdown_socket(sock: object) -> None:
    """Shut a socket down both ways, from another thread, without touching its TLS state.

    ``ssl.SSLSocket.shutdown`` would drop the TLS object under the reading thread; the base
    class's shutdown only ends the TCP stream, which the reader then sees as an end of stream.
    """
    if isinstance(sock, socket.socket):
        with contextlib.suppress(OSError):
            socket.socket.shutdown(sock, socket.SHUT_RDWR)


WATCHDOG = Watchdog()
"""The process-wide watchdog the sync transport arms per attempt with a timeout."""

if hasattr(os, "register_at_fork"):
    # A forked child has no watchdog thread (and maybe a lock held by the parent's): start afresh.
    os.register_at_fork(after_in_child=WATCHDOG._reset)
