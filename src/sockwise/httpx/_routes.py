"""One httpx transport (one connection pool) per route, created on first use, closed with the client."""

from __future__ import annotations

import importlib.util
import ssl
import threading
from collections.abc import Callable, Iterable
from typing import Generic, TypeVar

import httpx

from sockwise._exceptions import ConfigError
from sockwise._model import Proxy
from sockwise._sockopts import KeepAlive
from sockwise.runner import DIRECT, FixedProxyRoutes, Route, RouteProvider

__all__ = ["RouteTransports", "TransportSettings", "check_proxy", "resolve_routes"]

T = TypeVar("T")

SocketOption = tuple[int, int, int]


def check_proxy(proxy: Proxy) -> None:
    """Fail early, in one line, for a proxy httpx cannot use here.

    Raises:
        ConfigError: a SOCKS4 proxy (httpx speaks SOCKS5 only), or a SOCKS5 proxy without
            ``socksio`` installed (httpx's SOCKS support needs it).
    """
    if proxy.scheme == "socks4":
        raise ConfigError(
            f"httpx cannot use the SOCKS4 proxy {proxy.redacted}: it speaks SOCKS5 and HTTP proxies only; "
            "use a socks5:// or http:// proxy, or sockwise's requests or aiohttp integration"
        )
    if proxy.scheme in ("socks5", "socks5h") and importlib.util.find_spec("socksio") is None:
        raise ConfigError(f"the SOCKS proxy {proxy.redacted} needs httpx's SOCKS support: pip install 'httpx[socks]'")


class TransportSettings:
    """How the default per-route transports are made (``httpx.HTTPTransport`` arguments).

    One SSL context is made on first use and shared by every route's transport (loading the CA
    bundle per proxy would cost milliseconds each).
    """

    __slots__ = ("_context", "http1", "http2", "limits", "socket_options", "trust_env", "verify")

    def __init__(
        self,
        *,
        verify: ssl.SSLContext | str | bool,
        trust_env: bool,
        http1: bool,
        http2: bool,
        limits: httpx.Limits,
        keepalive: KeepAlive | None,
        socket_options: Iterable[SocketOption] | None,
    ) -> None:
        self.verify = verify
        self.trust_env = trust_env
        self.http1 = http1
        self.http2 = http2
        self.limits = limits
        options = keepalive.options() if keepalive is not None else []
        self.socket_options: list[SocketOption] = [*options, *(socket_options or ())]
        self._context: ssl.SSLContext | None = None

    def ssl_context(self) -> ssl.SSLContext:
        """The shared SSL context (made on first call)."""
        if self._context is None:
            self._context = httpx.create_ssl_context(verify=self.verify, trust_env=self.trust_env)
        return self._context

    def transport_kwargs(self, route: Route) -> dict[str, object]:
        """Keyword arguments of ``httpx.HTTPTransport`` / ``AsyncHTTPTransport`` for ``route``.

        Raises:
            ConfigError: a proxy httpx cannot use (see :func:`check_proxy`).
        """
        context = self.ssl_context()
        proxy = None
        if isinstance(route, Proxy):
            check_proxy(route)
            # TLS to an https proxy trusts what the origin's TLS trusts.
            proxy = httpx.Proxy(route.url, ssl_context=context if route.scheme == "https" else None)
        return {
            "verify": context,
            "http1": self.http1,
            "http2": self.http2,
            "limits": self.limits,
            "proxy": proxy,
            # httpx's own retries repeat connects out of the policy's sight: the policy decides.
            "retries": 0,
            "socket_options": self.socket_options,
        }


class RouteTransports(Generic[T]):
    """The transports of one retry transport, one per route.

    Args:
        make: builds a new transport for a route.
        given: the caller's transport, which serves the direct route instead of a made one.
    """

    __slots__ = ("_lock", "_make", "_transports", "given")

    def __init__(self, make: Callable[[Route], T], given: T | None) -> None:
        self._make = make
        self.given = given
        self._transports: dict[Route, T] = {}
        if given is not None:
            self._transports[DIRECT] = given
        self._lock = threading.Lock()

    def get(self, route: Route) -> T:
        """The transport of ``route`` (made on first use; thread-safe)."""
        transport = self._transports.get(route)
        if transport is None:
            with self._lock:
                transport = self._transports.get(route)
                if transport is None:
                    transport = self._make(route)
                    self._transports[route] = transport
        return transport

    def one_shot(self, route: Route) -> T | None:
        """A new transport for one attempt that must not reuse a pooled connection.

        Returns:
            A transport the caller closes after the attempt, or None when the route is served by
            the caller's own transport, whose settings sockwise cannot copy (the attempt then uses
            it as it is; httpcore already skips pooled connections it sees closed).
        """
        if route == DIRECT and self.given is not None:
            return None
        return self._make(route)

    def for_attempt(self, route: Route, fresh_connection: bool) -> tuple[T, T | None]:
        """The transport one attempt uses, and the one-shot transport to close after it, if any.

        Args:
            route: the attempt's route.
            fresh_connection: the attempt must not reuse a pooled connection (see :meth:`one_shot`).

        Returns:
            ``(transport, one_shot)``: ``one_shot`` is the transport itself when it was made for
            this attempt alone (the caller closes it, or hands it over with a streamed body), else None.
        """
        if fresh_connection:
            one_shot = self.one_shot(route)
            if one_shot is not None:
                return one_shot, one_shot
        # The route's transport exists on every attempt but a route's first: spare the call to get().
        transport = self._transports.get(route)
        return (self.get(route) if transport is None else transport), None

    def take_all(self) -> list[T]:
        """Every transport made or given so far, forgetting them (to close them)."""
        with self._lock:
            transports = list(self._transports.values())
            self._transports.clear()
        return transports


def resolve_routes(routes: RouteProvider | None, proxy: Proxy | str | None) -> RouteProvider | None:
    """The route provider from the ``routes`` / ``proxy`` arguments (None: direct).

    Raises:
        ConfigError: both given, a proxy string that does not parse, or a proxy httpx cannot use.
    """
    if proxy is None:
        if isinstance(routes, FixedProxyRoutes):
            check_proxy(routes.proxy)
        return routes
    if routes is not None:
        raise ConfigError("give either proxy= (one fixed proxy) or routes= (a route provider), not both")
    if isinstance(proxy, str):
        from sockwise.pool import parse_proxy

        proxy = parse_proxy(proxy)
    if not isinstance(proxy, Proxy):
        raise ConfigError(f"proxy must be a sockwise.Proxy or a proxy URL such as http://host:8080, got {proxy!r}")
    check_proxy(proxy)
    return FixedProxyRoutes(proxy)
