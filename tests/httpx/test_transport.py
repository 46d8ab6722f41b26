"""RetryTransport against the lab: what is httpx's own (extensions, trace, wrapped transports, settings).

The behaviour every integration shares (what is retried, deadlines, budget, overrides, proxies,
released connections) is pinned for this transport too by tests/integrations/test_behaviour.py.
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from sockwise import ConfigError, FixedProxyRoutes, Proxy
from sockwise.httpx import AsyncRetryTransport, RetryTransport
from sockwise.lab import Lab

Policy = Callable[..., Any]


def _client(lab: Lab, transport: RetryTransport) -> httpx.Client:
    return httpx.Client(transport=transport, timeout=5.0)


# -- per-request overrides ---------------------------------------------------------------------------------------------


def test_bad_overrides_are_config_errors(sockwise_lab: Lab) -> None:
    """An unknown key or a non-mapping in extensions["sockwise"] is one ConfigError naming it; nothing is sent."""
    with _client(sockwise_lab, RetryTransport()) as client:
        with pytest.raises(ConfigError, match="unknown retry override 'retries'"):
            client.get(sockwise_lab.url("ok"), extensions={"sockwise": {"retries": 2}})
        with pytest.raises(ConfigError, match=r'extensions\["sockwise"\] must be a mapping'):
            client.get(sockwise_lab.url("ok"), extensions={"sockwise": 3})
        with pytest.raises(ConfigError, match=r'\["stream"\] must be True or False'):
            client.get(sockwise_lab.url("ok"), extensions={"sockwise": {"stream": "yes"}})
    assert sockwise_lab.records("ok") == []


# -- proxy settings ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("proxy", "message"),
    [
        ("socks4://127.0.0.1:1080", "httpx cannot use the SOCKS4 proxy socks4://127.0.0.1:1080"),
        ("socks5://u:pw@127.0.0.1:1080", r"needs httpx's SOCKS support: pip install 'httpx\[socks\]'"),
    ],
)
def test_socks_proxies_httpx_cannot_use_fail_early(proxy: str, message: str) -> None:
    """SOCKS4 (httpx has none) and SOCKS5 without socksio are a ConfigError at construction, password hidden."""
    for transport_type in (RetryTransport, AsyncRetryTransport):
        with pytest.raises(ConfigError, match=message) as info:
            transport_type(proxy=proxy)
        assert ":pw@" not in str(info.value)


def test_proxy_and_routes_together_is_a_config_error() -> None:
    """proxy= and routes= at once: one ConfigError saying to pick one."""
    proxy = Proxy("http", "127.0.0.1", 8080)
    with pytest.raises(ConfigError, match=r"either proxy= .* or routes="):
        RetryTransport(proxy=proxy, routes=FixedProxyRoutes(proxy))


# -- sockets, the caller's transport and trace -------------------------------------------------------------------------


def test_keepalive_on_and_callers_trace_still_called(sockwise_lab: Lab) -> None:
    """Made sockets have SO_KEEPALIVE and TCP_USER_TIMEOUT; the caller's own trace callback sees every event."""
    seen: list[str] = []
    options: dict[str, int] = {}

    def trace(name: str, info: dict[str, Any]) -> None:
        seen.append(name)
        if name == "connection.connect_tcp.complete":
            sock = info["return_value"].get_extra_info("socket")
            options["keepalive"] = sock.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE)
            options["user_timeout"] = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT)

    with _client(sockwise_lab, RetryTransport()) as client:
        assert client.get(sockwise_lab.url("ok"), extensions={"trace": trace}).text == "ok"
    assert options == {"keepalive": 1, "user_timeout": 30_000}
    assert seen[:2] == ["connection.connect_tcp.started", "connection.connect_tcp.complete"]
    assert "http11.receive_response_body.complete" in seen


def test_wraps_the_callers_transport_and_closes_it(sockwise_lab: Lab, make_policy: Policy) -> None:
    """A given transport serves the requests (its pool is used) and is closed with the wrapper."""
    inner = httpx.HTTPTransport(retries=0)
    closed: list[bool] = []
    original_close = inner.close

    def close() -> None:
        closed.append(True)
        original_close()

    inner.close = close  # type: ignore[method-assign]
    with _client(sockwise_lab, RetryTransport(inner, policy=make_policy())) as client:
        assert client.get(sockwise_lab.url("ok")).text == "ok"
        assert client.get(sockwise_lab.url("ok")).text == "ok"
    assert closed == [True]
    assert len({r.conn_id for r in sockwise_lab.records("ok")}) == 1


def test_callers_request_is_left_as_it_was(sockwise_lab: Lab, make_policy: Policy) -> None:
    """After the attempts the request's extensions are the caller's again (timeouts uncut, no trace); elapsed works."""
    transport = RetryTransport(policy=make_policy(deadline=3.0, timeout=1.0))
    with _client(sockwise_lab, transport) as client:
        response = client.get(sockwise_lab.url("ok"), extensions={"sockwise": {"retry": 1}})
    assert response.request.extensions == {
        "sockwise": {"retry": 1},
        "timeout": {"connect": 5.0, "read": 5.0, "write": 5.0, "pool": 5.0},
    }
    assert response.elapsed.total_seconds() >= 0
    assert response.is_closed


def test_transport_factory_makes_the_fresh_connection_too(sockwise_lab: Lab, make_policy: Policy) -> None:
    """A transport_factory serves each route, and makes the one-attempt transport of the stale-race retry."""
    made: list[object] = []

    def factory(route: object) -> httpx.BaseTransport:
        made.append(route)
        return httpx.HTTPTransport(retries=0)

    url = sockwise_lab.url("stale-keepalive")
    with _client(sockwise_lab, RetryTransport(policy=make_policy(), transport_factory=factory)) as client:
        assert client.get(url).text == "ok"
        assert made == ["direct"]
        assert client.get(url).text == "ok"
    assert made == ["direct", "direct"]
    assert [r.nth for r in sockwise_lab.records("stale-keepalive")] == [1, 2, 1]
