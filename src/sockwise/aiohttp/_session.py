"""Connectors with TCP keepalive, phase hints and SOCKS routes, and ``session()``: a ClientSession with the middleware.

aiohttp's ``proxy=`` speaks HTTP proxies only; a SOCKS proxy needs a connector of its own
(aiohttp-socks). :class:`SocksRoutingConnector` keeps one per SOCKS proxy the attempts are routed
through, in a bounded LRU, and hands each attempt whose route is a SOCKS proxy to that proxy's
connector; everything else goes through the connector itself, as usual.
"""

from __future__ import annotations

import asyncio
import functools
import socket
import ssl
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import aiohttp

from sockwise._exceptions import ConfigError
from sockwise._held import HeldEntry, HeldLRU
from sockwise._model import Attempt, Phase, Proxy
from sockwise._sockopts import KeepAlive, apply_socket_options
from sockwise.aiohttp._hints import CURRENT_ATTEMPT, PhaseHintsMixin, trace_config
from sockwise.aiohttp._middleware import SOCKS_SCHEMES, RetryMiddleware
from sockwise.retry import RetryPolicy
from sockwise.runner import DirectRoutes, FixedProxyRoutes, PoolRoutes, RouteProvider, resolve_routes

if TYPE_CHECKING:
    from aiohttp import ClientMiddlewareType
    from aiohttp.client_reqrep import ClientRequest
    from aiohttp.connector import Connection
    from aiohttp.tracing import Trace

__all__ = [
    "DEFAULT_MAX_SOCKS_PROXIES",
    "KeepAliveConnector",
    "KeepAliveSocketFactory",
    "SocksRoutingConnector",
    "connector",
    "session",
    "socks_connector",
]

_DEFAULT_KEEPALIVE = KeepAlive()
_TCP_FAMILIES = (socket.AF_INET, socket.AF_INET6)
DEFAULT_MAX_SOCKS_PROXIES = 64


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
    """``aiohttp.TCPConnector`` that tells sockwise's middleware the connect and TLS phases and connection reuse.

    Build it with :func:`connector` (which also sets the keepalive socket factory).
    """


class _SocksConnectors:
    """The per-SOCKS-proxy connectors of one :class:`SocksRoutingConnector`: a bounded LRU.

    When a new proxy would make more than ``size``, the least recently used proxy's connector is
    dropped: closed at once when none of its connections is out, else as soon as the last one is
    released (evicting a proxy never cuts a response still being read through it). All are
    closed with the routing connector. The bookkeeping is :class:`~sockwise._held.HeldLRU` (as
    for httpx's per-proxy transports); closing here is async, in a task.
    """

    __slots__ = ("_closing", "_held")

    def __init__(self, size: int, make: Callable[[Proxy], aiohttp.TCPConnector]) -> None:
        self._held: HeldLRU[Proxy, aiohttp.TCPConnector] = HeldLRU(make, size)
        self._closing: set[asyncio.Task[None]] = set()

    @property
    def size(self) -> int:
        """SOCKS proxies whose connectors are kept at once."""
        return self._held.size

    def __len__(self) -> int:
        return len(self._held)

    def proxies(self) -> list[Proxy]:
        """The proxies whose connectors are kept, least recently used first."""
        return self._held.keys()

    async def connect(
        self, proxy: Proxy, req: ClientRequest, traces: list[Trace], timeout: aiohttp.ClientTimeout
    ) -> Connection:
        """A connection to ``req``'s origin through ``proxy`` (its connector made on first use)."""
        # Held before the connect: an eviction while it is under way must not close it.
        entry, idle = self._held.acquire(proxy)
        for connector in idle:
            self._close_soon(connector)
        try:
            conn = await entry.value.connect(req, traces, timeout)
        except BaseException:
            self._done(entry)
            raise
        conn.add_callback(functools.partial(self._done, entry))
        return conn

    def _done(self, entry: HeldEntry[aiohttp.TCPConnector]) -> None:
        # A connection of this entry was released or closed (or its connect failed).
        done = self._held.release(entry)
        if done is not None:
            self._close_soon(done)

    def _close_soon(self, connector: aiohttp.TCPConnector) -> None:
        # In a task: aiohttp calls _done from release(), before the connection goes back to the
        # pool (the close must come after), and a connect must not wait for another proxy's close.
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # released outside the loop (at interpreter exit): nothing to close on
            return
        task = loop.create_task(connector.close())
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    async def wait_closed(self) -> None:
        """Wait until the connectors of evicted proxies (those with no connection out) are closed."""
        while pending := [task for task in self._closing if not task.done()]:
            await asyncio.gather(*pending, return_exceptions=True)

    async def aclose(self, *, abort_ssl: bool = False) -> None:
        """Close every connector, kept or evicted, and wait for those being closed."""
        for connector in self._held.take_all():
            await connector.close(abort_ssl=abort_ssl)
        await self.wait_closed()


