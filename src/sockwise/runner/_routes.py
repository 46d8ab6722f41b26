"""The route seam: each attempt asks a provider for its route (direct or one proxy) and reports back."""

from __future__ import annotations

from typing import Final, Literal, Protocol, TypeAlias, runtime_checkable

from sockwise._exceptions import ConfigError
from sockwise._model import Failure, Proxy

__all__ = ["DIRECT", "DirectRoutes", "FixedProxyRoutes", "Route", "RouteProvider", "resolve_routes", "route_label"]

DIRECT: Final = "direct"
"""The route without a proxy."""

Route: TypeAlias = Proxy | Literal["direct"]
"""Where an attempt goes: straight to the origin (``"direct"``) or through one proxy."""


def route_label(route: Route) -> str:
    """The route as logs, Attempts and messages show it: ``direct`` or the redacted proxy URL."""
    return route.redacted if isinstance(route, Proxy) else DIRECT


@runtime_checkable
class RouteProvider(Protocol):
    """Hands out a route per attempt and learns from the outcome (a proxy pool plugs in here).

    The runner calls these from the attempt loop, also under asyncio: keep them quick and
    non-blocking (in-memory state; a shared store is synced outside the call or is fast).
    """

    def lease(self, host: str, exclude: frozenset[Route]) -> Route:
        """The route for the next attempt to ``host``, avoiding ``exclude`` when it can.

        Args:
            host: the request's host.
            exclude: routes this request switched away from.

        Returns:
            The route; the lease ends with :meth:`report` or :meth:`release`.
        """
        ...

    def report(self, route: Route, host: str, failure: Failure | None, elapsed: float) -> None:
        """How an attempt on a leased route went (ends the lease).

        Args:
            route: the route :meth:`lease` returned.
            host: the request's host.
            failure: the classified failure; None for a success.
            elapsed: seconds the attempt took.
        """
        ...

    def release(self, route: Route) -> None:
        """End a lease without an outcome (the attempt was cancelled)."""
        ...

    def has_alternative(self, host: str, exclude: frozenset[Route]) -> bool:
        """Whether a route not in ``exclude`` could be leased for ``host``: it lets the policy switch route."""
        ...


class DirectRoutes:
    """Every attempt goes straight to the origin; there is never another route."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "DirectRoutes()"

    def lease(self, host: str, exclude: frozenset[Route]) -> Route:
        """Always ``"direct"``."""
        return DIRECT

    def report(self, route: Route, host: str, failure: Failure | None, elapsed: float) -> None:
        """Nothing to learn: there is one route."""

    def release(self, route: Route) -> None:
        """Nothing to release."""

    def has_alternative(self, host: str, exclude: frozenset[Route]) -> bool:
        """Never: there is one route."""
        return False


class FixedProxyRoutes:
    """Every attempt goes through one proxy; there is never another route.

    Args:
        proxy: the proxy (its credentials never reach a log or an Attempt: routes show redacted).
    """

    __slots__ = ("_proxy",)

    def __init__(self, proxy: Proxy) -> None:
        self._proxy = proxy

    @property
    def proxy(self) -> Proxy:
        """The proxy (read-only: a runner takes it once, for the first try's short path)."""
        return self._proxy

    def __repr__(self) -> str:
        return f"FixedProxyRoutes({self._proxy.redacted!r})"

    def lease(self, host: str, exclude: frozenset[Route]) -> Route:
        """Always the proxy, excluded or not: it is the only route."""
        return self._proxy

    def report(self, route: Route, host: str, failure: Failure | None, elapsed: float) -> None:
        """Nothing to learn: there is one route."""

    def release(self, route: Route) -> None:
        """Nothing to release."""

    def has_alternative(self, host: str, exclude: frozenset[Route]) -> bool:
        """Never: there is one route."""
        return False


def resolve_routes(routes: RouteProvider | None, proxy: Proxy | str | None) -> RouteProvider | None:
    """The route provider an integration's ``routes=`` / ``proxy=`` arguments ask for.

    Args:
        routes: a route provider, or None.
        proxy: one fixed proxy (a :class:`~sockwise.Proxy` or a URL), or None.

    Returns:
        ``routes``; a :class:`FixedProxyRoutes` for ``proxy``; None when neither is given (direct).

    Raises:
        ConfigError: both given, a proxy URL that does not parse, or a proxy of another type.
    """
    if proxy is None:
        return routes
    if routes is not None:
        raise ConfigError("give either proxy= (one fixed proxy) or routes= (a route provider), not both")
    if isinstance(proxy, str):
        from sockwise.pool import parse_proxy

        proxy = parse_proxy(proxy)
    if not isinstance(proxy, Proxy):
        raise ConfigError(f"proxy must be a sockwise.Proxy or a proxy URL such as http://host:8080, got {proxy!r}")
    return FixedProxyRoutes(proxy)
