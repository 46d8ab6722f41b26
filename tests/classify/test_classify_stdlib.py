"""The standard-library table: socket, ssl, http.client, urllib, asyncio and bare OS errnos."""

from __future__ import annotations

import asyncio
import email.message
import http.client
import socket
import ssl
import urllib.error

import pytest
from tests.classify._helpers import Shape, shape

from sockwise import Blame, ErrorCode, Phase
from sockwise._classify import classify
from sockwise._classify._stdlib import build_ssl_table

E = ErrorCode
P = Phase
B = Blame


def _ssl_error(cls: type[ssl.SSLError], number: int, reason: str | None, message: str) -> ssl.SSLError:
    # The C code sets .reason and .library on the instance; so does this.
    exc = cls(number, message)
    setattr(exc, "reason", reason)  # noqa: B010 - the C code sets it on the instance
    setattr(exc, "library", "SSL" if reason else None)  # noqa: B010
    return exc


WRONG_VERSION = _ssl_error(ssl.SSLError, 1, "WRONG_VERSION_NUMBER", "[SSL: WRONG_VERSION_NUMBER] wrong version number")
EOF_READING = _ssl_error(
    ssl.SSLEOFError, 8, "UNEXPECTED_EOF_WHILE_READING", "[SSL: UNEXPECTED_EOF_WHILE_READING] EOF occurred"
)
EOF_NO_REASON = _ssl_error(ssl.SSLEOFError, 8, None, "EOF occurred in violation of protocol (_ssl.c:2427)")
CERT = ssl.SSLCertVerificationError(1, "[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed")

