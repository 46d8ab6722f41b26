"""RetryAdapter keeps a bounded LRU of per-proxy pool managers: sockets stay bounded, evicted proxies still work."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any

import pytest

from sockwise import ConfigError, Failure, PoolRoutes, Proxy, ProxyPool
from sockwise.lab import Lab, LabProxy
from sockwise.requests import RetryAdapter, Session
from sockwise.runner import Route

MakeSession = Callable[..., Session]
Policy = Callable[..., Any]
Held = Callable[[int], dict[str, int]]


class ScriptedRoutes:
    """A route provider that hands out the given proxies in order, one per attempt (cycling)."""

    def __init__(self, proxies: Sequence[Proxy]) -> None:
        self._proxies = list(proxies)
        self._next = 0
        self._lock = threading.Lock()

    def lease(self, host: str, exclude: frozenset[Route]) -> Route:
        with self._lock:
            proxy = self._proxies[self._next % len(self._proxies)]
            self._next += 1
        return proxy

    def report(self, route: Route, host: str, failure: Failure | None, elapsed: float) -> None:
        pass

    def release(self, route: Route) -> None:
        pass

    def has_alternative(self, host: str, exclude: frozenset[Route]) -> bool:
        return False


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
    session = make_session(make_policy(attempts=1), routes=ScriptedRoutes(proxies), max_proxies=100)
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
    session = make_session(make_policy(attempts=1), routes=ScriptedRoutes([a.proxy, b.proxy, a.proxy, c.proxy]))
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
    session = make_session(make_policy(attempts=1), routes=ScriptedRoutes([a.proxy, b.proxy, c.proxy]), max_proxies=1)
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
    session = make_session(make_policy(attempts=1), routes=ScriptedRoutes(proxies), max_proxies=3)
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


@pytest.mark.parametrize("bad", [0, -1, 2.5, True])
def test_max_proxies_must_be_a_positive_whole_number(bad: object) -> None:
    """max_proxies below 1 (or not an int) is one ConfigError naming the argument."""
    with pytest.raises(ConfigError, match=r"^max_proxies must be a whole number >= 1"):
        RetryAdapter(max_proxies=bad)  # type: ignore[arg-type]
