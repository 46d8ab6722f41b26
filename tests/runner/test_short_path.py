"""Runner's first-try short path (begin / settle / resume): same Attempts, errors and budget as the full loop."""

from __future__ import annotations

import asyncio
import errno
import logging
import random
from collections.abc import Awaitable, Callable, Iterator

import pytest

from sockwise import Attempt, Blame, ErrorCode, Failure, Phase, Proxy, RequestFailed
from sockwise.pool import HealthPolicy, ProxyPool, RoundRobin
from sockwise.retry import Backoff, RetryBudget, RetryPolicy
from sockwise.runner import (
    AttemptContext,
    DirectRoutes,
    FixedProxyRoutes,
    PoolRoutes,
    Raised,
    ResponseInfo,
    RouteProvider,
    Runner,
)
from sockwise.testing import FakeClock, ScriptedFailure, ScriptedOutcomes, ScriptedResponse, ScriptItem

PROXY = Proxy("socks5", "10.0.0.3", 1080, "carol", "s3cret-pw")
OTHER = Proxy("http", "10.0.0.9", 8080)
RESET = Failure(ErrorCode.ECONNRESET, Phase.WAIT, Blame.ORIGIN, request_sent=True, detail="scripted ECONNRESET@wait")


class _LongDirect(DirectRoutes):
    """DirectRoutes by behaviour, but not by type: the runner takes the full loop for it."""

    __slots__ = ()


class _LongFixed(FixedProxyRoutes):
    """FixedProxyRoutes by behaviour, but not by type: the runner takes the full loop for it."""

    __slots__ = ()


class _Records(logging.Handler):
    """Keeps what each record says: level, message and the ``sockwise_*`` fields."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[tuple[object, ...]] = []

    def emit(self, record: logging.LogRecord) -> None:
        fields = sorted((k, v) for k, v in vars(record).items() if k.startswith("sockwise_"))
        self.seen.append((record.levelname, record.getMessage(), fields))


@pytest.fixture
def own_log() -> Iterator[logging.Logger]:
    """A dedicated logger at DEBUG that does not propagate; level and flags restored afterwards."""
    logger = logging.getLogger("sockwise.test.shortpath")
    old = logger.level, logger.propagate
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    try:
        yield logger
    finally:
        logger.setLevel(old[0])
        logger.propagate = old[1]


def _runner(clock: FakeClock, policy: RetryPolicy, routes: RouteProvider | None = None, **kwargs: object) -> Runner:
    return Runner(policy=policy, routes=routes or DirectRoutes(), clock=clock, rng=random.Random(3), **kwargs)  # type: ignore[arg-type]


def _pool(clock: FakeClock) -> ProxyPool:
    health = HealthPolicy(ejection_jitter=0.0)
    return ProxyPool([PROXY], clock=clock.time, monotonic=clock.monotonic, strategy=RoundRobin(), policy=health)


# -- begin ---------------------------------------------------------------------------------------


def test_begin_is_none_for_a_pool() -> None:
    """begin() gives None for PoolRoutes: a provider that learns must see every attempt."""
    clock = FakeClock()
    assert _runner(clock, RetryPolicy(), PoolRoutes(_pool(clock))).begin("h") is None


def test_begin_is_none_with_on_attempt_and_deposits_nothing() -> None:
    """begin() gives None when on_attempt is set, and then counts no request in the budget."""
    budget = RetryBudget()
    runner = _runner(FakeClock(), RetryPolicy(budget=budget), on_attempt=lambda a: None)
    assert runner.begin("h") is None
    assert budget.usage("h", 0.0) == (0, 0)


@pytest.mark.parametrize(
    ("routes", "route"), [(DirectRoutes(), "direct"), (FixedProxyRoutes(PROXY), PROXY)], ids=["direct", "proxy"]
)
@pytest.mark.parametrize(
    ("timeout", "deadline", "expected"),
    [(None, None, None), (1.5, None, 1.5), (5.0, 2.0, 2.0), (1.5, 4.0, 1.5), (None, 3.0, 3.0)],
)
def test_begin_gives_the_first_context(
    routes: RouteProvider, route: object, timeout: float | None, deadline: float | None, expected: float | None
) -> None:
    """begin() gives attempt 1 on the static route, the per-try timeout cut to the deadline, began = clock now."""
    clock = FakeClock(start=42.5)
    runner = _runner(clock, RetryPolicy(timeout=timeout, deadline=deadline, budget=None), routes)
    assert runner.begin("h") == AttemptContext(1, route, expected, began=42.5)  # type: ignore[arg-type]


@pytest.mark.parametrize(("calls", "allowed"), [(1, 0), (2, 1), (4, 2), (7, 3)])
def test_begin_deposits_one_request_per_call(calls: int, allowed: int) -> None:
    """Each begin() counts exactly one request: after N calls a ratio-0.5 budget allows N // 2 retries."""
    budget = RetryBudget(ratio=0.5, min_retries_per_second=0)
    runner = _runner(FakeClock(), RetryPolicy(budget=budget))
    for _ in range(calls):
        assert runner.begin("h") is not None
    assert budget.usage("h", 0.0) == (calls, 0)
    assert sum(budget.try_withdraw("h", 0.0) for _ in range(calls + 1)) == allowed


