"""RetryAdapter and Session against the lab: what the server saw, what the caller catches, what leaks (nothing)."""

from __future__ import annotations

import io
import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests
from urllib3.util import Retry

from sockwise import Backoff, Blame, ConfigError, ErrorCode, FixedProxyRoutes, Phase, Proxy, RequestFailed, RetryBudget
from sockwise.lab import Lab
from sockwise.requests import RetryAdapter, Session, overrides, request_failed

MakeSession = Callable[..., Session]
Policy = Callable[..., Any]


def _failure(exc: BaseException) -> RequestFailed:
    found = request_failed(exc)
    assert found is not None, f"{exc!r} carries no .sockwise"
    return found


# -- what is retried, and what the server saw --------------------------------------------------------------------


def test_get_retried_after_reset(sockwise_lab: Lab, make_session: MakeSession, make_policy: Policy) -> None:
    """A GET reset while waiting is tried 3 times; the caller gets requests.ConnectionError with the one-line story."""
    session = make_session(make_policy(attempts=3))
    url = sockwise_lab.url("reset-after-request")
    with pytest.raises(requests.ConnectionError) as info:
        session.get(url)
    assert len(sockwise_lab.records("reset-after-request")) == 3
    failed = _failure(info.value)
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
    assert type(info.value) is requests.ConnectionError
    assert isinstance(info.value, requests.RequestException)
    assert isinstance(info.value.__cause__, requests.ConnectionError)
    assert info.value.request is not None
    assert info.value.request.url == url


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


def test_post_after_send_not_retried(sockwise_lab: Lab, make_session: MakeSession, make_policy: Policy) -> None:
    """A POST reset after it was sent is not repeated: the server saw it once."""
    session = make_session(make_policy(attempts=3))
    with pytest.raises(requests.ConnectionError) as info:
        session.post(sockwise_lab.url("reset-after-request"), data=b"order=1")
    assert len(sockwise_lab.records("reset-after-request")) == 1
    failed = _failure(info.value)
    assert (failed.failure.code, failed.failure.phase, failed.failure.request_sent) == (
        ErrorCode.ECONNRESET,
        Phase.WAIT,
        True,
    )
    assert failed.reason == "not_idempotent"
    assert str(info.value).endswith("; 1 attempt in 0.0 s; request was sent, POST not retried")


def test_post_never_sent_retried(sockwise_lab: Lab, make_session: MakeSession, make_policy: Policy) -> None:
    """A POST to a refused port provably left nothing: it is retried like a GET."""
    session = make_session(make_policy(attempts=3))
    with pytest.raises(requests.ConnectionError) as info:
        session.post(sockwise_lab.url("refused"), data=b"order=1")
    failed = _failure(info.value)
    assert [(a.code, a.phase, a.request_sent, a.action) for a in failed.attempts] == [
        (ErrorCode.ECONNREFUSED, Phase.CONNECT, False, "retry"),
        (ErrorCode.ECONNREFUSED, Phase.CONNECT, False, "retry"),
        (ErrorCode.ECONNREFUSED, Phase.CONNECT, False, "give_up"),
    ]
    assert failed.failure.blame is Blame.ORIGIN
    assert not isinstance(info.value, requests.exceptions.ProxyError)


def test_one_shot_body_not_retried_after_send(
    sockwise_lab: Lab, make_session: MakeSession, make_policy: Policy
) -> None:
    """A PUT whose body is a generator cannot be replayed: after sending it is not retried, unlike bytes."""

    def body() -> Iterator[bytes]:
        yield b"part-1"

    session = make_session(make_policy(attempts=3))
    url = sockwise_lab.url("reset-after-request")
    with pytest.raises(requests.ConnectionError) as info:
        session.put(url, data=body())
    assert _failure(info.value).reason == "not_idempotent"
    assert len(sockwise_lab.records("reset-after-request")) == 1
    with pytest.raises(requests.ConnectionError):
        session.put(url, data=b"part-1")
    assert len(sockwise_lab.records("reset-after-request")) == 4


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


