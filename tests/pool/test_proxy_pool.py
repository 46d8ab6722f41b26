"""ProxyPool with a fake clock: leases, reports, ejection, half-open, bans per site, exclusion, sessions."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Sequence
from typing import TYPE_CHECKING

import pytest

from sockwise import Blame, ConfigError, ErrorCode, Failure, Phase, Proxy
from sockwise.pool import (
    BanPolicy,
    HealthPolicy,
    HealthState,
    MemoryStore,
    ProxyHealth,
    ProxyPool,
    RoundRobin,
    StickySessions,
)

if TYPE_CHECKING:
    from conftest import FakeClock

REFUSED = Failure(ErrorCode.ECONNREFUSED, Phase.PROXY_CONNECT, Blame.PROXY, request_sent=False, errno=111)
TIMEOUT = Failure(ErrorCode.ETIMEDOUT, Phase.PROXY_CONNECT, Blame.PROXY, request_sent=False)
RESET = Failure(ErrorCode.ECONNRESET, Phase.PROXY_HANDSHAKE, Blame.PROXY, request_sent=False, errno=104)
AUTH = Failure(ErrorCode.PROXY_AUTH, Phase.PROXY_HANDSHAKE, Blame.PROXY, request_sent=False, status=407)
ORIGIN_RESET = Failure(ErrorCode.ECONNRESET, Phase.WAIT, Blame.ORIGIN, request_sent=True, errno=104)
FORBIDDEN = Failure(ErrorCode.HTTP_STATUS, Phase.WAIT, Blame.ORIGIN, request_sent=True, status=403)
LOCAL = Failure(ErrorCode.EMFILE, Phase.CONNECT, Blame.LOCAL, request_sent=False, errno=24)

POLICY = HealthPolicy(ejection_jitter=0.0, base_ejection_time=30.0, max_ejection_time=300.0)


def proxies(n: int) -> list[Proxy]:
    return [Proxy("http", f"10.0.0.{i + 1}", 8080) for i in range(n)]


def make_pool(clock: FakeClock, n: int = 4, **kwargs: object) -> ProxyPool:
    kwargs.setdefault("policy", POLICY)
    kwargs.setdefault("rng", random.Random(1))
    return ProxyPool(proxies(n), clock=clock, **kwargs)  # type: ignore[arg-type]


def fail(pool: ProxyPool, proxy: Proxy, failure: Failure | None, times: int = 1, site: str = "a.example") -> None:
    for _ in range(times):
        pool.report(proxy, site, failure, 0.1)


def test_empty_pool_is_config_error() -> None:
    """A pool without proxies is refused with a message saying what to give."""
    with pytest.raises(ConfigError, match="the proxy pool is empty"):
        ProxyPool([])


def test_strings_parsed_and_deduplicated(clock: FakeClock) -> None:
    """Proxy strings in any format are parsed; duplicates dropped, order kept."""
    pool = ProxyPool(["10.0.0.1:80", "socks5://u:p@10.0.0.2:1080", "http://10.0.0.1:80"], clock=clock)
    assert pool.proxies == (Proxy("http", "10.0.0.1", 80), Proxy("socks5", "10.0.0.2", 1080, "u", "p"))
    assert "p@" not in repr(pool)


def test_lease_counts_in_flight_and_report_releases(clock: FakeClock) -> None:
    """A lease counts one request in flight; report (or release) ends it."""
    pool = make_pool(clock, n=1)
    proxy = pool.lease("a.example")
    second = pool.lease("a.example")
    assert pool.in_flight(proxy) == 2
    pool.report(proxy, "a.example", None, 0.2)
    assert pool.in_flight(proxy) == 1
    pool.release(second)
    pool.release(second)  # an extra release never goes below zero
    assert pool.in_flight(proxy) == 0


def test_least_loaded_spreads_concurrent_leases(clock: FakeClock) -> None:
    """Concurrent leases with the default strategy spread over the proxies instead of piling on one."""
    pool = make_pool(clock, n=4)
    leased = [pool.lease("a.example") for _ in range(8)]
    assert max(Counter(p.key for p in leased).values()) <= 3


def test_proxy_failures_eject_and_lease_avoids(clock: FakeClock) -> None:
    """Three proxy failures eject a proxy: no lease returns it until its ejection ends."""
    pool = make_pool(clock, strategy=RoundRobin())
    bad = pool.proxies[0]
    fail(pool, bad, REFUSED, 3)
    assert pool.status()[0].state is HealthState.EJECTED
    assert bad not in {pool.lease("a.example") for _ in range(30)}


def test_origin_and_local_failures_never_eject(clock: FakeClock) -> None:
    """Origin- and local-blamed failures, however many, leave the proxy in rotation."""
    pool = make_pool(clock, n=2)
    target = pool.proxies[0]
    fail(pool, target, ORIGIN_RESET, 10)
    fail(pool, target, LOCAL, 10)
    status = pool.status()[0]
    assert status.state is HealthState.HEALTHY
    assert status.health.total_failures == 0


def test_half_open_one_request_decides(clock: FakeClock) -> None:
    """After the ejection, one lease goes to the half-open proxy at a time; a success restores it."""
    pool = make_pool(clock, n=2, strategy=RoundRobin())
    bad, good = pool.proxies
    fail(pool, bad, REFUSED, 3)
    clock.advance(30.0)
    assert pool.status()[0].state is HealthState.HALF_OPEN
    first = [pool.lease("a.example") for _ in range(4)]
    assert Counter(first)[bad] == 1  # the trial request only
    pool.report(bad, "a.example", None, 0.1)
    assert pool.status()[0].state is HealthState.HEALTHY
    for p in first[1:]:
        pool.release(p)
    assert bad in {pool.lease("a.example") for _ in range(4)}
    assert good in pool.proxies


def test_half_open_failure_reejects_longer(clock: FakeClock) -> None:
    """A failed trial ejects the proxy again for twice as long."""
    pool = make_pool(clock, n=4)
    bad = pool.proxies[0]
    fail(pool, bad, REFUSED, 3)
    clock.advance(30.0)
    fail(pool, bad, REFUSED)
    health = pool.status()[0].health
    assert health.ejections == 2
    assert health.ejected_until == clock.now + 60.0


def test_max_ejection_share_keeps_half_the_pool(clock: FakeClock) -> None:
    """With 4 proxies and 3 that worked before failing, only 2 are ejected (50 % cap) while one still works."""
    pool = make_pool(clock, n=4)
    for proxy in pool.proxies[:3]:
        fail(pool, proxy, None)
        fail(pool, proxy, REFUSED, 5)
    states = [s.state for s in pool.status()]
    assert states == [HealthState.EJECTED, HealthState.EJECTED, HealthState.HEALTHY, HealthState.HEALTHY]
    assert pool.status()[2].health.consecutive_failures == 5


def test_dead_proxies_all_ejected_past_the_share(clock: FakeClock) -> None:
    """Proxies that never worked are all ejected, past the 50 % share, while one healthy proxy serves."""
    pool = make_pool(clock, n=4)
    for proxy in pool.proxies[:3]:
        fail(pool, proxy, REFUSED, 3)
    assert [s.state for s in pool.status()] == [HealthState.EJECTED] * 3 + [HealthState.HEALTHY]
    assert {pool.lease("a.example") for _ in range(5)} == {pool.proxies[3]}


def test_everyone_failing_ejects_all_and_leases_least_bad(clock: FakeClock) -> None:
    """When every proxy fails the cap is lifted; a lease then gets the proxy whose ejection ends first."""
    pool = make_pool(clock, n=3, policy=HealthPolicy(ejection_jitter=0.0, max_ejection_percent=34.0))
    a, b, c = pool.proxies
    for proxy in pool.proxies:
        fail(pool, proxy, None)  # each worked once, so the share applies to them
    fail(pool, a, REFUSED, 3)
    clock.advance(1)
    fail(pool, b, REFUSED, 3)  # b over the cap while c is fine: stays in
    assert pool.status()[1].state is HealthState.HEALTHY
    clock.advance(1)
    fail(pool, c, REFUSED, 3)  # now every other proxy is out or failing: c goes
    fail(pool, b, REFUSED, 1)  # and b too
    assert {s.state for s in pool.status()} == {HealthState.EJECTED}
    assert pool.lease("a.example") == a  # a's ejection ends first


def test_ban_is_per_site_and_expires(clock: FakeClock) -> None:
    """A 403 bans the proxy from that site only, for the cooldown; health is untouched."""
    pool = make_pool(clock, n=2, bans=BanPolicy(cooldown=60.0))
    banned, other = pool.proxies
    pool.report(banned, "Shop.Example", FORBIDDEN, 0.3)
    assert {pool.lease("shop.example") for _ in range(10)} == {other}
    assert banned in {pool.lease("news.example") for _ in range(20)}
    status = pool.status()[0]
    assert status.state is HealthState.HEALTHY
    assert status.banned_sites == {"shop.example": clock.now + 60.0}
    clock.advance(60.0)
    assert banned in {pool.lease("shop.example") for _ in range(20)}


def test_all_banned_gives_ban_ending_first(clock: FakeClock) -> None:
    """When every proxy is banned from a site, the lease gets the one whose ban ends first."""
    pool = make_pool(clock, n=2)
    first, second = pool.proxies
    pool.report(second, "shop.example", FORBIDDEN, 0.1)
    clock.advance(5)
    pool.report(first, "shop.example", FORBIDDEN, 0.1)
    assert pool.lease("shop.example") == second


def test_exclude_tried_prefers_untried_then_healthy_tried(clock: FakeClock) -> None:
    """exclude skips proxies tried in this request; when all are tried, a healthy one beats an ejected one."""
    pool = make_pool(clock, n=3)
    a, b, c = pool.proxies
    assert pool.lease("a.example", exclude={a.key, b.key}) == c
    fail(pool, c, REFUSED, 3)
    assert pool.lease("a.example", exclude={a.key, b.key, c.key}) in {a, b}


def test_sticky_session_keeps_proxy_until_it_fails(clock: FakeClock) -> None:
    """A session key gets the same proxy every time, and another one after its proxy fails."""
    pool = make_pool(clock, n=4)
    first = pool.lease("a.example", key="user-42")
    pool.report(first, "a.example", None, 0.1)
    for _ in range(10):
        again = pool.lease("a.example", key="user-42")
        pool.report(again, "a.example", None, 0.1)
        assert again == first
    pool.report(pool.lease("a.example", key="user-42"), "a.example", RESET, 0.1)  # one failure, not ejected
    moved = pool.lease("a.example", key="user-42")
    assert moved != first
    assert pool.lease("a.example", key="user-42") == moved


def test_sticky_session_moves_when_banned_for_site(clock: FakeClock) -> None:
    """A session whose proxy is banned from a site gets another proxy there."""
    pool = make_pool(clock, n=3)
    first = pool.lease("shop.example", key="s")
    pool.report(first, "shop.example", FORBIDDEN, 0.1)
    assert pool.lease("shop.example", key="s") != first


def test_templated_sessions(clock: FakeClock) -> None:
    """A vendor template rewrites the username; reports land on the gateway; a failure rotates the id."""
    gateway = Proxy("http", "gw.example.net", 7777, "cust1", "pw")
    pool = ProxyPool([gateway], clock=clock, policy=POLICY, sessions=StickySessions("{user}-session-{key}"))
    leased = pool.lease("a.example", key="a7")
    assert leased.username == "cust1-session-a7"
    assert pool.in_flight(gateway) == 1
    pool.report(leased, "a.example", TIMEOUT, 5.0)
    assert pool.in_flight(gateway) == 0
    assert pool.status()[0].health.consecutive_failures == 1
    assert pool.lease("a.example", key="a7").username == "cust1-session-a7-1"


def test_probe_restores_half_open_without_lease(clock: FakeClock) -> None:
    """A probe outcome restores a half-open proxy and does not touch in-flight counts."""
    pool = make_pool(clock, n=2)
    bad = pool.proxies[0]
    fail(pool, bad, REFUSED, 3)
    clock.advance(31)
    other = pool.lease("a.example")
    pool.probe(bad, None, 0.05)
    assert pool.status()[0].state is HealthState.HEALTHY
    assert pool.in_flight(other) == 1


def test_two_pools_share_a_store(clock: FakeClock) -> None:
    """Two pools on one store see each other's ejections at once."""
    store = MemoryStore()
    one = ProxyPool(proxies(3), store=store, clock=clock, policy=POLICY)
    two = ProxyPool(proxies(3), store=store, clock=clock, policy=POLICY)
    fail(one, one.proxies[0], REFUSED, 3)
    assert one.proxies[0] not in {two.lease("a.example") for _ in range(20)}


