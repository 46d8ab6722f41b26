"""The cached, write-behind store: answers from memory, writes behind, reads afresh, tells its errors."""

from __future__ import annotations

import contextlib
import logging
import os
import random
import selectors
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from sockwise import Blame, ConfigError, ErrorCode, Failure, Phase, Proxy, StoreUnavailable
from sockwise.pool import (
    Ban,
    CachedStore,
    HealthPolicy,
    HealthState,
    HealthStore,
    MemoryStore,
    ProxyHealth,
    ProxyPool,
    RedisStore,
    SQLiteStore,
    record,
    store_from_url,
)
from sockwise.pool._store import redact_url

if TYPE_CHECKING:
    from conftest import FakeClock, RedisServer

REFUSED = Failure(ErrorCode.ECONNREFUSED, Phase.PROXY_CONNECT, Blame.PROXY, request_sent=False, errno=111)
POLICY = HealthPolicy(ejection_jitter=0.0)
NOW = 1_000_000.0
PROXIES = [Proxy("http", f"10.0.0.{i}", 8080) for i in range(1, 5)]
WAIT = 10.0  # upper bound of every wait below; the expected times are tens of ms


def succeed(health: ProxyHealth) -> ProxyHealth:
    return record(health, None, 0.1, now=NOW, policy=POLICY, rand=0.0)


def successes(store: HealthStore, key: str) -> int:
    health = store.read_many([key]).get(key)
    return health.total_successes if health is not None else 0


class Counter:
    """A count that threads bump and a test waits on (a condition, never a sleep)."""

    def __init__(self) -> None:
        self.cond = threading.Condition()
        self.count = 0

    def bump(self) -> None:
        with self.cond:
            self.count += 1
            self.cond.notify_all()

    def value(self) -> int:
        with self.cond:
            return self.count

    def wait(self, count: int, timeout: float = WAIT) -> bool:
        """Wait until the count reaches ``count`` (bounded); whether it did."""
        with self.cond:
            return self.cond.wait_for(lambda: self.count >= count, timeout)


def wait_for(reads: Counter, condition: Callable[[], bool], what: str, timeout: float = WAIT) -> float:
    """Check ``condition`` after each read of the backend by the cache until true (bounded); the seconds it took.

    ``reads`` counts the reads as they begin: once two more have begun, one that began after the
    check has ended (the cache's thread reads one at a time), so a change made before the check shows.
    """
    started = time.monotonic()
    deadline = started + timeout
    while True:
        seen = reads.value()
        if condition():
            return time.monotonic() - started
        assert reads.wait(seen + 2, deadline - time.monotonic()), f"not within {timeout} s: {what}"


class Watched:
    """A store that counts the reads of everything (what a cache's refresh does), passing all calls on."""

    def __init__(self, inner: HealthStore) -> None:
        self.inner = inner
        self.reads = Counter()

    @property
    def url(self) -> str:
        return self.inner.url

    def update(self, key: str, step: Callable[[ProxyHealth], ProxyHealth]) -> ProxyHealth:
        return self.inner.update(key, step)

    def read_many(self, keys: Sequence[str]) -> dict[str, ProxyHealth]:
        return self.inner.read_many(keys)

    def set_ban(self, key: str, site: str, until: float, *, now: float) -> None:
        self.inner.set_ban(key, site, until, now=now)

    def clear_ban(self, key: str, site: str) -> None:
        self.inner.clear_ban(key, site)

    def bans(self, site: str, *, now: float) -> dict[str, float]:
        return self.inner.bans(site, now=now)

    def list_health(self) -> dict[str, ProxyHealth]:
        self.reads.bump()
        return self.inner.list_health()

    def list_bans(self, *, now: float) -> list[Ban]:
        return self.inner.list_bans(now=now)

    def clear(self) -> None:
        self.inner.clear()

    def close(self) -> None:
        self.inner.close()


class GatedStore(MemoryStore):
    """A memory store whose writes wait for the test to open a gate, and can be made to fail."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = threading.Event()
        self.gate.set()
        self.entered = threading.Event()  # set when a write reached the gate
        self.fail: Exception | None = None
        self.before: Callable[[], None] | None = None  # run by each write at the gate, before it fails or not
        self.writes = 0
        self.tries = Counter()  # writes begun, failed or not
        self.done = Counter()  # writes that went through
        self.reads = Counter()  # reads of everything (refreshes) begun

    def _pass(self) -> None:
        self.entered.set()
        assert self.gate.wait(WAIT), "the test never opened the gate"
        self.tries.bump()
        if self.before is not None:
            self.before()
        if self.fail is not None:
            raise self.fail
        self.writes += 1

    def update(self, key: str, step: Callable[[ProxyHealth], ProxyHealth]) -> ProxyHealth:
        self._pass()
        new = super().update(key, step)
        self.done.bump()
        return new

    def set_ban(self, key: str, site: str, until: float, *, now: float) -> None:
        self._pass()
        super().set_ban(key, site, until, now=now)
        self.done.bump()

    def clear_ban(self, key: str, site: str) -> None:
        self._pass()
        super().clear_ban(key, site)
        self.done.bump()

    def list_health(self) -> dict[str, ProxyHealth]:
        self.reads.bump()
        return super().list_health()


class LogWatch(logging.Handler):
    """Collects the records of logger 'sockwise.pool' (INFO and up) and lets a test wait for them."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.records: list[logging.LogRecord] = []
        self.count = Counter()

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)
        self.count.bump()

    def lines(self, level: int = logging.WARNING) -> list[str]:
        return [r.getMessage() for r in list(self.records) if r.levelno == level]