def test_stale_keepalive_recovered_for_get(
    sockwise_lab: Lab, make_session: MakeSession, make_policy: Policy, recorder: Any
) -> None:
    """The server closing a pooled connection as the GET arrives: one immediate retry on a new connection."""
    session = make_session(make_policy(attempts=3, backoff=Backoff.fixed(5.0)), on_attempt=recorder)
    url = sockwise_lab.url("stale-keepalive")
    assert session.get(url).text == "ok"
    recorder.attempts.clear()
    assert session.get(url).text == "ok"
    # No 5 s backoff: the race gets an immediate retry, on a connection of its own.
    assert recorder.summary() == [("UNEXPECTED_EOF", "wait", "retry", 0.0), (None, None, "done", 0.0)]
    first, raced, fresh = sockwise_lab.records("stale-keepalive")
    assert (first.nth, raced.nth, fresh.nth) == (1, 2, 1)
    assert first.conn_id == raced.conn_id != fresh.conn_id


def test_stale_keepalive_post_gets_the_error(sockwise_lab: Lab, make_session: MakeSession, make_policy: Policy) -> None:
    """The same race for a POST: it may have been processed, so the caller gets the error (server saw 2)."""
    session = make_session(make_policy(attempts=3))
    url = sockwise_lab.url("stale-keepalive")
    assert session.get(url).status_code == 200
    with pytest.raises(requests.ConnectionError) as info:
        session.post(url, data=b"x")
    failed = _failure(info.value)
    assert (failed.failure.code, failed.failure.phase, failed.failure.blame, failed.reason) == (
        ErrorCode.UNEXPECTED_EOF,
        Phase.WAIT,
        Blame.ORIGIN,
        "not_idempotent",
    )
    records = sockwise_lab.records("stale-keepalive")
    assert [(r.method, r.nth) for r in records] == [("GET", 1), ("POST", 2)]


def test_retry_after_is_waited(sockwise_lab: Lab, make_session: MakeSession, make_policy: Policy) -> None:
    """A 503 with Retry-After: 1 is retried no sooner than 1 s later (server-side clock); the last 503 is returned."""
    session = make_session(make_policy(attempts=2))
    response = session.get(sockwise_lab.url("status", code=503, retry_after=1))
    assert response.status_code == 503
    assert response.text == "lab status 503\n"
    with pytest.raises(requests.HTTPError):
        response.raise_for_status()
    first, second = sockwise_lab.records("status")
    assert second.monotonic - first.monotonic >= 1.0


# -- time: the deadline and the per-try timeout -------------------------------------------------------------------


def test_deadline_holds_with_trickling_body(
    sockwise_lab: Lab, make_session: MakeSession, make_policy: Policy, held: Callable[[int], dict[str, int]]
) -> None:
    """A body trickling a byte every 50 ms (never tripping a read timeout) still ends at the 1 s deadline."""
    session = make_session(make_policy(attempts=10, deadline=1.0, timeout=0.4))
    url = sockwise_lab.url("trickle", size=200, interval=0.05)
    start = time.monotonic()
    with pytest.raises(requests.ConnectionError) as info:  # requests' type for a read timeout in the body
        session.get(url, timeout=5.0)
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
    assert all(a.code is ErrorCode.ETIMEDOUT and a.phase is Phase.BODY for a in failed.attempts)
    assert held(sockwise_lab.port("origin")) == {}  # every cut-off attempt closed its connection


def test_deadline_alone_bounds_a_trickle(sockwise_lab: Lab, make_session: MakeSession, make_policy: Policy) -> None:
    """Without a per-try timeout the deadline bounds the only attempt: 0.6 s, not the 10 s the body takes."""
    session = make_session(make_policy(deadline=0.6))
    start = time.monotonic()
    with pytest.raises(requests.ConnectionError) as info:
        session.get(sockwise_lab.url("trickle", size=200, interval=0.05))
    assert time.monotonic() - start <= 0.6 + 0.2
    assert _failure(info.value).reason == "deadline"


@pytest.fixture
def trickling_headers() -> Iterator[str]:
    """A loopback server whose status line and headers arrive one byte every 50 ms (about 2 s in all)."""
    head = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-Slow: 1\r\n\r\nok"
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        for _ in range(10):  # bounded: a few connections at most
            if stop.is_set():
                return
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            with conn:
                conn.settimeout(2.0)
                try:
                    conn.recv(65536)
                    for byte in head:
                        if stop.wait(0.05):
                            return
                        conn.sendall(bytes([byte]))
                except OSError:
                    continue

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}/"
    finally:
        stop.set()
        thread.join(timeout=5)
        listener.close()


