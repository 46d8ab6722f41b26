"""SOCKS routes from a proxy pool through sockwise.aiohttp: classified failures, a bounded LRU, nothing leaked."""

from __future__ import annotations

import asyncio
import gc
import warnings
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import aiohttp
import pytest

from sockwise import Attempt, Blame, ConfigError, ErrorCode, Phase, PoolRoutes, Proxy, ProxyPool
from sockwise.aiohttp import (
    KeepAliveConnector,
    RetryError,
    RetryMiddleware,
    SocksRoutingConnector,
    connector,
    overrides,
    session,
)
from sockwise.lab import Lab, LabProxy
from sockwise.retry import RetryPolicy
from sockwise.runner import DirectRoutes
from sockwise.testing import CyclingRoutes

T = TypeVar("T")
Policy = Callable[..., RetryPolicy]
Held = Callable[[int], dict[str, int]]


def run(coro: Awaitable[T]) -> T:
    return asyncio.run(coro)  # type: ignore[arg-type]


async def fetch(s: aiohttp.ClientSession, url: str) -> tuple[int, bytes]:
    async with s.get(url) as resp:
        return resp.status, await resp.read()


SIZE = 1_000_000  # a body aiohttp does not read ahead in full (it pauses the socket at ~128 KiB unread)


def _open(held: Held, port: int) -> int:
    return sum(held(port).values())


def _socks(lab_proxy: LabProxy, username: str | None = None) -> Proxy:
    return Proxy("socks5", lab_proxy.host, lab_proxy.port, username, None if username is None else "pw")


# The dead proxy's profile -> (code, phase) of its attempts; every one is the proxy's fault and sent nothing.
# As aiohttp's own CONNECT rows in docs/matrix.md (refuse, blackhole, auth, connect-502), and as the requests
# integration says for SOCKS: a reset or an EOF after the connect to the proxy is in its handshake. A blackhole
# is cut by the per-try timeout while python-socks is still in its one connect-and-handshake call: connect.
DEAD = {
    "refuse": (ErrorCode.ECONNREFUSED, Phase.PROXY_CONNECT),
    "blackhole": (ErrorCode.ETIMEDOUT, Phase.PROXY_CONNECT),
    "auth": (ErrorCode.PROXY_AUTH, Phase.PROXY_HANDSHAKE),
    "connect-502": (ErrorCode.PROXY_REFUSED, Phase.PROXY_HANDSHAKE),
    "reset-after-connect": (ErrorCode.ECONNRESET, Phase.PROXY_HANDSHAKE),
    "upstream-dead": (ErrorCode.UNEXPECTED_EOF, Phase.PROXY_HANDSHAKE),
}


@pytest.mark.parametrize("profile", list(DEAD))
def test_a_pool_of_http_and_socks5_proxies_with_a_dead_socks_one(
    sockwise_lab: Lab, make_policy: Policy, held: Held, profile: str
) -> None:
    """Every GET succeeds; each try on the dead SOCKS proxy is its fault, with the code and phase of its profile."""
    http, socks = sockwise_lab.add_proxy("healthy"), sockwise_lab.add_proxy("healthy")
    dead = sockwise_lab.add_proxy(profile)
    proxies = [http.proxy, _socks(socks), _socks(dead)]
    seen: list[Attempt] = []
    url = sockwise_lab.url("ok")

    async def main() -> tuple[list[tuple[int, bytes]], dict[int, int]]:
        routes = PoolRoutes(ProxyPool(proxies, strategy="round_robin"))
        async with session(make_policy(attempts=3, timeout=0.3), routes=routes, on_attempt=seen.append) as s:
            assert type(s.connector) is SocksRoutingConnector
            results = [await fetch(s, url) for _ in range(6)]
            during = {port: _open(held, port) for port in (http.port, socks.port)}
        return results, during

    results, during = run(main())
    assert results == [(200, b"ok")] * 6
    assert during == {http.port: 1, socks.port: 1}  # one keep-alive connection each, reused
    assert {port: _open(held, port) for port in (http.port, socks.port, dead.port)} == {
        http.port: 0,
        socks.port: 0,
        dead.port: 0,
    }
    failed = [a for a in seen if a.failure is not None]
    assert failed, "the dead proxy was never tried"
    code, phase = DEAD[profile]
    for attempt in failed:
        assert attempt.route == _socks(dead).redacted
        assert attempt.failure is not None
        assert (attempt.failure.code, attempt.failure.phase, attempt.failure.blame, attempt.failure.request_sent) == (
            code,
            phase,
            Blame.PROXY,
            False,
        )
        assert attempt.action == "switch_route"
    assert len(sockwise_lab.records("ok")) == 6
    # Both kinds of route carried requests.
    assert http.forwarded >= 1
    assert socks.tunnels >= 1


