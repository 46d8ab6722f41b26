"""Test your retry settings without sockets or sleeping: a fake clock and scripted outcomes.

::

    from sockwise.retry import RetryPolicy
    from sockwise.testing import run_script

    attempts = run_script(RetryPolicy(attempts=3), ["ECONNRESET@wait", 503, "ok"], method="GET")
    assert [a.action for a in attempts] == ["retry", "retry", "done"]

A script is a sequence of outcomes, one per attempt:

* ``"ok"`` or an int status (``200``, ``503``); ``"503 retry-after=2"`` adds a ``Retry-After``;
  a :class:`ScriptedResponse` for anything else (an HTTP-date ``Retry-After``);
* ``"CODE@phase"`` for a failure: an :class:`~sockwise.ErrorCode` name and a
  :class:`~sockwise.Phase` value, e.g. ``"ECONNREFUSED@connect"``, ``"ECONNRESET@wait"``. Words
  after it adjust it: ``reused`` (the attempt ran on a pooled keep-alive connection), ``sent`` /
  ``unsent`` (whether the request left; by default decided by the phase: none before ``send``,
  unknown during ``send``, yes after), a blame (``proxy``, ``origin``, ``network``, ``local``);
* any status or failure string may end with ``after=SECONDS``: the attempt takes that long on
  the fake clock (default: the script's ``duration``). An attempt longer than its timeout
  ends at the timeout as ``ETIMEDOUT`` while waiting;
* a :class:`~sockwise.Failure`, used as is; an exception, raised and classified by the real
  classifier (or ``fallback``).

Nothing here opens a socket, sleeps or reads the real clock.
"""

from __future__ import annotations

import math
import random
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from sockwise._exceptions import ConfigError, RequestFailed
from sockwise._model import Attempt, Blame, ErrorCode, Failure, Phase
from sockwise.retry import RetryPolicy
from sockwise.runner import AttemptContext, Classifier, DirectRoutes, Route, RouteProvider, Runner

__all__ = [
    "CyclingRoutes",
    "FakeClock",
    "ScriptExhausted",
    "ScriptItem",
    "ScriptedFailure",
    "ScriptedOutcomes",
    "ScriptedResponse",
    "run_script",
]


class CyclingRoutes:
    """A route provider that hands out the given routes in turn, one per attempt, and learns nothing.

    For tests of what happens across many proxies (connection pools per proxy, SOCKS and HTTP
    proxies mixed, a dead proxy's exact failure) without a pool's health deciding who gets the
    next request. Thread-safe. It never offers another route to the retry policy
    (``has_alternative`` is False), so a failure is retried, if at all, on the next route in turn.

    Args:
        routes: the routes (proxies, or ``"direct"``), handed out in this order, cycling.

    Raises:
        ConfigError: no routes.
    """

    def __init__(self, routes: Sequence[Route]) -> None:
        if not routes:
            raise ConfigError("CyclingRoutes needs at least one route")
        self._routes = list(routes)
        self._next = 0
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"CyclingRoutes({len(self._routes)} routes)"

    def lease(self, host: str, exclude: frozenset[Route]) -> Route:
        """The next route in turn."""
        with self._lock:
            route = self._routes[self._next % len(self._routes)]
            self._next += 1
        return route

    def report(self, route: Route, host: str, failure: Failure | None, elapsed: float) -> None:
        """Nothing to learn."""

    def release(self, route: Route) -> None:
        """Nothing to release."""

    def has_alternative(self, host: str, exclude: frozenset[Route]) -> bool:
        """Never: the policy does not steer this provider."""
        return False


class FakeClock:
    """A clock for tests: time moves only when something sleeps or :meth:`advance` is called.

    Implements :class:`sockwise.runner.Clock`.

    Args:
        start: the initial monotonic time.
        wall: the wall-clock time (epoch seconds) at ``start``; it moves with the monotonic time.

    Attributes:
        sleeps: every sleep requested, in order (sync and async).
    """

    __slots__ = ("_now", "_wall_offset", "sleeps")

    def __init__(self, start: float = 0.0, *, wall: float = 1_700_000_000.0) -> None:
        self._now = float(start)
        self._wall_offset = wall - start
        self.sleeps: list[float] = []

    def __repr__(self) -> str:
        return f"FakeClock(monotonic={self._now:g})"

    def monotonic(self) -> float:
        """The fake monotonic time."""
        return self._now

    def time(self) -> float:
        """The fake wall-clock time (epoch seconds)."""
        return self._now + self._wall_offset

    def advance(self, seconds: float) -> None:
        """Move time forward.

        Raises:
            ValueError: ``seconds`` is negative or not finite (time never goes back).
        """
        if not math.isfinite(seconds) or seconds < 0:
            raise ValueError(f"a fake clock only moves forward by a finite amount, got {seconds!r}")
        self._now += seconds

    def sleep(self, seconds: float) -> None:
        """Record the sleep and advance time by it, at once."""
        self.advance(seconds)
        self.sleeps.append(seconds)

    async def asleep(self, seconds: float) -> None:
        """Record the sleep and advance time by it, without suspending."""
        self.sleep(seconds)


