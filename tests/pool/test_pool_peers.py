"""Failures blamed on nobody, judged by peers: on a fake clock, then through the requests integration and the lab.

Through a forwarding proxy (plain http://, absolute-form) a 502/503/504 page or a read timeout may
be the proxy's or the origin's: the classifier blames nobody. The pool counts one against the proxy
when the same site answered through another proxy within ``HealthPolicy.peer_window`` and no other
proxy has failed there that way since; otherwise it ignores it.
"""

from __future__ import annotations

import random
import time
from collections import Counter
from typing import TYPE_CHECKING

from sockwise import Attempt, Blame, ErrorCode, Failure, Phase, Proxy
from sockwise.lab import Lab
from sockwise.pool import HealthPolicy, HealthState, ProxyPool, RoundRobin
from sockwise.requests import Session
from sockwise.retry import Backoff, RetryPolicy
from sockwise.runner import PoolRoutes

if TYPE_CHECKING:
    from conftest import FakeClock

SITE = "shop.example"
BAD_GATEWAY = Failure(ErrorCode.HTTP_STATUS, Phase.WAIT, Blame.UNKNOWN, request_sent=True, status=502)
READ_TIMEOUT = Failure(ErrorCode.ETIMEDOUT, Phase.WAIT, Blame.UNKNOWN, request_sent=True)
FORBIDDEN = Failure(ErrorCode.HTTP_STATUS, Phase.WAIT, Blame.ORIGIN, request_sent=True, status=403)
POLICY = HealthPolicy(ejection_jitter=0.0, base_ejection_time=60.0, max_ejection_time=600.0)


def make_pool(clock: FakeClock, n: int = 2, policy: HealthPolicy = POLICY) -> ProxyPool:
    proxies = [Proxy("http", f"10.0.0.{i + 1}", 8080) for i in range(n)]
    return ProxyPool(proxies, clock=clock, policy=policy, rng=random.Random(1))


def failures_of(pool: ProxyPool, proxy: Proxy) -> int:
    (status,) = [s for s in pool.status() if s.proxy == proxy]
    return status.health.total_failures


def test_unknown_failure_counts_when_another_proxy_served_the_site_a_second_ago(clock: FakeClock) -> None:
    """A 502 through A while B served the site 1 s before counts against A; three in a row eject it."""
    pool = make_pool(clock)
    a, b = pool.proxies
    pool.report(b, SITE, None, 0.05)
    clock.advance(1.0)
    after = pool.report(a, SITE, BAD_GATEWAY, 0.01)
    assert (after.total_failures, after.consecutive_failures, after.last_failure) == (1, 1, "HTTP_STATUS/wait")
    for _ in range(2):
        clock.advance(1.0)
        after = pool.report(a, SITE, READ_TIMEOUT, 0.5)
    assert after.state(clock.now) is HealthState.EJECTED
    assert pool.status()[1].state is HealthState.HEALTHY


def test_unknown_failure_without_a_peer_answer_is_ignored(clock: FakeClock) -> None:
    """With no answer from the site through another proxy, 502s through A leave it untouched, however many."""
    pool = make_pool(clock)
    a, b = pool.proxies
    pool.report(a, SITE, None, 0.05)  # A's own answer is no evidence against A
    pool.report(b, "other.example", None, 0.05)  # nor is an answer from another site
    for _ in range(5):
        clock.advance(1.0)
        pool.report(a, SITE, BAD_GATEWAY, 0.01)
    assert failures_of(pool, a) == 0
    assert pool.status()[0].state is HealthState.HEALTHY


def test_peer_answer_older_than_the_window_does_not_count(clock: FakeClock) -> None:
    """B's answer 31 s ago (window 30 s) says nothing of the site now: A's 502 is ignored; 30 s still counts."""
    pool = make_pool(clock)
    a, b = pool.proxies
    pool.report(b, SITE, None, 0.05)
    clock.advance(31.0)
    pool.report(a, SITE, BAD_GATEWAY, 0.01)
    assert failures_of(pool, a) == 0
    pool.report(b, SITE, None, 0.05)
    clock.advance(30.0)
    pool.report(a, SITE, BAD_GATEWAY, 0.01)
    assert failures_of(pool, a) == 1


def test_origin_blamed_answer_is_evidence(clock: FakeClock) -> None:
    """A 403 from the site through B (the origin is up, B's hop worked) vouches against A's 502 too."""
    pool = make_pool(clock)
    a, b = pool.proxies
    pool.report(b, SITE, FORBIDDEN, 0.05)
    clock.advance(1.0)
    pool.report(a, SITE, BAD_GATEWAY, 0.01)
    assert failures_of(pool, a) == 1


def test_origin_down_for_everyone_ejects_nobody(clock: FakeClock) -> None:
    """Every proxy served the site, then it goes down: their 502s contest each other and at most one counts."""
    pool = make_pool(clock, n=4)
    for proxy in pool.proxies:
        pool.report(proxy, SITE, None, 0.05)
    for _ in range(5):  # five rounds through every proxy, all 502
        for proxy in pool.proxies:
            clock.advance(0.1)
            pool.report(proxy, SITE, BAD_GATEWAY, 0.01)
    assert sum(failures_of(pool, p) for p in pool.proxies) == 1
    assert {s.state for s in pool.status()} == {HealthState.HEALTHY}
    # The site is back: an answer through one proxy makes the next odd failure count again.
    clock.advance(0.1)
    pool.report(pool.proxies[1], SITE, None, 0.05)
    clock.advance(0.1)
    pool.report(pool.proxies[2], SITE, BAD_GATEWAY, 0.01)
    assert failures_of(pool, pool.proxies[2]) == 1


