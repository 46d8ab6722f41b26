"""RetryTransport against the lab: what the server saw, what the caller catches, what leaks (nothing)."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from sockwise import Backoff, Blame, ConfigError, ErrorCode, FixedProxyRoutes, Phase, Proxy, RequestFailed, RetryBudget
from sockwise.httpx import AsyncRetryTransport, RetryTransport, request_failed
from sockwise.lab import Lab

Policy = Callable[..., Any]


def _failure(exc: BaseException) -> RequestFailed:
    found = request_failed(exc)
    assert found is not None, f"{exc!r} carries no .sockwise"
    return found


def _client(lab: Lab, transport: RetryTransport) -> httpx.Client:
    return httpx.Client(transport=transport, timeout=5.0)


# -- what is retried, and what the server saw --------------------------------------------------------------------


def test_get_retried_after_reset(sockwise_lab: Lab, make_policy: Policy) -> None:
    """A GET reset while waiting is tried 3 times; the caller gets httpx.ReadError with the one-line story."""
    with (
        _client(sockwise_lab, RetryTransport(policy=make_policy(attempts=3))) as client,
        pytest.raises(httpx.ReadError) as info,
    ):
        client.get(sockwise_lab.url("reset-after-request"))
    assert len(sockwise_lab.records("reset-after-request")) == 3
    failed = _failure(info.value)
    assert failed is info.value.sockwise  # type: ignore[attr-defined]
    failure = failed.failure
    assert (failure.code, failure.phase, failure.blame, failure.request_sent, failure.errno) == (
        ErrorCode.ECONNRESET,
        Phase.WAIT,
        Blame.ORIGIN,
        True,
        104,
    )
    assert failed.reason == "attempts"
    assert [a.action for a in failed.attempts] == ["retry", "retry", "give_up"]
    elapsed = failed.attempts[-1].elapsed
    assert str(info.value) == (
        f"ECONNRESET while waiting for headers from origin; 3 attempts in {elapsed:.1f} s; "
        "no attempts left (attempts=3)"
    )
    assert isinstance(info.value.__cause__, httpx.ReadError)
    assert info.value.request.url == sockwise_lab.url("reset-after-request")


def test_post_after_send_not_retried(sockwise_lab: Lab, make_policy: Policy) -> None:
    """A POST reset after it was sent is not repeated: the server saw it once."""
    with (
        _client(sockwise_lab, RetryTransport(policy=make_policy(attempts=3))) as client,
        pytest.raises(httpx.ReadError) as info,
    ):
        client.post(sockwise_lab.url("reset-after-request"), content=b"order=1")
    assert len(sockwise_lab.records("reset-after-request")) == 1
    failed = _failure(info.value)
    assert (failed.failure.code, failed.failure.phase, failed.failure.request_sent) == (
        ErrorCode.ECONNRESET,
        Phase.WAIT,
        True,
    )
    assert failed.reason == "not_idempotent"
    assert str(info.value) == (
        f"ECONNRESET while waiting for headers from origin; 1 attempt in {failed.attempts[-1].elapsed:.1f} s; "
        "request was sent, POST not retried"
    )


def test_post_never_sent_retried(sockwise_lab: Lab, make_policy: Policy) -> None:
    """A POST to a refused port provably left nothing: it is retried like a GET."""
    with (
        _client(sockwise_lab, RetryTransport(policy=make_policy(attempts=3))) as client,
        pytest.raises(httpx.ConnectError) as info,
    ):
        client.post(sockwise_lab.url("refused"), content=b"order=1")
    failed = _failure(info.value)
    assert [(a.code, a.phase, a.request_sent, a.action) for a in failed.attempts] == [
        (ErrorCode.ECONNREFUSED, Phase.CONNECT, False, "retry"),
        (ErrorCode.ECONNREFUSED, Phase.CONNECT, False, "retry"),
        (ErrorCode.ECONNREFUSED, Phase.CONNECT, False, "give_up"),
    ]
    assert failed.failure.blame is Blame.ORIGIN


def test_stream_body_only_once_not_retried_after_send(sockwise_lab: Lab, make_policy: Policy) -> None:
    """A PUT whose body is a generator cannot be replayed: after sending it is not retried, unlike bytes."""

    def body() -> Iterator[bytes]:
        yield b"part-1"

    with _client(sockwise_lab, RetryTransport(policy=make_policy(attempts=3))) as client:
        with pytest.raises(httpx.ReadError) as info:
            client.put(sockwise_lab.url("reset-after-request"), content=body())
        assert _failure(info.value).reason == "not_idempotent"
        assert len(sockwise_lab.records("reset-after-request")) == 1
        with pytest.raises(httpx.ReadError):
            client.put(sockwise_lab.url("reset-after-request"), content=b"part-1")
    assert len(sockwise_lab.records("reset-after-request")) == 4


def test_stale_keepalive_recovered_for_get(sockwise_lab: Lab, make_policy: Policy, recorder: Any) -> None:
    """The server closing a pooled connection as the GET arrives: one immediate retry on a new connection."""
    slow_backoff = make_policy(attempts=3, backoff=Backoff.fixed(5.0))
    url = sockwise_lab.url("stale-keepalive")
    with _client(sockwise_lab, RetryTransport(policy=slow_backoff, on_attempt=recorder)) as client:
        assert client.get(url).text == "ok"
        recorder.attempts.clear()
        assert client.get(url).text == "ok"
    # No 5 s backoff: the race gets an immediate retry, on a connection of its own.
    assert recorder.summary() == [("UNEXPECTED_EOF", "wait", "retry", 0.0), (None, None, "done", 0.0)]
    first, raced, fresh = sockwise_lab.records("stale-keepalive")
    assert (first.nth, raced.nth, fresh.nth) == (1, 2, 1)
    assert first.conn_id == raced.conn_id != fresh.conn_id


def test_stale_keepalive_post_gets_the_error(sockwise_lab: Lab, make_policy: Policy) -> None:
    """The same race for a POST: it may have been processed, so the caller gets the error (server saw 2)."""
    url = sockwise_lab.url("stale-keepalive")
    with _client(sockwise_lab, RetryTransport(policy=make_policy(attempts=3))) as client:
        assert client.get(url).status_code == 200
        with pytest.raises(httpx.RemoteProtocolError) as info:
            client.post(url, content=b"x")
    failed = _failure(info.value)
    assert (failed.failure.code, failed.failure.phase, failed.reason) == (
        ErrorCode.UNEXPECTED_EOF,
        Phase.WAIT,
        "not_idempotent",
    )
    records = sockwise_lab.records("stale-keepalive")
    assert [(r.method, r.nth) for r in records] == [("GET", 1), ("POST", 2)]


def test_retry_after_is_waited(sockwise_lab: Lab, make_policy: Policy) -> None:
    """A 503 with Retry-After: 1 is retried no sooner than 1 s later (server-side clock); the last 503 is returned."""
    with _client(sockwise_lab, RetryTransport(policy=make_policy(attempts=2))) as client:
        response = client.get(sockwise_lab.url("status", code=503, retry_after=1))
    assert response.status_code == 503
    assert response.text == "lab status 503\n"
    first, second = sockwise_lab.records("status")
    assert second.monotonic - first.monotonic >= 1.0


# -- time: the deadline and the per-try timeout -------------------------------------------------------------------


def test_deadline_holds_with_trickling_body(sockwise_lab: Lab, make_policy: Policy) -> None:
    """A body trickling a byte every 50 ms (never tripping a read timeout) still ends at the 1 s deadline."""
    url = sockwise_lab.url("trickle", size=200, interval=0.05)
    with _client(sockwise_lab, RetryTransport(policy=make_policy(attempts=10, deadline=1.0, timeout=0.4))) as client:
        start = time.monotonic()
        with pytest.raises(httpx.ReadTimeout) as info:
            client.get(url)
        wall = time.monotonic() - start
    assert wall <= 1.0 + 0.2
    failed = _failure(info.value)
    assert (failed.failure.code, failed.failure.phase, failed.failure.blame, failed.reason) == (
        ErrorCode.ETIMEDOUT,
        Phase.BODY,
        Blame.ORIGIN,
        "deadline",
    )
    assert len(failed.attempts) >= 2


def test_deadline_alone_bounds_a_trickle(sockwise_lab: Lab, make_policy: Policy) -> None:
    """Without a per-try timeout the deadline bounds the only attempt: 0.6 s, not the 10 s the body takes."""
    url = sockwise_lab.url("trickle", size=200, interval=0.05)
    with _client(sockwise_lab, RetryTransport(policy=make_policy(deadline=0.6))) as client:
        start = time.monotonic()
        with pytest.raises(httpx.ReadTimeout) as info:
            client.get(url)
        assert time.monotonic() - start <= 0.6 + 0.2
    assert _failure(info.value).reason == "deadline"


def test_per_try_timeout_bounds_headers(sockwise_lab: Lab, make_policy: Policy) -> None:
    """A server that never answers: each try ends at its 0.2 s timeout as ReadTimeout while waiting."""
    with _client(sockwise_lab, RetryTransport(policy=make_policy(attempts=2, timeout=0.2))) as client:
        start = time.monotonic()
        with pytest.raises(httpx.ReadTimeout) as info:
            client.get(sockwise_lab.url("stall-before-headers"))
        assert time.monotonic() - start <= 2 * 0.2 + 0.2
    failed = _failure(info.value)
    assert [(a.code, a.phase) for a in failed.attempts] == [(ErrorCode.ETIMEDOUT, Phase.WAIT)] * 2
    assert len(sockwise_lab.records("stall-before-headers")) == 2


# -- budget and overrides ------------------------------------------------------------------------------------------


def test_budget_ends_a_retry_storm(sockwise_lab: Lab, make_policy: Policy) -> None:
    """With a budget of one retry, five failing GETs reach the server 6 times, not 15; the rest end 'budget'."""
    budget = RetryBudget(ratio=0.0, min_retries_per_second=0.1, ttl=10.0)
    reasons = []
    with _client(sockwise_lab, RetryTransport(policy=make_policy(attempts=3, budget=budget))) as client:
        for _ in range(5):
            with pytest.raises(httpx.ReadError) as info:
                client.get(sockwise_lab.url("reset-after-request"))
            reasons.append(_failure(info.value).reason)
    assert len(sockwise_lab.records("reset-after-request")) == 6
    assert reasons == ["budget"] * 5
    assert "retry budget for 127.0.0.1 exhausted" in str(info.value)


def test_per_request_overrides_win(sockwise_lab: Lab, make_policy: Policy) -> None:
    """extensions={"sockwise": {"retry": 2, "retry_delay": 0.05}} beats a no-retry policy, and retry=0 a 5-try one."""
    url = sockwise_lab.url("reset-after-request")
    with (
        _client(sockwise_lab, RetryTransport(policy=make_policy(attempts=1))) as client,
        pytest.raises(httpx.ReadError) as info,
    ):
        client.get(url, extensions={"sockwise": {"retry": 2, "retry_delay": 0.05}})
    assert [a.delay for a in _failure(info.value).attempts] == [0.05, 0.05, 0.0]
    assert len(sockwise_lab.records("reset-after-request")) == 3
    with (
        _client(sockwise_lab, RetryTransport(policy=make_policy(attempts=5))) as client,
        pytest.raises(httpx.ReadError),
    ):
        client.get(url, extensions={"sockwise": {"retry": 0}})
    assert len(sockwise_lab.records("reset-after-request")) == 4


def test_idempotent_override_retries_a_post(sockwise_lab: Lab, make_policy: Policy) -> None:
    """A POST the caller marks idempotent (an idempotency key) is retried after sending."""
    with (
        _client(sockwise_lab, RetryTransport(policy=make_policy(attempts=2))) as client,
        pytest.raises(httpx.ReadError) as info,
    ):
        client.post(
            sockwise_lab.url("reset-after-request"), content=b"x", extensions={"sockwise": {"idempotent": True}}
        )
    assert _failure(info.value).reason == "attempts"
    assert len(sockwise_lab.records("reset-after-request")) == 2


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


# -- proxies ----------------------------------------------------------------------------------------------------


def test_proxy_connect_502_blames_the_proxy(sockwise_lab: Lab, make_policy: Policy) -> None:
    """A proxy answering CONNECT with 502: httpx.ProxyError, PROXY_REFUSED in the handshake, blamed on it, not sent."""
    lab_proxy = sockwise_lab.add_proxy("connect-502")
    transport = RetryTransport(
        policy=make_policy(), routes=FixedProxyRoutes(lab_proxy.proxy), verify=sockwise_lab.client_ssl_context()
    )
    with _client(sockwise_lab, transport) as client, pytest.raises(httpx.ProxyError) as info:
        client.get(sockwise_lab.url("ok", tls=True))
    failed = _failure(info.value)
    failure = failed.failure
    assert (failure.code, failure.phase, failure.blame, failure.request_sent, failure.status) == (
        ErrorCode.PROXY_REFUSED,
        Phase.PROXY_HANDSHAKE,
        Blame.PROXY,
        False,
        502,
    )
    assert failed.reason == "no_other_route"
    assert [r.method for r in sockwise_lab.records(lab_proxy.name)] == ["CONNECT"]
    assert sockwise_lab.records("ok") == []


def test_proxy_auth_is_not_repeated_and_never_shows_the_password(sockwise_lab: Lab, make_policy: Policy) -> None:
    """A wrong proxy password: PROXY_AUTH from the proxy, one CONNECT, and the message shows user:*** only."""
    lab_proxy = sockwise_lab.add_proxy("auth", username="alice", password="right-pw")
    wrong = Proxy("http", lab_proxy.host, lab_proxy.port, "alice", "wrong-secret-pw")
    transport = RetryTransport(policy=make_policy(), proxy=wrong, verify=sockwise_lab.client_ssl_context())
    with _client(sockwise_lab, transport) as client, pytest.raises(httpx.ProxyError) as info:
        client.get(sockwise_lab.url("ok", tls=True))
    failure = _failure(info.value).failure
    assert (failure.code, failure.phase, failure.blame, failure.request_sent, failure.status) == (
        ErrorCode.PROXY_AUTH,
        Phase.PROXY_HANDSHAKE,
        Blame.PROXY,
        False,
        407,
    )
    assert len(sockwise_lab.records(lab_proxy.name)) == 1
    text = str(info.value)
    assert f"via http://alice:***@{lab_proxy.host}:{lab_proxy.port}" in text
    assert "wrong-secret-pw" not in text
    assert "wrong-secret-pw" not in repr(_failure(info.value).attempts)


def test_proxy_with_credentials_works(sockwise_lab: Lab, make_policy: Policy) -> None:
    """Through an auth proxy with the right login, by URL: the TLS origin answers (one tunnel)."""
    lab_proxy = sockwise_lab.add_proxy("auth", username="alice", password="right-pw")
    url = f"http://alice:right-pw@{lab_proxy.host}:{lab_proxy.port}"
    transport = RetryTransport(policy=make_policy(), proxy=url, verify=sockwise_lab.client_ssl_context())
    with _client(sockwise_lab, transport) as client:
        assert client.get(sockwise_lab.url("ok", tls=True)).text == "ok"
    assert lab_proxy.tunnels == 1


def test_refusing_proxy_is_retried_and_blamed(sockwise_lab: Lab, make_policy: Policy) -> None:
    """A proxy port that refuses: ECONNREFUSED while connecting to the proxy, retried (nothing was sent)."""
    lab_proxy = sockwise_lab.add_proxy("refuse")
    transport = RetryTransport(policy=make_policy(attempts=2), proxy=lab_proxy.proxy)
    with _client(sockwise_lab, transport) as client, pytest.raises(httpx.ConnectError) as info:
        client.get(sockwise_lab.url("ok"))
    failed = _failure(info.value)
    assert [(a.code, a.phase, a.blame, a.request_sent) for a in failed.attempts] == [
        (ErrorCode.ECONNREFUSED, Phase.PROXY_CONNECT, Blame.PROXY, False)
    ] * 2
    assert str(info.value).startswith(f"ECONNREFUSED while connecting to the proxy from proxy via {lab_proxy.proxy}")


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


# -- connections: released, keepalive on, caller's transport and trace ----------------------------------------------


def test_failed_responses_are_released_to_the_pool(
    sockwise_lab: Lab, make_policy: Policy, held: Callable[[int], dict[str, int]]
) -> None:
    """Three 503s are read and their connection reused (one connection); closing the client leaves none open."""
    port = sockwise_lab.port("origin")
    client = _client(sockwise_lab, RetryTransport(policy=make_policy(attempts=3)))
    response = client.get(sockwise_lab.url("status", code=503))
    assert response.status_code == 503
    records = sockwise_lab.records("status")
    assert len(records) == 3
    assert len({r.conn_id for r in records}) == 1
    assert [r.nth for r in records] == [1, 2, 3]
    assert held(port) == {"ESTABLISHED": 1}  # the pooled keep-alive connection
    client.close()
    assert held(port) == {}


def test_streamed_failed_responses_are_closed(
    sockwise_lab: Lab, make_policy: Policy, held: Callable[[int], dict[str, int]]
) -> None:
    """In stream mode a retried response is closed unread (its connection too): only the last one stays open."""
    port = sockwise_lab.port("origin")
    client = _client(sockwise_lab, RetryTransport(policy=make_policy(attempts=3), stream=True))
    with client.stream("GET", sockwise_lab.url("status", code=503)) as response:
        assert response.status_code == 503
        assert held(port) == {"ESTABLISHED": 1}
        assert response.read() == b"lab status 503\n"
    assert sockwise_lab.accepted("origin") == 3
    client.close()
    assert held(port) == {}


def test_stream_mode_leaves_body_failures_to_the_caller(sockwise_lab: Lab, make_policy: Policy) -> None:
    """With "stream": True a body that breaks off raises from the read, unretried and without .sockwise."""
    url = sockwise_lab.url("reset-mid-body")
    with _client(sockwise_lab, RetryTransport(policy=make_policy(attempts=3))) as client:
        with (
            client.stream("GET", url, extensions={"sockwise": {"stream": True}}) as response,
            pytest.raises(httpx.ReadError) as info,
        ):
            response.read()
        assert request_failed(info.value) is None
        assert len(sockwise_lab.records("reset-mid-body")) == 1
        with pytest.raises(httpx.ReadError) as info:
            client.get(url)  # read inside the attempt: retried
        assert _failure(info.value).failure.phase is Phase.BODY
    assert len(sockwise_lab.records("reset-mid-body")) == 4


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


def test_bad_certificate_is_never_retried(sockwise_lab: Lab, make_policy: Policy) -> None:
    """An untrusted certificate: httpx.ConnectError, TLS_CERT in the TLS phase, one attempt, not_retryable."""
    transport = RetryTransport(policy=make_policy(attempts=3), verify=sockwise_lab.client_ssl_context())
    with _client(sockwise_lab, transport) as client, pytest.raises(httpx.ConnectError) as info:
        client.get(sockwise_lab.url("bad-cert"))
    failed = _failure(info.value)
    assert (failed.failure.code, failed.failure.phase, failed.failure.request_sent, failed.reason) == (
        ErrorCode.TLS_CERT,
        Phase.TLS,
        False,
        "not_retryable",
    )
    assert len(failed.attempts) == 1  # (a TLS listener of the lab counts only completed handshakes)


def test_tls_stall_is_a_connect_timeout_retried(sockwise_lab: Lab, make_policy: Policy) -> None:
    """A handshake that never completes ends at the 0.2 s per-try timeout as ConnectTimeout in TLS, and is retried."""
    transport = RetryTransport(policy=make_policy(attempts=2, timeout=0.2), verify=sockwise_lab.client_ssl_context())
    with _client(sockwise_lab, transport) as client, pytest.raises(httpx.ConnectTimeout) as info:
        client.get(sockwise_lab.url("tls-stall"))
    failed = _failure(info.value)
    assert [(a.code, a.phase, a.request_sent) for a in failed.attempts] == [(ErrorCode.ETIMEDOUT, Phase.TLS, False)] * 2
    assert sockwise_lab.accepted("tls-stall") == 2