@dataclass(frozen=True, slots=True)
class ScriptedResponse:
    """A response of a script; quacks like an httpx/requests response for :func:`~sockwise.runner.inspect_response`.

    Attributes:
        status: the HTTP status.
        retry_after: the ``Retry-After`` header value, if any.
    """

    status: int = 200
    retry_after: str | None = None

    @property
    def status_code(self) -> int:
        """The status (httpx and requests name)."""
        return self.status

    @property
    def headers(self) -> dict[str, str]:
        """The headers: ``Retry-After`` only."""
        return {} if self.retry_after is None else {"Retry-After": self.retry_after}


class ScriptedFailure(Exception):
    """The exception a scripted failure raises; :meth:`ScriptedOutcomes.classify` returns its Failure."""

    def __init__(self, failure: Failure) -> None:
        super().__init__(failure.summary())
        self.failure = failure


class ScriptExhausted(Exception):
    """More attempts were made than the script has outcomes (escapes the runner: it is a test bug)."""


ScriptItem = str | int | ScriptedResponse | Failure | BaseException
"""One outcome of a script (see the module docstring)."""


@dataclass(frozen=True, slots=True)
class _Step:
    outcome: ScriptedResponse | Failure | BaseException
    reused: bool
    after: float | None


_NOT_SENT_PHASES = frozenset({Phase.DNS, Phase.PROXY_CONNECT, Phase.PROXY_HANDSHAKE, Phase.CONNECT, Phase.TLS})
_CODE_PHASE = {
    ErrorCode.ECONNREFUSED: Phase.CONNECT,
    ErrorCode.EHOSTUNREACH: Phase.CONNECT,
    ErrorCode.ENETUNREACH: Phase.CONNECT,
    ErrorCode.EADDRNOTAVAIL: Phase.CONNECT,
    ErrorCode.EMFILE: Phase.CONNECT,
    ErrorCode.EAI_AGAIN: Phase.DNS,
    ErrorCode.EAI_NONAME: Phase.DNS,
    ErrorCode.TLS_CERT: Phase.TLS,
    ErrorCode.PROXY_AUTH: Phase.PROXY_HANDSHAKE,
    ErrorCode.PROXY_REFUSED: Phase.PROXY_HANDSHAKE,
}
_PHASE_BLAME = {
    Phase.DNS: Blame.NETWORK,
    Phase.PROXY_CONNECT: Blame.PROXY,
    Phase.PROXY_HANDSHAKE: Blame.PROXY,
    Phase.CONNECT: Blame.ORIGIN,
    Phase.TLS: Blame.ORIGIN,
    Phase.SEND: Blame.ORIGIN,
    Phase.WAIT: Blame.ORIGIN,
    Phase.BODY: Blame.ORIGIN,
}
_BLAMES = {b.value: b for b in Blame}


def _bad(index: int, item: object, why: str) -> ConfigError:
    return ConfigError(f"script item {index} ({item!r}): {why}")


def _after(index: int, item: object, token: str) -> float:
    try:
        seconds = float(token.partition("=")[2])
    except ValueError:
        raise _bad(index, item, "after= needs seconds, e.g. after=0.5") from None
    if not math.isfinite(seconds) or seconds < 0:
        raise _bad(index, item, "after= needs seconds >= 0, e.g. after=0.5")
    return seconds


