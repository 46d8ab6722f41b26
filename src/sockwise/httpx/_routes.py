"""One httpx transport (one connection pool) per route, created on first use, closed with the client.

The direct route keeps its transport for the client's life; proxy routes are a bounded LRU
(:class:`RouteTransports`): a pool of thousands of proxies, or a vendor session id per request,
keeps ``max_proxies`` transports (and their idle sockets), never more.
"""

from __future__ import annotations

import importlib.util
import ssl
import threading
from collections.abc import Callable, Iterable, Sequence
from typing import Generic, TypeVar

import httpx

from sockwise._exceptions import ConfigError
from sockwise._held import HeldEntry, HeldLRU
from sockwise._model import Proxy
from sockwise._sockopts import KeepAlive
from sockwise.runner import DIRECT, FixedProxyRoutes, Route, RouteProvider
from sockwise.runner import resolve_routes as runner_resolve_routes

__all__ = [
    "DEFAULT_MAX_PROXIES",
    "RouteEntry",
    "RouteTransports",
    "TransportSettings",
    "check_max_proxies",
    "check_proxy",
    "resolve_routes",
]

T = TypeVar("T")

SocketOption = tuple[int, int, int]

DEFAULT_MAX_PROXIES = 64
"""Proxy routes whose transports a retry transport keeps at once, by default (as sockwise.requests)."""

_NOTHING: tuple[()] = ()


def check_max_proxies(value: object) -> None:
    """Fail in one line for a ``max_proxies`` that is not a whole number >= 1.

    Raises:
        ConfigError: naming the argument and the value.
    """
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"max_proxies must be a whole number >= 1 (proxies whose transports are kept), got {value!r}")


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


RouteEntry = HeldEntry
"""One transport (``.value``) and the attempts and streamed bodies holding it (a ``HeldEntry``)."""

# What for_attempt returns: the transport, the entry to release when the attempt is done with it
# (None: nothing to release), and idle evicted transports the caller closes now.
AttemptTransport = tuple[T, "HeldEntry[T] | None", Sequence[T]]


class RouteTransports(Generic[T]):
    """The transports of one retry transport, one per route: the direct one, and an LRU of proxy routes.

    The direct route's transport (the caller's, or one made on first use) is kept until
    :meth:`take_all`. Every other route's is made on first use and kept while the route is among
    the ``max_proxies`` most recently used (a :class:`~sockwise._held.HeldLRU`): when one more
    would be kept, the least recently used is dropped, and closed by the caller at once when idle,
    else when the last attempt or streamed body using it ends (:meth:`release`). Thread-safe.

    Args:
        make: builds a new transport for a route.
        given: the caller's transport, which serves the direct route instead of a made one.
        max_proxies: proxy routes whose transports are kept at once (>= 1).

    Raises:
        ConfigError: ``max_proxies`` below 1 or not a whole number.
    """

    __slots__ = ("_direct", "_held", "_lock", "_make", "given", "max_proxies")

    def __init__(self, make: Callable[[Route], T], given: T | None, max_proxies: int = DEFAULT_MAX_PROXIES) -> None:
        check_max_proxies(max_proxies)
        self._make = make
        self.given = given
        self.max_proxies = max_proxies
        # The direct route's answer, made once: its attempts need no bookkeeping.
        self._direct: AttemptTransport[T] | None = (given, None, _NOTHING) if given is not None else None
        self._held: HeldLRU[Route, T] = HeldLRU(make, max_proxies)
        self._lock = threading.Lock()  # makes the direct route's transport once

    def proxies(self) -> list[Route]:
        """The routes (other than direct) whose transports are kept, least recently used first."""
        return self._held.keys()

    def for_attempt(self, route: Route, fresh_connection: bool) -> AttemptTransport[T]:
        """The transport one attempt uses, what to release after it, and idle evicted transports to close now.

        Args:
            route: the attempt's route.
            fresh_connection: the attempt must not reuse a pooled connection: it gets a transport
                of its own, closed when released (except on the direct route when it is the
                caller's transport, whose settings sockwise cannot copy: the attempt then uses it
                as it is; httpcore already skips pooled connections it sees closed).

        Returns:
            ``(transport, entry, evicted)``: pass ``entry`` (unless None) to :meth:`release` once
            the attempt no longer needs the transport (after it, or when its streamed body is
            closed); close each of ``evicted`` (idle transports this call dropped from the LRU).
        """
        if fresh_connection and (self.given is None or route != DIRECT):
            one_shot = self._held.one_shot(self._make(route))
            return one_shot.value, one_shot, _NOTHING
        if route == DIRECT:
            direct = self._direct
            if direct is None:
                with self._lock:
                    direct = self._direct
                    if direct is None:
                        direct = self._direct = (self._make(route), None, _NOTHING)
            return direct
        entry, evicted = self._held.acquire(route)
        return entry.value, entry, evicted

    def release(self, entry: HeldEntry[T]) -> T | None:
        """One attempt (or streamed body) is done with ``entry``'s transport.

        Returns:
            The transport to close now: ``entry`` was retired and this was its last use. None
            otherwise (also when :meth:`take_all` already handed it over to be closed).
        """
        return self._held.release(entry)

    def take_all(self) -> list[T]:
        """Every transport made or given so far, kept or still in use, forgetting them (to close them)."""
        transports = self._held.take_all()
        with self._lock:
            if self._direct is not None:
                transports.insert(0, self._direct[0])
            self._direct = None
        return transports


def resolve_routes(routes: RouteProvider | None, proxy: Proxy | str | None) -> RouteProvider | None:
    """The route provider from the ``routes`` / ``proxy`` arguments (None: direct).

    Raises:
        ConfigError: both given, a proxy string that does not parse, or a proxy httpx cannot use.
    """
    resolved = runner_resolve_routes(routes, proxy)
    if isinstance(resolved, FixedProxyRoutes):
        check_proxy(resolved.proxy)
    return resolved