@pytest.fixture
def logs() -> Iterator[LogWatch]:
    """The records logged on 'sockwise.pool' during the test."""
    logger = logging.getLogger("sockwise.pool")
    watch = LogWatch()
    level = logger.level
    logger.setLevel(logging.INFO)
    logger.addHandler(watch)
    try:
        yield watch
    finally:
        logger.removeHandler(watch)
        logger.setLevel(level)


@pytest.fixture
def gated() -> Iterator[tuple[GatedStore, CachedStore]]:
    """A cached store over a gated memory store (refresh 20 ms), closed at the end."""
    backend = GatedStore()
    cached = CachedStore(backend, refresh=0.02, close_timeout=WAIT)
    try:
        yield backend, cached
    finally:
        backend.fail = None
        backend.before = None
        backend.gate.set()
        if not cached.closed:
            with contextlib.suppress(StoreUnavailable):
                cached.close()


def hold_writer(backend: GatedStore, cached: CachedStore) -> None:
    """Close the gate and park the writer thread on it with one update of key 'parked'."""
    backend.gate.clear()
    backend.entered.clear()
    cached.update("parked", succeed)
    assert backend.entered.wait(WAIT), "the writer never tried to write"


def wait_closing(cached: CachedStore) -> None:
    """Wait until close() has begun (close() notifies the store's condition)."""
    with cached._changed:
        assert cached._changed.wait_for(lambda: cached.closed, WAIT), "close() never began"


# --- memory backend: the mechanics ---------------------------------------------------------------


def test_cached_store_is_a_health_store() -> None:
    """CachedStore satisfies the HealthStore protocol and names its backend and refresh in its URL."""
    cached = CachedStore(MemoryStore(), refresh=0.05)
    assert isinstance(cached, HealthStore)
    assert cached.url == "memory://?cache=0.05"
    assert repr(cached) == "<CachedStore memory://?cache=0.05>"
    cached.close()


def test_update_answers_at_once_and_writes_behind(gated: tuple[GatedStore, CachedStore]) -> None:
    """update() returns the step of the local value while the backend is blocked; flush() writes it there."""
    backend, cached = gated
    hold_writer(backend, cached)
    after = cached.update("k", succeed)
    assert after.total_successes == 1
    assert cached.read_many(["k", "never"]) == {"k": after}
    assert cached.update("k", succeed).total_successes == 2  # chains on the local value
    assert backend.read_many(["k"]) == {}  # nothing written yet: the writer waits at the gate
    backend.gate.set()
    cached.flush(timeout=WAIT)
    assert successes(backend, "k") == 2
    assert backend.writes == 2  # 'parked', then both steps of 'k' in one backend update


def test_step_runs_again_on_the_shared_value(gated: tuple[GatedStore, CachedStore]) -> None:
    """Another writer changed the shared value: the backend's result, not the local guess, becomes the view."""
    backend, cached = gated
    for _ in range(5):
        backend.update("k", succeed)  # another process, behind the cache's back
    hold_writer(backend, cached)
    assert cached.update("k", succeed).total_successes == 1  # the local view had not seen the 5 yet
    backend.gate.set()
    cached.flush(timeout=WAIT)
    assert successes(backend, "k") == 6
    assert successes(cached, "k") == 6


def test_refresh_reads_other_writers(gated: tuple[GatedStore, CachedStore]) -> None:
    """Health and bans written by another writer show in the view after sync(), and by themselves soon after."""
    backend, cached = gated
    backend.update("k", succeed)
    backend.set_ban("k", "shop.example", NOW + 60, now=NOW)
    cached.sync(timeout=WAIT)
    assert successes(cached, "k") == 1
    assert cached.bans("shop.example", now=NOW) == {"k": NOW + 60}
    assert cached.list_bans(now=NOW) == [Ban("k", "shop.example", NOW + 60)]
    backend.update("k", succeed)
    backend.clear_ban("k", "shop.example")
    wait_for(backend.reads, lambda: successes(cached, "k") == 2, "the next refresh")
    assert cached.bans("shop.example", now=NOW) == {}
    assert cached.list_health() == backend.list_health()


def test_bans_local_at_once_and_merged_in_order(gated: tuple[GatedStore, CachedStore]) -> None:
    """Bans and lifts show at once; queued ones for one (proxy, site) land as the same final state."""
    backend, cached = gated
    backend.set_ban("p2", "s", NOW + 90, now=NOW)
    cached.sync(timeout=WAIT)
    hold_writer(backend, cached)
    cached.set_ban("p1", "s", NOW + 60, now=NOW)
    cached.set_ban("p1", "s", NOW + 30, now=NOW)  # a shorter ban keeps the longer
    assert cached.bans("s", now=NOW) == {"p1": NOW + 60, "p2": NOW + 90}
    cached.clear_ban("p2", "s")
    cached.set_ban("p2", "s", NOW + 10, now=NOW)  # lifted, then banned again, shorter
    cached.set_ban("p3", "t", NOW + 5, now=NOW)
    cached.clear_ban("p3", "t")
    expected = {"p1": NOW + 60, "p2": NOW + 10}
    assert cached.bans("s", now=NOW) == expected
    assert cached.bans("t", now=NOW) == {}
    assert cached.bans("s", now=NOW + 10) == {"p1": NOW + 60}  # ended bans are filtered by the caller's time
    backend.gate.set()
    cached.sync(timeout=WAIT)
    assert backend.bans("s", now=NOW) == expected
    assert backend.bans("t", now=NOW) == {}
    assert cached.bans("s", now=NOW) == expected