def test_https_through_http_and_socks_routes_of_one_proxy(sockwise_lab: Lab, make_policy: Policy, held: Held) -> None:
    """TLS to the origin through CONNECT, socks5 and socks5h of one lab proxy: three pools, each reused."""
    lab_proxy = sockwise_lab.add_proxy("healthy")
    proxies = [lab_proxy.as_scheme("http"), lab_proxy.as_scheme("socks5"), lab_proxy.as_scheme("socks5h")]
    url = sockwise_lab.url("ok", tls=True)

    async def main() -> tuple[list[tuple[int, bytes]], dict[str, int]]:
        args = {"ssl": sockwise_lab.client_ssl_context()}
        async with session(make_policy(), routes=CyclingRoutes(proxies), connector_args=args) as s:
            results = [await fetch(s, url) for _ in range(6)]
            return results, held(lab_proxy.port)

    results, during = run(main())
    assert results == [(200, b"ok")] * 6
    assert during == {"ESTABLISHED": 3}
    assert lab_proxy.tunnels == 3  # one per route, each reused by the route's second request
    assert _open(held, lab_proxy.port) == 0


@pytest.mark.parametrize(
    ("scenario", "code", "blame"),
    [("tls-stall", ErrorCode.ETIMEDOUT, Blame.PROXY), ("bad-cert", ErrorCode.TLS_CERT, Blame.ORIGIN)],
)
def test_tls_through_a_socks_route_fails_in_phase_tls_within_the_deadline(
    sockwise_lab: Lab, make_policy: Policy, held: Held, scenario: str, code: ErrorCode, blame: Blame
) -> None:
    """TLS to the origin through a SOCKS tunnel: phase tls, and a stalled handshake ends at the per-try timeout."""
    lab_proxy = sockwise_lab.add_proxy("healthy")
    url = sockwise_lab.url(scenario)

    async def main() -> tuple[RetryError, float]:
        args = {"ssl": sockwise_lab.client_ssl_context()}
        policy = make_policy(attempts=1, timeout=0.3)
        async with session(policy, routes=CyclingRoutes([_socks(lab_proxy)]), connector_args=args) as s:
            began = asyncio.get_running_loop().time()
            try:
                await fetch(s, url)
            except RetryError as exc:
                return exc, asyncio.get_running_loop().time() - began
        raise AssertionError("the request succeeded")

    exc, took = run(main())
    failure = exc.sockwise.failure
    assert (failure.code, failure.phase, failure.blame, failure.request_sent) == (code, Phase.TLS, blame, False)
    # python-socks' own TLS would wait out a 30 s shutdown after the cut: a bound far below that and far
    # above the 0.3 s timeout tells the two apart on a loaded machine too.
    assert took < 5.0
    assert lab_proxy.tunnels == 1
    assert _open(held, lab_proxy.port) == 0


def test_socks_connectors_are_a_bounded_lru(sockwise_lab: Lab, make_policy: Policy, held: Held) -> None:
    """12 SOCKS logins through max_socks_proxies=3: at most 3 sockets open after any request; all 200."""
    lab_proxy = sockwise_lab.add_proxy("healthy")
    proxies = [_socks(lab_proxy, f"user-session-{i}") for i in range(12)]
    url = sockwise_lab.url("ok")

    async def main() -> tuple[list[int], list[int], list[Proxy]]:
        args = {"max_socks_proxies": 3}
        async with session(make_policy(attempts=1), routes=CyclingRoutes(proxies), connector_args=args) as s:
            assert isinstance(s.connector, SocksRoutingConnector)
            statuses, opened = [], []
            for _ in range(2 * len(proxies)):  # the second round comes back to evicted proxies
                status, _ = await fetch(s, url)
                await s.connector.socks_connectors.wait_closed()  # an evicted proxy's close runs in a task
                statuses.append(status)
                opened.append(_open(held, lab_proxy.port))
                assert len(s.connector.socks_connectors) <= 3
            kept = s.connector.socks_connectors.proxies()
        return statuses, opened, kept

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        statuses, opened, kept = run(main())
        gc.collect()
    # Evicted connectors were closed, not left to the garbage collector ("Unclosed connector").
    assert [str(w.message) for w in caught if issubclass(w.category, ResourceWarning)] == []
    assert statuses == [200] * 24
    assert max(opened) <= 3
    assert opened[-1] == 3
    assert kept == proxies[-3:]  # the three most recently used
    assert lab_proxy.tunnels == 24  # an evicted proxy's connection was gone: a new tunnel each time
    assert _open(held, lab_proxy.port) == 0


