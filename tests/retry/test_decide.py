"""decide(): every rule of the pure retry decision, with time and randomness passed in."""

from __future__ import annotations

import pytest

from sockwise import Blame, ErrorCode, Failure, Phase
from sockwise.retry import (
    Backoff,
    Done,
    GiveUp,
    Outcome,
    Retry,
    RetryPolicy,
    RetryState,
    SwitchRoute,
    decide,
)

RESET_WAIT = Failure(ErrorCode.ECONNRESET, Phase.WAIT, Blame.ORIGIN, request_sent=True)
REFUSED = Failure(ErrorCode.ECONNREFUSED, Phase.CONNECT, Blame.ORIGIN, request_sent=False)
RESET_SEND_UNKNOWN = Failure(ErrorCode.ECONNRESET, Phase.SEND, Blame.ORIGIN, request_sent=None)
FIXED = Backoff.fixed(1.0)


def state(policy: RetryPolicy, method: str = "GET", attempts: int = 1, started: float = 0.0) -> RetryState:
    return RetryState(policy=policy, method=method, started=started, attempts=attempts)


def status_failure(status: int) -> Failure:
    failure = RetryPolicy().failure_for_status(status)
    assert failure is not None
    return failure


def test_success_is_done() -> None:
    """No failure: Done."""
    assert decide(state(RetryPolicy()), Outcome(), 0.0, rand=0.5) == Done()


def test_get_reset_after_send_is_retried_with_backoff() -> None:
    """GET + ECONNRESET while waiting: Retry after the jittered backoff."""
    policy = RetryPolicy(backoff=Backoff(base=1.0, cap=10.0))
    assert decide(state(policy), Outcome(RESET_WAIT), 0.0, rand=0.5) == Retry(0.5)


def test_post_after_send_is_not_retried() -> None:
    """POST whose request was sent: GiveUp not_idempotent, with the detail of the message."""
    decision = decide(state(RetryPolicy(), "POST"), Outcome(RESET_WAIT), 0.0, rand=0.5)
    assert decision == GiveUp("not_idempotent", RESET_WAIT, "request was sent, POST not retried")


def test_post_maybe_sent_is_not_retried() -> None:
    """POST whose sending is unknown counts as sent."""
    decision = decide(state(RetryPolicy(), "POST"), Outcome(RESET_SEND_UNKNOWN), 0.0, rand=0.5)
    assert decision == GiveUp("not_idempotent", RESET_SEND_UNKNOWN, "request may have been sent, POST not retried")


def test_post_never_sent_is_retried() -> None:
    """POST that provably never left (refused connect) is retried like any method."""
    decision = decide(state(RetryPolicy(backoff=FIXED), "POST"), Outcome(REFUSED), 0.0, rand=0.5)
    assert decision == Retry(1.0)


def test_post_opt_in_is_retried_after_send() -> None:
    """idempotent=True (the per-request opt-in) lets a sent POST be retried."""
    policy = RetryPolicy(backoff=FIXED).with_overrides({"idempotent": True})
    assert decide(state(policy, "POST"), Outcome(RESET_WAIT), 0.0, rand=0.5) == Retry(1.0)


def test_get_opt_out_is_not_retried_after_send() -> None:
    """idempotent=False forbids retrying even a GET once sent."""
    policy = RetryPolicy(idempotent=False)
    assert decide(state(policy), Outcome(RESET_WAIT), 0.0, rand=0.5).action == "give_up"


def test_custom_idempotent_methods() -> None:
    """A method added to idempotent_methods is retried after send."""
    policy = RetryPolicy(backoff=FIXED, idempotent_methods=frozenset({"GET", "PATCH"}))
    assert decide(state(policy, "patch"), Outcome(RESET_WAIT), 0.0, rand=0.5) == Retry(1.0)


