"""sockwise.testing: the fake clock, script parsing and run_script, as users will use them."""

from __future__ import annotations

import asyncio
import types

import pytest

import sockwise.testing
from sockwise import Blame, ConfigError, ErrorCode, Failure, Phase
from sockwise.retry import RetryPolicy
from sockwise.runner import AttemptContext, Clock
from sockwise.testing import (
    FakeClock,
    ScriptedFailure,
    ScriptedOutcomes,
    ScriptedResponse,
    ScriptExhausted,
    run_script,
)


def test_all_lists_what_the_module_defines() -> None:
    """__all__ names every class and function defined in sockwise.testing."""
    module = sockwise.testing
    defined = {
        n
        for n, v in vars(module).items()
        if not n.startswith("_") and isinstance(v, (type, types.FunctionType)) and v.__module__ == module.__name__
    }
    assert defined | {"ScriptItem"} == set(module.__all__)


def test_fake_clock_advances_only_by_sleeping() -> None:
    """sleep and asleep advance both clocks at once and are recorded."""
    clock = FakeClock(start=5.0, wall=1000.0)
    assert isinstance(clock, Clock)
    clock.sleep(1.5)
    asyncio.run(clock.asleep(0.5))
    assert clock.monotonic() == 7.0
    assert clock.time() == 1002.0
    assert clock.sleeps == [1.5, 0.5]


def test_fake_clock_never_goes_back() -> None:
    """A negative advance is refused."""
    with pytest.raises(ValueError, match="only moves forward"):
        FakeClock().advance(-1)


def test_readme_example() -> None:
    """The docstring example: reset, 503, ok -> retry, retry, done."""
    attempts = run_script(RetryPolicy(attempts=3, budget=None), ["ECONNRESET@wait", 503, "ok"], method="GET")
    assert [a.action for a in attempts] == ["retry", "retry", "done"]
    assert [a.code for a in attempts] == [ErrorCode.ECONNRESET, ErrorCode.HTTP_STATUS, None]


def play(item: object) -> Failure:
    outcomes = ScriptedOutcomes([item])  # type: ignore[list-item]
    with pytest.raises(ScriptedFailure) as info:
        outcomes(AttemptContext(1, "direct", None))
    return info.value.failure


@pytest.mark.parametrize(
    ("item", "expected"),
    [
        ("ECONNREFUSED", (ErrorCode.ECONNREFUSED, Phase.CONNECT, Blame.ORIGIN, False)),
        ("ECONNRESET@wait", (ErrorCode.ECONNRESET, Phase.WAIT, Blame.ORIGIN, True)),
        ("ECONNRESET@send", (ErrorCode.ECONNRESET, Phase.SEND, Blame.ORIGIN, None)),
        ("econnreset@proxy_connect", (ErrorCode.ECONNRESET, Phase.PROXY_CONNECT, Blame.PROXY, False)),
        ("ETIMEDOUT", (ErrorCode.ETIMEDOUT, Phase.UNKNOWN, Blame.UNKNOWN, None)),
        ("EAI_AGAIN", (ErrorCode.EAI_AGAIN, Phase.DNS, Blame.NETWORK, False)),
        ("PROXY_AUTH", (ErrorCode.PROXY_AUTH, Phase.PROXY_HANDSHAKE, Blame.PROXY, False)),
        ("ECONNRESET@wait unsent proxy", (ErrorCode.ECONNRESET, Phase.WAIT, Blame.PROXY, False)),
        ("EPIPE@connect sent", (ErrorCode.EPIPE, Phase.CONNECT, Blame.ORIGIN, True)),
    ],
)
def test_failure_strings(item: str, expected: tuple[ErrorCode, Phase, Blame, bool | None]) -> None:
    """CODE@phase strings give the code, phase, blame and request_sent the docs promise."""
    failure = play(item)
    assert (failure.code, failure.phase, failure.blame, failure.request_sent) == expected


def test_proxy_auth_carries_407() -> None:
    """A scripted PROXY_AUTH has status 407."""
    assert play("PROXY_AUTH").status == 407


def test_reused_flag_sets_context() -> None:
    """'reused' marks the attempt's context as a reused connection."""
    outcomes = ScriptedOutcomes(["ECONNRESET@wait reused"])
    ctx = AttemptContext(1, "direct", None)
    with pytest.raises(ScriptedFailure):
        outcomes(ctx)
    assert ctx.reused_connection is True
    assert ctx.phase is Phase.WAIT