def test_background_error_is_logged_and_kept_not_raised(
    gated: tuple[GatedStore, CachedStore], logs: LogWatch, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A failing backend: every call goes on from the local view; the error is logged once and kept; it lands later."""
    monkeypatch.setattr("sockwise.pool._cached._LOG_EVERY", 60.0)  # no second line from a slow machine either
    backend, cached = gated
    down = StoreUnavailable("Redis store redis://h:1/0: cannot connect to h:1; start it", url="redis://h:1/0")
    backend.fail = down
    assert (cached.last_error, cached.failed_writes) == (None, 0)
    cached.update("k", succeed)
    assert logs.count.wait(1), "the failed write was not logged"
    assert backend.tries.wait(4), "the writer did not retry"  # back-off 20, 40, 80 ms
    assert logs.lines() == [
        "memory://?cache=0.02: could not write to the store (1 updates wait and are retried): "
        "Redis store redis://h:1/0: cannot connect to h:1; start it"
    ]
    assert [(r.name, r.levelno) for r in logs.records] == [("sockwise.pool", logging.WARNING)]
    # Every call a request makes answers as if nothing happened.
    assert cached.update("k", succeed).total_successes == 2
    cached.set_ban("k", "s", NOW + 60, now=NOW)
    cached.clear_ban("k", "t")
    assert successes(cached, "k") == 2
    assert cached.bans("s", now=NOW) == {"k": NOW + 60}
    assert cached.list_bans(now=NOW) == [Ban("k", "s", NOW + 60)]
    assert sorted(cached.list_health()) == ["k"]
    kept = cached.last_error
    assert kept is down
    assert cached.failed_writes >= 4
    assert cached.failed_reads == 0
    assert cached.pending == 4
    # Another error is another line, at once.
    other = StoreUnavailable("Redis store redis://h:1/0: no answer from h:1 in time", url="redis://h:1/0")
    backend.fail = other
    assert logs.count.wait(2), "the second error was not logged"
    assert logs.lines()[1] == (
        "memory://?cache=0.02: could not write to the store (4 updates wait and are retried): "
        "Redis store redis://h:1/0: no answer from h:1 in time"
    )
    for _ in range(3):
        MemoryStore.update(backend, "k", succeed)  # another writer meanwhile, past the failing gate
    backend.fail = None
    cached.sync(timeout=WAIT)
    assert successes(backend, "k") == 5
    assert successes(cached, "k") == 5
    assert backend.bans("s", now=NOW) == {"k": NOW + 60}
    assert cached.last_error is None
    assert cached.pending == 0
    assert logs.lines(logging.INFO) == ["memory://?cache=0.02: the store takes writes again"]
    assert len(logs.lines()) == 2


def test_pool_report_after_a_recovered_blip_does_not_raise(gated: tuple[GatedStore, CachedStore]) -> None:
    """A store blip the writer already got over: the pool's next lease and report work, the error stays readable."""
    backend, cached = gated
    pool = ProxyPool(PROXIES, store=cached, policy=POLICY)
    proxy = pool.lease("a.example")
    backend.fail = StoreUnavailable("down", url="memory://")
    pool.report(proxy, "a.example", None, 0.1)
    assert backend.tries.wait(1), "the writer never tried"
    done = backend.done.value()
    backend.fail = None
    assert backend.done.wait(done + 1), "the writer never recovered"
    again = pool.lease("a.example")
    health = pool.report(again, "a.example", None, 0.1)
    assert health.total_successes == (2 if again == proxy else 1)
    cached.flush(timeout=WAIT)
    assert sum(h.total_successes for h in backend.list_health().values()) == 2
    assert cached.failed_writes >= 1
    assert cached.last_error is None


def test_flush_and_sync_time_out_naming_the_last_error(gated: tuple[GatedStore, CachedStore], logs: LogWatch) -> None:
    """While the backend fails, flush() and sync() retry until their timeout, then raise naming the last error."""
    backend, cached = gated
    down = StoreUnavailable("SQLite store sqlite:///h.db: the disk is full; free space", url="sqlite:///h.db")
    backend.fail = down
    cached.update("k", succeed)
    assert logs.count.wait(1), "the failed write was not logged"
    started = time.monotonic()
    with pytest.raises(StoreUnavailable) as info:
        cached.flush(timeout=0.2)
    assert time.monotonic() - started >= 0.2
    assert str(info.value) == (
        "memory://?cache=0.02: could not write the queued updates in 0.2 s (1 updates waiting); "
        "last error: SQLite store sqlite:///h.db: the disk is full; free space"
    )
    assert info.value.url == "memory://?cache=0.02"
    assert info.value.__cause__ is down
    with pytest.raises(StoreUnavailable, match=r"could not write and read the backend in 0.1 s \(1 updates waiting\)"):
        cached.sync(timeout=0.1)
    backend.fail = None
    cached.flush(timeout=WAIT)
    assert successes(backend, "k") == 1


def test_failed_reads_are_logged_and_the_view_kept(gated: tuple[GatedStore, CachedStore], logs: LogWatch) -> None:
    """A refresh that fails keeps the last view, logs once, counts the failure; the next good one clears it."""
    backend, cached = gated
    cached.update("k", succeed)
    cached.flush(timeout=WAIT)
    broken = StoreUnavailable("cannot read", url="memory://")

    def list_health() -> dict[str, ProxyHealth]:
        backend.reads.bump()
        raise broken

    backend.list_health = list_health  # type: ignore[method-assign]
    assert logs.count.wait(1), "the failed read was not logged"
    assert logs.lines() == [
        "memory://?cache=0.02: could not read the store (0 updates wait; the last view read is kept): cannot read"
    ]
    assert successes(cached, "k") == 1
    kept = cached.last_error
    assert kept is broken
    assert cached.failed_reads >= 1
    del backend.list_health  # the class's own again
    cached.sync(timeout=WAIT)
    assert cached.last_error is None
    assert logs.lines(logging.INFO) == ["memory://?cache=0.02: the store is read again"]


def test_a_write_committed_then_reported_failed_is_written_again(gated: tuple[GatedStore, CachedStore]) -> None:
    """At least once, as documented: a batch the backend committed but reported failed is applied twice."""
    backend, cached = gated
    lost_reply = [True]

    def update(key: str, step: Callable[[ProxyHealth], ProxyHealth]) -> ProxyHealth:
        new = MemoryStore.update(backend, key, step)  # committed...
        if lost_reply[0]:
            lost_reply[0] = False
            raise StoreUnavailable("connection lost before the reply", url="memory://")  # ...reply lost
        return new

    backend.update = update  # type: ignore[method-assign]
    cached.update("k", succeed)
    cached.flush(timeout=WAIT)
    assert successes(backend, "k") == 2
    assert cached.failed_writes == 1


def test_refresh_keeps_unwritten_updates_on_top(gated: tuple[GatedStore, CachedStore]) -> None:
    """While writes fail, a refresh shows the backend's value with this process's unwritten steps applied on top."""
    backend, cached = gated
    backend.fail = StoreUnavailable("down", url="memory://")
    cached.update("k", succeed)
    for _ in range(5):
        MemoryStore.update(backend, "k", succeed)  # another writer, past the failing gate
    wait_for(backend.reads, lambda: successes(cached, "k") == 6, "a refresh with the pending step folded in")
    assert successes(backend, "k") == 5


def test_step_failing_on_shared_value_is_raised_and_dropped(
    gated: tuple[GatedStore, CachedStore], logs: LogWatch
) -> None:
    """A step that raises only on the shared value: dropped, logged, raised from the next flush; the rest goes on."""
    backend, cached = gated

    def picky(health: ProxyHealth) -> ProxyHealth:
        if health.total_successes >= 3:
            raise ValueError("picky step")
        return succeed(health)

    hold_writer(backend, cached)
    cached.update("k", picky)  # fine on the local value (0 successes)
    for _ in range(3):
        MemoryStore.update(backend, "k", succeed)
    backend.gate.set()
    assert logs.count.wait(1), "the dropped step was not logged"
    assert logs.lines() == ["memory://?cache=0.02: an update raised on the stored value and was dropped: picky step"]
    assert successes(cached, "k") == 1  # reads do not raise it
    assert cached.update("k", succeed).total_successes == 2
    with pytest.raises(ValueError, match="picky step"):
        cached.flush(timeout=WAIT)
    assert cached.failed_writes == 1
    cached.flush(timeout=WAIT)  # raised once
    assert successes(backend, "k") == 4


def test_full_queue_waits_then_raises(gated: tuple[GatedStore, CachedStore]) -> None:
    """With max_pending updates waiting and the backend stuck, a writer waits full_wait, then gets StoreUnavailable."""
    backend, _ = gated
    cached = CachedStore(backend, refresh=0.02, max_pending=3, full_wait=0.1, close_timeout=WAIT)
    hold_writer(backend, cached)
    for key in ("a", "b", "c"):
        cached.update(key, succeed)
    started = time.monotonic()
    with pytest.raises(StoreUnavailable) as info:
        cached.update("d", succeed)
    assert time.monotonic() - started >= 0.1
    assert str(info.value) == ("memory://?cache=0.02: 3 updates wait to be written and the store took none for 0.1 s")
    assert "d" not in cached.read_many(["d"])  # refused, so not applied either
    backend.gate.set()
    cached.close()
    assert sorted(backend.list_health()) == ["a", "b", "c", "parked"]


def test_close_flushes_then_refuses_writes(gated: tuple[GatedStore, CachedStore]) -> None:
    """close() begun while the backend is blocked still writes every queued update before it returns."""
    backend, cached = gated
    hold_writer(backend, cached)
    for key in ("a", "b", "c"):
        cached.update(key, succeed)
    cached.set_ban("a", "s", NOW + 60, now=NOW)
    closer = threading.Thread(target=cached.close)
    closer.start()
    wait_closing(cached)
    with pytest.raises(StoreUnavailable, match=r"^memory://\?cache=0.02 is closed; open a new store$"):
        cached.update("late", succeed)
    assert backend.list_health() == {}
    backend.gate.set()
    closer.join(WAIT)
    assert not closer.is_alive()
    assert sorted(backend.list_health()) == ["a", "b", "c", "parked"]
    assert backend.bans("s", now=NOW) == {"a": NOW + 60}
    cached.close()  # a second close is a no-op


def test_close_is_bounded_when_backend_is_stuck(gated: tuple[GatedStore, CachedStore]) -> None:
    """close() with the backend stuck returns after close_timeout with an error counting the lost updates."""
    backend, _ = gated
    cached = CachedStore(backend, refresh=0.02, close_timeout=0.2)
    hold_writer(backend, cached)
    cached.update("a", succeed)
    started = time.monotonic()
    with pytest.raises(StoreUnavailable) as info:
        cached.close()
    assert 0.2 <= time.monotonic() - started < WAIT
    assert str(info.value) == "memory://?cache=0.02: 2 updates were not written before close (waited up to 0.2 s)"
    backend.gate.set()  # let the parked thread end


def test_close_retries_through_a_failover(gated: tuple[GatedStore, CachedStore]) -> None:
    """A backend that fails a few tries after close() began (a fail-over): close() retries and loses nothing."""
    backend, cached = gated
    down = StoreUnavailable("down", url="memory://")
    backend.fail = down
    cached.update("a", succeed)
    cached.set_ban("a", "s", NOW + 60, now=NOW)
    assert backend.tries.wait(1), "the writer never tried"
    tries_closed = Counter()

    def failover() -> None:
        # Fails until three tries were made after close() began (one may have been under way already).
        if cached.closed:
            tries_closed.bump()
            if tries_closed.value() > 3:
                backend.fail = None

    backend.before = failover
    cached.close()
    assert successes(backend, "a") == 1
    assert backend.bans("s", now=NOW) == {"a": NOW + 60}
    assert tries_closed.value() >= 4


def test_close_keeps_retrying_until_close_timeout(gated: tuple[GatedStore, CachedStore]) -> None:
    """A backend failing for good: close() retries with back-off until close_timeout, then names the error."""
    backend, _ = gated
    cached = CachedStore(backend, refresh=0.02, close_timeout=0.5)
    backend.fail = StoreUnavailable("Redis store redis://h:1/0: cannot connect to h:1", url="redis://h:1/0")
    cached.update("a", succeed)
    assert backend.tries.wait(1), "the writer never tried"
    tries_closed = Counter()
    backend.before = lambda: tries_closed.bump() if cached.closed else None
    started = time.monotonic()
    with pytest.raises(StoreUnavailable) as info:
        cached.close()
    assert 0.5 <= time.monotonic() - started < WAIT
    assert str(info.value) == (
        "memory://?cache=0.02: 1 updates were not written before close (waited up to 0.5 s): "
        "Redis store redis://h:1/0: cannot connect to h:1"
    )
    assert info.value.__cause__ is backend.fail
    assert tries_closed.value() >= 3  # at once, then after 20, 40, 80, 160 ms


def test_clear_forgets_queued_and_stored(gated: tuple[GatedStore, CachedStore]) -> None:
    """clear() drops queued updates and empties both the view and the backend."""
    backend, cached = gated
    backend.update("old", succeed)
    cached.sync(timeout=WAIT)
    cached.update("new", succeed)
    cached.set_ban("new", "s", NOW + 60, now=NOW)
    cached.clear()
    cached.sync(timeout=WAIT)
    assert cached.list_health() == {}
    assert cached.list_bans(now=NOW) == []
    assert backend.list_health() == {}
    assert backend.list_bans(now=NOW) == []


def test_bad_arguments() -> None:
    """A refresh that is not a positive number is a ConfigError naming it."""
    with pytest.raises(ConfigError, match=r"^CachedStore refresh=0: give a positive number of seconds"):
        CachedStore(MemoryStore(), refresh=0)
    with pytest.raises(ConfigError, match=r"^CachedStore max_pending=0: give at least 1"):
        CachedStore(MemoryStore(), max_pending=0)


# --- URLs ----------------------------------------------------------------------------------------


def test_url_cache_option_wraps_sqlite(tmp_path: Path) -> None:
    """sqlite:////abs/path?cache=S gives a CachedStore over that file; cache=0 gives the plain store."""
    path = tmp_path / "h.db"
    cached = store_from_url(f"sqlite:///{path}?timeout=3&cache=0.05")
    assert isinstance(cached, CachedStore)
    assert isinstance(cached.backend, SQLiteStore)
    assert cached.backend.path == path
    assert cached.backend.busy_timeout == 3.0
    assert cached.url == f"sqlite:///{path}?timeout=3&cache=0.05"
    assert cached.refresh == 0.05
    cached.close()
    plain = store_from_url(f"sqlite:///{path}?cache=0")
    assert isinstance(plain, SQLiteStore)
    plain.close()


@pytest.mark.parametrize("value", ["soon", "-1", "inf", "nan", ""])
def test_url_bad_cache_value(tmp_path: Path, value: str) -> None:
    """A cache= that is not a positive number of seconds is a ConfigError showing the two forms."""
    with pytest.raises(ConfigError, match=r"write cache=0\.05 \(read the store every 50 ms\) or cache=0 \(no cache\)"):
        store_from_url(f"sqlite:///{tmp_path / 'h.db'}?cache={value}")


@pytest.mark.redis
def test_url_cache_option_wraps_redis(redis_url: str) -> None:
    """redis://…?prefix=p:&cache=S keeps the prefix for the backend and hides the password."""
    url = redis_url.replace("redis://", "redis://default:hunter2@") + "&cache=0.05"
    cached = store_from_url(url)
    assert isinstance(cached, CachedStore)
    assert isinstance(cached.backend, RedisStore)
    assert cached.backend.prefix == redis_url.rpartition("prefix=")[2]
    assert "hunter2" not in cached.url
    assert "hunter2" not in repr(cached)
    assert cached.url == url.replace("hunter2", "***")
    cached.close()


def test_url_cache_on_unreachable_redis_fails_at_open() -> None:
    """A cached Redis store that cannot be reached fails when opened, password redacted."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        with pytest.raises(StoreUnavailable, match=f"cannot connect to 127.0.0.1:{port}") as info:
            store_from_url(f"redis://:hunter2@127.0.0.1:{port}/0?cache=0.05")
    assert "hunter2" not in str(info.value)


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("redis://h:6379/0?password=hunter2", "redis://h:6379/0?password=***"),
        ("redis://h/0?prefix=p:&pass=hunter2&cache=0.05", "redis://h/0?prefix=p:&pass=***&cache=0.05"),
        ("redis://u:hunter2@h/0?Password=hunter2", "redis://u:***@h/0?Password=***"),
        ("rediss://h/0?ssl_password=hunter2&timeout=2", "rediss://h/0?ssl_password=***&timeout=2"),
        ("unix:///run/redis.sock?db=0&password=hunter2", "unix:///run/redis.sock?db=0&password=***"),
        ("redis://h/0?prefix=pass:", "redis://h/0?prefix=pass:"),
        ("sqlite:///h.db?timeout=3", "sqlite:///h.db?timeout=3"),
        ("redis://u:hunter2@h/0#password=x", "redis://u:***@h/0#password=x"),
    ],
)
def test_redact_url_hides_passwords_in_the_query(url: str, shown: str) -> None:
    """redact_url hides ?password= (and pass, ssl_password...) as well as the user-info password; the rest stays."""
    assert redact_url(url) == shown


def test_url_query_password_never_shown() -> None:
    """A cached Redis URL with ?password= that cannot be reached: the error and its URL hide the password."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        with pytest.raises(StoreUnavailable) as info:
            store_from_url(f"redis://127.0.0.1:{port}/0?password=hunter2&cache=0.05")
    assert info.value.url == f"redis://127.0.0.1:{port}/0?password=***"  # the backend's, met at open
    assert "hunter2" not in str(info.value) + repr(info.value)


# --- real SQLite and Redis -----------------------------------------------------------------------


@pytest.fixture(params=["sqlite", pytest.param("redis", marks=pytest.mark.redis)])
def backend_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A URL of each shared backend, without cache=."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'health.db'}"
    url: str = request.getfixturevalue("redis_url")
    return url


def cached_url(url: str, refresh: float = 0.02) -> str:
    return f"{url}{'&' if '?' in url else '?'}cache={refresh}"


def test_contract_on_real_backend(backend_url: str) -> None:
    """On SQLite and Redis: updates chain, bans hold per site, and after sync() the backend agrees with the view."""
    cached = store_from_url(cached_url(backend_url))
    plain = store_from_url(backend_url)
    try:
        assert cached.update("k", succeed).total_successes == 1
        assert cached.update("k", succeed).total_successes == 2
        cached.set_ban("k", "shop.example", NOW + 60, now=NOW)
        cached.set_ban("k", "news.example", NOW + 5, now=NOW)
        cached.clear_ban("k", "news.example")
        assert isinstance(cached, CachedStore)
        cached.sync(timeout=WAIT)
        assert plain.read_many(["k"]) == cached.read_many(["k"])
        assert successes(plain, "k") == 2
        assert plain.list_bans(now=NOW) == cached.list_bans(now=NOW) == [Ban("k", "shop.example", NOW + 60)]
    finally:
        cached.clear()
        cached.close()
        plain.close()


def test_concurrent_cached_writers_lose_nothing(backend_url: str) -> None:
    """Two cached stores on one backend, a thread each: every step lands once, and both views agree after sync."""
    stores = [store_from_url(cached_url(backend_url)), store_from_url(cached_url(backend_url))]
    errors: list[BaseException] = []

    def work(store: HealthStore) -> None:
        try:
            for _ in range(100):
                store.update("hot", succeed)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(s,)) for s in stores]
    for t in threads:
        t.start()
    for t in threads:
        t.join(WAIT)
    assert not errors
    try:
        for s in stores:
            assert isinstance(s, CachedStore)
            s.flush(timeout=WAIT)
        for s in stores:
            assert isinstance(s, CachedStore)
            s.sync(timeout=WAIT)
            assert successes(s, "hot") == 200
    finally:
        stores[0].clear()
        for s in stores:
            s.close()