_SOCKS_CONNECTOR: Callable[..., aiohttp.TCPConnector] | None = None


def _socks_connector_class(proxy: Proxy) -> Callable[..., aiohttp.TCPConnector]:
    # Made on first use: aiohttp-socks is imported only then.
    global _SOCKS_CONNECTOR  # noqa: PLW0603
    if _SOCKS_CONNECTOR is not None:
        return _SOCKS_CONNECTOR
    try:
        import python_socks
        from aiohttp_socks import ProxyConnector
    except ImportError:  # pragma: no cover - the extra installs it
        raise ConfigError(
            f"the SOCKS proxy {proxy.redacted} needs aiohttp-socks: pip install 'sockwise[aiohttp]'"
        ) from None

    class SocksConnector(PhaseHintsMixin, ProxyConnector):
        """aiohttp-socks' connector for one SOCKS proxy, with phase hints and keepalive on the proxy socket."""

        def __init__(self, *, socket_options: list[tuple[int, int, int]], **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self._sockwise_options = socket_options

        async def _connect_via_proxy(
            self, host: str, port: int, ssl: ssl.SSLContext | None = None, timeout: float | None = None
        ) -> Any:
            # python-socks makes the TCP connect to the proxy and its handshake one call: the phase
            # is moved on after the fact, from what it raised.
            ctx = CURRENT_ATTEMPT.get()
            if ctx is not None:
                ctx.phase = Phase.PROXY_CONNECT
            try:
                transport, protocol = await super()._connect_via_proxy(host=host, port=port, ssl=None, timeout=timeout)
            except (python_socks.ProxyConnectionError, python_socks.ProxyTimeoutError):
                raise  # the connect to the proxy failed; or the whole step timed out, somewhere in it
            except Exception:
                if ctx is not None:
                    ctx.phase = Phase.PROXY_HANDSHAKE  # connected to the proxy: its handshake failed
                raise
            sock = transport.get_extra_info("socket")
            options = self._sockwise_options
            if options and sock is not None and sock.family in _TCP_FAMILIES:
                apply_socket_options(sock, options)
            if ssl is None:
                return transport, protocol
            # TLS to the origin here, not in python-socks: a handshake cut short by the attempt's
            # deadline there waits out a 30 s TLS shutdown; here the tunnel is aborted at once.
            if ctx is not None:
                ctx.phase = Phase.TLS
            try:
                tls = await asyncio.get_running_loop().start_tls(
                    transport, protocol, ssl, server_hostname=host, ssl_handshake_timeout=timeout or None
                )
            except BaseException:
                transport.abort()
                raise
            if tls is None:  # pragma: no cover - the tunnel closed under the handshake
                transport.abort()
                raise ConnectionResetError(f"the tunnel through the SOCKS proxy closed before TLS to {host}")
            protocol.connection_made(tls)  # the response handler now reads and writes through TLS
            return tls, protocol

    _SOCKS_CONNECTOR = SocksConnector
    return SocksConnector


def socks_connector(
    proxy: Proxy, *, keepalive: KeepAlive | None = _DEFAULT_KEEPALIVE, **kwargs: Any
) -> aiohttp.TCPConnector:
    """An aiohttp-socks connector for one SOCKS proxy, with phase hints and TCP keepalive on the proxy socket.

    Args:
        proxy: a socks4, socks5 or socks5h proxy (its credentials are used, never shown).
        keepalive: TCP keepalive for the socket to the proxy (None: off).
        **kwargs: ``aiohttp.TCPConnector`` arguments (``limit``, ``ssl`` ...).

    Returns:
        The connector (every connection it makes goes through ``proxy``).

    Raises:
        ConfigError: not a SOCKS proxy, or aiohttp-socks missing.
    """
    if proxy.scheme not in SOCKS_SCHEMES:
        raise ConfigError(f"{proxy.redacted} is not a SOCKS proxy (socks4, socks5 or socks5h)")
    make = _socks_connector_class(proxy)
    from python_socks import ProxyType

    kwargs.pop("socket_factory", None)  # the socket to the proxy is python-socks' own
    return make(
        proxy_type=ProxyType.SOCKS4 if proxy.scheme == "socks4" else ProxyType.SOCKS5,
        host=proxy.host,
        port=proxy.port,
        username=proxy.username,
        password=proxy.password,
        rdns=proxy.scheme == "socks5h",
        socket_options=keepalive.options() if keepalive is not None else [],
        **kwargs,
    )


class SocksRoutingConnector(KeepAliveConnector):
    """A :class:`KeepAliveConnector` that also routes attempts through SOCKS proxies (sockwise's middleware).

    aiohttp's ``proxy=`` takes HTTP proxies only. When the running attempt's route is a SOCKS
    proxy (socks4, socks5, socks5h: from a pool, or one fixed proxy), the connection is made by
    an aiohttp-socks connector of that proxy instead; anything else goes through this connector
    as usual. The response is an ordinary ``ClientResponse``.

    Each SOCKS proxy's connector (its own keep-alive pool, and its own ``limit``) is made on first
    use and kept while the proxy is among the ``max_socks_proxies`` most recently used; the least
    recently used one is then closed, at once when idle, else as soon as its last connection is
    released (a response being read is never cut). Closing this connector (closing the session)
    closes them all.

    Build it with :func:`connector` (or :func:`session`, which does when its routes may be SOCKS).

    Args:
        keepalive: TCP keepalive for sockets to SOCKS proxies (and, through ``socket_factory``, the rest).
        max_socks_proxies: SOCKS proxies whose connectors are kept at once (>= 1).
        **kwargs: ``aiohttp.TCPConnector`` arguments; they apply to each SOCKS proxy's connector too.

    Raises:
        ConfigError: ``max_socks_proxies`` below 1.
    """

    def __init__(
        self,
        *,
        keepalive: KeepAlive | None = _DEFAULT_KEEPALIVE,
        max_socks_proxies: int = DEFAULT_MAX_SOCKS_PROXIES,
        **kwargs: Any,
    ) -> None:
        _check_max_socks(max_socks_proxies)
        super().__init__(**kwargs)
        self.socks_connectors = _SocksConnectors(
            max_socks_proxies, functools.partial(_make_socks, keepalive=keepalive, kwargs=kwargs)
        )

    async def connect(self, req: ClientRequest, traces: list[Trace], timeout: aiohttp.ClientTimeout) -> Connection:
        """``BaseConnector.connect``; through the route's SOCKS proxy when the running attempt has one."""
        ctx = CURRENT_ATTEMPT.get()
        if ctx is not None and not self.closed:
            route = ctx.route
            if isinstance(route, Proxy) and route.scheme in SOCKS_SCHEMES:
                return await self.socks_connectors.connect(route, req, traces, timeout)
        return await super().connect(req, traces, timeout)

    async def close(self, *, abort_ssl: bool = False) -> None:
        """Close every connection: this connector's and every SOCKS proxy's."""
        try:
            await super().close(abort_ssl=abort_ssl)
        finally:
            await self.socks_connectors.aclose(abort_ssl=abort_ssl)


def _check_max_socks(value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(
            f"max_socks_proxies must be a whole number >= 1 (SOCKS proxies whose connection pools are kept), "
            f"got {value!r}"
        )


def _make_socks(proxy: Proxy, *, keepalive: KeepAlive | None, kwargs: dict[str, Any]) -> aiohttp.TCPConnector:
    return socks_connector(proxy, keepalive=keepalive, **kwargs)


def connector(
    *,
    keepalive: KeepAlive | None = _DEFAULT_KEEPALIVE,
    max_socks_proxies: int = DEFAULT_MAX_SOCKS_PROXIES,
    **kwargs: Any,
) -> aiohttp.TCPConnector:
    """An ``aiohttp.TCPConnector`` for sockwise: TCP keepalive on every socket, phase hints, SOCKS routes.

    Use it in your own ``aiohttp.ClientSession(connector=..., middlewares=[RetryMiddleware(...)])``
    when the routes may be SOCKS proxies (see :class:`SocksRoutingConnector`).

    Args:
        keepalive: the keepalive settings; None leaves sockets as aiohttp makes them.
        max_socks_proxies: SOCKS proxies whose connection pools are kept at once.
        **kwargs: ``aiohttp.TCPConnector`` arguments (``limit``, ``ssl``, ``ttl_dns_cache`` ...).

    Returns:
        A :class:`SocksRoutingConnector`.

    Raises:
        ConfigError: ``socket_factory`` given together with ``keepalive``; ``max_socks_proxies`` below 1.
    """
    return _connector(keepalive, max_socks_proxies, kwargs)


def _connector(
    keepalive: KeepAlive | None, max_socks_proxies: int | None, kwargs: dict[str, Any]
) -> aiohttp.TCPConnector:
    # max_socks_proxies None: the routes are never SOCKS, so no routing (not even its check per request).
    if keepalive is not None:
        if kwargs.get("socket_factory") is not None:
            raise ConfigError("give either keepalive= or socket_factory= to sockwise.aiohttp.connector, not both")
        kwargs["socket_factory"] = KeepAliveSocketFactory(keepalive)
    if max_socks_proxies is None:
        return KeepAliveConnector(**kwargs)
    return SocksRoutingConnector(keepalive=keepalive, max_socks_proxies=max_socks_proxies, **kwargs)


def _may_be_socks(routes: RouteProvider | None) -> bool:
    """Whether ``routes`` may hand out a SOCKS proxy (True for a provider sockwise cannot see into)."""
    if routes is None or isinstance(routes, DirectRoutes):
        return False
    if isinstance(routes, FixedProxyRoutes):
        return routes.proxy.scheme in SOCKS_SCHEMES
    if isinstance(routes, PoolRoutes):
        return any(proxy.scheme in SOCKS_SCHEMES for proxy in routes.pool.proxies)
    return True


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
    got and whether it reused a pooled connection. An HTTP(S) proxy uses aiohttp's own proxy
    support; when the routes may be SOCKS proxies (a SOCKS ``proxy``, a pool with any, or a route
    provider of your own) the connector is a :class:`SocksRoutingConnector`: each SOCKS proxy gets
    an aiohttp-socks connector of its own (keepalive set on the socket to the proxy), at most
    ``max_socks_proxies`` (64) kept at once, all closed when the session closes.

    Args:
        policy: the retry policy (shared by the session's requests, with its budget).
        routes: a route provider (a :class:`~sockwise.PoolRoutes` over a proxy pool, ...); its
            proxies may be HTTP(S) or SOCKS (socks4, socks5, socks5h), mixed.
        proxy: one fixed proxy (a :class:`~sockwise.Proxy` or a URL: http, https, socks4, socks5, socks5h).
        on_attempt: called with each :class:`~sockwise.Attempt`.
        stream: leave response bodies to the caller by default (see :class:`RetryMiddleware`).
        keepalive: the TCP keepalive settings; None to leave sockets as aiohttp makes them.
        trace: also install :func:`trace_config` (DNS and headers-sent hints; ~8 µs per request).
        middlewares: more middlewares, run inside the retry (each attempt goes through them).
        connector_args: ``aiohttp.TCPConnector`` arguments (``limit``, ``ssl`` ...; they apply to
            each SOCKS proxy's connector too), and ``max_socks_proxies`` (see :func:`connector`).
        **kwargs: ``aiohttp.ClientSession`` arguments (``timeout``, ``headers``, ``raise_for_status`` ...).

    Returns:
        The session (use it as ``async with``; closing it closes its connections).

    Raises:
        ConfigError: ``connector=`` (use ``connector_args``), both ``routes`` and ``proxy``, a
            proxy URL that does not parse, ``max_socks_proxies`` below 1.
    """
    if "connector" in kwargs:
        raise ConfigError(
            "sockwise.aiohttp.session builds its own connector; pass connector_args={...}, or use "
            "aiohttp.ClientSession(connector=..., middlewares=[RetryMiddleware()]) with your connector"
        )
    resolved = resolve_routes(routes, proxy)
    retry = RetryMiddleware(policy, routes=resolved, on_attempt=on_attempt, stream=stream)
    args = dict(connector_args or {})
    max_socks: int | None = args.pop("max_socks_proxies", DEFAULT_MAX_SOCKS_PROXIES)
    _check_max_socks(max_socks)
    if not _may_be_socks(resolved):
        max_socks = None  # direct or HTTP proxies only: a plain KeepAliveConnector, nothing checked per request
    conn = _connector(keepalive, max_socks, args)
    traces = list(kwargs.pop("trace_configs", None) or ())
    if trace:
        traces.append(trace_config())
    return aiohttp.ClientSession(
        connector=conn, middlewares=(retry, *middlewares), trace_configs=traces or None, **kwargs
    )
