"""sockwise.aiohttp against the lab: what the server saw, what the caller caught, what was released."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import aiohttp
import pytest

from sockwise import Attempt, Blame, ConfigError, ErrorCode, Phase, Proxy
from sockwise.aiohttp import (
    ConnectionRetryError,
    RetryError,
    RetryMiddleware,
    overrides,
    request_failed,
    session,
)
from sockwise.lab import Lab
from sockwise.retry import Backoff, RetryBudget, RetryPolicy

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


def test_get_is_retried_after_a_reset_and_fails_with_the_story(sockwise_lab: Lab) -> None:
    """A GET reset after sending is tried `attempts` times; the caller catches a ClientError with the data."""
    url = sockwise_lab.url("reset-after-request")

    async def main() -> RetryError:
        async with session(policy(attempts=3)) as s:
            return await failure_of(fetch(s, "GET", url))

    exc = run(main())
    assert len(sockwise_lab.records("reset-after-request")) == 3
    assert isinstance(exc, ConnectionRetryError)
    assert isinstance(exc, aiohttp.ClientConnectionError)
    assert exc.errno == 104
    failure = exc.sockwise.failure
    assert (failure.code, failure.phase, failure.blame, failure.request_sent) == (
        ErrorCode.ECONNRESET,
        Phase.WAIT,
        Blame.ORIGIN,
        True,
    )
    assert [a.action for a in exc.sockwise.attempts] == ["retry", "retry", "give_up"]
    assert exc.sockwise.reason == "attempts"
    assert str(exc).startswith("ECONNRESET while waiting for headers from origin; 3 attempts in ")
    assert request_failed(exc) is exc.sockwise


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


def test_post_after_send_is_not_retried(sockwise_lab: Lab) -> None:
    """A POST reset after it was sent reaches the server once and is not retried (not_idempotent)."""
    url = sockwise_lab.url("reset-after-request")

    async def main() -> RetryError:
        async with session(policy(attempts=3)) as s:
            return await failure_of(fetch(s, "POST", url, data=b"payment"))

    exc = run(main())
    assert len(sockwise_lab.records("reset-after-request")) == 1
    assert exc.sockwise.reason == "not_idempotent"
    failure = exc.sockwise.failure
    # The connector's hint: a request with a body may still have been uploading.
    assert (failure.code, failure.phase, failure.request_sent) == (ErrorCode.ECONNRESET, Phase.SEND, None)
    assert str(exc).endswith("request may have been sent, POST not retried")


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


def test_post_never_sent_is_retried(sockwise_lab: Lab) -> None:
    """A POST to a refused port never left: it is retried, and the caller still catches ClientConnectorError."""
    url = sockwise_lab.url("refused")

    async def main() -> RetryError:
        async with session(policy(attempts=3)) as s:
            return await failure_of(fetch(s, "POST", url, data=b"x"))

    exc = run(main())
    assert isinstance(exc, aiohttp.ClientConnectorError)
    assert exc.os_error.errno == 111  # the mirrored type's own properties still work
    failure = exc.sockwise.failure
    assert (failure.code, failure.phase, failure.blame, failure.request_sent) == (
        ErrorCode.ECONNREFUSED,
        Phase.CONNECT,
        Blame.ORIGIN,
        False,
    )
    assert [a.action for a in exc.attempts] == ["retry", "retry", "give_up"]


def _stale_pairs(lab: Lab) -> list[tuple[int, int]]:
    return [(r.conn_id, r.nth) for r in lab.records("stale-keepalive")]


def test_stale_keepalive_race_is_recovered_for_get_on_a_fresh_connection(sockwise_lab: Lab) -> None:
    """The server closing a pooled connection as the GET arrives costs one immediate retry on a new connection."""
    url = sockwise_lab.url("stale-keepalive")
    seen: list[Attempt] = []

    async def main() -> list[tuple[int, bytes]]:
        async with session(policy(attempts=2), on_attempt=seen.append) as s:
            return [await fetch(s, "GET", url), await fetch(s, "GET", url)]

    assert run(main()) == [(200, b"ok"), (200, b"ok")]
    (first, _), (_second, _), (third, _) = _stale_pairs(sockwise_lab)
    assert _stale_pairs(sockwise_lab) == [(first, 1), (first, 2), (third, 1)]
    assert third != first
    # Immediate (the backoff would wait 0.01 s), on a fresh connection.
    assert [(a.action, a.delay) for a in seen] == [("done", 0.0), ("retry", 0.0), ("done", 0.0)]
    assert seen[1].code in (ErrorCode.UNEXPECTED_EOF, ErrorCode.ECONNRESET)


def test_stale_keepalive_race_is_not_retried_for_post(sockwise_lab: Lab) -> None:
    """The same race for a POST reaches the caller: it may have been processed."""
    url = sockwise_lab.url("stale-keepalive")

    async def main() -> RetryError:
        async with session(policy(attempts=3)) as s:
            assert await fetch(s, "GET", url) == (200, b"ok")
            return await failure_of(fetch(s, "POST", url, data=b"x"))

    exc = run(main())
    assert exc.sockwise.reason == "not_idempotent"
    assert len(exc.attempts) == 1
    assert [r.method for r in sockwise_lab.records("stale-keepalive")] == ["GET", "POST"]


def test_retry_after_is_waited(sockwise_lab: Lab) -> None:
    """A 503 with Retry-After: 1 is retried no sooner than 1 s later (server-side timestamps)."""
    url = sockwise_lab.url("status", code=503, retry_after=1)

    async def main() -> tuple[int, bytes]:
        async with session(policy(attempts=2, max_retry_after=5.0)) as s:
            return await fetch(s, "GET", url)

    status, _ = run(main())
    assert status == 503  # the last attempt's response is returned, not raised
    first, second = sockwise_lab.records("status")
    assert second.monotonic - first.monotonic >= 1.0


def test_deadline_holds_with_a_trickling_body(sockwise_lab: Lab) -> None:
    """A body trickling for 5 s ends at the 1 s deadline (+0.2 s), with a 0.4 s per-try timeout."""
    url = sockwise_lab.url("trickle", size=50, interval=0.1)
    deadline = 1.0

    async def main() -> RetryError:
        async with session(policy(attempts=10, deadline=deadline, timeout=0.4)) as s:
            return await failure_of(fetch(s, "GET", url))

    began = time.monotonic()
    exc = run(main())
    wall = time.monotonic() - began
    assert wall <= deadline + 0.2
    assert isinstance(exc, asyncio.TimeoutError)
    assert isinstance(exc, aiohttp.SocketTimeoutError)
    failure = exc.sockwise.failure
    assert (failure.code, failure.phase, failure.errno) == (ErrorCode.ETIMEDOUT, Phase.BODY, None)
    assert exc.sockwise.reason == "deadline"
    assert 2 <= len(exc.attempts) <= 3


def test_budget_ends_a_retry_storm(sockwise_lab: Lab) -> None:
    """With no retry share and a floor of one retry, 5 failing GETs make 6 requests, not 15."""
    url = sockwise_lab.url("reset-after-request")
    budget = RetryBudget(ratio=0.0, min_retries_per_second=0.1, ttl=10.0)

    async def main() -> list[str]:
        reasons = []
        async with session(policy(attempts=3, budget=budget)) as s:
            for _ in range(5):
                reasons.append((await failure_of(fetch(s, "GET", url))).sockwise.reason)
        return reasons

    reasons = run(main())
    assert len(sockwise_lab.records("reset-after-request")) == 6
    # The first request spent the one retry; every request then ended on the empty budget.
    assert reasons == ["budget"] * 5


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


def test_failed_attempts_responses_are_released(sockwise_lab: Lab) -> None:
    """503s that are retried give their connection back, read or not: nothing stays acquired."""
    url = sockwise_lab.url("status", code=503)
    seen: list[aiohttp.ClientResponse] = []

    async def capture(req: aiohttp.ClientRequest, handler: Callable[..., Any]) -> aiohttp.ClientResponse:
        resp: aiohttp.ClientResponse = await handler(req)
        seen.append(resp)
        return resp

    async def main(stream: bool) -> int:
        async with session(policy(attempts=3), stream=stream, middlewares=[capture]) as s:
            async with s.get(url) as resp:
                status = resp.status
                await resp.read()
            connector = s.connector
            assert connector is not None
            # Nothing is held: every connection is idle in the pool or closed.
            assert not connector._acquired  # type: ignore[attr-defined]
            return status

    assert run(main(stream=False)) == 503
    assert len(seen) == 3
    assert all(r.connection is None for r in seen)
    conns = [r.conn_id for r in sockwise_lab.records("status")]
    assert len(set(conns)) == 1  # read bodies: the one connection went back to the pool each time

    seen.clear()
    assert run(main(stream=True)) == 503
    assert len(seen) == 3
    assert all(r.connection is None for r in seen)


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
# Through a lab proxy (one fixed proxy)


def test_http_proxy_refused_is_the_proxys_and_retried(sockwise_lab: Lab) -> None:
    """A proxy port that refuses: ECONNREFUSED while connecting to the proxy, blamed on it, retried."""
    proxy = sockwise_lab.add_proxy("refuse").proxy

    async def main() -> RetryError:
        async with session(policy(attempts=2), proxy=proxy) as s:
            return await failure_of(fetch(s, "GET", sockwise_lab.url("ok")))

    exc = run(main())
    assert isinstance(exc, aiohttp.ClientProxyConnectionError)
    failure = exc.sockwise.failure
    assert (failure.code, failure.phase, failure.blame, failure.request_sent) == (
        ErrorCode.ECONNREFUSED,
        Phase.PROXY_CONNECT,
        Blame.PROXY,
        False,
    )
    assert len(exc.attempts) == 2
    assert sockwise_lab.records("ok") == []


def test_http_proxy_connect_502_is_the_proxys(sockwise_lab: Lab) -> None:
    """CONNECT answered 502: PROXY_REFUSED in the handshake, blamed on the proxy, no other route to switch to."""
    lab_proxy = sockwise_lab.add_proxy("connect-502")

    async def main() -> RetryError:
        async with session(
            policy(), proxy=lab_proxy.proxy, connector_args={"ssl": sockwise_lab.client_ssl_context()}
        ) as s:
            return await failure_of(fetch(s, "GET", sockwise_lab.url("ok", tls=True)))

    exc = run(main())
    assert isinstance(exc, aiohttp.ClientHttpProxyError)
    assert exc.status == 502
    failure = exc.sockwise.failure
    assert (failure.code, failure.phase, failure.blame, failure.request_sent, failure.status) == (
        ErrorCode.PROXY_REFUSED,
        Phase.PROXY_HANDSHAKE,
        Blame.PROXY,
        False,
        502,
    )
    assert exc.sockwise.reason == "no_other_route"
    assert str(exc).startswith("PROXY_REFUSED 502 during the proxy handshake from proxy via http://127.0.0.1:")


def test_http_proxy_auth_is_the_proxys_and_credentials_work(sockwise_lab: Lab) -> None:
    """Without credentials: PROXY_AUTH 407, never retried; with them the request goes through the tunnel."""
    lab_proxy = sockwise_lab.add_proxy("auth", username="u", password="s3cret")
    bare = Proxy("http", lab_proxy.proxy.host, lab_proxy.proxy.port)
    ssl_args = {"ssl": sockwise_lab.client_ssl_context()}

    async def main() -> tuple[RetryError, tuple[int, bytes]]:
        async with session(policy(), proxy=bare, connector_args=ssl_args) as s:
            exc = await failure_of(fetch(s, "GET", sockwise_lab.url("ok", tls=True)))
        async with session(policy(), proxy=lab_proxy.proxy, connector_args=ssl_args) as s:
            ok = await fetch(s, "GET", sockwise_lab.url("ok", tls=True))
        return exc, ok

    exc, ok = run(main())
    failure = exc.sockwise.failure
    assert (failure.code, failure.phase, failure.blame, failure.status) == (
        ErrorCode.PROXY_AUTH,
        Phase.PROXY_HANDSHAKE,
        Blame.PROXY,
        407,
    )
    assert len(exc.attempts) == 1
    assert ok == (200, b"ok")


def test_http_proxy_credentials_never_reach_the_message(sockwise_lab: Lab) -> None:
    """The route in the message and the Attempts is redacted."""
    lab_proxy = sockwise_lab.add_proxy("connect-502")
    proxy = Proxy("http", lab_proxy.proxy.host, lab_proxy.proxy.port, "u", "hunter2")

    async def main() -> RetryError:
        async with session(policy(), proxy=proxy, connector_args={"ssl": sockwise_lab.client_ssl_context()}) as s:
            return await failure_of(fetch(s, "GET", sockwise_lab.url("ok", tls=True)))

    exc = run(main())
    assert "hunter2" not in str(exc)
    assert "hunter2" not in repr(exc.attempts)
    assert "u:***@" in str(exc)


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


def test_plain_http_through_an_auth_proxy(sockwise_lab: Lab) -> None:
    """An absolute-form request carries the proxy's credentials itself; without them the 407 is not retried."""
    lab_proxy = sockwise_lab.add_proxy("auth", username="u", password="s3cret")
    bare = Proxy("http", lab_proxy.proxy.host, lab_proxy.proxy.port)
    seen: list[Attempt] = []

    async def main() -> tuple[tuple[int, bytes], tuple[int, bytes]]:
        async with session(policy(), proxy=lab_proxy.proxy) as s:
            ok = await fetch(s, "GET", sockwise_lab.url("ok"))
        async with session(policy(), proxy=bare, on_attempt=seen.append) as s:
            refused = await fetch(s, "GET", sockwise_lab.url("ok"))
        return ok, refused

    ok, (status, _) = run(main())
    assert ok == (200, b"ok")
    assert status == 407
    assert [(a.code, a.blame, a.action) for a in seen] == [(ErrorCode.PROXY_AUTH, Blame.PROXY, "give_up")]
    assert len(sockwise_lab.records("ok")) == 1
    to_proxy = [dict(r.headers).get("Proxy-Authorization") for r in sockwise_lab.records(lab_proxy.name)]
    assert to_proxy == ["Basic ***", None]  # the lab redacts what it records


