"""sockwise.aiohttp tells TCP from TLS inside aiohttp's one connector call: direct, through CONNECT, through SOCKS.

aiohttp connects and handshakes in one connector call; the hints hook its private steps for a new
connection (see ``sockwise.aiohttp._hints.tls_phase_hooks``). These tests pin the phase and blame each
route gives a handshake that never completes, that the hooks are found in the installed aiohttp (an
aiohttp that moves them fails here instead of falling back silently), what the fallback reports, and
that a request on a pooled connection never reaches them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any, TypeVar
from urllib.parse import urlsplit

import aiohttp
import pytest

from sockwise import Attempt, Blame, ErrorCode, Phase, Proxy
from sockwise.aiohttp import KeepAliveConnector, RetryError, RetryMiddleware, _hints, session
from sockwise.aiohttp._hints import TLS_PHASE_HINTS, tls_phase_hooks
from sockwise.lab import Lab
from sockwise.retry import Backoff, RetryPolicy

T = TypeVar("T")

TRY = 0.3  # the per-try timeout that ends each stalled handshake
Step = tuple[ErrorCode, Phase, Blame, bool | None]


def run(coro: Awaitable[T]) -> T:
    return asyncio.run(coro)  # type: ignore[arg-type]


def policy(**kwargs: Any) -> RetryPolicy:
    kwargs.setdefault("backoff", Backoff.fixed(0.01))
    kwargs.setdefault("budget", None)
    return RetryPolicy(**kwargs)


def _steps(exc: RetryError) -> list[Step]:
    return [(a.code, a.phase, a.blame, a.request_sent) for a in exc.sockwise.attempts]


async def _fail(lab: Lab, url: str, **kwargs: Any) -> RetryError:
    """One GET with one attempt of TRY seconds; the RetryError the caller's ``except aiohttp.ClientError`` gets."""
    caught: aiohttp.ClientError | None = None
    async with session(
        policy(attempts=1, timeout=TRY), connector_args={"ssl": lab.client_ssl_context()}, **kwargs
    ) as s:
        try:
            async with s.get(url) as response:
                await response.read()
        except aiohttp.ClientError as exc:
            caught = exc
    assert isinstance(caught, RetryError), f"not raised by sockwise: {caught!r}"
    return caught


def _socks(proxy: Proxy) -> Proxy:
    return Proxy("socks5", proxy.host, proxy.port)


# -- the hooks ---------------------------------------------------------------------------------------------------------


def test_the_installed_aiohttp_has_the_hooked_steps() -> None:
    """aiohttp's TCPConnector has every hooked step as the hints expect: the TLS hints are on, not the fallback."""
    assert TLS_PHASE_HINTS is True
    assert tls_phase_hooks(aiohttp.TCPConnector) is True


def test_a_connector_without_the_steps_falls_back() -> None:
    """A missing step, a step that is not a coroutine, or a socket step without addr_infos: no TLS hints."""

    class Bare:
        pass

    class NoTunnelTls:
        async def _wrap_create_connection(self, *args: Any, addr_infos: Any, **kwargs: Any) -> None: ...
        async def _create_proxy_connection(self, *args: Any) -> None: ...

    class Blocking(NoTunnelTls):
        def _start_tls_connection(self, *args: Any) -> None: ...

    class HostPort(NoTunnelTls):
        # the step as it was before aiohappyeyeballs: no connected socket handed to create_connection
        async def _wrap_create_connection(self, *args: Any, **kwargs: Any) -> None: ...  # type: ignore[override]
        async def _start_tls_connection(self, *args: Any) -> None: ...

    class Complete(NoTunnelTls):
        async def _start_tls_connection(self, *args: Any) -> None: ...

    assert [tls_phase_hooks(c) for c in (Bare, NoTunnelTls, Blocking, HostPort, Complete)] == [
        False,
        False,
        False,
        False,
        True,
    ]


# -- a handshake that never completes, by route ------------------------------------------------------------------------


def test_direct_tls_stall_is_the_origins_tls(sockwise_lab: Lab) -> None:
    """TCP accepted, no ServerHello: ETIMEDOUT in the TLS phase, the origin's, nothing sent (not connect/network)."""
    exc = run(_fail(sockwise_lab, sockwise_lab.url("tls-stall")))
    assert _steps(exc) == [(ErrorCode.ETIMEDOUT, Phase.TLS, Blame.ORIGIN, False)]
    assert isinstance(exc, aiohttp.ConnectionTimeoutError)
    assert sockwise_lab.accepted("tls-stall") == 1


@pytest.mark.parametrize("scheme", ["http", "socks5"])
def test_tls_stall_through_a_tunnel_is_tls_blamed_on_the_proxy(sockwise_lab: Lab, scheme: str) -> None:
    """Through a CONNECT or a SOCKS5 tunnel, the origin's stalled handshake is TLS, blamed on the proxy hop."""
    lab_proxy = sockwise_lab.add_proxy("healthy")
    proxy = lab_proxy.proxy if scheme == "http" else _socks(lab_proxy.proxy)
    exc = run(_fail(sockwise_lab, sockwise_lab.url("tls-stall"), proxy=proxy))
    # (a TLS handshake timeout through a proxy is the proxy's: one that cannot reach its upstream looks the same)
    assert _steps(exc) == [(ErrorCode.ETIMEDOUT, Phase.TLS, Blame.PROXY, False)]
    assert (lab_proxy.connections, sockwise_lab.accepted("tls-stall")) == (1, 1)


