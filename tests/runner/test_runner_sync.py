"""Runner.run: the attempt loop end to end with scripted outcomes and a fake clock (no sockets, no sleeps)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import pytest

from sockwise import Attempt, Blame, ErrorCode, Failure, Phase, Proxy, RequestFailed
from sockwise.retry import Backoff, RetryBudget, RetryPolicy
from sockwise.runner import DIRECT, AttemptContext, Route, Runner
from sockwise.testing import FakeClock, ScriptedOutcomes, ScriptedResponse, run_script

FIXED = Backoff.fixed(1.0)
SECRET_PROXY = Proxy("http", "10.0.0.1", 8080, "alice", "s3cret-pw")


def policy(**kwargs: object) -> RetryPolicy:
    kwargs.setdefault("backoff", FIXED)
    kwargs.setdefault("budget", None)
    return RetryPolicy(**kwargs)  # type: ignore[arg-type]


@dataclass
class ListRoutes:
    """A tiny pool: hands out the first route not excluded, records every call."""

    routes: list[Route]
    leases: list[frozenset[Route]] = field(default_factory=list)
    reports: list[tuple[Route, str, Failure | None, float]] = field(default_factory=list)
    released: list[Route] = field(default_factory=list)

    def lease(self, host: str, exclude: frozenset[Route]) -> Route:
        self.leases.append(exclude)
        for route in self.routes:
            if route not in exclude:
                return route
        return self.routes[0]

    def report(self, route: Route, host: str, failure: Failure | None, elapsed: float) -> None:
        self.reports.append((route, host, failure, elapsed))

    def release(self, route: Route) -> None:
        self.released.append(route)

    def has_alternative(self, host: str, exclude: frozenset[Route]) -> bool:
        return any(route not in exclude for route in self.routes)


def test_success_first_try() -> None:
    """A 200 at once: one Attempt 'done', the response returned, no sleep."""
    script = ScriptedOutcomes(["ok"])
    result = script.runner(policy()).run(script, method="GET", host="example.test")
    assert result.response == ScriptedResponse(200)
    assert result.reason is None
    assert [(a.number, a.route, a.status, a.action, a.failure) for a in result.attempts] == [
        (1, "direct", 200, "done", None)
    ]
    assert script.clock.sleeps == []


def test_get_retried_after_reset() -> None:
    """GET reset while waiting, then ok: one retry after the backoff, slept on the clock."""
    script = ScriptedOutcomes(["ECONNRESET@wait", "ok"])
    result = script.runner(policy()).run(script, method="GET", host="example.test")
    assert [(a.action, a.delay, a.code) for a in result.attempts] == [
        ("retry", 1.0, ErrorCode.ECONNRESET),
        ("done", 0.0, None),
    ]
    assert script.clock.sleeps == [1.0]
    assert result.attempts[1].elapsed == 1.0


def test_post_after_send_not_retried() -> None:
    """POST reset after sending: RequestFailed at once with reason not_idempotent and a one-line message."""
    script = ScriptedOutcomes(["ECONNRESET@wait", "ok"])
    with pytest.raises(RequestFailed) as info:
        script.runner(policy()).run(script, method="POST", host="example.test")
    err = info.value
    assert err.reason == "not_idempotent"
    assert err.failure.code is ErrorCode.ECONNRESET
    assert len(err.attempts) == 1
    assert str(err) == (
        "ECONNRESET while waiting for headers from origin; 1 attempt in 0.0 s; request was sent, POST not retried"
    )
    assert script.remaining == 1


def test_post_never_sent_is_retried() -> None:
    """POST refused at connect (never sent) is retried."""
    attempts = run_script(policy(), ["ECONNREFUSED@connect", "ok"], method="POST")
    assert [a.action for a in attempts] == ["retry", "done"]


def test_post_opt_in_retried() -> None:
    """POST with the per-request idempotent opt-in is retried after send."""
    attempts = run_script(policy(), ["ECONNRESET@wait", "ok"], method="POST", overrides={"idempotent": True})
    assert [a.action for a in attempts] == ["retry", "done"]


def test_stale_keepalive_race_immediate_fresh_retry_for_get() -> None:
    """A reused connection reset before any byte: immediate retry on a fresh connection, no sleep."""
    script = ScriptedOutcomes(["ECONNRESET@wait reused", "ok"])
    result = script.runner(policy(backoff=Backoff.fixed(5.0))).run(script, method="GET", host="h")
    assert [(a.action, a.delay) for a in result.attempts] == [("retry", 0.0), ("done", 0.0)]
    assert [c.fresh_connection for c in script.contexts] == [False, True]
    assert script.clock.sleeps == []


def test_stale_keepalive_race_only_once() -> None:
    """A second stale failure waits the backoff."""
    attempts = run_script(policy(backoff=Backoff.fixed(5.0)), ["UNEXPECTED_EOF@wait reused"] * 2 + ["ok"])
    assert [(a.action, a.delay) for a in attempts] == [("retry", 0.0), ("retry", 5.0), ("done", 0.0)]


def test_stale_keepalive_race_not_for_post() -> None:
    """The stale race is not retried for POST."""
    attempts = run_script(policy(), ["ECONNRESET@wait reused", "ok"], method="POST")
    assert [a.action for a in attempts] == ["give_up"]


def test_retry_after_seconds_is_waited() -> None:
    """503 with Retry-After: 2 sleeps exactly 2 s."""
    clock = FakeClock()
    attempts = run_script(policy(), ["503 retry-after=2", "ok"], clock=clock)
    assert [(a.status, a.action, a.delay) for a in attempts] == [(503, "retry", 2.0), (200, "done", 0.0)]
    assert clock.sleeps == [2.0]


def test_retry_after_http_date_is_waited() -> None:
    """A Retry-After HTTP-date 30 s after the (fake) wall time sleeps 30 s."""
    from email.utils import formatdate

    clock = FakeClock(wall=1_700_000_000.0)
    date = formatdate(1_700_000_030.0, usegmt=True)
    attempts = run_script(policy(), [ScriptedResponse(429, retry_after=date), "ok"], clock=clock)
    assert clock.sleeps == [30.0]
    assert attempts[0].delay == 30.0


def test_retry_after_bounded_by_max() -> None:
    """A Retry-After above max_retry_after returns the response at once, reason retry_after_too_long."""
    script = ScriptedOutcomes(["429 retry-after=600", "ok"])
    result = script.runner(policy(max_retry_after=60)).run(script, method="GET", host="h")
    assert result.response.status == 429
    assert result.reason == "retry_after_too_long"
    assert len(result.attempts) == 1
    assert script.clock.sleeps == []


def test_retry_after_beyond_deadline_gives_up_at_once() -> None:
    """A Retry-After longer than the time left ends the request at once, with attempts left."""
    script = ScriptedOutcomes(["503 retry-after=20", "ok"])
    result = script.runner(policy(attempts=5, deadline=10)).run(script, method="GET", host="h")
    assert result.reason == "retry_after_exceeds_deadline"
    assert [a.action for a in result.attempts] == ["give_up"]
    assert script.clock.sleeps == []


def test_status_retries_end_with_last_response() -> None:
    """Retries of 503 that run out return the last 503 (not raised), reason attempts."""
    released: list[ScriptedResponse] = []
    script = ScriptedOutcomes([503, 502, 504])
    runner = script.runner(policy(attempts=3))
    runner = Runner(
        policy=runner.policy, classify=runner.classify, clock=runner.clock, rng=runner.rng, release=released.append
    )
    result = runner.run(script, method="GET", host="h")
    assert result.response.status == 504
    assert result.reason == "attempts"
    assert [a.status for a in result.attempts] == [503, 502, 504]
    assert released == [ScriptedResponse(503), ScriptedResponse(502)]


def test_non_retried_status_is_done() -> None:
    """A 404 is an answer: Done, no failure."""
    attempts = run_script(policy(), [404])
    assert [(a.status, a.action, a.failure) for a in attempts] == [(404, "done", None)]


def test_deadline_never_crossed() -> None:
    """Attempts of 3 s with a 10 s deadline: the last try is cut to the time left, nothing crosses it."""
    clock = FakeClock()
    attempts = run_script(
        policy(attempts=10, deadline=10.0, backoff=Backoff.fixed(1.5)),
        ["ECONNRESET@wait"] * 10,
        duration=3.0,
        clock=clock,
    )
    # 3 s try, 1.5 s sleep, 3 s try, 1.5 s sleep, then a try cut to the 1 s left.
    assert [(a.action, a.elapsed) for a in attempts] == [("retry", 3.0), ("retry", 7.5), ("give_up", 10.0)]
    assert clock.sleeps == [1.5, 1.5]
    assert clock.monotonic() <= 10.0
    assert attempts[-1].failure is not None
    assert attempts[-1].failure.code is ErrorCode.ETIMEDOUT


def test_sleep_reaching_deadline_is_not_started() -> None:
    """At 8 s a 2 s sleep would reach the 10 s deadline: give up at 8 s instead of sleeping."""
    clock = FakeClock()
    attempts = run_script(
        policy(attempts=10, deadline=10.0, backoff=Backoff.fixed(2.0)),
        ["ECONNRESET@wait"] * 10,
        duration=3.0,
        clock=clock,
    )
    assert [(a.action, a.elapsed) for a in attempts] == [("retry", 3.0), ("give_up", 8.0)]
    assert clock.sleeps == [2.0]
    assert clock.monotonic() == 8.0


def test_per_try_timeout_bounded_by_remaining_deadline() -> None:
    """Each attempt gets min(timeout, time left): 4, 4, then the 1 s left of 10."""
    script = ScriptedOutcomes(["ECONNREFUSED@connect after=2"] * 3 + ["ok"])
    runner = script.runner(policy(attempts=5, deadline=10.0, timeout=4.0, backoff=Backoff.fixed(1.5)))
    with pytest.raises(RequestFailed) as info:
        runner.run(script, method="GET", host="h")
    assert [c.timeout for c in script.contexts] == [4.0, 4.0, 3.0]
    assert info.value.reason == "deadline"


def test_attempt_timeout_enforced_by_script() -> None:
    """A scripted attempt longer than its timeout ends at the timeout as ETIMEDOUT."""
    clock = FakeClock()
    attempts = run_script(policy(attempts=1, timeout=2.0), ["ok after=5"], clock=clock)
    assert attempts[0].code is ErrorCode.ETIMEDOUT
    assert clock.monotonic() == 2.0


def test_overrides_win() -> None:
    """Per-request {'retry': 5, 'retry_delay': 0.25} beats the policy's 2 attempts and 1 s."""
    clock = FakeClock()
    attempts = run_script(
        policy(attempts=2), ["ECONNRESET@wait"] * 6, overrides={"retry": 5, "retry_delay": 0.25}, clock=clock
    )
    assert len(attempts) == 6
    assert clock.sleeps == [0.25] * 5


