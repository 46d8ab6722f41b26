"""Connectors with TCP keepalive and phase hints, and ``session()``: a ClientSession with the middleware."""

from __future__ import annotations

import socket
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import aiohttp

from sockwise._exceptions import ConfigError
from sockwise._model import Attempt, Proxy
from sockwise._sockopts import KeepAlive, apply_socket_options
from sockwise.aiohttp._hints import PhaseHintsMixin, trace_config
from sockwise.aiohttp._middleware import RetryMiddleware, _resolve_routes
from sockwise.retry import RetryPolicy
from sockwise.runner import FixedProxyRoutes, RouteProvider

if TYPE_CHECKING:
    from aiohttp import ClientMiddlewareType

__all__ = ["KeepAliveConnector", "KeepAliveSocketFactory", "connector", "session"]

_DEFAULT_KEEPALIVE = KeepAlive()
_TCP_FAMILIES = (socket.AF_INET, socket.AF_INET6)


class KeepAliveSocketFactory:
    """A ``TCPConnector(socket_factory=...)`` that sets TCP keepalive and ``TCP_USER_TIMEOUT`` on each socket.

    Args:
        keepalive: the settings (see :class:`sockwise.KeepAlive`); options the platform lacks are skipped.
    """

    __slots__ = ("options",)

    def __init__(self, keepalive: KeepAlive = _DEFAULT_KEEPALIVE) -> None:
        self.options = keepalive.options()

    def __repr__(self) -> str:
        return f"KeepAliveSocketFactory({self.options!r})"

    def __call__(self, addr_info: tuple[Any, ...]) -> socket.socket:
        """A new socket for one ``getaddrinfo`` entry, with the options applied to TCP families."""
        family, type_, proto = addr_info[0], addr_info[1], addr_info[2]
        sock = socket.socket(family=family, type=type_, proto=proto)
        if family in _TCP_FAMILIES:
            try:
                apply_socket_options(sock, self.options)
            except BaseException:
                sock.close()
                raise
        return sock


class KeepAliveConnector(PhaseHintsMixin, aiohttp.TCPConnector):
    """``aiohttp.TCPConnector`` that tells sockwise's middleware the connect phase and connection reuse.

    Build it with :func:`connector` (which also sets the keepalive socket factory).
    """


def connector(*, keepalive: KeepAlive | None = _DEFAULT_KEEPALIVE, **kwargs: Any) -> aiohttp.TCPConnector:
    """An ``aiohttp.TCPConnector`` for sockwise: TCP keepalive + ``TCP_USER_TIMEOUT`` on every socket, phase hints.

    Args:
        keepalive: the keepalive settings; None leaves sockets as aiohttp makes them.
        **kwargs: ``aiohttp.TCPConnector`` arguments (``limit``, ``ssl``, ``ttl_dns_cache`` ...).

    Returns:
        A :class:`KeepAliveConnector`.

    Raises:
        ConfigError: ``socket_factory`` given together with ``keepalive``.
    """
    if keepalive is not None:
        if kwargs.get("socket_factory") is not None:
            raise ConfigError("give either keepalive= or socket_factory= to sockwise.aiohttp.connector, not both")
        kwargs["socket_factory"] = KeepAliveSocketFactory(keepalive)
    return KeepAliveConnector(**kwargs)


def _socks_connector(proxy: Proxy, keepalive: KeepAlive | None, **kwargs: Any) -> aiohttp.BaseConnector:
    """An aiohttp-socks ``ProxyConnector`` for ``proxy``, with phase hints and keepalive on the proxy socket."""
    try:
        from aiohttp_socks import ProxyConnector
    except ImportError:  # pragma: no cover - the extra installs it
        raise ConfigError(
            f"the SOCKS proxy {proxy.redacted} needs aiohttp-socks: pip install 'sockwise[aiohttp]'"
        ) from None
    options = keepalive.options() if keepalive is not None else []

    class SocksConnector(PhaseHintsMixin, ProxyConnector):
        async def _connect_via_proxy(self, *args: Any, **kw: Any) -> Any:
            transport, protocol = await super()._connect_via_proxy(*args, **kw)
            sock = transport.get_extra_info("socket")
            if options and sock is not None and sock.family in _TCP_FAMILIES:
                apply_socket_options(sock, options)
            return transport, protocol

    return SocksConnector.from_url(proxy.url, rdns=proxy.scheme == "socks5h", **kwargs)


