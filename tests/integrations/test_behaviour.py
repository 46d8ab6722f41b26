"""The behaviour every sockwise integration owes its caller, against the lab, for httpx (sync and async), aiohttp
and requests alike: what the server saw, the exact failure on ``.sockwise``, and what the caller caught.

Each test runs once per client through the drivers of ``_drivers.py``; where the libraries truly
differ (exception types, aiohttp not knowing whether a body left) the driver says so.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import pytest
from tests.integrations._drivers import ONE_SHOT, Driver, OpenClient, TricklingHeaders

from sockwise import Backoff, Blame, ErrorCode, FixedProxyRoutes, Phase, Proxy, RetryBudget
from sockwise.lab import Lab

Policy = Callable[..., Any]
Held = Callable[[int], dict[str, int]]

# Honest margins: the wall-time bounds of the issue ("deadline + 0.2 s").
MARGIN = 0.2


def _sent_post(driver: Driver) -> tuple[Phase, bool | None]:
    """Where a POST reset after sending failed, as far as the client can tell."""
    return driver.unhinted_send or (Phase.WAIT, True)


# -- what is retried, and what the server saw --------------------------------------------------------------------


def test_get_retried_after_reset(
    driver: Driver, open_client: OpenClient, sockwise_lab: Lab, make_policy: Policy
) -> None:
    """A GET reset while waiting for headers reaches the server 3 times; the caller gets the one-line story."""
    url = sockwise_lab.url("reset-after-request")
    outcome = open_client(make_policy(attempts=3)).request("GET", url)
    assert len(sockwise_lab.records("reset-after-request")) == 3
    failed = driver.failed(outcome, "reset")
    failure = failed.failure
    assert (failure.code, failure.phase, failure.blame, failure.request_sent, failure.errno) == (
        ErrorCode.ECONNRESET,
        Phase.WAIT,
        Blame.ORIGIN,
        True,
        104,
    )
    assert (failed.reason, [a.action for a in failed.attempts]) == ("attempts", ["retry", "retry", "give_up"])
    assert str(outcome.error) == (
        f"ECONNRESET while waiting for headers from origin; 3 attempts in {failed.attempts[-1].elapsed:.1f} s; "
        "no attempts left (attempts=3)"
    )


def test_post_after_send_not_retried(
    driver: Driver, open_client: OpenClient, sockwise_lab: Lab, make_policy: Policy
) -> None:
    """A POST reset after it was sent is not repeated: the server saw it once, the story says why."""
    outcome = open_client(make_policy(attempts=3)).request(
        "POST", sockwise_lab.url("reset-after-request"), body=b"order=1"
    )
    assert [r.method for r in sockwise_lab.records("reset-after-request")] == ["POST"]
    failed = driver.failed(outcome, "reset")
    phase, sent = _sent_post(driver)
    failure = failed.failure
    assert (failure.code, failure.phase, failure.blame, failure.request_sent) == (
        ErrorCode.ECONNRESET,
        phase,
        Blame.ORIGIN,
        sent,
    )
    assert (failed.reason, len(failed.attempts)) == ("not_idempotent", 1)
    where = {Phase.WAIT: "while waiting for headers", Phase.SEND: "while sending the request"}[phase]
    told = "was sent" if sent else "may have been sent"
    assert str(outcome.error) == (
        f"ECONNRESET {where} from origin; 1 attempt in {failed.attempts[-1].elapsed:.1f} s; "
        f"request {told}, POST not retried"
    )


def test_post_never_sent_retried(
    driver: Driver, open_client: OpenClient, sockwise_lab: Lab, make_policy: Policy
) -> None:
    """A POST to a refused port provably left nothing: it is retried like a GET, and nothing reached the lab."""
    outcome = open_client(make_policy(attempts=3)).request("POST", sockwise_lab.url("refused"), body=b"order=1")
    failed = driver.failed(outcome, "refused")
    assert [(a.code, a.phase, a.blame, a.request_sent, a.action) for a in failed.attempts] == [
        (ErrorCode.ECONNREFUSED, Phase.CONNECT, Blame.ORIGIN, False, "retry"),
        (ErrorCode.ECONNREFUSED, Phase.CONNECT, Blame.ORIGIN, False, "retry"),
        (ErrorCode.ECONNREFUSED, Phase.CONNECT, Blame.ORIGIN, False, "give_up"),
    ]
    assert (failed.failure.errno, failed.reason) == (111, "attempts")
    assert sockwise_lab.records() == []


def test_connect_timeout_post_retried(
    driver: Driver, open_client: OpenClient, sockwise_lab: Lab, make_policy: Policy
) -> None:
    """A full accept queue times out while connecting (0.3 s per try): never sent, so even a POST is retried."""
    outcome = open_client(make_policy(attempts=2, timeout=0.3)).request(
        "POST", sockwise_lab.url("backlog-full"), body=b"x"
    )
    assert outcome.elapsed <= 2 * 0.3 + MARGIN
    failed = driver.failed(outcome, "connect_timeout")
    assert [(a.code, a.phase, a.blame, a.request_sent, a.action) for a in failed.attempts] == [
        (ErrorCode.ETIMEDOUT, Phase.CONNECT, Blame.NETWORK, False, "retry"),
        (ErrorCode.ETIMEDOUT, Phase.CONNECT, Blame.NETWORK, False, "give_up"),
    ]
    assert sockwise_lab.records() == []


@pytest.mark.parametrize("opt_in", [False, True], ids=["plain", "idempotent-opt-in"])
def test_one_shot_body_never_resent(
    opt_in: bool, driver: Driver, open_client: OpenClient, sockwise_lab: Lab, make_policy: Policy
) -> None:
    """A PUT whose body is a generator is sent once (even with idempotent=True); the same PUT as bytes is retried."""
    client = open_client(make_policy(attempts=3))
    url = sockwise_lab.url("reset-after-request")
    outcome = client.request("PUT", url, body=ONE_SHOT + b"part-1", overrides={"idempotent": True} if opt_in else None)
    failed = driver.failed(outcome, "reset")
    assert (failed.failure.code, failed.reason, len(failed.attempts)) == (ErrorCode.ECONNRESET, "not_idempotent", 1)
    assert len(sockwise_lab.records("reset-after-request")) == 1
    failed = driver.failed(client.request("PUT", url, body=b"part-1"), "reset")
    assert (failed.reason, len(failed.attempts)) == ("attempts", 3)
    assert len(sockwise_lab.records("reset-after-request")) == 4


# -- the stale keep-alive race ----------------------------------------------------------------------------------------

# How the server closes the raced connection (?mode=), what the client sees, and the kind of error raised.
_RACE = [
    pytest.param("fin", ErrorCode.UNEXPECTED_EOF, "eof", id="fin"),
    pytest.param("rst", ErrorCode.ECONNRESET, "reset", id="rst"),
]


@pytest.mark.parametrize(("mode", "code"), [pytest.param(*p.values[:2], id=p.id) for p in _RACE])
def test_stale_keepalive_recovered_for_get(
    driver: Driver,
    mode: str,
    code: ErrorCode,
    open_client: OpenClient,
    sockwise_lab: Lab,
    make_policy: Policy,
    recorder: Any,
) -> None:
    """The server closing a pooled connection as the GET arrives costs one immediate retry on a new connection."""
    client = open_client(make_policy(attempts=3, backoff=Backoff.fixed(5.0)), on_attempt=recorder)
    url = sockwise_lab.url("stale-keepalive", mode=mode)
    assert driver.answered(client.request("GET", url)) == (200, b"ok")
    recorder.attempts.clear()
    outcome = client.request("GET", url)
    assert driver.answered(outcome) == (200, b"ok")
    # No 5 s backoff: the race gets an immediate retry, on a connection of its own.
    assert recorder.summary() == [(str(code), "wait", "retry", 0.0), (None, None, "done", 0.0)]
    assert recorder.attempts[0].blame is Blame.ORIGIN
    assert recorder.attempts[0].request_sent is True
    first, raced, fresh = sockwise_lab.records("stale-keepalive")
    assert (first.nth, raced.nth, fresh.nth) == (1, 2, 1)
    assert first.conn_id == raced.conn_id != fresh.conn_id


@pytest.mark.parametrize(("mode", "code", "kind"), _RACE)
def test_stale_keepalive_post_gets_the_error(
    mode: str,
    code: ErrorCode,
    kind: str,
    driver: Driver,
    open_client: OpenClient,
    sockwise_lab: Lab,
    make_policy: Policy,
) -> None:
    """The same race for a POST: it may have been processed, so the caller gets the error (the server saw it)."""
    client = open_client(make_policy(attempts=3))
    url = sockwise_lab.url("stale-keepalive", mode=mode)
    assert driver.answered(client.request("GET", url)) == (200, b"ok")
    failed = driver.failed(client.request("POST", url, body=b"x"), kind)
    phase, sent = _sent_post(driver)
    assert (failed.failure.code, failed.failure.phase, failed.failure.blame, failed.failure.request_sent) == (
        code,
        phase,
        Blame.ORIGIN,
        sent,
    )
    assert (failed.reason, len(failed.attempts)) == ("not_idempotent", 1)
    assert [(r.method, r.nth) for r in sockwise_lab.records("stale-keepalive")] == [("GET", 1), ("POST", 2)]


# -- Retry-After ----------------------------------------------------------------------------------------------------


def test_retry_after_seconds_is_waited(
    driver: Driver, open_client: OpenClient, sockwise_lab: Lab, make_policy: Policy
) -> None:
    """A 503 with Retry-After: 1 is retried no sooner than 1 s later (server-side clock); the last 503 is returned."""
    outcome = open_client(make_policy(attempts=2)).request("GET", sockwise_lab.url("status", code=503, retry_after=1))
    assert driver.answered(outcome) == (503, b"lab status 503\n")
    first, second = sockwise_lab.records("status")
    assert second.monotonic - first.monotonic >= 1.0


def test_retry_after_date_is_waited(
    driver: Driver, open_client: OpenClient, sockwise_lab: Lab, make_policy: Policy
) -> None:
    """A Retry-After HTTP-date 2 s ahead: the retry reaches the server no sooner than that date (server-side clock)."""
    url = sockwise_lab.url("status", code=503, retry_after_date=2)
    outcome = open_client(make_policy(attempts=2)).request("GET", url)
    assert driver.answered(outcome) == (503, b"lab status 503\n")
    first, second = sockwise_lab.records("status")
    # The date has whole seconds: it is at least floor(first + 2), more than 1 s after the first request.
    # (10 ms allow for the wall clock being slewed while the client waits on the monotonic one.)
    date = math.floor(first.wall + 2)
    assert second.wall >= date - 0.01
    assert second.monotonic - first.monotonic >= 1.0 - 0.01


def test_retry_after_past_the_deadline_ends_at_once(
    driver: Driver, open_client: OpenClient, sockwise_lab: Lab, make_policy: Policy, recorder: Any
) -> None:
    """A Retry-After of 30 s with a 2 s deadline left: no wait at all, the 503 is returned after one request."""
    client = open_client(make_policy(attempts=3, deadline=2.0, max_retry_after=60.0), on_attempt=recorder)
    outcome = client.request("GET", sockwise_lab.url("status", code=503, retry_after=30))
    assert driver.answered(outcome) == (503, b"lab status 503\n")
    assert outcome.elapsed < 1.0
    assert [(a.status, a.action, a.delay) for a in recorder.attempts] == [(503, "give_up", 0.0)]
    assert len(sockwise_lab.records("status")) == 1


# -- time: the deadline and the per-try timeout -----------------------------------------------------------------------


def test_deadline_holds_with_per_try_timeout_and_trickling_body(
    driver: Driver, open_client: OpenClient, sockwise_lab: Lab, make_policy: Policy, held: Held
) -> None:
    """A body trickling a byte every 50 ms (never tripping a read timeout) ends at the 1 s deadline, tries of 0.4 s."""
    client = open_client(make_policy(attempts=10, deadline=1.0, timeout=0.4))
    outcome = client.request("GET", sockwise_lab.url("trickle", size=200, interval=0.05))
    assert outcome.elapsed <= 1.0 + MARGIN
    failed = driver.failed(outcome, "body_timeout")
    failure = failed.failure
    assert (failure.code, failure.phase, failure.blame, failure.request_sent, failure.errno, failed.reason) == (
        ErrorCode.ETIMEDOUT,
        Phase.BODY,
        Blame.ORIGIN,
        True,
        None,
        "deadline",
    )
    # 0.4 + 0.4 + what is left: two or three tries, each cut off while reading the body.
    assert 2 <= len(failed.attempts) <= 3
    assert {(a.code, a.phase) for a in failed.attempts} == {(ErrorCode.ETIMEDOUT, Phase.BODY)}
    assert len(sockwise_lab.records("trickle")) == len(failed.attempts)
    assert held(sockwise_lab.port("origin")) == {}  # every cut-off attempt closed its connection


def test_deadline_alone_bounds_a_trickle(
    driver: Driver, open_client: OpenClient, sockwise_lab: Lab, make_policy: Policy
) -> None:
    """Without a per-try timeout the deadline bounds the only attempt: 0.6 s, not the 10 s the body takes."""
    outcome = open_client(make_policy(deadline=0.6)).request(
        "GET", sockwise_lab.url("trickle", size=200, interval=0.05)
    )
    assert outcome.elapsed <= 0.6 + MARGIN
    failed = driver.failed(outcome, "body_timeout")
    assert (failed.failure.code, failed.failure.phase, failed.reason, len(failed.attempts)) == (
        ErrorCode.ETIMEDOUT,
        Phase.BODY,
        "deadline",
        1,
    )
    assert len(sockwise_lab.records("trickle")) == 1


def test_per_try_timeout_bounds_headers(
    driver: Driver, open_client: OpenClient, sockwise_lab: Lab, make_policy: Policy
) -> None:
    """A server that never answers: each try ends at its 0.2 s timeout while waiting for headers, and is retried."""
    outcome = open_client(make_policy(attempts=2, timeout=0.2)).request("GET", sockwise_lab.url("stall-before-headers"))
    assert outcome.elapsed <= 2 * 0.2 + MARGIN
    failed = driver.failed(outcome, "wait_timeout")
    assert [(a.code, a.phase, a.blame, a.request_sent) for a in failed.attempts] == [
        (ErrorCode.ETIMEDOUT, Phase.WAIT, Blame.ORIGIN, True)
    ] * 2
    assert (failed.reason, len(sockwise_lab.records("stall-before-headers"))) == ("attempts", 2)


def test_per_try_timeout_holds_with_trickling_headers(
    driver: Driver, open_client: OpenClient, trickling_headers: TricklingHeaders, make_policy: Policy
) -> None:
    """Headers trickling a byte every 50 ms end at the 0.5 s per-try timeout, while waiting, not after 2.5 s."""
    outcome = open_client(make_policy(attempts=1, timeout=0.5)).request("GET", trickling_headers.url)
    assert outcome.elapsed <= 0.5 + MARGIN
    failed = driver.failed(outcome, "wait_timeout")
    failure = failed.failure
    assert (failure.code, failure.phase, failure.blame, failure.request_sent) == (
        ErrorCode.ETIMEDOUT,
        Phase.WAIT,
        Blame.ORIGIN,
        True,
    )
    assert len(trickling_headers.connections) == 1


def test_tls_handshake_stall_is_retried(
    driver: Driver, open_client: OpenClient, sockwise_lab: Lab, make_policy: Policy
) -> None:
    """A TLS handshake that never completes ends at each 0.2 s try in the TLS phase, not sent, and is retried."""
    outcome = open_client(make_policy(attempts=2, timeout=0.2)).request("GET", sockwise_lab.url("tls-stall"))
    assert outcome.elapsed <= 2 * 0.2 + MARGIN
    failed = driver.failed(outcome, "tls_timeout")
    assert [(a.code, a.phase, a.blame, a.request_sent, a.action) for a in failed.attempts] == [
        (ErrorCode.ETIMEDOUT, Phase.TLS, Blame.ORIGIN, False, "retry"),
        (ErrorCode.ETIMEDOUT, Phase.TLS, Blame.ORIGIN, False, "give_up"),
    ]
    assert sockwise_lab.accepted("tls-stall") == 2


def test_bad_certificate_is_never_retried(
    driver: Driver, open_client: OpenClient, sockwise_lab: Lab, make_policy: Policy
) -> None:
    """An untrusted certificate: TLS_CERT in the TLS phase, blamed on the origin, one attempt, not_retryable."""
    outcome = open_client(make_policy(attempts=3)).request("GET", sockwise_lab.url("bad-cert"))
    failed = driver.failed(outcome, "tls_cert")
    failure = failed.failure
    assert (failure.code, failure.phase, failure.blame, failure.request_sent, failed.reason) == (
        ErrorCode.TLS_CERT,
        Phase.TLS,
        Blame.ORIGIN,
        False,
        "not_retryable",
    )
    assert len(failed.attempts) == 1
    # (a TLS listener of the lab counts only completed handshakes, so the server side cannot count this one)
    assert sockwise_lab.records() == []


# -- budget and overrides ------------------------------------------------------------------------------------------


def test_budget_ends_a_retry_storm(
    driver: Driver, open_client: OpenClient, sockwise_lab: Lab, make_policy: Policy
) -> None:
    """With a budget of one retry, 5 failing GETs reach the server 6 times, not 15; retry=0 then ends 'attempts'."""
    budget = RetryBudget(ratio=0.0, min_retries_per_second=0.1, ttl=10.0)
    client = open_client(make_policy(attempts=3, budget=budget))
    url = sockwise_lab.url("reset-after-request")
    reasons = []
    for _ in range(5):
        outcome = client.request("GET", url)
        reasons.append(driver.failed(outcome, "reset").reason)
    assert reasons == ["budget"] * 5
    assert len(sockwise_lab.records("reset-after-request")) == 6
    assert "retry budget for 127.0.0.1 exhausted" in str(outcome.error)
    # A request that asks for no retry is not stopped by the budget but by its own attempts.
    assert driver.failed(client.request("GET", url, overrides={"retry": 0}), "reset").reason == "attempts"
    assert len(sockwise_lab.records("reset-after-request")) == 7


def test_per_request_overrides_win(
    driver: Driver, open_client: OpenClient, sockwise_lab: Lab, make_policy: Policy
) -> None:
    """{"retry": 2, "retry_delay": 0.05} beats a no-retry policy, and {"retry": 0} a 5-try one."""
    url = sockwise_lab.url("reset-after-request")
    outcome = open_client(make_policy(attempts=1)).request("GET", url, overrides={"retry": 2, "retry_delay": 0.05})
    assert [a.delay for a in driver.failed(outcome, "reset").attempts] == [0.05, 0.05, 0.0]
    assert len(sockwise_lab.records("reset-after-request")) == 3
    outcome = open_client(make_policy(attempts=5)).request("GET", url, overrides={"retry": 0})
    assert len(driver.failed(outcome, "reset").attempts) == 1
    assert len(sockwise_lab.records("reset-after-request")) == 4


def test_idempotent_override_retries_a_post(
    driver: Driver, open_client: OpenClient, sockwise_lab: Lab, make_policy: Policy
) -> None:
    """A POST the caller marks idempotent (it carries an idempotency key) is retried after sending."""
    outcome = open_client(make_policy(attempts=2)).request(
        "POST", sockwise_lab.url("reset-after-request"), body=b"x", overrides={"idempotent": True}
    )
    failed = driver.failed(outcome, "reset")
    assert (failed.reason, [a.action for a in failed.attempts]) == ("attempts", ["retry", "give_up"])
    assert [r.method for r in sockwise_lab.records("reset-after-request")] == ["POST", "POST"]


# -- proxies ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("given_as", ["proxy", "routes"])
def test_proxy_connect_502_blames_the_proxy(
    given_as: str, driver: Driver, open_client: OpenClient, sockwise_lab: Lab, make_policy: Policy
) -> None:
    """A proxy answering CONNECT with 502: PROXY_REFUSED in the handshake, blamed on it, not sent, no other route."""
    lab_proxy = sockwise_lab.add_proxy("connect-502")
    if given_as == "proxy":
        client = open_client(make_policy(), proxy=lab_proxy.proxy)
    else:
        client = open_client(make_policy(), routes=FixedProxyRoutes(lab_proxy.proxy))
    outcome = client.request("GET", sockwise_lab.url("ok", tls=True))
    failed = driver.failed(outcome, "proxy_status")
    failure = failed.failure
    assert (failure.code, failure.phase, failure.blame, failure.request_sent, failure.status) == (
        ErrorCode.PROXY_REFUSED,
        Phase.PROXY_HANDSHAKE,
        Blame.PROXY,
        False,
        502,
    )
    assert (failed.reason, len(failed.attempts)) == ("no_other_route", 1)
    assert str(outcome.error).startswith(
        f"PROXY_REFUSED 502 during the proxy handshake from proxy via {lab_proxy.proxy}"
    )
    assert [r.method for r in sockwise_lab.records(lab_proxy.name)] == ["CONNECT"]
    assert sockwise_lab.records("ok") == []


@pytest.mark.parametrize("login", ["wrong", "none"])
def test_proxy_auth_is_not_repeated_and_never_shows_the_password(
    login: str, driver: Driver, open_client: OpenClient, sockwise_lab: Lab, make_policy: Policy
) -> None:
    """A wrong (or no) proxy login: PROXY_AUTH 407 from the proxy, one CONNECT, the story shows user:*** only."""
    lab_proxy = sockwise_lab.add_proxy("auth", username="alice", password="right-pw")
    if login == "wrong":
        proxy = Proxy("http", lab_proxy.host, lab_proxy.port, "alice", "wrong-secret-pw")
        route, sent_auth = f"http://alice:***@{lab_proxy.host}:{lab_proxy.port}", "Basic ***"
    else:
        proxy = Proxy("http", lab_proxy.host, lab_proxy.port)
        route, sent_auth = f"http://{lab_proxy.host}:{lab_proxy.port}", None
    outcome = open_client(make_policy(attempts=3), proxy=proxy).request("GET", sockwise_lab.url("ok", tls=True))
    failed = driver.failed(outcome, "proxy_status")
    failure = failed.failure
    assert (failure.code, failure.phase, failure.blame, failure.request_sent, failure.status) == (
        ErrorCode.PROXY_AUTH,
        Phase.PROXY_HANDSHAKE,
        Blame.PROXY,
        False,
        407,
    )
    # Not retried on this proxy; with one fixed route there is no other to switch to.
    assert (failed.reason, len(failed.attempts)) == ("no_other_route", 1)
    assert [(r.method, dict(r.headers).get("Proxy-Authorization")) for r in sockwise_lab.records(lab_proxy.name)] == [
        ("CONNECT", sent_auth)  # the lab redacts what it records
    ]
    assert str(outcome.error).startswith(f"PROXY_AUTH 407 during the proxy handshake from proxy via {route};")
    for text in (str(outcome.error), repr(outcome.error), repr(failed.attempts), repr(failure)):
        assert "wrong-secret-pw" not in text
    assert sockwise_lab.records("ok") == []


def test_proxy_with_credentials_works(
    driver: Driver, open_client: OpenClient, sockwise_lab: Lab, make_policy: Policy
) -> None:
    """Through an auth proxy with the right login, given by URL: a TLS origin through a tunnel, plain HTTP forwarded."""
    lab_proxy = sockwise_lab.add_proxy("auth", username="alice", password="right-pw")
    client = open_client(make_policy(), proxy=f"http://alice:right-pw@{lab_proxy.host}:{lab_proxy.port}")
    outcome = client.request("GET", sockwise_lab.url("ok", tls=True))
    assert driver.answered(outcome) == (200, b"ok")
    assert lab_proxy.tunnels == 1
    outcome = client.request("GET", sockwise_lab.url("ok"))
    assert driver.answered(outcome) == (200, b"ok")
    assert lab_proxy.forwarded == 1
    assert [(r.method, dict(r.headers).get("Proxy-Authorization")) for r in sockwise_lab.records(lab_proxy.name)] == [
        ("CONNECT", "Basic ***"),  # the lab redacts what it records
        ("GET", "Basic ***"),
    ]
    assert len(sockwise_lab.records("ok")) == 2


def test_plain_http_407_is_returned_not_retried(
    driver: Driver, open_client: OpenClient, sockwise_lab: Lab, make_policy: Policy, recorder: Any
) -> None:
    """Plain HTTP through an auth proxy without credentials: the proxy's 407 answer comes back once, as PROXY_AUTH."""
    lab_proxy = sockwise_lab.add_proxy("auth", username="alice", password="right-pw")
    bare = Proxy("http", lab_proxy.host, lab_proxy.port)
    outcome = open_client(make_policy(attempts=3), proxy=bare, on_attempt=recorder).request(
        "GET", sockwise_lab.url("ok")
    )
    assert driver.answered(outcome)[0] == 407
    assert [(a.code, a.phase, a.blame, a.status, a.action) for a in recorder.attempts] == [
        # No handshake in absolute form: the 407 is the answer to the request itself.
        (ErrorCode.PROXY_AUTH, Phase.WAIT, Blame.PROXY, 407, "give_up")
    ]
    assert [(r.method, dict(r.headers).get("Proxy-Authorization")) for r in sockwise_lab.records(lab_proxy.name)] == [
        ("GET", None)
    ]
    assert sockwise_lab.records("ok") == []


