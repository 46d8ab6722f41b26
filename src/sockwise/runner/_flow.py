"""The attempt loop, written once as a generator; the sync and async drivers only do its I/O.

Like httpx's ``auth_flow``, the generator yields what it needs done and receives the result:

* an :class:`AttemptContext` -> the driver calls the integration's ``send(context)`` and sends
  back the response, or :class:`Raised` with the exception;
* :class:`Release` -> the driver releases a response that will be retried (sends back None);
* :class:`Sleep` -> the driver sleeps (sends back None).

Everything else happens here, once: lease a route, classify, report to the route provider,
decide, check the retry budget, record an :class:`~sockwise.Attempt`, call the hook, log.
The generator returns a :class:`RunResult` or raises :class:`~sockwise.RequestFailed`.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar, cast

from sockwise._exceptions import RequestFailed
from sockwise._model import Attempt, Failure, Phase, Proxy
from sockwise.retry import (
    Decision,
    Done,
    GiveUp,
    GiveUpReason,
    Outcome,
    Retry,
    RetryPolicy,
    RetryState,
    SwitchRoute,
    attempt_timeout,
    decide,
    failure_message,
    parse_retry_after,
)
from sockwise.runner._clock import Clock, monotonic_of
from sockwise.runner._routes import Route, RouteProvider, route_label

__all__ = [
    "AttemptContext",
    "Classifier",
    "Raised",
    "Release",
    "ResponseInfo",
    "RunResult",
    "Sleep",
    "attempt_flow",
    "inspect_response",
]

R = TypeVar("R")

LOGGER = logging.getLogger("sockwise.retry")
_DONE = Done()
_NO_ROUTES: frozenset[Route] = frozenset()
# A library must not print through logging's last-resort handler when the application set up none.
LOGGER.addHandler(logging.NullHandler())


class Classifier(Protocol):
    """``sockwise.classify``'s shape: an exception and a phase hint in, a Failure out."""

    def __call__(self, exc: BaseException, /, *, phase: Phase | None = None, via_proxy: bool = False) -> Failure:
        """Classify ``exc``, raised while the attempt was in ``phase`` (if known), through a proxy or not."""
        ...


@dataclass(slots=True)
class AttemptContext:
    """One attempt, as the integration's ``send`` sees it; the one mutable value of the runner.

    The integration reads the route, the timeout and ``fresh_connection``, and notes how far
    it got (``phase``) and whether it reused a pooled connection, so the classifier and the
    policy can tell a request that never left from one that did.

    Attributes:
        number: 1 for the first attempt.
        route: ``"direct"`` or the :class:`~sockwise.Proxy` to use.
        timeout: seconds this attempt may take (the per-try timeout cut to the deadline), or
            None for the client's own timeouts. The integration applies it.
        fresh_connection: do not reuse a pooled keep-alive connection (after the stale race).
        phase: set by the integration as the attempt progresses (a hint for the classifier).
        reused_connection: set by the integration when the attempt used a pooled connection.
        began: the runner clock's monotonic time when the attempt began (for the first
            attempt, also when the request began).
    """

    number: int
    route: Route
    timeout: float | None
    fresh_connection: bool = False
    phase: Phase | None = None
    reused_connection: bool = False
    began: float = 0.0

    @property
    def proxy(self) -> Proxy | None:
        """The proxy of this attempt, or None for a direct one."""
        return self.route if isinstance(self.route, Proxy) else None


@dataclass(frozen=True, slots=True)
class ResponseInfo:
    """What the runner needs of a response.

    Attributes:
        status: the HTTP status, or None when the response has none (counted as a success).
        retry_after: the raw ``Retry-After`` header value, if any.
    """

    status: int | None
    retry_after: str | None = None


def inspect_response(response: object) -> ResponseInfo:
    """Read the status and ``Retry-After`` of an httpx, requests or aiohttp response.

    Duck-typed: ``status_code`` (httpx, requests) or ``status`` (aiohttp), and a case-insensitive
    ``headers`` mapping. ``Retry-After`` is read only for statuses >= 400.

    Args:
        response: any response object.

    Returns:
        Its :class:`ResponseInfo`; ``status`` None when it has neither attribute.
    """
    status = getattr(response, "status_code", None)
    if status is None:
        status = getattr(response, "status", None)
    if isinstance(status, bool) or not isinstance(status, int):
        return ResponseInfo(None)
    retry_after = None
    if status >= 400:
        headers = getattr(response, "headers", None)
        if headers is not None:
            value = headers.get("Retry-After")
            retry_after = value if isinstance(value, str) else None
    return ResponseInfo(status, retry_after)


@dataclass(frozen=True, slots=True)
class Sleep:
    """Sleep ``delay`` seconds before the next attempt."""

    delay: float


