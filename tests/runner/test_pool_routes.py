"""PoolRoutes: a ProxyPool behind the route seam, end to end with scripted outcomes and fake clocks."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence

import pytest

from sockwise import Blame, ErrorCode, Failure, Phase, Proxy, RequestFailed
from sockwise.pool import HealthPolicy, HealthState, MemoryStore, ProxyHealth, ProxyPool, RoundRobin
from sockwise.retry import Backoff, RetryPolicy
from sockwise.runner import DIRECT, FixedProxyRoutes, PoolRoutes, Route, RouteProvider
from sockwise.testing import FakeClock, ScriptedOutcomes, ScriptedResponse

A = Proxy("http", "10.0.0.1", 8080)
B = Proxy("http", "10.0.0.2", 8080)
C = Proxy("socks5", "10.0.0.3", 1080, "carol", "s3cret-pw")
FORBIDDEN = Failure(ErrorCode.HTTP_STATUS, Phase.WAIT, Blame.ORIGIN, request_sent=True, status=403)
REFUSED = Failure(ErrorCode.ECONNREFUSED, Phase.PROXY_CONNECT, Blame.PROXY, request_sent=False)
FIXED = Backoff.fixed(0.5)


class CountingStore(MemoryStore):
    """A memory store that counts the calls made to it."""

    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    def read_many(self, keys: Sequence[str]) -> dict[str, ProxyHealth]:
        self.calls += 1
        return super().read_many(keys)

    def bans(self, site: str, *, now: float) -> dict[str, float]:
        self.calls += 1
        return super().bans(site, now=now)

    def update(self, key: str, step: Callable[[ProxyHealth], ProxyHealth]) -> ProxyHealth:
        self.calls += 1
        return super().update(key, step)


def make_pool(clock: FakeClock, proxies: Sequence[Proxy] = (A, B, C), **kwargs: object) -> ProxyPool:
    kwargs.setdefault("strategy", RoundRobin())
    kwargs.setdefault("policy", HealthPolicy(ejection_jitter=0.0))
    return ProxyPool(proxies, clock=clock.time, **kwargs)  # type: ignore[arg-type]


def policy(**kwargs: object) -> RetryPolicy:
    kwargs.setdefault("backoff", FIXED)
    kwargs.setdefault("budget", None)
    return RetryPolicy(**kwargs)  # type: ignore[arg-type]


def banned_sites(pool: ProxyPool) -> dict[str, list[str]]:
    return {s.proxy.host: sorted(s.banned_sites) for s in pool.status() if s.banned_sites}


def test_is_a_route_provider_and_repr_hides_passwords() -> None:
    """PoolRoutes satisfies RouteProvider; its repr shows the pool and key, never a password."""
    routes = PoolRoutes(make_pool(FakeClock()), key="user-7")
    assert isinstance(routes, RouteProvider)
    shown = "PoolRoutes(<ProxyPool 3 proxies, store=memory://, strategy=round_robin>, key='user-7')"
    assert repr(routes) == shown
    assert "s3cret" not in repr(routes)


def test_lease_skips_excluded_routes() -> None:
    """A lease never returns a route this request switched away from while another exists; 'direct' is ignored."""
    routes = PoolRoutes(make_pool(FakeClock()))
    seen = [routes.lease("a.example", frozenset({A, DIRECT})) for _ in range(4)]
    assert seen == [B, C, B, C]


def test_report_passes_the_host_as_site() -> None:
    """A 403 reported for a host bans that proxy for that host only; a direct report is ignored."""
    pool = make_pool(FakeClock())
    routes = PoolRoutes(pool)
    leased = routes.lease("shop.example", frozenset())
    routes.report(leased, "shop.example", FORBIDDEN, 0.1)
    routes.report(DIRECT, "shop.example", REFUSED, 0.1)
    assert banned_sites(pool) == {leased.host: ["shop.example"]}  # type: ignore[union-attr]
    assert pool.in_flight(leased) == 0  # type: ignore[arg-type]


def test_release_ends_the_lease() -> None:
    """release() ends a lease without an outcome (health untouched); 'direct' is a no-op."""
    pool = make_pool(FakeClock())
    routes = PoolRoutes(pool)
    leased = routes.lease("a.example", frozenset())
    assert pool.in_flight(leased) == 1  # type: ignore[arg-type]
    routes.release(leased)
    routes.release(DIRECT)
    assert pool.in_flight(leased) == 0  # type: ignore[arg-type]
    assert [s.health for s in pool.status()] == [ProxyHealth()] * 3


def test_has_alternative_counts_untried_available_unbanned() -> None:
    """An alternative is a proxy not excluded, not ejected and not banned for that host."""
    clock = FakeClock()
    pool = make_pool(clock, policy=HealthPolicy(consecutive_failures=1, ejection_jitter=0.0))
    routes = PoolRoutes(pool)
    routes.lease("a.example", frozenset())
    assert routes.has_alternative("a.example", frozenset({A, B})) is True
    assert routes.has_alternative("a.example", frozenset({A, B, C})) is False
    pool.report(C, "a.example", FORBIDDEN, 0.1)  # C banned from a.example only
    assert routes.has_alternative("a.example", frozenset({A, B})) is False
    assert routes.has_alternative("b.example", frozenset({A, B})) is True
    pool.report(B, "b.example", REFUSED, 0.1)  # B ejected (one failure is enough here)
    assert routes.has_alternative("b.example", frozenset({A, C})) is False
    clock.advance(3600.0)  # the ban and the ejection are over
    assert routes.has_alternative("a.example", frozenset({A, B})) is True
    assert routes.has_alternative("b.example", frozenset({A, C})) is True


def test_has_alternative_reads_no_store_after_a_lease() -> None:
    """After a lease for the host, has_alternative answers without a store call."""
    store = CountingStore()
    routes = PoolRoutes(make_pool(FakeClock(), store=store))
    leased = routes.lease("a.example", frozenset())
    routes.report(leased, "a.example", None, 0.1)
    before = store.calls
    for _ in range(5):
        assert routes.has_alternative("a.example", frozenset({leased})) is True
    assert store.calls == before


def test_403_switches_to_another_proxy_and_bans_the_first_for_that_site() -> None:
    """A 403 through proxy A: switch_route to B (200); A is banned from shop.example and not leased for it again."""
    script = ScriptedOutcomes([403, "ok", "ok", "ok"])
    pool = make_pool(script.clock)
    runner = script.runner(policy(), routes=PoolRoutes(pool))
    result = runner.run(script, method="GET", host="shop.example")
    assert result.response == ScriptedResponse(200)
    assert result.reason is None
    assert [(a.route, a.status, a.action, a.delay) for a in result.attempts] == [
        (A.redacted, 403, "switch_route", 0.5),
        (B.redacted, 200, "done", 0.0),
    ]
    failure = result.attempts[0].failure
    assert failure is not None
    assert (failure.code, failure.blame, failure.status) == (ErrorCode.HTTP_STATUS, Blame.ORIGIN, 403)
    assert banned_sites(pool) == {A.host: ["shop.example"]}
    assert script.clock.sleeps == [0.5]
    # The next requests: A stays out for shop.example, serves other sites.
    assert runner.run(script, method="GET", host="shop.example").attempts[0].route == C.redacted
    assert runner.run(script, method="GET", host="blog.example").attempts[0].route == A.redacted
    states = {s.proxy.host: (s.state, s.health.total_successes, s.health.total_failures) for s in pool.status()}
    assert states == {
        A.host: (HealthState.HEALTHY, 2, 0),  # the 403 showed the proxy works: the site refused it
        B.host: (HealthState.HEALTHY, 1, 0),
        C.host: (HealthState.HEALTHY, 1, 0),
    }


def test_403_when_every_other_proxy_is_banned_is_returned() -> None:
    """With every other proxy banned for the host, a 403 is the answer: returned, reason None."""
    script = ScriptedOutcomes([403, 403, "ok"])
    pool = make_pool(script.clock, proxies=(A, B))
    routes = PoolRoutes(pool)
    pool.report(B, "shop.example", FORBIDDEN, 0.1)
    result = script.runner(policy(), routes=routes).run(script, method="GET", host="shop.example")
    assert result.response == ScriptedResponse(403)
    assert result.reason is None
    assert [(a.route, a.status, a.action) for a in result.attempts] == [(A.redacted, 403, "done")]
    assert banned_sites(pool) == {A.host: ["shop.example"], B.host: ["shop.example"]}


def test_429_through_the_pool_switches_instead_of_waiting() -> None:
    """A 429 with Retry-After 30 through A: switch to B after the backoff, not 30 s."""
    script = ScriptedOutcomes(["429 retry-after=30", "ok"])
    pool = make_pool(script.clock)
    result = script.runner(policy(), routes=PoolRoutes(pool)).run(script, method="GET", host="api.example")
    assert [(a.route, a.status, a.action, a.delay) for a in result.attempts] == [
        (A.redacted, 429, "switch_route", 0.5),
        (B.redacted, 200, "done", 0.0),
    ]
    assert banned_sites(pool) == {A.host: ["api.example"]}


def test_proxy_failures_switch_to_an_untried_proxy() -> None:
    """Refused and 407 (proxy-blamed) switch to the next untried proxy; a success in between resets the run."""
    script = ScriptedOutcomes(["ECONNREFUSED@proxy_connect", "ok"] * 2 + ["PROXY_AUTH@proxy_handshake", "ok"])
    pool = make_pool(script.clock, policy=HealthPolicy(consecutive_failures=2, ejection_jitter=0.0))
    runner = script.runner(policy(), routes=PoolRoutes(pool))
    first = runner.run(script, method="GET", host="a.example")
    assert [(a.route, a.code, a.action) for a in first.attempts] == [
        (A.redacted, ErrorCode.ECONNREFUSED, "switch_route"),
        (B.redacted, None, "done"),
    ]
    second = runner.run(script, method="GET", host="a.example")
    assert [(a.route, a.code, a.action) for a in second.attempts] == [
        (C.redacted, ErrorCode.ECONNREFUSED, "switch_route"),
        (A.redacted, None, "done"),  # A's success resets its run of failures
    ]
    third = runner.run(script, method="GET", host="a.example")
    assert [(a.route, a.code, a.action) for a in third.attempts] == [
        (B.redacted, ErrorCode.PROXY_AUTH, "switch_route"),
        (C.redacted, None, "done"),
    ]
    health = {s.proxy.host: (s.state, s.health.total_failures) for s in pool.status()}
    assert health == {
        A.host: (HealthState.HEALTHY, 1),
        B.host: (HealthState.HEALTHY, 1),
        C.host: (HealthState.HEALTHY, 1),
    }


def test_a_proxy_failing_twice_in_a_row_is_ejected_and_skipped() -> None:
    """Two refusals in a row eject proxy A; the next request's lease skips it."""
    script = ScriptedOutcomes(["ECONNREFUSED@proxy_connect", "ok", "ok"])
    pool = make_pool(script.clock, proxies=(A, B), policy=HealthPolicy(consecutive_failures=2, ejection_jitter=0.0))
    pool.report(A, "a.example", REFUSED, 0.1)
    runner = script.runner(policy(), routes=PoolRoutes(pool))
    result = runner.run(script, method="GET", host="a.example")
    assert [(a.route, a.action) for a in result.attempts] == [(A.redacted, "switch_route"), (B.redacted, "done")]
    assert [s.state for s in pool.status()] == [HealthState.EJECTED, HealthState.HEALTHY]
    assert runner.run(script, method="GET", host="a.example").attempts[0].route == B.redacted


