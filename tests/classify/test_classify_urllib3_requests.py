"""urllib3 and requests: chains built the way the libraries build them, classified exactly."""

from __future__ import annotations

import http.client
import socket
import ssl
import zlib
from collections.abc import Callable

import pytest
import requests
import requests.exceptions as rex
import urllib3
import urllib3.exceptions as u
from tests.classify._helpers import Shape, caught, raise_, shape
from urllib3.connection import HTTPConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.util.retry import Retry

from sockwise import Blame, ErrorCode, Phase
from sockwise._classify import classify

E, P, B = ErrorCode, Phase, Blame

POOL = HTTPConnectionPool("127.0.0.1", 8080)
TLS_POOL = HTTPSConnectionPool("127.0.0.1", 8443)
CONN = HTTPConnection("127.0.0.1", 8080)


# --- urllib3's own constructions -------------------------------------------------------------


def new_connection_error(os_error: OSError, conn: HTTPConnection = CONN) -> BaseException:
    """HTTPConnection._new_conn: ``raise NewConnectionError(...) from e``."""
    message = f"Failed to establish a new connection: {os_error}"
    return caught(lambda: raise_(u.NewConnectionError(conn, message), os_error), handling=os_error)


def name_resolution_error(gai: socket.gaierror) -> BaseException:
    return caught(lambda: raise_(u.NameResolutionError("nohost.invalid", CONN, gai), gai), handling=gai)


def connect_timeout_error(timer: TimeoutError) -> BaseException:
    message = "Connection to 127.0.0.1 timed out. (connect timeout=1)"
    return caught(lambda: raise_(u.ConnectTimeoutError(CONN, message), timer), handling=timer)


def read_timeout_error(timer: TimeoutError, pool: HTTPConnectionPool | None = POOL) -> BaseException:
    """HTTPConnectionPool._raise_timeout / HTTPResponse._error_catcher."""
    error = u.ReadTimeoutError(pool, "/x" if pool else None, "Read timed out. (read timeout=1)")  # type: ignore[arg-type]
    return caught(lambda: raise_(error, timer), handling=timer)


def proxy_error(err: BaseException) -> BaseException:
    """connection._wrap_proxy_error: ProxyError('Unable to connect to proxy', err), __cause__ = err."""
    wrapped = u.ProxyError("Unable to connect to proxy", err)  # type: ignore[arg-type]
    wrapped.__cause__ = err
    return wrapped


def aborted(err: BaseException) -> BaseException:
    """urlopen: ProtocolError('Connection aborted.', e), re-raised by Retry(read=False) while handling e."""
    error = u.ProtocolError("Connection aborted.", err)
    return caught(lambda: raise_(error), handling=err)


def broken(err: BaseException) -> BaseException:
    """HTTPResponse._error_catcher: ProtocolError(f'Connection broken: {e!r}', e) from e."""
    return caught(lambda: raise_(u.ProtocolError(f"Connection broken: {err!r}", err), err), handling=err)


def max_retry(reason: BaseException, pool: HTTPConnectionPool = POOL) -> BaseException:
    """Retry.increment with no retries left: ``raise MaxRetryError(...) from reason``, inside urlopen's except."""
    return caught(
        lambda: Retry(0).increment("GET", "/x", error=reason, _pool=pool),  # type: ignore[arg-type]
        handling=reason,
    )


def ssl_error(exc: ssl.SSLError) -> BaseException:
    return caught(lambda: raise_(u.SSLError(exc)), handling=exc)


def with_reason(cls: type[ssl.SSLError], number: int, reason: str | None, message: str) -> ssl.SSLError:
    exc = cls(number, message)
    setattr(exc, "reason", reason)  # noqa: B010 - the C code sets it on the instance
    return exc


# --- requests' constructions (adapters.HTTPAdapter.send, models.Response.iter_content) -------