def test_peer_window_zero_turns_peer_judgment_off(clock: FakeClock) -> None:
    """peer_window=0: failures blamed on nobody are ignored as before, whatever the peers saw."""
    pool = make_pool(clock, policy=HealthPolicy(ejection_jitter=0.0, peer_window=0.0))
    a, b = pool.proxies
    pool.report(b, SITE, None, 0.05)
    pool.report(a, SITE, BAD_GATEWAY, 0.01)
    assert failures_of(pool, a) == 0


def test_evidence_is_kept_for_the_last_1024_sites(clock: FakeClock) -> None:
    """Evidence is bounded: after answers from 1,024 other sites, the first site's answer is forgotten."""
    pool = make_pool(clock)
    a, b = pool.proxies
    pool.report(b, SITE, None, 0.05)
    pool.report(b, "site-a.example", None, 0.05)
    for i in range(1023):
        pool.report(b, f"site-{i}.example", None, 0.05)
    pool.report(a, "site-a.example", BAD_GATEWAY, 0.01)  # remembered: 1,023 others since
    assert failures_of(pool, a) == 1
    pool.report(a, SITE, BAD_GATEWAY, 0.01)  # forgotten
    assert failures_of(pool, a) == 1


def test_sticky_session_moves_off_a_proxy_judged_by_peers(clock: FakeClock) -> None:
    """A peer-judged failure unbinds the sticky session like a proxy failure; an unjudged one does not."""
    pool = make_pool(clock)
    first = pool.lease(SITE, key="s1")
    pool.report(first, SITE, BAD_GATEWAY, 0.01)  # no peer answer yet: ignored, the session stays
    assert pool.lease(SITE, key="s1") == first
    other = next(p for p in pool.proxies if p != first)
    pool.report(other, SITE, None, 0.05)
    clock.advance(1.0)
    pool.report(first, SITE, BAD_GATEWAY, 0.01)
    assert pool.sessions.bound("s1") is None


def test_bad_gateway_forward_proxy_ejected_through_requests(sockwise_lab: Lab) -> None:
    """Plain-http GETs through requests and a pool with a 502-answering forward proxy: all succeed, it is ejected."""
    good = [sockwise_lab.add_proxy("healthy") for _ in range(3)]
    bad = sockwise_lab.add_proxy("connect-502")
    pool = ProxyPool(
        [bad.proxy, *(g.proxy for g in good)],
        strategy=RoundRobin(),  # the bad proxy's turn comes every fourth lease, whatever the timing
        policy=HealthPolicy(base_ejection_time=600.0, max_ejection_time=1200.0),
    )
    attempts: list[Attempt] = []
    policy = RetryPolicy(attempts=4, timeout=0.5, backoff=Backoff(base=0.001, cap=0.005))
    url = sockwise_lab.url("ok")
    assert url.startswith("http://")
    started = time.monotonic()
    with Session(routes=PoolRoutes(pool), policy=policy, on_attempt=attempts.append) as session:
        statuses = [session.get(url).status_code for _ in range(24)]
    assert statuses == [200] * 24
    assert time.monotonic() - started < 20.0
    through_bad = [a for a in attempts if a.route == str(bad.proxy)]
    # The first 502 has no peer answer yet (ignored); each later one counts; the third ejects.
    assert len(through_bad) == 4
    assert {(a.failure.code, a.failure.status, a.failure.blame) for a in through_bad if a.failure} == {
        (ErrorCode.HTTP_STATUS, 502, Blame.UNKNOWN)
    }
    status = {s.proxy: s for s in pool.status()}
    assert status[bad.proxy].state is HealthState.EJECTED
    assert status[bad.proxy].health.total_failures == 3
    assert Counter(s.state for p, s in status.items() if p != bad.proxy) == Counter({HealthState.HEALTHY: 3})


def test_silent_forward_proxy_read_timeouts_judged_by_peers(sockwise_lab: Lab) -> None:
    """A blackhole forward proxy's read timeouts (plain http) are blamed on nobody, so peers can judge them."""
    good = sockwise_lab.add_proxy("healthy")
    bad = sockwise_lab.add_proxy("blackhole")
    pool = ProxyPool([bad.proxy, good.proxy], strategy=RoundRobin())
    attempts: list[Attempt] = []
    policy = RetryPolicy(attempts=3, timeout=0.3, backoff=Backoff(base=0.001, cap=0.005))
    with Session(routes=PoolRoutes(pool), policy=policy, on_attempt=attempts.append) as session:
        statuses = [session.get(sockwise_lab.url("ok")).status_code for _ in range(2)]
    assert statuses == [200, 200]
    through_bad = [a.failure for a in attempts if a.route == str(bad.proxy)]
    assert through_bad
    assert all(f is not None and f.blame is Blame.UNKNOWN for f in through_bad)