def test_farm_simulation(clock: FakeClock) -> None:
    """500 jobs over a farm of 20 (6 good, 14 bad in 4 ways, 3 banned by one site) all succeed.

    No healthy proxy is ejected, every dead one is ejected after at most 3 failures (a blackhole
    may instead be priced out by its timeouts first), and the proxies banned by one site keep
    serving the others.
    """
    farm: dict[str, list[Proxy]] = {
        "good": [Proxy("http", f"10.1.0.{i}", 8080) for i in range(6)],
        "refuse": [Proxy("http", f"10.2.0.{i}", 8080) for i in range(3)],
        "blackhole": [Proxy("http", f"10.3.0.{i}", 8080) for i in range(3)],
        "reset": [Proxy("http", f"10.4.0.{i}", 8080) for i in range(3)],
        "auth": [Proxy("http", f"10.5.0.{i}", 8080) for i in range(2)],
        "banned": [Proxy("http", f"10.6.0.{i}", 8080) for i in range(3)],
    }
    profile = {p.key: kind for kind, ps in farm.items() for p in ps}
    outcome_of = {"refuse": REFUSED, "blackhole": TIMEOUT, "reset": RESET, "auth": AUTH}
    everyone = [p for ps in farm.values() for p in ps]
    random.Random(3).shuffle(everyone)
    pool = ProxyPool(everyone, clock=clock, policy=HealthPolicy(), rng=random.Random(5))
    blamed: Counter[str] = Counter()
    sites = ["shop.example", "news.example", "maps.example"]
    served_other_sites = 0
    for job in range(500):
        site = sites[job % 3]
        tried: list[str] = []
        for _attempt in range(10):
            proxy = pool.lease(site, exclude=tried)
            kind = profile[proxy.key]
            tried.append(proxy.key)
            clock.advance(0.01)
            if kind in outcome_of:
                blamed[proxy.key] += 1
                pool.report(proxy, site, outcome_of[kind], 0.5)
                continue
            if kind == "banned" and site == "shop.example":
                pool.report(proxy, site, FORBIDDEN, 0.05)
                continue
            served_other_sites += kind == "banned"
            pool.report(proxy, site, None, 0.05)
            break
        else:
            pytest.fail(f"job {job} did not succeed in 10 attempts")
    states = {s.proxy.key: s for s in pool.status()}
    assert all(states[p.key].state is HealthState.HEALTHY for p in farm["good"] + farm["banned"])
    for kind in outcome_of:
        for proxy in farm[kind]:
            health = states[proxy.key].health
            if kind == "blackhole":
                # Its first timeout prices it at 0.5 s against 0.05 s: it gets a request only when drawn
                # against a worse proxy, so it may never reach its third failure in a run this short.
                assert 1 <= blamed[proxy.key] <= 3, (kind, blamed[proxy.key])
                assert health.latency_ewma == 0.5
                assert health.ejections == (1 if blamed[proxy.key] == 3 else 0)
                continue
            # The run lasts about 5 s of fake time, less than one ejection: 3 failures each, no more.
            assert blamed[proxy.key] == 3, (kind, blamed[proxy.key])
            assert health.ejections >= 1
    assert served_other_sites > 0
    bans = [set(states[p.key].banned_sites) for p in farm["banned"]]
    assert all(sites <= {"shop.example"} for sites in bans)
    assert {"shop.example"} in bans
    assert not any(states[p.key].banned_sites for p in farm["good"])