@pytest.mark.parametrize(
    "code", [ErrorCode.TLS_CERT, ErrorCode.EMFILE, ErrorCode.EADDRNOTAVAIL, ErrorCode.EAI_NONAME, ErrorCode.UNKNOWN]
)
def test_never_retried_codes(code: ErrorCode) -> None:
    """TLS_CERT, local resource errors, a missing name and UNKNOWN are not retried, even unsent."""
    failure = Failure(code, Phase.CONNECT, Blame.LOCAL, request_sent=False)
    decision = decide(state(RetryPolicy()), Outcome(failure, other_routes=True), 0.0, rand=0.5)
    assert decision == GiveUp("not_retryable", failure, f"{code} is not retried")


@pytest.mark.parametrize("code", [ErrorCode.PROXY_AUTH, ErrorCode.PROXY_REFUSED, ErrorCode.EPROTO])
def test_route_codes_switch_route_when_another_exists(code: ErrorCode) -> None:
    """A 407, a refused CONNECT or a protocol error switches route when the pool has another."""
    failure = Failure(code, Phase.PROXY_HANDSHAKE, Blame.PROXY, request_sent=False)
    decision = decide(state(RetryPolicy(backoff=FIXED)), Outcome(failure, other_routes=True), 0.0, rand=0.5)
    assert decision == SwitchRoute(1.0, free=True)


@pytest.mark.parametrize("code", [ErrorCode.PROXY_AUTH, ErrorCode.PROXY_REFUSED, ErrorCode.EPROTO])
def test_route_codes_never_retry_same_route(code: ErrorCode) -> None:
    """Without another route a route failure ends the request: no_other_route."""
    failure = Failure(code, Phase.PROXY_HANDSHAKE, Blame.PROXY, request_sent=False)
    decision = decide(state(RetryPolicy()), Outcome(failure), 0.0, rand=0.5)
    assert decision == GiveUp("no_other_route", failure, f"{code} is retried only on another route, and there is none")


def test_proxy_blamed_failure_switches_when_possible() -> None:
    """A retryable failure blamed on the proxy switches route when there is another."""
    failure = Failure(ErrorCode.ECONNREFUSED, Phase.PROXY_CONNECT, Blame.PROXY, request_sent=False)
    policy = RetryPolicy(backoff=FIXED)
    assert decide(state(policy), Outcome(failure, other_routes=True), 0.0, rand=0.5) == SwitchRoute(1.0, free=True)
    assert decide(state(policy), Outcome(failure, other_routes=False), 0.0, rand=0.5) == Retry(1.0)


def test_proxy_switch_before_sending_does_not_use_an_attempt() -> None:
    """With every attempt used, a proxy failure that never reached the origin still switches, for free."""
    failure = Failure(ErrorCode.ECONNREFUSED, Phase.PROXY_CONNECT, Blame.PROXY, request_sent=False)
    policy = RetryPolicy(attempts=2, backoff=FIXED, free_switches=2)
    last = RetryState(policy, "GET", 0.0, attempts=2)
    decision = decide(last, Outcome(failure, other_routes=True), 0.0, rand=0.5)
    assert decision == SwitchRoute(1.0, free=True)
    after = last.advance(decision)
    assert (after.attempts, after.free_switches) == (3, 1)
    # The second free switch, then none left: the attempts rule applies again.
    after = after.advance(decide(after, Outcome(failure, other_routes=True), 0.0, rand=0.5))
    assert after.free_switches == 2
    assert decide(after, Outcome(failure, other_routes=True), 0.0, rand=0.5) == GiveUp(
        "attempts", failure, "no attempts left (attempts=2)"
    )


def test_switch_after_sending_uses_an_attempt() -> None:
    """A proxy failure after the request may have gone out (request_sent None) is not free."""
    failure = Failure(ErrorCode.ECONNRESET, Phase.WAIT, Blame.PROXY, request_sent=None)
    policy = RetryPolicy(attempts=2, backoff=FIXED)
    assert decide(state(policy), Outcome(failure, other_routes=True), 0.0, rand=0.5) == SwitchRoute(1.0)
    last = RetryState(policy, "GET", 0.0, attempts=2)
    assert decide(last, Outcome(failure, other_routes=True), 0.0, rand=0.5).action == "give_up"


