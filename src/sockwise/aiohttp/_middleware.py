"""``RetryMiddleware``: an aiohttp (>= 3.12) client middleware that runs each request through sockwise's runner."""

from __future__ import annotations

import asyncio
import base64
import logging
import random
import sys
import time
import weakref
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

import aiohttp
from aiohttp import hdrs
from aiohttp.payload import BytesPayload
from multidict import CIMultiDict
from yarl import URL

from sockwise._exceptions import ConfigError, RequestFailed
from sockwise._model import Attempt, Phase, Proxy
from sockwise.aiohttp._errors import attempt_timeout_error, library_error
from sockwise.aiohttp._hints import CURRENT_ATTEMPT, PhaseHintsMixin
from sockwise.aiohttp._options import OVERRIDES, RequestOptions
from sockwise.retry import RetryPolicy
from sockwise.runner import (
    DIRECT,
    SYSTEM_CLOCK,
    AttemptContext,
    Clock,
    Raised,
    ResponseInfo,
    RouteProvider,
    Runner,
    resolve_routes,
)

if TYPE_CHECKING:
    from aiohttp import ClientHandlerType, ClientRequest, ClientResponse

__all__ = ["SOCKS_SCHEMES", "RetryMiddleware"]

_LOGGER = logging.getLogger("sockwise.retry")
_HTTP_PROXIES = ("http", "https")
SOCKS_SCHEMES: frozenset[str] = frozenset({"socks4", "socks5", "socks5h"})
"""Proxy schemes aiohttp cannot speak itself: their attempts need a :class:`SocksRoutingConnector`."""
_MAX_PROXY_ARGS = 1024  # proxies whose aiohttp proxy arguments are cached (a vendor session id per request: many)
_ONE_SHOT: Mapping[str, object] = {"idempotent": False}
_FIRST_ERROR_STATUS = 400
_NO_RETRY_AFTER = {status: ResponseInfo(status) for status in range(100, 400)}


def _inspect(response: ClientResponse) -> ResponseInfo:
    status = response.status
    if status < _FIRST_ERROR_STATUS:
        info = _NO_RETRY_AFTER.get(status)
        if info is not None:
            return info
    return ResponseInfo(status, response.headers.get("Retry-After"))


def _release(response: ClientResponse) -> None:
    # A read body has already returned its connection to the pool; an unread one is closed
    # (aiohttp will not pool a connection with unread bytes).
    response.release()


