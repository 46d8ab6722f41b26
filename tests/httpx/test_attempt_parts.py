"""The pure parts shared by both transports: options, timeouts, the trace follower, error translation, exports."""

from __future__ import annotations

import threading
import time
import types
from collections.abc import Iterator

import httpx

import sockwise.httpx
from sockwise import Attempt, ConfigError, ErrorCode, Failure, Phase, RequestFailed
from sockwise.httpx import request_failed
from sockwise.httpx._attempt import AttemptTrace, attempt_extensions, library_error, request_options, timeout_error
from sockwise.httpx._watchdog import Watchdog
from sockwise.runner import DIRECT, AttemptContext


def _failed(exc: BaseException) -> RequestFailed:
    failure = Failure(ErrorCode.ECONNRESET, Phase.WAIT, request_sent=True, exception=exc)
    return RequestFailed(
        "ECONNRESET while waiting for headers; 1 attempt in 0.0 s",
        failure=failure,
        attempts=[Attempt(1, "direct", failure, action="give_up")],
        reason="not_idempotent",
    )


def test_exports_are_sorted_and_complete() -> None:
    """sockwise.httpx exports exactly its public names, sorted as ruff sorts them."""
    public = {
        name
        for name, value in vars(sockwise.httpx).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType)
    }
    assert set(sockwise.httpx.__all__) == public
    assert sockwise.httpx.__all__ == ["AsyncRetryTransport", "RetryTransport", "request_failed"]


# -- options ---------------------------------------------------------------------------------------------------------


def test_request_options_split_stream_from_policy_overrides() -> None:
    """ "stream" is the transport's; the rest goes to the policy untouched; the default applies without it."""
    request = httpx.Request("GET", "http://127.0.0.1/", extensions={"sockwise": {"retry": 2, "stream": True}})
    options = request_options(request, stream_default=False)
    assert (options.stream, options.overrides) == (True, {"retry": 2})
    plain = request_options(httpx.Request("GET", "http://127.0.0.1/"), stream_default=True)
    assert (plain.stream, plain.overrides) == (True, None)


def test_one_shot_body_forbids_retries_after_sending() -> None:
    """A generator body adds idempotent=False (even over the caller's True); bytes add nothing."""

    def chunks() -> Iterator[bytes]:
        yield b"x"

    streamed = httpx.Request(
        "PUT", "http://127.0.0.1/", content=chunks(), extensions={"sockwise": {"idempotent": True}}
    )
    assert request_options(streamed, stream_default=False).overrides == {"idempotent": False}
    replayable = httpx.Request("PUT", "http://127.0.0.1/", content=b"x")
    assert request_options(replayable, stream_default=False).overrides is None


def test_attempt_extensions_cut_timeouts_and_leave_the_request_alone() -> None:
    """Each timeout becomes min(given, attempt's); None becomes the attempt's; the caller's dict is not changed."""
    given = {"timeout": {"connect": 5.0, "read": 0.2, "write": None, "pool": 5.0}, "other": 1}

    def trace(name: str, info: object) -> None:
        pass

    out = attempt_extensions(given, trace, 1.5)
    assert out == {
        "timeout": {"connect": 1.5, "read": 0.2, "write": 1.5, "pool": 1.5},
        "other": 1,
        "trace": trace,
    }
    assert given == {"timeout": {"connect": 5.0, "read": 0.2, "write": None, "pool": 5.0}, "other": 1}
    assert attempt_extensions(given, trace, None)["timeout"] is given["timeout"]


# -- the trace follower --------------------------------------------------------------------------------------------


class _Request:
    def __init__(self, method: bytes) -> None:
        self.method = method


def test_trace_marks_phases_reuse_and_the_proxy_handshake() -> None:
    """A new connection through a tunnel: connect, CONNECT (proxy handshake), TLS, send, wait; not reused."""
    ctx = AttemptContext(1, DIRECT, None)
    trace = AttemptTrace(ctx, None).callback()
    trace("connection.connect_tcp.started", {})
    assert ctx.phase is Phase.CONNECT
    trace("http11.send_request_headers.started", {"request": _Request(b"CONNECT")})
    assert ctx.phase is Phase.PROXY_HANDSHAKE
    trace("proxy.start_tls.started", {})
    assert ctx.phase is Phase.TLS
    trace("http11.send_request_headers.started", {"request": _Request(b"GET")})
    trace("http11.receive_response_headers.started", {"request": _Request(b"GET")})
    assert (ctx.phase, ctx.reused_connection) == (Phase.WAIT, False)


