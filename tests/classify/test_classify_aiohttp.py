"""aiohttp, aiohttp-socks and python-socks: chains built as the libraries build them, classified exactly."""

from __future__ import annotations

import asyncio
import socket
import ssl
from collections.abc import Callable

import aiohttp
import aiohttp.http_exceptions as h
import aiohttp_socks
import pytest
import python_socks
from aiohttp.client_reqrep import ConnectionKey, RequestInfo
from multidict import CIMultiDict, CIMultiDictProxy
from python_socks._errors import IncompleteReadError
from python_socks._protocols.errors import ReplyError
from tests.classify._helpers import Shape, caught, raise_, shape
from yarl import URL

from sockwise import Blame, ErrorCode, Phase
from sockwise._classify import classify

E, P, B = ErrorCode, Phase, Blame

KEY = ConnectionKey("127.0.0.1", 8443, True, True, None, None, None, None)
PROXY_URL = URL("http://user:s3cret@127.0.0.1:3128")


def connector(cls: type[aiohttp.ClientConnectorError], os_error: BaseException) -> BaseException:
    """TCPConnector._wrap_create_connection: ``raise client_error(req.connection_key, exc) from exc``."""
    return caught(lambda: raise_(cls(KEY, os_error), os_error))  # type: ignore[arg-type]


def set_exception(exc: BaseException, cause: BaseException) -> BaseException:
    """aiohttp.helpers.set_exception: the cause is assigned, never raised."""
    exc.__cause__ = cause
    return exc


ORIGIN_URL = URL("https://127.0.0.1:8443/x")


def request_info(url: URL = ORIGIN_URL) -> RequestInfo:
    return RequestInfo(url, "GET", CIMultiDictProxy(CIMultiDict()), url)


def proxy_reply(status: int, message: str) -> BaseException:
    info = RequestInfo(PROXY_URL, "CONNECT", CIMultiDictProxy(CIMultiDict()), PROXY_URL)
    return aiohttp.ClientHttpProxyError(info, (), status=status, message=message)


def bad_status_line() -> BaseException:
    parse = h.BadStatusLine("SSH-2.0-OpenSSH_9.6")
    outer = aiohttp.ClientResponseError(request_info(), (), status=400, message="Bad status line")
    return caught(lambda: raise_(outer, parse))


def payload_error(connection_error: BaseException | None) -> BaseException:
    """ResponseHandler.connection_lost: the message ends with the connection error's repr."""
    underlying = h.ContentLengthError(
        "Not enough data to satisfy content length header (received 1000 of 100000 bytes)."
    )
    message = f"Response payload is not completed: {underlying!r}"
    if connection_error is not None:
        message = f"{message}. {connection_error!r}"
    return set_exception(aiohttp.ClientPayloadError(message), underlying)


def with_reason(cls: type[ssl.SSLError], number: int, reason: str | None, message: str) -> ssl.SSLError:
    exc = cls(number, message)
    setattr(exc, "reason", reason)  # noqa: B010 - the C code sets it on the instance
    return exc


REFUSED = ConnectionRefusedError(111, "Connect call failed ('127.0.0.1', 8443)")
RESET = ConnectionResetError(104, "Connection reset by peer")
WRONG_VERSION = with_reason(ssl.SSLError, 1, "WRONG_VERSION_NUMBER", "[SSL: WRONG_VERSION_NUMBER] wrong version number")
CERT = ssl.SSLCertVerificationError(1, "[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed")


def socks_error(error: ReplyError | IncompleteReadError) -> BaseException:
    """python_socks' proxy: ``raise ProxyError(e, error_code=e.error_code) from e``; aiohttp-socks re-raises it."""
    inner = caught(lambda: raise_(python_socks.ProxyError(error, error_code=getattr(error, "error_code", None)), error))
    code = getattr(inner, "error_code", None)
    return caught(lambda: raise_(aiohttp_socks.ProxyError(str(inner), error_code=code), inner))


def socks_connect_error(os_error: OSError) -> BaseException:
    message = f"Could not connect to proxy 127.0.0.1:1080 [{os_error.strerror}]"
    inner = caught(lambda: raise_(python_socks.ProxyConnectionError(os_error.errno, message), os_error))
    return caught(lambda: raise_(aiohttp_socks.ProxyConnectionError(str(inner)), inner))


