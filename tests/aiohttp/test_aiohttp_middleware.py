"""sockwise.aiohttp against the lab: what is aiohttp's own (its hidden replay, hints, overrides(), SOCKS).

The behaviour every integration shares (what is retried, deadlines, budget, overrides, proxies,
released connections) is pinned for the middleware too by tests/integrations/test_behaviour.py.
"""

from __future__ import annotations

import asyncio
import gc
import socket
import weakref
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import aiohttp
import pytest

from sockwise import Blame, ConfigError, ErrorCode, Phase, Proxy
from sockwise.aiohttp import (
    ConnectionRetryError,
    PhaseHintsMixin,
    RetryError,
    RetryMiddleware,
    overrides,
    session,
    trace_config,
)
from sockwise.aiohttp._hints import CURRENT_ATTEMPT
from sockwise.lab import Lab
from sockwise.retry import Backoff, RetryPolicy
from sockwise.runner import AttemptContext

T = TypeVar("T")

FAST = Backoff.fixed(0.01)


def run(coro: Awaitable[T]) -> T:
    return asyncio.run(coro)  # type: ignore[arg-type]


def policy(**kwargs: Any) -> RetryPolicy:
    kwargs.setdefault("backoff", FAST)
    kwargs.setdefault("budget", None)
    return RetryPolicy(**kwargs)


async def fetch(s: aiohttp.ClientSession, method: str, url: str, **kwargs: Any) -> tuple[int, bytes]:
    async with s.request(method, url, **kwargs) as resp:
        return resp.status, await resp.read()


async def failure_of(call: Awaitable[object]) -> RetryError:
    """The error the caller's usual ``except aiohttp.ClientError`` catches; sockwise must have raised it."""
    caught: aiohttp.ClientError | None = None
    try:
        await call
    except aiohttp.ClientError as exc:
        caught = exc
    assert isinstance(caught, RetryError), f"not raised by sockwise: {caught!r}"
    return caught


def test_aiohttp_hidden_get_replay_is_off_under_the_middleware(sockwise_lab: Lab) -> None:
    """attempts=1 means one request on the wire, although bare aiohttp replays a reset GET once."""
    url = sockwise_lab.url("reset-after-request")

    async def main() -> None:
        async with aiohttp.ClientSession() as bare:
            with pytest.raises(aiohttp.ClientOSError):
                await fetch(bare, "GET", url)
        assert len(sockwise_lab.records("reset-after-request")) == 2  # aiohttp's own replay (the control)
        async with aiohttp.ClientSession(middlewares=[RetryMiddleware(policy(attempts=1))]) as s:
            exc = await failure_of(fetch(s, "GET", url))
        assert exc.sockwise.reason == "attempts"

    run(main())
    assert len(sockwise_lab.records("reset-after-request")) == 3


def test_trace_config_tells_that_the_post_was_sent(sockwise_lab: Lab) -> None:
    """With trace=True the headers-sent signal makes the same failure 'sent, waiting for headers'."""
    url = sockwise_lab.url("reset-after-request")

    async def main() -> RetryError:
        async with session(policy(attempts=3), trace=True) as s:
            return await failure_of(fetch(s, "POST", url, data=b"payment"))

    exc = run(main())
    assert len(sockwise_lab.records("reset-after-request")) == 1
    failure = exc.sockwise.failure
    assert (failure.code, failure.phase, failure.request_sent) == (ErrorCode.ECONNRESET, Phase.WAIT, True)
    assert str(exc).endswith("request was sent, POST not retried")


