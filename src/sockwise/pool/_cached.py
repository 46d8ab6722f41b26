"""A read-local, write-behind cache in front of a shared store: ``sqlite:///h.db?cache=0.05``.

SQLite and Redis cost 0.1-0.4 ms of blocking I/O per call, and a pool calls its store on every
lease (the health of every proxy, the site's bans) and every report (an update, maybe a ban).
From an event loop at 1,000 requests per second that is most of the loop's time. A
:class:`CachedStore` answers every call from memory and does the I/O in one background thread:

* reads (``read_many``, ``bans``, ``list_health``, ``list_bans``) answer from a local view;
* ``update(key, step)`` runs the pure step on the local value, returns that at once, and queues
  the same step for the backend. There the backend's own atomic ``update`` runs it again on the
  shared value (another process may have written it meanwhile) and that result replaces the
  local copy. Steps queued for one key are written as one backend transaction running them in
  order, so the backend work grows with the proxies touched, not with the requests;
* ``set_ban``/``clear_ban`` change the local view at once and are queued (several bans of one
  proxy from one site become one write: a ban keeps the later end anyway);
* every ``refresh`` seconds the thread reads everything (``list_health`` and ``list_bans``)
  and the local view becomes that, with this process's writes not yet written applied on top.

What other processes see, and when
----------------------------------
Uncached, a pool reads the store at every lease: another process's ejection holds from this
process's next lease on. Cached, it holds here once

1. the other process's writer has written it: the *write delay*. The writer wakes at once for
   each update, so this is the time to write what was queued before it, one backend
   transaction per proxy touched (0.1-0.4 ms each: well under 10 ms for a 20-proxy pool), plus
   at most one refresh read the writer may be busy with;
2. this process has read the store again: up to one ``refresh`` interval plus the read itself
   (0.2-0.6 ms for 20 proxies, about 8 ms for 1,000).

So within ``refresh`` + write delay + read time: about 60 ms with ``cache=0.05`` for 20
proxies (measured by ``bench/store_latency.py``, SQLite and Redis: median 30 ms, max 51 ms).
In that window this process may still send a few requests through a proxy another process has
ejected; its own reports are seen by its own leases at once, as before.

Bounds and errors
-----------------
At most ``max_pending`` (10,000) updates wait; a writer that finds the queue full waits up to
``full_wait`` seconds for room, then gets :class:`~sockwise.StoreUnavailable`. Updates are never
dropped or merged into a guess: since a key's queued steps are written in one transaction, the
queue fills only when the backend stops taking writes for seconds (10,000 updates are 10 s at
1,000 requests per second), and then the caller is told, as the uncached store would tell it.

An error in the background thread is kept and raised from the next call on this store (one
message naming the store's URL, password redacted); the updates that were not written stay
queued and are retried, backing off from ``refresh`` up to 1 s. ``close()`` writes what is
queued (waiting at most ``close_timeout``), stops and joins the thread, closes the backend, and
raises if updates could not be written. At interpreter exit, stores not closed are flushed the
same way. After ``os.fork()`` the child starts a thread of its own; the parent writes what it had
queued.
"""

from __future__ import annotations

import atexit
import logging
import math
import os
import threading
import time
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import NoReturn

from sockwise._exceptions import ConfigError, StoreUnavailable
from sockwise.pool._health import ProxyHealth
from sockwise.pool._store import Ban, HealthStore

__all__ = ["CachedStore"]

Step = Callable[[ProxyHealth], ProxyHealth]

_LOGGER = logging.getLogger("sockwise.pool")
_FRESH = ProxyHealth()
_MAX_BACKOFF = 1.0
_OPEN: weakref.WeakSet[CachedStore] = weakref.WeakSet()


@dataclass(frozen=True, slots=True)
class _BanWrite:
    """What to write for one (proxy, site): a clear first (when asked), then a ban (when any)."""

    clear: bool
    until: float | None
    now: float

    def then_ban(self, until: float, now: float) -> _BanWrite:
        later = until if self.until is None else max(self.until, until)
        return _BanWrite(self.clear, later, max(self.now, now))

    def after(self, earlier: _BanWrite) -> _BanWrite:
        """This write merged behind an earlier one for the same (proxy, site)."""
        if self.clear:
            return self
        return earlier if self.until is None else earlier.then_ban(self.until, self.now)