@dataclass(frozen=True, slots=True)
class Release(Generic[R]):
    """Release a response that is about to be retried (close it, return its connection)."""

    response: R


@dataclass(frozen=True, slots=True)
class Raised:
    """The reply to an :class:`AttemptContext` when ``send`` raised."""

    exception: Exception


class RunResult(Generic[R]):
    """A request that ended with a response (read-only).

    Attributes:
        response: the last response (the caller owns it now).
        attempts: every attempt, in order.
        reason: None when the policy was satisfied; otherwise why retrying stopped while the
            response still counted as a failure (a 503 after the last attempt, say). Such a
            response is returned, not raised: the caller's ``raise_for_status`` decides.
    """

    # Not a frozen dataclass: one is made per request, and the record of a first try that
    # succeeded is only built if somebody reads ``attempts`` (most callers never do).
    __slots__ = ("_attempts", "_first", "_reason", "_response")

    def __init__(
        self,
        response: R,
        attempts: tuple[Attempt, ...] = (),
        reason: GiveUpReason | None = None,
        first: tuple[Route, int | None, float] | None = None,
    ) -> None:
        self._response = response
        self._attempts = attempts
        self._reason = reason
        self._first = first

    @property
    def response(self) -> R:
        """The last response (the caller owns it now)."""
        return self._response

    @property
    def reason(self) -> GiveUpReason | None:
        """Why retrying stopped on a response that still counted as a failure, or None."""
        return self._reason

    @property
    def attempts(self) -> tuple[Attempt, ...]:
        """Every attempt, in order."""
        first = self._first
        if first is not None:
            route, status, elapsed = first
            self._attempts = (Attempt(1, route_label(route), None, status, "done", 0.0, elapsed),)
            self._first = None
        return self._attempts

    @property
    def elapsed(self) -> float:
        """Seconds from the start of the request to the end of its last attempt."""
        first = self._first
        if first is not None:
            return first[2]
        return self._attempts[-1].elapsed if self._attempts else 0.0

    def __repr__(self) -> str:
        return f"RunResult(response={self._response!r}, attempts={self.attempts!r}, reason={self._reason!r})"


