"""httpx and httpcore: chains built with the libraries' own mapping code, classified exactly."""

from __future__ import annotations

import socket
import ssl
from collections.abc import Callable

import anyio
import h11
import httpcore
import httpx
import pytest
from httpcore._exceptions import map_exceptions
from httpx._transports.default import map_httpcore_exceptions
from tests.classify._helpers import Shape, caught, raise_, shape

from sockwise import Blame, ErrorCode, Phase
from sockwise._classify import classify

E, P, B = ErrorCode, Phase, Blame

# httpcore's sync backend maps, verbatim (httpcore/_backends/sync.py).
CONNECT_MAP: dict[type[Exception], type[Exception]] = {
    socket.timeout: httpcore.ConnectTimeout,
    OSError: httpcore.ConnectError,
}
READ_MAP: dict[type[Exception], type[Exception]] = {socket.timeout: httpcore.ReadTimeout, OSError: httpcore.ReadError}
WRITE_MAP: dict[type[Exception], type[Exception]] = {
    socket.timeout: httpcore.WriteTimeout,
    OSError: httpcore.WriteError,
}
# httpcore's anyio backend read map (httpcore/_backends/anyio.py).
ANYIO_READ_MAP: dict[type[Exception], type[Exception]] = {
    TimeoutError: httpcore.ReadTimeout,
    anyio.BrokenResourceError: httpcore.ReadError,
    anyio.ClosedResourceError: httpcore.ReadError,
    anyio.EndOfStream: httpcore.ReadError,
}


def core(exc_map: dict[type[Exception], type[Exception]], raw: BaseException) -> BaseException:
    """httpcore's map_exceptions around a raw error."""

    def go() -> None:
        with map_exceptions(exc_map):
            raise raw

    return caught(go)


def via_httpx(core_exc: BaseException) -> BaseException:
    """httpx's map_httpcore_exceptions around an httpcore error."""

    def go() -> None:
        with map_httpcore_exceptions():
            raise core_exc

    return caught(go)


def with_reason(cls: type[ssl.SSLError], number: int, reason: str | None, message: str) -> ssl.SSLError:
    exc = cls(number, message)
    setattr(exc, "reason", reason)  # noqa: B010 - the C code sets it on the instance
    return exc


REFUSED = ConnectionRefusedError(111, "Connection refused")
RESET = ConnectionResetError(104, "Connection reset by peer")
WRONG_VERSION = with_reason(ssl.SSLError, 1, "WRONG_VERSION_NUMBER", "[SSL: WRONG_VERSION_NUMBER] wrong version number")
TLS_EOF = with_reason(
    ssl.SSLEOFError, 8, "UNEXPECTED_EOF_WHILE_READING", "[SSL: UNEXPECTED_EOF_WHILE_READING] EOF occurred"
)
CERT = ssl.SSLCertVerificationError(1, "[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed")


def connect(raw: BaseException) -> BaseException:
    return via_httpx(core(CONNECT_MAP, raw))


def https_connect(raw: BaseException) -> BaseException:
    """A connect error as httpx.Client raises it: with its request (an https URL) attached."""
    exc = connect(raw)
    assert isinstance(exc, httpx.RequestError)
    exc.request = httpx.Request("GET", "https://127.0.0.1:8443/x")
    return exc


def read(raw: BaseException) -> BaseException:
    return via_httpx(core(READ_MAP, raw))


def h11_error(message: str) -> BaseException:
    return via_httpx(core({h11.RemoteProtocolError: httpcore.RemoteProtocolError}, h11.RemoteProtocolError(message)))


def anyio_reset() -> BaseException:
    broken = caught(lambda: raise_(anyio.BrokenResourceError(), RESET))
    return via_httpx(core(ANYIO_READ_MAP, broken))


def status_error(status: int) -> BaseException:
    request = httpx.Request("GET", "http://127.0.0.1:8080/x")
    response = httpx.Response(status, request=request)
    return httpx.HTTPStatusError(f"Server error '{status}'", request=request, response=response)