def test_budget_ends_a_storm() -> None:
    """1000 failing GETs, 3 attempts each: retries stop at 20 % + the floor, reason budget."""
    shared = RetryPolicy(attempts=3, backoff=Backoff.fixed(0.0))
    assert shared.budget is not None
    clock = FakeClock()
    retries = 0
    reasons: set[str] = set()
    for _ in range(1000):
        script = ScriptedOutcomes(["ECONNRESET@wait"] * 3, clock=clock)
        runner = script.runner(shared)
        with pytest.raises(RequestFailed) as info:
            runner.run(script, method="GET", host="storm.test")
        retries += len(info.value.attempts) - 1
        reasons.add(info.value.reason)
    assert retries == 300
    assert retries <= 0.2 * 1000 + 100
    assert reasons == {"attempts", "budget"}


def test_budget_give_up_message() -> None:
    """An exhausted budget says so in the message."""
    shared = RetryPolicy(budget=RetryBudget(ratio=0.0, min_retries_per_second=0.0))
    script = ScriptedOutcomes(["ECONNREFUSED@connect"])
    with pytest.raises(RequestFailed) as info:
        script.runner(shared).run(script, method="GET", host="b.test")
    assert info.value.reason == "budget"
    assert str(info.value).endswith("; retry budget for b.test exhausted")