def test_fixed_proxy_403_is_returned_as_before() -> None:
    """Through one fixed proxy a 403 stays the answer: one attempt, done, reason None."""
    script = ScriptedOutcomes([403])
    result = script.runner(policy(), routes=FixedProxyRoutes(A)).run(script, method="GET", host="shop.example")
    assert result.response == ScriptedResponse(403)
    assert result.reason is None
    assert [(a.status, a.action) for a in result.attempts] == [(403, "done")]


def test_direct_403_is_not_a_failure() -> None:
    """Direct, a 403 is not even recorded as a failure (unchanged)."""
    script = ScriptedOutcomes([403])
    result = script.runner(policy()).run(script, method="GET", host="shop.example")
    assert [(a.route, a.status, a.action, a.failure) for a in result.attempts] == [("direct", 403, "done", None)]


def test_async_driver_switches_the_same_way() -> None:
    """Runner.arun with PoolRoutes: the same attempts as the sync driver."""
    script = ScriptedOutcomes([403, "ok"])
    pool = make_pool(script.clock)
    runner = script.runner(policy(), routes=PoolRoutes(pool))
    result = asyncio.run(runner.arun(script.asend, method="GET", host="shop.example"))
    assert [(a.route, a.status, a.action) for a in result.attempts] == [
        (A.redacted, 403, "switch_route"),
        (B.redacted, 200, "done"),
    ]
    assert banned_sites(pool) == {A.host: ["shop.example"]}


