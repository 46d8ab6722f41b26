"""What the classification matrix found on real sockets, pinned with chains built as the libraries build them.

Each test names the cell of ``tests/matrix`` that showed the behaviour; the matrix is the proof on
sockets, these are the constructed-exception unit tests of the fixes.
"""

from __future__ import annotations

import asyncio
import http.client
import ssl

import aiohttp
import anyio
import httpcore
import httpx
import requests.exceptions as rex
import urllib3.exceptions as u
from aiohttp.client_reqrep import ConnectionKey
from httpx._transports.default import map_httpcore_exceptions
from tests.classify._helpers import caught, raise_, shape
from urllib3.connectionpool import HTTPConnectionPool
from urllib3.util.retry import Retry

from sockwise import Blame, ErrorCode, Phase, classify

E, P, B = ErrorCode, Phase, Blame
POOL = HTTPConnectionPool("127.0.0.1", 8080)


def reset() -> ConnectionResetError:
    return ConnectionResetError(104, "Connection reset by peer")


def via_httpx(core_exc: BaseException, request: httpx.Request | None = None) -> BaseException:
    """httpx's map_httpcore_exceptions around an httpcore error (httpx.Client sets the request)."""

    def go() -> None:
        with map_httpcore_exceptions():
            raise core_exc

    exc = caught(go)
    if request is not None and isinstance(exc, httpx.RequestError):
        exc.request = request
    return exc


def aborted(err: BaseException) -> BaseException:
    """urlopen: ProtocolError('Connection aborted.', e), raised while handling e."""
    return caught(lambda: raise_(u.ProtocolError("Connection aborted.", err)), handling=err)


def proxy_error(err: BaseException) -> BaseException:
    """connection._wrap_proxy_error: ProxyError('Unable to connect to proxy', err), __cause__ = err."""
    wrapped = u.ProxyError("Unable to connect to proxy", err)  # type: ignore[arg-type]
    wrapped.__cause__ = err
    return wrapped


def requests_proxy_error(err: BaseException) -> BaseException:
    """requests: ProxyError(MaxRetryError(reason=urllib3's ProxyError)) with max_retries=0."""
    retried = caught(lambda: Retry(0).increment("GET", "/x", error=err, _pool=POOL), handling=err)  # type: ignore[arg-type]
    return caught(lambda: raise_(rex.ProxyError(retried)), handling=retried)


# -- the errno is what was raised, not what was being handled ------------------------------------------------------
def test_reset_raised_while_handling_enotconn_is_a_reset() -> None:
    """reset-on-accept:urllib3:proxy-connect: ssl's wrap_socket meets ENOTCONN, then recv() gets the RST."""
    enotconn = OSError(107, "Transport endpoint is not connected")
    rst = caught(lambda: raise_(reset()), handling=enotconn)
    assert rst.__context__ is enotconn
    failure = classify(aborted(rst), via_proxy=True)
    assert shape(failure) == (E.ECONNRESET, P.WAIT, B.PROXY, None, 104, None)


def test_anyio_tls_reset_keeps_its_errno() -> None:
    """reset-after-request:httpx-async:direct-tls: anyio raises BrokenResourceError from the reset while
    handling an IndexError whose own context is ssl's SSLWantReadError (an SSL code, not an errno)."""
    want = ssl.SSLWantReadError(2, "The operation did not complete (read) (_ssl.c:2580)")
    index = caught(lambda: raise_(IndexError("pop from an empty deque")), handling=want)
    rst = reset()
    broken = caught(lambda: raise_(anyio.BrokenResourceError(), rst), handling=index)
    core = caught(lambda: raise_(httpcore.ReadError(broken), broken), handling=broken)
    failure = classify(via_httpx(core))
    assert shape(failure) == (E.ECONNRESET, P.WAIT, B.ORIGIN, True, 104, None)


def test_explicit_errno_copy_still_wins_over_nothing() -> None:
    """An errno only in the implicit context is still found when nothing explicit carries one."""
    refused = ConnectionRefusedError(111, "Connection refused")
    outer = caught(lambda: raise_(RuntimeError("gave up")), handling=refused)
    assert classify(outer).errno == 111


# -- the connect stage of an http:// request has no TLS -------------------------------------------------------------
def test_httpx_reset_in_the_plain_connect_stage_is_the_connect() -> None:
    """reset-on-accept:httpx:direct: httpcore's setsockopt after connect() meets the RST: nothing was sent."""
    rst = reset()
    core = caught(lambda: raise_(httpcore.ConnectError(rst), rst), handling=rst)
    plain = classify(via_httpx(core, httpx.Request("GET", "http://127.0.0.1:8080/")))
    assert shape(plain) == (E.ECONNRESET, P.CONNECT, B.ORIGIN, False, 104, None)
    tls = classify(via_httpx(core, httpx.Request("GET", "https://127.0.0.1:8443/")))
    assert shape(tls) == (E.ECONNRESET, P.TLS, B.ORIGIN, False, 104, None)