def test_request_failed_chains_the_exception() -> None:
    """RequestFailed is raised from the last classified exception."""
    boom = ConnectionResetError(104, "Connection reset by peer")

    def classify(exc: BaseException, /, *, phase: Phase | None = None, via_proxy: bool = False) -> Failure:
        return Failure(ErrorCode.ECONNRESET, phase or Phase.UNKNOWN, Blame.ORIGIN, True, 104, exception=exc)

    def send(ctx: AttemptContext) -> object:
        ctx.phase = Phase.WAIT
        raise boom

    runner = Runner(policy=policy(attempts=2), classify=classify, clock=FakeClock())
    with pytest.raises(RequestFailed) as info:
        runner.run(send, method="GET", host="h")
    assert info.value.__cause__ is boom
    assert info.value.failure.phase is Phase.WAIT
    assert [a.action for a in info.value.attempts] == ["retry", "give_up"]


def test_hook_sees_every_attempt_in_order() -> None:
    """on_attempt is called once per Attempt, with the same records the result carries."""
    seen: list[Attempt] = []
    script = ScriptedOutcomes(["ECONNRESET@wait", 503, "ok"])
    result = script.runner(policy(), on_attempt=seen.append).run(script, method="GET", host="h")
    assert tuple(seen) == result.attempts
    assert [a.number for a in seen] == [1, 2, 3]