def _parse_status(index: int, item: str, words: list[str]) -> _Step:
    try:
        status = int(words[0])
    except ValueError:
        raise _bad(index, item, "a status is an integer such as 503") from None
    retry_after = None
    after = None
    for word in words[1:]:
        key = word.partition("=")[0].lower()
        if key == "retry-after":
            retry_after = word.partition("=")[2]
        elif key == "after":
            after = _after(index, item, word)
        else:
            raise _bad(index, item, f"unknown word {word!r}; use retry-after=SECONDS or after=SECONDS")
    return _Step(ScriptedResponse(status, retry_after), False, after)


def _parse_failure(index: int, item: str, words: list[str]) -> _Step:
    code_text, _, phase_text = words[0].partition("@")
    try:
        code = ErrorCode(code_text.upper())
    except ValueError:
        raise _bad(index, item, "unknown error code; use an ErrorCode name such as ECONNRESET") from None
    if code is ErrorCode.HTTP_STATUS:
        raise _bad(index, item, "script a status as an int (503), not HTTP_STATUS")
    if phase_text:
        try:
            phase = Phase(phase_text.lower())
        except ValueError:
            names = ", ".join(p.value for p in Phase)
            raise _bad(index, item, f"unknown phase {phase_text!r}; use one of {names}") from None
    else:
        phase = _CODE_PHASE.get(code, Phase.UNKNOWN)
    sent: bool | None = False if phase in _NOT_SENT_PHASES else True if phase in (Phase.WAIT, Phase.BODY) else None
    blame = Blame.PROXY if code in (ErrorCode.PROXY_AUTH, ErrorCode.PROXY_REFUSED) else _PHASE_BLAME.get(phase)
    reused = False
    after = None
    for word in words[1:]:
        low = word.lower()
        if low == "reused":
            reused = True
        elif low in ("sent", "unsent"):
            sent = low == "sent"
        elif low in _BLAMES:
            blame = _BLAMES[low]
        elif low.startswith("after="):
            after = _after(index, item, word)
        else:
            raise _bad(index, item, f"unknown word {word!r}; use reused, sent, unsent, a blame or after=SECONDS")
    status = 407 if code is ErrorCode.PROXY_AUTH else None
    failure = Failure(
        code=code,
        phase=phase,
        blame=blame or Blame.UNKNOWN,
        request_sent=sent,
        status=status,
        detail=f"scripted {item}",
    )
    return _Step(failure, reused, after)


def _parse(index: int, item: object) -> _Step:
    if isinstance(item, bool):
        raise _bad(index, item, "use 'ok', a status, a failure string, a Failure or an exception")
    if isinstance(item, int):
        return _Step(ScriptedResponse(item), False, None)
    if isinstance(item, (ScriptedResponse, Failure, BaseException)):
        return _Step(item, False, None)
    if not isinstance(item, str) or not item.split():
        raise _bad(index, item, "use 'ok', a status, a failure string, a Failure or an exception")
    words = item.split()
    if words[0].lower() == "ok":
        return _parse_status(index, item, ["200", *words[1:]])
    if words[0][0].isdigit():
        return _parse_status(index, item, words)
    return _parse_failure(index, item, words)


