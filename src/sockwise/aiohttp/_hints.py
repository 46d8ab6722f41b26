"""Phase hints from inside aiohttp: which attempt is running, how far it got, whether it reused a connection.

The middleware puts the running attempt's :class:`~sockwise.runner.AttemptContext` in a
``ContextVar`` for the duration of the attempt. aiohttp awaits its connector and its trace
callbacks in the request's own task, so both see it without any private API:

* :class:`PhaseHintsMixin` (mixed into the connectors :mod:`sockwise.aiohttp` builds) overrides
  ``BaseConnector.connect``: ``connect`` while a connection is being found or made, then
  ``send`` / ``wait``; and whether the connection came from the pool. It costs one ContextVar
  read and one set lookup per request.
* :func:`trace_config` gives the same hints through aiohttp's ``TraceConfig`` signals (plus DNS
  and the moment the request headers left) for a session whose connector is not ours. aiohttp
  fires every tracing signal of every request once a TraceConfig is installed: it costs about
  8 µs per request on this machine, so the sessions sockwise builds do not install it by default.

Without either, the classifier infers the phase from aiohttp's exception types alone, and a
failure on a reused keep-alive connection cannot be told from one on a fresh connection (the
stale keep-alive race then gets the ordinary retry rules instead of one immediate retry).
"""

from __future__ import annotations

import weakref
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any, Final

import aiohttp

from sockwise._model import Phase
from sockwise.runner import AttemptContext

if TYPE_CHECKING:
    from aiohttp.client_proto import ResponseHandler
    from aiohttp.client_reqrep import ClientRequest
    from aiohttp.connector import Connection
    from aiohttp.tracing import Trace

__all__ = ["CURRENT_ATTEMPT", "PhaseHintsMixin", "trace_config"]

CURRENT_ATTEMPT: ContextVar[AttemptContext | None] = ContextVar("sockwise_aiohttp_attempt", default=None)
"""The attempt the current task is making (set by the middleware around each attempt)."""


def _after_connect(req: ClientRequest) -> Phase:
    # aiohttp hands a bodiless request to the transport in one write right after connecting, so
    # a failure from here on came after the request left; with a body it may be mid-upload.
    return Phase.SEND if req.body else Phase.WAIT


class PhaseHintsMixin:
    """Mix into an aiohttp connector class (before it) to report connect progress and reuse.

    Example: ``class MyConnector(PhaseHintsMixin, aiohttp.TCPConnector): ...``. Outside a
    sockwise attempt it adds one ContextVar read per ``connect``.
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
