"""``decide``: the pure retry decision. Time and randomness are arguments; nothing sleeps.

The rules, in the order they apply:

1. No failure: :class:`Done`.
2. The stale keep-alive race (a reused connection failed with a reset, broken pipe or empty
   reply before any response byte) gets one immediate retry on a fresh connection; a second
   such failure is judged like any other.
3. What failed: an ``HTTP_STATUS`` in ``switch_statuses`` (a site banning or rate-limiting the
   proxy: 403, 429) is retried on another route when the provider has one; otherwise a status
   must be in ``retry_statuses`` (a 429 then waits its ``Retry-After`` on the same route), and a
   status only in ``switch_statuses`` is the answer (:class:`Done`, as without a pool). A code in
   ``retry_codes`` may be retried on the same route; a code in ``switch_codes`` only on another
   route (``no_other_route`` when the provider has none); anything else is ``not_retryable``.
4. Safety: a request provably never sent (``request_sent is False``) is retried for any method;
   otherwise only an idempotent method, or a request the caller marked ``idempotent``
   (``not_idempotent``).
5. Attempts left (``attempts``). A switch to another proxy after a proxy failure that never
   reached the origin is free, up to ``free_switches`` per request: it does not count here.
6. The wait: a ``Retry-After`` is honoured as given when it is at most ``max_retry_after`` and
   ends before the deadline; otherwise the request ends at once (``retry_after_too_long``,
   ``retry_after_exceeds_deadline``), or switches route when another exists, since a rate
   limit is usually per client address. Without one, the backoff decides.
7. The deadline: a sleep that would reach it is never started (``deadline``).

A failure blamed on the proxy, or on nobody (it may be the proxy's), switches route when the
provider has another one. A switch waits
the backoff, never a ``Retry-After``: that concerned the route just left.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from sockwise._model import Blame, ErrorCode, Failure, Phase
from sockwise.retry._decision import Decision, Done, GiveUp, Retry, SwitchRoute
from sockwise.retry._policy import RetryPolicy

__all__ = ["STALE_RACE_CODES", "Outcome", "RetryState", "attempt_timeout", "decide"]

_SWITCH_BLAMES = frozenset({Blame.PROXY, Blame.UNKNOWN})
STALE_RACE_CODES: frozenset[ErrorCode] = frozenset(
    {ErrorCode.ECONNRESET, ErrorCode.EPIPE, ErrorCode.UNEXPECTED_EOF, ErrorCode.ECONNABORTED}
)
"""What a server closing an idle keep-alive connection as our request arrives looks like."""

_BEFORE_RESPONSE = frozenset({Phase.SEND, Phase.WAIT})
_DONE = Done()


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one attempt produced, as far as the policy cares.

    Attributes:
        failure: the classified failure; None for a response the policy does not retry.
        retry_after: seconds a ``Retry-After`` header asked for (see ``parse_retry_after``).
        reused_connection: the attempt ran on a pooled keep-alive connection.
        other_routes: the route provider has a route other than those already excluded.
    """

    failure: Failure | None = None
    retry_after: float | None = None
    reused_connection: bool = False
    other_routes: bool = False


@dataclass(frozen=True, slots=True)
class RetryState:
    """Where one request stands. Steps return new objects.

    Attributes:
        policy: the policy of this request (overrides already merged).
        method: the HTTP method, upper case.
        started: monotonic seconds when the request started.
        attempts: the number of the attempt being decided (1 for the first).
        fresh_retries: immediate stale-keep-alive retries already used (at most one).
        free_switches: free switches already used (they do not count against ``attempts``).
    """

    policy: RetryPolicy
    method: str
    started: float
    attempts: int = 1
    fresh_retries: int = 0
    free_switches: int = 0

    @classmethod
    def start(cls, policy: RetryPolicy, method: str, now: float) -> RetryState:
        """The state of a request starting at monotonic time ``now``."""
        return cls(policy=policy, method=method.upper(), started=now)

    def remaining(self, now: float) -> float | None:
        """Seconds left before the deadline (may be negative), or None without a deadline."""
        deadline = self.policy.deadline
        return None if deadline is None else deadline - (now - self.started)

    def attempt_timeout(self, now: float) -> float | None:
        """The timeout of an attempt starting at ``now``: the per-try timeout cut to the deadline."""
        return attempt_timeout(self.policy, self.started, now)

    def advance(self, decision: Retry | SwitchRoute) -> RetryState:
        """The state for the attempt after ``decision``."""
        fresh = isinstance(decision, Retry) and decision.fresh_connection
        free = isinstance(decision, SwitchRoute) and decision.free
        return dataclasses.replace(
            self,
            attempts=self.attempts + 1,
            fresh_retries=self.fresh_retries + fresh,
            free_switches=self.free_switches + free,
        )