class ScriptedOutcomes:
    """A fake ``send`` for the runner: each call plays the next outcome of a script.

    Use :meth:`runner` (or pass ``send=self`` / ``self.asend`` and ``classify=self.classify`` to a
    :class:`~sockwise.runner.Runner`).

    Args:
        script: the outcomes, one per attempt (see the module docstring).
        clock: the fake clock attempts take time on (a new one when None).
        duration: seconds each attempt takes unless its item says ``after=``.
        fallback: classifies real exceptions in the script (default ``sockwise.classify``).

    Attributes:
        clock: the fake clock.
        contexts: the :class:`~sockwise.runner.AttemptContext` of every attempt made, in order.

    Raises:
        ConfigError: an item that does not parse (naming its index and the fix).
    """

    def __init__(
        self,
        script: Iterable[ScriptItem],
        *,
        clock: FakeClock | None = None,
        duration: float = 0.0,
        fallback: Classifier | None = None,
    ) -> None:
        self._steps = [_parse(i, item) for i, item in enumerate(script)]
        self._next = 0
        self.clock = clock if clock is not None else FakeClock()
        if not math.isfinite(duration) or duration < 0:
            raise ConfigError(f"duration must be seconds >= 0, got {duration!r}")
        self.duration = duration
        self._fallback = fallback
        self.contexts: list[AttemptContext] = []

    def __repr__(self) -> str:
        return f"<ScriptedOutcomes {self._next}/{len(self._steps)} played>"

    @property
    def remaining(self) -> int:
        """Outcomes not played yet."""
        return len(self._steps) - self._next

    def __call__(self, context: AttemptContext) -> ScriptedResponse:
        """Play the next outcome: return its response or raise its failure.

        Raises:
            ScriptedFailure: the outcome is a scripted failure.
            ScriptExhausted: the script has no outcome left.
        """
        self.contexts.append(context)
        if self._next >= len(self._steps):
            raise ScriptExhausted(f"attempt {context.number} has no outcome: the script has {len(self._steps)}")
        step = self._steps[self._next]
        self._next += 1
        took = self.duration if step.after is None else step.after
        if context.timeout is not None and took > context.timeout:
            self.clock.advance(context.timeout)
            context.phase = Phase.WAIT
            raise ScriptedFailure(
                Failure(
                    code=ErrorCode.ETIMEDOUT,
                    phase=Phase.WAIT,
                    blame=Blame.UNKNOWN,
                    request_sent=True,
                    detail=f"scripted attempt of {took:g} s cut by its {context.timeout:g} s timeout",
                )
            )
        self.clock.advance(took)
        context.reused_connection = step.reused
        outcome = step.outcome
        if isinstance(outcome, ScriptedResponse):
            return outcome
        if isinstance(outcome, Failure):
            context.phase = outcome.phase
            raise ScriptedFailure(outcome)
        raise outcome

    async def asend(self, context: AttemptContext) -> ScriptedResponse:
        """:meth:`__call__` for the async driver."""
        return self(context)

    def classify(self, exc: BaseException, /, *, phase: Phase | None = None, via_proxy: bool = False) -> Failure:
        """The scripted Failure of a :class:`ScriptedFailure`; other exceptions go to the fallback.

        Raises:
            ScriptExhausted: re-raised, so a script that is too short fails the test.
        """
        if isinstance(exc, ScriptedFailure):
            return exc.failure
        if isinstance(exc, ScriptExhausted):
            raise exc
        fallback = self._fallback
        if fallback is None:
            import importlib

            fallback = importlib.import_module("sockwise._classify").classify
        return fallback(exc, phase=phase, via_proxy=via_proxy)

    def runner(
        self,
        policy: RetryPolicy | None = None,
        *,
        routes: RouteProvider | None = None,
        seed: int = 0,
        on_attempt: Callable[[Attempt], None] | None = None,
    ) -> Runner:
        """A Runner wired to this script: its clock, its classifier, a seeded jitter.

        Args:
            policy: the policy to test (default ``RetryPolicy()``).
            routes: the route provider (direct by default).
            seed: seeds the jitter, so delays repeat run after run.
            on_attempt: a hook per Attempt.
        """
        return Runner(
            policy=policy if policy is not None else RetryPolicy(),
            routes=routes if routes is not None else DirectRoutes(),
            classify=self.classify,
            clock=self.clock,
            rng=random.Random(seed),
            on_attempt=on_attempt,
        )


def run_script(
    policy: RetryPolicy,
    script: Sequence[ScriptItem],
    *,
    method: str = "GET",
    host: str = "example.test",
    overrides: dict[str, object] | None = None,
    routes: RouteProvider | None = None,
    duration: float = 0.0,
    seed: int = 0,
    clock: FakeClock | None = None,
) -> list[Attempt]:
    """Run one request against a script and return its Attempts (whether it succeeded or not).

    Args:
        policy: the policy under test (its retry budget is shared with other runs).
        script: the outcomes, one per attempt (see the module docstring).
        method: the HTTP method.
        host: the request's host.
        overrides: per-request overrides, as an integration would pass them.
        routes: the route provider (direct by default).
        duration: seconds each attempt takes on the fake clock.
        seed: seeds the jitter.
        clock: the fake clock (a new one when None); read it afterwards for the total time.

    Returns:
        Every Attempt: number, route, failure, status, action, delay, elapsed.

    Raises:
        ScriptExhausted: the policy made more attempts than the script has outcomes.
        ConfigError: a script item or an override that is not valid.
    """
    outcomes = ScriptedOutcomes(script, clock=clock, duration=duration)
    runner = outcomes.runner(policy, routes=routes, seed=seed)
    try:
        result = runner.run(outcomes, method=method, host=host, overrides=overrides)
    except RequestFailed as failed:
        return list(failed.attempts)
    return list(result.attempts)