def test_refusing_proxy_is_retried_and_blamed(
    driver: Driver, open_client: OpenClient, sockwise_lab: Lab, make_policy: Policy
) -> None:
    """A proxy port that refuses: ECONNREFUSED while connecting to the proxy, blamed on it, retried (nothing sent)."""
    lab_proxy = sockwise_lab.add_proxy("refuse")
    outcome = open_client(make_policy(attempts=2), proxy=lab_proxy.proxy).request("GET", sockwise_lab.url("ok"))
    failed = driver.failed(outcome, "proxy_refused")
    assert [(a.code, a.phase, a.blame, a.request_sent, a.action) for a in failed.attempts] == [
        (ErrorCode.ECONNREFUSED, Phase.PROXY_CONNECT, Blame.PROXY, False, "retry"),
        (ErrorCode.ECONNREFUSED, Phase.PROXY_CONNECT, Blame.PROXY, False, "give_up"),
    ]
    assert str(outcome.error).startswith(f"ECONNREFUSED while connecting to the proxy from proxy via {lab_proxy.proxy}")
    assert sockwise_lab.records() == []


# -- connections: released, never leaked ----------------------------------------------------------------------------


@pytest.mark.parametrize("deadline", [None, 5.0], ids=["no-deadline", "deadline"])
def test_failed_responses_are_released_to_the_pool(
    driver: Driver, deadline: float | None, open_client: OpenClient, sockwise_lab: Lab, make_policy: Policy, held: Held
) -> None:
    """Three 503s are read and their one connection reused; closing the client leaves no socket open."""
    port = sockwise_lab.port("origin")
    client = open_client(make_policy(attempts=3, deadline=deadline))
    outcome = client.request("GET", sockwise_lab.url("status", code=503))
    assert driver.answered(outcome) == (503, b"lab status 503\n")
    records = sockwise_lab.records("status")
    assert [r.nth for r in records] == [1, 2, 3]
    assert len({r.conn_id for r in records}) == 1
    assert held(port) == {"ESTABLISHED": 1}  # the pooled keep-alive connection
    client.close()
    assert held(port) == {}