def test_trace_without_a_connect_is_a_reused_connection_and_calls_the_users_callback() -> None:
    """No connect event before the request: reused; the caller's callback sees every event, in order."""
    ctx = AttemptContext(1, DIRECT, None)
    seen: list[str] = []
    trace = AttemptTrace(ctx, lambda name, info: seen.append(name)).callback()
    for name in ("http11.send_request_headers.started", "http11.send_request_headers.complete"):
        trace(name, {"request": _Request(b"GET")})
    assert (ctx.phase, ctx.reused_connection) == (Phase.SEND, True)
    assert seen == ["http11.send_request_headers.started", "http11.send_request_headers.complete"]


# -- errors --------------------------------------------------------------------------------------------------------


def test_library_error_keeps_the_httpx_type_with_the_story() -> None:
    """An httpx.ReadTimeout cause gives a new httpx.ReadTimeout with the one-line message and .sockwise."""
    request = httpx.Request("GET", "http://127.0.0.1/")
    failed = _failed(httpx.ReadTimeout("timed out"))
    error = library_error(failed, request)
    assert type(error) is httpx.ReadTimeout
    assert str(error) == "ECONNRESET while waiting for headers; 1 attempt in 0.0 s"
    assert isinstance(error, httpx.ReadTimeout)
    assert error.request is request
    assert request_failed(error) is failed


def test_library_error_wraps_foreign_errors_and_passes_config_errors() -> None:
    """A non-httpx cause becomes httpx.TransportError (still an httpx.HTTPError); a ConfigError stays itself."""
    request = httpx.Request("GET", "http://127.0.0.1/")
    wrapped = library_error(_failed(ConnectionResetError(104, "reset")), request)
    assert type(wrapped) is httpx.TransportError
    assert isinstance(wrapped, httpx.HTTPError)
    assert request_failed(wrapped) is not None
    bad = ConfigError("bad option")
    assert library_error(_failed(bad), request) is bad
    assert request_failed(ValueError("x")) is None


def test_timeout_error_names_the_phase_like_httpx() -> None:
    """Running out of time while connecting is a ConnectTimeout, while sending a WriteTimeout, waiting a ReadTimeout."""
    request = httpx.Request("GET", "http://127.0.0.1/")
    kinds = {}
    for phase in (None, Phase.CONNECT, Phase.TLS, Phase.PROXY_HANDSHAKE, Phase.SEND, Phase.WAIT, Phase.BODY):
        ctx = AttemptContext(2, DIRECT, 0.5)
        ctx.phase = phase
        kinds[phase] = type(timeout_error(ctx, request, time.monotonic()))
    assert kinds == {
        None: httpx.PoolTimeout,
        Phase.CONNECT: httpx.ConnectTimeout,
        Phase.TLS: httpx.ConnectTimeout,
        Phase.PROXY_HANDSHAKE: httpx.ConnectTimeout,
        Phase.SEND: httpx.WriteTimeout,
        Phase.WAIT: httpx.ReadTimeout,
        Phase.BODY: httpx.ReadTimeout,
    }


# -- the watchdog --------------------------------------------------------------------------------------------------


class _Target:
    def __init__(self) -> None:
        self.fired = threading.Event()

    def expire(self) -> None:
        self.fired.set()


def test_watchdog_fires_due_timers_only() -> None:
    """A timer fires at its deadline; a cancelled one, due earlier, never does."""
    watchdog = Watchdog()
    cancelled, due = _Target(), _Target()
    timer = watchdog.arm(time.monotonic() + 0.01, cancelled)
    timer.cancel()
    late = watchdog.arm(time.monotonic() + 0.05, due)
    assert due.fired.wait(5.0)
    assert late.fired
    assert not cancelled.fired.is_set()
    assert not timer.fired


def test_watchdog_drops_cancelled_timers_in_bulk() -> None:
    """Thousands of timers cancelled in time do not pile up: the heap is rebuilt once they dominate it."""
    watchdog = Watchdog()
    far = time.monotonic() + 3600
    for _ in range(3000):
        watchdog.arm(far, _Target()).cancel()
    assert len(watchdog._heap) <= 1100
    # Let its thread go: a due timer wakes it, then it finds nothing left and ends after its idle time.
    woken = _Target()
    watchdog.arm(time.monotonic(), woken)
    assert woken.fired.wait(5.0)


def test_trace_hands_the_extensions_back_once_the_answer_is_awaited() -> None:
    """Waiting for the request's answer ends the tracing: ``trace`` becomes the caller's callback, or goes."""
    for user in (None, print):
        ctx = AttemptContext(1, DIRECT, None)
        trace = AttemptTrace(ctx, user)
        callback = trace.callback()
        extensions = trace.extensions = {"trace": callback}
        callback("http11.receive_response_headers.started", {"request": _Request(b"CONNECT")})
        assert extensions == {"trace": callback}  # a tunnel's CONNECT: the request itself is still to come
        callback("http11.receive_response_headers.started", {"request": _Request(b"GET")})
        assert ctx.phase is Phase.WAIT
        assert extensions == ({} if user is None else {"trace": print})