class RetryMiddleware:
    """Retries aiohttp requests the sockwise way: only what is safe, never past a deadline, never into a storm.

    Use it as an aiohttp (>= 3.12) client middleware::

        retry = RetryMiddleware(RetryPolicy(attempts=4, deadline=10.0))
        async with aiohttp.ClientSession(middlewares=[retry]) as session:
            async with session.get(url) as resp:
                ...

    :func:`sockwise.aiohttp.session` builds a session with it plus a connector that sets TCP
    keepalive and reports connection reuse (needed for the one immediate retry of the stale
    keep-alive race). Per request, :func:`sockwise.aiohttp.overrides` changes the policy.

    What an attempt is: connecting, sending, the response head and (unless ``stream``) reading
    the whole body with ``await resp.read()``, so a body that breaks off is retried and the
    per-try timeout and the deadline bound a trickling body too. The body stays available to
    the caller as usual (``await resp.read()`` / ``.text()`` / ``.json()`` return the bytes read).
    With ``stream=True`` the attempt ends at the response head: the caller reads the body,
    bounded only by aiohttp's own timeouts (``ClientTimeout.sock_read`` / ``total``), and a failure
    while reading it is not retried.

    When retries end on an error, a :class:`~sockwise.aiohttp.RetryError` is raised: an
    ``aiohttp.ClientError`` (usually also of the last attempt's aiohttp type) whose message is
    the one-line story and whose ``.sockwise`` holds the failure and every attempt. A response
    with a retried status (503, ...) after the last attempt is returned, not raised (aiohttp's
    ``raise_for_status`` decides). Responses of failed attempts are released before the next one.

    aiohttp's own hidden replay of an idempotent request (once, on a new connection, after
    ``ClientOSError`` / ``ServerDisconnectedError``) never happens under this middleware: it
    never lets those types out (see :class:`~sockwise.aiohttp.ConnectionRetryError`), so the
    server sees exactly the attempts the policy decided.

    Note: aiohttp's ``ClientTimeout(total=...)`` of the request spans the whole middleware
    chain, so it bounds all attempts and the sleeps between them; keep it above the policy's
    ``deadline`` (or leave it None) and let the policy bound each try (``timeout``).

    Args:
        policy: the retry policy (default :class:`~sockwise.retry.RetryPolicy`). Make one
            middleware per session: its retry budget is shared by the session's requests.
        routes: a route provider (direct by default; one fixed proxy with ``proxy=``).
        proxy: one fixed proxy (a :class:`~sockwise.Proxy` or a URL). HTTP(S) proxies are set
            per attempt with aiohttp's own proxy support; SOCKS proxies (fixed or from a pool) need
            the session's connector to route them: a :class:`~sockwise.aiohttp.SocksRoutingConnector`
            (:func:`sockwise.aiohttp.session` builds one, or pass ``connector=sockwise.aiohttp.connector()``).
        on_attempt: called with each :class:`~sockwise.Attempt` as it is decided.
        stream: the default for requests that do not say (see above).
        clock: time and sleep (a :class:`~sockwise.testing.FakeClock` in tests).
        rng: the jitter's randomness.
        logger: where Attempts are logged (``sockwise.retry``).

    Raises:
        ConfigError: both ``routes`` and ``proxy``, or a proxy URL that does not parse; when an
            attempt's route is a SOCKS proxy and the session's connector cannot route it (no
            request is made: it would otherwise go out directly).
    """

    __slots__ = ("_hints", "_proxy_args", "_runner", "_stream")

    def __init__(
        self,
        policy: RetryPolicy | None = None,
        *,
        routes: RouteProvider | None = None,
        proxy: Proxy | str | None = None,
        on_attempt: Callable[[Attempt], None] | None = None,
        stream: bool = False,
        clock: Clock = SYSTEM_CLOCK,
        rng: random.Random | None = None,
        logger: logging.Logger = _LOGGER,
    ) -> None:
        resolved = resolve_routes(routes, proxy)
        kwargs: dict[str, object] = {}
        if resolved is not None:
            kwargs["routes"] = resolved
        if rng is not None:
            kwargs["rng"] = rng
        from sockwise._classify import classify

        self._runner = Runner(
            policy=policy if policy is not None else RetryPolicy(),
            # Given here, not looked up by the runner per request.
            classify=classify,
            inspect=_inspect,
            release=_release,
            on_attempt=on_attempt,
            clock=clock,
            logger=logger,
            **kwargs,  # type: ignore[arg-type]
        )
        self._stream = stream
        self._proxy_args: dict[Proxy, tuple[URL, str | None]] = {}
        # The session of the last request, and whether it reads the running attempt (see _hinted).
        self._hints: tuple[weakref.ref[aiohttp.ClientSession], bool] | None = None

    @property
    def runner(self) -> Runner:
        """The :class:`~sockwise.runner.Runner` (policy, routes, budget) this middleware drives."""
        return self._runner

    @property
    def policy(self) -> RetryPolicy:
        """The default retry policy."""
        return self._runner.policy

    def __repr__(self) -> str:
        return f"RetryMiddleware(policy={self._runner.policy!r}, routes={self._runner.routes!r})"

    async def __call__(self, request: ClientRequest, handler: ClientHandlerType) -> ClientResponse:
        """Run ``request`` through the attempt loop (aiohttp's middleware signature).

        Raises:
            RetryError: retries ended on an error (an ``aiohttp.ClientError``; ``.sockwise`` holds the story).
            ConfigError: a bad per-request override.
        """
        runner = self._runner
        options = OVERRIDES.get()
        body = request.body
        one_shot = False if not body else not isinstance(body, BytesPayload)
        host = request.url.raw_host or ""
        ctx = runner.begin(host) if options is None and not one_shot else None
        if ctx is None:
            return await self._run(request, handler, host, options, one_shot)
        # The default policy on a static route: the runner's short path (begin, settle), and the
        # first attempt made right here when it is direct (the usual request).
        send: _Attempts | None = None
        reply: ClientResponse | Raised
        try:
            if ctx.route is DIRECT:
                token = CURRENT_ATTEMPT.set(ctx) if self._hinted(request) else None
                try:
                    if ctx.timeout is None:
                        # _perform inlined for the usual request: one coroutine layer less.
                        response = await handler(request)
                        if not self._stream:
                            ctx.phase = Phase.BODY
                            try:
                                await response.read()
                            except BaseException:
                                response.close()  # never hand a half-read connection back to the pool
                                raise
                    else:
                        response = await _perform(ctx, request, handler, self._stream)
                finally:
                    if token is not None:
                        CURRENT_ATTEMPT.reset(token)
            else:
                send = _Attempts(self, request, handler, self._stream)
                response = await send(ctx)
        except Exception as exc:
            reply = Raised(exc)
        else:
            try:
                info = runner.settle(response)
            except BaseException:
                response.release()
                raise
            if info is not None:
                return response
            reply = response
        if send is None:
            send = _Attempts(self, request, handler, self._stream)
        try:
            result = await runner.aresume(send, ctx, reply, method=request.method, host=host)
        except RequestFailed as failed:
            raise library_error(failed) from failed
        return result.response

    async def _run(
        self,
        request: ClientRequest,
        handler: ClientHandlerType,
        host: str,
        options: RequestOptions | None,
        one_shot: bool,
    ) -> ClientResponse:
        # Per-request overrides, a one-shot body, a route provider that learns or a hook: the whole loop.
        stream = self._stream
        overrides: Mapping[str, object] | None = None
        if options is not None:
            overrides = options.policy
            if options.stream is not None:
                stream = options.stream
        if one_shot:
            # A stream or file body may be consumed by the first try: only a failure that
            # provably sent nothing may be retried.
            overrides = {**overrides, **_ONE_SHOT} if overrides else _ONE_SHOT
        send = _Attempts(self, request, handler, stream)
        try:
            result = await self._runner.arun(send, method=request.method, host=host, overrides=overrides)
        except RequestFailed as failed:
            raise library_error(failed) from failed
        return result.response

    def _hinted(self, request: ClientRequest) -> bool:
        """Whether anything in ``request``'s session reads the running attempt (a hinting connector, trace configs)."""
        session = request.session
        seen = self._hints
        if seen is not None and seen[0]() is session:
            return seen[1]
        # A session's connector and trace configs are fixed when it is made: asked once per session.
        # Kept weakly (a middleware must not keep a dropped session alive) and in one assignment
        # (threads sharing the middleware never pair one session with another's answer).
        hinted = isinstance(session.connector, PhaseHintsMixin) or bool(session.trace_configs)
        self._hints = (weakref.ref(session), hinted)
        return hinted

    def _proxy(self, proxy: Proxy) -> tuple[URL, str | None]:
        args = self._proxy_args.get(proxy)
        if args is None:
            if len(self._proxy_args) >= _MAX_PROXY_ARGS:
                self._proxy_args.clear()  # bounded; an entry is cheap to make again
            url = URL.build(scheme=proxy.scheme, host=proxy.host, port=proxy.port)
            auth = None
            if proxy.username is not None:
                token = base64.b64encode(f"{proxy.username}:{proxy.password or ''}".encode()).decode("ascii")
                auth = f"Basic {token}"
            args = self._proxy_args[proxy] = (url, auth)
        return args