def test_fixed_proxy_routes_proxy_is_read_only() -> None:
    """FixedProxyRoutes.proxy cannot be reassigned: the runner's short path takes the route once."""
    routes = FixedProxyRoutes(PROXY)
    runner = _runner(FakeClock(), RetryPolicy(budget=None), routes)
    with pytest.raises(AttributeError):
        routes.proxy = OTHER  # type: ignore[misc]
    ctx = runner.begin("h")
    assert ctx is not None
    assert ctx.route == routes.lease("h", frozenset()) == PROXY


# -- settle --------------------------------------------------------------------------------------


def test_settle_gives_the_info_of_a_success() -> None:
    """settle() gives the ResponseInfo of a 200 (and of a status the policy does not retry)."""
    runner = _runner(FakeClock(), RetryPolicy(budget=None))
    ctx = runner.begin("h")
    assert ctx is not None
    assert runner.settle(ScriptedResponse(200)) == ResponseInfo(200, None)
    assert runner.settle(ScriptedResponse(404, "7")) == ResponseInfo(404, "7")


@pytest.mark.parametrize("status", sorted(RetryPolicy().failing_statuses))
def test_settle_is_none_for_a_failing_status(status: int) -> None:
    """settle() gives None for every status in policy.failing_statuses: the loop decides on it."""
    runner = _runner(FakeClock(), RetryPolicy(budget=None))
    ctx = runner.begin("h")
    assert ctx is not None
    assert runner.settle(ScriptedResponse(status)) is None


def _bad_inspect(response: object) -> ResponseInfo:
    raise KeyError("bad headers")


def test_settle_is_none_when_the_inspector_raises() -> None:
    """settle() swallows an inspector's exception and gives None (the loop inspects again and raises)."""
    runner = _runner(FakeClock(), RetryPolicy(budget=None), inspect=_bad_inspect)
    ctx = runner.begin("h")
    assert ctx is not None
    assert runner.settle(ScriptedResponse(200)) is None


@pytest.mark.parametrize("routes", [DirectRoutes(), _LongDirect()], ids=["short", "full"])
def test_inspector_error_is_raised_and_the_response_released(routes: RouteProvider) -> None:
    """An inspector that raises: run() raises its KeyError and releases the response once, on either path."""
    released: list[object] = []
    response = ScriptedResponse(200)
    runner = _runner(FakeClock(), RetryPolicy(budget=None), routes, inspect=_bad_inspect, release=released.append)
    with pytest.raises(KeyError, match="bad headers"):
        runner.run(lambda ctx: response, method="GET", host="h")
    assert released == [response]


def _interrupted_inspect(response: object) -> ResponseInfo:
    raise KeyboardInterrupt


@pytest.mark.parametrize("routes", [DirectRoutes(), _LongDirect()], ids=["short", "full"])
def test_an_interrupt_in_the_inspector_releases_the_response(routes: RouteProvider) -> None:
    """A KeyboardInterrupt from the inspector propagates from run() and arun(), the response released once."""
    released: list[object] = []
    response = ScriptedResponse(200)
    runner = _runner(
        FakeClock(), RetryPolicy(budget=None), routes, inspect=_interrupted_inspect, release=released.append
    )
    with pytest.raises(KeyboardInterrupt):
        runner.run(lambda ctx: response, method="GET", host="h")
    assert released == [response]

    async def send(ctx: AttemptContext) -> ScriptedResponse:
        return response

    with pytest.raises(KeyboardInterrupt):
        asyncio.run(runner.arun(send, method="GET", host="h"))
    assert released == [response, response]


def test_a_per_request_policy_takes_the_full_loop_with_its_own_budget() -> None:
    """run(policy=...) on a direct runner counts the request in that policy's budget, not the runner's."""
    mine, theirs = RetryBudget(), RetryBudget()
    runner = _runner(FakeClock(), RetryPolicy(budget=theirs))
    result = runner.run(lambda ctx: ScriptedResponse(200), method="GET", host="h", policy=RetryPolicy(budget=mine))
    assert [a.status for a in result.attempts] == [200]
    assert mine.usage("h", 0.0) == (1, 0)
    assert theirs.usage("h", 0.0) == (0, 0)