def test_switch_route_excludes_the_failed_proxy() -> None:
    """A 407 from one proxy switches to the next; the pool learns both outcomes."""
    other = Proxy("http", "10.0.0.2", 8080)
    routes = ListRoutes([SECRET_PROXY, other])
    script = ScriptedOutcomes(["PROXY_AUTH", "ok"])
    result = script.runner(policy(), routes=routes).run(script, method="POST", host="h")
    assert [(a.route, a.action) for a in result.attempts] == [
        ("http://alice:***@10.0.0.1:8080", "switch_route"),
        ("http://10.0.0.2:8080", "done"),
    ]
    assert routes.leases == [frozenset(), frozenset({SECRET_PROXY})]
    assert [(r[0], r[1], r[2].code if r[2] else None) for r in routes.reports] == [
        (SECRET_PROXY, "h", ErrorCode.PROXY_AUTH),
        (other, "h", None),
    ]
    assert [c.route for c in script.contexts] == [SECRET_PROXY, other]


def test_retry_same_route_does_not_exclude() -> None:
    """A plain Retry leases again without excluding the route just used."""
    routes = ListRoutes([SECRET_PROXY, Proxy("http", "10.0.0.2", 8080)])
    script = ScriptedOutcomes(["ECONNRESET@wait", "ok"])
    script.runner(policy(), routes=routes).run(script, method="GET", host="h")
    assert routes.leases == [frozenset(), frozenset()]


def test_proxy_auth_on_fixed_proxy_gives_up() -> None:
    """With one fixed proxy a 407 is never retried: no_other_route, password not in the message."""
    from sockwise.runner import FixedProxyRoutes

    script = ScriptedOutcomes(["PROXY_AUTH", "ok"])
    with pytest.raises(RequestFailed) as info:
        script.runner(policy(), routes=FixedProxyRoutes(SECRET_PROXY)).run(script, method="GET", host="h")
    assert info.value.reason == "no_other_route"
    assert "s3cret-pw" not in str(info.value)
    assert "via http://alice:***@10.0.0.1:8080" in str(info.value)


def test_proxied_gateway_status_is_not_blamed_on_origin() -> None:
    """A 502 through a proxy may be the proxy's own: blame unknown."""
    from sockwise.runner import FixedProxyRoutes

    script = ScriptedOutcomes([502, "ok"])
    result = script.runner(policy(), routes=FixedProxyRoutes(SECRET_PROXY)).run(script, method="GET", host="h")
    assert result.attempts[0].blame is Blame.UNKNOWN


def test_logging_has_structured_fields_and_no_credentials(caplog: pytest.LogCaptureFixture) -> None:
    """Each Attempt is logged on sockwise.retry with sockwise_* fields; the proxy password never appears."""
    from sockwise.runner import FixedProxyRoutes

    caplog.set_level(logging.DEBUG, logger="sockwise.retry")
    script = ScriptedOutcomes(["ECONNRESET@wait", "ok"])
    script.runner(policy(), routes=FixedProxyRoutes(SECRET_PROXY)).run(script, method="GET", host="h")
    records = [r for r in caplog.records if r.name == "sockwise.retry"]
    assert [(r.levelno, r.sockwise_action, r.sockwise_code) for r in records] == [  # type: ignore[attr-defined]
        (logging.INFO, "retry", "ECONNRESET"),
        (logging.DEBUG, "done", None),
    ]
    first = records[0]
    assert first.sockwise_route == "http://alice:***@10.0.0.1:8080"  # type: ignore[attr-defined]
    assert first.sockwise_phase == "wait"  # type: ignore[attr-defined]
    assert first.sockwise_request_sent is True  # type: ignore[attr-defined]
    assert first.sockwise_delay == 1.0  # type: ignore[attr-defined]
    for record in records:
        assert "s3cret-pw" not in record.getMessage()
        assert all("s3cret-pw" not in str(v) for v in vars(record).values())


def test_give_up_logged_as_warning(caplog: pytest.LogCaptureFixture) -> None:
    """A give-up is a WARNING with its reason."""
    caplog.set_level(logging.DEBUG, logger="sockwise.retry")
    run_script(policy(), ["TLS_CERT"])
    (record,) = [r for r in caplog.records if r.name == "sockwise.retry"]
    assert record.levelno == logging.WARNING
    assert record.sockwise_reason == "not_retryable"  # type: ignore[attr-defined]