def attempt_flow(
    policy: RetryPolicy,
    method: str,
    host: str,
    routes: RouteProvider,
    classify: Classifier,
    inspect: Callable[[R], ResponseInfo],
    clock: Clock,
    rng: random.Random,
    on_attempt: Callable[[Attempt], None] | None = None,
    logger: logging.Logger = LOGGER,
    first: tuple[AttemptContext, R | Raised] | None = None,
) -> Generator[AttemptContext | Sleep | Release[R], R | Raised | None, RunResult[R]]:
    """The attempt loop of one request (see the module docstring for the protocol).

    Args:
        policy: the request's policy (overrides merged).
        method: the HTTP method.
        host: the request's host (route leases and the retry budget are per host).
        routes: the route provider.
        classify: exception + phase hint -> Failure.
        inspect: response -> status and ``Retry-After``.
        clock: monotonic time for deadlines, wall time for ``Retry-After`` dates.
        rng: the jitter's randomness.
        on_attempt: called with each Attempt as soon as its decision is made.
        logger: where Attempt records are logged (``sockwise.retry``).
        first: the first attempt, already made, and its reply (see :meth:`Runner.begin`): the
            loop goes on from there. The request's start is ``first[0].began``, and its retry
            budget deposit was made when that attempt began.

    Returns:
        The :class:`RunResult` (as the generator's return value).

    Raises:
        RequestFailed: retries ended on a failure without a response.
    """
    monotonic = monotonic_of(clock)
    budget = policy.budget
    if first is None:
        start = monotonic()
        if budget is not None:
            budget.deposit(host, start)
    else:
        start = first[0].began
    # Made at the first failure: a request whose first try succeeds never needs it.
    state: RetryState | None = None
    number = 1
    exclude: frozenset[Route] = _NO_ROUTES
    attempts: list[Attempt] = []
    fresh = False
    reply: R | Raised | None
    while True:
        if first is not None:
            ctx, reply = first
            first = None
            route = ctx.route
            began = ctx.began
        else:
            route = routes.lease(host, exclude)
            began = monotonic()
            # The state holds this same policy and start: no need to build it for the timeout.
            timeout = policy.timeout if policy.deadline is None else attempt_timeout(policy, start, began)
            ctx = AttemptContext(number, route, timeout, fresh, None, False, began)
            try:
                reply = yield ctx
            except GeneratorExit:
                routes.release(route)
                raise
        now = monotonic()
        response: R | None = None
        got_response = False
        retry_after = None
        try:
            if type(reply) is Raised:
                classified = classify(reply.exception, phase=ctx.phase, via_proxy=isinstance(route, Proxy))
                failure: Failure | None = classified
                status = classified.status
            else:
                response = reply  # type: ignore[assignment]  # not Raised: what send returned
                got_response = True
                info = inspect(reply)  # type: ignore[arg-type]
                status = info.status
                if status is None or status not in policy.failing_statuses:
                    failure = None
                else:
                    failure = policy.failure_for_status(status, proxied=isinstance(route, Proxy))
                    if failure is not None and info.retry_after is not None:
                        retry_after = parse_retry_after(info.retry_after, clock.time())
        except BaseException:
            # A classifier or inspector that raised (a bug, or a hook of the caller's) must not
            # leave the route leased or the response holding its connection.
            routes.release(route)
            if got_response:
                yield Release(cast("R", response))
            raise
        try:
            routes.report(route, host, failure, now - began)
        except BaseException:
            # The route provider could not record the outcome (a store that went away): the
            # request ends with its error, and a response it got is released, not leaked.
            if got_response:
                yield Release(cast("R", response))
            raise

        if failure is None and number == 1 and on_attempt is None and not logger.isEnabledFor(logging.DEBUG):
            # The common case, kept cheap: its Attempt record is built only if someone asks.
            return RunResult(response, (), None, (route, status, now - start))  # type: ignore[arg-type]

        decision: Decision
        if failure is None:
            decision = _DONE
        else:
            if state is None:
                state = RetryState(policy, method.upper(), start, number)
            outcome = Outcome(
                failure=failure,
                retry_after=retry_after,
                reused_connection=ctx.reused_connection,
                other_routes=routes.has_alternative(host, exclude | {route}),
            )
            decision = decide(state, outcome, now, rand=rng.random())
            if isinstance(decision, (Retry, SwitchRoute)) and budget is not None and not budget.try_withdraw(host, now):
                decision = GiveUp("budget", failure, f"retry budget for {host} exhausted")

        # Positional: keyword arguments cost a frozen dataclass ~30 % more, once per attempt.
        attempt = Attempt(number, route_label(route), failure, status, decision.action, decision.delay, now - start)
        attempts.append(attempt)
        if on_attempt is not None:
            on_attempt(attempt)
        _log(logger, attempt, decision, method.upper(), host)

        if isinstance(decision, Done):
            return RunResult(cast("R", response), tuple(attempts))
        if isinstance(decision, GiveUp):
            if got_response:
                return RunResult(cast("R", response), tuple(attempts), decision.reason)
            message = failure_message(decision.failure, attempts, decision.detail)
            raise RequestFailed(
                message, failure=decision.failure, attempts=attempts, reason=decision.reason
            ) from decision.failure.exception
        if got_response:
            yield Release(cast("R", response))
        if decision.delay > 0:
            yield Sleep(decision.delay)
        if isinstance(decision, SwitchRoute):
            exclude = exclude | {route}
            fresh = False
        else:
            fresh = decision.fresh_connection
        assert state is not None  # a decision to retry follows a failure
        state = state.advance(decision)
        number = state.attempts


_LEVELS = {"done": logging.DEBUG, "retry": logging.INFO, "switch_route": logging.INFO, "give_up": logging.WARNING}


def _log(logger: logging.Logger, attempt: Attempt, decision: Decision, method: str, host: str) -> None:
    level = _LEVELS[attempt.action]
    if not logger.isEnabledFor(level):
        return
    failure = attempt.failure
    if failure is not None:
        what = failure.summary()
    elif attempt.status is not None:
        what = f"HTTP {attempt.status}"
    else:
        what = "ok"
    if isinstance(decision, GiveUp):
        then = f"give up ({decision.reason}: {decision.detail})"
    elif isinstance(decision, Done):
        then = "done"
    else:
        then = f"{attempt.action} in {attempt.delay:.3f} s"
    logger.log(
        level,
        "%s %s attempt %d via %s: %s; %s",
        method,
        host,
        attempt.number,
        attempt.route,
        what,
        then,
        extra={
            "sockwise_method": method,
            "sockwise_host": host,
            "sockwise_attempt": attempt.number,
            "sockwise_route": attempt.route,
            "sockwise_code": str(failure.code) if failure is not None else None,
            "sockwise_phase": str(failure.phase) if failure is not None else None,
            "sockwise_blame": str(failure.blame) if failure is not None else None,
            "sockwise_request_sent": attempt.request_sent,
            "sockwise_status": attempt.status,
            "sockwise_action": attempt.action,
            "sockwise_reason": decision.reason if isinstance(decision, GiveUp) else None,
            "sockwise_delay": attempt.delay,
            "sockwise_elapsed": attempt.elapsed,
        },
    )