class _Attempts:
    """The ``send`` of one request: performs one attempt per call on the route the runner chose."""

    __slots__ = ("_auth_header_set", "_handler", "_middleware", "_original_proxy", "_request", "_stream")

    def __init__(
        self, middleware: RetryMiddleware, request: ClientRequest, handler: ClientHandlerType, stream: bool
    ) -> None:
        self._middleware = middleware
        self._request = request
        self._handler = handler
        self._stream = stream
        self._original_proxy: tuple[URL | None, aiohttp.BasicAuth | None, object] | None = None
        self._auth_header_set = False

    async def __call__(self, ctx: AttemptContext) -> ClientResponse:
        route = ctx.route
        if route != DIRECT or self._original_proxy is not None:
            self._route(ctx)
        if ctx.number > 1:
            self._check_body()
        token = CURRENT_ATTEMPT.set(ctx)
        try:
            return await _perform(ctx, self._request, self._handler, self._stream)
        finally:
            CURRENT_ATTEMPT.reset(token)

    def _check_body(self) -> None:
        body = self._request.body
        if body and body.consumed:
            raise ConfigError(
                f"the request body ({type(body).__name__}) was consumed by an earlier attempt and cannot be "
                "sent again; pass bytes or a seekable file to retry it"
            )

    def _route(self, ctx: AttemptContext) -> None:
        request = self._request
        original = self._original_proxy
        if original is None:
            original = self._original_proxy = (request.proxy, request.proxy_auth, request.proxy_headers)
        if self._auth_header_set:
            # Set by the previous attempt for its proxy: never let it reach another route.
            request.headers.popall(hdrs.PROXY_AUTHORIZATION, None)
            self._auth_header_set = False
        proxy, auth, headers = original
        route = ctx.route
        if not isinstance(route, Proxy):
            request.update_proxy(proxy, auth, _copy(headers))
            return
        if route.scheme in _HTTP_PROXIES:
            url, credentials = self._middleware._proxy(route)
            headers = _copy(headers)
            if credentials is not None:
                if request.is_ssl():
                    # The credentials go to the proxy in the CONNECT request, never through the tunnel.
                    headers = headers if headers is not None else CIMultiDict()
                    headers[hdrs.PROXY_AUTHORIZATION] = credentials
                else:
                    # An absolute-form request is read by the proxy itself (aiohttp does the same).
                    request.headers[hdrs.PROXY_AUTHORIZATION] = credentials
                    self._auth_header_set = True
            request.update_proxy(url, None, headers)
            return
        from sockwise.aiohttp._session import SocksRoutingConnector

        if not isinstance(request.session.connector, SocksRoutingConnector):
            # Never let the attempt go out: without the routing it would reach the origin directly.
            raise ConfigError(
                f"the SOCKS proxy {route.redacted} needs a connector that speaks SOCKS: use "
                "sockwise.aiohttp.session(routes=... or proxy=...), or aiohttp.ClientSession("
                "connector=sockwise.aiohttp.connector(), ...); aiohttp's proxy= takes HTTP proxies only"
            )
        # The session's connector makes this attempt's connection through the SOCKS proxy.
        request.update_proxy(None, None, None)