class CountingStore(MemoryStore):
    """A memory store that counts the proxies each read_many asks for."""

    def __init__(self) -> None:
        super().__init__()
        self.reads: list[int] = []

    def read_many(self, keys: Sequence[str]) -> dict[str, ProxyHealth]:
        self.reads.append(len(keys))
        return super().read_many(keys)


def big_pool(clock: FakeClock, n: int = 1000, **kwargs: object) -> ProxyPool:
    """``n`` proxies (10.x.y.z), the default strategy unless told."""
    listed = [Proxy("http", f"10.{i // 250 + 1}.{i % 250}.1", 8080) for i in range(n)]
    kwargs.setdefault("policy", POLICY)
    kwargs.setdefault("rng", random.Random(1))
    return ProxyPool(listed, clock=clock, **kwargs)  # type: ignore[arg-type]


def test_big_pool_lease_reads_only_the_proxies_it_draws(clock: FakeClock) -> None:
    """With 1,000 proxies in rotation the first lease reads all of them, each later one just the two it draws."""
    store = CountingStore()
    pool = big_pool(clock, store=store)
    for _ in range(50):
        pool.report(pool.lease("a.example"), "a.example", None, 0.05)
    assert store.reads[0] == 1000
    leases = [n for n in store.reads[1:] if n != 1]  # a success's report reads nothing; its lease reads 2
    assert leases == [2] * 49