def wrap(cls: type[rex.RequestException], err: BaseException) -> BaseException:
    """``raise requests.X(err, request=request)`` inside ``except ... as err``."""
    return caught(lambda: raise_(cls(err)), handling=err)


REFUSED = ConnectionRefusedError(111, "Connection refused")
RESET = ConnectionResetError(104, "Connection reset by peer")
EMPTY = http.client.RemoteDisconnected("Remote end closed connection without response")
TIMER = TimeoutError("timed out")
HANDSHAKE_TIMER = TimeoutError("_ssl.c:989: The handshake operation timed out")
CERT = ssl.SSLCertVerificationError(1, "[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed")
WRONG_VERSION = with_reason(ssl.SSLError, 1, "WRONG_VERSION_NUMBER", "[SSL: WRONG_VERSION_NUMBER] wrong version number")
TLS_EOF = with_reason(
    ssl.SSLEOFError, 8, "UNEXPECTED_EOF_WHILE_READING", "[SSL: UNEXPECTED_EOF_WHILE_READING] EOF occurred"
)


def _response(status: int) -> requests.Response:
    response = requests.Response()
    response.status_code = status
    return response


CASES: list[tuple[str, Callable[[], BaseException], Shape]] = [
    (
        "requests-refused",
        lambda: wrap(rex.ConnectionError, max_retry(new_connection_error(REFUSED))),
        (E.ECONNREFUSED, P.CONNECT, B.ORIGIN, False, 111, None),
    ),
    (
        "urllib3-new-connection-without-errno-is-not-a-timeout",
        lambda: max_retry(new_connection_error(OSError("getaddrinfo returns an empty list"))),
        (E.UNKNOWN, P.CONNECT, B.UNKNOWN, False, None, None),
    ),
    (
        "requests-dns",
        lambda: wrap(
            rex.ConnectionError, max_retry(name_resolution_error(socket.gaierror(-2, "Name or service not known")))
        ),
        (E.EAI_NONAME, P.DNS, B.ORIGIN, False, None, None),
    ),
    (
        "requests-connect-timeout",
        lambda: wrap(rex.ConnectTimeout, max_retry(connect_timeout_error(TIMER))),
        (E.ETIMEDOUT, P.CONNECT, B.NETWORK, False, None, None),
    ),
    (
        "requests-kernel-connect-timeout",
        lambda: wrap(rex.ConnectionError, max_retry(new_connection_error(TimeoutError(110, "Connection timed out")))),
        (E.ETIMEDOUT, P.CONNECT, B.NETWORK, False, 110, None),
    ),
    (
        "requests-read-timeout",
        lambda: wrap(rex.ReadTimeout, read_timeout_error(TIMER)),
        (E.ETIMEDOUT, P.WAIT, B.ORIGIN, True, None, None),
    ),
    (
        "requests-tls-handshake-stall-is-a-read-timeout",
        lambda: wrap(rex.ReadTimeout, read_timeout_error(HANDSHAKE_TIMER, TLS_POOL)),
        (E.ETIMEDOUT, P.TLS, B.ORIGIN, False, None, None),
    ),
    (
        "requests-mid-body-stall-is-a-connection-error",
        lambda: wrap(rex.ConnectionError, read_timeout_error(TIMER, pool=None)),
        (E.ETIMEDOUT, P.BODY, B.ORIGIN, True, None, None),
    ),
    (
        "requests-empty-reply",
        lambda: wrap(rex.ConnectionError, aborted(EMPTY)),
        (E.UNEXPECTED_EOF, P.WAIT, B.ORIGIN, True, None, None),
    ),
    (
        "requests-reset-hides-the-phase",
        lambda: wrap(rex.ConnectionError, aborted(RESET)),
        (E.ECONNRESET, P.WAIT, B.ORIGIN, None, 104, None),
    ),
    (
        "requests-garbage",
        lambda: wrap(rex.ConnectionError, aborted(http.client.BadStatusLine("SSH-2.0-OpenSSH_9.6\r\n"))),
        (E.EPROTO, P.WAIT, B.ORIGIN, True, None, None),
    ),
    (
        "requests-aborted-103",
        lambda: wrap(rex.ConnectionError, aborted(ConnectionAbortedError(103, "Software caused connection abort"))),
        (E.ECONNABORTED, P.WAIT, B.LOCAL, None, 103, None),
    ),
    (
        "requests-truncated-body",
        lambda: wrap(rex.ChunkedEncodingError, broken(u.IncompleteRead(3, 97))),
        (E.UNEXPECTED_EOF, P.BODY, B.ORIGIN, True, None, None),
    ),
    (
        "requests-reset-mid-body",
        lambda: wrap(rex.ChunkedEncodingError, broken(RESET)),
        (E.ECONNRESET, P.BODY, B.ORIGIN, True, 104, None),
    ),
    (
        "urllib3-chunked-ended",
        lambda: caught(lambda: raise_(u.ProtocolError("Response ended prematurely"))),
        (E.UNEXPECTED_EOF, P.BODY, B.ORIGIN, True, None, None),
    ),
    (
        "urllib3-bad-chunk-length",
        lambda: u.InvalidChunkLength(urllib3.HTTPResponse(body=b"", preload_content=False), b"zz"),
        (E.EPROTO, P.BODY, B.ORIGIN, True, None, None),
    ),
    (
        "urllib3-decode-error",
        lambda: u.DecodeError("Received response with content-encoding: gzip, but failed to decode it.", zlib.error()),
        (E.EPROTO, P.BODY, B.ORIGIN, True, None, None),
    ),
    (
        "requests-proxy-refused",
        lambda: wrap(rex.ProxyError, max_retry(proxy_error(new_connection_error(REFUSED)))),
        (E.ECONNREFUSED, P.PROXY_CONNECT, B.PROXY, False, 111, None),
    ),
    (
        "requests-proxy-407",
        lambda: wrap(
            rex.ProxyError,
            max_retry(proxy_error(OSError("Tunnel connection failed: 407 Proxy Authentication Required"))),
        ),
        (E.PROXY_AUTH, P.PROXY_HANDSHAKE, B.PROXY, False, None, 407),
    ),
    (
        "requests-proxy-502",
        lambda: wrap(rex.ProxyError, max_retry(proxy_error(OSError("Tunnel connection failed: 502 Bad Gateway")))),
        (E.PROXY_REFUSED, P.PROXY_HANDSHAKE, B.PROXY, False, None, 502),
    ),
    (
        "requests-proxy-connect-timeout",
        lambda: wrap(rex.ProxyError, max_retry(proxy_error(connect_timeout_error(TIMER)))),
        (E.ETIMEDOUT, P.PROXY_CONNECT, B.PROXY, False, None, None),
    ),
    (
        "requests-proxy-host-does-not-resolve",
        lambda: wrap(rex.ProxyError, max_retry(proxy_error(name_resolution_error(socket.gaierror(-2, "x"))))),
        (E.EAI_NONAME, P.DNS, B.PROXY, False, None, None),
    ),
    (
        "requests-https-proxy-tls",
        lambda: wrap(rex.ProxyError, max_retry(proxy_error(ssl_error(WRONG_VERSION)))),
        (E.EPROTO, P.PROXY_CONNECT, B.PROXY, False, None, None),
    ),
    (
        "requests-cert",
        lambda: wrap(rex.SSLError, max_retry(ssl_error(CERT), TLS_POOL)),
        (E.TLS_CERT, P.TLS, B.ORIGIN, False, None, None),
    ),
    (
        "requests-wrong-version",
        lambda: wrap(rex.SSLError, max_retry(ssl_error(WRONG_VERSION), TLS_POOL)),
        (E.EPROTO, P.TLS, B.ORIGIN, None, None, None),
    ),
    (
        "requests-retry-error-status",
        lambda: wrap(rex.RetryError, max_retry(u.ResponseError("too many 503 error responses"))),
        (E.HTTP_STATUS, P.WAIT, B.ORIGIN, True, None, 503),
    ),
    (
        "requests-raise-for-status",
        lambda: rex.HTTPError("429 Client Error: Too Many Requests", response=_response(429)),
        (E.HTTP_STATUS, P.WAIT, B.ORIGIN, True, None, 429),
    ),
    (
        "requests-missing-schema",
        lambda: rex.MissingSchema("Invalid URL 'example.com': No scheme supplied."),
        (E.UNKNOWN, P.UNKNOWN, B.LOCAL, False, None, None),
    ),
    (
        "requests-invalid-proxy-url",
        lambda: rex.InvalidProxyURL("Please check proxy URL. It is malformed and could be missing the host."),
        (E.UNKNOWN, P.UNKNOWN, B.LOCAL, False, None, None),
    ),
    (
        "urllib3-empty-pool",
        lambda: u.EmptyPoolError(POOL, "Pool is empty and a new connection can't be opened due to blocking mode."),
        (E.UNKNOWN, P.UNKNOWN, B.LOCAL, False, None, None),
    ),
]