@pytest.mark.parametrize("set_on", ["request", "client"])
def test_streamed_failed_responses_are_released(
    set_on: str, driver: Driver, open_client: OpenClient, sockwise_lab: Lab, make_policy: Policy, held: Held
) -> None:
    """In stream mode (per request or the client's default) retried 503s are released unread: one stays open."""
    port = sockwise_lab.port("origin")
    client = open_client(make_policy(attempts=3), stream=set_on == "client")
    during: list[dict[str, int]] = []
    outcome = client.request(
        "GET",
        sockwise_lab.url("status", code=503),
        stream=set_on == "request",
        while_open=lambda: during.append(held(port)),
    )
    assert driver.answered(outcome) == (503, b"lab status 503\n")
    assert during == [{"ESTABLISHED": 1}]
    records = sockwise_lab.records("status")
    if driver.pools_unread:  # the 15-byte body came with the head: the connection was safe to reuse
        assert ([r.nth for r in records], sockwise_lab.accepted("origin")) == ([1, 2, 3], 1)
    else:  # an unread response's connection is closed, never pooled
        assert ([r.nth for r in records], sockwise_lab.accepted("origin")) == ([1, 1, 1], 3)
    client.close()
    assert held(port) == {}


def test_body_failure_retried_unless_streamed(
    driver: Driver, open_client: OpenClient, sockwise_lab: Lab, make_policy: Policy
) -> None:
    """A body that breaks off is retried when read inside the attempt; in stream mode the caller gets it, once."""
    client = open_client(make_policy(attempts=3))
    url = sockwise_lab.url("reset-mid-body")
    streamed = client.request("GET", url, stream=True)
    # The library's own error, from the caller's read: sockwise had nothing to do with it.
    assert driver.request_failed(driver.raised(streamed, "stream_body_reset")) is None
    assert len(sockwise_lab.records("reset-mid-body")) == 1
    failed = driver.failed(client.request("GET", url), "body_reset")
    failure = failed.failure
    assert (failure.code, failure.phase, failure.blame, failure.request_sent, failed.reason) == (
        ErrorCode.ECONNRESET,
        Phase.BODY,
        Blame.ORIGIN,
        True,
        "attempts",
    )
    assert len(sockwise_lab.records("reset-mid-body")) == 4


def test_streamed_body_is_not_bounded_by_the_deadline(
    driver: Driver, open_client: OpenClient, sockwise_lab: Lab, make_policy: Policy
) -> None:
    """In stream mode the attempt ends at the headers: a 0.5 s trickle outlives a 0.3 s deadline."""
    outcome = open_client(make_policy(deadline=0.3)).request(
        "GET", sockwise_lab.url("trickle", size=10, interval=0.05), stream=True
    )
    assert driver.answered(outcome) == (200, b"sockwise-l")
    assert outcome.elapsed >= 0.45
    assert len(sockwise_lab.records("trickle")) == 1
