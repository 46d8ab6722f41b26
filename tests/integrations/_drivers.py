"""One driver per sockwise integration, so the behaviour suite runs each lab scenario through every client.

A driver opens a client of its library the way a user would (``httpx.Client`` with a
``RetryTransport``, ``httpx.AsyncClient`` with an ``AsyncRetryTransport``, ``sockwise.aiohttp.session``,
``sockwise.requests.Session``), makes one request with a method, a body and per-request overrides
in that library's own spelling, and returns an :class:`Outcome`: the status and body, or the
exception the caller caught. The async clients run on an event loop of their own, driven from the
test's thread, so one test body serves all four clients.

Where the libraries truly differ (which exception type a caller catches, how far aiohttp can tell
that a request was sent, whether a released unread response may keep its connection) the driver
says so (:attr:`Driver.errors`, :attr:`Driver.unhinted_send`, :attr:`Driver.pools_unread`), and it
checks what each library's errors and responses carry; everything else the suite asserts is the
same for all four.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator, Mapping
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from typing import Any, TypeVar

import aiohttp
import httpx
import pytest
import requests

from sockwise import Phase, RequestFailed, RetryPolicy
from sockwise import aiohttp as sw_aiohttp
from sockwise import httpx as sw_httpx
from sockwise import requests as sw_requests
from sockwise.lab import Lab

T = TypeVar("T")

ONE_SHOT = b"one-shot:"  # a body given as this is sent as a generator yielding it: it can be read once
_ASYNC_BOUND = 20.0  # an async request that hangs fails instead of blocking the suite
_CLIENT_TIMEOUT = 5.0  # every client's own timeout: far above what any scenario needs, a guard against hangs


@dataclass
class Outcome:
    """What the caller got from one request: a response, or the exception it caught.

    Attributes:
        status: the HTTP status, or None after an error.
        body: the whole body read, or None after an error.
        error: the exception the request raised, or None.
        elapsed: wall seconds of the call, measured around it by the driver.
        url: the URL requested.
        response: the library's response object (closed), or None after an error.
    """

    status: int | None = None
    body: bytes | None = None
    error: Exception | None = None
    elapsed: float = 0.0
    url: str = ""
    response: Any = None


@dataclass(frozen=True)
class Driver:
    """How one integration is driven, and what its library gives the caller where the libraries differ.

    Attributes:
        name: the test id.
        base: the root exception type the library's callers catch.
        errors: the exception types a caller catches, per kind of failure (all must match).
        exact: the first type of each ``errors`` entry is the exact type raised (False for
            aiohttp, whose errors are made types that mirror the last attempt's).
        unhinted_send: the (phase, request_sent) of a reset after sending a POST when the client
            cannot tell whether the body left (aiohttp without trace hints); None = it can tell.
        pools_unread: a released response whose (small) body had already arrived whole gives its
            connection back to the pool (aiohttp); otherwise an unread response's connection is closed.
        open: makes a client (see :class:`Client`).
        request_failed: the integration's ``request_failed``.
        error_conventions: checks what the library's errors carry (request, cause, errno ...).
        response_conventions: checks what the library's responses carry.
    """

    name: str
    base: type[Exception]
    errors: Mapping[str, tuple[type[BaseException], ...]]
    exact: bool
    unhinted_send: tuple[Phase, bool | None] | None
    pools_unread: bool
    open: Callable[..., Client]
    request_failed: Callable[[BaseException], RequestFailed | None]
    error_conventions: Callable[[BaseException, RequestFailed, str], None]
    response_conventions: Callable[[Any, str], None]

    def failed(self, outcome: Outcome, kind: str) -> RequestFailed:
        """The RequestFailed of an outcome that must be an error of ``kind``, checking the library's conventions."""
        exc = self.raised(outcome, kind)
        found = self.request_failed(exc)
        assert found is not None, f"{self.name}: {exc!r} carries no .sockwise"
        attached: object = getattr(exc, "sockwise", None)
        assert attached is found
        # The caller's message is the one-line story.
        assert str(exc) == str(found)
        self.error_conventions(exc, found, outcome.url)
        return found

    def raised(self, outcome: Outcome, kind: str) -> Exception:
        """The exception of an outcome that must be an error of ``kind``, of the types its callers catch."""
        exc = outcome.error
        assert exc is not None, f"{self.name}: expected a {kind} error, got status {outcome.status}"
        assert isinstance(exc, self.base), f"{self.name}: {exc!r} escapes the library's {self.base}"
        expected = self.errors[kind]
        if self.exact:
            assert type(exc) is expected[0], f"{self.name}: {type(exc)} raised, {expected[0]} expected ({kind})"
        for kind_type in expected:
            assert isinstance(exc, kind_type), f"{self.name}: {type(exc).__mro__} is not a {kind_type} ({kind})"
        return exc

    def answered(self, outcome: Outcome) -> tuple[int | None, bytes | None]:
        """(status, body) of an outcome that must be a response, checking the library's conventions."""
        assert outcome.error is None, f"{self.name}: expected a response, got {outcome.error!r}"
        self.response_conventions(outcome.response, outcome.url)
        return outcome.status, outcome.body


# -- what each library's errors and responses carry ---------------------------------------------------------------


def _httpx_error(exc: BaseException, found: RequestFailed, url: str) -> None:
    # The request it failed on, and the transport's own error of the same type as the cause.
    assert isinstance(exc, httpx.RequestError)
    assert str(exc.request.url) == url
    assert type(exc.__cause__) is type(exc)


def _httpx_response(response: Any, url: str) -> None:
    assert isinstance(response, httpx.Response)
    assert str(response.request.url) == url
    assert response.is_closed


def _requests_error(exc: BaseException, found: RequestFailed, url: str) -> None:
    assert isinstance(exc, requests.RequestException)
    assert exc.request is not None
    assert exc.request.url == url
    assert type(exc.__cause__) is type(exc)


def _requests_response(response: Any, url: str) -> None:
    assert isinstance(response, requests.Response)
    assert response.url == url
    if response.status_code >= 400:
        with pytest.raises(requests.HTTPError) as info:
            response.raise_for_status()
        assert info.value.response is response


def _aiohttp_error(exc: BaseException, found: RequestFailed, url: str) -> None:
    assert isinstance(exc, sw_aiohttp.RetryError)
    assert exc.__cause__ is found
    assert exc.attempts == found.attempts
    # Never a type aiohttp answers with a hidden replay of the request (connector errors aside).
    if isinstance(exc, (aiohttp.ClientOSError, aiohttp.ServerDisconnectedError)):
        assert isinstance(exc, aiohttp.ClientConnectorError), f"{type(exc).__mro__} would be replayed by aiohttp"
    # The mirrored type's own attributes still work.
    if isinstance(exc, aiohttp.ClientConnectorError):
        assert isinstance(exc.os_error, OSError)
        if found.failure.errno is not None:  # (an ssl.SSLError's errno is OpenSSL's, not the OS's)
            assert exc.os_error.errno == found.failure.errno
    elif isinstance(exc, OSError):
        assert exc.errno == found.failure.errno
    if isinstance(exc, aiohttp.ClientResponseError):
        assert exc.status == found.failure.status


def _aiohttp_response(response: Any, url: str) -> None:
    assert isinstance(response, aiohttp.ClientResponse)
    assert str(response.url) == url
    assert response.connection is None  # released back to the pool (or closed)


class Client:
    """An open client of one library; :meth:`request` makes one request, :meth:`close` closes it all."""

    def request(
        self,
        method: str,
        url: str,
        *,
        body: bytes | None = None,
        overrides: Mapping[str, object] | None = None,
        stream: bool = False,
        while_open: Callable[[], None] | None = None,
    ) -> Outcome:
        """Make one request.

        Args:
            method: the HTTP method.
            url: the URL.
            body: the body; one starting with :data:`ONE_SHOT` is sent as a generator (read once).
            overrides: per-request retry overrides, passed the library's way.
            stream: leave the body to the caller (sockwise's stream mode) for this request; the driver
                reads it. False leaves the client's default (see ``open_client(stream=...)``).
            while_open: called with the response open, before its body is read.
        """
        raise NotImplementedError

    closed = False

    def close(self) -> None:
        """Close the client and every connection it holds (once; later calls do nothing)."""
        if not self.closed:
            self.closed = True
            self._close()

    def _close(self) -> None:
        raise NotImplementedError


Answer = tuple[int, bytes, Any]  # status, body, the library's response


def _timed(url: str, call: Callable[[], Answer]) -> Outcome:
    start = time.monotonic()
    try:
        status, body, response = call()
    except Exception as exc:
        return Outcome(error=exc, elapsed=time.monotonic() - start, url=url)
    return Outcome(status, body, None, time.monotonic() - start, url, response)


async def _atimed(url: str, call: Callable[[], Coroutine[Any, Any, Answer]]) -> Outcome:
    start = time.monotonic()
    try:
        status, body, response = await call()
    except Exception as exc:
        return Outcome(error=exc, elapsed=time.monotonic() - start, url=url)
    return Outcome(status, body, None, time.monotonic() - start, url, response)


def _sync_body(body: bytes | None) -> bytes | Iterator[bytes] | None:
    if body is not None and body.startswith(ONE_SHOT):

        def once() -> Iterator[bytes]:
            yield body

        return once()
    return body


def _async_body(body: bytes | None) -> bytes | AsyncIterator[bytes] | None:
    if body is not None and body.startswith(ONE_SHOT):

        async def once() -> AsyncIterator[bytes]:
            yield body

        return once()
    return body


class _Loop:
    """An event loop of the client's own, driven from the test's thread one call at a time."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return self.loop.run_until_complete(asyncio.wait_for(coro, _ASYNC_BOUND))

    def close(self, coro: Coroutine[Any, Any, None]) -> None:
        async def closing() -> None:
            await coro
            # Transports close their sockets in a callback of the next loop iteration: let it run.
            await asyncio.sleep(0)

        try:
            self.run(closing())
        finally:
            self.loop.run_until_complete(self.loop.shutdown_asyncgens())
            self.loop.close()


# -- httpx -----------------------------------------------------------------------------------------------------------


def _httpx_extensions(overrides: Mapping[str, object] | None, stream: bool) -> dict[str, Any]:
    options = dict(overrides or {})
    if stream:
        options["stream"] = True
    return {"sockwise": options} if options else {}


class _HttpxClient(Client):
    def __init__(self, lab: Lab, policy: RetryPolicy | None, **kwargs: Any) -> None:
        transport = sw_httpx.RetryTransport(policy=policy, verify=lab.client_ssl_context(), trust_env=False, **kwargs)
        self.client = httpx.Client(transport=transport, timeout=_CLIENT_TIMEOUT, trust_env=False)

    def request(
        self,
        method: str,
        url: str,
        *,
        body: bytes | None = None,
        overrides: Mapping[str, object] | None = None,
        stream: bool = False,
        while_open: Callable[[], None] | None = None,
    ) -> Outcome:
        extensions = _httpx_extensions(overrides, stream)

        def call() -> Answer:
            if not stream and while_open is None:
                response = self.client.request(method, url, content=_sync_body(body), extensions=extensions)
                return response.status_code, response.content, response
            with self.client.stream(method, url, content=_sync_body(body), extensions=extensions) as response:
                if while_open is not None:
                    while_open()
                data = response.read()
            return response.status_code, data, response

        return _timed(url, call)

    def _close(self) -> None:
        self.client.close()


class _AsyncHttpxClient(Client):
    def __init__(self, lab: Lab, policy: RetryPolicy | None, **kwargs: Any) -> None:
        self.loop = _Loop()
        transport = sw_httpx.AsyncRetryTransport(
            policy=policy, verify=lab.client_ssl_context(), trust_env=False, **kwargs
        )
        self.client = httpx.AsyncClient(transport=transport, timeout=_CLIENT_TIMEOUT, trust_env=False)

    def request(
        self,
        method: str,
        url: str,
        *,
        body: bytes | None = None,
        overrides: Mapping[str, object] | None = None,
        stream: bool = False,
        while_open: Callable[[], None] | None = None,
    ) -> Outcome:
        extensions = _httpx_extensions(overrides, stream)

        async def call() -> Answer:
            content = _async_body(body)
            if not stream and while_open is None:
                response = await self.client.request(method, url, content=content, extensions=extensions)
                return response.status_code, response.content, response
            async with self.client.stream(method, url, content=content, extensions=extensions) as response:
                if while_open is not None:
                    while_open()
                data = await response.aread()
            return response.status_code, data, response

        return self.loop.run(_atimed(url, call))

    def _close(self) -> None:
        self.loop.close(self.client.aclose())


# -- aiohttp ---------------------------------------------------------------------------------------------------------


class _AiohttpClient(Client):
    def __init__(self, lab: Lab, policy: RetryPolicy | None, **kwargs: Any) -> None:
        self.loop = _Loop()
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=_CLIENT_TIMEOUT, sock_read=_CLIENT_TIMEOUT)

        async def make() -> aiohttp.ClientSession:
            return sw_aiohttp.session(
                policy, connector_args={"ssl": lab.client_ssl_context()}, timeout=timeout, **kwargs
            )

        self.session = self.loop.run(make())

    def request(
        self,
        method: str,
        url: str,
        *,
        body: bytes | None = None,
        overrides: Mapping[str, object] | None = None,
        stream: bool = False,
        while_open: Callable[[], None] | None = None,
    ) -> Outcome:
        options: AbstractContextManager[object] = nullcontext()
        if overrides or stream:
            options = sw_aiohttp.overrides(dict(overrides or {}), **({"stream": True} if stream else {}))

        async def call() -> Answer:
            with options:
                async with self.session.request(method, url, data=_async_body(body)) as response:
                    if while_open is not None:
                        while_open()
                    data = await response.read()
                return response.status, data, response

        return self.loop.run(_atimed(url, call))

    def _close(self) -> None:
        self.loop.close(self.session.close())


# -- requests --------------------------------------------------------------------------------------------------------


class _RequestsClient(Client):
    def __init__(self, lab: Lab, policy: RetryPolicy | None, **kwargs: Any) -> None:
        stream = kwargs.pop("stream", False)
        self.session = sw_requests.Session(policy, **kwargs)
        self.session.trust_env = False
        self.session.stream = stream  # requests' own session-wide default (None per request leaves it in force)
        self.session.verify = str(lab.ca_file)

    def request(
        self,
        method: str,
        url: str,
        *,
        body: bytes | None = None,
        overrides: Mapping[str, object] | None = None,
        stream: bool = False,
        while_open: Callable[[], None] | None = None,
    ) -> Outcome:
        def call() -> Answer:
            response = self.session.request(
                method,
                url,
                data=_sync_body(body),
                sockwise=dict(overrides) if overrides else None,
                stream=True if stream else None,
                timeout=_CLIENT_TIMEOUT,
            )
            with response:
                if while_open is not None:
                    while_open()
                data = response.content
            return response.status_code, data, response

        return _timed(url, call)

    def _close(self) -> None:
        self.session.close()


# -- the drivers -----------------------------------------------------------------------------------------------------

_HTTPX_ERRORS: dict[str, tuple[type[BaseException], ...]] = {
    "reset": (httpx.ReadError,),
    "refused": (httpx.ConnectError,),
    "eof": (httpx.RemoteProtocolError,),
    "body_reset": (httpx.ReadError,),
    "wait_timeout": (httpx.ReadTimeout,),
    "body_timeout": (httpx.ReadTimeout,),
    "connect_timeout": (httpx.ConnectTimeout,),
    "tls_timeout": (httpx.ConnectTimeout,),
    "tls_cert": (httpx.ConnectError,),
    "proxy_refused": (httpx.ConnectError,),
    "proxy_status": (httpx.ProxyError,),
    "stream_body_reset": (httpx.ReadError,),
}

_AIOHTTP_ERRORS: dict[str, tuple[type[BaseException], ...]] = {
    # Never aiohttp.ClientOSError / ServerDisconnectedError: aiohttp would replay those itself.
    "reset": (sw_aiohttp.ConnectionRetryError, aiohttp.ClientConnectionError, OSError),
    "refused": (aiohttp.ClientConnectorError,),
    "eof": (sw_aiohttp.ConnectionRetryError, aiohttp.ClientConnectionError),
    "body_reset": (aiohttp.ClientPayloadError,),
    "wait_timeout": (aiohttp.SocketTimeoutError, asyncio.TimeoutError),
    "body_timeout": (aiohttp.SocketTimeoutError, asyncio.TimeoutError),
    "connect_timeout": (aiohttp.ConnectionTimeoutError, asyncio.TimeoutError),
    "tls_timeout": (aiohttp.ConnectionTimeoutError, asyncio.TimeoutError),
    "tls_cert": (aiohttp.ClientConnectorCertificateError,),
    "proxy_refused": (aiohttp.ClientProxyConnectionError,),
    "proxy_status": (aiohttp.ClientHttpProxyError,),
    "stream_body_reset": (aiohttp.ClientPayloadError,),
}

_REQUESTS_ERRORS: dict[str, tuple[type[BaseException], ...]] = {
    "reset": (requests.ConnectionError,),
    "refused": (requests.ConnectionError,),
    "eof": (requests.ConnectionError,),
    "body_reset": (requests.exceptions.ChunkedEncodingError,),
    "wait_timeout": (requests.ReadTimeout,),
    # requests raises ConnectionError for a read timeout while reading the body.
    "body_timeout": (requests.ConnectionError,),
    "connect_timeout": (requests.ConnectTimeout,),
    "tls_timeout": (requests.ReadTimeout,),
    "tls_cert": (requests.exceptions.SSLError, requests.ConnectionError),
    "proxy_refused": (requests.exceptions.ProxyError,),
    "proxy_status": (requests.exceptions.ProxyError, requests.ConnectionError),
    "stream_body_reset": (requests.exceptions.ChunkedEncodingError,),
}

DRIVERS = (
    Driver(
        "httpx",
        httpx.HTTPError,
        _HTTPX_ERRORS,
        True,
        None,
        False,
        _HttpxClient,
        sw_httpx.request_failed,
        _httpx_error,
        _httpx_response,
    ),
    Driver(
        "httpx-async",
        httpx.HTTPError,
        _HTTPX_ERRORS,
        True,
        None,
        False,
        _AsyncHttpxClient,
        sw_httpx.request_failed,
        _httpx_error,
        _httpx_response,
    ),
    Driver(
        "aiohttp",
        aiohttp.ClientError,
        _AIOHTTP_ERRORS,
        False,
        (Phase.SEND, None),
        True,
        _AiohttpClient,
        sw_aiohttp.request_failed,
        _aiohttp_error,
        _aiohttp_response,
    ),
    Driver(
        "requests",
        requests.RequestException,
        _REQUESTS_ERRORS,
        True,
        None,
        False,
        _RequestsClient,
        sw_requests.request_failed,
        _requests_error,
        _requests_response,
    ),
)


OpenClient = Callable[..., Client]


@dataclass
class TricklingHeaders:
    """A loopback server whose status line and headers arrive one byte every 50 ms (about 2 s in all)."""

    url: str
    connections: list[float] = field(default_factory=list)