def test_deadline_holds_with_trickling_headers(
    trickling_headers: str, make_session: MakeSession, make_policy: Policy
) -> None:
    """Headers trickling a byte every 50 ms end at the 0.5 s per-try timeout, as ReadTimeout while waiting."""
    session = make_session(make_policy(attempts=1, timeout=0.5))
    start = time.monotonic()
    with pytest.raises(requests.ReadTimeout) as info:
        session.get(trickling_headers, timeout=5.0)
    assert time.monotonic() - start <= 0.5 + 0.2
    failure = _failure(info.value).failure
    assert (failure.code, failure.phase, failure.request_sent) == (ErrorCode.ETIMEDOUT, Phase.WAIT, True)


def test_per_try_timeout_bounds_headers(sockwise_lab: Lab, make_session: MakeSession, make_policy: Policy) -> None:
    """A server that never answers: each try ends at its 0.2 s timeout as ReadTimeout while waiting."""
    session = make_session(make_policy(attempts=2, timeout=0.2))
    start = time.monotonic()
    with pytest.raises(requests.ReadTimeout) as info:
        session.get(sockwise_lab.url("stall-before-headers"))
    assert time.monotonic() - start <= 2 * 0.2 + 0.2
    failed = _failure(info.value)
    assert [(a.code, a.phase) for a in failed.attempts] == [(ErrorCode.ETIMEDOUT, Phase.WAIT)] * 2
    assert len(sockwise_lab.records("stall-before-headers")) == 2


def test_callers_shorter_timeout_still_applies(
    sockwise_lab: Lab, make_session: MakeSession, make_policy: Policy
) -> None:
    """requests' own timeout= (0.1 s) is kept when shorter than the policy's per-try timeout (5 s)."""
    session = make_session(make_policy(attempts=1, timeout=5.0))
    start = time.monotonic()
    with pytest.raises(requests.ReadTimeout):
        session.get(sockwise_lab.url("stall-before-headers"), timeout=(1.0, 0.1))
    assert time.monotonic() - start < 1.0


# -- budget and overrides ------------------------------------------------------------------------------------------


def test_budget_ends_a_retry_storm(sockwise_lab: Lab, make_session: MakeSession, make_policy: Policy) -> None:
    """With a budget of one retry, five failing GETs reach the server 6 times, not 15; the rest end 'budget'."""
    budget = RetryBudget(ratio=0.0, min_retries_per_second=0.1, ttl=10.0)
    session = make_session(make_policy(attempts=3, budget=budget))
    reasons = []
    for _ in range(5):
        with pytest.raises(requests.ConnectionError) as info:
            session.get(sockwise_lab.url("reset-after-request"))
        reasons.append(_failure(info.value).reason)
    assert len(sockwise_lab.records("reset-after-request")) == 6
    assert reasons == ["budget"] * 5
    assert "retry budget for 127.0.0.1 exhausted" in str(info.value)


def test_per_request_overrides_win(sockwise_lab: Lab, make_session: MakeSession, make_policy: Policy) -> None:
    """sockwise={"retry": 2, "retry_delay": 0.05} beats a no-retry policy, and retry=0 a 5-try one."""
    url = sockwise_lab.url("reset-after-request")
    with pytest.raises(requests.ConnectionError) as info:
        make_session(make_policy(attempts=1)).get(url, sockwise={"retry": 2, "retry_delay": 0.05})
    assert [a.delay for a in _failure(info.value).attempts] == [0.05, 0.05, 0.0]
    assert len(sockwise_lab.records("reset-after-request")) == 3
    with pytest.raises(requests.ConnectionError):
        make_session(make_policy(attempts=5)).get(url, sockwise={"retry": 0})
    assert len(sockwise_lab.records("reset-after-request")) == 4


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


def test_idempotent_override_retries_a_post(sockwise_lab: Lab, make_session: MakeSession, make_policy: Policy) -> None:
    """A POST the caller marks idempotent (an idempotency key) is retried after sending."""
    session = make_session(make_policy(attempts=2))
    with pytest.raises(requests.ConnectionError) as info:
        session.post(sockwise_lab.url("reset-after-request"), data=b"x", sockwise={"idempotent": True})
    assert _failure(info.value).reason == "attempts"
    assert len(sockwise_lab.records("reset-after-request")) == 2


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


