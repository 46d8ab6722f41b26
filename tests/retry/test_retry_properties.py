"""Property tests of decide(): waits stay under the cap and inside the deadline; attempts stay bounded."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from sockwise import Blame, ErrorCode, Failure, Phase
from sockwise.retry import Backoff, GiveUp, Outcome, Retry, RetryPolicy, RetryState, SwitchRoute, decide

seconds = st.floats(min_value=0.0, max_value=1000.0, allow_nan=False)
positive = st.floats(min_value=0.001, max_value=1000.0, allow_nan=False)


@st.composite
def backoffs(draw: st.DrawFn) -> Backoff:
    base = draw(seconds)
    cap = draw(st.floats(min_value=base, max_value=base + 1000.0, allow_nan=False))
    return Backoff(base=base, cap=cap, multiplier=draw(st.floats(1.0, 10.0)), jitter=draw(st.booleans()))


@st.composite
def policies(draw: st.DrawFn) -> RetryPolicy:
    return RetryPolicy(
        attempts=draw(st.integers(1, 20)),
        backoff=draw(backoffs()),
        deadline=draw(st.none() | positive),
        max_retry_after=draw(seconds),
        idempotent=draw(st.none() | st.booleans()),
        free_switches=draw(st.integers(0, 5)),
        budget=None,
    )


failures = st.builds(
    Failure,
    code=st.sampled_from(list(ErrorCode)),
    phase=st.sampled_from(list(Phase)),
    blame=st.sampled_from(list(Blame)),
    request_sent=st.none() | st.booleans(),
    status=st.none() | st.sampled_from([404, 408, 429, 500, 503]),
)

outcomes = st.builds(
    Outcome,
    failure=failures,
    retry_after=st.none() | seconds,
    reused_connection=st.booleans(),
    other_routes=st.booleans(),
)


@settings(max_examples=400, deadline=None)
@given(
    policy=policies(),
    outcome=outcomes,
    attempt=st.integers(1, 25),
    started=seconds,
    elapsed=seconds,
    rand=st.floats(0.0, 1.0, exclude_max=True),
    method=st.sampled_from(["GET", "POST", "PUT", "PATCH"]),
    fresh_used=st.integers(0, 1),
    free_used=st.integers(0, 6),
)
def test_retry_decisions_respect_cap_deadline_and_attempts(
    *,
    policy: RetryPolicy,
    outcome: Outcome,
    attempt: int,
    started: float,
    elapsed: float,
    rand: float,
    method: str,
    fresh_used: int,
    free_used: int,
) -> None:
    """Any retry waits >= 0, <= the cap (or an honoured Retry-After), ends before the deadline, within attempts."""
    free_used = min(free_used, attempt - 1)
    state = RetryState(
        policy=policy,
        method=method,
        started=started,
        attempts=attempt,
        fresh_retries=fresh_used,
        free_switches=free_used,
    )
    decision = decide(state, outcome, started + elapsed, rand=rand)
    if not isinstance(decision, (Retry, SwitchRoute)):
        return
    assert decision.delay >= 0.0
    honoured = outcome.retry_after is not None and isinstance(decision, Retry) and not decision.fresh_connection
    limit = max(policy.backoff.cap, policy.max_retry_after) if honoured else policy.backoff.cap
    assert decision.delay <= limit
    if honoured:
        assert outcome.retry_after is not None
        assert outcome.retry_after <= policy.max_retry_after
    if policy.deadline is not None:
        assert elapsed + decision.delay < policy.deadline
    failure = outcome.failure
    assert failure is not None
    if isinstance(decision, SwitchRoute) and decision.free:
        # A free switch: only after a proxy failure that never reached the origin, and only so many.
        assert failure.blame is Blame.PROXY
        assert failure.request_sent is False
        assert free_used < policy.free_switches
    else:
        assert attempt - free_used < policy.attempts
    if failure.request_sent is not False:
        assert policy.is_idempotent(method)
    assert failure.code not in (ErrorCode.TLS_CERT, ErrorCode.UNKNOWN)
    if isinstance(decision, SwitchRoute):
        assert outcome.other_routes


@settings(max_examples=200, deadline=None)
@given(backoff=backoffs(), retry=st.integers(1, 10_000), rand=st.floats(0.0, 1.0, exclude_max=True))
def test_backoff_delay_never_exceeds_cap(backoff: Backoff, retry: int, rand: float) -> None:
    """Backoff.delay is within [0, cap] for any retry number."""
    delay = backoff.delay(retry, rand)
    assert 0.0 <= delay <= backoff.cap


@settings(max_examples=200, deadline=None)
@given(policy=policies(), outcome=outcomes, rand=st.floats(0.0, 1.0, exclude_max=True))
def test_give_up_carries_the_failure(policy: RetryPolicy, outcome: Outcome, rand: float) -> None:
    """A GiveUp always names a reason and carries the attempt's failure."""
    decision = decide(RetryState(policy=policy, method="GET", started=0.0), outcome, 0.0, rand=rand)
    if isinstance(decision, GiveUp):
        assert decision.failure is outcome.failure
        assert decision.reason
        assert decision.detail
