"""RetryAdapter and Session against the lab: what is requests' own (urllib3, bodies, timeouts, SOCKS, sockets).

The behaviour every integration shares (what is retried, deadlines, budget, overrides, proxies,
released connections) is pinned for the adapter too by tests/integrations/test_behaviour.py.
"""

from __future__ import annotations

import io
import socket
import time
from collections.abc import Callable
from typing import Any

import pytest
import requests
from urllib3.util import Retry

from sockwise import Blame, ConfigError, ErrorCode, FixedProxyRoutes, Phase, Proxy, RequestFailed
from sockwise.lab import Lab
from sockwise.requests import RetryAdapter, Session, overrides, request_failed

MakeSession = Callable[..., Session]
Policy = Callable[..., Any]


def _failure(exc: BaseException) -> RequestFailed:
    found = request_failed(exc)
    assert found is not None, f"{exc!r} carries no .sockwise"
    return found


# -- urllib3 and bodies ------------------------------------------------------------------------------------------------


def test_urllib3_retries_are_off(sockwise_lab: Lab, make_session: MakeSession, make_policy: Policy) -> None:
    """urllib3 never retries by itself: one attempt allowed means the server sees exactly one request."""
    session = make_session(make_policy(attempts=1))
    assert session.adapter.max_retries.total == 0
    assert session.adapter.max_retries.read is False
    with pytest.raises(requests.ConnectionError):
        session.get(sockwise_lab.url("reset-after-request"))
    assert len(sockwise_lab.records("reset-after-request")) == 1
    # The plain urllib3 default, Retry(3), would have sent it 4 times.
    assert Retry.DEFAULT.total == 3


def test_seekable_body_is_rewound_for_each_retry(
    sockwise_lab: Lab, make_session: MakeSession, make_policy: Policy
) -> None:
    """A file body is sought back to where it started before each retry, so every try sends it whole."""
    seeks: list[tuple[int, int]] = []

    class Body(io.BytesIO):
        def seek(self, offset: int, whence: int = 0) -> int:
            seeks.append((offset, whence))
            return super().seek(offset, whence)

    data = Body(b"xx-payload")
    data.seek(3)  # the body starts where the caller left the file
    seeks.clear()
    session = make_session(make_policy(attempts=3))
    with pytest.raises(requests.ConnectionError):
        session.put(sockwise_lab.url("reset-after-request"), data=data)
    records = sockwise_lab.records("reset-after-request")
    assert [dict(r.headers).get("Content-Length") for r in records] == ["7", "7", "7"]
    # requests measures the length (to the end and back); sockwise rewinds before tries 2 and 3.
    assert seeks == [(0, 2), (3, 0), (3, 0), (3, 0)]


# -- requests' own timeout ---------------------------------------------------------------------------------------------


def test_callers_shorter_timeout_still_applies(
    sockwise_lab: Lab, make_session: MakeSession, make_policy: Policy
) -> None:
    """requests' own timeout= (0.1 s) is kept when shorter than the policy's per-try timeout (5 s)."""
    session = make_session(make_policy(attempts=1, timeout=5.0))
    start = time.monotonic()
    with pytest.raises(requests.ReadTimeout):
        session.get(sockwise_lab.url("stall-before-headers"), timeout=(1.0, 0.1))
    assert time.monotonic() - start < 1.0


# -- overrides and settings --------------------------------------------------------------------------------------------


def test_overrides_block_on_a_plain_session(sockwise_lab: Lab, make_policy: Policy) -> None:
    """With the adapter mounted on a plain requests.Session, overrides() sets retry for the block only."""
    url = sockwise_lab.url("reset-after-request")
    with requests.Session() as session:
        session.trust_env = False
        adapter = RetryAdapter(make_policy(attempts=1))
        session.mount("http://", adapter)
        with overrides(retry=1), overrides({"retry_delay": 0.05}) as inside, pytest.raises(requests.ConnectionError):
            session.get(url)
        assert inside == {"retry": 1, "retry_delay": 0.05}
        assert len(sockwise_lab.records("reset-after-request")) == 2
        with pytest.raises(requests.ConnectionError):
            session.get(url)
        assert len(sockwise_lab.records("reset-after-request")) == 3
        request = session.prepare_request(requests.Request("GET", url))
        with pytest.raises(requests.ConnectionError):
            session.send(request, sockwise={"retry": 2})
        assert len(sockwise_lab.records("reset-after-request")) == 6


def test_bad_overrides_are_config_errors(sockwise_lab: Lab, make_session: MakeSession) -> None:
    """An unknown key or a non-mapping is one ConfigError naming it; nothing is sent."""
    session = make_session()
    with pytest.raises(ConfigError, match="unknown retry override 'retries'"):
        session.get(sockwise_lab.url("ok"), sockwise={"retries": 2})
    with pytest.raises(ConfigError, match=r"sockwise= must be a mapping"):
        session.get(sockwise_lab.url("ok"), sockwise=3)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match=r"sockwise\.requests\.overrides\(\) must be a mapping"), overrides(3):  # type: ignore[arg-type]
        pass
    with pytest.raises(ConfigError, match="retry override must be an int >= 0"), overrides(retry=-1):
        pass
    assert sockwise_lab.records("ok") == []


