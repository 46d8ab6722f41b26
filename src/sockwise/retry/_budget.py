"""Retry budgets: retries may be at most a share of requests, so failures never become a storm.

The model is Finagle's ``RetryBudget``: every request deposits one token, every retry withdraws
``1 / ratio`` tokens, deposits and withdrawals expire after ``ttl`` seconds, and a reserve of
``min_retries_per_second * ttl`` retries per window lets a quiet client retry at all. In retry
counts: within any ``ttl`` window, retries <= ratio * requests + min_retries_per_second * ttl.
Envoy's ``retry_budget`` caps the same share (20 %) of active requests.

Two buckets guard each retry: one for the host and one for everything; a retry needs room in both.
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict

from sockwise._exceptions import ConfigError

__all__ = ["RetryBudget"]

_SLOTS = 10


class _Window:
    """Request and retry counts over the last ``_SLOTS`` time slots (a ring)."""

    __slots__ = ("current", "retries", "slot_requests", "slot_retries")

    def __init__(self, slot: int) -> None:
        self.current = slot
        self.retries = 0
        self.slot_requests = [0] * _SLOTS
        self.slot_retries = [0] * _SLOTS

    @property
    def requests(self) -> int:
        # Summed when a retry asks, not kept as a running total: deposits (every request)
        # are far more frequent than withdrawals (retries only).
        return sum(self.slot_requests)

    def roll(self, slot: int) -> None:
        """Expire the slots older than the window that ends at ``slot``."""
        steps = slot - self.current
        if steps <= 0:
            # A slightly older reading (another thread read the clock first) stays in the current slot.
            return
        if steps >= _SLOTS:
            self.retries = 0
            self.slot_requests = [0] * _SLOTS
            self.slot_retries = [0] * _SLOTS
        else:
            for i in range(self.current + 1, slot + 1):
                idx = i % _SLOTS
                self.retries -= self.slot_retries[idx]
                self.slot_requests[idx] = 0
                self.slot_retries[idx] = 0
        self.current = slot


class RetryBudget:
    """A token bucket per host plus a global one, limiting retries to a share of requests.

    Stateful, but time is passed in (monotonic seconds) and nothing sleeps. Thread-safe: one lock
    guards a few additions, never I/O, so it is safe to call from asyncio code too.

    Args:
        ratio: the share of requests that may be retried, in ``[0, 1]`` (default 20 %).
        min_retries_per_second: the floor: this many retries per second are always allowed,
            averaged over ``ttl`` (default 10, as Finagle).
        ttl: how long a request or retry counts, in seconds (default 10).
        max_hosts: hosts tracked at once; the oldest host's bucket is dropped beyond it.

    Raises:
        ConfigError: a ratio outside ``[0, 1]``, a negative floor, a non-positive ttl or max_hosts.
    """

    __slots__ = (
        "_global",
        "_hosts",
        "_lock",
        "_pending",
        "_slot",
        "_width",
        "max_hosts",
        "min_retries_per_second",
        "ratio",
        "reserve",
        "ttl",
    )

    def __init__(
        self,
        *,
        ratio: float = 0.2,
        min_retries_per_second: float = 10.0,
        ttl: float = 10.0,
        max_hosts: int = 10_000,
    ) -> None:
        if not _number(ratio) or not 0 <= ratio <= 1:
            raise ConfigError(f"retry budget ratio must be between 0 and 1 (0.2 = 20 % of requests), got {ratio!r}")
        if not _number(min_retries_per_second) or min_retries_per_second < 0:
            raise ConfigError(f"retry budget min_retries_per_second must be >= 0, got {min_retries_per_second!r}")
        if not _number(ttl) or ttl <= 0:
            raise ConfigError(f"retry budget ttl must be > 0 seconds, got {ttl!r}")
        if isinstance(max_hosts, bool) or not isinstance(max_hosts, int) or max_hosts < 1:
            raise ConfigError(f"retry budget max_hosts must be an int >= 1, got {max_hosts!r}")
        self.ratio = float(ratio)
        self.min_retries_per_second = float(min_retries_per_second)
        self.ttl = float(ttl)
        self.max_hosts = max_hosts
        self.reserve = self.min_retries_per_second * self.ttl
        self._width = self.ttl / _SLOTS
        self._lock = threading.Lock()
        self._global: _Window | None = None
        self._hosts: OrderedDict[str, _Window] = OrderedDict()
        # Deposits of the current slot, per host, not yet folded into the windows (see deposit).
        self._pending: dict[str, int] = {}
        self._slot = -1

    def __repr__(self) -> str:
        return (
            f"RetryBudget(ratio={self.ratio:g}, min_retries_per_second={self.min_retries_per_second:g}, "
            f"ttl={self.ttl:g})"
        )

    def _global_window(self, slot: int) -> _Window:
        glob = self._global
        if glob is None:
            glob = self._global = _Window(slot)
        elif glob.current != slot:
            glob.roll(slot)
        return glob

    def _host_window(self, host: str, slot: int) -> _Window:
        win = self._hosts.get(host)
        if win is None:
            win = self._hosts[host] = _Window(slot)
            if len(self._hosts) > self.max_hosts:
                self._hosts.popitem(last=False)
        elif win.current != slot:
            win.roll(slot)
        return win

    def _room(self, win: _Window) -> bool:
        return win.retries + 1 <= self.ratio * win.requests + self.reserve

    def deposit(self, host: str, now: float) -> None:
        """Count one request (call once per request, not per attempt).

        Args:
            host: the request's host.
            now: monotonic seconds.
        """
        # Every request passes here: the count goes into a plain dict of the current slot, folded
        # into the windows only when the slot moves on, the dict passes max_hosts, or a retry asks.
        slot = int(now // self._width)
        with self._lock:
            if slot > self._slot:
                self._fold()
                self._slot = slot
            pending = self._pending
            count = pending.get(host)
            if count is not None:
                pending[host] = count + 1
                return
            if len(pending) >= self.max_hosts:
                self._fold()
                pending = self._pending
            pending[host] = 1

    def _fold(self) -> None:
        """Move the pending deposits into the windows (under the lock)."""
        pending = self._pending
        if not pending:
            return
        self._pending = {}
        slot = self._slot
        total = 0
        for host, count in pending.items():
            win = self._host_window(host, slot)
            win.slot_requests[win.current % _SLOTS] += count
            total += count
        glob = self._global_window(slot)
        glob.slot_requests[glob.current % _SLOTS] += total

    def try_withdraw(self, host: str, now: float) -> bool:
        """Take one retry from the host's and the global bucket, if both have room.

        Args:
            host: the request's host.
            now: monotonic seconds.

        Returns:
            True when the retry may go ahead (and is counted); False when the budget is spent.
        """
        slot = int(now // self._width)
        with self._lock:
            self._fold()
            glob = self._global_window(slot)
            win = self._host_window(host, slot)
            if not (self._room(win) and self._room(glob)):
                return False
            glob.retries += 1
            glob.slot_retries[glob.current % _SLOTS] += 1
            win.retries += 1
            win.slot_retries[win.current % _SLOTS] += 1
            return True

    def usage(self, host: str | None, now: float) -> tuple[int, int]:
        """Requests and retries counted in the current window, for one host or (None) in total."""
        with self._lock:
            self._fold()
            slot = int(now // self._width)
            chosen = self._global_window(slot) if host is None else self._host_window(host, slot)
            return chosen.requests, chosen.retries


def _number(value: object) -> bool:
    return not isinstance(value, bool) and isinstance(value, (int, float)) and math.isfinite(value)
