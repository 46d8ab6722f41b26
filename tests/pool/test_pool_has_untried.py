"""ProxyPool.has_untried: whether a switch can find another proxy, answered from the last lease's view."""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import TYPE_CHECKING

from sockwise import Blame, ErrorCode, Failure, Phase, Proxy
from sockwise.pool import HealthPolicy, MemoryStore, ProxyHealth, ProxyPool, StickySessions

if TYPE_CHECKING:
    from conftest import FakeClock

REFUSED = Failure(ErrorCode.ECONNREFUSED, Phase.PROXY_CONNECT, Blame.PROXY, request_sent=False)
FORBIDDEN = Failure(ErrorCode.HTTP_STATUS, Phase.WAIT, Blame.ORIGIN, request_sent=True, status=403)
PROXIES = [Proxy("http", f"10.0.0.{i}", 8080) for i in (1, 2, 3)]
KEYS = [p.key for p in PROXIES]


class CountingStore(MemoryStore):
    """A memory store that counts reads."""

    def __init__(self) -> None:
        super().__init__()
        self.reads = 0

    def read_many(self, keys: Sequence[str]) -> dict[str, ProxyHealth]:
        self.reads += 1
        return super().read_many(keys)

    def bans(self, site: str, *, now: float) -> dict[str, float]:
        self.reads += 1
        return super().bans(site, now=now)


def make_pool(clock: FakeClock, **kwargs: object) -> ProxyPool:
    kwargs.setdefault("policy", HealthPolicy(consecutive_failures=1, ejection_jitter=0.0))
    return ProxyPool(PROXIES, clock=clock, rng=random.Random(3), **kwargs)  # type: ignore[arg-type]


def test_without_a_lease_it_reads_the_store_once(clock: FakeClock) -> None:
    """A pool never leased reads the store for its first answer, then remembers it."""
    store = CountingStore()
    pool = make_pool(clock, store=store)
    assert pool.has_untried("a.example") is True
    assert store.reads == 2  # health and the site's bans
    assert pool.has_untried("a.example", exclude=KEYS[:2]) is True
    assert pool.has_untried("a.example", exclude=KEYS) is False
    assert store.reads == 2


def test_reports_since_the_lease_are_seen(clock: FakeClock) -> None:
    """An ejection and a ban reported after the last lease count without another store read."""
    store = CountingStore()
    pool = make_pool(clock, store=store)
    pool.lease("a.example")
    reads = store.reads
    pool.report(PROXIES[1], "a.example", REFUSED, 0.1)  # ejected
    pool.report(PROXIES[2], "a.example", FORBIDDEN, 0.1)  # banned from a.example
    store.reads = reads
    assert pool.has_untried("a.example", exclude=KEYS[:1]) is False
    assert store.reads == reads
    assert pool.has_untried("b.example", exclude=KEYS[:1]) is True  # not banned there; a new site reads its bans
    assert store.reads == reads + 1


def test_expired_ban_and_half_open_count_again(clock: FakeClock) -> None:
    """When a ban ends and an ejection turns half-open, the proxies count as alternatives again."""
    pool = make_pool(clock, policy=HealthPolicy(consecutive_failures=1, ejection_jitter=0.0, base_ejection_time=30.0))
    pool.lease("a.example")
    pool.report(PROXIES[1], "a.example", REFUSED, 0.1)
    pool.report(PROXIES[2], "a.example", FORBIDDEN, 0.1)
    assert pool.has_untried("a.example", exclude=KEYS[:1]) is False
    clock.advance(31.0)  # PROXIES[1] is half-open
    assert pool.has_untried("a.example", exclude=[KEYS[0], KEYS[2]]) is True
    clock.advance(pool.ban_policy.cooldown)
    assert pool.has_untried("a.example", exclude=KEYS[:2]) is True


def test_session_keys_exclude_their_base_proxy(clock: FakeClock) -> None:
    """An excluded vendor-session proxy excludes the proxy it was made from."""
    pool = ProxyPool(
        [Proxy("http", "10.0.0.9", 8080, "acct", "pw")],
        clock=clock,
        sessions=StickySessions("{user}-session-{key}"),
    )
    session = pool.lease("a.example", key="job-1")
    assert session.username == "acct-session-job-1"
    assert pool.has_untried("a.example", exclude=[session.key]) is False
    assert pool.has_untried("a.example") is True


def test_every_proxy_ejected_untried_ones_are_the_last_resort(clock: FakeClock) -> None:
    """With every proxy ejected a lease hands out untried ones, so they count; with all tried, none does."""
    pool = make_pool(clock)
    for proxy in PROXIES:
        pool.report(proxy, "a.example", REFUSED, 0.1)
    assert {s.state.value for s in pool.status()} == {"ejected"}
    assert pool.has_untried("a.example", exclude=KEYS[:1]) is True
    assert pool.lease("a.example", exclude=KEYS[:1]).key != KEYS[0]
    assert pool.has_untried("a.example", exclude=KEYS) is False


def test_a_tried_proxy_still_available_comes_before_ejected_ones(clock: FakeClock) -> None:
    """While a tried proxy is still available a lease returns it, not an ejected one: no alternative."""
    pool = make_pool(clock)
    for proxy in PROXIES[1:]:
        pool.report(proxy, "a.example", REFUSED, 0.1)
    assert pool.has_untried("a.example", exclude=KEYS[:1]) is False
    assert pool.lease("a.example", exclude=KEYS[:1]) == PROXIES[0]


def test_last_resort_spreads_concurrent_leases(clock: FakeClock) -> None:
    """With every proxy ejected, concurrent leases spread over them instead of piling on the first ejected."""
    pool = make_pool(clock)
    for proxy in PROXIES:
        pool.report(proxy, "a.example", REFUSED, 0.1)
        clock.advance(1.0)
    leased = [pool.lease("a.example") for _ in range(3)]
    assert leased == PROXIES  # the ejection ending first, then the others, one request each
