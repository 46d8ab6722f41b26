"""Phase hints from inside aiohttp: which attempt is running, how far it got, whether it reused a connection.

The middleware puts the running attempt's :class:`~sockwise.runner.AttemptContext` in a
``ContextVar`` for the duration of the attempt. aiohttp awaits its connector and its trace
callbacks in the request's own task, so both see it without any private API:

* :class:`PhaseHintsMixin` (mixed into the connectors :mod:`sockwise.aiohttp` builds) overrides
  ``BaseConnector.connect``: ``connect`` while a connection is being found or made, then
  ``send`` / ``wait``; and whether the connection came from the pool. It costs one ContextVar
  read and one set lookup per request. For a *new* connection it also tells the steps inside
  aiohttp's one connector call apart (``tls`` once TCP is up, ``proxy_connect`` /
  ``proxy_handshake`` / ``tls`` through an HTTP(S) proxy): those hooks are private aiohttp API,
  used only where :data:`TLS_PHASE_HINTS` found them as aiohttp 3.12-3.14 has them; a request
  on a pooled connection never reaches them.
* :func:`trace_config` gives the same hints through aiohttp's ``TraceConfig`` signals (plus DNS
  and the moment the request headers left) for a session whose connector is not ours. aiohttp
  fires every tracing signal of every request once a TraceConfig is installed: it costs about
  8 µs per request on this machine, so the sessions sockwise builds do not install it by default.

Without either, the classifier infers the phase from aiohttp's exception types alone, and a
failure on a reused keep-alive connection cannot be told from one on a fresh connection (the
stale keep-alive race then gets the ordinary retry rules instead of one immediate retry).
"""

from __future__ import annotations

import inspect
import weakref
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any, Final

import aiohttp

from sockwise._model import Phase
from sockwise.runner import AttemptContext

if TYPE_CHECKING:
    import asyncio

    from aiohttp.client_proto import ResponseHandler
    from aiohttp.client_reqrep import ClientRequest
    from aiohttp.connector import Connection
    from aiohttp.tracing import Trace

__all__ = ["CURRENT_ATTEMPT", "TLS_PHASE_HINTS", "PhaseHintsMixin", "tls_phase_hooks", "trace_config"]

CURRENT_ATTEMPT: ContextVar[AttemptContext | None] = ContextVar("sockwise_aiohttp_attempt", default=None)
"""The attempt the current task is making (set by the middleware around each attempt)."""


# The private steps of aiohttp's TCPConnector the TLS hints hook (see tls_phase_hooks).
_TLS_STEPS: Final = ("_wrap_create_connection", "_create_proxy_connection", "_start_tls_connection")
# Phases in which _wrap_create_connection is connecting to an HTTP(S) proxy, not to the origin.
_PROXY_LEG: Final = frozenset({Phase.PROXY_CONNECT, Phase.PROXY_HANDSHAKE})


def tls_phase_hooks(connector: type[object] = aiohttp.TCPConnector) -> bool:
    """Whether ``connector`` has the private steps the TLS phase hints hook, as aiohttp 3.12-3.14 has them.

    aiohttp opens a connection in one connector call: ``_wrap_create_connection`` connects the
    socket first (aiohappyeyeballs, given ``addr_infos``), then hands it to
    ``loop.create_connection(protocol_factory, sock=..., ssl=...)``, which calls the protocol
    factory with TCP up and before the TLS handshake; through an HTTP proxy,
    ``_create_proxy_connection`` connects to the proxy that way, sends CONNECT, then runs
    ``_start_tls_connection`` in the tunnel. When any of these is missing or looks otherwise, the
    hints fall back to ``connect`` for the whole connector call (what the classifier infers then).

    Args:
        connector: the connector class to look at (aiohttp's ``TCPConnector`` by default).

    Returns:
        True when every step is there, a coroutine function, and ``_wrap_create_connection``
        takes ``addr_infos``.
    """
    steps = [getattr(connector, name, None) for name in _TLS_STEPS]
    if not all(inspect.iscoroutinefunction(step) for step in steps):
        return False
    try:
        parameters = inspect.signature(steps[0]).parameters  # type: ignore[arg-type]
    except (TypeError, ValueError):  # pragma: no cover - a step without a signature
        return False
    return "addr_infos" in parameters


TLS_PHASE_HINTS: bool = tls_phase_hooks()
"""Whether the installed aiohttp lets :class:`PhaseHintsMixin` report the TLS phase (see :func:`tls_phase_hooks`)."""


def _tls_next(factory: Callable[[], ResponseHandler], ctx: AttemptContext) -> Callable[[], ResponseHandler]:
    """``factory``, noting the TLS phase when it is called: the socket is connected, the handshake is next."""

    def make() -> ResponseHandler:
        ctx.phase = Phase.TLS
        return factory()

    return make


def _after_connect(req: ClientRequest) -> Phase:
    # aiohttp hands a bodiless request to the transport in one write right after connecting, so
    # a failure from here on came after the request left; with a body it may be mid-upload.
    return Phase.SEND if req.body else Phase.WAIT


