"""What `sockwise check` needs of the probe: closed sockets while a failure lives, SOCKS refusals named, a deadline
that bounds a trickle, and the phase of every step."""

from __future__ import annotations

import socket
import time
from types import TracebackType

import pytest

from sockwise import Blame, ErrorCode, Phase, Proxy
from sockwise.lab import Lab
from sockwise.probe import probe

E, P, B = ErrorCode, Phase, Blame


def sockets_in(tb: TracebackType | None) -> list[socket.socket]:
    """Every socket a traceback's frames still reference (directly or through an HTTPResponse's file)."""
    found: list[socket.socket] = []
    while tb is not None:
        for value in tb.tb_frame.f_locals.values():
            raw = getattr(getattr(value, "fp", None), "raw", None)
            for candidate in (value, getattr(raw, "_sock", None)):
                if isinstance(candidate, socket.socket):
                    found.append(candidate)
        tb = tb.tb_next
    return found


@pytest.mark.parametrize(
    ("profile", "tls", "code"),
    [("auth", True, E.PROXY_AUTH), ("blackhole", False, E.ETIMEDOUT), ("connect-502", True, E.PROXY_REFUSED)],
)
def test_failed_probe_leaves_no_socket_open(sockwise_lab: Lab, profile: str, tls: bool, code: ErrorCode) -> None:
    """While the failure (and its traceback) lives, every socket the probe opened is really closed (fileno -1)."""
    proxy = sockwise_lab.add_proxy(profile).proxy
    result = probe(
        sockwise_lab.url("ok", tls=tls),
        proxy=Proxy("http", proxy.host, proxy.port),
        timeout=0.3,
        ssl_context=sockwise_lab.client_ssl_context(),
    )
    assert result.failure is not None
    assert result.failure.code is code
    assert result.failure.exception is not None
    held = sockets_in(result.failure.exception.__traceback__)
    assert held, "the traceback should still reference the probe's socket"
    assert [s.fileno() for s in held] == [-1] * len(held)


@pytest.mark.parametrize(
    ("scheme", "profile"), [("socks5", "connect-502"), ("socks5", "connect-403"), ("socks4", "auth")]
)
def test_socks_refusal_is_proxy_refused(sockwise_lab: Lab, scheme: str, profile: str) -> None:
    """A SOCKS reply failure (no HTTP status) is PROXY_REFUSED in proxy_handshake, the proxy's, nothing sent."""
    lab_proxy = sockwise_lab.add_proxy(profile)
    proxy = Proxy(scheme, lab_proxy.host, lab_proxy.port)
    failure = probe(sockwise_lab.url("ok"), proxy=proxy, timeout=2).failure
    assert failure is not None
    assert (failure.code, failure.phase, failure.blame, failure.request_sent, failure.status) == (
        E.PROXY_REFUSED,
        P.PROXY_HANDSHAKE,
        B.PROXY,
        False,
        None,
    )


def test_deadline_bounds_a_trickling_body(sockwise_lab: Lab) -> None:
    """A 5 s trickle, 0.2 s step timeout, 0.8 s deadline: ETIMEDOUT in body at the deadline, bytes counted."""
    started = time.monotonic()
    result = probe(sockwise_lab.url("trickle", size=100, interval=0.05), timeout=0.2, deadline=0.8)
    elapsed = time.monotonic() - started
    assert result.failure is not None
    assert (result.failure.code, result.failure.phase, result.status) == (E.ETIMEDOUT, P.BODY, 200)
    # The deadline either cut the last recv's timeout ("timed out") or was found passed before it.
    assert result.failure.detail in ("TimeoutError: timed out", "TimeoutError: the probe's deadline of 0.8 s passed")
    assert 0 < result.body_bytes < 100
    assert 0.8 <= elapsed < 0.8 + 0.5


def test_without_deadline_a_short_trickle_completes(sockwise_lab: Lab) -> None:
    """Read timeouts are per recv: a trickle whose bytes come within the timeout succeeds, every byte counted."""
    result = probe(sockwise_lab.url("trickle", size=4, interval=0.05), timeout=1)
    assert (result.ok, result.status, result.body_bytes) == (True, 200, 4)


def test_every_step_carries_its_phase(sockwise_lab: Lab) -> None:
    """A CONNECT probe to the TLS origin records its steps with their phases, in order."""
    proxy = sockwise_lab.add_proxy("healthy").proxy
    result = probe(sockwise_lab.url("ok", tls=True), proxy=proxy, ssl_context=sockwise_lab.client_ssl_context())
    assert result.ok
    assert [(p.name, p.phase) for p in result.phases] == [
        ("resolve proxy", P.DNS),
        ("connect to proxy", P.PROXY_CONNECT),
        ("connect tunnel", P.PROXY_HANDSHAKE),
        ("tls", P.TLS),
        ("send", P.SEND),
        ("wait for headers", P.WAIT),
        ("body", P.BODY),
    ]
