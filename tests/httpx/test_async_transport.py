"""AsyncRetryTransport against the lab, each test one ``asyncio.run`` (no pytest-asyncio needed)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

import httpx
import pytest

from sockwise import Backoff, Blame, ErrorCode, Phase, RequestFailed, RetryBudget
from sockwise.httpx import AsyncRetryTransport, request_failed
from sockwise.lab import Lab

Policy = Callable[..., Any]
T = TypeVar("T")


def run(coro: Coroutine[Any, Any, T]) -> T:
    """Run one test body on a fresh event loop, bounded so a hang fails instead of blocking the suite."""

    async def bounded() -> T:
        return await asyncio.wait_for(coro, timeout=20)

    return asyncio.run(bounded())


def _failure(exc: BaseException) -> RequestFailed:
    found = request_failed(exc)
    assert found is not None, f"{exc!r} carries no .sockwise"
    return found


def _client(transport: AsyncRetryTransport) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=transport, timeout=5.0)


def test_get_retried_after_reset(sockwise_lab: Lab, make_policy: Policy) -> None:
    """A GET reset while waiting is tried 3 times; httpx.ReadError with .sockwise and the one-line story."""

    async def body() -> httpx.ReadError:
        async with _client(AsyncRetryTransport(policy=make_policy(attempts=3))) as client:
            with pytest.raises(httpx.ReadError) as info:
                await client.get(sockwise_lab.url("reset-after-request"))
        return info.value

    error = run(body())
    assert len(sockwise_lab.records("reset-after-request")) == 3
    failed = _failure(error)
    assert (failed.failure.code, failed.failure.phase, failed.failure.blame, failed.failure.request_sent) == (
        ErrorCode.ECONNRESET,
        Phase.WAIT,
        Blame.ORIGIN,
        True,
    )
    assert str(error) == (
        f"ECONNRESET while waiting for headers from origin; 3 attempts in {failed.attempts[-1].elapsed:.1f} s; "
        "no attempts left (attempts=3)"
    )


def test_post_after_send_not_retried_but_never_sent_is(sockwise_lab: Lab, make_policy: Policy) -> None:
    """POST: reset after sending -> 1 request and not_idempotent; refused (never sent) -> retried 3 times."""

    async def body() -> tuple[RequestFailed, RequestFailed]:
        async with _client(AsyncRetryTransport(policy=make_policy(attempts=3))) as client:
            with pytest.raises(httpx.ReadError) as sent:
                await client.post(sockwise_lab.url("reset-after-request"), content=b"order=1")
            with pytest.raises(httpx.ConnectError) as unsent:
                await client.post(sockwise_lab.url("refused"), content=b"order=1")
        return _failure(sent.value), _failure(unsent.value)

    sent, unsent = run(body())
    assert len(sockwise_lab.records("reset-after-request")) == 1
    assert (sent.reason, sent.failure.request_sent) == ("not_idempotent", True)
    assert [(a.code, a.phase, a.request_sent) for a in unsent.attempts] == [
        (ErrorCode.ECONNREFUSED, Phase.CONNECT, False)
    ] * 3
    assert unsent.reason == "attempts"


def test_stale_keepalive_get_recovered_post_not(sockwise_lab: Lab, make_policy: Policy, recorder: Any) -> None:
    """The stale keep-alive race: a GET gets one immediate retry on a new connection, a POST gets the error."""
    url = sockwise_lab.url("stale-keepalive")

    async def body() -> httpx.RemoteProtocolError:
        transport = AsyncRetryTransport(policy=make_policy(backoff=Backoff.fixed(5.0)), on_attempt=recorder)
        async with _client(transport) as client:
            assert (await client.get(url)).text == "ok"
            assert (await client.get(url)).text == "ok"  # raced, then served on a fresh connection
            assert (await client.get(url)).text == "ok"  # the fresh one was for one attempt: a new one
            with pytest.raises(httpx.RemoteProtocolError) as info:
                await client.post(url, content=b"x")
        return info.value

    error = run(body())
    assert recorder.summary() == [
        (None, None, "done", 0.0),
        ("UNEXPECTED_EOF", "wait", "retry", 0.0),
        (None, None, "done", 0.0),
        (None, None, "done", 0.0),
        ("UNEXPECTED_EOF", "wait", "give_up", 0.0),
    ]
    assert _failure(error).reason == "not_idempotent"
    assert [(r.method, r.nth) for r in sockwise_lab.records("stale-keepalive")] == [
        ("GET", 1),
        ("GET", 2),
        ("GET", 1),
        ("GET", 1),
        ("POST", 2),
    ]


def test_deadline_holds_with_trickling_body(sockwise_lab: Lab, make_policy: Policy) -> None:
    """A body trickling a byte every 50 ms ends at the 1 s deadline, per-try timeout 0.4 s, under asyncio."""
    url = sockwise_lab.url("trickle", size=200, interval=0.05)

    async def body() -> tuple[float, httpx.ReadTimeout]:
        async with _client(AsyncRetryTransport(policy=make_policy(attempts=10, deadline=1.0, timeout=0.4))) as client:
            start = time.monotonic()
            with pytest.raises(httpx.ReadTimeout) as info:
                await client.get(url)
            return time.monotonic() - start, info.value

    wall, error = run(body())
    assert wall <= 1.0 + 0.2
    failed = _failure(error)
    assert (failed.failure.code, failed.failure.phase, failed.reason) == (ErrorCode.ETIMEDOUT, Phase.BODY, "deadline")


def test_budget_and_overrides(sockwise_lab: Lab, make_policy: Policy) -> None:
    """A one-retry budget holds 4 failing GETs to 5 requests; a per-request retry=0 beats it to 1 more."""
    budget = RetryBudget(ratio=0.0, min_retries_per_second=0.1, ttl=10.0)
    url = sockwise_lab.url("reset-after-request")

    async def body() -> list[str]:
        reasons = []
        async with _client(AsyncRetryTransport(policy=make_policy(attempts=3, budget=budget))) as client:
            for _ in range(4):
                with pytest.raises(httpx.ReadError) as info:
                    await client.get(url)
                reasons.append(_failure(info.value).reason)
            with pytest.raises(httpx.ReadError) as info:
                await client.get(url, extensions={"sockwise": {"retry": 0}})
            reasons.append(_failure(info.value).reason)
        return reasons

    assert run(body()) == ["budget"] * 4 + ["attempts"]
    assert len(sockwise_lab.records("reset-after-request")) == 6


def test_proxy_connect_502(sockwise_lab: Lab, make_policy: Policy) -> None:
    """Through a proxy refusing CONNECT with 502: httpx.ProxyError, PROXY_REFUSED, blame proxy, not sent."""
    lab_proxy = sockwise_lab.add_proxy("connect-502")

    async def body() -> httpx.ProxyError:
        transport = AsyncRetryTransport(
            policy=make_policy(), proxy=lab_proxy.proxy, verify=sockwise_lab.client_ssl_context()
        )
        async with _client(transport) as client:
            with pytest.raises(httpx.ProxyError) as info:
                await client.get(sockwise_lab.url("ok", tls=True))
        return info.value

    failure = _failure(run(body())).failure
    assert (failure.code, failure.phase, failure.blame, failure.request_sent, failure.status) == (
        ErrorCode.PROXY_REFUSED,
        Phase.PROXY_HANDSHAKE,
        Blame.PROXY,
        False,
        502,
    )
    assert [r.method for r in sockwise_lab.records(lab_proxy.name)] == ["CONNECT"]


def test_failed_responses_released(
    sockwise_lab: Lab, make_policy: Policy, held: Callable[[int], dict[str, int]]
) -> None:
    """Retried 503s are read and their connection reused; after aclose no client socket is left open."""
    port = sockwise_lab.port("origin")

    async def body() -> tuple[int, dict[str, int]]:
        client = _client(AsyncRetryTransport(policy=make_policy(attempts=3)))
        response = await client.get(sockwise_lab.url("status", code=503))
        during = held(port)
        await client.aclose()
        return response.status_code, during

    status, during = run(body())
    assert status == 503
    assert during == {"ESTABLISHED": 1}
    assert held(port) == {}
    records = sockwise_lab.records("status")
    assert [r.nth for r in records] == [1, 2, 3]
    assert len({r.conn_id for r in records}) == 1


def test_async_trace_of_the_caller_is_awaited(sockwise_lab: Lab) -> None:
    """The caller's async trace callback is awaited for every httpcore event."""
    seen: list[str] = []

    async def trace(name: str, info: dict[str, Any]) -> None:
        seen.append(name)

    async def body() -> str:
        async with _client(AsyncRetryTransport()) as client:
            return (await client.get(sockwise_lab.url("ok"), extensions={"trace": trace})).text

    assert run(body()) == "ok"
    assert seen[0] == "connection.connect_tcp.started"
    assert "http11.receive_response_headers.complete" in seen
