"""Runner.arun: the async driver makes the same Attempts as the sync one, awaits releases, honours cancellation."""

from __future__ import annotations

import asyncio
import random

import pytest

from sockwise import ErrorCode, Failure, Phase, RequestFailed
from sockwise.retry import Backoff, RetryPolicy
from sockwise.runner import DIRECT, AttemptContext, Route, Runner
from sockwise.testing import FakeClock, ScriptedOutcomes, ScriptedResponse, ScriptItem

SCRIPTS: list[list[ScriptItem]] = [
    ["ok"],
    ["ECONNRESET@wait", 503, "ok"],
    ["ECONNRESET@wait reused", "UNEXPECTED_EOF@wait reused", "503 retry-after=3", "ok"],
    ["ECONNREFUSED@connect"] * 5,
    ["TLS_CERT"],
    [500, 502, 504, 503, 429],
    ["ETIMEDOUT@wait after=2", "ok after=1"],
]


def play_sync(script: list[ScriptItem], method: str, policy: RetryPolicy) -> tuple[object, list[float]]:
    outcomes = ScriptedOutcomes(script, duration=0.1)
    try:
        result = outcomes.runner(policy, seed=7).run(outcomes, method=method, host="h")
    except RequestFailed as failed:
        return (failed.reason, failed.attempts, str(failed)), outcomes.clock.sleeps
    return (result.reason, result.attempts, result.response), outcomes.clock.sleeps


def play_async(script: list[ScriptItem], method: str, policy: RetryPolicy) -> tuple[object, list[float]]:
    outcomes = ScriptedOutcomes(script, duration=0.1)

    async def main() -> object:
        try:
            result = await outcomes.runner(policy, seed=7).arun(outcomes.asend, method=method, host="h")
        except RequestFailed as failed:
            return (failed.reason, failed.attempts, str(failed))
        return (result.reason, result.attempts, result.response)

    return asyncio.run(main()), outcomes.clock.sleeps


@pytest.mark.parametrize("script", SCRIPTS)
@pytest.mark.parametrize("method", ["GET", "POST"])
def test_sync_and_async_drivers_agree(script: list[ScriptItem], method: str) -> None:
    """For the same script, seed and clock, both drivers produce identical Attempts, results and sleeps."""
    policy = RetryPolicy(attempts=5, deadline=20.0, timeout=1.5, backoff=Backoff(base=0.5, cap=4.0), budget=None)
    assert play_sync(script, method, policy) == play_async(script, method, policy)


def test_async_release_is_awaited() -> None:
    """arelease is awaited for every retried response; the final one is the caller's."""
    released: list[int] = []

    async def arelease(response: ScriptedResponse) -> None:
        await asyncio.sleep(0)
        released.append(response.status)

    outcomes = ScriptedOutcomes([503, 500, "ok"])
    runner = Runner(
        policy=RetryPolicy(backoff=Backoff.fixed(0.0), budget=None),
        classify=outcomes.classify,
        clock=outcomes.clock,
        arelease=arelease,
    )
    result = asyncio.run(runner.arun(outcomes.asend, method="GET", host="h"))
    assert released == [503, 500]
    assert result.response.status == 200


def test_async_falls_back_to_sync_release() -> None:
    """Without arelease the async driver calls the sync release."""
    released: list[int] = []
    outcomes = ScriptedOutcomes([503, "ok"])
    runner = Runner(
        policy=RetryPolicy(budget=None),
        classify=outcomes.classify,
        clock=outcomes.clock,
        release=lambda r: released.append(r.status),
    )
    asyncio.run(runner.arun(outcomes.asend, method="GET", host="h"))
    assert released == [503]


class RecordingRoutes:
    """Direct routes that record releases."""

    def __init__(self) -> None:
        self.released: list[Route] = []

    def lease(self, host: str, exclude: frozenset[Route]) -> Route:
        return DIRECT

    def report(self, route: Route, host: str, failure: Failure | None, elapsed: float) -> None:
        raise AssertionError("a cancelled attempt has no outcome to report")

    def release(self, route: Route) -> None:
        self.released.append(route)

    def has_alternative(self, host: str, exclude: frozenset[Route]) -> bool:
        return False


def _never(exc: BaseException, /, *, phase: Phase | None = None, via_proxy: bool = False) -> Failure:
    raise AssertionError("cancellation is not classified")


def test_cancellation_propagates_and_releases_lease() -> None:
    """Cancelling the task mid-attempt raises CancelledError (not RequestFailed) and releases the lease."""
    routes = RecordingRoutes()

    async def main() -> None:
        started = asyncio.Event()

        async def send(ctx: AttemptContext) -> object:
            started.set()
            await asyncio.Event().wait()
            raise AssertionError("unreachable")

        runner = Runner(routes=routes, classify=_never, clock=FakeClock(), policy=RetryPolicy())
        task = asyncio.create_task(runner.arun(send, method="GET", host="h"))
        await asyncio.wait_for(started.wait(), timeout=5)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())
    assert routes.released == [DIRECT]


def test_async_request_failed_reason() -> None:
    """The async driver raises RequestFailed with the same reason and failure as the sync one."""
    outcomes = ScriptedOutcomes(["ECONNRESET@wait"])
    runner = outcomes.runner(RetryPolicy(budget=None))
    with pytest.raises(RequestFailed) as info:
        asyncio.run(runner.arun(outcomes.asend, method="POST", host="h"))
    assert info.value.reason == "not_idempotent"
    assert info.value.failure.code is ErrorCode.ECONNRESET


def test_seeded_rng_gives_reproducible_jitter() -> None:
    """Two runs with the same seed sleep the same jittered delays."""
    sleeps = []
    for _ in range(2):
        outcomes = ScriptedOutcomes(["ECONNRESET@wait"] * 3 + ["ok"])
        policy = RetryPolicy(attempts=4, budget=None)
        Runner(policy=policy, classify=outcomes.classify, clock=outcomes.clock, rng=random.Random(42)).run(
            outcomes, method="GET", host="h"
        )
        sleeps.append(outcomes.clock.sleeps)
    assert sleeps[0] == sleeps[1]
    assert len(sleeps[0]) == 3
    assert all(0 <= s <= 0.1 * 2**i for i, s in enumerate(sleeps[0]))