CASES: list[tuple[str, BaseException, Shape]] = [
    (
        "gai-noname",
        socket.gaierror(-2, "Name or service not known"),
        (E.EAI_NONAME, P.DNS, B.ORIGIN, False, None, None),
    ),
    (
        "gai-again",
        socket.gaierror(-3, "Temporary failure in name resolution"),
        (E.EAI_AGAIN, P.DNS, B.NETWORK, False, None, None),
    ),
    (
        "gai-nodata",
        socket.gaierror(-5, "No address associated with hostname"),
        (E.EAI_NONAME, P.DNS, B.ORIGIN, False, None, None),
    ),
    ("gai-service", socket.gaierror(-8, "Servname not supported"), (E.UNKNOWN, P.DNS, B.LOCAL, False, None, None)),
    (
        "refused",
        ConnectionRefusedError(111, "Connection refused"),
        (E.ECONNREFUSED, P.CONNECT, B.ORIGIN, False, 111, None),
    ),
    (
        "reset",
        ConnectionResetError(104, "Connection reset by peer"),
        (E.ECONNRESET, P.UNKNOWN, B.ORIGIN, None, 104, None),
    ),
    ("pipe", BrokenPipeError(32, "Broken pipe"), (E.EPIPE, P.SEND, B.ORIGIN, None, 32, None)),
    (
        "aborted",
        ConnectionAbortedError(103, "Software caused connection abort"),
        (E.ECONNABORTED, P.UNKNOWN, B.LOCAL, None, 103, None),
    ),
    ("hostunreach", OSError(113, "No route to host"), (E.EHOSTUNREACH, P.CONNECT, B.NETWORK, None, 113, None)),
    ("netunreach", OSError(101, "Network is unreachable"), (E.ENETUNREACH, P.CONNECT, B.NETWORK, None, 101, None)),
    ("emfile", OSError(24, "Too many open files"), (E.EMFILE, P.CONNECT, B.LOCAL, None, 24, None)),
    (
        "addrnotavail",
        OSError(99, "Cannot assign requested address"),
        (E.EADDRNOTAVAIL, P.CONNECT, B.LOCAL, False, 99, None),
    ),
    ("kernel-timeout", TimeoutError(110, "Connection timed out"), (E.ETIMEDOUT, P.UNKNOWN, B.NETWORK, None, 110, None)),
    ("client-timeout", TimeoutError("timed out"), (E.ETIMEDOUT, P.UNKNOWN, B.UNKNOWN, None, None, None)),
    (
        "tls-handshake-timer",
        TimeoutError("_ssl.c:989: The handshake operation timed out"),
        (E.ETIMEDOUT, P.TLS, B.ORIGIN, False, None, None),
    ),
    ("eproto", OSError(71, "Protocol error"), (E.EPROTO, P.UNKNOWN, B.ORIGIN, None, 71, None)),
    ("eacces", PermissionError(13, "Permission denied"), (E.UNKNOWN, P.UNKNOWN, B.LOCAL, None, 13, None)),
    ("einval", OSError(22, "Invalid argument"), (E.UNKNOWN, P.UNKNOWN, B.UNKNOWN, None, 22, None)),
    ("cert", CERT, (E.TLS_CERT, P.TLS, B.ORIGIN, False, None, None)),
    ("wrong-version", WRONG_VERSION, (E.EPROTO, P.TLS, B.ORIGIN, None, None, None)),
    ("tls-eof", EOF_READING, (E.UNEXPECTED_EOF, P.TLS, B.ORIGIN, None, None, None)),
    ("tls-eof-no-reason", EOF_NO_REASON, (E.ECONNRESET, P.TLS, B.ORIGIN, None, None, None)),
    (
        "remote-disconnected",
        http.client.RemoteDisconnected("Remote end closed connection without response"),
        (E.UNEXPECTED_EOF, P.WAIT, B.ORIGIN, True, None, None),
    ),
    ("incomplete-read", http.client.IncompleteRead(b"abc", 97), (E.UNEXPECTED_EOF, P.BODY, B.ORIGIN, True, None, None)),
    (
        "bad-status-line",
        http.client.BadStatusLine("SSH-2.0-OpenSSH_9.6\r\n"),
        (E.EPROTO, P.WAIT, B.ORIGIN, True, None, None),
    ),
    ("line-too-long", http.client.LineTooLong("header line"), (E.EPROTO, P.WAIT, B.ORIGIN, True, None, None)),
    ("unknown-protocol", http.client.UnknownProtocol("HTTP/9"), (E.EPROTO, P.WAIT, B.ORIGIN, True, None, None)),
    ("cannot-send", http.client.CannotSendRequest("Request-sent"), (E.UNKNOWN, P.UNKNOWN, B.LOCAL, None, None, None)),
    (
        "tunnel-407",
        OSError("Tunnel connection failed: 407 Proxy Authentication Required"),
        (E.PROXY_AUTH, P.PROXY_HANDSHAKE, B.PROXY, False, None, 407),
    ),
    (
        "tunnel-502",
        OSError("Tunnel connection failed: 502 Bad Gateway"),
        (E.PROXY_REFUSED, P.PROXY_HANDSHAKE, B.PROXY, False, None, 502),
    ),
    (
        "urllib-http-error",
        urllib.error.HTTPError("http://x/", 503, "Service Unavailable", email.message.Message(), None),
        (E.HTTP_STATUS, P.WAIT, B.ORIGIN, True, None, 503),
    ),
    (
        "urllib-tunnel",
        urllib.error.URLError(OSError("Tunnel connection failed: 403 Forbidden")),
        (E.PROXY_REFUSED, P.PROXY_HANDSHAKE, B.PROXY, False, None, 403),
    ),
    (
        "urllib-refused",
        urllib.error.URLError(ConnectionRefusedError(111, "Connection refused")),
        (E.ECONNREFUSED, P.CONNECT, B.ORIGIN, False, 111, None),
    ),
    (
        "asyncio-incomplete",
        asyncio.IncompleteReadError(b"ab", 10),
        (E.UNEXPECTED_EOF, P.UNKNOWN, B.ORIGIN, None, None, None),
    ),
    (
        "asyncio-connection-lost",
        ConnectionResetError("Connection lost"),
        (E.UNEXPECTED_EOF, P.UNKNOWN, B.ORIGIN, None, None, None),
    ),
    (
        "asyncio-tls-slow",
        ConnectionAbortedError("SSL handshake is taking longer than 60.0 seconds: aborting the connection"),
        (E.ETIMEDOUT, P.TLS, B.ORIGIN, False, None, None),
    ),
    ("asyncio-cancelled", asyncio.CancelledError(), (E.UNKNOWN, P.UNKNOWN, B.LOCAL, None, None, None)),
    ("eof", EOFError(), (E.UNEXPECTED_EOF, P.UNKNOWN, B.ORIGIN, None, None, None)),
    ("not-network", ValueError("bad"), (E.UNKNOWN, P.UNKNOWN, B.UNKNOWN, None, None, None)),
]