def test_pools_on_two_cached_stores_see_ejections(backend_url: str, clock: FakeClock) -> None:
    """A proxy ejected by a pool on one cached store is avoided by a pool on another once it refreshes."""
    one_store = store_from_url(cached_url(backend_url))
    watched = Watched(store_from_url(backend_url))
    two_store = CachedStore(watched, refresh=0.02)
    one = ProxyPool(PROXIES, store=one_store, clock=clock, policy=POLICY, rng=random.Random(1))
    two = ProxyPool(PROXIES, store=two_store, clock=clock, policy=POLICY, rng=random.Random(2))
    try:
        for _ in range(3):
            one.report(PROXIES[0], "a.example", REFUSED, 0.1)
        assert one.status()[0].state is HealthState.EJECTED  # this process: at once
        wait_for(watched.reads, lambda: two.status()[0].state is HealthState.EJECTED, "the other store to refresh")
        assert PROXIES[0] not in {two.lease("a.example") for _ in range(20)}
        banned = Failure(ErrorCode.HTTP_STATUS, Phase.WAIT, Blame.ORIGIN, status=429)
        one.report(PROXIES[1], "shop.example", banned, 0.1)
        wait_for(
            watched.reads, lambda: PROXIES[1].key in two_store.bans("shop.example", now=clock()), "the ban to show"
        )
        assert PROXIES[1] not in {two.lease("shop.example") for _ in range(20)}
    finally:
        one_store.clear()
        one_store.close()
        two_store.close()


