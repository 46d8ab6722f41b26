"""What the sync and async transports share per request: its options, each attempt's setup, tracing, timeouts, errors.

Written once so that :mod:`._transport` and :mod:`._async_transport` hold only their I/O (their
settings, route transports and runner are shared by :mod:`._base`).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Final

import httpx

from sockwise._exceptions import ConfigError, RequestFailed, SockwiseError, request_failed
from sockwise._model import Phase
from sockwise.httpx._watchdog import shutdown_socket
from sockwise.runner import AttemptContext

__all__ = [
    "AttemptTrace",
    "RequestRun",
    "attempt_extensions",
    "library_error",
    "request_failed",
    "request_options",
    "timeout_error",
]

# Kinds of the httpcore trace events that matter (every other event is ignored).
_CONNECT: Final = 1  # a new TCP connection: no pooled connection is reused by this attempt
_REQUEST: Final = 2  # a request goes out: a CONNECT is the proxy handshake, any other decides reuse
_ANSWER: Final = 3  # the answer is awaited: a CONNECT's is the proxy handshake; the request's ends the tracing
_PHASE: Final = 4  # just a phase
_STREAM: Final = 5  # a connection (or its TLS layer) exists now: return_value is its network stream

_EVENTS: dict[str, tuple[int, Phase | None]] = {
    "connection.connect_tcp.started": (_CONNECT, Phase.CONNECT),
    "connection.connect_unix_socket.started": (_CONNECT, Phase.CONNECT),
    "socks.connect_tcp.started": (_CONNECT, Phase.CONNECT),
    "socks.setup_socks5_connection.started": (_PHASE, Phase.PROXY_HANDSHAKE),
    "connection.start_tls.started": (_PHASE, Phase.TLS),
    "proxy.start_tls.started": (_PHASE, Phase.TLS),
    "socks.start_tls.started": (_PHASE, Phase.TLS),
    "http11.send_request_headers.started": (_REQUEST, Phase.SEND),
    "http2.send_request_headers.started": (_REQUEST, Phase.SEND),
    "http11.receive_response_headers.started": (_ANSWER, Phase.WAIT),
    "http2.receive_response_headers.started": (_ANSWER, Phase.WAIT),
}
# With a watchdog, the connections this attempt opens are kept too, to be ended at its deadline.
_WATCH_EVENTS: dict[str, tuple[int, Phase | None]] = {
    **_EVENTS,
    "connection.connect_tcp.complete": (_STREAM, None),
    "connection.connect_unix_socket.complete": (_STREAM, None),
    "socks.connect_tcp.complete": (_STREAM, None),
    "connection.start_tls.complete": (_STREAM, None),
    "proxy.start_tls.complete": (_STREAM, None),
    "socks.start_tls.complete": (_STREAM, None),
}


class AttemptTrace:
    """Follows one attempt through httpcore's ``trace`` events, then calls the user's callback.

    It writes the phase reached and whether a pooled connection was reused into the runner's
    :class:`~sockwise.runner.AttemptContext`, and keeps the attempt's socket so the watchdog can
    end it. A CONNECT request (httpcore sends it with the same extensions) is the proxy handshake.

    :meth:`callback` and :meth:`async_callback` make the function to put in ``extensions["trace"]``:
    it looks the event name up in ``events`` (most of httpcore's events mean nothing here), calls
    :meth:`note` for the rest, then the caller's own callback. Once the request's answer is
    awaited nothing is left to learn (the body is the body), so the attempt's ``extensions`` get
    the caller's own callback back (or none): httpcore then stops tracing the body and the
    connection's release, which halves what tracing costs a request.

    Attributes:
        ctx: the attempt's context.
        user: the trace callback the caller passed in ``extensions["trace"]``, if any.
        events: the events that matter (those of a watched attempt include its new connections).
        extensions: the attempt's request extensions, whose ``trace`` is handed back when the
            answer is awaited (set by the transport).
        connected: this attempt opened a connection (so it did not reuse one).
        started: the attempt's own request has started (reuse is decided then).
        stream: the network stream of this attempt's connection, whose socket the watchdog may
            end (never an HTTP/2 connection's: other requests share it).
        expired: the watchdog fired for this attempt.
    """

    __slots__ = ("connected", "ctx", "events", "expired", "extensions", "started", "stream", "user")

    def __init__(self, ctx: AttemptContext, user: Callable[..., Any] | None, watch: bool = False) -> None:
        self.ctx = ctx
        self.user = user
        self.events = _WATCH_EVENTS if watch else _EVENTS
        self.extensions: dict[str, Any] | None = None
        self.connected = False
        self.stream: object = None
        self.expired = False
        self.started = False

    def callback(self) -> Callable[[str, Mapping[str, Any]], None]:
        """The sync trace callback of this attempt (a closure: it runs ~10 times per request)."""
        find = self.events.get
        note = self.note
        user = self.user

        def trace(name: str, info: Mapping[str, Any]) -> None:
            event = find(name)
            if event is not None:
                note(event, info)

        def trace_and_call(name: str, info: Mapping[str, Any]) -> None:
            event = find(name)
            if event is not None:
                note(event, info)
            user(name, info)  # type: ignore[misc]  # set when this closure is chosen

        return trace if user is None else trace_and_call

    def async_callback(self) -> Callable[[str, Mapping[str, Any]], Awaitable[None]]:
        """The async trace callback of this attempt (the caller's own must be async too, as httpx requires)."""
        find = self.events.get
        note = self.note
        user = self.user

        async def trace(name: str, info: Mapping[str, Any]) -> None:
            event = find(name)
            if event is not None:
                note(event, info)

        async def trace_and_call(name: str, info: Mapping[str, Any]) -> None:
            event = find(name)
            if event is not None:
                note(event, info)
            await user(name, info)  # type: ignore[misc]  # set when this closure is chosen

        return trace if user is None else trace_and_call

    def note(self, event: tuple[int, Phase | None], info: Mapping[str, Any]) -> None:
        """Record what an event found in :attr:`events` says about the attempt."""
        kind, phase = event
        ctx = self.ctx
        if kind in (_ANSWER, _REQUEST):
            request = info.get("request")
            if request is not None and request.method == b"CONNECT":
                ctx.phase = Phase.PROXY_HANDSHAKE
                return
            if kind == _ANSWER:
                ctx.phase = Phase.WAIT
                extensions = self.extensions
                if extensions is not None:
                    if self.user is None:
                        extensions.pop("trace", None)
                    else:
                        extensions["trace"] = self.user
                return
            if not self.started:
                self.started = True
                ctx.reused_connection = not self.connected
        elif kind == _STREAM:
            self.hold(info.get("return_value"))
            return
        elif kind == _CONNECT:
            self.connected = True
        ctx.phase = phase

    def hold(self, stream: object) -> None:
        """Keep ``stream`` (an httpcore network stream) so its socket can be ended at the deadline.

        Only the reference is kept: the socket is looked up if the deadline passes (rarely).
        """
        self.stream = stream
        if self.expired:
            _shutdown_stream(stream)

    def expire(self) -> None:
        """The deadline passed (called from the watchdog thread): end the connection under way."""
        self.expired = True
        _shutdown_stream(self.stream)


def _shutdown_stream(stream: object) -> None:
    """Shut the socket of an httpcore network stream down, unless it carries HTTP/2 (other requests)."""
    get = getattr(stream, "get_extra_info", None)
    if get is None:
        return
    ssl_object = get("ssl_object")
    if ssl_object is not None and ssl_object.selected_alpn_protocol() == "h2":
        return
    shutdown_socket(get("socket"))


def attempt_extensions(
    extensions: Mapping[str, Any], trace: Callable[..., Any], timeout: float | None
) -> dict[str, Any]:
    """The request extensions for one attempt: our trace callback, and timeouts cut to the attempt's.

    Args:
        extensions: the request's own extensions (not modified).
        trace: the attempt's trace callback.
        timeout: seconds the attempt may take, or None to keep the request's timeouts.

    Returns:
        A new dict to set as ``request.extensions`` for the attempt.
    """
    out = dict(extensions)
    out["trace"] = trace
    if timeout is not None:
        given = extensions.get("timeout") or {}
        connect, read, write, pool = given.get("connect"), given.get("read"), given.get("write"), given.get("pool")
        out["timeout"] = {
            "connect": timeout if connect is None or connect > timeout else connect,
            "read": timeout if read is None or read > timeout else read,
            "write": timeout if write is None or write > timeout else write,
            "pool": timeout if pool is None or pool > timeout else pool,
        }
    return out


class RequestRun:
    """One request on its way through the runner: what each of its attempts starts from.

    Both transports make one per request (by :func:`request_options`) and drive it the same
    way: :meth:`start_attempt` before each attempt lends the request a copy of the caller's
    extensions with sockwise's trace callback and cut timeouts; when the request ends the
    transport gives :attr:`extensions` back to the request.

    Attributes:
        request: the request being sent (its ``extensions`` are swapped per attempt).
        extensions: the caller's own extensions of the request.
        user_trace: the trace callback the caller passed in ``extensions["trace"]``, if any.
        overrides: the retry policy overrides (``retry``, ``retry_delay``, ``deadline`` ...).
        stream: leave the body to the caller (see the transports' docs) instead of reading it
            inside the attempt.
    """

    __slots__ = ("extensions", "overrides", "request", "stream", "user_trace")

    def __init__(self, request: httpx.Request, overrides: Mapping[str, object] | None, stream: bool) -> None:
        self.request = request
        self.extensions = request.extensions
        self.user_trace: Callable[..., Any] | None = self.extensions.get("trace")
        self.overrides = overrides
        self.stream = stream

    def start_attempt(self, ctx: AttemptContext, *, watch: bool = False, asynchronous: bool = False) -> AttemptTrace:
        """Set the request up for one attempt and return the attempt's trace follower.

        Args:
            ctx: the attempt's context (its ``timeout`` cuts the request's timeouts).
            watch: the watchdog may end this attempt (its connections are kept; sync only).
            asynchronous: put the async trace callback in the extensions (``httpx.AsyncClient``).

        Returns:
            The :class:`AttemptTrace` whose callback the request now carries.
        """
        # Positional: a keyword argument makes type.__call__ build a dict on every attempt.
        trace = AttemptTrace(ctx, self.user_trace, watch)
        callback = trace.async_callback() if asynchronous else trace.callback()
        self.request.extensions = trace.extensions = attempt_extensions(self.extensions, callback, ctx.timeout)
        return trace


_ONE_SHOT = {"idempotent": False}


def request_options(request: httpx.Request, stream_default: bool) -> RequestRun:
    """Read ``request.extensions["sockwise"]`` and the body's replayability into the request's run.

    A body that can be read only once (a generator, a file upload not read into memory) makes the
    request non-idempotent for the policy: only a failure that provably sent nothing is retried.

    Args:
        request: the request a transport was handed.
        stream_default: the transport's ``stream`` setting, used unless the request sets its own.

    Returns:
        The :class:`RequestRun` its attempts share (``overrides`` for the policy, ``stream``).

    Raises:
        ConfigError: ``extensions["sockwise"]`` is not a mapping, or ``stream`` is not a bool.
    """
    given = request.extensions.get("sockwise")
    stream = stream_default
    overrides: Mapping[str, object] | None = None
    if given is not None:
        if not isinstance(given, Mapping):
            raise ConfigError(
                f'extensions["sockwise"] must be a mapping such as {{"retry": 3, "retry_delay": 1.0}}, got {given!r}'
            )
        overrides = given
        if "stream" in given:
            stream = given["stream"]
            if not isinstance(stream, bool):
                raise ConfigError(f'extensions["sockwise"]["stream"] must be True or False, got {stream!r}')
            overrides = {key: value for key, value in given.items() if key != "stream"}
    if not isinstance(request.stream, httpx.ByteStream):
        overrides = {**overrides, **_ONE_SHOT} if overrides else _ONE_SHOT
    return RequestRun(request, overrides, stream)


_TIMEOUTS: dict[Phase | None, type[httpx.TimeoutException]] = {
    None: httpx.PoolTimeout,
    Phase.DNS: httpx.ConnectTimeout,
    Phase.PROXY_CONNECT: httpx.ConnectTimeout,
    Phase.PROXY_HANDSHAKE: httpx.ConnectTimeout,
    Phase.CONNECT: httpx.ConnectTimeout,
    Phase.TLS: httpx.ConnectTimeout,
    Phase.SEND: httpx.WriteTimeout,
}


def timeout_error(ctx: AttemptContext, request: httpx.Request, began: float) -> httpx.TimeoutException:
    """The httpx timeout for an attempt that ran out of its time in ``ctx.phase`` (as httpx would name it)."""
    kind = _TIMEOUTS.get(ctx.phase, httpx.ReadTimeout)
    where = f" in phase {ctx.phase}" if ctx.phase is not None else " waiting for a connection"
    return kind(
        f"attempt {ctx.number} ran out of its {ctx.timeout:.3g} s{where} "
        f"after {time.monotonic() - began:.3g} s (sockwise per-try timeout or deadline)",
        request=request,
    )


def library_error(failed: RequestFailed, request: httpx.Request) -> Exception:
    """The exception the caller of an httpx client expects, for a request that failed for good.

    The last attempt's httpx exception type is kept (``except httpx.ReadTimeout`` still works),
    with the one-line story as its message and the :class:`~sockwise.RequestFailed` as
    ``.sockwise``; an error that is not httpx's becomes an ``httpx.TransportError``. sockwise's
    own errors (a bad option) are returned as they are.
    """
    cause = failed.failure.exception
    if isinstance(cause, SockwiseError):
        return cause
    error: Exception
    if isinstance(cause, httpx.RequestError):
        try:
            error = type(cause)(str(failed), request=request)
        except TypeError:  # a subclass with a constructor of its own
            error = httpx.TransportError(str(failed), request=request)
    else:
        error = httpx.TransportError(str(failed), request=request)
    error.sockwise = failed  # type: ignore[attr-defined]
    return error