def test_cancelled_attempt_releases_its_lease() -> None:
    """Cancelling a request mid-attempt ends the pool lease (in-flight back to 0), health untouched."""
    pool = make_pool(FakeClock())
    script = ScriptedOutcomes([])
    runner = script.runner(policy(), routes=PoolRoutes(pool))
    leased: list[Route] = []

    async def main() -> None:
        started = asyncio.Event()

        async def send(ctx: object) -> ScriptedResponse:
            leased.append(ctx.route)  # type: ignore[attr-defined]
            started.set()
            await asyncio.Event().wait()
            raise AssertionError("not reached")

        task = asyncio.ensure_future(runner.arun(send, method="GET", host="a.example"))
        await asyncio.wait_for(started.wait(), 5.0)
        assert pool.in_flight(leased[0]) == 1  # type: ignore[arg-type]
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())
    assert pool.in_flight(leased[0]) == 0  # type: ignore[arg-type]
    assert [s.health for s in pool.status()] == [ProxyHealth()] * 3


def test_dead_proxies_at_pool_start_do_not_use_up_attempts() -> None:
    """With attempts=1, three proxies refusing in a row still end on the fourth: the switches were free."""
    D = Proxy("http", "10.0.0.4", 8080)
    script = ScriptedOutcomes(["ECONNREFUSED@proxy_connect"] * 3 + ["ok"])
    pool = make_pool(script.clock, proxies=(A, B, C, D))
    result = script.runner(policy(attempts=1), routes=PoolRoutes(pool)).run(script, method="GET", host="a.example")
    assert [(a.route, a.code, a.action) for a in result.attempts] == [
        (A.redacted, ErrorCode.ECONNREFUSED, "switch_route"),
        (B.redacted, ErrorCode.ECONNREFUSED, "switch_route"),
        (C.redacted, ErrorCode.ECONNREFUSED, "switch_route"),
        (D.redacted, None, "done"),
    ]


def test_free_switches_run_out() -> None:
    """free_switches=2 and attempts=1: the third refusal ends the request (reason attempts)."""
    D = Proxy("http", "10.0.0.4", 8080)
    script = ScriptedOutcomes(["ECONNREFUSED@proxy_connect"] * 3 + ["ok"])
    pool = make_pool(script.clock, proxies=(A, B, C, D))
    runner = script.runner(policy(attempts=1, free_switches=2), routes=PoolRoutes(pool))
    with pytest.raises(RequestFailed) as caught:
        runner.run(script, method="GET", host="a.example")
    assert caught.value.reason == "attempts"
    assert [a.action for a in caught.value.attempts] == ["switch_route", "switch_route", "give_up"]
