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

Errors: logged and kept, raised only where a caller waits for the store
-----------------------------------------------------------------------
The cache is there to keep requests apart from the store, so an error the background thread
meets (writing or reading the backend) is never raised from the next request's call: a lease,
or the report of a request that got its answer, goes on from the local view. The error is

* logged on logger ``sockwise.pool`` at WARNING: one line naming the store (password
  redacted), how many updates wait, and the error; at most one line per distinct error every
  5 s however often it is retried (an INFO line tells when writes or reads go through again);
* kept: :attr:`~CachedStore.last_error` (None again once a write, and a read, went through),
  :attr:`~CachedStore.failed_writes` and :attr:`~CachedStore.failed_reads` count the failed
  tries, :attr:`~CachedStore.pending` the updates not yet written;
* raised (:class:`~sockwise.StoreUnavailable`, naming the last error) only by the calls that
  wait for the backend: :meth:`~CachedStore.flush`, :meth:`~CachedStore.sync` and
  :meth:`~CachedStore.close` when what they wait for is not done within their timeout; and by
  ``update``/``set_ban``/``clear_ban`` when the queue stays full (below).

Updates not written stay queued, in order, and are retried, backing off from ``refresh`` up to
1 s; reads go on answering from the last view read, with this process's updates on top. A step
that raises on the shared value (never on the local one, or ``update`` would have raised) would
fail every retry: it is dropped and logged, and its error is raised from the next ``flush()``,
``sync()`` or ``close()``.

At most ``max_pending`` (10,000) updates wait; a writer that finds the queue full waits up to
``full_wait`` seconds for room, then gets :class:`~sockwise.StoreUnavailable`. Updates are never
dropped or merged into a guess: since a key's queued steps are written in one transaction, the
queue fills only when the backend stops taking writes for seconds (10,000 updates are 10 s at
1,000 requests per second), and then the caller is told, as the uncached store would tell it.

``close()`` writes what is queued, retrying with the same back-off until ``close_timeout`` has
passed (a Redis fail-over of a fraction of a second loses nothing), stops and joins the thread,
closes the backend, and raises if updates could not be written. At interpreter exit, stores not
closed are flushed the same way (a failure is logged). After ``os.fork()`` the child starts a
thread of its own; the parent writes what it had queued.

Delivery: at least once
-----------------------
A failed write is retried, and a write that failed is not always a write that did not happen:
when the connection to Redis drops (or its ``?timeout=`` passes) after the server committed a
batch's transaction but before its reply arrived, the writer sees an error and writes that
proxy's batch again. The outcomes in that batch then count twice: a failure may be counted
twice (a proxy ejected one failure early), a success too. It takes a connection lost in the
moment between commit and reply, and concerns the one batch in flight; SQLite and the memory
store commit in this process and never do it. This is a choice: exactly once would need an
idempotency token written in every transaction (a key per writer and proxy, with an expiry) and
a change of the store protocol, to prevent an error the health math already absorbs (an
ejection is temporary and its end is probed). The plain :class:`~sockwise.pool.RedisStore`
does the same within one ``update``: redis-py reports a connection lost during a watched
``EXEC`` as a ``WatchError``, and the step runs again.
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

from sockwise._exceptions import ConfigError, StoreUnavailable
from sockwise.pool._health import ProxyHealth
from sockwise.pool._store import Ban, HealthStore

__all__ = ["CachedStore"]

Step = Callable[[ProxyHealth], ProxyHealth]
_Line = tuple[int, str] | None  # a log line to write once the lock is released

