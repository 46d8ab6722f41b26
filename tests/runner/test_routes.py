"""The route seam: DirectRoutes, FixedProxyRoutes and redacted labels."""

from __future__ import annotations

from sockwise import Proxy
from sockwise.runner import DIRECT, DirectRoutes, FixedProxyRoutes, RouteProvider, route_label

PROXY = Proxy("socks5", "10.1.2.3", 1080, "bob", "pa55")


def test_direct_routes() -> None:
    """DirectRoutes always leases 'direct' and never has an alternative."""
    routes = DirectRoutes()
    assert isinstance(routes, RouteProvider)
    assert routes.lease("h", frozenset()) == DIRECT
    assert routes.lease("h", frozenset({DIRECT})) == DIRECT
    assert routes.has_alternative("h", frozenset()) is False
    routes.report(DIRECT, "h", None, 0.1)
    routes.release(DIRECT)


def test_fixed_proxy_routes() -> None:
    """FixedProxyRoutes always leases its proxy, even when excluded, and never has an alternative."""
    routes = FixedProxyRoutes(PROXY)
    assert isinstance(routes, RouteProvider)
    assert routes.lease("h", frozenset({PROXY})) is PROXY
    assert routes.has_alternative("h", frozenset()) is False


def test_fixed_proxy_repr_hides_password() -> None:
    """The provider's repr shows the redacted proxy."""
    assert repr(FixedProxyRoutes(PROXY)) == "FixedProxyRoutes('socks5://bob:***@10.1.2.3:1080')"


def test_route_label() -> None:
    """Labels are 'direct' or the redacted proxy URL."""
    assert route_label(DIRECT) == "direct"
    assert route_label(PROXY) == "socks5://bob:***@10.1.2.3:1080"


def test_resolve_routes_from_routes_or_one_proxy() -> None:
    """resolve_routes: routes as given, a proxy URL as FixedProxyRoutes, neither as None, both refused."""
    import pytest

    from sockwise import ConfigError, Proxy
    from sockwise.runner import DirectRoutes, FixedProxyRoutes, resolve_routes

    direct = DirectRoutes()
    assert resolve_routes(direct, None) is direct
    assert resolve_routes(None, None) is None
    fixed = resolve_routes(None, "http://u:pw@127.0.0.1:8080")
    assert isinstance(fixed, FixedProxyRoutes)
    assert fixed.proxy == Proxy("http", "127.0.0.1", 8080, "u", "pw")
    with pytest.raises(ConfigError, match="not both"):
        resolve_routes(direct, "http://127.0.0.1:8080")
    with pytest.raises(ConfigError, match=r"must be a sockwise\.Proxy or a proxy URL"):
        resolve_routes(None, 8080)  # type: ignore[arg-type]