def test_settle_is_none_when_debug_is_logged(own_log: logging.Logger) -> None:
    """settle() gives None for a 200 when the runner's logger wants DEBUG: the loop logs the done attempt."""
    runner = _runner(FakeClock(), RetryPolicy(budget=None), logger=own_log)
    ctx = runner.begin("h")
    assert ctx is not None
    assert runner.settle(ScriptedResponse(200)) is None


# -- equivalence with the full loop --------------------------------------------------------------

FIXED = Backoff.fixed(0.5)
JITTERED = Backoff(base=0.5, cap=4.0)
CASES: dict[str, tuple[list[ScriptItem], dict[str, object]]] = {
    "success": (["ok"], {}),
    "503-then-200": ([503, "ok"], {}),
    "raised-then-200": (["RAISE", "ok"], {}),
    "refused-until-give-up": (["ECONNREFUSED@connect"] * 3, {}),
    "503-until-give-up": ([503, 502, 503], {}),
    "retry-after": (["503 retry-after=2", "ok"], {}),
    "proxy-refused-then-200": (["ECONNREFUSED@proxy_connect", "ok"], {}),
    "timeout-then-200": (["ETIMEDOUT@wait after=2", "ok after=1"], {"timeout": 1.5, "deadline": 3.0}),
    "first-timeout-cut": (["503 after=1", "ok after=1"], {"timeout": 5.0, "deadline": 3.0}),
    "not-idempotent": (["ECONNRESET@wait"], {"method": "POST"}),
    # One request in a ratio-0.5 budget allows no retry; two (a double deposit) would allow one.
    "budget-spent": (["ECONNRESET@wait", "ok"], {"budget": 0.5}),
    "success-debug": (["ok"], {"debug": True}),
    "503-then-200-debug": ([503, "ok"], {"debug": True}),
}


def _play(
    items: list[ScriptItem], options: dict[str, object], *, short: bool, proxied: bool, log: logging.Logger, aio: bool
) -> tuple[object, ...]:
    """One request on a fresh script, clock, policy and rng; everything observable, for comparison."""
    script = [ConnectionResetError(errno.ECONNRESET, "reset by peer") if i == "RAISE" else i for i in items]
    outcomes = ScriptedOutcomes(script, clock=FakeClock(start=100.0), duration=0.1)
    ratio = options.get("budget")
    budget = None if ratio is None else RetryBudget(ratio=ratio, min_retries_per_second=0)  # type: ignore[arg-type]
    policy = RetryPolicy(
        attempts=3,
        backoff=JITTERED,
        budget=budget,
        timeout=options.get("timeout"),  # type: ignore[arg-type]
        deadline=options.get("deadline"),  # type: ignore[arg-type]
    )
    if proxied:
        routes: RouteProvider = FixedProxyRoutes(PROXY) if short else _LongFixed(PROXY)
    else:
        routes = DirectRoutes() if short else _LongDirect()
    # INFO still logs retries and give-ups: the records are compared too.
    log.setLevel(logging.DEBUG if options.get("debug") else logging.INFO)
    runner = Runner(
        policy=policy,
        routes=routes,
        classify=outcomes.classify,
        clock=outcomes.clock,
        rng=random.Random(11),
        logger=log,
    )
    method = str(options.get("method", "GET"))
    records = _Records()
    log.addHandler(records)
    try:
        if aio:
            result = asyncio.run(runner.arun(outcomes.asend, method=method, host="h"))
        else:
            result = runner.run(outcomes, method=method, host="h")
    except RequestFailed as failed:
        seen: tuple[object, ...] = ("raised", str(failed), failed.reason, failed.failure, failed.attempts)
    else:
        seen = ("returned", result.response, result.reason, result.attempts, result.elapsed)
    finally:
        log.removeHandler(records)
    clock = outcomes.clock
    return (*seen, outcomes.contexts, clock.sleeps, clock.monotonic(), outcomes.remaining, records.seen)


@pytest.mark.parametrize("aio", [False, True], ids=["run", "arun"])
@pytest.mark.parametrize("proxied", [False, True], ids=["direct", "proxy"])
@pytest.mark.parametrize("case", list(CASES))
def test_short_path_matches_the_full_loop(case: str, proxied: bool, aio: bool, own_log: logging.Logger) -> None:
    """run()/arun() with the short path give the same Attempts, result or RequestFailed, contexts and sleeps."""
    items, options = CASES[case]
    short = _play(items, options, short=True, proxied=proxied, log=own_log, aio=aio)
    full = _play(items, options, short=False, proxied=proxied, log=own_log, aio=aio)
    assert short == full
    assert bool(short[-1]) == (case != "success")  # every attempt but a quiet first-try success is logged
    assert short[0] == ("raised" if case in ("refused-until-give-up", "not-idempotent", "budget-spent") else "returned")