def test_no_free_switches_counts_every_switch() -> None:
    """free_switches=0 makes a proxy switch use an attempt like any retry."""
    failure = Failure(ErrorCode.ECONNREFUSED, Phase.PROXY_CONNECT, Blame.PROXY, request_sent=False)
    policy = RetryPolicy(attempts=2, backoff=FIXED, free_switches=0)
    assert decide(state(policy), Outcome(failure, other_routes=True), 0.0, rand=0.5) == SwitchRoute(1.0)
    last = RetryState(policy, "GET", 0.0, attempts=2)
    assert decide(last, Outcome(failure, other_routes=True), 0.0, rand=0.5).action == "give_up"


def test_code_removed_from_retry_codes_is_not_retried() -> None:
    """A policy without ECONNRESET in retry_codes gives up on it."""
    policy = RetryPolicy(retry_codes=frozenset({ErrorCode.ECONNREFUSED}))
    assert decide(state(policy), Outcome(RESET_WAIT), 0.0, rand=0.5).action == "give_up"


@pytest.mark.parametrize("status", [408, 425, 429, 500, 502, 503, 504])
def test_retry_statuses(status: int) -> None:
    """Each default status is retried for GET."""
    decision = decide(state(RetryPolicy(backoff=FIXED)), Outcome(status_failure(status)), 0.0, rand=0.5)
    assert decision == Retry(1.0)


def test_status_outside_retry_statuses_gives_up() -> None:
    """An HTTP_STATUS failure whose status the policy does not list is not retried."""
    failure = Failure(ErrorCode.HTTP_STATUS, Phase.WAIT, Blame.ORIGIN, request_sent=True, status=501)
    assert decide(state(RetryPolicy()), Outcome(failure), 0.0, rand=0.5) == GiveUp(
        "not_retryable", failure, "HTTP 501 is not retried"
    )


def test_status_for_post_is_not_retried() -> None:
    """A 503 to a POST: the request was sent, so no retry without the opt-in."""
    decision = decide(state(RetryPolicy(), "POST"), Outcome(status_failure(503)), 0.0, rand=0.5)
    assert isinstance(decision, GiveUp)
    assert decision.reason == "not_idempotent"


def test_attempts_exhausted() -> None:
    """The last allowed attempt gives up with reason attempts."""
    decision = decide(state(RetryPolicy(attempts=3), attempts=3), Outcome(RESET_WAIT), 0.0, rand=0.5)
    assert decision == GiveUp("attempts", RESET_WAIT, "no attempts left (attempts=3)")


def test_backoff_uses_attempt_number() -> None:
    """Retry n waits the ceiling of retry n (no jitter): 1, 2, 4."""
    policy = RetryPolicy(attempts=10, backoff=Backoff(base=1.0, cap=60.0, jitter=False))
    delays = [decide(state(policy, attempts=n), Outcome(RESET_WAIT), 0.0, rand=0.9) for n in (1, 2, 3)]
    assert delays == [Retry(1.0), Retry(2.0), Retry(4.0)]


# -- deadline -----------------------------------------------------------------------------------


def test_sleep_that_would_cross_deadline_is_not_started() -> None:
    """elapsed 9 s + a 2 s wait >= a 10 s deadline: give up now, no sleep."""
    policy = RetryPolicy(deadline=10.0, backoff=Backoff.fixed(2.0))
    decision = decide(state(policy), Outcome(RESET_WAIT), 9.0, rand=0.5)
    assert decision == GiveUp("deadline", RESET_WAIT, "the next try would cross the 10 s deadline")


def test_sleep_within_deadline_is_allowed() -> None:
    """elapsed 7 s + a 2 s wait < 10 s: retry."""
    policy = RetryPolicy(deadline=10.0, backoff=Backoff.fixed(2.0))
    assert decide(state(policy), Outcome(RESET_WAIT), 7.0, rand=0.5) == Retry(2.0)


