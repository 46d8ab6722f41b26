"""Property tests of the whole loop on a fake clock: attempts and total time stay within the policy."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from sockwise import RequestFailed
from sockwise.retry import Backoff, RetryPolicy
from sockwise.testing import FakeClock, ScriptedOutcomes

ITEMS = [
    "ok",
    "ECONNRESET@wait",
    "ECONNRESET@wait reused",
    "ECONNREFUSED@connect",
    "ETIMEDOUT@wait",
    "UNEXPECTED_EOF@send reused",
    "EPIPE@send",
    "TLS_CERT",
    "EAI_AGAIN",
    "503",
    "429 retry-after=1",
    "503 retry-after=30",
    "500",
    "404",
]


@st.composite
def items(draw: st.DrawFn) -> str:
    base = draw(st.sampled_from(ITEMS))
    took = draw(st.floats(min_value=0.0, max_value=20.0, allow_nan=False))
    return f"{base} after={took!r}"


@st.composite
def policies(draw: st.DrawFn) -> RetryPolicy:
    base = draw(st.floats(0.0, 5.0))
    return RetryPolicy(
        attempts=draw(st.integers(1, 8)),
        backoff=Backoff(base=base, cap=base + draw(st.floats(0.0, 20.0)), jitter=draw(st.booleans())),
        deadline=draw(st.none() | st.floats(0.01, 60.0)),
        timeout=draw(st.none() | st.floats(0.01, 10.0)),
        max_retry_after=draw(st.floats(0.0, 60.0)),
        budget=None,
    )


@settings(max_examples=300, deadline=None)
@given(
    policy=policies(),
    script=st.lists(items(), min_size=8, max_size=8),
    method=st.sampled_from(["GET", "POST"]),
    seed=st.integers(0, 2**32 - 1),
)
def test_loop_stays_within_attempts_and_deadline(
    policy: RetryPolicy, script: list[str], method: str, seed: int
) -> None:
    """Attempts never exceed the policy; with a deadline the fake clock never passes it; sleeps match the Attempts."""
    clock = FakeClock()
    outcomes = ScriptedOutcomes(script, clock=clock)
    try:
        result = outcomes.runner(policy, seed=seed).run(outcomes, method=method, host="h")
        attempts = result.attempts
    except RequestFailed as failed:
        attempts = failed.attempts
    assert 1 <= len(attempts) <= policy.attempts
    assert [a.number for a in attempts] == list(range(1, len(attempts) + 1))
    assert [a.action for a in attempts[:-1]] == ["retry"] * (len(attempts) - 1)
    assert attempts[-1].action in ("done", "give_up")
    assert clock.sleeps == [a.delay for a in attempts[:-1] if a.delay > 0]
    for attempt in attempts:
        assert attempt.delay <= max(policy.backoff.cap, policy.max_retry_after)
    if policy.deadline is not None:
        assert clock.monotonic() <= policy.deadline + 1e-9
        assert attempts[-1].elapsed <= policy.deadline + 1e-9
    if policy.timeout is not None:
        assert all(c.timeout is not None and c.timeout <= policy.timeout for c in outcomes.contexts)