def test_background_error_from_real_sqlite(tmp_path: Path, logs: LogWatch) -> None:
    """A SQLite file that fills up under a cached store: logged naming the file, flush() says so, then it recovers."""
    path = tmp_path / "h.db"
    cached = store_from_url(f"sqlite:///{path}?cache=0.02")
    assert isinstance(cached, CachedStore)
    backend = cached.backend
    assert isinstance(backend, SQLiteStore)
    cached.update("first", succeed)
    cached.flush(timeout=WAIT)
    with backend._lock:  # the writer thread shares this connection
        conn = backend._connect()  # the limit makes SQLite answer SQLITE_FULL, as a full disk would
        pages = conn.execute("PRAGMA page_count").fetchone()[0]
        conn.execute(f"PRAGMA max_page_count = {pages + 1}")
    # 40 keys of 200 bytes need more than the one page allowed; more would only slow the retry below.
    for i in range(40):
        cached.update(f"http://{'x' * 200}{i}:80", succeed)
    assert logs.count.wait(1), "the full disk was not logged"
    full = f"SQLite store sqlite:///{path}: the disk (or the database's size limit) is full"
    assert logs.lines()[0].startswith(
        f"sqlite:///{path}?cache=0.02: could not write to the store (40 updates wait and are retried): {full}"
    )
    assert str(cached.last_error).startswith(full)
    with pytest.raises(StoreUnavailable) as info:
        cached.flush(timeout=0.1)
    assert str(info.value).startswith(
        f"sqlite:///{path}?cache=0.02: could not write the queued updates in 0.1 s (40 updates waiting); "
        f"last error: {full}"
    )
    assert info.value.url == f"sqlite:///{path}?cache=0.02"
    assert successes(cached, "first") == 1
    assert len(cached.list_health()) == 41  # the local view has them all
    with backend._lock:
        conn.execute("PRAGMA max_page_count = 1073741823")
    # The writer retries with back-off (up to 1 s between tries); the bound only matters when it
    # never recovers, and a loaded machine needs room.
    cached.flush(timeout=6 * WAIT)
    assert len(SQLiteStore(path).list_health()) == 41
    assert cached.last_error is None
    cached.close()


