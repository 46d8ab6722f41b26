"""A tour of the lab: trigger each fault with a plain stdlib client and note what it saw, step by step."""

from __future__ import annotations

import http.client
import socket
import ssl
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from urllib.parse import urlsplit

from sockwise._classify import classify
from sockwise._model import Failure, Phase
from sockwise.lab._lab import Lab
from sockwise.lab._scenarios import scenario_names

__all__ = ["Sighting", "tour"]

_STEP_PHASE = {
    "connect": Phase.CONNECT,
    "tls": Phase.TLS,
    "send": Phase.SEND,
    "getresponse": Phase.WAIT,
    "read": Phase.BODY,
}
_TOUR_PROXIES = ("healthy", "refuse", "blackhole", "auth", "connect-502", "reset-after-connect")


@dataclass(frozen=True, slots=True)
class Sighting:
    """What a plain client saw when it met one scenario.

    Attributes:
        scenario: the scenario (``proxy:<profile>`` for proxies).
        step: the client step that ended it: connect, tls, send, getresponse, read, done.
        outcome: the exception type (``ConnectionResetError``) or ``200 OK``.
        errno: the exception's errno, if any.
        detail: the exception message or a short description of the response.
        seconds: how long the client took.
        failure: what sockwise makes of the exception (None for a success).
    """

    scenario: str
    step: str
    outcome: str
    errno: int | None
    detail: str
    seconds: float
    failure: Failure | None = None


class _Steps:
    def __init__(self) -> None:
        self.step = "connect"


def _see(scenario: str, run: Callable[[_Steps], str], *, via_proxy: bool = False) -> Sighting:
    steps = _Steps()
    start = time.monotonic()
    try:
        detail = run(steps)
    except Exception as exc:
        err = getattr(exc, "errno", None)
        if isinstance(exc, ssl.SSLError):
            err = None  # an SSL error code, not an OS errno
        message = str(exc).splitlines()[0] if str(exc) else ""
        # The tour knows the step it was in, as an integration does: pass it as the phase hint.
        # Through a proxy, http.client's connect() is TCP connect and CONNECT in one: no hint.
        hint = None if via_proxy and steps.step == "connect" else _STEP_PHASE.get(steps.step)
        failure = classify(exc, phase=hint, via_proxy=via_proxy)
        return Sighting(scenario, steps.step, type(exc).__name__, err, message[:120], time.monotonic() - start, failure)
    return Sighting(scenario, "done", "ok", None, detail, time.monotonic() - start)


def _http(
    url: str, timeout: float, context: ssl.SSLContext | None, tunnel: tuple[str, int] | None = None
) -> Callable[[_Steps], str]:
    parts = urlsplit(url)
    host, port = parts.hostname or "", parts.port or 80

    def run(steps: _Steps) -> str:
        conn: http.client.HTTPConnection
        if tunnel is not None:
            conn = http.client.HTTPConnection(tunnel[0], tunnel[1], timeout=timeout)
            conn.set_tunnel(host, port)
        elif parts.scheme == "https":
            conn = http.client.HTTPSConnection(host, port, timeout=timeout, context=context)
        else:
            conn = http.client.HTTPConnection(host, port, timeout=timeout)
        try:
            steps.step = "connect"
            conn.connect()
            steps.step = "send"
            conn.request("GET", parts.path + (f"?{parts.query}" if parts.query else ""))
            steps.step = "getresponse"
            resp = conn.getresponse()
            steps.step = "read"
            body = resp.read()
            return f"{resp.status} {resp.reason}, {len(body)} bytes"
        finally:
            conn.close()

    return run


def _raw_tls(address: tuple[str, int], timeout: float, context: ssl.SSLContext) -> Callable[[_Steps], str]:
    def run(steps: _Steps) -> str:
        steps.step = "connect"
        with socket.create_connection(address, timeout=timeout) as sock:
            steps.step = "tls"
            with context.wrap_socket(sock, server_hostname=address[0]) as tls:
                return f"handshake ok, {tls.version()}"

    return run


def tour(lab: Lab, *, timeout: float = 0.5, proxies: bool = True) -> Iterator[Sighting]:
    """Meet every origin scenario (and a few proxy profiles) with stdlib clients.

    Args:
        lab: a running lab.
        timeout: the clients' socket timeout (stalls end after it).
        proxies: also go through lab proxies (needs the proxy module).

    Yields:
        One Sighting per scenario, in catalogue order.
    """
    context = lab.client_ssl_context() if lab.certs else None
    for name in scenario_names("path"):
        if name == "stale-keepalive":
            yield _see(name, _stale_keepalive(lab, timeout))
            continue
        url = lab.url(name, size=5, interval=0.05) if name == "trickle" else lab.url(name)
        yield _see(name, _http(url, timeout, context))
    for name in scenario_names("port"):
        if name in ("tls-stall", "bad-cert", "wrong-host", "tls-to-plain"):
            if context is not None:
                yield _see(name, _raw_tls(lab.address(name), timeout, context))
            continue
        yield _see(name, _http(lab.url(name), timeout, context))
    if proxies:
        for profile in _TOUR_PROXIES:
            proxy = lab.add_proxy(profile).proxy
            tunnel = (proxy.host, proxy.port)
            yield _see(f"proxy:{profile}", _http(lab.url("ok"), timeout, None, tunnel=tunnel), via_proxy=True)


def _stale_keepalive(lab: Lab, timeout: float) -> Callable[[_Steps], str]:
    def run(steps: _Steps) -> str:
        conn = http.client.HTTPConnection(lab.host, lab.port("origin"), timeout=timeout)
        try:
            conn.request("GET", "/fault/stale-keepalive")
            conn.getresponse().read()
            steps.step = "send"
            conn.request("GET", "/fault/stale-keepalive")
            steps.step = "getresponse"
            resp = conn.getresponse()
            return f"{resp.status} {resp.reason}"
        finally:
            conn.close()

    return run
