"""How the caller's phase hint, via_proxy and status combine with what the exception proves."""

from __future__ import annotations

import http.client
import socket

import pytest
from tests.classify._helpers import shape

from sockwise import Blame, ErrorCode, Phase
from sockwise._classify import classify, classify_status

E, P, B = ErrorCode, Phase, Blame
RESET = ConnectionResetError(104, "Connection reset by peer")
REFUSED = ConnectionRefusedError(111, "Connection refused")


@pytest.mark.parametrize(
    ("hint", "sent"),
    [(P.TLS, False), (P.SEND, None), (P.WAIT, True), (P.BODY, True)],
)
def test_hint_wins_when_nothing_contradicts_it(hint: Phase, sent: bool | None) -> None:
    """A reset can happen in any phase after connect: the hint is taken, and request_sent follows it."""
    failure = classify(RESET, phase=hint)
    assert (failure.phase, failure.request_sent) == (hint, sent)


def test_unknown_hint_is_no_hint() -> None:
    """phase=UNKNOWN behaves as no hint."""
    assert classify(RESET, phase=Phase.UNKNOWN) == classify(RESET)


def test_refused_proves_connect_over_a_wait_hint() -> None:
    """ECONNREFUSED only happens at connect: a contradicting hint is overridden, and nothing was sent."""
    assert shape(classify(REFUSED, phase=Phase.WAIT)) == (E.ECONNREFUSED, P.CONNECT, B.ORIGIN, False, 111, None)


def test_reset_can_be_at_a_connect_with_a_timeout() -> None:
    """A connect with a timeout reads SO_ERROR after a non-blocking connect(), so a RST that arrived right
    after the handshake is ECONNRESET from connect (measured on the lab): the connect hint stands."""
    failure = classify(RESET, phase=Phase.CONNECT)
    assert (failure.phase, failure.request_sent) == (Phase.CONNECT, False)
    assert classify(RESET, phase=Phase.DNS).phase is not Phase.DNS


def test_resolver_error_proves_dns() -> None:
    """A resolver error is DNS whatever the hint says."""
    failure = classify(socket.gaierror(-2, "Name or service not known"), phase=Phase.CONNECT)
    assert shape(failure) == (E.EAI_NONAME, P.DNS, B.ORIGIN, False, None, None)


def test_truncated_body_proves_body() -> None:
    """IncompleteRead proves the body was being read, over a wait hint."""
    failure = classify(http.client.IncompleteRead(b"abc", 97), phase=Phase.WAIT)
    assert (failure.phase, failure.request_sent) == (Phase.BODY, True)


def test_connect_reply_proves_proxy_handshake() -> None:
    """A CONNECT refusal is the proxy handshake, whatever the hint."""
    failure = classify(OSError("Tunnel connection failed: 407 Proxy Authentication Required"), phase=Phase.TLS)
    assert shape(failure) == (E.PROXY_AUTH, P.PROXY_HANDSHAKE, B.PROXY, False, None, 407)


def test_proxy_connect_hint_blames_proxy_for_refusal() -> None:
    """Refused while connecting to the proxy is the proxy's fault."""
    assert shape(classify(REFUSED, phase=Phase.PROXY_CONNECT)) == (
        E.ECONNREFUSED,
        P.PROXY_CONNECT,
        B.PROXY,
        False,
        111,
        None,
    )


def test_refused_through_proxy_is_never_the_origin() -> None:
    """Through a proxy the client only connects to the proxy: a refusal is proxy_connect, the proxy's."""
    assert shape(classify(REFUSED, via_proxy=True)) == (E.ECONNREFUSED, P.PROXY_CONNECT, B.PROXY, False, 111, None)


@pytest.mark.parametrize("phase", [P.TLS, P.SEND, P.WAIT])
def test_reset_before_response_through_proxy_is_the_proxys(phase: Phase) -> None:
    """A proxy that loses its upstream resets or closes the client's side: the proxy hop is blamed."""
    assert classify(RESET, phase=phase, via_proxy=True).blame is Blame.PROXY
    empty = http.client.RemoteDisconnected("Remote end closed connection without response")
    assert classify(empty, phase=phase, via_proxy=True).blame is Blame.PROXY


def test_reset_in_body_through_proxy_is_the_origins() -> None:
    """Once headers came through the tunnel, the origin was reached: a reset in the body is the origin's."""
    assert classify(RESET, phase=Phase.BODY, via_proxy=True).blame is Blame.ORIGIN


def test_direct_reset_is_the_origins() -> None:
    """Without a proxy a reset is the origin's."""
    assert classify(RESET, phase=Phase.WAIT).blame is Blame.ORIGIN