class Relay:
    """A loopback TCP relay to the test's redis-server that can drop every connection and refuse new ones."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self.listener.getsockname()[1])
        self.open = True
        self.lock = threading.Lock()
        self.sockets: list[socket.socket] = []
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            with self.lock:
                if not self.open:
                    client.close()
                    continue
                upstream = socket.create_connection(("127.0.0.1", self.target_port), timeout=WAIT)
                self.sockets += [client, upstream]
            for src, dst in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(src, dst), daemon=True).start()

    @staticmethod
    def _pump(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (src, dst):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)

    def cut(self) -> None:
        """Drop every connection; refuse (accept and close) new ones until resume()."""
        with self.lock:
            self.open = False
            for sock in self.sockets:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()
            self.sockets.clear()

    def resume(self) -> None:
        with self.lock:
            self.open = True

    def close(self) -> None:
        self.cut()
        self.listener.shutdown(socket.SHUT_RDWR)
        self.listener.close()
        self.thread.join(WAIT)


@pytest.mark.redis
def test_redis_going_away_under_cached_store(redis_server: RedisServer, logs: LogWatch) -> None:
    """Redis lost mid-run: calls go on, a log line names the URL (password hidden); once back, the kept updates land."""
    relay = Relay(redis_server.port)
    prefix = f"relay{os.getpid()}:"
    url = f"redis://default:hunter2@127.0.0.1:{relay.port}/0?prefix={prefix}&cache=0.02"
    cached = store_from_url(url)
    direct = store_from_url(redis_server.url(prefix))
    try:
        cached.update("k", succeed)
        assert isinstance(cached, CachedStore)
        cached.flush(timeout=WAIT)
        relay.cut()
        cached.update("k", succeed)
        assert logs.count.wait(1), "the lost Redis was not logged"
        shown = f"redis://default:***@127.0.0.1:{relay.port}/0?prefix={prefix}"
        line = logs.lines()[0]
        assert line.startswith(
            f"{shown}&cache=0.02: could not write to the store (1 updates wait and are retried): "
            f"Redis store {shown}: cannot connect to 127.0.0.1:{relay.port}; start redis-server"
        )
        assert successes(cached, "k") == 2  # reads answer from the local view
        assert cached.update("k", succeed).total_successes == 3
        error = cached.last_error
        assert isinstance(error, StoreUnavailable)
        assert error.url == shown
        assert "hunter2" not in line + str(error) + repr(error)
        relay.resume()
        cached.flush(timeout=WAIT)  # retried with back-off (at most 1 s apart)
        assert successes(direct, "k") == 3
        assert cached.last_error is None
    finally:
        direct.clear()
        direct.close()
        try:
            cached.close()
        finally:
            relay.close()


# --- processes -----------------------------------------------------------------------------------

PEER = """
import sys, threading, time
from sockwise import Blame, ErrorCode, Failure, Phase, Proxy
from sockwise.pool import CachedStore, HealthPolicy, HealthState, ProxyPool, store_from_url