def test_aiohttp_reset_in_a_plain_connect_is_the_connect() -> None:
    """reset-on-accept:aiohttp:direct: asyncio reads SO_ERROR after connect(): 'Connect call failed' with 104."""
    rst = ConnectionResetError(104, "Connect call failed ('127.0.0.1', 8080)")
    plain_key = ConnectionKey("127.0.0.1", 8080, False, True, None, None, None, None)
    exc = caught(lambda: raise_(aiohttp.ClientConnectorError(plain_key, rst), rst))
    assert shape(classify(exc)) == (E.ECONNRESET, P.CONNECT, B.ORIGIN, False, 104, None)
    tls_key = ConnectionKey("127.0.0.1", 8443, True, True, None, None, None, None)
    exc = caught(lambda: raise_(aiohttp.ClientConnectorError(tls_key, rst), rst))
    assert shape(classify(exc)) == (E.ECONNRESET, P.TLS, B.ORIGIN, False, 104, None)


# -- urllib3's ProxyError after the request was written -------------------------------------------------------------
def test_urllib3_proxy_error_around_an_empty_reply_came_after_the_request() -> None:
    """empty-reply:urllib3:proxy-connect: getresponse() closed the connection, resetting urllib3's
    'connected to proxy' flag, so the origin's empty reply through a working tunnel is a ProxyError."""
    empty = http.client.RemoteDisconnected("Remote end closed connection without response")
    expected = (E.UNEXPECTED_EOF, P.WAIT, B.PROXY, True, None, None)
    assert shape(classify(proxy_error(empty), via_proxy=True)) == expected
    assert shape(classify(requests_proxy_error(proxy_error(empty)), via_proxy=True)) == expected


def test_urllib3_proxy_error_around_a_reset_came_after_the_request() -> None:
    """reset-after-connect:urllib3:proxy-absolute: the forwarding proxy's RST under ProxyError: waiting. It
    could also be the TLS handshake with an HTTPS proxy (before the request), so request_sent stays None."""
    failure = classify(proxy_error(reset()), via_proxy=True)
    assert shape(failure) == (E.ECONNRESET, P.WAIT, B.PROXY, None, 104, None)


def test_urllib3_proxy_error_around_a_refusal_is_still_the_proxy_connect() -> None:
    """refuse:urllib3:proxy-absolute: the connect to the proxy, unchanged by the new rule."""
    refused = ConnectionRefusedError(111, "Connection refused")
    new_conn = caught(lambda: raise_(u.NewConnectionError(None, "refused"), refused), handling=refused)  # type: ignore[arg-type]
    expected = (E.ECONNREFUSED, P.PROXY_CONNECT, B.PROXY, False, 111, None)
    assert shape(classify(proxy_error(new_conn))) == expected
    assert shape(classify(requests_proxy_error(proxy_error(new_conn)))) == expected


# -- origin blame through a proxy needs the proxy's handshake behind -----------------------------------------------
def test_read_timeout_through_a_proxy_blames_nobody() -> None:
    """blackhole:requests:proxy-connect: a read timer through a proxy may be the CONNECT reply's: unknown."""
    timer = TimeoutError("timed out")
    error = caught(
        lambda: raise_(u.ReadTimeoutError(POOL, "/x", "Read timed out. (read timeout=0.5)"), timer), handling=timer
    )
    assert shape(classify(error, via_proxy=True)) == (E.ETIMEDOUT, P.WAIT, B.UNKNOWN, None, None, None)
    assert shape(classify(error)) == (E.ETIMEDOUT, P.WAIT, B.ORIGIN, True, None, None)
    # The integration knows the phase: then the blame follows it; waiting, through a proxy, nobody.
    assert classify(error, via_proxy=True, phase=Phase.WAIT).blame is B.UNKNOWN
    assert classify(error, via_proxy=True, phase=Phase.PROXY_HANDSHAKE).blame is B.PROXY


def test_ssl_read_timer_is_a_read_after_the_handshake() -> None:
    """stall-before-headers:http.client:direct-tls: 'The read operation timed out' is a TLS read: sent, waiting."""
    timer = TimeoutError("The read operation timed out")
    assert shape(classify(timer)) == (E.ETIMEDOUT, P.WAIT, B.ORIGIN, True, None, None)
    write_timer = TimeoutError("The write operation timed out")
    assert shape(classify(write_timer)) == (E.ETIMEDOUT, P.SEND, B.ORIGIN, None, None, None)


def test_async_tls_handshake_timer_is_tls() -> None:
    """tls-stall:httpx-async:proxy-connect: anyio cancels a handshake waiting in SSLWantReadError: TLS, not connect."""
    want = ssl.SSLWantReadError(2, "The operation did not complete (read) (_ssl.c:1006)")
    cancelled = caught(lambda: raise_(asyncio.CancelledError("deadline exceeded")), handling=want)
    timer = caught(lambda: raise_(TimeoutError(), cancelled), handling=cancelled)
    core = caught(lambda: raise_(httpcore.ConnectTimeout(timer), timer), handling=timer)
    failure = classify(via_httpx(core), via_proxy=True)
    assert shape(failure) == (E.ETIMEDOUT, P.TLS, B.PROXY, False, None, None)