def test_per_request_overrides_win_over_the_policy(sockwise_lab: Lab) -> None:
    """overrides(retry=0) makes one attempt; overrides(idempotent=True) lets a sent POST be retried."""
    url = sockwise_lab.url("reset-after-request")

    async def main() -> tuple[RetryError, RetryError, RetryError]:
        async with session(policy(attempts=3)) as s:
            with overrides(retry=0):
                once = await failure_of(fetch(s, "GET", url))
            with overrides({"retry": 1}, idempotent=True):
                post = await failure_of(fetch(s, "POST", url, data=b"x"))
            with overrides(retry=4), overrides(retry_delay=0.0):
                nested = await failure_of(fetch(s, "GET", url))
        return once, post, nested

    once, post, nested = run(main())
    assert [len(e.attempts) for e in (once, post, nested)] == [1, 2, 5]
    assert [r.method for r in sockwise_lab.records("reset-after-request")] == ["GET"] + ["POST"] * 2 + ["GET"] * 5
    assert [a.delay for a in nested.attempts] == [0.0] * 5


def test_bad_override_is_refused_at_the_with() -> None:
    """An unknown key fails at once with a ConfigError naming it, before any request."""
    with pytest.raises(ConfigError, match="unknown retry override 'retires'"), overrides(retires=3):
        pass
    with pytest.raises(ConfigError, match="stream"), overrides(stream="yes"):
        pass


def test_keepalive_options_are_set_on_the_socket(sockwise_lab: Lab) -> None:
    """Sockets of sockwise's connector have SO_KEEPALIVE, the probe timings and TCP_USER_TIMEOUT."""
    # A body too large to arrive with the head keeps the connection on the response (stream=True).
    url = sockwise_lab.url("ok", size=4_000_000)
    found: dict[str, int] = {}

    async def capture(req: aiohttp.ClientRequest, handler: Callable[..., Any]) -> aiohttp.ClientResponse:
        resp: aiohttp.ClientResponse = await handler(req)
        assert resp.connection is not None
        assert resp.connection.transport is not None
        sock: socket.socket = resp.connection.transport.get_extra_info("socket")
        found["keepalive"] = sock.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE)
        found["idle"] = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE)
        found["user_timeout"] = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT)
        return resp

    async def main() -> None:
        async with session(policy(), middlewares=[capture], stream=True) as s:
            status, body = await fetch(s, "GET", url)
            assert (status, len(body)) == (200, 4_000_000)

    run(main())
    assert found == {"keepalive": 1, "idle": 15, "user_timeout": 30000}


def test_plain_client_session_with_the_middleware_still_retries(sockwise_lab: Lab) -> None:
    """Without sockwise's connector the middleware still retries (phases come from aiohttp's exceptions)."""
    url = sockwise_lab.url("empty-reply")

    async def main() -> RetryError:
        async with aiohttp.ClientSession(middlewares=[RetryMiddleware(policy(attempts=2))]) as s:
            return await failure_of(fetch(s, "GET", url))

    exc = run(main())
    assert len(sockwise_lab.records("empty-reply")) == 2
    assert isinstance(exc, ConnectionRetryError)
    assert not isinstance(exc, aiohttp.ServerDisconnectedError)  # aiohttp would replay that type
    failure = exc.sockwise.failure
    assert (failure.code, failure.phase, failure.request_sent) == (ErrorCode.UNEXPECTED_EOF, Phase.WAIT, True)


# ---------------------------------------------------------------------------------------------
# SOCKS through a lab proxy


def test_socks5_proxy_through_session(sockwise_lab: Lab) -> None:
    """session(proxy='socks5://...') tunnels through SOCKS5; a refusing SOCKS proxy is blamed on it."""
    healthy = sockwise_lab.add_proxy("healthy").proxy
    bad = sockwise_lab.add_proxy("connect-502").proxy

    async def main() -> tuple[tuple[int, bytes], RetryError]:
        async with session(policy(), proxy=f"socks5://{healthy.host}:{healthy.port}") as s:
            ok = await fetch(s, "GET", sockwise_lab.url("ok"))
        async with session(policy(), proxy=f"socks5://{bad.host}:{bad.port}") as s:
            exc = await failure_of(fetch(s, "GET", sockwise_lab.url("ok")))
        return ok, exc

    ok, exc = run(main())
    assert ok == (200, b"ok")
    failure = exc.sockwise.failure
    assert (failure.code, failure.phase, failure.blame, failure.request_sent) == (
        ErrorCode.PROXY_REFUSED,
        Phase.PROXY_HANDSHAKE,
        Blame.PROXY,
        False,
    )