def _fold(steps: Sequence[Step] | None, health: ProxyHealth) -> ProxyHealth:
    for step in steps or ():
        health = step(health)
    return health


def _chain(steps: Sequence[Step]) -> Step:
    frozen = tuple(steps)

    def run(health: ProxyHealth) -> ProxyHealth:
        return _fold(frozen, health)

    return run


def _apply_ban(view: dict[str, dict[str, float]], key: str, site: str, write: _BanWrite) -> None:
    if write.clear:
        banned = view.get(site)
        if banned is not None:
            banned.pop(key, None)
    if write.until is not None:
        banned = view.setdefault(site, {})
        banned[key] = max(write.until, banned.get(key, write.until))


class CachedStore:
    """A :class:`HealthStore` answering from memory and writing behind to another store.

    Args:
        backend: the shared store (SQLite, Redis); this object owns it and closes it.
        refresh: seconds between two reads of the whole backend into the local view.
        max_pending: updates that may wait to be written before writers wait.
        full_wait: seconds a writer waits for room in a full queue before StoreUnavailable.
        close_timeout: seconds :meth:`close` (and interpreter exit) waits for the queue to be written.
        url: the URL to show (password redacted); the backend's with ``?cache=`` when None.

    Attributes:
        backend: the wrapped store (reading it directly bypasses the local view).
        refresh: seconds between two reads of the backend.

    Raises:
        ConfigError: a refresh, bound or timeout that is not a positive number.
        StoreUnavailable: the first read of the backend failed.

    Besides the :class:`HealthStore` calls, :meth:`flush` waits until what was written here is
    in the backend and :meth:`sync` also waits for a fresh read (tests, hand-overs, shutdown).
    Close it (or its pool's ``store``) when done: the thread holds it open until then.
    """

    def __init__(
        self,
        backend: HealthStore,
        *,
        refresh: float = 0.05,
        max_pending: int = 10_000,
        full_wait: float = 1.0,
        close_timeout: float = 5.0,
        url: str | None = None,
    ) -> None:
        for name, value in (("refresh", refresh), ("full_wait", full_wait), ("close_timeout", close_timeout)):
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
                raise ConfigError(f"CachedStore {name}={value!r}: give a positive number of seconds (e.g. 0.05)")
        if max_pending < 1:
            raise ConfigError(f"CachedStore max_pending={max_pending!r}: give at least 1 (e.g. 10000)")
        self.backend = backend
        self.refresh = float(refresh)
        self.max_pending = max_pending
        self.full_wait = float(full_wait)
        self.close_timeout = float(close_timeout)
        if url is None:
            url = f"{backend.url}{'&' if '?' in backend.url else '?'}cache={self.refresh:g}"
        self._url = url
        self._new_locks()
        self._health: dict[str, ProxyHealth] = {}
        # site -> proxy key -> end of ban, as stored (ended ones too): readers filter by their own ``now``.
        self._bans: dict[str, dict[str, float]] = {}
        # Queued for the backend, not yet taken by the writer.
        self._steps: dict[str, list[Step]] = {}
        self._ban_writes: dict[tuple[str, str], _BanWrite] = {}
        self._queued = 0
        self._submitted = 0  # writes accepted so far
        self._written = 0  # every write up to this number is in the backend
        self._refreshes_begun = 0
        self._refreshes_done = 0
        self._sync_wanted = False
        self._error: BaseException | None = None
        self._last_error: BaseException | None = None  # kept for the queue-full message
        self._stopping = False
        self._closed = False
        self._refresh_view()
        self._pid = os.getpid()
        self._thread = self._start()
        _OPEN.add(self)

    def _new_locks(self) -> None:
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        # One backend batch at a time: the writer's cycle, or clear().
        self._io = threading.Lock()

    def _start(self) -> threading.Thread:
        thread = threading.Thread(target=self._run, name=f"sockwise-cache {self._url}", daemon=True)
        thread.start()
        return thread

    def __repr__(self) -> str:
        return f"<CachedStore {self._url}>"

    @property
    def url(self) -> str:
        """The backend's URL with ``cache=`` (password redacted)."""
        return self._url

    @property
    def closed(self) -> bool:
        """True once :meth:`close` has begun: writes are refused from then on."""
        return self._closed

    # --- the HealthStore calls: memory only ------------------------------------------------------

    def update(self, key: str, step: Step) -> ProxyHealth:
        """Apply ``step`` to the local health at once and queue it for the backend.

        Returns:
            ``step`` of the local value; the backend runs ``step`` again on the shared value and
            its result replaces the local one when written.

        Raises:
            StoreUnavailable: a background write failed since the last call, the queue stayed
                full for ``full_wait`` seconds, or the store is closed.
        """
        self._check_fork()
        with self._changed:
            self._admit()
            new = step(self._health.get(key, _FRESH))
            self._health[key] = new
            self._steps.setdefault(key, []).append(step)
            self._accepted()
        return new

    def read_many(self, keys: Sequence[str]) -> dict[str, ProxyHealth]:
        """The local health of the given proxies (keys never recorded are left out)."""
        self._check()
        with self._lock:
            view = self._health
            return {k: view[k] for k in keys if k in view}

    def set_ban(self, key: str, site: str, until: float, *, now: float) -> None:
        """Ban a proxy from a site here at once (a longer ban is kept) and queue the ban."""
        self._check_fork()
        with self._changed:
            self._admit()
            write = _BanWrite(False, until, now)
            _apply_ban(self._bans, key, site, write)
            self._queue_ban(key, site, write)

    def clear_ban(self, key: str, site: str) -> None:
        """Lift a ban here at once and queue the lifting."""
        self._check_fork()
        with self._changed:
            self._admit()
            write = _BanWrite(True, None, 0.0)
            _apply_ban(self._bans, key, site, write)
            self._queue_ban(key, site, write)

    def bans(self, site: str, *, now: float) -> dict[str, float]:
        """The proxies banned from ``site`` at ``now``, from the local view."""
        self._check()
        with self._lock:
            return {k: until for k, until in self._bans.get(site, {}).items() if until > now}

    def list_health(self) -> dict[str, ProxyHealth]:
        """Every health in the local view."""
        self._check()
        with self._lock:
            return dict(self._health)

    def list_bans(self, *, now: float) -> list[Ban]:
        """Every ban in force at ``now``, from the local view."""
        self._check()
        with self._lock:
            found = [Ban(k, site, until) for site, bans in self._bans.items() for k, until in bans.items()]
        return sorted(ban for ban in found if ban.until > now)

    def clear(self) -> None:
        """Forget every health and ban, here and in the backend (at once: this one blocks).

        Raises:
            StoreUnavailable: the backend cannot be cleared.
        """
        self._check()
        with self._io:
            with self._changed:
                self._steps, self._ban_writes, self._queued = {}, {}, 0
                self._written = self._submitted
                self._health, self._bans = {}, {}
                self._changed.notify_all()
            self.backend.clear()

    def close(self) -> None:
        """Write what is queued (waiting at most ``close_timeout``), stop the thread, close the backend.

        Raises:
            StoreUnavailable: updates could not be written before the timeout, or a background
                write failed since the last call.
        """
        with self._changed:
            if self._closed:
                return
            self._closed = self._stopping = True
            self._changed.notify_all()
        _OPEN.discard(self)
        if self._pid == os.getpid():
            self._thread.join(self.close_timeout)
        with self._lock:
            # A thread still running holds a batch it may not finish; one that ended put back what failed.
            left = self._submitted - self._written if self._thread.is_alive() else self._queued
            error, self._error = self._error, None
        try:
            self.backend.close()
        finally:
            if left:
                why = f": {error}" if error is not None else ""
                raise StoreUnavailable(
                    f"{self._url}: {left} updates were not written before close (waited up to "
                    f"{self.close_timeout:g} s){why}",
                    url=self._url,
                ) from error
            if error is not None:
                self._raise_kept(error)

    # --- waiting for the backend (tests, shutdown) ---------------------------------------------------

    def flush(self, timeout: float = 5.0) -> None:
        """Wait until every update made before this call is written to the backend.

        Args:
            timeout: seconds to wait at most.

        Raises:
            StoreUnavailable: a background write failed, or the updates were not written in time.
        """
        self._check()
        deadline = time.monotonic() + timeout
        with self._changed:
            target = self._submitted
            self._changed.notify_all()
            self._wait(lambda: self._written >= target, deadline, "write the queued updates")

    def sync(self, timeout: float = 5.0) -> None:
        """Write what is queued, then read the backend afresh: afterwards the local view is at least
        as new as the backend was when this was called.

        Args:
            timeout: seconds to wait at most.

        Raises:
            StoreUnavailable: the backend could not be written or read in time.
        """
        self._check()
        deadline = time.monotonic() + timeout
        with self._changed:
            written, read = self._submitted, self._refreshes_begun + 1
            self._sync_wanted = True
            self._changed.notify_all()
            done = lambda: self._written >= written and self._refreshes_done >= read  # noqa: E731
            self._wait(done, deadline, "write and read the backend")

    def _wait(self, done: Callable[[], bool], deadline: float, what: str) -> None:
        """Wait (holding the condition) until ``done()``; raise the writer's error or on timeout."""
        while True:
            if self._error is not None:
                error, self._error = self._error, None
                self._raise_kept(error)
            if done():
                return
            left = deadline - time.monotonic()
            if self._stopping:
                raise StoreUnavailable(f"{self._url} is closed; open a new store", url=self._url)
            if left <= 0:
                raise StoreUnavailable(
                    f"{self._url}: could not {what} in time ({self._queued} updates waiting)", url=self._url
                )
            self._changed.wait(left)

    # --- under the lock: admission, errors -------------------------------------------------------

    def _check_fork(self) -> None:
        if self._pid != os.getpid():
            self._after_fork()

    def _check(self) -> None:
        self._check_fork()
        if self._error is not None:
            with self._lock:
                error, self._error = self._error, None
            if error is not None:
                self._raise_kept(error)

    def _admit(self) -> None:
        """Before a write, holding the condition: raise a kept error, wait for room when full."""
        if self._closed:
            raise StoreUnavailable(f"{self._url} is closed; open a new store", url=self._url)
        if self._error is not None:
            error, self._error = self._error, None
            self._raise_kept(error)
        if self._queued < self.max_pending:
            return
        deadline = time.monotonic() + self.full_wait
        while self._queued >= self.max_pending:
            left = deadline - time.monotonic()
            if left <= 0 or self._closed:
                last = f"; last error: {self._last_error}" if self._last_error is not None else ""
                raise StoreUnavailable(
                    f"{self._url}: {self._queued} updates wait to be written and the store took none for "
                    f"{self.full_wait:g} s{last}",
                    url=self._url,
                )
            self._changed.wait(left)

    def _accepted(self) -> None:
        self._queued += 1
        self._submitted += 1
        self._changed.notify_all()

    def _queue_ban(self, key: str, site: str, write: _BanWrite) -> None:
        earlier = self._ban_writes.get((key, site))
        if earlier is None:
            self._ban_writes[(key, site)] = write
            self._accepted()
        else:
            # Merged: no more room taken, but flush() must still wait for it.
            self._ban_writes[(key, site)] = write.after(earlier)
            self._submitted += 1
            self._changed.notify_all()

    def _raise_kept(self, error: BaseException) -> NoReturn:
        """Raise what the writer thread met: a store's error restated as this store's, else as it was."""
        if not isinstance(error, StoreUnavailable):
            raise error
        raise StoreUnavailable(
            f"{error} (met by the cache's background writer; {self._queued} updates are kept and retried)",
            url=self._url,
        ) from error

    # --- the writer thread -----------------------------------------------------------------------

    def _run(self) -> None:
        next_refresh = time.monotonic() + self.refresh
        retry_at = 0.0
        backoff = 0.0
        while True:
            with self._changed:
                while True:
                    now = time.monotonic()
                    if self._stopping:
                        break
                    if now < retry_at:
                        self._changed.wait(retry_at - now)
                        continue
                    if self._queued or self._sync_wanted or now >= next_refresh:
                        break
                    self._changed.wait(next_refresh - now)
                stopping = self._stopping
                refresh_due = self._sync_wanted or now >= next_refresh
            with self._io:
                # Writes and reads fail apart: a read-only file still refreshes the view.
                failed = not self._attempt(self._write_queued)
                if refresh_due and not stopping:
                    next_refresh = time.monotonic() + self.refresh
                    failed = not self._attempt(self._refresh_view) or failed
            backoff = min(max(self.refresh, backoff * 2), _MAX_BACKOFF) if failed else 0.0
            retry_at = time.monotonic() + backoff
            if stopping:
                return

    def _attempt(self, work: Callable[[], None]) -> bool:
        try:
            work()
        except Exception as exc:  # kept for the next caller: nothing a thread raises may vanish
            with self._changed:
                self._error = self._last_error = exc
                self._changed.notify_all()
            return False
        return True

    def _write_queued(self) -> None:
        with self._changed:
            steps, self._steps = self._steps, {}
            ban_writes, self._ban_writes = self._ban_writes, {}
            taken, self._queued = self._submitted, 0
            self._changed.notify_all()  # room for waiting writers
        try:
            for key in list(steps):
                try:
                    result = self.backend.update(key, _chain(steps[key]))
                except StoreUnavailable:
                    raise
                except Exception as exc:
                    # A step that fails on the shared value would fail every retry: drop it, report it.
                    del steps[key]
                    with self._changed:
                        self._error = exc
                    continue
                del steps[key]
                with self._changed:
                    self._health[key] = _fold(self._steps.get(key), result)
            for pair, write in list(ban_writes.items()):
                key, site = pair
                if write.clear:
                    self.backend.clear_ban(key, site)
                    # The clear is done: a retry must not clear a ban another process set since.
                    ban_writes[pair] = _BanWrite(False, write.until, write.now)
                if write.until is not None:
                    self.backend.set_ban(key, site, write.until, now=write.now)
                del ban_writes[pair]
        except BaseException:
            with self._changed:
                self._requeue(steps, ban_writes)
            raise
        with self._changed:
            self._written = max(self._written, taken)
            self._last_error = None
            self._changed.notify_all()

    def _requeue(self, steps: dict[str, list[Step]], ban_writes: dict[tuple[str, str], _BanWrite]) -> None:
        """Put writes that failed back in front of those queued since (under the lock)."""
        for key, chain in steps.items():
            self._steps[key] = chain + self._steps.get(key, [])
            self._queued += len(chain)
        for pair, write in ban_writes.items():
            later = self._ban_writes.get(pair)
            if later is None:
                self._queued += 1
            self._ban_writes[pair] = write if later is None else later.after(write)

    def _refresh_view(self) -> None:
        with self._changed:
            self._refreshes_begun += 1
            self._sync_wanted = False
        health = self.backend.list_health()
        # Every stored ban, ended or not: the caller's clock decides (it may be a test's fake one).
        stored = self.backend.list_bans(now=-math.inf)
        bans: dict[str, dict[str, float]] = {}
        for ban in stored:
            bans.setdefault(ban.site, {})[ban.key] = ban.until
        with self._changed:
            # Writes not yet in the backend stay applied on top of what it holds.
            for key, chain in self._steps.items():
                health[key] = _fold(chain, health.get(key, _FRESH))
            for (key, site), write in self._ban_writes.items():
                _apply_ban(bans, key, site, write)
            self._health, self._bans = health, bans
            self._refreshes_done += 1
            self._changed.notify_all()

    # --- fork and exit ---------------------------------------------------------------------------

    def _reset_in_child(self) -> None:
        """In a forked child: fresh locks (the parent's may have been held), nothing queued."""
        self._new_locks()
        self._steps, self._ban_writes, self._queued = {}, {}, 0
        self._written = self._submitted
        self._sync_wanted = False
        self._error = None

    def _after_fork(self) -> None:
        with self._lock:
            if self._pid == os.getpid():
                return
            self._pid = os.getpid()
            if not self._closed:
                self._thread = self._start()


_HELD_AT_FORK: list[CachedStore] = []


def _hold_all_before_fork() -> None:
    # No writer thread may be inside its backend (holding the backend's own locks) at the fork.
    _HELD_AT_FORK[:] = list(_OPEN)
    for store in _HELD_AT_FORK:
        store._io.acquire()


def _release_all_in_parent() -> None:
    for store in _HELD_AT_FORK:
        store._io.release()
    _HELD_AT_FORK.clear()


def _reset_all_in_child() -> None:
    _HELD_AT_FORK.clear()
    for store in list(_OPEN):
        store._reset_in_child()


def _close_all_at_exit() -> None:
    for store in list(_OPEN):
        try:
            store.close()
        except Exception as exc:  # at exit there is no caller left to raise to
            _LOGGER.error("sockwise: %s", exc)


if hasattr(os, "register_at_fork"):
    os.register_at_fork(
        before=_hold_all_before_fork, after_in_parent=_release_all_in_parent, after_in_child=_reset_all_in_child
    )
atexit.register(_close_all_at_exit)