class PhaseHintsMixin:
    """Mix into an aiohttp connector class (before it) to report connect progress and reuse.

    Example: ``class MyConnector(PhaseHintsMixin, aiohttp.TCPConnector): ...``. Outside a
    sockwise attempt it adds one ContextVar read per ``connect``.

    Phases of a new connection: ``connect``, then ``tls`` for an https origin once the socket is
    connected (a handshake that stalls or fails is the origin's TLS, not its TCP). Through an
    HTTP(S) proxy (aiohttp's ``proxy=``): ``proxy_connect`` (TCP, and TLS to an https proxy),
    ``proxy_handshake`` (the CONNECT, for an https origin), then ``tls`` to the origin inside the
    tunnel. Then ``send`` / ``wait`` as for a pooled connection. These steps are private aiohttp
    API, hooked only when :data:`TLS_PHASE_HINTS` is True (else the whole connector call is
    ``connect``, as before); they run once per new connection, never for a pooled one.
    """

    # A WeakSet of the protocols (connections) this connector handed out before: seeing one
    # again means it came from the keep-alive pool.
    _sockwise_seen: weakref.WeakSet[ResponseHandler]

    async def connect(self, req: ClientRequest, traces: list[Trace], timeout: aiohttp.ClientTimeout) -> Connection:
        """``BaseConnector.connect``, noting the phase and whether the connection was pooled."""
        ctx = CURRENT_ATTEMPT.get()
        if ctx is None:
            return await super().connect(req, traces, timeout)  # type: ignore[misc, no-any-return]
        ctx.phase = Phase.CONNECT
        conn: Connection = await super().connect(req, traces, timeout)  # type: ignore[misc]
        try:
            seen = self._sockwise_seen
        except AttributeError:
            seen = self._sockwise_seen = weakref.WeakSet()
        proto = conn.protocol
        if proto is not None:
            if proto in seen:
                ctx.reused_connection = True
            else:
                seen.add(proto)
        ctx.phase = _after_connect(req)
        return conn

    # -- aiohttp's private connector steps (a new connection only; see tls_phase_hooks) ------------------

    async def _create_proxy_connection(
        self, req: ClientRequest, traces: list[Trace], timeout: aiohttp.ClientTimeout
    ) -> tuple[asyncio.BaseTransport, ResponseHandler]:
        """A new connection through an HTTP(S) proxy: the socket connected next is the proxy's."""
        ctx = CURRENT_ATTEMPT.get()
        if ctx is not None and TLS_PHASE_HINTS:
            ctx.phase = Phase.PROXY_CONNECT
        return await super()._create_proxy_connection(req, traces, timeout)  # type: ignore[misc, no-any-return]

    async def _wrap_create_connection(self, *args: Any, **kwargs: Any) -> tuple[asyncio.Transport, ResponseHandler]:
        """Connect a socket, then TLS over it when ``ssl``: the TLS phase starts in between."""
        wrap = super()._wrap_create_connection  # type: ignore[misc]
        ctx = CURRENT_ATTEMPT.get()
        if ctx is None or not TLS_PHASE_HINTS:
            return await wrap(*args, **kwargs)  # type: ignore[no-any-return]
        if ctx.phase in _PROXY_LEG:
            # The connection to the proxy (with TLS to an https proxy: still the proxy's connect).
            # Once it is up, what remains of the connector call is the proxy's handshake (CONNECT).
            ctx.phase = Phase.PROXY_CONNECT  # again, when aiohttp tries the proxy's next address
            connected: tuple[asyncio.Transport, ResponseHandler] = await wrap(*args, **kwargs)
            ctx.phase = Phase.PROXY_HANDSHAKE
            return connected
        if kwargs.get("ssl") and args and callable(args[0]):
            ctx.phase = Phase.CONNECT  # again, when aiohttp tries the origin's next address
            args = (_tls_next(args[0], ctx), *args[1:])
        return await wrap(*args, **kwargs)  # type: ignore[no-any-return]

    async def _start_tls_connection(self, *args: Any, **kwargs: Any) -> tuple[asyncio.BaseTransport, ResponseHandler]:
        """TLS to the origin inside a CONNECT tunnel (the proxy said 200)."""
        ctx = CURRENT_ATTEMPT.get()
        if ctx is not None and TLS_PHASE_HINTS:
            ctx.phase = Phase.TLS
        return await super()._start_tls_connection(*args, **kwargs)  # type: ignore[misc, no-any-return]


def _hint(phase: Phase, reused: bool) -> Callable[[Any, SimpleNamespace, Any], Awaitable[None]]:
    """A TraceConfig callback noting ``phase`` (and a pooled connection when ``reused``) in the current attempt."""

    async def note(session: Any, trace_ctx: SimpleNamespace, params: Any) -> None:
        ctx = CURRENT_ATTEMPT.get()
        if ctx is not None:
            ctx.phase = phase
            if reused:
                ctx.reused_connection = True

    return note


# What each aiohttp TraceConfig signal tells of the attempt: (signal, phase reached, connection reused).
_SIGNALS: Final = (
    ("on_connection_create_start", Phase.CONNECT, False),
    ("on_dns_resolvehost_start", Phase.DNS, False),
    ("on_dns_resolvehost_end", Phase.CONNECT, False),
    ("on_connection_create_end", Phase.SEND, False),
    ("on_connection_reuseconn", Phase.SEND, True),
    ("on_request_headers_sent", Phase.WAIT, False),
)
# Made once: every trace_config() installs the same callbacks.
_CALLBACKS: Final = tuple((signal, _hint(phase, reused)) for signal, phase, reused in _SIGNALS)


def trace_config() -> aiohttp.TraceConfig:
    """An aiohttp ``TraceConfig`` that tells sockwise's middleware how far each attempt got.

    For a session with a connector sockwise did not build (those already report the connect
    phase and connection reuse)::

        session = aiohttp.ClientSession(
            connector=my_connector,
            middlewares=[RetryMiddleware()],
            trace_configs=[sockwise.aiohttp.trace_config()],
        )

    It reports DNS, connect, connection reuse and when the request headers left. Cost: aiohttp
    fires all its tracing signals for every request once a TraceConfig is installed (about 8 µs
    of CPU per request here, ~8 % of a bare request to a fast local origin).

    Returns:
        A new TraceConfig (install it in one session).
    """
    config = aiohttp.TraceConfig()
    for signal, callback in _CALLBACKS:
        getattr(config, signal).append(callback)
    return config