def test_deadline_counts_from_start() -> None:
    """Elapsed is now - started, not now."""
    policy = RetryPolicy(deadline=10.0, backoff=Backoff.fixed(2.0))
    assert decide(state(policy, started=100.0), Outcome(RESET_WAIT), 107.0, rand=0.5) == Retry(2.0)


def test_attempt_timeout_is_bounded_by_remaining_deadline() -> None:
    """The per-try timeout is cut to what is left of the deadline, and never negative."""
    st = state(RetryPolicy(deadline=10.0, timeout=4.0), started=100.0)
    assert st.attempt_timeout(100.0) == 4.0
    assert st.attempt_timeout(107.5) == 2.5
    assert st.attempt_timeout(111.0) == 0.0
    assert state(RetryPolicy(deadline=10.0)).attempt_timeout(3.0) == 7.0
    assert state(RetryPolicy(timeout=4.0)).attempt_timeout(1e6) == 4.0
    assert state(RetryPolicy()).attempt_timeout(5.0) is None


# -- Retry-After --------------------------------------------------------------------------------


def test_retry_after_is_honoured() -> None:
    """A 503 with Retry-After 7 waits 7 s, not the backoff."""
    policy = RetryPolicy(backoff=Backoff(base=0.1, cap=1.0))
    assert decide(state(policy), Outcome(status_failure(503), retry_after=7.0), 0.0, rand=0.5) == Retry(7.0)


def test_retry_after_above_max_gives_up() -> None:
    """A Retry-After longer than max_retry_after ends the request at once."""
    failure = status_failure(429)
    decision = decide(state(RetryPolicy(max_retry_after=30)), Outcome(failure, retry_after=120.0), 0.0, rand=0.5)
    assert decision == GiveUp("retry_after_too_long", failure, "Retry-After 120 s exceeds max_retry_after 30 s")


def test_retry_after_beyond_deadline_gives_up_at_once() -> None:
    """A Retry-After ending past the deadline gives up now, even with attempts left."""
    failure = status_failure(503)
    policy = RetryPolicy(attempts=10, deadline=10.0)
    decision = decide(state(policy), Outcome(failure, retry_after=8.0), 4.0, rand=0.5)
    assert decision == GiveUp(
        "retry_after_exceeds_deadline", failure, "Retry-After 8 s exceeds the 6.0 s left of the 10 s deadline"
    )


def test_retry_after_beyond_deadline_switches_route_when_possible() -> None:
    """With another route, a too-long Retry-After switches route after the plain backoff."""
    policy = RetryPolicy(deadline=10.0, backoff=FIXED)
    outcome = Outcome(status_failure(429), retry_after=60.0, other_routes=True)
    assert decide(state(policy), outcome, 4.0, rand=0.5) == SwitchRoute(1.0)


def test_retry_after_too_long_switches_route_when_possible() -> None:
    """Above max_retry_after with another route: SwitchRoute, not GiveUp."""
    policy = RetryPolicy(max_retry_after=5.0, backoff=FIXED)
    outcome = Outcome(status_failure(429), retry_after=60.0, other_routes=True)
    assert decide(state(policy), outcome, 0.0, rand=0.5) == SwitchRoute(1.0)


def test_retry_after_zero_retries_at_once() -> None:
    """Retry-After: 0 means now."""
    assert decide(state(RetryPolicy()), Outcome(status_failure(503), retry_after=0.0), 0.0, rand=0.5) == Retry(0.0)


# -- stale keep-alive race ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "code", [ErrorCode.ECONNRESET, ErrorCode.EPIPE, ErrorCode.UNEXPECTED_EOF, ErrorCode.ECONNABORTED]
)
def test_stale_race_gets_one_immediate_fresh_retry(code: ErrorCode) -> None:
    """A reused connection failing before any response byte: Retry(0, fresh_connection=True)."""
    failure = Failure(code, Phase.WAIT, Blame.ORIGIN, request_sent=True)
    policy = RetryPolicy(backoff=Backoff.fixed(5.0))
    assert decide(state(policy), Outcome(failure, reused_connection=True), 0.0, rand=0.5) == Retry(
        0.0, fresh_connection=True
    )