def test_connect_stall_at_an_http_proxy_is_its_handshake(sockwise_lab: Lab) -> None:
    """An HTTP proxy that accepts TCP and never answers CONNECT: ETIMEDOUT in the proxy handshake, not its connect."""
    lab_proxy = sockwise_lab.add_proxy("blackhole")
    exc = run(_fail(sockwise_lab, sockwise_lab.url("ok", tls=True), proxy=lab_proxy.proxy))
    assert _steps(exc) == [(ErrorCode.ETIMEDOUT, Phase.PROXY_HANDSHAKE, Blame.PROXY, False)]
    assert sockwise_lab.records("ok") == []


@pytest.mark.parametrize("origin_tls", [False, True])
def test_tls_stall_at_an_https_proxy_is_the_proxys_connect(sockwise_lab: Lab, origin_tls: bool) -> None:
    """TLS to an https proxy that stalls is the proxy's connect (proxy_connect), never the origin's TLS."""
    stall = urlsplit(sockwise_lab.url("tls-stall"))
    proxy = Proxy("https", str(stall.hostname), int(stall.port or 0))
    exc = run(_fail(sockwise_lab, sockwise_lab.url("ok", tls=origin_tls), proxy=proxy))
    assert _steps(exc) == [(ErrorCode.ETIMEDOUT, Phase.PROXY_CONNECT, Blame.PROXY, False)]
    assert sockwise_lab.accepted("tls-stall") == 1
    assert sockwise_lab.records("ok") == []


def test_without_the_hooks_the_whole_connector_call_is_connect(
    sockwise_lab: Lab, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The fallback (an aiohttp without the steps): ETIMEDOUT/connect/network as before; https still works."""
    monkeypatch.setattr(_hints, "TLS_PHASE_HINTS", False)
    exc = run(_fail(sockwise_lab, sockwise_lab.url("tls-stall")))
    assert _steps(exc) == [(ErrorCode.ETIMEDOUT, Phase.CONNECT, Blame.NETWORK, False)]

    async def ok() -> tuple[int, bytes]:
        ssl = sockwise_lab.client_ssl_context()
        async with session(policy(), connector_args={"ssl": ssl}) as s, s.get(sockwise_lab.url("ok", tls=True)) as r:
            return r.status, await r.read()

    assert run(ok()) == (200, b"ok")


# -- the cost: new connections only ------------------------------------------------------------------------------------


class _CountingConnector(KeepAliveConnector):
    """A KeepAliveConnector counting each call of connect and of every hooked step (after the hints ran)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.calls: dict[str, int] = {}

    def _count(self, name: str) -> None:
        self.calls[name] = self.calls.get(name, 0) + 1

    async def connect(self, *args: Any, **kwargs: Any) -> Any:
        self._count("connect")
        return await super().connect(*args, **kwargs)

    async def _create_proxy_connection(self, *args: Any, **kwargs: Any) -> Any:
        self._count("_create_proxy_connection")
        return await super()._create_proxy_connection(*args, **kwargs)

    async def _wrap_create_connection(self, *args: Any, **kwargs: Any) -> Any:
        self._count("_wrap_create_connection")
        return await super()._wrap_create_connection(*args, **kwargs)

    async def _start_tls_connection(self, *args: Any, **kwargs: Any) -> Any:
        self._count("_start_tls_connection")
        return await super()._start_tls_connection(*args, **kwargs)


@pytest.mark.parametrize("via", ["direct", "connect"])
def test_pooled_requests_never_reach_the_hooked_steps(sockwise_lab: Lab, via: str) -> None:
    """4 https GETs on one keep-alive connection: the hooked steps run once (the new connection), connect 4 times."""
    lab_proxy = sockwise_lab.add_proxy("healthy") if via == "connect" else None
    seen: list[Attempt] = []

    async def main() -> tuple[list[int], dict[str, int]]:
        connector = _CountingConnector(ssl=sockwise_lab.client_ssl_context())
        retry = RetryMiddleware(
            policy(), proxy=lab_proxy.proxy if lab_proxy is not None else None, on_attempt=seen.append
        )
        async with aiohttp.ClientSession(connector=connector, middlewares=[retry]) as s:
            statuses = []
            for _ in range(4):
                async with s.get(sockwise_lab.url("ok", tls=True)) as response:
                    await response.read()
                    statuses.append(response.status)
        return statuses, connector.calls

    statuses, calls = run(main())
    assert statuses == [200] * 4
    expected = {"connect": 4, "_wrap_create_connection": 1}
    if via == "connect":
        expected |= {"_create_proxy_connection": 1, "_start_tls_connection": 1}
    assert calls == expected
    assert [a.action for a in seen] == ["done"] * 4
    records = sockwise_lab.records("ok")
    assert [r.conn_id for r in records] == [records[0].conn_id] * 4  # one connection, reused 3 times