def test_tls_timeout_through_proxy_is_the_proxys() -> None:
    """A TLS handshake that stalls through a tunnel points at the tunnel."""
    failure = classify(TimeoutError("_ssl.c:989: The handshake operation timed out"), via_proxy=True)
    assert shape(failure) == (E.ETIMEDOUT, P.TLS, B.PROXY, False, None, None)


def test_dns_through_proxy_without_knowing_which_name() -> None:
    """Through a proxy, a local resolver error may be the proxy's name or the target's: blame unknown."""
    failure = classify(socket.gaierror(-2, "Name or service not known"), via_proxy=True)
    assert shape(failure) == (E.EAI_NONAME, P.DNS, B.UNKNOWN, False, None, None)


def test_dns_of_the_proxy_host_is_the_proxys() -> None:
    """Resolving the proxy's own name (proxy_connect hint) failed: the proxy entry is bad."""
    failure = classify(socket.gaierror(-2, "Name or service not known"), phase=Phase.PROXY_CONNECT)
    assert shape(failure) == (E.EAI_NONAME, P.DNS, B.PROXY, False, None, None)


def test_resolver_timeout_is_the_network() -> None:
    """A timer that fires while resolving (no answer from the resolver) is the network's."""
    failure = classify(TimeoutError("timed out"), phase=Phase.DNS)
    assert shape(failure) == (E.ETIMEDOUT, P.DNS, B.NETWORK, False, None, None)


def test_local_errors_stay_local_through_a_proxy() -> None:
    """Out of file descriptors is our problem even on the way to a proxy."""
    assert classify(OSError(24, "Too many open files"), phase=Phase.PROXY_CONNECT).blame is Blame.LOCAL


def test_status_argument_is_kept() -> None:
    """A status the call site saw is recorded when the exception carries none."""
    failure = classify(RESET, phase=Phase.BODY, status=200)
    assert shape(failure) == (E.ECONNRESET, P.BODY, B.ORIGIN, True, 104, 200)


def test_status_argument_names_an_unexplained_connect_refusal() -> None:
    """In the proxy handshake, a non-2xx status turns an unrecognised exception into a proxy refusal."""
    failure = classify(RuntimeError("tunnel failed"), phase=Phase.PROXY_HANDSHAKE, status=407)
    assert shape(failure) == (E.PROXY_AUTH, P.PROXY_HANDSHAKE, B.PROXY, False, None, 407)


def test_exception_status_beats_argument() -> None:
    """The status the exception proves wins over the argument."""
    failure = classify(OSError("Tunnel connection failed: 502 Bad Gateway"), status=200)
    assert failure.status == 502


def test_failure_keeps_the_exception() -> None:
    """The Failure carries the classified exception (not compared, not in the repr)."""
    failure = classify(RESET)
    assert failure.exception is RESET
    assert "exception" not in repr(failure)


@pytest.mark.parametrize(
    ("status", "kwargs", "expected"),
    [
        (503, {}, (E.HTTP_STATUS, P.WAIT, B.ORIGIN, True, None, 503)),
        (429, {"phase": P.BODY}, (E.HTTP_STATUS, P.BODY, B.ORIGIN, True, None, 429)),
        (407, {}, (E.HTTP_STATUS, P.WAIT, B.ORIGIN, True, None, 407)),
        (407, {"via_proxy": True}, (E.PROXY_AUTH, P.WAIT, B.PROXY, False, None, 407)),
        (503, {"via_proxy": True}, (E.HTTP_STATUS, P.WAIT, B.ORIGIN, True, None, 503)),
        (407, {"phase": P.PROXY_HANDSHAKE}, (E.PROXY_AUTH, P.PROXY_HANDSHAKE, B.PROXY, False, None, 407)),
        (502, {"phase": P.PROXY_HANDSHAKE}, (E.PROXY_REFUSED, P.PROXY_HANDSHAKE, B.PROXY, False, None, 502)),
    ],
)
def test_classify_status(status: int, kwargs: dict[str, object], expected: tuple[object, ...]) -> None:
    """classify_status: HTTP_STATUS from the origin, unless a proxy answered (CONNECT or forwarding 407)."""
    assert shape(classify_status(status, **kwargs)) == expected  # type: ignore[arg-type]


def test_classify_status_detail() -> None:
    """The detail names the status and its reason phrase."""
    assert classify_status(503).detail == "HTTP 503 Service Unavailable"
    assert classify_status(599).detail == "HTTP 599"


@pytest.mark.parametrize("status", [0, 99, 1000, -1])
def test_classify_status_rejects_non_statuses(status: int) -> None:
    """A number that is not an HTTP status is refused with a message naming it."""
    with pytest.raises(ValueError, match=f"got {status}"):
        classify_status(status)