def attempt_timeout(policy: RetryPolicy, started: float, now: float) -> float | None:
    """The timeout of an attempt starting at ``now`` of a request started at ``started``.

    The per-try timeout cut to what is left of the deadline (never negative); None when the
    policy has neither.
    """
    timeout = policy.timeout
    deadline = policy.deadline
    if deadline is None:
        return timeout
    remaining = max(deadline - (now - started), 0.0)
    return remaining if timeout is None else min(timeout, remaining)


def decide(state: RetryState, outcome: Outcome, now: float, *, rand: float) -> Decision:
    """Decide what follows an attempt.

    Args:
        state: the request's state; ``state.attempts`` is the attempt just made.
        outcome: what the attempt produced.
        now: monotonic seconds at the end of the attempt.
        rand: a uniform random number in ``[0, 1)`` for the backoff jitter.

    Returns:
        :class:`Done`, :class:`Retry`, :class:`SwitchRoute` or :class:`GiveUp` (rules in the
        module docstring). The retry budget is not consulted here: it is state, and the runner
        withdraws from it only for a decision to retry.
    """
    failure = outcome.failure
    if failure is None:
        return _DONE
    policy = state.policy
    code = failure.code
    stale = (
        outcome.reused_connection
        and state.fresh_retries == 0
        and code in STALE_RACE_CODES
        and failure.phase in _BEFORE_RESPONSE
    )
    switch_only = False
    if stale:
        pass
    elif code is ErrorCode.HTTP_STATUS:
        status = failure.status
        if status in policy.switch_statuses and outcome.other_routes:
            switch_only = True
        elif status not in policy.retry_statuses:
            if status in policy.switch_statuses:
                # No other route to try: the refusal is the answer, as it is without a pool.
                return _DONE
            return GiveUp("not_retryable", failure, f"HTTP {status} is not retried")
    elif code in policy.retry_codes:
        pass
    elif code in policy.switch_codes:
        if not outcome.other_routes:
            return GiveUp("no_other_route", failure, f"{code} is retried only on another route, and there is none")
        switch_only = True
    else:
        return GiveUp("not_retryable", failure, f"{code} is not retried")

    if failure.request_sent is not False and not policy.is_idempotent(state.method):
        sent = "request was sent" if failure.request_sent else "request may have been sent"
        return GiveUp("not_idempotent", failure, f"{sent}, {state.method} not retried")

    # A failure that may be the proxy's (a 502 page or a timeout through a forwarding proxy is
    # blamed on nobody) also moves to another proxy: it is as good a route to the origin, and a
    # better one if the fault was this proxy's.
    proxy_switch = not stale and failure.blame in _SWITCH_BLAMES and outcome.other_routes
    free = (
        proxy_switch
        and failure.blame is Blame.PROXY
        and failure.request_sent is False
        and state.free_switches < policy.free_switches
    )
    if not free and state.attempts - state.free_switches >= policy.attempts:
        return GiveUp("attempts", failure, f"no attempts left (attempts={policy.attempts})")

    elapsed = now - state.started
    deadline = policy.deadline
    if stale:
        delay = 0.0
        switch = False
    else:
        switch = switch_only or proxy_switch
        delay = policy.backoff.delay(state.attempts, rand)
        wait = outcome.retry_after
        if wait is not None:
            if wait > policy.max_retry_after:
                if not outcome.other_routes:
                    return GiveUp(
                        "retry_after_too_long",
                        failure,
                        f"Retry-After {wait:g} s exceeds max_retry_after {policy.max_retry_after:g} s",
                    )
                switch = True
            elif deadline is not None and elapsed + wait >= deadline:
                if not outcome.other_routes:
                    return GiveUp(
                        "retry_after_exceeds_deadline",
                        failure,
                        f"Retry-After {wait:g} s exceeds the {max(deadline - elapsed, 0.0):.1f} s left "
                        f"of the {deadline:g} s deadline",
                    )
                switch = True
            elif not switch:
                # The wait the server asked for concerns this route; another route need not honour it.
                delay = wait

    if deadline is not None and elapsed + delay >= deadline:
        return GiveUp("deadline", failure, f"the next try would cross the {deadline:g} s deadline")
    if switch:
        return SwitchRoute(delay, free=free)
    return Retry(delay, fresh_connection=stale)