class Watched:  # the backend, counting the cache's reads of everything
    def __init__(self, inner):
        self.inner, self.reads, self.cond = inner, 0, threading.Condition()
    def __getattr__(self, name):
        return getattr(self.inner, name)
    def list_health(self):
        with self.cond:
            self.reads += 1
            self.cond.notify_all()
        return self.inner.list_health()

refused = Failure(ErrorCode.ECONNREFUSED, Phase.PROXY_CONNECT, Blame.PROXY, request_sent=False, errno=111)
proxies = [Proxy("http", f"10.0.0.{i}", 8080) for i in range(1, 5)]
watched = Watched(store_from_url(sys.argv[1]))
pool = ProxyPool(proxies, store=CachedStore(watched, refresh=0.02), policy=HealthPolicy(ejection_jitter=0.0))
print("ready", flush=True)
sys.stdin.readline()  # the parent says go
for _ in range(3):
    pool.report(proxies[0], "a.example", refused, 0.1)
print("ejected", flush=True)
started = time.monotonic()
deadline = started + 10
while True:  # checked after each read of the store, bounded: 10 s
    with watched.cond:
        seen = watched.reads
    if pool.status()[1].state is HealthState.EJECTED:
        break
    with watched.cond:
        if not watched.cond.wait_for(lambda: watched.reads >= seen + 2, deadline - time.monotonic()):
            print("timeout", flush=True)
            sys.exit(1)