def test_proxy_failure_reads_every_proxy_only_when_it_ejects(clock: FakeClock) -> None:
    """A proxy failure that cannot eject reads its own proxy; the one that ejects reads all (the ejection cap)."""
    store = CountingStore()
    pool = big_pool(clock, n=10, store=store)
    bad = pool.proxies[3]
    fail(pool, bad, REFUSED, 2)
    assert store.reads == [1, 1]
    fail(pool, bad, REFUSED)
    assert store.reads == [1, 1, 1, 10]
    assert pool.status()[3].state is HealthState.EJECTED


def test_big_pool_draws_uniformly(clock: FakeClock) -> None:
    """The random strategy drawing lazily from 40 proxies gives each about the same share."""
    pool = big_pool(clock, n=40, strategy="random")
    counts = Counter(pool.lease("a.example") for _ in range(4000))
    for proxy in pool.proxies:
        pool.release(proxy)
    assert len(counts) == 40
    assert 60 <= min(counts.values()) <= max(counts.values()) <= 140


def test_big_pool_leases_skip_banned_tried_and_ejected(clock: FakeClock) -> None:
    """Of 1,000 proxies, drawn leases never give one banned for the site, tried, or ejected by another pool."""
    store = MemoryStore()
    pool = big_pool(clock, store=store)
    other = big_pool(clock, store=store, policy=HealthPolicy(ejection_jitter=0.0, max_ejection_percent=100.0))
    pool.release(pool.lease("a.example"))  # this pool's view of the health is read now: all healthy
    out = set(other.proxies[:400])
    for proxy in out:
        fail(other, proxy, REFUSED, 3)
    banned = set(pool.proxies[400:700])
    for proxy in banned:
        pool.report(proxy, "a.example", FORBIDDEN, 0.05)
    tried = [p.key for p in pool.proxies[700:900]]
    leased = Counter(pool.lease("a.example", exclude=tried) for _ in range(300))
    assert set(leased) <= set(pool.proxies[900:])
    assert len(leased) > 50


