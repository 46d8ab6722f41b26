"""RetryTransport: sockwise's attempt loop as an ``httpx.BaseTransport`` for ``httpx.Client``."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import ClassVar

import httpx

from sockwise._exceptions import RequestFailed
from sockwise._model import Phase
from sockwise.httpx._attempt import AttemptTrace, RequestRun, library_error, request_options, timeout_error
from sockwise.httpx._base import BaseRetryTransport, ReleaseHooks
from sockwise.httpx._routes import RouteEntry, RouteTransports
from sockwise.httpx._watchdog import WATCHDOG
from sockwise.runner import AttemptContext, Route

__all__ = ["RetryTransport"]


class _ReleasingStream(httpx.SyncByteStream):
    """A streamed body that holds its transport: released when closed (closing the transport if it was dropped)."""

    def __init__(
        self,
        stream: httpx.SyncByteStream,
        transports: RouteTransports[httpx.BaseTransport],
        entry: RouteEntry[httpx.BaseTransport],
    ) -> None:
        self._stream = stream
        self._transports = transports
        self._entry: RouteEntry[httpx.BaseTransport] | None = entry

    def __iter__(self) -> Iterator[bytes]:
        yield from self._stream

    def close(self) -> None:
        try:
            self._stream.close()
        finally:
            entry, self._entry = self._entry, None
            if entry is not None:
                _release(self._transports, entry)


def _release(transports: RouteTransports[httpx.BaseTransport], entry: RouteEntry[httpx.BaseTransport]) -> None:
    done = transports.release(entry)
    if done is not None:
        done.close()


def _close(response: httpx.Response) -> None:
    response.close()


class RetryTransport(BaseRetryTransport[httpx.BaseTransport], httpx.BaseTransport):
    """An httpx transport that retries what is safe to retry, within a deadline and a retry budget.

    Wraps any transport (by default an ``httpx.HTTPTransport`` per route with TCP keepalive and
    ``TCP_USER_TIMEOUT`` on its sockets and httpx's own connect retries off)::

        client = httpx.Client(transport=RetryTransport(policy=RetryPolicy(attempts=4, deadline=10.0)))
        client.get(url, extensions={"sockwise": {"retry": 5, "retry_delay": 1.0}})

    **Per request**, ``extensions={"sockwise": {...}}`` overrides the policy (``retry``,
    ``retry_delay``, ``attempts``, ``deadline``, ``timeout``, ``idempotent``, ``retry_statuses``, ...)
    and may set ``"stream": True``.

    **What an attempt covers.** By default the transport reads the response body inside the
    attempt, into memory: a body that breaks off is retried like any failure, and the per-try
    timeout and the deadline bound the whole attempt, body included, even a body that trickles
    (a read timeout alone never fires while bytes keep coming): every httpx timeout is cut to the
    time the attempt has left, and one watchdog thread per process shuts down the socket of an
    HTTP/1.1 attempt that outlives it (an HTTP/2 connection, shared, is never shut: its body is
    checked between chunks instead). A transport cannot see whether
    the client streams, so with ``client.stream(...)`` or a large download pass
    ``extensions={"sockwise": {"stream": True}}`` (or ``stream=True`` here): the attempt then ends
    at the response headers; the body is read by the caller, bounded only by httpx's per-read
    timeout, and a failure while reading it is not retried. 101 responses are never read.

    **Phases** come from httpcore's ``trace`` extension (a trace callback of the caller's is still
    called): the runner learns whether a connection was opened or a pooled one reused, and
    whether the request was sent. **Safety**: a request body that can be read only once (a
    generator) is retried only when the failure proves nothing was sent.

    **Connection pools per proxy**: each proxy route (credentials included: two logins on one
    host are two proxies) gets a transport of its own, made on first use. At most ``max_proxies``
    are kept: when one more is needed, the least recently used proxy's transport is dropped and
    closed, at once when no request is on it, else when the last one ends (a streamed body holds
    its transport until the response is closed: it is never cut). So a pool of thousands of
    proxies, or a vendor session id per request (``user-session-{key}``), holds a bounded number
    of sockets. The direct route's transport (the wrapped one) is never dropped. Thread-safe.

    **When retries end** the last attempt's httpx exception type is raised (``except
    httpx.HTTPError`` still catches it) with a one-line message, e.g. ``ECONNRESET while waiting
    for headers from origin; 3 attempts in 2.1 s; no attempts left (attempts=3)``; its
    ``.sockwise`` is the :class:`~sockwise.RequestFailed` (``.failure``, ``.attempts``,
    ``.reason``; :func:`sockwise.httpx.request_failed` reads it typed). A retried status that
    persists (a 503 after the last attempt) is returned, not raised.

    Args:
        transport: the transport to wrap; it serves the direct route (proxy routes get their own
            ``HTTPTransport``). Its own retries are its business: pass one with ``retries=0``.
            Default: one ``httpx.HTTPTransport`` per route, made on first use.
        policy: the retry policy (a default :class:`~sockwise.RetryPolicy` when None). Make one
            per client: its retry budget is shared by all requests of this transport.
        routes: where attempts go (direct by default; a proxy pool plugs in here).
        proxy: shorthand for ``routes=FixedProxyRoutes(proxy)``: a :class:`~sockwise.Proxy` or a
            URL such as ``http://user:pass@host:8080``.
        on_attempt: called with each :class:`~sockwise.Attempt` as it is decided.
        stream: leave bodies to the caller by default (see above).
        keepalive: TCP keepalive settings for the sockets of made transports (None: off).
        verify: certificate verification of made transports (as ``httpx.HTTPTransport``).
        trust_env: read ``SSL_CERT_FILE`` / ``SSL_CERT_DIR`` (as ``httpx.HTTPTransport``).
        http1: allow HTTP/1.1 on made transports.
        http2: allow HTTP/2 on made transports (needs ``httpx[http2]``).
        limits: connection limits of each made transport (per route).
        socket_options: more socket options for made transports, after the keepalive ones.
        transport_factory: makes the transport of a route instead (also used for an attempt
            that must open a fresh connection); made ones are closed as sockwise's own are.
        max_proxies: proxy routes whose transports (and idle connections) are kept at once (>= 1).

    Raises:
        ConfigError: ``proxy`` and ``routes`` both given, a proxy that does not parse, one httpx
            cannot use (SOCKS4; SOCKS5 without ``httpx[socks]``), or ``max_proxies`` below 1.
    """

    _release_hooks: ClassVar[ReleaseHooks] = (_close, None)
    _name = "RetryTransport"

    def _make(self, route: Route) -> httpx.BaseTransport:
        return httpx.HTTPTransport(**self._settings.transport_kwargs(route))  # type: ignore[arg-type]

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        """Send ``request`` with retries (httpx calls this; see the class docs for the contract).

        Raises:
            httpx.TransportError: (its subclass of the last attempt) when retries end on a failure,
                with ``.sockwise`` set.
            ConfigError: a bad ``extensions["sockwise"]``.
        """
        run = request_options(request, self._stream)

        def send(ctx: AttemptContext) -> httpx.Response:
            return self._attempt(run, ctx)

        try:
            result = self.runner.run(send, method=request.method, host=request.url.host, overrides=run.overrides)
        except RequestFailed as failed:
            raise library_error(failed, request) from failed.failure.exception
        finally:
            request.extensions = run.extensions
        return result.response

    def _attempt(self, run: RequestRun, ctx: AttemptContext) -> httpx.Response:
        began = time.monotonic()
        timeout = ctx.timeout
        trace = run.start_attempt(ctx, watch=timeout is not None)
        transports = self._transports
        transport, entry, evicted = transports.for_attempt(ctx.route, ctx.fresh_connection)
        timer = None
        request = run.request
        handed_over = False
        try:
            for idle in evicted:  # dropped from the LRU with no request on them: their sockets go now
                idle.close()
            if timeout is not None:
                timer = WATCHDOG.arm(began + timeout, trace)
            try:
                response = transport.handle_request(request)
            except Exception as exc:
                if trace.expired:
                    raise timeout_error(ctx, request, began) from exc
                raise
            if run.stream or response.status_code == 101:
                if entry is not None and isinstance(response.stream, httpx.SyncByteStream):
                    # The body holds the transport until it is closed: an eviction meanwhile never cuts it.
                    response.stream = _ReleasingStream(response.stream, transports, entry)
                    handed_over = True
                return response
            watched = False
            if timer is not None:
                # HTTP/2 connections carry other requests: never shut, so the time is checked per chunk.
                watched = response.extensions.get("http_version") != b"HTTP/2"
                trace.hold(response.extensions.get("network_stream") if watched else None)
            _read_body(response, trace, ctx, request, began, watched)
            return response
        finally:
            if timer is not None:
                timer.cancel()
            if entry is not None and not handed_over:
                _release(transports, entry)

    def close(self) -> None:
        """Close every route's transport (the wrapped one too, and those with a streamed body still out)."""
        for transport in self._transports.take_all():
            transport.close()


def _read_body(
    response: httpx.Response,
    trace: AttemptTrace,
    ctx: AttemptContext,
    request: httpx.Request,
    began: float,
    watched: bool,
) -> None:
    """Read the raw body into memory within the attempt (the client then reads it from there).

    A watched connection is ended by the watchdog at the deadline; otherwise, with a timeout,
    the time is checked after each chunk.
    """
    raw = response.stream
    if not isinstance(raw, httpx.SyncByteStream):
        return
    ctx.phase = Phase.BODY
    try:
        if ctx.timeout is None or watched:
            body = b"".join(raw)
        else:
            end = began + ctx.timeout
            chunks = []
            for chunk in raw:
                chunks.append(chunk)
                if time.monotonic() > end:
                    raise timeout_error(ctx, request, began)
            body = b"".join(chunks)
    except httpx.TimeoutException:
        raise
    except Exception as exc:
        if trace.expired:
            raise timeout_error(ctx, request, began) from exc
        raise
    finally:
        raw.close()
    response.stream = httpx.ByteStream(body)