CASES: list[tuple[str, Callable[[], BaseException], Shape]] = [
    ("refused", lambda: connect(REFUSED), (E.ECONNREFUSED, P.CONNECT, B.ORIGIN, False, 111, None)),
    (
        "dns",
        lambda: connect(socket.gaierror(-2, "Name or service not known")),
        (E.EAI_NONAME, P.DNS, B.ORIGIN, False, None, None),
    ),
    (
        "dns-again",
        lambda: connect(socket.gaierror(-3, "Temporary failure in name resolution")),
        (E.EAI_AGAIN, P.DNS, B.NETWORK, False, None, None),
    ),
    (
        "hostunreach",
        lambda: connect(OSError(113, "No route to host")),
        (E.EHOSTUNREACH, P.CONNECT, B.NETWORK, False, 113, None),
    ),
    (
        "netunreach",
        lambda: connect(OSError(101, "Network is unreachable")),
        (E.ENETUNREACH, P.CONNECT, B.NETWORK, False, 101, None),
    ),
    ("emfile", lambda: connect(OSError(24, "Too many open files")), (E.EMFILE, P.CONNECT, B.LOCAL, False, 24, None)),
    (
        "connect-timer",
        lambda: connect(TimeoutError("timed out")),
        (E.ETIMEDOUT, P.CONNECT, B.NETWORK, False, None, None),
    ),
    (
        "connect-kernel-timeout",
        lambda: connect(TimeoutError(110, "Connection timed out")),
        (E.ETIMEDOUT, P.CONNECT, B.NETWORK, False, 110, None),
    ),
    (
        "tls-handshake-stall-is-a-connect-timeout",
        lambda: connect(TimeoutError("_ssl.c:989: The handshake operation timed out")),
        (E.ETIMEDOUT, P.TLS, B.ORIGIN, False, None, None),
    ),
    (
        "anyio-connect-timeout",
        lambda: via_httpx(core({TimeoutError: httpcore.ConnectTimeout}, TimeoutError())),
        (E.ETIMEDOUT, P.CONNECT, B.NETWORK, False, None, None),
    ),
    ("wrong-version", lambda: connect(WRONG_VERSION), (E.EPROTO, P.TLS, B.ORIGIN, False, None, None)),
    ("cert", lambda: connect(CERT), (E.TLS_CERT, P.TLS, B.ORIGIN, False, None, None)),
    # A connect with a timeout can return ECONNRESET too (SO_ERROR after a non-blocking connect):
    # for an https URL the TLS handshake is the likelier place.
    ("reset-in-handshake", lambda: https_connect(RESET), (E.ECONNRESET, P.TLS, B.ORIGIN, False, 104, None)),
    (
        "plain-server-closes-in-handshake",
        lambda: connect(TLS_EOF),
        (E.UNEXPECTED_EOF, P.TLS, B.ORIGIN, False, None, None),
    ),
    ("read-reset", lambda: read(RESET), (E.ECONNRESET, P.WAIT, B.ORIGIN, True, 104, None)),
    (
        "read-aborted",
        lambda: read(ConnectionAbortedError(103, "Software caused connection abort")),
        (E.ECONNABORTED, P.WAIT, B.LOCAL, True, 103, None),
    ),
    ("read-plaintext-after-tls", lambda: read(WRONG_VERSION), (E.EPROTO, P.WAIT, B.ORIGIN, True, None, None)),
    (
        "read-kernel-timeout",
        lambda: read(TimeoutError(110, "Connection timed out")),
        (E.ETIMEDOUT, P.WAIT, B.NETWORK, True, 110, None),
    ),
    ("read-timer", lambda: read(TimeoutError("timed out")), (E.ETIMEDOUT, P.WAIT, B.ORIGIN, True, None, None)),
    (
        "write-pipe",
        lambda: via_httpx(core(WRITE_MAP, BrokenPipeError(32, "Broken pipe"))),
        (E.EPIPE, P.SEND, B.ORIGIN, None, 32, None),
    ),
    ("anyio-read-reset", anyio_reset, (E.ECONNRESET, P.WAIT, B.ORIGIN, True, 104, None)),
    (
        "empty-reply",
        lambda: via_httpx(httpcore.RemoteProtocolError("Server disconnected without sending a response.")),
        (E.UNEXPECTED_EOF, P.WAIT, B.ORIGIN, True, None, None),
    ),
    (
        "truncated-body",
        lambda: h11_error(
            "peer closed connection without sending complete message body (received 3 bytes, expected 100)"
        ),
        (E.UNEXPECTED_EOF, P.BODY, B.ORIGIN, True, None, None),
    ),
    (
        "illegal-status-line",
        lambda: h11_error("illegal status line: bytearray(b'SSH-2.0-OpenSSH_9.6')"),
        (E.EPROTO, P.WAIT, B.ORIGIN, True, None, None),
    ),
    (
        "proxy-407",
        lambda: via_httpx(httpcore.ProxyError("407 Proxy Authentication Required")),
        (E.PROXY_AUTH, P.PROXY_HANDSHAKE, B.PROXY, False, None, 407),
    ),
    (
        "proxy-403",
        lambda: via_httpx(httpcore.ProxyError("403 Forbidden")),
        (E.PROXY_REFUSED, P.PROXY_HANDSHAKE, B.PROXY, False, None, 403),
    ),
    (
        "socks-login",
        lambda: via_httpx(httpcore.ProxyError("Invalid username/password")),
        (E.PROXY_AUTH, P.PROXY_HANDSHAKE, B.PROXY, False, None, None),
    ),
    (
        "socks-method",
        lambda: via_httpx(
            httpcore.ProxyError("Requested NO AUTHENTICATION REQUIRED from proxy server, but got USERNAME/PASSWORD.")
        ),
        (E.PROXY_AUTH, P.PROXY_HANDSHAKE, B.PROXY, False, None, None),
    ),
    (
        "socks-refused",
        lambda: via_httpx(httpcore.ProxyError("Proxy Server could not connect: HOST_UNREACHABLE.")),
        (E.PROXY_REFUSED, P.PROXY_HANDSHAKE, B.PROXY, False, None, None),
    ),
    ("pool-timeout", lambda: via_httpx(httpcore.PoolTimeout()), (E.ETIMEDOUT, P.UNKNOWN, B.LOCAL, False, None, None)),
    ("status", lambda: status_error(503), (E.HTTP_STATUS, P.WAIT, B.ORIGIN, True, None, 503)),
    (
        "unsupported-protocol",
        lambda: via_httpx(httpcore.UnsupportedProtocol("Request URL has an unsupported protocol 'ftp://'.")),
        (E.UNKNOWN, P.UNKNOWN, B.LOCAL, False, None, None),
    ),
    (
        "decoding",
        lambda: httpx.DecodingError("Error -3 while decompressing data"),
        (E.EPROTO, P.BODY, B.ORIGIN, True, None, None),
    ),
]


