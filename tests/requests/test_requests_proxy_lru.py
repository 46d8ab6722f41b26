"""RetryAdapter keeps a bounded LRU of per-proxy pool managers: sockets stay bounded, evicted proxies still work."""

from __future__ import annotations

import sys
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping
from typing import Any

import pytest
import requests

from sockwise import ConfigError, PoolRoutes, Proxy, ProxyPool
from sockwise.lab import Lab, LabProxy
from sockwise.requests import RetryAdapter, Session
from sockwise.requests import _adapter as adapter_module
from sockwise.requests._connection import AttemptState, current
from sockwise.testing import CyclingRoutes

MakeSession = Callable[..., Session]
Policy = Callable[..., Any]
Held = Callable[[int], dict[str, int]]


class PausingAdapter(RetryAdapter):
    """A RetryAdapter that holds the first request through ``pause_url`` at one step until ``resume`` is set.

    ``pause_at="manager"``: right after it got the proxy's pool manager (before taking a pool from it);
    ``pause_at="pool"``: right after it took a connection pool (before asking the pool for a connection).
    """

    def __init__(self, *args: Any, pause_at: str, pause_url: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.pause_at = pause_at
        self.pause_url = pause_url
        self.reached = threading.Event()
        self.resume = threading.Event()

    def _pause(self, step: str, proxy: str | None) -> None:
        if step == self.pause_at and proxy == self.pause_url and not self.reached.is_set():
            self.reached.set()
            assert self.resume.wait(10), "the test never resumed the paused request"

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        manager = super().proxy_manager_for(proxy, **proxy_kwargs)
        self._pause("manager", proxy)
        return manager

    def get_connection_with_tls_context(
        self, request: Any, verify: Any, proxies: Mapping[str, str] | None = None, cert: Any = None
    ) -> Any:
        pool = super().get_connection_with_tls_context(request, verify, proxies, cert)
        self._pause("pool", (proxies or {}).get("all"))
        return pool


class BarrierAdapter(RetryAdapter):
    """A RetryAdapter whose requests wait for each other (a barrier) between taking a pool and using it."""

    def __init__(self, *args: Any, parties: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.barrier = threading.Barrier(parties, timeout=20)

    def get_connection_with_tls_context(
        self, request: Any, verify: Any, proxies: Mapping[str, str] | None = None, cert: Any = None
    ) -> Any:
        pool = super().get_connection_with_tls_context(request, verify, proxies, cert)
        self.barrier.wait()
        return pool


def _in_thread(call: Callable[[], requests.Response]) -> tuple[threading.Thread, list[object]]:
    """Run ``call`` on a started thread; the list gets its response (body read) or its exception."""
    outcome: list[object] = []

    def run() -> None:
        try:
            response = call()
            response.content  # noqa: B018  # read here, on the request's thread
            outcome.append(response)
        except BaseException as exc:  # handed to the test, which asserts on it
            outcome.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    return thread, outcome


def _logins(lab_proxy: LabProxy, count: int, scheme: str = "http") -> list[Proxy]:
    """``count`` distinct proxies on one healthy lab proxy: one login each (credentials are identity)."""
    return [Proxy(scheme, lab_proxy.host, lab_proxy.port, f"user-session-{i}", f"pw{i}") for i in range(count)]


def _open(held: Held, port: int) -> int:
    return sum(held(port).values())


@pytest.fixture
def lab_proxy(sockwise_lab: Lab) -> LabProxy:
    """One healthy lab proxy (HTTP and SOCKS on one port)."""
    return sockwise_lab.add_proxy("healthy")


@pytest.mark.parametrize("scheme", ["http", "socks5"])
def test_sockets_stay_bounded_over_many_proxies(
    sockwise_lab: Lab, lab_proxy: LabProxy, make_session: MakeSession, make_policy: Policy, held: Held, scheme: str
) -> None:
    """30 proxies through max_proxies=4: at most 4 sockets open after every request, every request a 200."""
    proxies = _logins(lab_proxy, 30, scheme)
    pool = ProxyPool(proxies, strategy="round_robin")
    session = make_session(make_policy(attempts=1), routes=PoolRoutes(pool), max_proxies=4)
    url = sockwise_lab.url("ok")
    most = 0
    for _ in range(2):  # the second round reaches proxies whose managers were evicted
        for _ in proxies:
            response = session.get(url, timeout=5)
            assert (response.status_code, response.content) == (200, b"ok")
            most = max(most, _open(held, lab_proxy.port))
            assert len(session.adapter.proxy_manager) <= 4
    assert 1 <= most <= 4
    assert len(sockwise_lab.records("ok")) == 60
    assert lab_proxy.connections == 60  # one new connection per request: each proxy's pool was gone again
    session.close()
    assert _open(held, lab_proxy.port) == 0


def test_without_eviction_every_proxy_keeps_a_socket(
    sockwise_lab: Lab, lab_proxy: LabProxy, make_session: MakeSession, make_policy: Policy, held: Held
) -> None:
    """The control: with room for all 12 proxies, 12 sockets stay open (what the LRU bound prevents)."""
    proxies = _logins(lab_proxy, 12)
    session = make_session(make_policy(attempts=1), routes=CyclingRoutes(proxies), max_proxies=100)
    for _ in proxies:
        assert session.get(sockwise_lab.url("ok"), timeout=5).status_code == 200
    assert held(lab_proxy.port) == {"ESTABLISHED": 12}
    session.close()
    assert _open(held, lab_proxy.port) == 0


def test_the_least_recently_used_proxy_is_evicted_and_its_socket_closed(
    sockwise_lab: Lab, make_session: MakeSession, make_policy: Policy, held: Held
) -> None:
    """max_proxies=2, routes A B A C: B (not the recently used A) loses its manager and its socket."""
    a, b, c = (sockwise_lab.add_proxy("healthy") for _ in range(3))
    session = make_session(make_policy(attempts=1), routes=CyclingRoutes([a.proxy, b.proxy, a.proxy, c.proxy]))
    session.adapter.max_proxies = 2
    url = sockwise_lab.url("ok")
    for expected in ({a.port: 1}, {a.port: 1, b.port: 1}, {a.port: 1, b.port: 1}, {a.port: 1, b.port: 0, c.port: 1}):
        assert session.get(url, timeout=5).status_code == 200
        assert {port: _open(held, port) for port in expected} == expected
    assert list(session.adapter.proxy_manager) == [a.proxy.url, c.proxy.url]
    assert (a.connections, b.connections, c.connections) == (1, 1, 1)  # A's connection was reused


def test_a_streamed_response_outlives_the_eviction_of_its_proxy(
    sockwise_lab: Lab, make_session: MakeSession, make_policy: Policy, held: Held
) -> None:
    """A body still being read when its proxy is evicted reads to the end; its socket closes when it is done."""
    a, b, c = (sockwise_lab.add_proxy("healthy") for _ in range(3))
    session = make_session(make_policy(attempts=1), routes=CyclingRoutes([a.proxy, b.proxy, c.proxy]), max_proxies=1)
    streamed = session.get(sockwise_lab.url("ok"), stream=True, timeout=5)
    for _ in range(2):  # B, then C: A is evicted while its response is out
        assert session.get(sockwise_lab.url("ok"), timeout=5).status_code == 200
    assert a.proxy.url not in session.adapter.proxy_manager
    assert _open(held, a.port) == 1  # still out on the response, not cut
    assert streamed.content == b"ok"
    assert _open(held, a.port) == 0  # back to a closed pool: closed, not kept
    assert _open(held, b.port) == 0
    assert _open(held, c.port) == 1


def test_threads_share_the_lru_safely(
    sockwise_lab: Lab, lab_proxy: LabProxy, make_session: MakeSession, make_policy: Policy, held: Held
) -> None:
    """4 threads x 12 requests over 24 proxies, max_proxies=3: all 200, sockets bounded, 3 managers left."""
    proxies = _logins(lab_proxy, 24)
    session = make_session(make_policy(attempts=1), routes=CyclingRoutes(proxies), max_proxies=3)
    url = sockwise_lab.url("ok")
    threads, per_thread = 4, 12
    statuses: list[int] = []
    seen_open: list[int] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def work() -> None:
        try:
            for _ in range(per_thread):
                response = session.get(url, timeout=5)
                now = _open(held, lab_proxy.port)
                with lock:
                    statuses.append(response.status_code)
                    seen_open.append(now)
        except BaseException as exc:  # reported below: a thread's failure must fail the test
            errors.append(exc)

    workers = [threading.Thread(target=work) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=30)
    assert not any(worker.is_alive() for worker in workers)
    assert errors == []
    assert statuses == [200] * threads * per_thread
    # Idle ones in the 3 kept managers (at most one per thread each), plus those out on a response.
    assert max(seen_open) <= 3 * threads + threads
    assert len(session.adapter.proxy_manager) == 3
    assert _open(held, lab_proxy.port) <= 3 * threads
    session.close()
    assert _open(held, lab_proxy.port) == 0


@pytest.mark.parametrize("pause_at", ["manager", "pool"])
def test_a_proxy_evicted_while_a_request_holds_its_manager_still_serves_it(
    sockwise_lab: Lab, make_session: MakeSession, make_policy: Policy, held: Held, pause_at: str
) -> None:
    """max_proxies=1: A's request paused holding A's manager (or pool) while B evicts A gets a 200; A then closes."""
    a, b = sockwise_lab.add_proxy("healthy"), sockwise_lab.add_proxy("healthy")
    adapter = PausingAdapter(
        make_policy(attempts=1),
        routes=CyclingRoutes([a.proxy, b.proxy]),
        max_proxies=1,
        pause_at=pause_at,
        pause_url=a.proxy.url,
    )
    session = make_session(adapter=adapter)
    url = sockwise_lab.url("ok")
    thread, outcome = _in_thread(lambda: session.get(url, timeout=5))
    try:
        assert adapter.reached.wait(10)
        second = session.get(url, timeout=5)  # through B: A's manager leaves the LRU
        assert (second.status_code, second.content) == (200, b"ok")
        assert list(adapter.proxy_manager) == [b.proxy.url]
    finally:
        adapter.resume.set()
        thread.join(timeout=20)
    assert not thread.is_alive()
    [first] = outcome
    assert isinstance(first, requests.Response), f"A's request failed: {first!r}"
    assert (first.status_code, first.content) == (200, b"ok")
    assert (a.connections, b.connections) == (1, 1)
    # A's manager (and the pool its request made or took) closed once the request was done; B's idle socket kept.
    assert (_open(held, a.port), _open(held, b.port)) == (0, 1)
    session.close()
    assert _open(held, b.port) == 0


@pytest.mark.parametrize("scheme", ["http", "socks5"])
def test_evictions_under_threads_in_flight_never_close_a_pool_in_use(
    sockwise_lab: Lab, lab_proxy: LabProxy, make_session: MakeSession, make_policy: Policy, held: Held, scheme: str
) -> None:
    """8 threads x 6 rounds over 24 proxies, max_proxies=2, a round all in flight at once: all 200, sockets bounded."""
    threads, rounds = 8, 6
    proxies = _logins(lab_proxy, 24, scheme)  # 3 rounds apart: a round's 8 proxies are never in the LRU
    adapter = BarrierAdapter(make_policy(attempts=1), routes=CyclingRoutes(proxies), max_proxies=2, parties=threads)
    session = make_session(adapter=adapter)
    url = sockwise_lab.url("ok")
    statuses: list[int] = []
    seen_open: list[int] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def work() -> None:
        try:
            for _ in range(rounds):
                response = session.get(url, timeout=5)
                status, now = response.status_code, _open(held, lab_proxy.port)
                with lock:
                    statuses.append(status)
                    seen_open.append(now)
        except BaseException as exc:  # reported below: a thread's failure must fail the test
            adapter.barrier.abort()  # the others stop waiting for it
            errors.append(exc)

    workers = [threading.Thread(target=work) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)
    assert not any(worker.is_alive() for worker in workers)
    assert errors == []
    assert statuses == [200] * threads * rounds
    assert lab_proxy.connections == threads * rounds  # a new manager, so a new connection, every time
    # One socket per request in flight, plus the idle ones of the 2 kept managers: dropped ones were closed.
    assert max(seen_open) <= threads + 2
    assert len(adapter.proxy_manager) == 2
    assert _open(held, lab_proxy.port) == 2
    session.close()
    assert _open(held, lab_proxy.port) == 0


def test_close_during_a_request_through_a_proxy_lets_it_finish_then_closes_its_pool(
    sockwise_lab: Lab, make_session: MakeSession, make_policy: Policy, held: Held
) -> None:
    """adapter.close() while a request holds a proxy pool: the request gets its 200, then the socket closes."""
    a = sockwise_lab.add_proxy("healthy")
    adapter = PausingAdapter(
        make_policy(attempts=1), routes=CyclingRoutes([a.proxy]), pause_at="pool", pause_url=a.proxy.url
    )
    session = make_session(adapter=adapter)
    thread, outcome = _in_thread(lambda: session.get(sockwise_lab.url("ok"), timeout=5))
    try:
        assert adapter.reached.wait(10)
        session.close()
        assert list(adapter.proxy_manager) == []
    finally:
        adapter.resume.set()
        thread.join(timeout=20)
    assert not thread.is_alive()
    [response] = outcome
    assert isinstance(response, requests.Response), f"the request failed: {response!r}"
    assert (response.status_code, response.content) == (200, b"ok")
    assert _open(held, a.port) == 0


def _hold(adapter: RetryAdapter, url: str) -> tuple[AttemptState, Any]:
    """What requests' send does inside an attempt: get the proxy's manager (the attempt now holds it)."""
    state = AttemptState(None, None, None)  # type: ignore[arg-type]  # no runner context needed here
    outer, current.attempt = current.attempt, state
    try:
        manager = adapter.proxy_manager_for(url)
    finally:
        current.attempt = outer
    assert state.manager is manager
    return state, manager


def _release(adapter: RetryAdapter, state: AttemptState) -> None:
    """What the adapter does when an attempt ends: let go of the manager it holds."""
    manager, state.manager = state.manager, None
    adapter._release_manager(manager)


class HookedHolds(list[None]):
    """A manager's hold list that runs ``hook`` once, at one step of an append or pop (where a thread could switch)."""

    def __init__(self, on: str, hook: Callable[[], None]) -> None:
        super().__init__()
        self.on = on
        self.hook: Callable[[], None] | None = hook

    def _fire(self, step: str) -> None:
        hook = self.hook
        if hook is not None and step == self.on:
            self.hook = None
            hook()

    def append(self, item: None) -> None:
        self._fire("before append")
        super().append(item)
        self._fire("after append")

    def pop(self, index: Any = -1) -> None:
        super().pop(index)
        self._fire("after pop")


@pytest.fixture
def closes(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Every pool manager the adapter closes, in order (the real close still runs)."""
    closed: list[Any] = []
    real = adapter_module._close_manager

    def spy(manager: Any) -> None:
        closed.append(manager)
        real(manager)

    monkeypatch.setattr(adapter_module, "_close_manager", spy)
    return closed


A_URL, B_URL = "http://user-a:pw@127.0.0.1:9001", "http://user-b:pw@127.0.0.1:9002"  # pools only: nothing connects


@pytest.mark.parametrize("step", ["before append", "after append"])
def test_an_eviction_racing_a_cache_hit_is_never_missed(closes: list[Any], step: str) -> None:
    """B evicts A between A's lookup and A's hold check: the hit backs out to a new manager; the old closes once."""
    adapter = RetryAdapter(max_proxies=1)
    state, old = _hold(adapter, A_URL)
    _release(adapter, state)  # A kept, idle

    others: list[Any] = []

    def another_attempt_asks_for_b() -> None:
        b_state, b = _hold(adapter, B_URL)
        others.append(b)
        _release(adapter, b_state)

    old._sockwise_holds = HookedHolds(step, another_attempt_asks_for_b)
    state, manager = _hold(adapter, A_URL)
    [b] = others
    assert manager is not old  # a dropped manager is never handed out
    # Old A: before the hold, closed by B's eviction (idle); after it, by the hit's own back-out release.
    # Then B, idle, evicted by A's new manager.
    assert closes == [old, b]
    assert (old.pools.keys(), list(adapter.proxy_manager)) == (set(), [A_URL])
    pool = manager.connection_from_host("127.0.0.1", 80, "http")
    _release(adapter, state)
    assert pool.pool is not None  # still in the LRU: kept open
    assert adapter._dropped == set()


def test_an_eviction_after_the_hold_waits_for_the_release(closes: list[Any]) -> None:
    """A held (its pool taken) when B evicts it: A's pool stays open until A's release, then A closes."""
    adapter = RetryAdapter(max_proxies=1)
    state, a = _hold(adapter, A_URL)
    pool = a.connection_from_host("127.0.0.1", 80, "http")
    _release(adapter, _hold(adapter, B_URL)[0])
    assert list(adapter.proxy_manager) == [B_URL]
    assert (closes, pool.pool is not None) == ([], True)
    late = a.connection_from_host("127.0.0.1", 81, "http")  # a second pool made in the dropped manager
    _release(adapter, state)
    assert closes == [a]
    assert (pool.pool, late.pool, a.pools.keys()) == (None, None, set())
    assert adapter._dropped == set()


def test_a_release_racing_the_eviction_closes_the_manager_once(closes: list[Any]) -> None:
    """B evicts A right after A's last hold is let go (before A reads its mark): A closed exactly once."""
    adapter = RetryAdapter(max_proxies=1)
    state, a = _hold(adapter, A_URL)
    a._sockwise_holds = HookedHolds("after pop", lambda: _release(adapter, _hold(adapter, B_URL)[0]))
    a._sockwise_holds.append(None)  # the hold taken above, now in the hooked list (first hook step: pop)
    _release(adapter, state)
    assert closes == [a]
    assert adapter._dropped == set()
    assert list(adapter.proxy_manager) == [B_URL]


class HookedLRU(OrderedDict[str, Any]):
    """The adapter's LRU, running ``hook`` once right after the next new entry goes in."""

    hook: Callable[[], None] | None = None

    def __setitem__(self, key: str, value: Any) -> None:
        super().__setitem__(key, value)
        hook, self.hook = self.hook, None
        if hook is not None:
            hook()


def test_hits_reordering_the_lru_as_a_new_manager_goes_in_never_evict_it(closes: list[Any]) -> None:
    """max_proxies=2 with A, B kept; C goes in while hits move A and B to the end: A is evicted, never C."""
    c_url = "http://user-c:pw@127.0.0.1:9003"
    adapter = RetryAdapter(max_proxies=2)
    for url in (A_URL, B_URL):
        _release(adapter, _hold(adapter, url)[0])
    a = adapter.proxy_manager[A_URL]
    lru = adapter.proxy_manager = HookedLRU(adapter.proxy_manager)

    def other_attempts_hit_what_is_kept() -> None:
        for url in list(lru):
            if url != c_url:
                _release(adapter, _hold(adapter, url)[0])  # lock-free hits: they reorder the LRU

    lru.hook = other_attempts_hit_what_is_kept
    state, c = _hold(adapter, c_url)
    assert closes == [a]
    assert list(lru) == [c_url, B_URL]  # B hit after C went in
    assert (c._sockwise_dropped, c.connection_from_host("127.0.0.1", 80, "http").pool is not None) == (False, True)
    _release(adapter, state)
    assert closes == [a]


def test_holds_and_evictions_racing_never_close_a_held_manager() -> None:
    """4 threads x 1000 hold/evict/release cycles, max_proxies=1, tiny GIL switch interval: no held pool closed."""
    adapter = RetryAdapter(max_proxies=1)
    urls = [f"http://user-{i}:pw@127.0.0.1:{9000 + i}" for i in range(3)]  # pools only: nothing connects
    made: set[Any] = set()
    problems: list[str] = []
    lock = threading.Lock()
    start = threading.Barrier(4, timeout=10)

    def work(offset: int) -> None:
        try:
            start.wait()
            for i in range(1000):
                state, manager = _hold(adapter, urls[(i + offset) % len(urls)])
                pool = manager.connection_from_host("127.0.0.1", 80, "http")
                if pool.pool is None:  # what urllib3's _get_conn raises ClosedPoolError for
                    problems.append(f"held manager closed at {i}")
                with lock:
                    made.add(manager)
                _release(adapter, state)
        except BaseException as exc:  # reported below
            problems.append(repr(exc))

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible: the race windows are a few bytecodes
    try:
        workers = [threading.Thread(target=work, args=(n,)) for n in range(4)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(timeout=60)
    finally:
        sys.setswitchinterval(interval)
    assert not any(worker.is_alive() for worker in workers)
    assert problems == []
    kept = set(adapter.proxy_manager.values())
    assert len(kept) == 1
    assert adapter._dropped == set()
    # Every manager that left the LRU was closed once its last hold ended: no pools left in it.
    assert [len(manager.pools) for manager in made - kept] == [0] * (len(made) - 1)
    assert all(manager._sockwise_holds == [] for manager in made)


@pytest.mark.parametrize("bad", [0, -1, 2.5, True])
def test_max_proxies_must_be_a_positive_whole_number(bad: object) -> None:
    """max_proxies below 1 (or not an int) is one ConfigError naming the argument."""
    with pytest.raises(ConfigError, match=r"^max_proxies must be a whole number >= 1"):
        RetryAdapter(max_proxies=bad)  # type: ignore[arg-type]