def test_socks_route_without_a_socks_connector_is_a_config_error(sockwise_lab: Lab) -> None:
    """A SOCKS proxy on a plain session's middleware fails with one clear ConfigError, no request made."""
    proxy = sockwise_lab.add_proxy("healthy").proxy
    socks = Proxy("socks5", proxy.host, proxy.port)

    async def main() -> None:
        async with aiohttp.ClientSession(middlewares=[RetryMiddleware(policy(), proxy=socks)]) as s:
            await fetch(s, "GET", sockwise_lab.url("ok"))

    with pytest.raises(ConfigError, match="needs a connector that speaks SOCKS"):
        run(main())
    assert sockwise_lab.records("ok") == []


class _Watching(aiohttp.TCPConnector):
    """A plain connector (no phase hints) that notes which attempt, if any, its connect sees."""

    def __init__(self, seen: list[AttemptContext | None]) -> None:
        super().__init__()
        self.seen = seen

    async def connect(self, req: Any, traces: Any, timeout: Any) -> Any:
        self.seen.append(CURRENT_ATTEMPT.get())
        return await super().connect(req, traces, timeout)


class _WatchingWithHints(PhaseHintsMixin, _Watching):
    """The same, with sockwise's phase hints: it reads the running attempt."""


@pytest.mark.parametrize("timeout", [None, 5.0], ids=["untimed", "per-try-timeout"])
def test_the_attempt_reaches_connectors_that_read_it_per_session(sockwise_lab: Lab, timeout: float | None) -> None:
    """One middleware, three sessions: a hinting connector and trace configs see the attempt, a plain one is spared."""
    url = sockwise_lab.url("ok")
    retry = RetryMiddleware(policy(timeout=timeout))
    seen: dict[str, list[AttemptContext | None]] = {"hints": [], "plain": [], "traced": [], "hints again": []}

    async def main() -> None:
        for name, contexts in seen.items():
            watching = _Watching(contexts) if name in ("plain", "traced") else _WatchingWithHints(contexts)
            traces = [trace_config()] if name == "traced" else None
            async with aiohttp.ClientSession(connector=watching, middlewares=[retry], trace_configs=traces) as s:
                for _ in range(2):
                    assert await fetch(s, "GET", url) == (200, b"ok")

    run(main())
    assert seen["plain"] == [None, None]
    for name in ("hints", "traced", "hints again"):
        contexts = seen[name]
        assert [(ctx.number, ctx.timeout) if ctx is not None else None for ctx in contexts] == [(1, timeout)] * 2, name
    # The hinting connector saw its second request reuse the first one's connection.
    assert [ctx.reused_connection for ctx in seen["hints"]] == [False, True]  # type: ignore[union-attr]


def test_a_shared_middleware_keeps_no_session_alive(sockwise_lab: Lab) -> None:
    """A middleware that outlives its session holds no reference to it: the closed, dropped session is freed at once."""
    url = sockwise_lab.url("ok")
    retry = RetryMiddleware(policy())

    async def main() -> weakref.ref[aiohttp.ClientSession]:
        for connector in (_WatchingWithHints([]), _Watching([])):  # the second one is the one asked last
            s = aiohttp.ClientSession(connector=connector, middlewares=[retry])
            assert await fetch(s, "GET", url) == (200, b"ok")
            await s.close()
        gone = weakref.ref(s)
        del s
        return gone

    gc.disable()  # freed by reference counting, not by a later collection of a cycle
    try:
        gone = run(main())
        assert gone() is None
    finally:
        gc.enable()
