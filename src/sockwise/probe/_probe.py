"""``sockwise probe``: one request, step by step, on stdlib sockets, so every phase is observed.

Libraries hide where a request failed; the probe does each step itself — resolve, connect (to
the proxy, then through it with CONNECT or SOCKS), TLS, send, wait for headers, read the body —
timing each, and classifies a failure with the phase it *saw*, not one it guessed.
"""

from __future__ import annotations

import base64
import http.client
import ipaddress
import socket
import ssl
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar
from urllib.parse import urlsplit

from sockwise._exceptions import ConfigError
from sockwise._model import Blame, ErrorCode, Failure, Phase, Proxy

__all__ = ["PhaseTiming", "ProbeResult", "probe"]

T = TypeVar("T")

# Statuses that say the route works but the site does not want us now: a probe's failure.
_FAILING_STATUSES = frozenset({403, 407, 408, 425, 429, 500, 502, 503, 504})


@dataclass(frozen=True, slots=True)
class PhaseTiming:
    """One step of the probe: its name, how long it took, whether it completed, and its :class:`Phase`."""

    name: str
    ms: float
    ok: bool
    phase: Phase = Phase.UNKNOWN


@dataclass(frozen=True, slots=True)
class ProbeResult:
    """The verdict of one probe.

    Attributes:
        url: the URL probed.
        proxy: the proxy used, redacted, or None.
        ok: True when every phase completed with an acceptable status.
        status: the HTTP status, when headers arrived.
        failure: the classified failure, or None.
        phases: each step in order, with its time.
        body_bytes: how many body bytes were read.
    """

    url: str
    proxy: str | None
    ok: bool
    status: int | None
    failure: Failure | None
    phases: tuple[PhaseTiming, ...] = field(default=())
    body_bytes: int = 0

    def as_dict(self, explanation: str = "") -> dict[str, Any]:
        """The JSON shape of ``sockwise probe --json``."""
        failure = None
        if self.failure is not None:
            f = self.failure
            failure = {
                "code": str(f.code),
                "phase": str(f.phase),
                "blame": str(f.blame),
                "request_sent": f.request_sent,
                "errno": f.errno,
                "status": f.status,
                "detail": f.detail,
            }
        return {
            "ok": self.ok,
            "url": self.url,
            "proxy": self.proxy,
            "status": self.status,
            "failure": failure,
            "phases": [{"name": p.name, "ms": round(p.ms, 3), "ok": p.ok} for p in self.phases],
            "explanation": explanation,
        }


class _Run:
    """Times phases, remembers the one in progress (for classification) and keeps the deadline."""

    def __init__(self, timeout: float, deadline: float | None) -> None:
        self.phases: list[PhaseTiming] = []
        self.current = Phase.UNKNOWN
        self.timeout = timeout
        self.deadline = deadline
        self.end = None if deadline is None else time.monotonic() + deadline
        self.body_bytes = 0

    def left(self) -> float:
        """The timeout of the next socket operation: the step timeout, cut to what the deadline leaves."""
        if self.end is None:
            return self.timeout
        left = self.end - time.monotonic()
        if left <= 0:
            raise TimeoutError(f"the probe's deadline of {self.deadline:g} s passed")
        return min(self.timeout, left)

    def step(self, phase: Phase, label: str, fn: Callable[[], T]) -> T:
        self.current = phase
        start = time.perf_counter()
        try:
            result = fn()
        except BaseException:
            self.phases.append(PhaseTiming(label, (time.perf_counter() - start) * 1000, False, phase))
            raise
        self.phases.append(PhaseTiming(label, (time.perf_counter() - start) * 1000, True, phase))
        return result