def session(
    policy: RetryPolicy | None = None,
    *,
    routes: RouteProvider | None = None,
    proxy: Proxy | str | None = None,
    on_attempt: Callable[[Attempt], None] | None = None,
    stream: bool = False,
    keepalive: KeepAlive | None = _DEFAULT_KEEPALIVE,
    trace: bool = False,
    middlewares: Sequence[ClientMiddlewareType] = (),
    connector_args: dict[str, Any] | None = None,
    **kwargs: Any,
) -> aiohttp.ClientSession:
    """An ``aiohttp.ClientSession`` whose requests go through sockwise's :class:`RetryMiddleware`.

    Example::

        async with sockwise.aiohttp.session(RetryPolicy(deadline=10.0)) as s:
            async with s.get(url) as resp:
                body = await resp.read()

    The connector sets TCP keepalive and ``TCP_USER_TIMEOUT`` on every socket (a dead idle peer is
    found in seconds, not the 7,875 s Linux default) and tells the middleware how far each attempt
    got and whether it reused a pooled connection. A SOCKS ``proxy`` gets an aiohttp-socks
    connector (keepalive set on the socket to the proxy); an HTTP(S) proxy uses aiohttp's own
    proxy support.

    Args:
        policy: the retry policy (shared by the session's requests, with its budget).
        routes: a route provider; its proxies must be HTTP(S) (aiohttp's ``proxy=``), or one SOCKS
            proxy given as ``proxy=`` (aiohttp speaks SOCKS through a connector per proxy).
        proxy: one fixed proxy (a :class:`~sockwise.Proxy` or a URL: http, https, socks4, socks5, socks5h).
        on_attempt: called with each :class:`~sockwise.Attempt`.
        stream: leave response bodies to the caller by default (see :class:`RetryMiddleware`).
        keepalive: the TCP keepalive settings; None to leave sockets as aiohttp makes them.
        trace: also install :func:`trace_config` (DNS and headers-sent hints; ~8 µs per request).
        middlewares: more middlewares, run inside the retry (each attempt goes through them).
        connector_args: ``aiohttp.TCPConnector`` arguments (``limit``, ``ssl`` ...).
        **kwargs: ``aiohttp.ClientSession`` arguments (``timeout``, ``headers``, ``raise_for_status`` ...).

    Returns:
        The session (use it as ``async with``; closing it closes its connections).

    Raises:
        ConfigError: ``connector=`` (use ``connector_args``), both ``routes`` and ``proxy``, a
            proxy URL that does not parse.
    """
    if "connector" in kwargs:
        raise ConfigError(
            "sockwise.aiohttp.session builds its own connector; pass connector_args={...}, or use "
            "aiohttp.ClientSession(connector=..., middlewares=[RetryMiddleware()]) with your connector"
        )
    resolved = _resolve_routes(routes, proxy)
    socks = None
    if isinstance(resolved, FixedProxyRoutes) and resolved.proxy.scheme.startswith("socks"):
        socks = resolved.proxy
    retry = RetryMiddleware(policy, routes=resolved, on_attempt=on_attempt, stream=stream)
    args = dict(connector_args or {})
    if socks is not None:
        conn = _socks_connector(socks, keepalive, **args)
        retry._socks_key = socks.key
    else:
        conn = connector(keepalive=keepalive, **args)
    traces = list(kwargs.pop("trace_configs", None) or ())
    if trace:
        traces.append(trace_config())
    return aiohttp.ClientSession(
        connector=conn, middlewares=(retry, *middlewares), trace_configs=traces or None, **kwargs
    )