def test_big_pool_mostly_out_still_finds_the_few_in_rotation(clock: FakeClock) -> None:
    """With 995 of 1,000 proxies ejected, every lease still finds one of the 5 left (past the draw budget)."""
    pool = big_pool(clock, policy=HealthPolicy(ejection_jitter=0.0, max_ejection_percent=100.0))
    for proxy in pool.proxies[5:]:
        fail(pool, proxy, REFUSED, 3)
    leased = Counter(pool.lease("a.example") for _ in range(200))
    assert set(leased) == set(pool.proxies[:5])


def test_proxy_restored_elsewhere_is_leased_at_once(clock: FakeClock) -> None:
    """A proxy this pool last saw ejected, restored by another pool's probe, is handed out by the next lease."""
    store = MemoryStore()
    one = ProxyPool(proxies(3), store=store, clock=clock, policy=POLICY)
    two = ProxyPool(proxies(3), store=store, clock=clock, policy=POLICY)
    first = one.proxies[0]
    fail(one, first, REFUSED, 3)
    one.release(one.lease("a.example"))  # one's view: first ejected
    clock.advance(31.0)
    two.probe(first, None, 0.05)
    others = [p.key for p in one.proxies[1:]]
    assert one.lease("a.example", exclude=others) == first
    assert one.status()[0].state is HealthState.HEALTHY


def test_stall_limit_follows_the_proxies_in_rotation(clock: FakeClock) -> None:
    """Ejected proxies' timed-out latencies do not raise the typical latency: a proxy sitting on a request stalls."""
    policy = HealthPolicy(ejection_jitter=0.0, latency_alpha=1.0, max_ejection_percent=100.0)
    pool = make_pool(clock, n=6, policy=policy)
    silent, fast_a, fast_b, *dead = pool.proxies
    for proxy in dead:  # ejected, their latency estimates raised to the 5 s their timeouts waited
        fail(pool, proxy, TIMEOUT, 3)
        pool.report(proxy, "a.example", TIMEOUT, 5.0)
    pool.report(silent, "a.example", None, 0.01)
    for proxy in (fast_a, fast_b):
        pool.report(proxy, "a.example", None, 0.02)
    everyone_but = {p: [q.key for q in pool.proxies if q != p] for p in pool.proxies}
    assert pool.lease("a.example", exclude=everyone_but[silent]) == silent
    clock.advance(0.085)
    for proxy in (fast_a, fast_b):
        for _ in range(9):
            assert pool.lease("a.example", exclude=everyone_but[proxy]) == proxy
    clock.advance(0.005)
    # silent: 0.09 s x 2 = 0.18 beats 0.02 x 10 = 0.2 on cost, but 0.09 s is past 4 typical latencies of the
    # proxies in rotation (0.02 s); the median of every estimate (2.5 s) would let it through.
    picks = Counter(pool.lease("a.example") for _ in range(20))
    assert silent not in picks
    assert set(picks) == {fast_a, fast_b}
