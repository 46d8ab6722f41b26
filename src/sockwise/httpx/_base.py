"""What the two retry transports share: their settings, their transports per route and their runner.

As httpx's ``BaseClient`` is to ``Client`` and ``AsyncClient``: :class:`BaseRetryTransport`
holds the configuration, written once; :class:`~sockwise.httpx.RetryTransport` and
:class:`~sockwise.httpx.AsyncRetryTransport` add only their I/O (one attempt, closing).
"""

from __future__ import annotations

import ssl
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, ClassVar, Generic, TypeVar

import httpx

from sockwise._classify import classify
from sockwise._model import Attempt, Proxy
from sockwise._sockopts import KeepAlive
from sockwise.httpx._routes import (
    DEFAULT_MAX_PROXIES,
    RouteTransports,
    SocketOption,
    TransportSettings,
    resolve_routes,
)
from sockwise.retry import RetryPolicy
from sockwise.runner import DirectRoutes, Route, RouteProvider, Runner

__all__ = ["BaseRetryTransport", "ReleaseHooks"]

T = TypeVar("T")

# (release, arelease) of the runner: how a response that will be retried is closed.
ReleaseHooks = tuple[Callable[[Any], object] | None, Callable[[Any], Awaitable[object]] | None]

_DEFAULT_KEEPALIVE = KeepAlive()
_DEFAULT_LIMITS = httpx.Limits(max_connections=100, max_keepalive_connections=20)  # httpx's own default


class BaseRetryTransport(Generic[T]):
    """The configuration of a retry transport whose wrapped transports are of type ``T``.

    The arguments are documented on :class:`~sockwise.httpx.RetryTransport`. A subclass sets
    :attr:`_release_hooks` and implements :meth:`_make`.

    Attributes:
        runner: the attempt loop of this transport (one per client: its retry budget is shared
            by all its requests).
    """

    # A tuple, not a function, so that it is not bound as a method.
    _release_hooks: ClassVar[ReleaseHooks] = (None, None)
    # The public class name the repr shows (a user's subclass shows it too, as it always did).
    _name: ClassVar[str] = "BaseRetryTransport"

    def __init__(
        self,
        transport: T | None = None,
        *,
        policy: RetryPolicy | None = None,
        routes: RouteProvider | None = None,
        proxy: Proxy | str | None = None,
        on_attempt: Callable[[Attempt], None] | None = None,
        stream: bool = False,
        keepalive: KeepAlive | None = _DEFAULT_KEEPALIVE,
        verify: ssl.SSLContext | str | bool = True,
        trust_env: bool = True,
        http1: bool = True,
        http2: bool = False,
        limits: httpx.Limits = _DEFAULT_LIMITS,
        socket_options: Iterable[SocketOption] | None = None,
        transport_factory: Callable[[Route], T] | None = None,
        max_proxies: int = DEFAULT_MAX_PROXIES,
    ) -> None:
        self._settings = TransportSettings(
            verify=verify,
            trust_env=trust_env,
            http1=http1,
            http2=http2,
            limits=limits,
            keepalive=keepalive,
            socket_options=socket_options,
        )
        self._transports: RouteTransports[T] = RouteTransports(transport_factory or self._make, transport, max_proxies)
        self._stream = stream
        release, arelease = self._release_hooks
        self.runner = Runner(
            classify=classify,
            policy=policy if policy is not None else RetryPolicy(),
            routes=resolve_routes(routes, proxy) or DirectRoutes(),
            release=release,
            arelease=arelease,
            on_attempt=on_attempt,
        )

    def __repr__(self) -> str:
        return f"{self._name}(policy={self.runner.policy!r}, routes={self.runner.routes!r})"

    @property
    def max_proxies(self) -> int:
        """Proxy routes whose transports (connection pools) are kept at once."""
        return self._transports.max_proxies

    def _make(self, route: Route) -> T:
        """The default transport of ``route`` (httpx's ``HTTPTransport`` or ``AsyncHTTPTransport``)."""
        raise NotImplementedError
