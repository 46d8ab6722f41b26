"""AsyncRetryTransport: sockwise's attempt loop as an ``httpx.AsyncBaseTransport`` for ``httpx.AsyncClient``."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Coroutine
from typing import Any, ClassVar

import anyio
import httpx

from sockwise._exceptions import RequestFailed
from sockwise._model import Phase
from sockwise.httpx._attempt import RequestRun, library_error, request_options, timeout_error
from sockwise.httpx._base import BaseRetryTransport, ReleaseHooks
from sockwise.httpx._routes import RouteEntry, RouteTransports
from sockwise.runner import AttemptContext, Route

__all__ = ["AsyncRetryTransport"]


class _AsyncReleasingStream(httpx.AsyncByteStream):
    """A streamed body that holds its transport: released when closed (closing the transport if it was dropped)."""

    def __init__(
        self,
        stream: httpx.AsyncByteStream,
        transports: RouteTransports[httpx.AsyncBaseTransport],
        entry: RouteEntry[httpx.AsyncBaseTransport],
    ) -> None:
        self._stream = stream
        self._transports = transports
        self._entry: RouteEntry[httpx.AsyncBaseTransport] | None = entry

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self._stream:
            yield chunk

    async def aclose(self) -> None:
        try:
            await self._stream.aclose()
        finally:
            entry, self._entry = self._entry, None
            if entry is not None:
                await _release(self._transports, entry)


async def _release(
    transports: RouteTransports[httpx.AsyncBaseTransport], entry: RouteEntry[httpx.AsyncBaseTransport]
) -> None:
    done = transports.release(entry)
    if done is not None:
        with anyio.CancelScope(shield=True):
            await done.aclose()


async def _aclose(response: httpx.Response) -> None:
    await response.aclose()


class AsyncRetryTransport(BaseRetryTransport[httpx.AsyncBaseTransport], httpx.AsyncBaseTransport):
    """The async twin of :class:`~sockwise.httpx.RetryTransport`, for ``httpx.AsyncClient``.

    Same arguments, options and error contract; the default transports are
    ``httpx.AsyncHTTPTransport``, and a proxy's transport dropped from the ``max_proxies`` LRU is
    closed with ``aclose()`` once no request or streamed body is on it. The per-try timeout and
    the deadline bound the whole attempt (``asyncio.timeout``; an anyio cancel scope under trio or
    Python 3.10): connecting, sending, the headers and, unless ``"stream": True``, the body,
    however slowly it trickles. A ``trace`` callback of the caller's must be ``async``, as httpx
    requires for async clients.

    Example::

        async with httpx.AsyncClient(transport=AsyncRetryTransport(policy=RetryPolicy(deadline=10.0))) as client:
            await client.get(url, extensions={"sockwise": {"retry": 5, "retry_delay": 1.0}})

    Raises:
        ConfigError: as :class:`~sockwise.httpx.RetryTransport`.
    """

    _release_hooks: ClassVar[ReleaseHooks] = (None, _aclose)
    _name = "AsyncRetryTransport"

    def _make(self, route: Route) -> httpx.AsyncBaseTransport:
        return httpx.AsyncHTTPTransport(**self._settings.transport_kwargs(route))  # type: ignore[arg-type]

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Send ``request`` with retries (httpx calls this; see the class docs for the contract).

        Raises:
            httpx.TransportError: (its subclass of the last attempt) when retries end on a failure,
                with ``.sockwise`` set.
            ConfigError: a bad ``extensions["sockwise"]``.
        """
        run = request_options(request, self._stream)

        async def send(ctx: AttemptContext) -> httpx.Response:
            return await self._attempt(run, ctx)

        try:
            result = await self.runner.arun(send, method=request.method, host=request.url.host, overrides=run.overrides)
        except RequestFailed as failed:
            raise library_error(failed, request) from failed.failure.exception
        finally:
            request.extensions = run.extensions
        return result.response

    async def _attempt(self, run: RequestRun, ctx: AttemptContext) -> httpx.Response:
        began = time.monotonic()
        timeout = ctx.timeout
        run.start_attempt(ctx, asynchronous=True)
        transports = self._transports
        transport, entry, evicted = transports.for_attempt(ctx.route, ctx.fresh_connection)
        request = run.request
        handed_over = False
        try:
            for idle in evicted:  # dropped from the LRU with no request on them: their sockets go now
                with anyio.CancelScope(shield=True):
                    await idle.aclose()
            exchange = _exchange(transport, request, run.stream, ctx)
            if timeout is None:
                response, keep_stream = await exchange
            else:
                response, keep_stream = await _within(exchange, began + timeout - time.monotonic(), ctx, request, began)
            if keep_stream and entry is not None and isinstance(response.stream, httpx.AsyncByteStream):
                # The body holds the transport until it is closed: an eviction meanwhile never cuts it.
                response.stream = _AsyncReleasingStream(response.stream, transports, entry)
                handed_over = True
            return response
        finally:
            if entry is not None and not handed_over:
                await _release(transports, entry)

    async def aclose(self) -> None:
        """Close every route's transport (the wrapped one too, and those with a streamed body still out)."""
        for transport in self._transports.take_all():
            await transport.aclose()


async def _exchange(
    transport: httpx.AsyncBaseTransport, request: httpx.Request, stream: bool, ctx: AttemptContext
) -> tuple[httpx.Response, bool]:
    """One request and, unless streamed, its body: the response and whether its body is left to the caller."""
    response = await transport.handle_async_request(request)
    keep_stream = stream or response.status_code == 101
    if not keep_stream:
        ctx.phase = Phase.BODY
        await _read_body(response)
    return response, keep_stream


_asyncio_timeout = getattr(asyncio, "timeout", None)  # Python >= 3.11


async def _within(
    exchange: Coroutine[Any, Any, tuple[httpx.Response, bool]],
    seconds: float,
    ctx: AttemptContext,
    request: httpx.Request,
    began: float,
) -> tuple[httpx.Response, bool]:
    """Run the exchange, ending it after ``seconds`` however the bytes trickle in (an httpx timeout then).

    asyncio's own timeout where it has one and runs the task (a third of anyio's cost per
    request); an anyio cancel scope elsewhere (trio, Python 3.10).
    """
    seconds = max(seconds, 0.0)
    if _asyncio_timeout is not None:
        try:
            asyncio.get_running_loop()
        except RuntimeError:  # not asyncio (trio): anyio below
            pass
        else:
            deadline = _asyncio_timeout(seconds)
            try:
                async with deadline:
                    return await exchange
            except TimeoutError:
                if deadline.expired():
                    raise timeout_error(ctx, request, began) from None
                raise
    result: tuple[httpx.Response, bool] | None = None
    with anyio.move_on_after(seconds) as scope:
        result = await exchange
    if scope.cancelled_caught or result is None:
        raise timeout_error(ctx, request, began)
    return result


async def _read_body(response: httpx.Response) -> None:
    """Read the raw body into memory within the attempt (the client then reads it from there)."""
    raw = response.stream
    if not isinstance(raw, httpx.AsyncByteStream):
        return
    chunks: list[bytes] = []
    try:
        async for chunk in raw:
            chunks.append(chunk)
    except BaseException:
        with anyio.CancelScope(shield=True):
            await raw.aclose()
        raise
    await raw.aclose()
    response.stream = httpx.ByteStream(b"".join(chunks))