# -- proxies ----------------------------------------------------------------------------------------------------


def test_proxy_connect_502_blames_the_proxy(sockwise_lab: Lab, make_session: MakeSession, make_policy: Policy) -> None:
    """A proxy answering CONNECT with 502: ProxyError, PROXY_REFUSED in the handshake, blamed on it, not sent."""
    lab_proxy = sockwise_lab.add_proxy("connect-502")
    session = make_session(make_policy(), routes=FixedProxyRoutes(lab_proxy.proxy))
    session.verify = str(sockwise_lab.ca_file)
    with pytest.raises(requests.exceptions.ProxyError) as info:
        session.get(sockwise_lab.url("ok", tls=True))
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
    assert isinstance(info.value, requests.ConnectionError)
    assert [r.method for r in sockwise_lab.records(lab_proxy.name)] == ["CONNECT"]
    assert sockwise_lab.records("ok") == []


def test_proxy_auth_is_not_repeated_and_never_shows_the_password(
    sockwise_lab: Lab, make_session: MakeSession, make_policy: Policy
) -> None:
    """A wrong proxy password: PROXY_AUTH from the proxy, one CONNECT, and the message shows user:*** only."""
    lab_proxy = sockwise_lab.add_proxy("auth", username="alice", password="right-pw")
    wrong = Proxy("http", lab_proxy.host, lab_proxy.port, "alice", "wrong-secret-pw")
    session = make_session(make_policy(), proxy=wrong)
    session.verify = str(sockwise_lab.ca_file)
    with pytest.raises(requests.exceptions.ProxyError) as info:
        session.get(sockwise_lab.url("ok", tls=True))
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


def test_proxy_with_credentials_works(sockwise_lab: Lab, make_session: MakeSession, make_policy: Policy) -> None:
    """Through an auth proxy with the right login, by URL: the TLS origin answers (one tunnel), plain HTTP too."""
    lab_proxy = sockwise_lab.add_proxy("auth", username="alice", password="right-pw")
    session = make_session(make_policy(), proxy=f"http://alice:right-pw@{lab_proxy.host}:{lab_proxy.port}")
    session.verify = str(sockwise_lab.ca_file)
    assert session.get(sockwise_lab.url("ok", tls=True)).text == "ok"
    assert lab_proxy.tunnels == 1
    assert session.get(sockwise_lab.url("ok")).text == "ok"
    assert lab_proxy.forwarded == 1


def test_refusing_proxy_is_retried_and_blamed(
    sockwise_lab: Lab, make_session: MakeSession, make_policy: Policy
) -> None:
    """A proxy port that refuses: ECONNREFUSED while connecting to the proxy, retried (nothing was sent)."""
    lab_proxy = sockwise_lab.add_proxy("refuse")
    session = make_session(make_policy(attempts=2), proxy=lab_proxy.proxy)
    with pytest.raises(requests.exceptions.ProxyError) as info:
        session.get(sockwise_lab.url("ok"))
    failed = _failure(info.value)
    assert [(a.code, a.phase, a.blame, a.request_sent) for a in failed.attempts] == [
        (ErrorCode.ECONNREFUSED, Phase.PROXY_CONNECT, Blame.PROXY, False)
    ] * 2
    assert str(info.value).startswith(f"ECONNREFUSED while connecting to the proxy from proxy via {lab_proxy.proxy}")


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


# -- connections: released, keepalive on, streams -----------------------------------------------------------------


@pytest.mark.parametrize("bounded", [False, True], ids=["no-deadline", "deadline"])
def test_failed_responses_are_released_to_the_pool(
    bounded: bool,
    sockwise_lab: Lab,
    make_session: MakeSession,
    make_policy: Policy,
    held: Callable[[int], dict[str, int]],
) -> None:
    """Three 503s are read and their connection reused (one connection); closing the session leaves none open."""
    port = sockwise_lab.port("origin")
    session = make_session(make_policy(attempts=3, deadline=5.0 if bounded else None))
    response = session.get(sockwise_lab.url("status", code=503))
    assert response.status_code == 503
    records = sockwise_lab.records("status")
    assert len(records) == 3
    assert len({r.conn_id for r in records}) == 1
    assert [r.nth for r in records] == [1, 2, 3]
    assert held(port) == {"ESTABLISHED": 1}  # the pooled keep-alive connection
    session.close()
    assert held(port) == {}


