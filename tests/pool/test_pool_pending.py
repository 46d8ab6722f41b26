"""The pool's load estimate on a fake clock: ages of leases in flight, proxies sitting on requests, stale latencies."""

from __future__ import annotations

import itertools
import random
from collections import Counter
from typing import TYPE_CHECKING

import pytest

from sockwise import Blame, ErrorCode, Failure, Phase, Proxy
from sockwise.pool import HealthPolicy, HealthState, ProxyPool

if TYPE_CHECKING:
    from conftest import FakeClock

SITE = "a.example"
TIMEOUT = Failure(ErrorCode.ETIMEDOUT, Phase.PROXY_HANDSHAKE, Blame.PROXY, request_sent=False)
LOCAL = Failure(ErrorCode.EMFILE, Phase.CONNECT, Blame.LOCAL, request_sent=False, errno=24)
POLICY = HealthPolicy(ejection_jitter=0.0, latency_alpha=1.0, latency_half_life=10.0)


def make_pool(clock: FakeClock, n: int = 4, rng: random.Random | None = None) -> ProxyPool:
    proxies = [Proxy("http", f"10.0.0.{i + 1}", 8080) for i in range(n)]
    return ProxyPool(proxies, clock=clock, policy=POLICY, rng=rng or random.Random(1))


def lease_on(pool: ProxyPool, proxy: Proxy) -> Proxy:
    """A lease forced onto one proxy by excluding every other."""
    leased = pool.lease(SITE, exclude={p.key for p in pool.proxies if p != proxy})
    assert leased == proxy
    return leased


def teach(pool: ProxyPool, latencies: dict[Proxy, float]) -> None:
    """Give each proxy a latency EWMA (alpha 1: exactly the sample) through one lease and report."""
    for proxy, latency in latencies.items():
        pool.report(lease_on(pool, proxy), SITE, None, latency)


def test_pending_age_is_the_age_of_the_oldest_lease(clock: FakeClock) -> None:
    """The pool knows how long its oldest lease on a proxy has lasted; 0 with none."""
    pool = make_pool(clock, n=1)
    (proxy,) = pool.proxies
    assert pool.pending_age(proxy) == 0.0
    pool.lease(SITE)
    clock.advance(0.3)
    pool.lease(SITE)
    clock.advance(0.2)
    assert pool.pending_age(proxy) == pytest.approx(0.5)
    assert pool.in_flight(proxy) == 2


def test_report_ends_the_lease_its_latency_points_at(clock: FakeClock) -> None:
    """A report ends the lease that began ``latency`` seconds ago, not blindly the oldest or newest."""
    pool = make_pool(clock, n=1)
    (proxy,) = pool.proxies
    for _ in range(3):  # leases at 0, 0.1 and 0.2 s
        pool.lease(SITE)
        clock.advance(0.1)
    pool.report(proxy, SITE, None, 0.2)  # began 0.2 s ago: the middle lease
    assert pool.pending_age(proxy) == pytest.approx(0.3)  # the oldest still waits
    pool.report(proxy, SITE, None, 0.1)  # the newest
    assert pool.in_flight(proxy) == 1
    assert pool.pending_age(proxy) == pytest.approx(0.3)
    pool.report(proxy, SITE, None, 0.3)
    assert (pool.in_flight(proxy), pool.pending_age(proxy)) == (0, 0.0)


def test_release_without_outcome_ends_the_oldest_lease(clock: FakeClock) -> None:
    """A lease ended without an outcome (cancelled) is taken to be the oldest, so no lease outlives its request."""
    pool = make_pool(clock, n=1)
    (proxy,) = pool.proxies
    pool.lease(SITE)
    clock.advance(1.0)
    pool.lease(SITE)
    clock.advance(0.5)
    pool.release(proxy)
    assert pool.in_flight(proxy) == 1
    assert pool.pending_age(proxy) == pytest.approx(0.5)


def end_newest(pool: ProxyPool, proxy: Proxy) -> None:
    """End the newest lease on a proxy, its health untouched: a local failure after 0 s says nothing of the proxy."""
    pool.report(proxy, SITE, LOCAL, 0.0)


