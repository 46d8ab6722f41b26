"""AsyncRetryTransport against the lab, each test one ``asyncio.run`` (no pytest-asyncio needed).

Here is what only the async transport does. The behaviour every integration shares (what is
retried, deadlines, budget, overrides, proxies, released connections) is pinned for it too by
tests/integrations/test_behaviour.py.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

import httpx

from sockwise import Backoff
from sockwise.httpx import AsyncRetryTransport
from sockwise.lab import Lab

Policy = Callable[..., Any]
T = TypeVar("T")


def run(coro: Coroutine[Any, Any, T]) -> T:
    """Run one test body on a fresh event loop, bounded so a hang fails instead of blocking the suite."""

    async def bounded() -> T:
        return await asyncio.wait_for(coro, timeout=20)

    return asyncio.run(bounded())


def _client(transport: AsyncRetryTransport) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=transport, timeout=5.0)


def test_stale_race_fresh_connection_serves_one_attempt(sockwise_lab: Lab, make_policy: Policy, recorder: Any) -> None:
    """The connection opened for the stale keep-alive race's retry serves that attempt only: the next GET opens one."""
    url = sockwise_lab.url("stale-keepalive")

    async def body() -> None:
        transport = AsyncRetryTransport(policy=make_policy(backoff=Backoff.fixed(5.0)), on_attempt=recorder)
        async with _client(transport) as client:
            assert (await client.get(url)).text == "ok"
            assert (await client.get(url)).text == "ok"  # raced, then served on a fresh connection
            assert (await client.get(url)).text == "ok"  # the fresh one was for one attempt: a new one

    run(body())
    assert recorder.summary() == [
        (None, None, "done", 0.0),
        ("UNEXPECTED_EOF", "wait", "retry", 0.0),
        (None, None, "done", 0.0),
        (None, None, "done", 0.0),
    ]
    records = sockwise_lab.records("stale-keepalive")
    assert [r.nth for r in records] == [1, 2, 1, 1]
    assert len({r.conn_id for r in records}) == 3


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