_LOGGER = logging.getLogger("sockwise.pool")
_FRESH = ProxyHealth()
_MAX_BACKOFF = 1.0
_LOG_EVERY = 5.0  # seconds between two log lines of one distinct error
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
        close_timeout: seconds :meth:`close` (and interpreter exit) keeps trying to write the queue.
        url: the URL to show (password redacted); the backend's with ``?cache=`` when None.

    Attributes:
        backend: the wrapped store (reading it directly bypasses the local view).
        refresh: seconds between two reads of the backend.

    Raises:
        ConfigError: a refresh, bound or timeout that is not a positive number.
        StoreUnavailable: the first read of the backend failed.

    Besides the :class:`HealthStore` calls, :meth:`flush` waits until what was written here is
    in the backend and :meth:`sync` also waits for a fresh read (tests, hand-overs, shutdown).
    Errors of the background thread are logged and kept (:attr:`last_error`), not raised from
    the calls a request makes: see the module's documentation. Close it (or its pool's
    ``store``) when done: the thread holds it open until then.
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
        # Background errors: the last write's and the last read's (None once one went through).
        self._write_error: BaseException | None = None
        self._read_error: BaseException | None = None
        self._lost: BaseException | None = None  # a dropped step's error, for the next flush/sync/close
        self._failed_writes = 0
        self._failed_reads = 0
        self._writes_failing = False  # writes raised since the last that went through
        self._logged: dict[tuple[str, ...], float] = {}  # distinct error -> when it was last logged
        self._stopping = False
        self._closed = False
        self._close_deadline = math.inf
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

    @property
    def last_error(self) -> BaseException | None:
        """The error of the background thread's last write, else of its last read; None when both went through."""
        with self._lock:
            return self._write_error if self._write_error is not None else self._read_error

    @property
    def failed_writes(self) -> int:
        """Backend writes that raised so far, each retry counted (a dropped step too)."""
        return self._failed_writes

    @property
    def failed_reads(self) -> int:
        """Reads of the whole backend (refreshes) that raised so far."""
        return self._failed_reads

    @property
    def pending(self) -> int:
        """Updates accepted here and not yet written to the backend (queued or being written)."""
        with self._lock:
            return self._submitted - self._written

    # --- the HealthStore calls: memory only ------------------------------------------------------

    def update(self, key: str, step: Step) -> ProxyHealth:
        """Apply ``step`` to the local health at once and queue it for the backend.

        Returns:
            ``step`` of the local value; the backend runs ``step`` again on the shared value and
            its result replaces the local one when written.

        Raises:
            StoreUnavailable: the queue stayed full for ``full_wait`` seconds, or the store is
                closed (a failed background write is logged and retried, not raised here).
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
        self._check_fork()
        with self._lock:
            view = self._health
            return {k: view[k] for k in keys if k in view}

    def set_ban(self, key: str, site: str, until: float, *, now: float) -> None:
        """Ban a proxy from a site here at once (a longer ban is kept) and queue the ban.

        Raises:
            StoreUnavailable: the queue stayed full for ``full_wait`` seconds, or the store is closed.
        """
        self._check_fork()
        with self._changed:
            self._admit()
            write = _BanWrite(False, until, now)
            _apply_ban(self._bans, key, site, write)
            self._queue_ban(key, site, write)

    def clear_ban(self, key: str, site: str) -> None:
        """Lift a ban here at once and queue the lifting.

        Raises:
            StoreUnavailable: the queue stayed full for ``full_wait`` seconds, or the store is closed.
        """
        self._check_fork()
        with self._changed:
            self._admit()
            write = _BanWrite(True, None, 0.0)
            _apply_ban(self._bans, key, site, write)
            self._queue_ban(key, site, write)

    def bans(self, site: str, *, now: float) -> dict[str, float]:
        """The proxies banned from ``site`` at ``now``, from the local view."""
        self._check_fork()
        with self._lock:
            return {k: until for k, until in self._bans.get(site, {}).items() if until > now}

    def list_health(self) -> dict[str, ProxyHealth]:
        """Every health in the local view."""
        self._check_fork()
        with self._lock:
            return dict(self._health)

    def list_bans(self, *, now: float) -> list[Ban]:
        """Every ban in force at ``now``, from the local view."""
        self._check_fork()
        with self._lock:
            found = [Ban(k, site, until) for site, bans in self._bans.items() for k, until in bans.items()]
        return sorted(ban for ban in found if ban.until > now)

    def clear(self) -> None:
        """Forget every health and ban, here and in the backend (at once: this one blocks).

        Raises:
            StoreUnavailable: the backend cannot be cleared.
        """
        self._check_fork()
        with self._io:
            with self._changed:
                self._steps, self._ban_writes, self._queued = {}, {}, 0
                self._written = self._submitted
                self._health, self._bans = {}, {}
                self._changed.notify_all()
            self.backend.clear()

    def close(self) -> None:
        """Write what is queued (retrying until ``close_timeout``), stop the thread, close the backend.

        Raises:
            StoreUnavailable: updates could not be written before ``close_timeout`` (naming the
                last error met).
            Exception: a step dropped since the last flush, sync or close (it raised on the
                stored value), as it raised.
        """
        with self._changed:
            if self._closed:
                return
            self._closed = self._stopping = True
            deadline = self._close_deadline = time.monotonic() + self.close_timeout
            self._changed.notify_all()
        _OPEN.discard(self)
        if self._pid == os.getpid():
            self._thread.join(max(0.0, deadline - time.monotonic()))
        with self._lock:
            # A thread still running holds a batch it may not finish; one that ended put back what failed.
            left = self._submitted - self._written
            last = self._write_error
            lost, self._lost = self._lost, None
        try:
            self.backend.close()
        finally:
            if left:
                why = f": {last}" if last is not None else ""
                raise StoreUnavailable(
                    f"{self._url}: {left} updates were not written before close (waited up to "
                    f"{self.close_timeout:g} s){why}",
                    url=self._url,
                ) from last
            if lost is not None:
                raise lost

    # --- waiting for the backend (tests, hand-overs, shutdown) ---------------------------------------

    def flush(self, timeout: float = 5.0) -> None:
        """Wait until every update made before this call is written to the backend.

        A write that fails meanwhile is retried (with back-off) until ``timeout``.

        Args:
            timeout: seconds to wait at most.

        Raises:
            StoreUnavailable: the updates were not written in time (naming the last error met),
                or the store is closed.
            Exception: a step dropped since the last flush, sync or close (it raised on the
                stored value), as it raised.
        """
        self._check_fork()
        deadline = time.monotonic() + timeout
        with self._changed:
            target = self._submitted
            self._changed.notify_all()
            self._wait(lambda: self._written >= target, deadline, timeout, "write the queued updates")

    def sync(self, timeout: float = 5.0) -> None:
        """Write what is queued, then read the backend afresh: afterwards the local view is at least
        as new as the backend was when this was called.

        Args:
            timeout: seconds to wait at most.

        Raises:
            StoreUnavailable: the backend could not be written and read in time (naming the last
                error met), or the store is closed.
            Exception: a step dropped since the last flush, sync or close, as it raised.
        """
        self._check_fork()
        deadline = time.monotonic() + timeout
        with self._changed:
            written, read = self._submitted, self._refreshes_begun + 1
            self._sync_wanted = True
            self._changed.notify_all()
            done = lambda: self._written >= written and self._refreshes_done >= read  # noqa: E731
            self._wait(done, deadline, timeout, "write and read the backend")

    def _wait(self, done: Callable[[], bool], deadline: float, timeout: float, what: str) -> None:
        """Wait (holding the condition) until ``done()``; then raise a dropped step's error, if any."""
        while not done():
            if self._stopping:
                raise StoreUnavailable(f"{self._url} is closed; open a new store", url=self._url)
            left = deadline - time.monotonic()
            if left <= 0:
                last = self._write_error if self._write_error is not None else self._read_error
                why = f"; last error: {last}" if last is not None else ""
                raise StoreUnavailable(
                    f"{self._url}: could not {what} in {timeout:g} s "
                    f"({self._submitted - self._written} updates waiting){why}",
                    url=self._url,
                ) from last
            self._changed.wait(left)
        lost, self._lost = self._lost, None
        if lost is not None:
            raise lost

    # --- under the lock: admission ---------------------------------------------------------------

    def _check_fork(self) -> None:
        if self._pid != os.getpid():
            self._after_fork()

    def _admit(self) -> None:
        """Before a write, holding the condition: refuse when closed, wait for room when full."""
        if self._closed:
            raise StoreUnavailable(f"{self._url} is closed; open a new store", url=self._url)
        if self._queued < self.max_pending:
            return
        deadline = time.monotonic() + self.full_wait
        while self._queued >= self.max_pending:
            left = deadline - time.monotonic()
            if left <= 0 or self._closed:
                last = f"; last error: {self._write_error}" if self._write_error is not None else ""
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

    # --- the writer thread -----------------------------------------------------------------------

    def _run(self) -> None:
        next_refresh = time.monotonic() + self.refresh
        retry_at = 0.0
        backoff = 0.0
        closing = False
        while True:
            with self._changed:
                while True:
                    now = time.monotonic()
                    if self._stopping:
                        if not closing:
                            # A first try at once, then the usual back-off afresh.
                            closing, retry_at, backoff = True, 0.0, 0.0
                        if not self._queued or now >= self._close_deadline:
                            return
                        if now >= retry_at:
                            break
                        self._changed.wait(min(retry_at, self._close_deadline) - now)
                        continue
                    if now < retry_at:
                        self._changed.wait(retry_at - now)
                        continue
                    if self._queued or self._sync_wanted or now >= next_refresh:
                        break
                    self._changed.wait(next_refresh - now)
                refresh_due = not closing and (self._sync_wanted or now >= next_refresh)
            with self._io:
                # Writes and reads fail apart: a read-only file still refreshes the view.
                failed = not self._attempt("write", self._write_queued)
                if refresh_due:
                    next_refresh = time.monotonic() + self.refresh
                    failed = not self._attempt("read", self._refresh_view) or failed
            backoff = min(max(self.refresh, backoff * 2), _MAX_BACKOFF) if failed else 0.0
            retry_at = time.monotonic() + backoff

    def _attempt(self, what: str, work: Callable[[], None]) -> bool:
        try:
            work()
        except Exception as exc:  # logged and kept: nothing a thread meets may vanish
            with self._changed:
                if what == "write":
                    self._write_error = exc
                    self._failed_writes += 1
                    self._writes_failing = True
                else:
                    self._read_error = exc
                    self._failed_reads += 1
                self._changed.notify_all()
                line = self._failure_line(what, exc)
            self._log(line)
            return False
        return True

    def _failure_line(self, what: str, exc: BaseException) -> _Line:
        """The log line for a background error (under the lock), or None: one per distinct error every 5 s."""
        waiting = self._submitted - self._written
        if what == "write":
            said = f"could not write to the store ({waiting} updates wait and are retried)"
        elif what == "read":
            said = f"could not read the store ({waiting} updates wait; the last view read is kept)"
        else:
            said = "an update raised on the stored value and was dropped"
        return self._line_once((what, type(exc).__name__, str(exc)), logging.WARNING, f"{self._url}: {said}: {exc}")

    def _line_once(self, key: tuple[str, ...], level: int, text: str) -> _Line:
        """``(level, text)`` unless the same ``key`` was logged less than ``_LOG_EVERY`` s ago (under the lock)."""
        now = time.monotonic()
        if now - self._logged.get(key, -math.inf) < _LOG_EVERY:
            return None
        # Forget errors not met for a while, so a long run with many distinct errors stays small.
        self._logged = {k: at for k, at in self._logged.items() if now - at < _LOG_EVERY}
        self._logged[key] = now
        return level, text

    @staticmethod
    def _log(line: _Line) -> None:
        # Outside the lock: a slow log handler must not hold up the requests' calls.
        if line is not None:
            _LOGGER.log(line[0], "%s", line[1])

    def _write_queued(self) -> None:
        with self._changed:
            steps, self._steps = self._steps, {}
            ban_writes, self._ban_writes = self._ban_writes, {}
            taken, self._queued = self._submitted, 0
            self._changed.notify_all()  # room for waiting writers
        dropped: BaseException | None = None
        try:
            for key in list(steps):
                try:
                    result = self.backend.update(key, _chain(steps[key]))
                except StoreUnavailable:
                    raise
                except Exception as exc:
                    # A step that fails on the shared value would fail every retry: drop it, report it.
                    del steps[key]
                    dropped = exc
                    with self._changed:
                        self._lost = exc
                        self._failed_writes += 1
                        said = self._failure_line("drop", exc)
                    self._log(said)
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
        line: _Line = None
        with self._changed:
            self._written = max(self._written, taken)
            self._write_error = dropped
            if self._writes_failing:
                self._writes_failing = False
                line = self._line_once(("written",), logging.INFO, f"{self._url}: the store takes writes again")
            self._changed.notify_all()
        self._log(line)

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
            line: _Line = None
            if self._read_error is not None:
                self._read_error = None
                line = self._line_once(("read again",), logging.INFO, f"{self._url}: the store is read again")
            self._changed.notify_all()
        self._log(line)

    # --- fork and exit ---------------------------------------------------------------------------

    def _reset_in_child(self) -> None:
        """In a forked child: fresh locks (the parent's may have been held), nothing queued."""
        self._new_locks()
        self._steps, self._ban_writes, self._queued = {}, {}, 0
        self._written = self._submitted
        self._sync_wanted = False
        self._write_error = self._read_error = self._lost = None
        self._writes_failing = False
        self._logged = {}

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