print(f"seen {time.monotonic() - started:.4f}", flush=True)
pool.store.close()
"""


def read_line(proc: subprocess.Popen[str], timeout: float = WAIT) -> str:
    """The child's next line, waited for at most ``timeout``."""
    assert proc.stdout is not None
    with selectors.DefaultSelector() as sel:
        sel.register(proc.stdout, selectors.EVENT_READ)
        assert sel.select(timeout=timeout), "the child said nothing in time"
    return proc.stdout.readline().strip()


@pytest.mark.redis
def test_two_processes_share_ejections_through_cached_redis(redis_url: str) -> None:
    """Two processes, each a pool on a cached Redis store: each sees the other's ejection within a bounded time."""
    proc = subprocess.Popen(
        [sys.executable, "-c", PEER, redis_url], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    watched = Watched(store_from_url(redis_url))
    store = CachedStore(watched, refresh=0.02)
    pool = ProxyPool(PROXIES, store=store, policy=POLICY)
    try:
        assert read_line(proc, timeout=60) == "ready"
        assert proc.stdin is not None
        proc.stdin.write("go\n")
        proc.stdin.flush()
        assert read_line(proc) == "ejected"
        ejected = lambda: pool.status()[0].state is HealthState.EJECTED  # noqa: E731
        took = wait_for(watched.reads, ejected, "the child's ejection to show")
        assert took < 2.0
        assert PROXIES[0] not in {pool.lease("a.example") for _ in range(20)}
        for _ in range(3):
            pool.report(PROXIES[1], "a.example", REFUSED, 0.1)
        seen = read_line(proc)
        assert seen.startswith("seen "), seen
        assert float(seen.split()[1]) < 2.0
        assert proc.wait(timeout=WAIT) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=WAIT)
        for stream in (proc.stdin, proc.stdout):
            if stream is not None:
                stream.close()
        store.clear()
        store.close()


EXIT_WITHOUT_CLOSE = """
import sys
from sockwise.pool import HealthPolicy, record, store_from_url
store = store_from_url(sys.argv[1])
policy = HealthPolicy()
for _ in range(50):
    store.update("k", lambda h: record(h, None, 0.1, now=1e6, policy=policy, rand=0.0))
"""


def test_interpreter_exit_flushes(backend_url: str) -> None:
    """A process that ends without close() still writes its queued updates at exit."""
    done = subprocess.run(
        [sys.executable, "-c", EXIT_WITHOUT_CLOSE, cached_url(backend_url, refresh=5.0)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    plain = store_from_url(backend_url)
    try:
        assert successes(plain, "k") == 50
    finally:
        plain.clear()
        plain.close()


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_forked_child_writes_through_its_own_thread(tmp_path: Path) -> None:
    """After fork the child's cached store starts its own writer; what it writes reaches the parent's view."""
    cached = store_from_url(f"sqlite:///{tmp_path / 'h.db'}?cache=0.02")
    assert isinstance(cached, CachedStore)
    cached.update("parent", succeed)
    pid = os.fork()
    if pid == 0:  # the child: never return into pytest
        code = 1
        try:
            cached.update("child", succeed)
            cached.close()
            code = 0
        finally:
            os._exit(code)
    assert wait_child(pid, WAIT) == 0
    cached.sync(timeout=WAIT)
    assert sorted(cached.list_health()) == ["child", "parent"]
    cached.close()


def wait_child(pid: int, timeout: float) -> int:
    """The exit code of a forked child, waited for at most ``timeout``; killed by PID (and the test failed) after."""
    status: list[int] = []
    # waitpid blocks; a thread runs it so that the wait itself is a bounded join.
    reaper = threading.Thread(target=lambda: status.append(os.waitpid(pid, 0)[1]), daemon=True)
    reaper.start()
    reaper.join(timeout)
    if reaper.is_alive():
        os.kill(pid, signal.SIGKILL)
        reaper.join(WAIT)
        pytest.fail(f"the forked child {pid} did not end within {timeout} s; killed")
    return os.waitstatus_to_exitcode(status[0])
