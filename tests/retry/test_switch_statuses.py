"""switch_statuses: a site refusing a proxy (403/429) switches route when there is another, else as before."""

from __future__ import annotations

import pytest

from sockwise import Blame, ConfigError, ErrorCode, Failure, Phase
from sockwise.retry import (
    DEFAULT_SWITCH_STATUSES,
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

FIXED = Backoff.fixed(1.0)


def state(policy: RetryPolicy, method: str = "GET", attempts: int = 1) -> RetryState:
    return RetryState(policy=policy, method=method, started=0.0, attempts=attempts)


def proxied(status: int, policy: RetryPolicy | None = None) -> Failure:
    failure = (policy or RetryPolicy()).failure_for_status(status, proxied=True)
    assert failure is not None
    return failure


def test_default_switch_statuses() -> None:
    """403 and 429 switch route by default."""
    assert frozenset({403, 429}) == DEFAULT_SWITCH_STATUSES
    assert RetryPolicy().switch_statuses == frozenset({403, 429})


def test_403_through_a_proxy_is_a_failure_blamed_on_the_origin() -> None:
    """Through a proxy a 403 is an HTTP_STATUS failure of the origin: sent, while waiting."""
    assert proxied(403) == Failure(
        ErrorCode.HTTP_STATUS, Phase.WAIT, Blame.ORIGIN, request_sent=True, status=403, detail="HTTP 403"
    )


def test_403_direct_is_an_answer() -> None:
    """Direct, a 403 is an answer, not a failure (switch_statuses concern proxies only)."""
    assert RetryPolicy().failure_for_status(403) is None
    assert RetryPolicy().failure_for_status(403, proxied=False) is None


def test_403_through_a_proxy_is_an_answer_when_not_listed() -> None:
    """With switch_statuses emptied a 403 through a proxy is an answer again."""
    assert RetryPolicy(switch_statuses=frozenset()).failure_for_status(403, proxied=True) is None


def test_403_switches_route_when_another_exists() -> None:
    """A 403 through a proxy with another route: SwitchRoute after the backoff."""
    decision = decide(state(RetryPolicy(backoff=FIXED)), Outcome(proxied(403), other_routes=True), 0.0, rand=0.5)
    assert decision == SwitchRoute(1.0)


def test_403_without_another_route_is_done() -> None:
    """A 403 through the only route is the answer: Done, as without a pool."""
    assert decide(state(RetryPolicy()), Outcome(proxied(403)), 0.0, rand=0.5) == Done()


def test_429_switches_route_without_waiting_its_retry_after() -> None:
    """A 429 with Retry-After 7 and another route: switch after the backoff; the 7 s concerned the old route."""
    policy = RetryPolicy(backoff=FIXED)
    outcome = Outcome(proxied(429), retry_after=7.0, other_routes=True)
    assert decide(state(policy), outcome, 0.0, rand=0.5) == SwitchRoute(1.0)


def test_429_without_another_route_waits_on_the_same_route() -> None:
    """A 429 with Retry-After 7 and no other route: Retry after 7 s on the same route, as before."""
    policy = RetryPolicy(backoff=FIXED)
    assert decide(state(policy), Outcome(proxied(429), retry_after=7.0), 0.0, rand=0.5) == Retry(7.0)


def test_429_direct_waits_its_retry_after() -> None:
    """A direct 429 (DirectRoutes never has another route) retries the same route after Retry-After."""
    failure = RetryPolicy().failure_for_status(429)
    assert failure is not None
    assert decide(state(RetryPolicy(backoff=FIXED)), Outcome(failure, retry_after=3.0), 0.0, rand=0.5) == Retry(3.0)


def test_429_not_in_switch_statuses_retries_the_same_route() -> None:
    """Without 429 in switch_statuses, a 429 with another route waits its Retry-After on the same route."""
    policy = RetryPolicy(backoff=FIXED, switch_statuses=frozenset({403}))
    outcome = Outcome(proxied(429, policy), retry_after=2.0, other_routes=True)
    assert decide(state(policy), outcome, 0.0, rand=0.5) == Retry(2.0)


def test_custom_switch_status() -> None:
    """A status added to switch_statuses (451) switches; without another route it is the answer."""
    policy = RetryPolicy(backoff=FIXED, switch_statuses=frozenset({451}))
    failure = proxied(451, policy)
    assert decide(state(policy), Outcome(failure, other_routes=True), 0.0, rand=0.5) == SwitchRoute(1.0)
    assert decide(state(policy), Outcome(failure), 0.0, rand=0.5) == Done()


def test_403_for_post_is_not_switched() -> None:
    """A POST that got a 403 was sent: not repeated on another route without the opt-in."""
    failure = proxied(403)
    decision = decide(state(RetryPolicy(), "POST"), Outcome(failure, other_routes=True), 0.0, rand=0.5)
    assert decision == GiveUp("not_idempotent", failure, "request was sent, POST not retried")


def test_403_switch_respects_attempts() -> None:
    """The last attempt's 403 gives up with reason attempts, even with another route."""
    failure = proxied(403)
    decision = decide(state(RetryPolicy(attempts=2), attempts=2), Outcome(failure, other_routes=True), 0.0, rand=0.5)
    assert decision == GiveUp("attempts", failure, "no attempts left (attempts=2)")


def test_switch_statuses_validated() -> None:
    """A non-status in switch_statuses is a ConfigError naming the field."""
    with pytest.raises(ConfigError, match="switch_statuses: 700 is not an HTTP status"):
        RetryPolicy(switch_statuses=frozenset({700}))
    with pytest.raises(ConfigError, match="switch_statuses must be a collection of HTTP statuses"):
        RetryPolicy(switch_statuses="403")  # type: ignore[arg-type]


def test_switch_statuses_override() -> None:
    """switch_statuses is a per-request override."""
    policy = RetryPolicy().with_overrides({"switch_statuses": [451]})
    assert policy.switch_statuses == frozenset({451})
    assert policy.failure_for_status(403, proxied=True) is None