def test_streamed_failed_responses_are_closed(
    sockwise_lab: Lab, make_session: MakeSession, make_policy: Policy, held: Callable[[int], dict[str, int]]
) -> None:
    """With stream=True a retried response is closed unread (its connection too): only the last one stays open."""
    port = sockwise_lab.port("origin")
    session = make_session(make_policy(attempts=3))
    with session.get(sockwise_lab.url("status", code=503), stream=True) as response:
        assert response.status_code == 503
        assert held(port) == {"ESTABLISHED": 1}
        assert response.content == b"lab status 503\n"
    assert sockwise_lab.accepted("origin") == 3
    session.close()
    assert held(port) == {}


def test_body_failures_retried_unless_streamed(
    sockwise_lab: Lab, make_session: MakeSession, make_policy: Policy
) -> None:
    """A body that breaks off is retried when the adapter reads it; with stream=True the caller gets it, once."""
    session = make_session(make_policy(attempts=3))
    url = sockwise_lab.url("reset-mid-body")
    response = session.get(url, stream=True)
    with pytest.raises(requests.exceptions.ChunkedEncodingError) as streamed:
        response.content  # noqa: B018
    assert request_failed(streamed.value) is None
    assert len(sockwise_lab.records("reset-mid-body")) == 1
    with pytest.raises(requests.exceptions.ChunkedEncodingError) as info:
        session.get(url)
    failure = _failure(info.value).failure
    assert (failure.code, failure.phase, failure.request_sent) == (ErrorCode.ECONNRESET, Phase.BODY, True)
    assert len(sockwise_lab.records("reset-mid-body")) == 4


def test_streamed_body_is_not_bounded_by_the_deadline(
    sockwise_lab: Lab, make_session: MakeSession, make_policy: Policy
) -> None:
    """With stream=True the attempt ends at the headers: a 0.5 s trickle outlives a 0.3 s deadline, read per chunk."""
    session = make_session(make_policy(deadline=0.3))
    start = time.monotonic()
    response = session.get(sockwise_lab.url("trickle", size=10, interval=0.05), stream=True, timeout=2.0)
    assert len(response.content) == 10
    assert time.monotonic() - start >= 0.45


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


# -- TLS ------------------------------------------------------------------------------------------------------------


def test_bad_certificate_is_never_retried(sockwise_lab: Lab, make_session: MakeSession, make_policy: Policy) -> None:
    """An untrusted certificate: requests.exceptions.SSLError, TLS_CERT during the handshake, one attempt."""
    session = make_session(make_policy(attempts=3))
    session.verify = str(sockwise_lab.ca_file)
    with pytest.raises(requests.exceptions.SSLError) as info:
        session.get(sockwise_lab.url("bad-cert"))
    failed = _failure(info.value)
    failure = failed.failure
    assert (failure.code, failure.phase, failure.blame, failure.request_sent) == (
        ErrorCode.TLS_CERT,
        Phase.TLS,
        Blame.ORIGIN,
        False,
    )
    assert len(failed.attempts) == 1
    assert isinstance(info.value, requests.ConnectionError)


def test_tls_handshake_stall_is_retried(sockwise_lab: Lab, make_session: MakeSession, make_policy: Policy) -> None:
    """A server that never finishes the handshake: each 0.2 s try ends as ReadTimeout in the TLS phase, not sent."""
    session = make_session(make_policy(attempts=2, timeout=0.2))
    session.verify = str(sockwise_lab.ca_file)
    start = time.monotonic()
    with pytest.raises(requests.ReadTimeout) as info:
        session.get(sockwise_lab.url("tls-stall"))
    assert time.monotonic() - start <= 2 * 0.2 + 0.2
    failed = _failure(info.value)
    assert [(a.code, a.phase, a.request_sent, a.action) for a in failed.attempts] == [
        (ErrorCode.ETIMEDOUT, Phase.TLS, False, "retry"),
        (ErrorCode.ETIMEDOUT, Phase.TLS, False, "give_up"),
    ]
