"""The cached, write-behind store: answers from memory, writes behind, reads afresh, tells its errors."""

from __future__ import annotations

import contextlib
import os
import random
import selectors
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
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


def wait_for(condition: Callable[[], bool], what: str, timeout: float = WAIT) -> float:
    """Poll ``condition`` until true (bounded); the seconds it took."""
    started = time.monotonic()
    while not condition():
        assert time.monotonic() - started < timeout, f"not within {timeout} s: {what}"
        time.sleep(0.002)
    return time.monotonic() - started


class GatedStore(MemoryStore):
    """A memory store whose writes wait for the test to open a gate, and can be made to fail."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = threading.Event()
        self.gate.set()
        self.entered = threading.Event()  # set when a write reached the gate
        self.fail: Exception | None = None
        self.writes = 0

    def _pass(self) -> None:
        self.entered.set()
        assert self.gate.wait(WAIT), "the test never opened the gate"
        if self.fail is not None:
            raise self.fail
        self.writes += 1

    def update(self, key: str, step: Callable[[ProxyHealth], ProxyHealth]) -> ProxyHealth:
        self._pass()
        return super().update(key, step)

    def set_ban(self, key: str, site: str, until: float, *, now: float) -> None:
        self._pass()
        super().set_ban(key, site, until, now=now)

    def clear_ban(self, key: str, site: str) -> None:
        self._pass()
        super().clear_ban(key, site)


@pytest.fixture
def gated() -> Iterator[tuple[GatedStore, CachedStore]]:
    """A cached store over a gated memory store (refresh 20 ms), closed at the end."""
    backend = GatedStore()
    cached = CachedStore(backend, refresh=0.02, close_timeout=WAIT)
    try:
        yield backend, cached
    finally:
        backend.fail = None
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
    wait_for(lambda: successes(cached, "k") == 2, "the next refresh")
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


def test_background_error_raised_once_then_writes_retried(gated: tuple[GatedStore, CachedStore]) -> None:
    """A failed background write: the next call raises it (naming the URL), the update is kept, and lands later."""
    backend, cached = gated
    backend.fail = StoreUnavailable("Redis store redis://h:1/0: cannot connect to h:1; start it", url="redis://h:1/0")
    cached.update("k", succeed)
    errors: list[StoreUnavailable] = []

    def raised() -> bool:
        try:
            cached.read_many(["k"])
        except StoreUnavailable as exc:
            errors.append(exc)
            return True
        return False

    wait_for(raised, "the background error to reach a caller")
    error = errors[0]
    assert error.url == "memory://?cache=0.02"
    assert str(error).startswith("Redis store redis://h:1/0: cannot connect to h:1; start it (met by the cache's")
    assert "updates are kept and retried" in str(error)
    assert isinstance(error.__cause__, StoreUnavailable)
    assert successes(cached, "k") == 1  # the local view kept the update
    for _ in range(3):
        MemoryStore.update(backend, "k", succeed)  # another writer meanwhile, past the failing gate
    backend.fail = None
    deadline = time.monotonic() + WAIT
    while True:  # the error may be met once more before a retry gets through
        try:
            cached.flush(timeout=WAIT)
            break
        except StoreUnavailable:
            assert time.monotonic() < deadline
    assert successes(backend, "k") == 4
    assert successes(cached, "k") == 4


def test_refresh_keeps_unwritten_updates_on_top(gated: tuple[GatedStore, CachedStore]) -> None:
    """While writes fail, a refresh shows the backend's value with this process's unwritten steps applied on top."""
    backend, cached = gated
    backend.fail = StoreUnavailable("down", url="memory://")
    cached.update("k", succeed)
    for _ in range(5):
        MemoryStore.update(backend, "k", succeed)  # another writer, past the failing gate

    def view_is_six() -> bool:
        try:
            return successes(cached, "k") == 6
        except StoreUnavailable:
            return False

    wait_for(view_is_six, "a refresh with the pending step folded in")
    assert successes(backend, "k") == 5


def test_step_failing_on_shared_value_is_raised_and_dropped(gated: tuple[GatedStore, CachedStore]) -> None:
    """A step that raises only on the shared value: the next call raises its error; the store goes on working."""
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
    with pytest.raises(ValueError, match="picky step"):
        cached.flush(timeout=WAIT)
    cached.update("k", succeed)
    cached.flush(timeout=WAIT)
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
    wait_for(lambda: cached.closed, "close() to begin")
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
    one_store, two_store = store_from_url(cached_url(backend_url)), store_from_url(cached_url(backend_url))
    one = ProxyPool(PROXIES, store=one_store, clock=clock, policy=POLICY, rng=random.Random(1))
    two = ProxyPool(PROXIES, store=two_store, clock=clock, policy=POLICY, rng=random.Random(2))
    try:
        for _ in range(3):
            one.report(PROXIES[0], "a.example", REFUSED, 0.1)
        assert one.status()[0].state is HealthState.EJECTED  # this process: at once
        wait_for(lambda: two.status()[0].state is HealthState.EJECTED, "the other store to refresh")
        assert PROXIES[0] not in {two.lease("a.example") for _ in range(20)}
        banned = Failure(ErrorCode.HTTP_STATUS, Phase.WAIT, Blame.ORIGIN, status=429)
        one.report(PROXIES[1], "shop.example", banned, 0.1)
        wait_for(lambda: PROXIES[1].key in two_store.bans("shop.example", now=clock()), "the ban to show")
        assert PROXIES[1] not in {two.lease("shop.example") for _ in range(20)}
    finally:
        one_store.clear()
        one_store.close()
        two_store.close()


def test_background_error_from_real_sqlite(tmp_path: Path) -> None:
    """A SQLite file that fills up under a cached store: the next call says so, naming the file."""
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
    with pytest.raises(StoreUnavailable) as info:
        cached.flush(timeout=WAIT)
    assert str(info.value).startswith(f"SQLite store sqlite:///{path}: the disk (or the database's size limit) is full")
    assert info.value.url == f"sqlite:///{path}?cache=0.02"
    assert successes(cached, "first") == 1
    with backend._lock:
        conn.execute("PRAGMA max_page_count = 1073741823")
    # The writer retries with back-off (up to 1 s between tries): the error may be met a few times
    # more. The bound only matters when the writer never recovers; a loaded machine needs room.
    deadline = time.monotonic() + 6 * WAIT
    while True:
        try:
            cached.flush(timeout=WAIT)
            break
        except StoreUnavailable:
            assert time.monotonic() < deadline
    assert len(SQLiteStore(path).list_health()) == 41
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
def test_redis_going_away_under_cached_store(redis_server: RedisServer) -> None:
    """Redis lost mid-run: the next call names the URL (password hidden); once back, the kept updates land."""
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
        errors: list[StoreUnavailable] = []

        def raised() -> bool:
            try:
                cached.read_many(["k"])
            except StoreUnavailable as exc:
                errors.append(exc)
                return True
            return False

        wait_for(raised, "the lost Redis to be reported")
        message = str(errors[0])
        shown = f"redis://default:***@127.0.0.1:{relay.port}/0?prefix={prefix}"
        assert message.startswith(f"Redis store {shown}: cannot connect to 127.0.0.1:{relay.port}; start redis-server")
        assert "updates are kept and retried" in message
        assert errors[0].url == shown + "&cache=0.02"
        assert "hunter2" not in message + repr(errors[0])
        assert successes(cached, "k") == 2
        relay.resume()
        deadline = time.monotonic() + WAIT
        while True:  # retried with back-off: the error may be met once more
            try:
                cached.flush(timeout=WAIT)
                break
            except StoreUnavailable:
                assert time.monotonic() < deadline
        assert successes(direct, "k") == 2
    finally:
        direct.clear()
        direct.close()
        try:
            cached.close()
        finally:
            relay.close()


# --- processes -----------------------------------------------------------------------------------

PEER = """
import sys, time
from sockwise import Blame, ErrorCode, Failure, Phase, Proxy
from sockwise.pool import HealthPolicy, HealthState, ProxyPool, store_from_url
refused = Failure(ErrorCode.ECONNREFUSED, Phase.PROXY_CONNECT, Blame.PROXY, request_sent=False, errno=111)
proxies = [Proxy("http", f"10.0.0.{i}", 8080) for i in range(1, 5)]
pool = ProxyPool(proxies, store=sys.argv[1], policy=HealthPolicy(ejection_jitter=0.0))
print("ready", flush=True)
sys.stdin.readline()  # the parent says go
for _ in range(3):
    pool.report(proxies[0], "a.example", refused, 0.1)
print("ejected", flush=True)
started = time.monotonic()
while pool.status()[1].state is not HealthState.EJECTED:  # bounded: 10 s
    if time.monotonic() - started > 10:
        print("timeout", flush=True)
        sys.exit(1)
    time.sleep(0.002)
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
    url = cached_url(redis_url)
    proc = subprocess.Popen([sys.executable, "-c", PEER, url], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    store = store_from_url(url)
    pool = ProxyPool(PROXIES, store=store, policy=POLICY)
    try:
        assert read_line(proc, timeout=60) == "ready"
        assert proc.stdin is not None
        proc.stdin.write("go\n")
        proc.stdin.flush()
        assert read_line(proc) == "ejected"
        took = wait_for(lambda: pool.status()[0].state is HealthState.EJECTED, "the child's ejection to show")
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
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    cached.sync(timeout=WAIT)
    assert sorted(cached.list_health()) == ["child", "parent"]
    cached.close()