def test_concurrent_requests_over_more_proxies_than_kept(sockwise_lab: Lab, make_policy: Policy, held: Held) -> None:
    """30 GETs at once over 10 SOCKS logins, max_socks_proxies=2: all 200, none cut, 2 proxies' sockets left."""
    lab_proxy = sockwise_lab.add_proxy("healthy")
    proxies = [_socks(lab_proxy, f"user-session-{i}") for i in range(10)]
    url = sockwise_lab.url("ok")

    async def main() -> tuple[list[tuple[int, bytes]], int]:
        args = {"max_socks_proxies": 2}
        async with session(make_policy(attempts=1), routes=CyclingRoutes(proxies), connector_args=args) as s:
            assert isinstance(s.connector, SocksRoutingConnector)
            results = await asyncio.wait_for(asyncio.gather(*(fetch(s, url) for _ in range(30))), 20)
            await s.connector.socks_connectors.wait_closed()
            assert len(s.connector.socks_connectors) == 2
            return results, _open(held, lab_proxy.port)

    results, left = run(main())
    assert results == [(200, b"ok")] * 30
    assert 1 <= left <= 6  # each proxy carried 3 of the requests: at most 3 connections in each kept one
    assert _open(held, lab_proxy.port) == 0


def test_without_eviction_every_socks_proxy_keeps_a_socket(sockwise_lab: Lab, make_policy: Policy, held: Held) -> None:
    """The control: with room for all 8 SOCKS logins, 8 sockets stay open (what the bound prevents)."""
    lab_proxy = sockwise_lab.add_proxy("healthy")
    proxies = [_socks(lab_proxy, f"user-session-{i}") for i in range(8)]

    async def main() -> dict[str, int]:
        async with session(make_policy(attempts=1), routes=CyclingRoutes(proxies)) as s:
            for _ in proxies:
                assert (await fetch(s, sockwise_lab.url("ok")))[0] == 200
            return held(lab_proxy.port)

    assert run(main()) == {"ESTABLISHED": 8}
    assert _open(held, lab_proxy.port) == 0


def test_eviction_never_cuts_a_response_being_read(sockwise_lab: Lab, make_policy: Policy, held: Held) -> None:
    """max_socks_proxies=1: A's streamed body outlives A's eviction, and A's socket closes once it is released."""
    a, b = sockwise_lab.add_proxy("healthy"), sockwise_lab.add_proxy("healthy")
    url = sockwise_lab.url("ok")
    big = sockwise_lab.url("ok", size=SIZE)  # more than aiohttp buffers unread: the connection stays out

    async def main() -> None:
        routes = CyclingRoutes([_socks(a), _socks(b)])
        args = {"max_socks_proxies": 1}
        async with session(make_policy(attempts=1), routes=routes, connector_args=args) as s:
            assert isinstance(s.connector, SocksRoutingConnector)
            with overrides(stream=True):
                streamed = await s.get(big)
            assert (await fetch(s, url)) == (200, b"ok")  # through B: A is evicted, its response still out
            await s.connector.socks_connectors.wait_closed()
            assert s.connector.socks_connectors.proxies() == [_socks(b)]
            assert (_open(held, a.port), _open(held, b.port)) == (1, 1)
            assert len(await streamed.read()) == SIZE
            streamed.release()
            await s.connector.socks_connectors.wait_closed()
            assert (_open(held, a.port), _open(held, b.port)) == (0, 1)

    run(main())
    assert (_open(held, a.port), _open(held, b.port)) == (0, 0)