@pytest.mark.parametrize(("build", "expected"), [(b, w) for _, b, w in CASES], ids=[n for n, _, _ in CASES])
def test_httpx_rows(build: Callable[[], BaseException], expected: Shape) -> None:
    """Each httpx chain gives its exact (code, phase, blame, request_sent, errno, status) with no hint."""
    assert shape(classify(build())) == expected


def test_httpcore_alone_is_classified_the_same() -> None:
    """An httpcore exception (httpcore used directly) gives what its httpx namesake gives."""
    assert shape(classify(core(CONNECT_MAP, REFUSED))) == shape(classify(connect(REFUSED)))
    assert shape(classify(core(READ_MAP, RESET))) == shape(classify(read(RESET)))


def test_proxy_down_needs_the_proxy_flag() -> None:
    """httpx's ConnectError does not say it was the proxy; via_proxy moves it to proxy_connect, blamed on the proxy."""
    assert shape(classify(connect(REFUSED), via_proxy=True)) == (
        E.ECONNREFUSED,
        P.PROXY_CONNECT,
        B.PROXY,
        False,
        111,
        None,
    )


def test_proxy_connect_hint_is_the_proxy() -> None:
    """A connect hint through a proxy is the connect to the proxy."""
    failure = classify(connect(TimeoutError("timed out")), phase=Phase.CONNECT, via_proxy=True)
    assert shape(failure) == (E.ETIMEDOUT, P.PROXY_CONNECT, B.PROXY, False, None, None)


def test_tunnel_dying_is_the_proxys() -> None:
    """CONNECT answered 200, then the tunnel closes during TLS: an EOF in TLS, blamed on the proxy."""
    assert shape(classify(connect(TLS_EOF), via_proxy=True)) == (E.UNEXPECTED_EOF, P.TLS, B.PROXY, False, None, None)
    assert shape(classify(https_connect(RESET), via_proxy=True)) == (E.ECONNRESET, P.TLS, B.PROXY, False, 104, None)


def test_proxy_closing_on_connect_with_hint() -> None:
    """An empty reply to CONNECT, with the integration's proxy_handshake hint."""
    exc = via_httpx(httpcore.RemoteProtocolError("Server disconnected without sending a response."))
    assert shape(classify(exc, phase=Phase.PROXY_HANDSHAKE)) == (
        E.UNEXPECTED_EOF,
        P.PROXY_HANDSHAKE,
        B.PROXY,
        False,
        None,
        None,
    )


def test_read_in_body_with_hint() -> None:
    """httpx's ReadError does not say headers or body; a body hint is taken as given."""
    assert shape(classify(read(RESET), phase=Phase.BODY)) == (E.ECONNRESET, P.BODY, B.ORIGIN, True, 104, None)


def test_read_timeout_through_proxy_blames_nobody() -> None:
    """A read timer through a proxy once the request is out may be a slow origin or a proxy sitting on it: unknown."""
    exc = read(TimeoutError("timed out"))
    assert shape(classify(exc, via_proxy=True, phase=Phase.WAIT)) == (E.ETIMEDOUT, P.WAIT, B.UNKNOWN, True, None, None)
    assert shape(classify(exc, phase=Phase.WAIT)) == (E.ETIMEDOUT, P.WAIT, B.ORIGIN, True, None, None)
