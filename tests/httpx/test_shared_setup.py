"""What both transports share, written once: configuration, a request's run, each attempt's setup (no sockets)."""

from __future__ import annotations

import asyncio
import inspect

import httpx

from sockwise import Phase, Proxy, RetryPolicy
from sockwise.httpx import AsyncRetryTransport, RetryTransport
from sockwise.httpx._attempt import request_options
from sockwise.httpx._routes import RouteTransports
from sockwise.runner import DIRECT, AttemptContext, Route

_PROXY = Proxy(scheme="http", host="127.0.0.1", port=9)


class _Made:
    """A stand-in transport that only records its route (never opens a socket)."""

    def __init__(self, route: Route) -> None:
        self.route = route


def test_attempt_uses_the_pooled_transport_unless_it_must_be_fresh() -> None:
    """Not fresh: the route's one pooled transport, kept on release; fresh: a new one, closed on release."""
    transports: RouteTransports[_Made] = RouteTransports(_Made, None)
    pooled, entry, evicted = transports.for_attempt(_PROXY, False)
    assert (entry is not None, evicted) == (True, ())
    assert transports.for_attempt(_PROXY, False)[0] is pooled
    fresh, fresh_entry, _ = transports.for_attempt(_PROXY, True)
    assert fresh is not pooled
    assert fresh.route == _PROXY
    assert fresh_entry is not None
    assert transports.release(fresh_entry) is fresh  # the one-shot transport is closed, not kept
    assert entry is not None
    assert transports.release(entry) is None
    assert transports.for_attempt(_PROXY, False)[0] is pooled


def test_a_fresh_direct_attempt_uses_the_callers_own_transport() -> None:
    """The caller's transport serves DIRECT even when fresh (sockwise cannot copy it); nothing is closed after."""
    given = _Made(DIRECT)
    transports = RouteTransports(_Made, given)
    assert transports.for_attempt(DIRECT, True) == (given, None, ())
    assert transports.for_attempt(DIRECT, False) == (given, None, ())


def test_start_attempt_lends_the_request_its_own_extensions() -> None:
    """Each attempt gets a new dict with our trace and cut timeouts; the caller's dict and trace stay in the run."""

    def user(name: str, info: object) -> None:
        pass

    timeouts = {"connect": 5.0, "read": 0.2, "write": None, "pool": 5.0}
    request = httpx.Request("GET", "http://127.0.0.1/", extensions={"trace": user, "timeout": timeouts})
    callers = request.extensions
    run = request_options(request, stream_default=False)
    assert (run.request, run.extensions, run.user_trace, run.stream, run.overrides) == (
        request,
        callers,
        user,
        False,
        None,
    )
    ctx = AttemptContext(1, DIRECT, 1.5)
    trace = run.start_attempt(ctx)
    lent = request.extensions
    assert lent is not callers
    assert lent is trace.extensions
    assert lent["timeout"] == {"connect": 1.5, "read": 0.2, "write": 1.5, "pool": 1.5}
    assert callers == {"trace": user, "timeout": timeouts}
    assert (trace.ctx, trace.user) == (ctx, user)
    lent["trace"]("connection.connect_tcp.started", {})
    assert ctx.phase is Phase.CONNECT
    second = run.start_attempt(AttemptContext(2, DIRECT, None))
    assert request.extensions is second.extensions
    assert request.extensions is not lent
    assert request.extensions["timeout"] is timeouts


def test_start_attempt_gives_async_clients_an_async_trace_and_watched_attempts_their_streams() -> None:
    """asynchronous=True puts a coroutine function in ``trace``; watch=True follows new connections' streams."""
    run = request_options(httpx.Request("GET", "http://127.0.0.1/"), stream_default=True)
    assert run.stream is True
    sync_trace = run.start_attempt(AttemptContext(1, DIRECT, None))
    assert not inspect.iscoroutinefunction(run.request.extensions["trace"])
    assert "connection.connect_tcp.complete" not in sync_trace.events
    watched = run.start_attempt(AttemptContext(1, DIRECT, 1.0), watch=True)
    assert "connection.connect_tcp.complete" in watched.events
    ctx = AttemptContext(1, DIRECT, None)
    run.start_attempt(ctx, asynchronous=True)
    callback = run.request.extensions["trace"]
    assert inspect.iscoroutinefunction(callback)
    asyncio.run(callback("connection.start_tls.started", {}))
    assert ctx.phase is Phase.TLS


def test_both_transports_keep_their_names_and_release_hooks() -> None:
    """The repr names the public class (a subclass's too); sync releases with close, async awaits aclose."""
    policy = RetryPolicy(attempts=2)

    class Mine(RetryTransport):
        pass

    sync, mine, async_ = RetryTransport(policy=policy), Mine(policy=policy), AsyncRetryTransport(policy=policy)
    routes = sync.runner.routes
    assert repr(sync) == f"RetryTransport(policy={policy!r}, routes={routes!r})"
    assert repr(mine) == f"RetryTransport(policy={policy!r}, routes={routes!r})"
    assert repr(async_) == f"AsyncRetryTransport(policy={policy!r}, routes={routes!r})"
    assert (async_.runner.release, sync.runner.arelease) == (None, None)
    assert inspect.iscoroutinefunction(async_.runner.arelease)
    release = sync.runner.release
    assert release is not None
    response = httpx.Response(200, content=b"x")
    release(response)
    assert response.is_closed
    sync.close()
    mine.close()
    asyncio.run(async_.aclose())


def test_both_transports_take_the_same_arguments() -> None:
    """One constructor, documented on RetryTransport: the two signatures cannot drift apart."""
    assert inspect.signature(RetryTransport) == inspect.signature(AsyncRetryTransport)
    assert list(inspect.signature(RetryTransport).parameters) == [
        "transport",
        "policy",
        "routes",
        "proxy",
        "on_attempt",
        "stream",
        "keepalive",
        "verify",
        "trust_env",
        "http1",
        "http2",
        "limits",
        "socket_options",
        "transport_factory",
        "max_proxies",
    ]