def test_closing_the_session_closes_an_evicted_proxy_still_in_use(
    sockwise_lab: Lab, make_policy: Policy, held: Held
) -> None:
    """A response never read keeps its evicted proxy's connection only until the session closes."""
    a, b = sockwise_lab.add_proxy("healthy"), sockwise_lab.add_proxy("healthy")

    async def main() -> aiohttp.ClientResponse:
        routes = CyclingRoutes([_socks(a), _socks(b)])
        async with session(make_policy(attempts=1), routes=routes, connector_args={"max_socks_proxies": 1}) as s:
            with overrides(stream=True):
                streamed = await s.get(sockwise_lab.url("ok", size=SIZE))
            assert (await fetch(s, sockwise_lab.url("ok")))[0] == 200
            assert isinstance(s.connector, SocksRoutingConnector)
            await s.connector.socks_connectors.wait_closed()
            assert _open(held, a.port) == 1
        return streamed

    streamed = run(main())
    assert streamed.connection is None or streamed.connection.closed
    assert (_open(held, a.port), _open(held, b.port)) == (0, 0)


def test_own_session_with_sockwise_connector_routes_socks(sockwise_lab: Lab, make_policy: Policy, held: Held) -> None:
    """Your own ClientSession with connector=sockwise.aiohttp.connector() and the middleware speaks SOCKS."""
    lab_proxy = sockwise_lab.add_proxy("healthy")

    async def main() -> tuple[int, bytes]:
        retry = RetryMiddleware(make_policy(), routes=CyclingRoutes([_socks(lab_proxy)]))
        async with aiohttp.ClientSession(connector=connector(), middlewares=[retry]) as s:
            return await fetch(s, sockwise_lab.url("ok"))

    assert run(main()) == (200, b"ok")
    assert lab_proxy.tunnels == 1
    assert _open(held, lab_proxy.port) == 0


def test_a_socks_route_never_goes_out_directly(sockwise_lab: Lab, make_policy: Policy) -> None:
    """A plain connector with a pool of SOCKS proxies: ConfigError, and neither the origin nor the proxy saw a thing."""
    lab_proxy = sockwise_lab.add_proxy("healthy")
    routes = PoolRoutes(ProxyPool([_socks(lab_proxy)]))

    async def main() -> None:
        async with aiohttp.ClientSession(middlewares=[RetryMiddleware(make_policy(), routes=routes)]) as s:
            await fetch(s, sockwise_lab.url("ok"))

    with pytest.raises(ConfigError, match=r"^the SOCKS proxy socks5://127\.0\.0\.1:\d+ needs a connector that speaks"):
        run(main())
    assert sockwise_lab.records("ok") == []
    assert lab_proxy.connections == 0


def test_session_routes_socks_only_when_its_routes_may_be_socks(sockwise_lab: Lab, make_policy: Policy) -> None:
    """Direct or HTTP-only routes get the plain KeepAliveConnector (no per-request SOCKS check); SOCKS ones route."""
    lab_proxy = sockwise_lab.add_proxy("healthy")
    cases: list[tuple[dict[str, Any], type]] = [
        ({}, KeepAliveConnector),
        ({"routes": DirectRoutes()}, KeepAliveConnector),
        ({"proxy": lab_proxy.proxy}, KeepAliveConnector),
        ({"routes": PoolRoutes(ProxyPool([lab_proxy.proxy]))}, KeepAliveConnector),
        ({"proxy": _socks(lab_proxy)}, SocksRoutingConnector),
        ({"routes": PoolRoutes(ProxyPool([lab_proxy.proxy, _socks(lab_proxy)]))}, SocksRoutingConnector),
        ({"routes": CyclingRoutes([lab_proxy.proxy])}, SocksRoutingConnector),  # a provider it cannot see into
    ]

    async def main() -> list[type]:
        made = []
        for kwargs in (case for case, _ in cases):
            async with session(make_policy(), **kwargs) as s:
                made.append(type(s.connector))
        return made

    assert run(main()) == [kind for _, kind in cases]


@pytest.mark.parametrize("bad", [0, -3, 1.5, True])
def test_max_socks_proxies_must_be_a_positive_whole_number(bad: object) -> None:
    """max_socks_proxies below 1 (or not an int) is one ConfigError naming it, from session() and connector()."""

    async def main() -> None:
        with pytest.raises(ConfigError, match=r"^max_socks_proxies must be a whole number >= 1"):
            session(connector_args={"max_socks_proxies": bad})
        with pytest.raises(ConfigError, match=r"^max_socks_proxies must be a whole number >= 1"):
            connector(max_socks_proxies=bad)  # type: ignore[arg-type]

    run(main())