# Task.uncancel (Python >= 3.11) lets one timer bound a try in the request's own task; 3.10 uses wait_for.
_UNCANCEL = sys.version_info >= (3, 11)


class _TryTimer:
    """One attempt's per-try timer: asyncio.timeout's own logic, without its scope object or a coroutine.

    One timer cancels the request's task when the attempt runs out; only a cancellation that is
    ours alone (``Task.uncancel`` back to where it stood) becomes the timeout. ~1 µs a try here.
    Python >= 3.11.
    """

    __slots__ = ("_began", "_cancelling", "_fired", "_handle", "_loop", "_task")

    def __init__(self, timeout: float) -> None:
        loop = self._loop = asyncio.get_running_loop()
        task = asyncio.current_task()
        assert task is not None  # a middleware runs inside aiohttp's request task
        self._task = task
        self._cancelling = task.cancelling()  # type: ignore[attr-defined]  # Python >= 3.11 (_UNCANCEL)
        self._fired = False
        self._began = loop.time()
        self._handle = loop.call_at(self._began + timeout, self._expire)

    def _expire(self) -> None:
        self._fired = True
        self._task.cancel()

    def timed_out(self, ctx: AttemptContext) -> asyncio.TimeoutError | None:
        """For a CancelledError out of the attempt: the timeout error when the cancel was ours alone, else None."""
        if not self._fired:
            return None  # someone else's cancellation: it goes on
        self._fired = False  # taken back here
        if self._task.uncancel() > self._cancelling:  # type: ignore[attr-defined]
            return None  # ours, and someone else's too: theirs goes on
        return attempt_timeout_error(ctx, self._loop.time() - self._began)

    def stop(self) -> None:
        """Disarm; when the timer fired and the attempt ended some other way (it swallowed the
        cancel, or turned it into an error), take our cancellation back."""
        self._handle.cancel()
        if self._fired:
            self._fired = False
            self._task.uncancel()  # type: ignore[attr-defined]


async def _perform(
    ctx: AttemptContext, request: ClientRequest, handler: ClientHandlerType, stream: bool, timed: bool = True
) -> ClientResponse:
    """One attempt: the response head, then (unless ``stream``) the whole body, within ``ctx.timeout``."""
    timer = None
    if timed and ctx.timeout is not None:
        if not _UNCANCEL:
            return await _wait_for(ctx, request, handler, stream, ctx.timeout)
        timer = _TryTimer(ctx.timeout)
    try:
        response = await handler(request)
        if stream:
            return response
        ctx.phase = Phase.BODY
        try:
            await response.read()
        except BaseException:
            response.close()  # never hand a half-read connection back to the pool
            raise
        return response
    except asyncio.CancelledError as exc:
        error = timer.timed_out(ctx) if timer is not None else None
        if error is None:
            raise
        raise error from exc
    finally:
        if timer is not None:
            timer.stop()


async def _wait_for(
    ctx: AttemptContext, request: ClientRequest, handler: ClientHandlerType, stream: bool, timeout: float
) -> ClientResponse:
    # Python 3.10 has no Task.uncancel: the attempt runs in a task of its own under wait_for.
    began = time.monotonic()
    try:
        return await asyncio.wait_for(_perform(ctx, request, handler, stream, timed=False), timeout)
    except asyncio.TimeoutError as exc:
        if isinstance(exc, aiohttp.ClientError):
            raise  # aiohttp's own timeout, not ours
        raise attempt_timeout_error(ctx, time.monotonic() - began) from exc


def _copy(headers: object) -> CIMultiDict[str] | None:
    # aiohttp writes the Host header into proxy_headers when it connects: each attempt gets its own
    # copy, so the pool key (a hash of these headers) stays the same from request to request.
    return CIMultiDict(headers) if headers else None  # type: ignore[arg-type]