def test_cancelled_attempt_releases_the_lease() -> None:
    """A BaseException from send (Ctrl-C) propagates and the route's lease is released."""
    routes = ListRoutes([DIRECT])

    def send(ctx: AttemptContext) -> object:
        raise KeyboardInterrupt

    runner = Runner(policy=policy(), routes=routes, clock=FakeClock(), classify=_no_classify)
    with pytest.raises(KeyboardInterrupt):
        runner.run(send, method="GET", host="h")
    assert routes.released == [DIRECT]
    assert routes.reports == []


def _no_classify(exc: BaseException, /, *, phase: Phase | None = None, via_proxy: bool = False) -> Failure:
    raise AssertionError("not called")


def test_script_too_short_escapes() -> None:
    """A script with fewer outcomes than attempts fails loudly, not as a RequestFailed."""
    from sockwise.testing import ScriptExhausted

    with pytest.raises(ScriptExhausted, match="attempt 2 has no outcome: the script has 1"):
        run_script(policy(), ["ECONNRESET@wait"])


def test_proxy_answering_407_switches_route() -> None:
    """A forward proxy's own 407 response is PROXY_AUTH: switch to another proxy, even for POST."""
    other = Proxy("http", "10.0.0.2", 8080)
    routes = ListRoutes([SECRET_PROXY, other])
    script = ScriptedOutcomes([407, "ok"])
    result = script.runner(policy(), routes=routes).run(script, method="POST", host="h")
    assert [(a.code, a.action) for a in result.attempts] == [(ErrorCode.PROXY_AUTH, "switch_route"), (None, "done")]


def test_via_proxy_reaches_the_classifier() -> None:
    """The classifier is told whether the attempt went through a proxy."""
    from sockwise.runner import DirectRoutes, FixedProxyRoutes

    seen: list[bool] = []

    def classify(exc: BaseException, /, *, phase: Phase | None = None, via_proxy: bool = False) -> Failure:
        seen.append(via_proxy)
        return Failure(ErrorCode.TLS_CERT, Phase.TLS, Blame.ORIGIN, False, exception=exc)

    def send(ctx: AttemptContext) -> object:
        raise OSError("boom")

    for routes in (FixedProxyRoutes(SECRET_PROXY), DirectRoutes()):
        runner = Runner(policy=policy(), classify=classify, clock=FakeClock(), routes=routes)
        with pytest.raises(RequestFailed):
            runner.run(send, method="GET", host="h")
    assert seen == [True, False]


def test_default_classifier_is_sockwise_classify() -> None:
    """Without a classify argument the runner uses sockwise.classify: a refused connect is retried, even a POST."""
    pytest.importorskip("sockwise._classify")

    def send(ctx: AttemptContext) -> object:
        ctx.phase = Phase.CONNECT
        raise ConnectionRefusedError(111, "Connection refused")

    runner = Runner(policy=policy(attempts=2), clock=FakeClock())
    with pytest.raises(RequestFailed) as info:
        runner.run(send, method="POST", host="h")
    assert info.value.reason == "attempts"
    assert [(a.code, a.phase, a.request_sent, a.action) for a in info.value.attempts] == [
        (ErrorCode.ECONNREFUSED, Phase.CONNECT, False, "retry"),
        (ErrorCode.ECONNREFUSED, Phase.CONNECT, False, "give_up"),
    ]


def test_a_route_provider_that_cannot_record_releases_the_response() -> None:
    """report() raising (a store gone away) ends the request with that error, and the response is released."""
    from sockwise import StoreUnavailable

    class Unrecordable(ListRoutes):
        def report(self, route: Route, host: str, failure: Failure | None, elapsed: float) -> None:
            raise StoreUnavailable("redis://127.0.0.1:1/0 is unreachable", url="redis://127.0.0.1:1/0")

    script = ScriptedOutcomes(["ok"])
    released: list[object] = []
    runner = Runner(
        policy=policy(),
        routes=Unrecordable([DIRECT]),
        classify=script.classify,
        clock=script.clock,
        release=released.append,
    )
    with pytest.raises(StoreUnavailable):
        runner.run(script, method="GET", host="example.test")
    assert released == [ScriptedResponse(200)]


def test_a_classifier_that_raises_leaves_no_lease() -> None:
    """A classify hook that raises propagates, and the attempt's route lease is released."""
    routes = ListRoutes([DIRECT])
    script = ScriptedOutcomes(["ECONNRESET@wait"])

    def broken(exc: BaseException, /, *, phase: Phase | None = None, via_proxy: bool = False) -> Failure:
        raise ValueError("classifier bug")

    runner = Runner(policy=policy(), routes=routes, classify=broken, clock=script.clock)
    with pytest.raises(ValueError, match="classifier bug"):
        runner.run(script, method="GET", host="example.test")
    assert routes.released == [DIRECT]
    assert routes.reports == []