def test_session_settings_conflicts_are_config_errors() -> None:
    """adapter= with adapter settings, or proxy= with routes=: one ConfigError each, saying to pick one."""
    proxy = Proxy("http", "127.0.0.1", 8080)
    with pytest.raises(ConfigError, match=r"either adapter= or the adapter's settings"):
        Session(adapter=RetryAdapter(), proxy=proxy)
    with pytest.raises(ConfigError, match=r"either proxy= .* or routes="):
        RetryAdapter(proxy=proxy, routes=FixedProxyRoutes(proxy))


# -- SOCKS and requests' own proxies -----------------------------------------------------------------------------------


@pytest.mark.parametrize("scheme", ["socks4", "socks5", "socks5h"])
def test_socks_proxies_through_python_socks(
    scheme: str, sockwise_lab: Lab, make_session: MakeSession, make_policy: Policy
) -> None:
    """SOCKS4/5/5h routes work without PySocks: plain and TLS origins answer through one SOCKS handshake each."""
    lab_proxy = sockwise_lab.add_proxy("healthy")
    session = make_session(make_policy(), proxy=lab_proxy.as_scheme(scheme))
    session.verify = str(sockwise_lab.ca_file)
    assert session.get(sockwise_lab.url("ok")).text == "ok"
    assert session.get(sockwise_lab.url("ok", tls=True)).text == "ok"
    assert session.get(sockwise_lab.url("ok", tls=True)).text == "ok"  # the tunnel is kept alive and reused
    methods = [r.method for r in sockwise_lab.records(lab_proxy.name)]
    assert methods == ["SOCKS4" if scheme == "socks4" else "SOCKS5"] * 2


def test_socks_auth_failure_is_the_proxys(sockwise_lab: Lab, make_session: MakeSession, make_policy: Policy) -> None:
    """A SOCKS5 login refused: ProxyError, PROXY_AUTH in the proxy handshake, not repeated, password hidden."""
    lab_proxy = sockwise_lab.add_proxy("auth", username="alice", password="right-pw")
    wrong = Proxy("socks5", lab_proxy.host, lab_proxy.port, "alice", "wrong-secret-pw")
    session = make_session(make_policy(), proxy=wrong)
    with pytest.raises(requests.exceptions.ProxyError) as info:
        session.get(sockwise_lab.url("ok"))
    failure = _failure(info.value).failure
    assert (failure.code, failure.phase, failure.blame, failure.request_sent) == (
        ErrorCode.PROXY_AUTH,
        Phase.PROXY_HANDSHAKE,
        Blame.PROXY,
        False,
    )
    assert len(_failure(info.value).attempts) == 1
    assert "wrong-secret-pw" not in str(info.value)
    assert sockwise_lab.records("ok") == []


def test_requests_own_proxies_on_the_direct_route(
    sockwise_lab: Lab, make_session: MakeSession, make_policy: Policy
) -> None:
    """Without a sockwise route, requests' proxies= is used as usual (and SOCKS there needs no PySocks either)."""
    lab_proxy = sockwise_lab.add_proxy("healthy")
    session = make_session(make_policy())
    assert session.get(sockwise_lab.url("ok"), proxies={"http": lab_proxy.proxy.url}).text == "ok"
    assert lab_proxy.forwarded == 1
    socks = lab_proxy.as_scheme("socks5").url
    assert session.get(sockwise_lab.url("ok"), proxies={"http": socks}).text == "ok"
    assert [r.method for r in sockwise_lab.records(lab_proxy.name)][-1] == "SOCKS5"


# -- sockets and local errors ------------------------------------------------------------------------------------------


def test_keepalive_options_on_every_socket(sockwise_lab: Lab, make_session: MakeSession) -> None:
    """Sockets get TCP_NODELAY, SO_KEEPALIVE and TCP_USER_TIMEOUT (30 s) by default; keepalive=None leaves them off."""
    response = make_session().get(sockwise_lab.url("ok"), stream=True)
    sock = response.raw.connection.sock
    assert (
        sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0,
        sock.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE),
        sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE),
        sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT),
    ) == (True, 1, 15, 30_000)
    response.close()
    plain = make_session(keepalive=None).get(sockwise_lab.url("ok"), stream=True)
    assert plain.raw.connection.sock.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE) == 0
    plain.close()


def test_keepalive_options_through_socks(sockwise_lab: Lab, make_session: MakeSession) -> None:
    """The socket python-socks opens to a SOCKS proxy gets the same keepalive options."""
    lab_proxy = sockwise_lab.add_proxy("healthy")
    response = make_session(proxy=lab_proxy.as_scheme("socks5")).get(sockwise_lab.url("ok"), stream=True)
    sock = response.raw.connection.sock
    assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE) == 1
    assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT) == 30_000
    response.close()


def test_local_errors_keep_their_own_words(sockwise_lab: Lab, make_session: MakeSession, make_policy: Policy) -> None:
    """A missing CA bundle is raised as requests raises it (OSError, its message), once, with .sockwise attached."""
    session = make_session(make_policy(attempts=3))
    with pytest.raises(OSError, match="Could not find a suitable TLS CA certificate bundle") as info:
        session.get(sockwise_lab.url("ok", tls=True), verify="/nonexistent/ca.pem")
    assert not isinstance(info.value, requests.RequestException)
    failed = _failure(info.value)
    assert (failed.failure.code, failed.reason, len(failed.attempts)) == (ErrorCode.UNKNOWN, "not_retryable", 1)
    assert sockwise_lab.records("ok") == []