@pytest.mark.parametrize(
    ("exc", "expected"), [(exc, want) for _, exc, want in CASES], ids=[name for name, _, _ in CASES]
)
def test_stdlib_rows(exc: BaseException, expected: Shape) -> None:
    """Each stdlib row gives its exact (code, phase, blame, request_sent, errno, status) with no hint."""
    assert shape(classify(exc)) == expected


def test_remote_disconnected_is_not_a_reset() -> None:
    """RemoteDisconnected subclasses ConnectionResetError with errno None: an empty reply, not ECONNRESET."""
    exc = http.client.RemoteDisconnected("Remote end closed connection without response")
    assert isinstance(exc, ConnectionResetError)
    failure = classify(exc)
    assert (failure.code, failure.errno) == (ErrorCode.UNEXPECTED_EOF, None)


def test_ssl_errno_never_reaches_the_failure() -> None:
    """ssl's SSL_ERROR_SSL (1, numerically EPERM) is not reported as an errno."""
    assert classify(WRONG_VERSION).errno is None
    assert classify(CERT).errno is None


def test_reasonless_tls_eof_on_openssl_1_is_an_eof() -> None:
    """With OpenSSL 1.1 a reasonless SSLEOFError is a plain EOF, with OpenSSL 3 a hidden reset."""
    assert build_ssl_table(openssl3=False).match(EOF_NO_REASON).code is ErrorCode.UNEXPECTED_EOF  # type: ignore[union-attr]
    assert build_ssl_table(openssl3=True).match(EOF_NO_REASON).code is ErrorCode.ECONNRESET  # type: ignore[union-attr]


def test_reasonless_tls_eof_says_why_in_detail() -> None:
    """The detail tells a reader the reset was inferred from a reasonless TLS EOF."""
    assert "reset the ssl module hid" in classify(EOF_NO_REASON).detail


def test_kernel_and_client_timeouts_differ_by_errno_and_blame() -> None:
    """errno 110 is the kernel's (network); errno None a client timer (origin, once connected)."""
    kernel = classify(TimeoutError(110, "Connection timed out"), phase=Phase.WAIT)
    timer = classify(TimeoutError("timed out"), phase=Phase.WAIT)
    assert shape(kernel) == (E.ETIMEDOUT, P.WAIT, B.NETWORK, True, 110, None)
    assert shape(timer) == (E.ETIMEDOUT, P.WAIT, B.ORIGIN, True, None, None)


def test_connect_timeout_is_the_network() -> None:
    """A client timer at connect (unanswered SYN) is blamed on the network; nothing was sent."""
    assert shape(classify(TimeoutError("timed out"), phase=Phase.CONNECT)) == (
        E.ETIMEDOUT,
        P.CONNECT,
        B.NETWORK,
        False,
        None,
        None,
    )


def test_timer_message_excludes_the_handshake() -> None:
    """A plain 'timed out' is not the TLS handshake: a TLS hint still wins (hint over inference)."""
    assert classify(TimeoutError("timed out"), phase=Phase.TLS).phase is Phase.TLS
    assert classify(TimeoutError("The read operation timed out"), phase=Phase.BODY).phase is Phase.BODY
