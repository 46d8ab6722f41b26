"""A bounded LRU of resources in use: per-proxy connection pools that are closed only once nobody uses them.

Each integration keeps one connection pool per proxy route (an httpx transport, an aiohttp-socks
connector). A pool of thousands of proxies, or a vendor session id per request, must not keep them
all: :class:`HeldLRU` keeps the ``size`` most recently used, and one it drops is closed at once when
idle, else when the last request (or streamed body) using it lets go, never under a response still
being read. It only says what to close; the caller closes it, sync or async as its library wants.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Sequence
from typing import Generic, TypeVar

__all__ = ["HeldEntry", "HeldLRU"]

K = TypeVar("K", bound=Hashable)
T = TypeVar("T")

_NOTHING: tuple[()] = ()


class HeldEntry(Generic[T]):
    """One resource and how many users hold it now.

    Attributes:
        value: the resource.
        in_use: users holding it (each :meth:`HeldLRU.acquire` or :meth:`HeldLRU.one_shot` is one).
        retired: out of the LRU (or never in it): close it once ``in_use`` is 0.
    """

    __slots__ = ("in_use", "retired", "value")

    def __init__(self, value: T, *, in_use: int = 0, retired: bool = False) -> None:
        self.value = value
        self.in_use = in_use
        self.retired = retired


class HeldLRU(Generic[K, T]):
    """Resources made on first use per key, the ``size`` most recently used kept.

    Thread-safe: one lock, held for dictionary updates only (a resource is made under it, never
    closed under it).

    Args:
        make: builds the resource of a key.
        size: keys kept at once (>= 1; the caller checks it with its own message).
    """

    __slots__ = ("_entries", "_lock", "_make", "_retired", "size")

    def __init__(self, make: Callable[[K], T], size: int) -> None:
        self._make = make
        self.size = size
        self._entries: OrderedDict[K, HeldEntry[T]] = OrderedDict()
        self._retired: set[HeldEntry[T]] = set()  # dropped (or one-shot), still held: closed on release
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    def keys(self) -> list[K]:
        """The keys whose resources are kept, least recently used first."""
        with self._lock:
            return list(self._entries)

    def acquire(self, key: K) -> tuple[HeldEntry[T], Sequence[T]]:
        """Hold ``key``'s resource (made now if not kept), most recently used from now on.

        Returns:
            ``(entry, idle)``: pass ``entry`` to :meth:`release` when done with ``entry.value``;
            close each of ``idle`` now (resources this call dropped from the LRU that nobody holds).
        """
        idle: Sequence[T] = _NOTHING  # a list only when something is dropped: this runs per request
        entries = self._entries
        with self._lock:
            entry = entries.get(key)
            if entry is None:
                entry = entries[key] = HeldEntry(self._make(key))
                if len(entries) > self.size:
                    idle = self._evict()
            else:
                entries.move_to_end(key)
            # Counted under the lock: an eviction meanwhile must not close it under this user.
            entry.in_use += 1
        return entry, idle

    def _evict(self) -> list[T]:
        """Drop the least recently used keys beyond ``size`` (lock held): the idle resources to close now."""
        idle: list[T] = []
        entries = self._entries
        while len(entries) > self.size:
            old = entries.popitem(last=False)[1]
            old.retired = True
            if old.in_use:
                self._retired.add(old)
            else:
                idle.append(old.value)
        return idle

    def one_shot(self, value: T) -> HeldEntry[T]:
        """Hold a resource that is never kept: :meth:`release` hands it back to be closed (or :meth:`take_all`)."""
        entry = HeldEntry(value, in_use=1, retired=True)
        with self._lock:
            self._retired.add(entry)
        return entry

    def release(self, entry: HeldEntry[T]) -> T | None:
        """One user is done with ``entry``.

        Returns:
            The resource to close now (it was dropped and this was its last user); None otherwise,
            also when :meth:`take_all` already handed it over to be closed.
        """
        with self._lock:
            entry.in_use -= 1
            if entry.retired and entry.in_use <= 0 and entry in self._retired:
                self._retired.discard(entry)
                return entry.value
        return None

    def take_all(self) -> list[T]:
        """Every resource kept or still held, forgetting them all (to close them)."""
        with self._lock:
            values = [entry.value for entry in (*self._entries.values(), *self._retired)]
            self._entries.clear()
            self._retired.clear()
        return values