CASES: list[tuple[str, Callable[[], BaseException], Shape]] = [
    (
        "refused",
        lambda: connector(aiohttp.ClientConnectorError, REFUSED),
        (E.ECONNREFUSED, P.CONNECT, B.ORIGIN, False, 111, None),
    ),
    (
        "dns",
        lambda: connector(aiohttp.ClientConnectorDNSError, socket.gaierror(-2, "Name or service not known")),
        (E.EAI_NONAME, P.DNS, B.ORIGIN, False, None, None),
    ),
    (
        "hostunreach",
        lambda: connector(aiohttp.ClientConnectorError, OSError(113, "No route to host")),
        (E.EHOSTUNREACH, P.CONNECT, B.NETWORK, False, 113, None),
    ),
    (
        "wrong-version-copies-an-ssl-errno",
        lambda: connector(aiohttp.ClientConnectorSSLError, WRONG_VERSION),
        (E.EPROTO, P.TLS, B.ORIGIN, False, None, None),
    ),
    (
        "cert",
        lambda: connector(aiohttp.ClientConnectorCertificateError, CERT),
        (E.TLS_CERT, P.TLS, B.ORIGIN, False, None, None),
    ),
    (
        "plain-server-closes-in-handshake",
        lambda: connector(aiohttp.ClientConnectorError, ConnectionResetError()),
        (E.UNEXPECTED_EOF, P.TLS, B.ORIGIN, False, None, None),
    ),
    (
        "fingerprint",
        lambda: aiohttp.ServerFingerprintMismatch(b"a" * 32, b"b" * 32, "127.0.0.1", 8443),
        (E.TLS_CERT, P.TLS, B.ORIGIN, False, None, None),
    ),
    (
        "read-reset",
        lambda: set_exception(aiohttp.ClientOSError(*RESET.args), RESET),
        (E.ECONNRESET, P.WAIT, B.ORIGIN, None, 104, None),
    ),
    (
        "write-pipe",
        lambda: set_exception(aiohttp.ClientOSError(32, "Broken pipe"), BrokenPipeError(32, "Broken pipe")),
        (E.EPIPE, P.SEND, B.ORIGIN, None, 32, None),
    ),
    (
        "read-ssl-copy",
        lambda: caught(lambda: raise_(aiohttp.ClientOSError(*WRONG_VERSION.args), WRONG_VERSION)),
        (E.EPROTO, P.WAIT, B.ORIGIN, True, None, None),
    ),
    (
        "writing-to-closing-transport",
        lambda: aiohttp.ClientConnectionResetError("Cannot write to closing transport"),
        (E.UNEXPECTED_EOF, P.SEND, B.ORIGIN, None, None, None),
    ),
    ("empty-reply", aiohttp.ServerDisconnectedError, (E.UNEXPECTED_EOF, P.WAIT, B.ORIGIN, True, None, None)),
    ("truncated-body-fin", lambda: payload_error(None), (E.UNEXPECTED_EOF, P.BODY, B.ORIGIN, True, None, None)),
    ("truncated-body-reset", lambda: payload_error(RESET), (E.ECONNRESET, P.BODY, B.ORIGIN, True, 104, None)),
    ("bad-status-line-is-no-status", bad_status_line, (E.EPROTO, P.WAIT, B.ORIGIN, True, None, None)),
    (
        "raise-for-status",
        lambda: aiohttp.ClientResponseError(request_info(), (), status=503, message="Service Unavailable"),
        (E.HTTP_STATUS, P.WAIT, B.ORIGIN, True, None, 503),
    ),
    (
        "proxy-407",
        lambda: proxy_reply(407, "Proxy Authentication Required"),
        (E.PROXY_AUTH, P.PROXY_HANDSHAKE, B.PROXY, False, None, 407),
    ),
    (
        "proxy-502",
        lambda: proxy_reply(502, "Bad Gateway"),
        (E.PROXY_REFUSED, P.PROXY_HANDSHAKE, B.PROXY, False, None, 502),
    ),
    (
        "proxy-down",
        lambda: connector(aiohttp.ClientProxyConnectionError, REFUSED),
        (E.ECONNREFUSED, P.PROXY_CONNECT, B.PROXY, False, 111, None),
    ),
    (
        "connect-timeout",
        lambda: aiohttp.ConnectionTimeoutError("Connection timeout to host https://127.0.0.1:8443/x"),
        (E.ETIMEDOUT, P.CONNECT, B.NETWORK, False, None, None),
    ),
    (
        "read-timeout",
        lambda: aiohttp.SocketTimeoutError("Timeout on reading data from socket"),
        (E.ETIMEDOUT, P.WAIT, B.ORIGIN, True, None, None),
    ),
    (
        "total-timeout",
        lambda: caught(lambda: raise_(TimeoutError(), asyncio.CancelledError())),
        (E.ETIMEDOUT, P.UNKNOWN, B.UNKNOWN, None, None, None),
    ),
    ("invalid-url", lambda: aiohttp.InvalidURL("not a url"), (E.UNKNOWN, P.UNKNOWN, B.LOCAL, False, None, None)),
    # SOCKS through aiohttp-socks / python-socks
    (
        "socks-proxy-down",
        lambda: socks_connect_error(REFUSED),
        (E.ECONNREFUSED, P.PROXY_CONNECT, B.PROXY, False, 111, None),
    ),
    (
        "socks-proxy-name",
        lambda: socks_connect_error(socket.gaierror(-2, "Name or service not known")),
        (E.EAI_NONAME, P.DNS, B.PROXY, False, None, None),
    ),
    (
        "socks-timeout",
        lambda: caught(
            lambda: raise_(python_socks.ProxyTimeoutError("Proxy connection timed out: 60"), TimeoutError())
        ),
        (E.ETIMEDOUT, P.PROXY_CONNECT, B.PROXY, False, None, None),
    ),
    (
        "socks5-refused-by-destination",
        lambda: socks_error(ReplyError("Connection refused by destination host", error_code=5)),
        (E.PROXY_REFUSED, P.PROXY_HANDSHAKE, B.PROXY, False, None, None),
    ),
    (
        "socks5-host-unreachable",
        lambda: socks_error(ReplyError("Host unreachable", error_code=4)),
        (E.PROXY_REFUSED, P.PROXY_HANDSHAKE, B.PROXY, False, None, None),
    ),
    (
        "socks-login",
        lambda: socks_error(ReplyError("Username and password authentication failure")),
        (E.PROXY_AUTH, P.PROXY_HANDSHAKE, B.PROXY, False, None, None),
    ),
    (
        "socks4-rejected",
        lambda: socks_error(ReplyError("Request rejected or failed", error_code=0x5B)),
        (E.PROXY_REFUSED, P.PROXY_HANDSHAKE, B.PROXY, False, None, None),
    ),
    (
        "socks4-identd",
        lambda: socks_error(ReplyError("different user-ids", error_code=0x5D)),
        (E.PROXY_AUTH, P.PROXY_HANDSHAKE, B.PROXY, False, None, None),
    ),
    (
        "http-connect-407",
        lambda: socks_error(ReplyError("407 Proxy Authentication Required", error_code=407)),
        (E.PROXY_AUTH, P.PROXY_HANDSHAKE, B.PROXY, False, None, 407),
    ),
    (
        "socks-malformed",
        lambda: socks_error(ReplyError("Malformed connect reply")),
        (E.EPROTO, P.PROXY_HANDSHAKE, B.PROXY, False, None, None),
    ),
    (
        "socks-cut-short",
        lambda: socks_error(IncompleteReadError("Connection closed unexpectedly")),
        (E.UNEXPECTED_EOF, P.PROXY_HANDSHAKE, B.PROXY, False, None, None),
    ),
]