@pytest.mark.parametrize(("build", "expected"), [(b, w) for _, b, w in CASES], ids=[n for n, _, _ in CASES])
def test_urllib3_and_requests_rows(build: Callable[[], BaseException], expected: Shape) -> None:
    """Each urllib3/requests chain gives its exact (code, phase, blame, request_sent, errno, status)."""
    assert shape(classify(build())) == expected


def test_new_connection_error_subclasses_connect_timeout() -> None:
    """The trap itself: NewConnectionError is a ConnectTimeoutError, yet refused is not ETIMEDOUT."""
    exc = new_connection_error(REFUSED)
    assert isinstance(exc, u.ConnectTimeoutError)
    assert classify(exc).code is ErrorCode.ECONNREFUSED


def test_handshake_stall_proof_beats_a_wait_hint() -> None:
    """requests calls a TLS-handshake stall ReadTimeout; the ssl timer's message proves TLS over a wait hint."""
    exc = wrap(rex.ReadTimeout, read_timeout_error(HANDSHAKE_TIMER, TLS_POOL))
    assert shape(classify(exc, phase=Phase.WAIT)) == (E.ETIMEDOUT, P.TLS, B.ORIGIN, False, None, None)


def test_reset_with_wait_hint_was_sent() -> None:
    """requests hides whether a reset came before or after the request; the hint settles it."""
    exc = wrap(rex.ConnectionError, aborted(RESET))
    assert shape(classify(exc, phase=Phase.WAIT)) == (E.ECONNRESET, P.WAIT, B.ORIGIN, True, 104, None)
    assert shape(classify(exc, phase=Phase.TLS)) == (E.ECONNRESET, P.TLS, B.ORIGIN, False, 104, None)


def test_proxy_closing_on_connect_is_the_proxys() -> None:
    """Through a proxy, requests' empty reply during CONNECT blames the proxy; nothing reached the origin."""
    exc = wrap(rex.ConnectionError, aborted(EMPTY))
    assert shape(classify(exc, phase=Phase.PROXY_HANDSHAKE)) == (
        E.UNEXPECTED_EOF,
        P.PROXY_HANDSHAKE,
        B.PROXY,
        False,
        None,
        None,
    )
    assert shape(classify(exc, via_proxy=True)) == (E.UNEXPECTED_EOF, P.WAIT, B.PROXY, None, None, None)


def test_tunnel_dying_in_tls_is_the_proxys() -> None:
    """A proxy that answers 200 then drops the tunnel: an EOF in the TLS handshake, blamed on the proxy."""
    exc = wrap(rex.SSLError, max_retry(ssl_error(TLS_EOF), TLS_POOL))
    assert shape(classify(exc, via_proxy=True, phase=Phase.TLS)) == (
        E.UNEXPECTED_EOF,
        P.TLS,
        B.PROXY,
        False,
        None,
        None,
    )