def test_stale_race_only_once() -> None:
    """After the one fresh retry, the same failure waits the backoff like any other."""
    failure = Failure(ErrorCode.ECONNRESET, Phase.WAIT, Blame.ORIGIN, request_sent=True)
    policy = RetryPolicy(backoff=Backoff.fixed(5.0))
    st = state(policy).advance(Retry(0.0, fresh_connection=True))
    assert st.fresh_retries == 1
    assert decide(st, Outcome(failure, reused_connection=True), 0.0, rand=0.5) == Retry(5.0)


def test_stale_race_not_for_post() -> None:
    """The stale race is retried for idempotent methods only."""
    failure = Failure(ErrorCode.ECONNRESET, Phase.WAIT, Blame.ORIGIN, request_sent=True)
    decision = decide(state(RetryPolicy(), "POST"), Outcome(failure, reused_connection=True), 0.0, rand=0.5)
    assert isinstance(decision, GiveUp)
    assert decision.reason == "not_idempotent"


def test_stale_race_needs_no_response_byte() -> None:
    """A reset while reading the body of a reused connection is not the stale race."""
    failure = Failure(ErrorCode.ECONNRESET, Phase.BODY, Blame.ORIGIN, request_sent=True)
    policy = RetryPolicy(backoff=Backoff.fixed(5.0))
    assert decide(state(policy), Outcome(failure, reused_connection=True), 0.0, rand=0.5) == Retry(5.0)


def test_stale_race_on_fresh_connection_is_ordinary() -> None:
    """The same reset on a new connection gets the ordinary backoff."""
    policy = RetryPolicy(backoff=Backoff.fixed(5.0))
    assert decide(state(policy), Outcome(RESET_WAIT), 0.0, rand=0.5) == Retry(5.0)


def test_stale_race_respects_attempts() -> None:
    """attempts=1 means no retry at all, not even the stale one."""
    failure = Failure(ErrorCode.ECONNRESET, Phase.WAIT, Blame.ORIGIN, request_sent=True)
    decision = decide(state(RetryPolicy(attempts=1)), Outcome(failure, reused_connection=True), 0.0, rand=0.5)
    assert isinstance(decision, GiveUp)
    assert decision.reason == "attempts"


def test_state_advance_returns_new_state() -> None:
    """advance() counts the attempt on a new object and leaves the old one alone."""
    st = state(RetryPolicy())
    nxt = st.advance(SwitchRoute(1.0))
    assert (st.attempts, nxt.attempts, nxt.fresh_retries) == (1, 2, 0)


def test_decision_actions() -> None:
    """Each decision type names its Attempt action."""
    assert [Retry(0).action, SwitchRoute(0).action, GiveUp("budget", RESET_WAIT).action, Done().action] == [
        "retry",
        "switch_route",
        "give_up",
        "done",
    ]


def test_failure_blamed_on_nobody_switches_when_possible_but_is_not_free() -> None:
    """A 502 through a forwarding proxy (blame unknown) moves to another proxy, using an attempt."""
    failure = Failure(ErrorCode.HTTP_STATUS, Phase.WAIT, Blame.UNKNOWN, request_sent=True, status=502)
    policy = RetryPolicy(backoff=FIXED)
    assert decide(state(policy), Outcome(failure, other_routes=True), 0.0, rand=0.5) == SwitchRoute(1.0)
    assert decide(state(policy), Outcome(failure, other_routes=False), 0.0, rand=0.5) == Retry(1.0)
    origin = Failure(ErrorCode.HTTP_STATUS, Phase.WAIT, Blame.ORIGIN, request_sent=True, status=502)
    assert decide(state(policy), Outcome(origin, other_routes=True), 0.0, rand=0.5) == Retry(1.0)