@pytest.mark.parametrize(("build", "expected"), [(b, w) for _, b, w in CASES], ids=[n for n, _, _ in CASES])
def test_aiohttp_and_socks_rows(build: Callable[[], BaseException], expected: Shape) -> None:
    """Each aiohttp / SOCKS chain gives its exact (code, phase, blame, request_sent, errno, status)."""
    assert shape(classify(build())) == expected


def test_payload_error_loses_the_errno_in_the_chain() -> None:
    """The trap itself: no OSError anywhere in a ClientPayloadError's chain; the errno comes from its message."""
    exc = payload_error(RESET)
    assert not any(isinstance(link, OSError) for link in (exc, exc.__cause__, exc.__context__))
    assert classify(exc).errno == 104


def test_ssl_connector_error_errno_is_an_ssl_code() -> None:
    """ClientConnectorSSLError.errno is SSL_ERROR_SSL copied from ssl; the Failure has no errno."""
    exc = connector(aiohttp.ClientConnectorSSLError, WRONG_VERSION)
    assert isinstance(exc, OSError)
    assert exc.errno == 1
    assert classify(exc).errno is None


def test_proxy_reply_detail_hides_credentials() -> None:
    """aiohttp prints the proxy URL with its password; the detail masks it."""
    exc = proxy_reply(407, "Proxy Authentication Required")
    assert "s3cret" in str(exc)
    detail = classify(exc).detail
    assert "s3cret" not in detail
    assert "user" not in detail
    assert "http://***@127.0.0.1:3128" in detail


def test_socks_reply_is_named_in_detail() -> None:
    """A SOCKS5 refusal says which reply in the detail (there is no HTTP status to show)."""
    exc = socks_error(ReplyError("Host unreachable", error_code=4))
    assert "SOCKS5 reply 4: host unreachable" in classify(exc).detail


def test_empty_reply_through_proxy_is_the_proxys() -> None:
    """aiohttp's ServerDisconnectedError through a proxy: the proxy hop lost its upstream."""
    assert shape(classify(aiohttp.ServerDisconnectedError(), via_proxy=True)) == (
        E.UNEXPECTED_EOF,
        P.WAIT,
        B.PROXY,
        None,
        None,
        None,
    )


def test_forwarding_proxy_407_is_proxy_auth() -> None:
    """A plain-HTTP request through a forwarding proxy answered 407: PROXY_AUTH, and the origin never saw it."""
    exc = aiohttp.ClientResponseError(request_info(), (), status=407, message="Proxy Authentication Required")
    assert shape(classify(exc, via_proxy=True)) == (E.PROXY_AUTH, P.WAIT, B.PROXY, False, None, 407)