def silent_and_busy(clock: FakeClock, silent_age: float, rng: random.Random) -> tuple[ProxyPool, Proxy]:
    """A pool of 4: one proxy (latency unknown) holding one request for ``silent_age`` s, and three
    answering in 20 ms with 3 requests each in flight, the oldest 5 ms old (they keep answering)."""
    pool = make_pool(clock, rng=rng)
    silent, *busy = pool.proxies
    teach(pool, dict.fromkeys(busy, 0.02))
    lease_on(pool, silent)
    clock.advance(silent_age - 0.005)
    for proxy in busy:
        for _ in range(3):
            lease_on(pool, proxy)
    clock.advance(0.005)
    return pool, silent


def picks(pool: ProxyPool, rng: random.Random, count: int = 100) -> Counter[Proxy]:
    """What ``count`` draws from the same state pick, the pool's rng seeded 0, 1, ... (each lease ended at once)."""
    chosen: Counter[Proxy] = Counter()
    for seed in range(count):
        rng.seed(seed)
        proxy = pool.lease(SITE)
        chosen[proxy] += 1
        end_newest(pool, proxy)
    return chosen


def test_a_proxy_sitting_on_a_request_gets_no_more(clock: FakeClock) -> None:
    """A proxy holding a request for longer than its peers answer gets no lease, though it has the fewest in flight."""
    # 15 ms: its one request makes it the cheapest (0.02 x 2 against 0.02 x 4): it wins every pairing it is in.
    rng = random.Random()
    pool, silent = silent_and_busy(clock, 0.015, rng)
    assert picks(pool, rng)[silent] == sum(1 for s in range(100) if 0 in random.Random(s).sample(range(4), 2))
    # 45 ms: under 4 typical latencies, but 0.045 x 2 against 0.02 x 4 loses every pairing.
    pool, silent = silent_and_busy(clock, 0.045, rng)
    assert picks(pool, rng)[silent] == 0
    # 85 ms: past 4 typical latencies, out of the draw.
    pool, silent = silent_and_busy(clock, 0.085, rng)
    assert picks(pool, rng)[silent] == 0
    assert pool.in_flight(silent) == 1
    # Its request ends in a timeout: its latency is now at least that long, with nothing in flight.
    pool.report(silent, SITE, TIMEOUT, 0.085)
    assert pool.status()[0].health.latency_ewma == 0.085
    assert pool.in_flight(silent) == 0
    assert picks(pool, rng)[silent] == 0  # 0.085 x 1 against 0.02 x 4


def test_stale_slow_proxy_is_revisited(clock: FakeClock) -> None:
    """A slow proxy nobody picks drifts back toward the typical latency and gets a request again, then sinks."""
    pool = make_pool(clock)
    slow, fast, mid, slower = pool.proxies
    truth = {slow: 2.0, fast: 0.1, mid: 0.2, slower: 0.3}
    teach(pool, truth)  # median of the EWMAs: 0.25
    picked_at: list[float] = []
    start = clock.now
    for _ in range(120):  # one request a second, one at a time
        clock.advance(1.0)
        proxy = pool.lease(SITE)
        if proxy == slow:
            picked_at.append(clock.now - start)
        pool.report(proxy, SITE, None, truth[proxy])
    # 2.0 decays toward 0.25 and passes the 0.3 of a proxy fed every few seconds after ~50 s (5 half-lives);
    # the slow answer then sets it back to 2.0 and it waits as long again.
    assert picked_at, "the slow proxy was never tried again"
    assert picked_at[0] >= 45.0
    assert all(later - earlier >= 45.0 for earlier, later in itertools.pairwise(picked_at))
    assert pool.status()[0].state is HealthState.HEALTHY


def test_session_proxy_lease_ends_on_its_proxy_after_the_sticky_table_forgot_it() -> None:
    """A session proxy whose sticky entry was evicted mid-request still ends its lease on the pool's proxy."""
    from sockwise.pool import StickySessions

    base = Proxy("http", "10.0.0.1", 8080, "u", "pw")
    pool = ProxyPool([base], sessions=StickySessions("{user}-s-{key}", max_keys=2))
    first = pool.lease("a.example", key="k1")
    for key in ("k2", "k3"):  # two more sessions push k1 out of the sticky table (max_keys=2)
        pool.lease("a.example", key=key)
    assert pool.sessions.base_of(first.key) is None
    assert pool.in_flight(base) == 3
    pool.report(first, "a.example", None, 0.01)
    assert pool.in_flight(base) == 2
    assert set(pool.store.list_health()) == {base.key}