class ProxyHandshakeRefused(OSError):
    """A proxy answered its handshake with a refusal (CONNECT non-2xx or a SOCKS error reply)."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


def _target(url: str) -> tuple[str, str, int, str]:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise ConfigError(f"cannot probe {url!r}: the URL needs an http:// or https:// scheme")
    if not parts.hostname:
        raise ConfigError(f"cannot probe {url!r}: the URL has no host")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise ConfigError(f"cannot probe {url!r}: the port is not a number in 1-65535") from None
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return parts.scheme, parts.hostname, port, path


def _resolve(host: str, port: int) -> tuple[Any, ...]:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        return tuple(infos[0][4])
    return (host, port)


def _connect(address: tuple[Any, ...], timeout: float) -> socket.socket:
    family = socket.AF_INET6 if ":" in str(address[0]) else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    try:
        sock.connect(address)
    except BaseException:
        sock.close()
        raise
    return sock


def _recv_exact(sock: socket.socket, n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise http.client.RemoteDisconnected("proxy closed the connection during the handshake")
        data += chunk
    return data


def _http_connect(sock: socket.socket, proxy: Proxy, host: str, port: int) -> None:
    authority = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    lines = [f"CONNECT {authority} HTTP/1.1", f"Host: {authority}"]
    if proxy.username is not None:
        token = base64.b64encode(f"{proxy.username}:{proxy.password or ''}".encode()).decode()
        lines.append(f"Proxy-Authorization: Basic {token}")
    sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
    resp = http.client.HTTPResponse(sock, method="CONNECT")
    try:
        resp.begin()
    finally:
        resp.close()  # its file holds a reference that would keep the fd open past sock.close()
    if not 200 <= resp.status < 300:
        raise ProxyHandshakeRefused(f"Tunnel connection failed: {resp.status} {resp.reason}", resp.status)


_SOCKS5_REPLIES = {
    1: "general SOCKS server failure",
    2: "connection not allowed by ruleset",
    3: "network unreachable",
    4: "host unreachable",
    5: "connection refused",
    6: "TTL expired",
    7: "command not supported",
    8: "address type not supported",
}


def _socks5(sock: socket.socket, proxy: Proxy, host: str, port: int) -> None:
    methods = b"\x00\x02" if proxy.username is not None else b"\x00"
    sock.sendall(b"\x05" + bytes([len(methods)]) + methods)
    version, method = _recv_exact(sock, 2)
    if version != 5 or method == 0xFF:
        raise ProxyHandshakeRefused("SOCKS5 proxy accepts none of our authentication methods", 407)
    if method == 2:
        user = (proxy.username or "").encode()
        password = (proxy.password or "").encode()
        sock.sendall(b"\x01" + bytes([len(user)]) + user + bytes([len(password)]) + password)
        if _recv_exact(sock, 2)[1] != 0:
            raise ProxyHandshakeRefused("SOCKS5 proxy rejected the username/password", 407)
    try:
        packed = ipaddress.ip_address(host).packed
        addr = (b"\x01" if len(packed) == 4 else b"\x04") + packed
    except ValueError:
        if proxy.scheme == "socks5":  # socks5 resolves locally, socks5h lets the proxy do it
            packed = socket.inet_aton(_resolve(host, port)[0])
            addr = b"\x01" + packed
        else:
            addr = b"\x03" + bytes([len(host)]) + host.encode("idna")
    sock.sendall(b"\x05\x01\x00" + addr + struct.pack("!H", port))
    _, reply, _, atyp = _recv_exact(sock, 4)
    if reply != 0:
        raise ProxyHandshakeRefused(f"SOCKS5 proxy refused: {_SOCKS5_REPLIES.get(reply, f'reply {reply}')}")
    _recv_exact(sock, {1: 4, 4: 16}.get(atyp, 0) or _recv_exact(sock, 1)[0])
    _recv_exact(sock, 2)


def _socks4(sock: socket.socket, proxy: Proxy, host: str, port: int) -> None:
    try:
        packed = socket.inet_aton(host)
        tail = b""
    except OSError:  # SOCKS4a: let the proxy resolve
        packed, tail = b"\x00\x00\x00\x01", host.encode("idna") + b"\x00"
    user = (proxy.username or "").encode()
    sock.sendall(b"\x04\x01" + struct.pack("!H", port) + packed + user + b"\x00" + tail)
    reply = _recv_exact(sock, 8)
    if reply[1] != 0x5A:
        raise ProxyHandshakeRefused(f"SOCKS4 proxy refused: reply 0x{reply[1]:02x}")


def probe(
    url: str,
    *,
    proxy: Proxy | None = None,
    timeout: float = 10.0,
    ssl_context: ssl.SSLContext | None = None,
    method: str = "GET",
    deadline: float | None = None,
) -> ProbeResult:
    """Run one request step by step and classify how far it got.

    Args:
        url: an ``http://`` or ``https://`` URL.
        proxy: go through this proxy (http: CONNECT for https targets and absolute-form for http;
            socks4/socks5/socks5h: a SOCKS handshake); None = direct.
        timeout: the socket timeout of every step.
        ssl_context: the context for TLS to the origin (default: the system's trust store).
        method: the request method.
        deadline: seconds for the whole probe (None: only the per-step timeout). Each socket
            operation waits at most what is left and the body is read in chunks, so a trickling
            body cannot outlast it (it fails ETIMEDOUT in ``body``). Name resolution is not bounded.

    Returns:
        The verdict, with the time of each phase. Never raises for a network failure.

    Raises:
        ConfigError: the URL is not usable (no scheme, no host, bad port).
    """
    from sockwise._classify import classify, classify_status

    scheme, host, port, path = _target(url)
    run = _Run(timeout, deadline)
    via = proxy is not None
    sock: socket.socket | None = None
    resp: http.client.HTTPResponse | None = None
    status: int | None = None
    try:
        if proxy is None:
            address = run.step(Phase.DNS, "resolve", lambda: _resolve(host, port))
            sock = run.step(Phase.CONNECT, "connect", lambda: _connect(address, run.left()))
        else:
            address = run.step(Phase.DNS, "resolve proxy", lambda: _resolve(proxy.host, proxy.port))
            sock = run.step(Phase.PROXY_CONNECT, "connect to proxy", lambda: _connect(address, run.left()))
            if proxy.scheme == "https":
                ctx = ssl.create_default_context()
                raw = sock
                raw.settimeout(run.left())
                sock = run.step(
                    Phase.PROXY_HANDSHAKE, "tls to proxy", lambda: ctx.wrap_socket(raw, server_hostname=proxy.host)
                )
            tunnel = sock
            tunnel.settimeout(run.left())
            if proxy.scheme.startswith("socks5"):
                run.step(Phase.PROXY_HANDSHAKE, "socks5", lambda: _socks5(tunnel, proxy, host, port))
            elif proxy.scheme == "socks4":
                run.step(Phase.PROXY_HANDSHAKE, "socks4", lambda: _socks4(tunnel, proxy, host, port))
            elif scheme == "https":
                run.step(Phase.PROXY_HANDSHAKE, "connect tunnel", lambda: _http_connect(tunnel, proxy, host, port))
        if scheme == "https":
            ctx = ssl_context or ssl.create_default_context()
            plain = sock
            plain.settimeout(run.left())
            sock = run.step(Phase.TLS, "tls", lambda: ctx.wrap_socket(plain, server_hostname=host))
        absolute = proxy is not None and proxy.scheme in ("http", "https") and scheme == "http"
        head = _request_head(method, scheme, host, port, path, proxy if absolute else None)
        conn = sock
        conn.settimeout(run.left())
        run.step(Phase.SEND, "send", lambda: conn.sendall(head))
        conn.settimeout(run.left())
        resp = http.client.HTTPResponse(conn, method=method)
        run.step(Phase.WAIT, "wait for headers", resp.begin)
        status = resp.status
        response = resp
        run.step(Phase.BODY, "body", lambda: _read_body(response, conn, run))
    except ConfigError:
        raise
    except Exception as exc:  # a probe reports every failure as a verdict
        if isinstance(exc, ProxyHandshakeRefused) and exc.status is not None:
            exc_status: int | None = exc.status
        else:
            exc_status = None
        failure = classify(exc, phase=run.current, via_proxy=via, status=exc_status)
        if isinstance(exc, ProxyHandshakeRefused) and failure.code is ErrorCode.UNKNOWN:
            # A SOCKS reply failure has no status for classify to read, but the probe saw the refusal.
            failure = replace(failure, code=ErrorCode.PROXY_REFUSED, blame=Blame.PROXY, request_sent=False)
        return ProbeResult(
            url, proxy.redacted if proxy else None, False, status, failure, tuple(run.phases), run.body_bytes
        )
    finally:
        if resp is not None:  # its file holds a reference that would keep the fd open past sock.close()
            resp.close()
        if sock is not None:
            sock.close()
    verdict = classify_status(status, via_proxy=via) if status in _FAILING_STATUSES else None
    return ProbeResult(
        url, proxy.redacted if proxy else None, verdict is None, status, verdict, tuple(run.phases), run.body_bytes
    )


def _read_body(resp: http.client.HTTPResponse, sock: socket.socket, run: _Run) -> None:
    """Read the body, one recv at a time within what the deadline leaves, counting bytes in ``run``."""
    while True:
        sock.settimeout(run.left())
        chunk = resp.read1(65536)
        if not chunk:
            if resp.length:  # read1 ends a body cut short of its Content-Length silently; read() would not
                raise http.client.IncompleteRead(b"", resp.length)
            return
        run.body_bytes += len(chunk)


def _request_head(method: str, scheme: str, host: str, port: int, path: str, absolute_via: Proxy | None) -> bytes:
    authority = f"[{host}]" if ":" in host else host
    if port != (443 if scheme == "https" else 80):
        authority += f":{port}"
    target = f"{scheme}://{authority}{path}" if absolute_via is not None else path
    lines = [f"{method} {target} HTTP/1.1", f"Host: {authority}", "User-Agent: sockwise-probe", "Connection: close"]
    if absolute_via is not None and absolute_via.username is not None:
        token = base64.b64encode(f"{absolute_via.username}:{absolute_via.password or ''}".encode()).decode()
        lines.append(f"Proxy-Authorization: Basic {token}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()