# -- resume --------------------------------------------------------------------------------------


@pytest.mark.parametrize("aio", [False, True], ids=["resume", "aresume"])
def test_resume_goes_on_from_a_raised_first_attempt(aio: bool) -> None:
    """resume(Raised) makes attempt 2 next, records attempt 1's failure first, and counts the request once."""
    outcomes = ScriptedOutcomes(["ECONNRESET@wait", "ok"], duration=0.1)
    budget = RetryBudget(ratio=1.0, min_retries_per_second=0)
    runner = outcomes.runner(RetryPolicy(backoff=FIXED, budget=budget), seed=5)
    ctx = runner.begin("h")
    assert ctx is not None
    with pytest.raises(ScriptedFailure) as info:
        outcomes(ctx)
    reply = Raised(info.value)
    if aio:
        result = asyncio.run(runner.aresume(outcomes.asend, ctx, reply, method="GET", host="h"))
    else:
        result = runner.resume(outcomes, ctx, reply, method="GET", host="h")
    assert [c.number for c in outcomes.contexts] == [1, 2]
    assert outcomes.contexts[1].began == pytest.approx(0.6)
    assert result.attempts == (
        Attempt(1, "direct", RESET, None, "retry", 0.5, pytest.approx(0.1)),  # type: ignore[arg-type]
        Attempt(2, "direct", None, 200, "done", 0.0, pytest.approx(0.7)),  # type: ignore[arg-type]
    )
    assert budget.usage("h", outcomes.clock.monotonic()) == (1, 1)


# -- cancellation --------------------------------------------------------------------------------


def _cancelled_send(check: Callable[[AttemptContext], object] = print) -> Callable[[AttemptContext], Awaitable[None]]:
    async def send(ctx: AttemptContext) -> None:
        check(ctx)
        raise asyncio.CancelledError

    return send


def _never(exc: BaseException, /, *, phase: Phase | None = None, via_proxy: bool = False) -> Failure:
    raise AssertionError("cancellation is not classified")


def test_cancelled_first_attempt_on_the_short_path_propagates() -> None:
    """A first attempt that raises CancelledError in arun() raises CancelledError, not RequestFailed."""
    runner = _runner(FakeClock(), RetryPolicy(budget=None), classify=_never)
    seen: list[AttemptContext] = []
    with pytest.raises(asyncio.CancelledError):
        asyncio.run(runner.arun(_cancelled_send(seen.append), method="GET", host="h"))
    assert [c.number for c in seen] == [1]


def test_cancelled_first_attempt_on_a_pool_releases_the_lease() -> None:
    """On the full loop (PoolRoutes) a cancelled first attempt propagates and the pool's lease is released."""
    clock = FakeClock()
    pool = _pool(clock)
    runner = _runner(clock, RetryPolicy(budget=None), PoolRoutes(pool), classify=_never)
    in_flight: list[int] = []
    send = _cancelled_send(lambda ctx: in_flight.append(pool.in_flight(PROXY)))
    with pytest.raises(asyncio.CancelledError):
        asyncio.run(runner.arun(send, method="GET", host="h"))
    assert in_flight == [1]
    assert pool.in_flight(PROXY) == 0


# -- the short path's RunResult ------------------------------------------------------------------


@pytest.mark.parametrize("aio", [False, True], ids=["run", "arun"])
@pytest.mark.parametrize(
    ("routes", "label"),
    [(DirectRoutes(), "direct"), (FixedProxyRoutes(PROXY), PROXY.redacted)],
    ids=["direct", "proxy"],
)
def test_short_path_result_records_one_done_attempt(routes: RouteProvider, label: str, aio: bool) -> None:
    """A first-try success gives attempts == (Attempt(1, route, None, 200, 'done', 0.0, elapsed),) on the fake clock."""
    clock = FakeClock(start=10.0)
    runner = _runner(clock, RetryPolicy(budget=None), routes, classify=_never)
    response = ScriptedResponse(200)

    def send(ctx: AttemptContext) -> ScriptedResponse:
        clock.advance(0.25)
        return response

    async def asend(ctx: AttemptContext) -> ScriptedResponse:
        return send(ctx)

    if aio:
        result = asyncio.run(runner.arun(asend, method="GET", host="h"))
    else:
        result = runner.run(send, method="GET", host="h")
    assert result.response is response
    assert result.reason is None
    assert result.elapsed == 0.25
    assert result.attempts == (Attempt(1, label, None, 200, "done", 0.0, 0.25),)
    assert "s3cret" not in repr(result)
