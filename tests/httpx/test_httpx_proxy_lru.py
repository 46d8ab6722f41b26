"""RetryTransport / AsyncRetryTransport keep a bounded LRU of per-proxy transports: sockets stay bounded, none cut.

Distinct credentials on one lab proxy are distinct proxies (credentials are part of a proxy's
identity), so one healthy lab proxy stands in for a pool of thousands, or a vendor session id per
request. Open client sockets are counted from /proc (the ``held`` fixture).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

import httpx
import pytest

from sockwise import ConfigError, PoolRoutes, Proxy, ProxyPool
from sockwise.httpx import AsyncRetryTransport, RetryTransport
from sockwise.lab import Lab, LabProxy
from sockwise.runner import Route
from sockwise.testing import CyclingRoutes

Policy = Callable[..., Any]
Held = Callable[[int], dict[str, int]]
T = TypeVar("T")

STREAM = {"sockwise": {"stream": True}}
TRICKLE = {"size": 6, "interval": 0.05}  # a body that is still arriving while other proxies are used
TRICKLED = b"sockwi"


def run(coro: Coroutine[Any, Any, T]) -> T:
    """Run one async test body on a fresh event loop, bounded so a hang fails instead of blocking the suite."""

    async def bounded() -> T:
        return await asyncio.wait_for(coro, timeout=20)

    return asyncio.run(bounded())


def _logins(lab_proxy: LabProxy, count: int) -> list[Proxy]:
    """``count`` distinct proxies on one healthy lab proxy: one login each."""
    return [Proxy("http", lab_proxy.host, lab_proxy.port, f"user-session-{i}", f"pw{i}") for i in range(count)]


def _open(held: Held, port: int) -> int:
    return sum(held(port).values())


def _kept(transport: RetryTransport | AsyncRetryTransport) -> list[Route]:
    return transport._transports.proxies()


@pytest.fixture
def lab_proxy(sockwise_lab: Lab) -> LabProxy:
    """One healthy lab proxy."""
    return sockwise_lab.add_proxy("healthy")


# -- sync ------------------------------------------------------------------------------------------------------------


def test_sockets_stay_bounded_over_many_proxies(
    sockwise_lab: Lab, lab_proxy: LabProxy, make_policy: Policy, held: Held
) -> None:
    """30 proxies through max_proxies=4, twice round: every GET a 200, at most 4 sockets open, 0 after close."""
    proxies = _logins(lab_proxy, 30)
    transport = RetryTransport(
        policy=make_policy(attempts=1), routes=PoolRoutes(ProxyPool(proxies, strategy="round_robin")), max_proxies=4
    )
    url = sockwise_lab.url("ok")
    most = 0
    with httpx.Client(transport=transport, timeout=5.0) as client:
        for _ in range(2):  # the second round reaches proxies whose transports were evicted
            for _ in proxies:
                response = client.get(url)
                assert (response.status_code, response.content) == (200, b"ok")
                most = max(most, _open(held, lab_proxy.port))
                assert len(_kept(transport)) <= 4
    assert 1 <= most <= 4
    assert len(sockwise_lab.records("ok")) == 60
    assert lab_proxy.connections == 60  # each proxy's pool was gone again when its turn came
    assert _open(held, lab_proxy.port) == 0


def test_without_eviction_every_proxy_keeps_a_socket(
    sockwise_lab: Lab, lab_proxy: LabProxy, make_policy: Policy, held: Held
) -> None:
    """The control: with room for all 12 proxies, 12 sockets stay open (what the LRU bound prevents)."""
    proxies = _logins(lab_proxy, 12)
    transport = RetryTransport(policy=make_policy(attempts=1), routes=CyclingRoutes(proxies), max_proxies=100)
    with httpx.Client(transport=transport, timeout=5.0) as client:
        for _ in proxies:
            assert client.get(sockwise_lab.url("ok")).status_code == 200
        assert held(lab_proxy.port) == {"ESTABLISHED": 12}
    assert _open(held, lab_proxy.port) == 0


def test_the_least_recently_used_proxy_is_evicted_and_its_socket_closed(
    sockwise_lab: Lab, make_policy: Policy, held: Held
) -> None:
    """max_proxies=2, routes A B A C: B (not the recently used A) loses its transport and its socket."""
    a, b, c = (sockwise_lab.add_proxy("healthy") for _ in range(3))
    routes = CyclingRoutes([a.proxy, b.proxy, a.proxy, c.proxy])
    transport = RetryTransport(policy=make_policy(attempts=1), routes=routes, max_proxies=2)
    url = sockwise_lab.url("ok")
    with httpx.Client(transport=transport, timeout=5.0) as client:
        for expected in (
            {a.port: 1},
            {a.port: 1, b.port: 1},
            {a.port: 1, b.port: 1},
            {a.port: 1, b.port: 0, c.port: 1},
        ):
            assert client.get(url).status_code == 200
            assert {port: _open(held, port) for port in expected} == expected
        assert _kept(transport) == [a.proxy, c.proxy]
    assert (a.connections, b.connections, c.connections) == (1, 1, 1)  # A's connection was reused


def test_a_streamed_body_outlives_the_eviction_of_its_proxy(sockwise_lab: Lab, make_policy: Policy, held: Held) -> None:
    """A body still arriving when its proxy is evicted reads to the end; its socket closes when it is closed."""
    a, b, c = (sockwise_lab.add_proxy("healthy") for _ in range(3))
    routes = CyclingRoutes([a.proxy, b.proxy, c.proxy])
    transport = RetryTransport(policy=make_policy(attempts=1), routes=routes, max_proxies=1)
    with httpx.Client(transport=transport, timeout=5.0) as client:
        with client.stream("GET", sockwise_lab.url("trickle", **TRICKLE), extensions=STREAM) as streamed:
            chunks = streamed.iter_raw()
            first = next(chunks)
            for _ in range(2):  # B, then C: A is evicted while its body is still arriving
                assert client.get(sockwise_lab.url("ok")).status_code == 200
            assert _kept(transport) == [c.proxy]
            assert _open(held, a.port) == 1  # still out on the response, not cut
            assert first + b"".join(chunks) == TRICKLED
        assert _open(held, a.port) == 0  # closed with the response: its transport was dropped
        assert (_open(held, b.port), _open(held, c.port)) == (0, 1)
    assert _open(held, c.port) == 0


def test_threads_share_the_lru_safely(sockwise_lab: Lab, lab_proxy: LabProxy, make_policy: Policy, held: Held) -> None:
    """4 threads x 12 GETs over 24 proxies, max_proxies=3: all 200, sockets bounded, 3 transports kept."""
    proxies = _logins(lab_proxy, 24)
    transport = RetryTransport(policy=make_policy(attempts=1), routes=CyclingRoutes(proxies), max_proxies=3)
    client = httpx.Client(transport=transport, timeout=5.0)
    url = sockwise_lab.url("ok")
    threads, per_thread = 4, 12
    statuses: list[int] = []
    seen_open: list[int] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def work() -> None:
        try:
            for _ in range(per_thread):
                response = client.get(url)
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
    try:
        assert not any(worker.is_alive() for worker in workers)
        assert errors == []
        assert statuses == [200] * threads * per_thread
        # Idle ones in the 3 kept transports (at most one per thread each), plus those out on a request.
        assert max(seen_open) <= 3 * threads + threads
        assert len(_kept(transport)) == 3
        assert _open(held, lab_proxy.port) <= 3 * threads
    finally:
        client.close()
    assert _open(held, lab_proxy.port) == 0


@pytest.mark.parametrize("bad", [0, -1, 2.5, True, "8"])
@pytest.mark.parametrize("transport_type", [RetryTransport, AsyncRetryTransport])
def test_max_proxies_must_be_a_positive_whole_number(transport_type: type[Any], bad: object) -> None:
    """max_proxies below 1 (or not an int) is one ConfigError naming the argument, for both transports."""
    with pytest.raises(ConfigError, match=r"^max_proxies must be a whole number >= 1 .*, got "):
        transport_type(max_proxies=bad)


def test_max_proxies_defaults_to_64() -> None:
    """The default bound is the requests adapter's: 64 proxies' transports."""
    assert (RetryTransport().max_proxies, AsyncRetryTransport(max_proxies=5).max_proxies) == (64, 5)


# -- async -----------------------------------------------------------------------------------------------------------


def test_async_sockets_stay_bounded_and_evicted_proxies_work_again(
    sockwise_lab: Lab, lab_proxy: LabProxy, make_policy: Policy, held: Held
) -> None:
    """Async: 20 proxies through max_proxies=3, twice round: all 200, at most 3 sockets, 0 after aclose."""
    proxies = _logins(lab_proxy, 20)
    url = sockwise_lab.url("ok")

    async def body() -> int:
        transport = AsyncRetryTransport(policy=make_policy(attempts=1), routes=CyclingRoutes(proxies), max_proxies=3)
        most = 0
        async with httpx.AsyncClient(transport=transport, timeout=5.0) as client:
            for _ in range(2 * len(proxies)):
                response = await client.get(url)
                assert (response.status_code, response.content) == (200, b"ok")
                most = max(most, _open(held, lab_proxy.port))
            assert _kept(transport) == proxies[-3:]
        return most

    assert 1 <= run(body()) <= 3
    assert lab_proxy.connections == 40
    assert _open(held, lab_proxy.port) == 0


def test_async_streamed_body_outlives_the_eviction_of_its_proxy(
    sockwise_lab: Lab, make_policy: Policy, held: Held
) -> None:
    """Async: a body still arriving when its proxy is evicted reads to the end; aclose then closes its socket."""
    a, b, c = (sockwise_lab.add_proxy("healthy") for _ in range(3))

    async def body() -> None:
        routes = CyclingRoutes([a.proxy, b.proxy, c.proxy])
        transport = AsyncRetryTransport(policy=make_policy(attempts=1), routes=routes, max_proxies=1)
        async with httpx.AsyncClient(transport=transport, timeout=5.0) as client:
            async with client.stream("GET", sockwise_lab.url("trickle", **TRICKLE), extensions=STREAM) as streamed:
                chunks = streamed.aiter_raw()
                got = await chunks.__anext__()
                for _ in range(2):  # B, then C: A is evicted while its body is still arriving
                    assert (await client.get(sockwise_lab.url("ok"))).status_code == 200
                assert _kept(transport) == [c.proxy]
                assert _open(held, a.port) == 1  # still out on the response, not cut
                async for chunk in chunks:
                    got += chunk
                assert got == TRICKLED
            assert _open(held, a.port) == 0  # closed with the response: its transport was dropped
            assert (_open(held, b.port), _open(held, c.port)) == (0, 1)

    run(body())
    assert _open(held, c.port) == 0


def test_async_concurrent_requests_are_never_cut_by_evictions(
    sockwise_lab: Lab, lab_proxy: LabProxy, make_policy: Policy, held: Held
) -> None:
    """16 trickling GETs at once over 16 proxies, max_proxies=2: each proxy is evicted mid-body, every body whole."""
    proxies = _logins(lab_proxy, 16)
    url = sockwise_lab.url("trickle", **TRICKLE)

    async def body() -> list[tuple[int, bytes]]:
        transport = AsyncRetryTransport(policy=make_policy(attempts=1), routes=CyclingRoutes(proxies), max_proxies=2)
        async with httpx.AsyncClient(transport=transport, timeout=5.0) as client:

            async def one() -> tuple[int, bytes]:
                response = await client.get(url)
                return response.status_code, response.content

            answers = await asyncio.gather(*(one() for _ in proxies))
            assert _open(held, lab_proxy.port) <= 2  # the evicted ones closed as their bodies ended
            return answers

    assert run(body()) == [(200, TRICKLED)] * len(proxies)
    assert lab_proxy.connections == len(proxies)
    assert _open(held, lab_proxy.port) == 0