def test_a_body_that_can_be_read_once_is_never_resent(sockwise_lab: Lab) -> None:
    """A streamed POST body is one-shot: even idempotent=True does not resend it after it left."""
    url = sockwise_lab.url("reset-after-request")

    async def body() -> Any:
        yield b"chunk"

    async def main() -> RetryError:
        async with session(policy(attempts=3)) as s:
            with overrides(idempotent=True):
                return await failure_of(fetch(s, "POST", url, data=body()))

    exc = run(main())
    assert len(sockwise_lab.records("reset-after-request")) == 1
    assert exc.sockwise.reason == "not_idempotent"


def test_per_try_timeout_while_connecting_is_a_connect_timeout(sockwise_lab: Lab) -> None:
    """A full accept queue times out in the connect phase: never sent, so even a POST is retried."""
    url = sockwise_lab.url("backlog-full")

    async def main() -> RetryError:
        async with session(policy(attempts=2, timeout=0.3)) as s:
            return await failure_of(fetch(s, "POST", url, data=b"x"))

    began = time.monotonic()
    exc = run(main())
    assert time.monotonic() - began < 1.5
    assert isinstance(exc, aiohttp.ConnectionTimeoutError)
    failure = exc.sockwise.failure
    assert (failure.code, failure.phase, failure.blame, failure.request_sent) == (
        ErrorCode.ETIMEDOUT,
        Phase.CONNECT,
        Blame.NETWORK,
        False,
    )
    assert [a.action for a in exc.attempts] == ["retry", "give_up"]