def test_status_strings() -> None:
    """'ok', ints and '503 retry-after=2' become responses."""
    outcomes = ScriptedOutcomes(["ok", 404, "503 retry-after=2", ScriptedResponse(429, "7")])
    ctx = AttemptContext(1, "direct", None)
    assert [outcomes(ctx) for _ in range(4)] == [
        ScriptedResponse(200),
        ScriptedResponse(404),
        ScriptedResponse(503, "2"),
        ScriptedResponse(429, "7"),
    ]
    assert outcomes.remaining == 0


def test_after_takes_time_on_the_clock() -> None:
    """'after=2.5' makes the attempt take 2.5 s on the fake clock; duration is the default."""
    clock = FakeClock()
    outcomes = ScriptedOutcomes(["ok after=2.5", "ok"], clock=clock, duration=0.5)
    ctx = AttemptContext(1, "direct", None)
    outcomes(ctx)
    outcomes(ctx)
    assert clock.monotonic() == 3.0


def test_failure_value_and_exception_items() -> None:
    """A Failure is used as is; an exception goes to the fallback classifier."""
    given = Failure(ErrorCode.EPIPE, Phase.SEND, Blame.ORIGIN, request_sent=True)
    seen: list[tuple[BaseException, Phase | None, bool]] = []

    def fallback(exc: BaseException, /, *, phase: Phase | None = None, via_proxy: bool = False) -> Failure:
        seen.append((exc, phase, via_proxy))
        return given

    boom = ConnectionResetError(104, "reset")
    outcomes = ScriptedOutcomes([given, boom, "ok"], fallback=fallback)
    result = outcomes.runner(RetryPolicy(budget=None)).run(outcomes, method="GET", host="h")
    assert [a.failure for a in result.attempts] == [given, given, None]
    assert seen == [(boom, None, False)]


def test_script_exhausted() -> None:
    """Running out of outcomes raises ScriptExhausted naming the attempt."""
    outcomes = ScriptedOutcomes([])
    with pytest.raises(ScriptExhausted, match="attempt 1 has no outcome"):
        outcomes(AttemptContext(1, "direct", None))


@pytest.mark.parametrize(
    ("item", "fragment"),
    [
        ("ECONNRST@wait", "script item 0 ('ECONNRST@wait'): unknown error code"),
        ("ECONNRESET@waiting", "unknown phase 'waiting'"),
        ("ECONNRESET@wait later", "unknown word 'later'"),
        ("HTTP_STATUS", "script a status as an int"),
        ("503 soon", "unknown word 'soon'"),
        ("ok after=x", "after= needs seconds"),
        (True, "use 'ok', a status"),
        ("", "use 'ok', a status"),
        (1.5, "use 'ok', a status"),
    ],
)
def test_bad_items_are_config_errors(item: object, fragment: str) -> None:
    """A script item that does not parse raises ConfigError naming it and the fix."""
    with pytest.raises(ConfigError) as info:
        ScriptedOutcomes([item])  # type: ignore[list-item]
    assert fragment in str(info.value)


def test_run_script_returns_attempts_of_a_failed_request() -> None:
    """run_script returns the Attempts even when the request fails for good."""
    attempts = run_script(RetryPolicy(budget=None), ["TLS_CERT"])
    assert [(a.code, a.action) for a in attempts] == [(ErrorCode.TLS_CERT, "give_up")]


def test_run_script_with_overrides() -> None:
    """run_script passes per-request overrides like an integration."""
    attempts = run_script(RetryPolicy(attempts=1, budget=None), ["ECONNRESET@wait", "ok"], overrides={"retry": 1})
    assert [a.action for a in attempts] == ["retry", "done"]


def test_cycling_routes_hand_out_routes_in_turn() -> None:
    """CyclingRoutes gives each route in order, cycling, never offers an alternative, and needs a route."""
    from sockwise import ConfigError, Proxy
    from sockwise.testing import CyclingRoutes

    a, b = Proxy("http", "10.0.0.1", 8080), Proxy("socks5", "10.0.0.2", 1080, "u", "secret")
    routes = CyclingRoutes([a, b, "direct"])
    assert [routes.lease("h", frozenset()) for _ in range(4)] == [a, b, "direct", a]
    assert routes.has_alternative("h", frozenset()) is False
    assert "secret" not in repr(routes)
    with pytest.raises(ConfigError, match="at least one route"):
        CyclingRoutes([])
