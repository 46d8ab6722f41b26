"""The classification matrix's truth: what ``classify(exc, via_proxy=...)`` (no phase hint) must say for
every (scenario, client, route), and what each library raised and how many requests the server saw.

Data only. ``tests/matrix/test_matrix.py`` runs every cell on real sockets and compares; ``python -m
tests.matrix`` writes docs/matrix.md from a run and refuses to when a cell disagrees with this table.

The values are what sockwise *should* say. Where a library hides what happened, the value says so
(phase ``unknown``, or a guess with ``request_sent`` None) and the row's comment says why. ``seen``
counts what the server side saw: requests the origin read (path scenarios), connections the listener
accepted (port scenarios, proxy profiles); None where the lab cannot count (nothing listens, or a
TLS listener that counts only completed handshakes).

Routes: ``direct`` (http), ``direct-tls`` (https), ``proxy-absolute`` (http through the lab's HTTP
proxy: absolute-form), ``proxy-connect`` (https through it: CONNECT, then TLS in the tunnel).
"""

from __future__ import annotations

from dataclasses import dataclass

from sockwise import Blame, ErrorCode, Phase

__all__ = ["EXPECTED", "Expect", "alternatives"]


@dataclass(frozen=True, slots=True)
class Expect:
    """One cell's expected outcome (a success has no code, phase, blame).

    Attributes:
        exception: the exception's public name (``requests.ConnectionError``); empty when the client returned.
        code: the Failure's code, or None for a success.
        phase: the Failure's phase.
        blame: the Failure's blame.
        request_sent: the Failure's request_sent.
        errno: the Failure's errno.
        seen: what the server side saw (see the module docstring).
    """

    exception: str
    code: ErrorCode | None
    phase: Phase | None
    blame: Blame | None
    request_sent: bool | None
    errno: int | None
    seen: int | None


def E(
    exception: str, code: str, phase: str, blame: str, sent: bool | None, errno: int | None, seen: int | None
) -> Expect:
    """An expected failure; the strings are checked against the enums here."""
    return Expect(exception, ErrorCode(code), Phase(phase), Blame(blame), sent, errno, seen)


def ok(seen: int | None) -> Expect:
    """An expected success: no exception, no failing status."""
    return Expect("", None, None, None, None, None, seen)


def one_of(*outcomes: Expect) -> tuple[Expect, ...]:
    """A cell with a race that cannot be removed: each outcome is legal (the row's comment says why)."""
    return outcomes


def alternatives(value: Expect | tuple[Expect, ...]) -> tuple[Expect, ...]:
    """The legal outcomes of a cell."""
    return value if isinstance(value, tuple) else (value,)


_ROWS: dict[str, dict[tuple[str, str], Expect | tuple[Expect, ...]]] = {
    # A healthy request: every client succeeds, the origin reads one request.
    "ok": {
        ("http.client", "direct"): ok(1),
        ("http.client", "direct-tls"): ok(1),
        ("http.client", "proxy-absolute"): ok(1),
        ("http.client", "proxy-connect"): ok(1),
        ("urllib3", "direct"): ok(1),
        ("urllib3", "direct-tls"): ok(1),
        ("urllib3", "proxy-absolute"): ok(1),
        ("urllib3", "proxy-connect"): ok(1),
        ("requests", "direct"): ok(1),
        ("requests", "direct-tls"): ok(1),
        ("requests", "proxy-absolute"): ok(1),
        ("requests", "proxy-connect"): ok(1),
        ("httpx", "direct"): ok(1),
        ("httpx", "direct-tls"): ok(1),
        ("httpx", "proxy-absolute"): ok(1),
        ("httpx", "proxy-connect"): ok(1),
        ("httpx-async", "direct"): ok(1),
        ("httpx-async", "direct-tls"): ok(1),
        ("httpx-async", "proxy-absolute"): ok(1),
        ("httpx-async", "proxy-connect"): ok(1),
        ("aiohttp", "direct"): ok(1),
        ("aiohttp", "direct-tls"): ok(1),
        ("aiohttp", "proxy-absolute"): ok(1),
        ("aiohttp", "proxy-connect"): ok(1),
    },
    # 503 from the origin. requests, httpx and aiohttp raise it through raise_for_status(); http.client and
    # urllib3 return it, and the matrix classifies the status (classify_status), as an integration would.
    "status": {
        ("http.client", "direct"): E("", "HTTP_STATUS", "wait", "origin", True, None, 1),
        ("http.client", "direct-tls"): E("", "HTTP_STATUS", "wait", "origin", True, None, 1),
        ("http.client", "proxy-absolute"): E("", "HTTP_STATUS", "wait", "origin", True, None, 1),
        ("http.client", "proxy-connect"): E("", "HTTP_STATUS", "wait", "origin", True, None, 1),
        ("urllib3", "direct"): E("", "HTTP_STATUS", "wait", "origin", True, None, 1),
        ("urllib3", "direct-tls"): E("", "HTTP_STATUS", "wait", "origin", True, None, 1),
        ("urllib3", "proxy-absolute"): E("", "HTTP_STATUS", "wait", "origin", True, None, 1),
        ("urllib3", "proxy-connect"): E("", "HTTP_STATUS", "wait", "origin", True, None, 1),
        ("requests", "direct"): E("requests.HTTPError", "HTTP_STATUS", "wait", "origin", True, None, 1),
        ("requests", "direct-tls"): E("requests.HTTPError", "HTTP_STATUS", "wait", "origin", True, None, 1),
        ("requests", "proxy-absolute"): E("requests.HTTPError", "HTTP_STATUS", "wait", "origin", True, None, 1),
        ("requests", "proxy-connect"): E("requests.HTTPError", "HTTP_STATUS", "wait", "origin", True, None, 1),
        ("httpx", "direct"): E("httpx.HTTPStatusError", "HTTP_STATUS", "wait", "origin", True, None, 1),
        ("httpx", "direct-tls"): E("httpx.HTTPStatusError", "HTTP_STATUS", "wait", "origin", True, None, 1),
        ("httpx", "proxy-absolute"): E("httpx.HTTPStatusError", "HTTP_STATUS", "wait", "origin", True, None, 1),
        ("httpx", "proxy-connect"): E("httpx.HTTPStatusError", "HTTP_STATUS", "wait", "origin", True, None, 1),
        ("httpx-async", "direct"): E("httpx.HTTPStatusError", "HTTP_STATUS", "wait", "origin", True, None, 1),
        ("httpx-async", "direct-tls"): E("httpx.HTTPStatusError", "HTTP_STATUS", "wait", "origin", True, None, 1),
        ("httpx-async", "proxy-absolute"): E("httpx.HTTPStatusError", "HTTP_STATUS", "wait", "origin", True, None, 1),
        ("httpx-async", "proxy-connect"): E("httpx.HTTPStatusError", "HTTP_STATUS", "wait", "origin", True, None, 1),
        ("aiohttp", "direct"): E("aiohttp.ClientResponseError", "HTTP_STATUS", "wait", "origin", True, None, 1),
        ("aiohttp", "direct-tls"): E("aiohttp.ClientResponseError", "HTTP_STATUS", "wait", "origin", True, None, 1),
        ("aiohttp", "proxy-absolute"): E("aiohttp.ClientResponseError", "HTTP_STATUS", "wait", "origin", True, None, 1),
        ("aiohttp", "proxy-connect"): E("aiohttp.ClientResponseError", "HTTP_STATUS", "wait", "origin", True, None, 1),
    },
    # The origin reads the request, then RST.
    # - http.client raises a bare ConnectionResetError: nothing says whether it came while sending or waiting
    #   (phase unknown, request_sent None). urllib3's 'Connection aborted.' covers TLS, send and wait: None.
    # - Sync TLS (http.client, urllib3, requests, httpx): CPython 3.11's ssl module turns the RST into a clean
    #   EOF (gh-115627), so it is an empty reply, UNEXPECTED_EOF. asyncio's TLS (httpx-async, aiohttp) keeps 104.
    # - proxy-absolute: the lab proxy (like a real one) answers 502 when its upstream fails before a response;
    #   a forwarding proxy's own 502 cannot be told from the origin's, so it is the origin's HTTP_STATUS.
    # - proxy-connect: a reset or an empty reply before the response is blamed on the proxy (a proxy that
    #   loses its upstream shows exactly that). urllib3 wraps it in ProxyError (its flag trap, see _urllib3).
    # - aiohttp retried the GET on a new connection on its own: the origin saw 2 requests.
    "reset-after-request": {
        ("http.client", "direct"): E("ConnectionResetError", "ECONNRESET", "unknown", "origin", None, 104, 1),
        ("http.client", "direct-tls"): E(
            "http.client.RemoteDisconnected", "UNEXPECTED_EOF", "wait", "origin", True, None, 1
        ),
        ("http.client", "proxy-absolute"): E("", "HTTP_STATUS", "wait", "origin", True, None, 1),
        ("http.client", "proxy-connect"): E(
            "http.client.RemoteDisconnected", "UNEXPECTED_EOF", "wait", "proxy", None, None, 1
        ),
        ("urllib3", "direct"): E("urllib3.ProtocolError", "ECONNRESET", "wait", "origin", None, 104, 1),
        ("urllib3", "direct-tls"): E("urllib3.ProtocolError", "UNEXPECTED_EOF", "wait", "origin", True, None, 1),
        ("urllib3", "proxy-absolute"): E("", "HTTP_STATUS", "wait", "origin", True, None, 1),
        ("urllib3", "proxy-connect"): E("urllib3.ProxyError", "UNEXPECTED_EOF", "wait", "proxy", True, None, 1),
        ("requests", "direct"): E("requests.ConnectionError", "ECONNRESET", "wait", "origin", None, 104, 1),
        ("requests", "direct-tls"): E("requests.ConnectionError", "UNEXPECTED_EOF", "wait", "origin", True, None, 1),
        ("requests", "proxy-absolute"): E("requests.HTTPError", "HTTP_STATUS", "wait", "origin", True, None, 1),
        ("requests", "proxy-connect"): E("requests.ProxyError", "UNEXPECTED_EOF", "wait", "proxy", True, None, 1),
        ("httpx", "direct"): E("httpx.ReadError", "ECONNRESET", "wait", "origin", True, 104, 1),
        ("httpx", "direct-tls"): E("httpx.RemoteProtocolError", "UNEXPECTED_EOF", "wait", "origin", True, None, 1),
        ("httpx", "proxy-absolute"): E("httpx.HTTPStatusError", "HTTP_STATUS", "wait", "origin", True, None, 1),
        ("httpx", "proxy-connect"): E("httpx.RemoteProtocolError", "UNEXPECTED_EOF", "wait", "proxy", None, None, 1),
        ("httpx-async", "direct"): E("httpx.ReadError", "ECONNRESET", "wait", "origin", True, 104, 1),
        ("httpx-async", "direct-tls"): E("httpx.ReadError", "ECONNRESET", "wait", "origin", True, 104, 1),
        ("httpx-async", "proxy-absolute"): E("httpx.HTTPStatusError", "HTTP_STATUS", "wait", "origin", True, None, 1),
        ("httpx-async", "proxy-connect"): E("httpx.ReadError", "ECONNRESET", "wait", "proxy", True, 104, 1),
        ("aiohttp", "direct"): E("aiohttp.ClientOSError", "ECONNRESET", "wait", "origin", None, 104, 2),
        ("aiohttp", "direct-tls"): E("aiohttp.ClientOSError", "ECONNRESET", "wait", "origin", None, 104, 2),
        ("aiohttp", "proxy-absolute"): E("aiohttp.ClientResponseError", "HTTP_STATUS", "wait", "origin", True, None, 1),
        ("aiohttp", "proxy-connect"): E("aiohttp.ClientOSError", "ECONNRESET", "wait", "proxy", None, 104, 2),
    },
    # The origin reads the request, then FIN: an empty reply everywhere (UNEXPECTED_EOF in wait).
    # aiohttp retried the GET once (2 requests). Through CONNECT: the proxy's, like a reset.
    "empty-reply": {
        ("http.client", "direct"): E(
            "http.client.RemoteDisconnected", "UNEXPECTED_EOF", "wait", "origin", True, None, 1
        ),
        ("http.client", "direct-tls"): E(
            "http.client.RemoteDisconnected", "UNEXPECTED_EOF", "wait", "origin", True, None, 1
        ),
        ("http.client", "proxy-absolute"): E("", "HTTP_STATUS", "wait", "origin", True, None, 1),
        ("http.client", "proxy-connect"): E(
            "http.client.RemoteDisconnected", "UNEXPECTED_EOF", "wait", "proxy", None, None, 1
        ),
        ("urllib3", "direct"): E("urllib3.ProtocolError", "UNEXPECTED_EOF", "wait", "origin", True, None, 1),
        ("urllib3", "direct-tls"): E("urllib3.ProtocolError", "UNEXPECTED_EOF", "wait", "origin", True, None, 1),
        ("urllib3", "proxy-absolute"): E("", "HTTP_STATUS", "wait", "origin", True, None, 1),
        ("urllib3", "proxy-connect"): E("urllib3.ProxyError", "UNEXPECTED_EOF", "wait", "proxy", True, None, 1),
        ("requests", "direct"): E("requests.ConnectionError", "UNEXPECTED_EOF", "wait", "origin", True, None, 1),
        ("requests", "direct-tls"): E("requests.ConnectionError", "UNEXPECTED_EOF", "wait", "origin", True, None, 1),
        ("requests", "proxy-absolute"): E("requests.HTTPError", "HTTP_STATUS", "wait", "origin", True, None, 1),
        ("requests", "proxy-connect"): E("requests.ProxyError", "UNEXPECTED_EOF", "wait", "proxy", True, None, 1),
        ("httpx", "direct"): E("httpx.RemoteProtocolError", "UNEXPECTED_EOF", "wait", "origin", True, None, 1),
        ("httpx", "direct-tls"): E("httpx.RemoteProtocolError", "UNEXPECTED_EOF", "wait", "origin", True, None, 1),
        ("httpx", "proxy-absolute"): E("httpx.HTTPStatusError", "HTTP_STATUS", "wait", "origin", True, None, 1),
        ("httpx", "proxy-connect"): E("httpx.RemoteProtocolError", "UNEXPECTED_EOF", "wait", "proxy", None, None, 1),
        ("httpx-async", "direct"): E("httpx.RemoteProtocolError", "UNEXPECTED_EOF", "wait", "origin", True, None, 1),
        ("httpx-async", "direct-tls"): E(
            "httpx.RemoteProtocolError", "UNEXPECTED_EOF", "wait", "origin", True, None, 1
        ),
        ("httpx-async", "proxy-absolute"): E("httpx.HTTPStatusError", "HTTP_STATUS", "wait", "origin", True, None, 1),
        ("httpx-async", "proxy-connect"): E(
            "httpx.RemoteProtocolError", "UNEXPECTED_EOF", "wait", "proxy", None, None, 1
        ),
        ("aiohttp", "direct"): E("aiohttp.ServerDisconnectedError", "UNEXPECTED_EOF", "wait", "origin", True, None, 2),
        ("aiohttp", "direct-tls"): E(
            "aiohttp.ServerDisconnectedError", "UNEXPECTED_EOF", "wait", "origin", True, None, 2
        ),
        ("aiohttp", "proxy-absolute"): E("aiohttp.ClientResponseError", "HTTP_STATUS", "wait", "origin", True, None, 1),
        ("aiohttp", "proxy-connect"): E(
            "aiohttp.ServerDisconnectedError", "UNEXPECTED_EOF", "wait", "proxy", None, None, 2
        ),
    },
    # Headers and 1000 of 100000 bytes, then RST.
    # - http.client raises a bare ConnectionResetError from read(): phase unknown.
    # - httpx raises ReadError whether reading headers or body: it stays 'wait' (a guess; request_sent True either way).
    # - Sync TLS: the RST becomes EOF (gh-115627): IncompleteRead / 'peer closed connection', UNEXPECTED_EOF.
    # - aiohttp's ClientPayloadError loses the errno in the chain; sockwise reads it back from the message (104).
    # - proxy-absolute: the lab proxy mirrors the RST once the response started.
    "reset-mid-body": {
        ("http.client", "direct"): E("ConnectionResetError", "ECONNRESET", "unknown", "origin", None, 104, 1),
        ("http.client", "direct-tls"): E(
            "http.client.IncompleteRead", "UNEXPECTED_EOF", "body", "origin", True, None, 1
        ),
        ("http.client", "proxy-absolute"): E("ConnectionResetError", "ECONNRESET", "unknown", "proxy", None, 104, 1),
        ("http.client", "proxy-connect"): E(
            "http.client.IncompleteRead", "UNEXPECTED_EOF", "body", "origin", True, None, 1
        ),
        ("urllib3", "direct"): E("urllib3.ProtocolError", "ECONNRESET", "body", "origin", True, 104, 1),
        ("urllib3", "direct-tls"): E("urllib3.ProtocolError", "UNEXPECTED_EOF", "body", "origin", True, None, 1),
        ("urllib3", "proxy-absolute"): E("urllib3.ProtocolError", "ECONNRESET", "body", "origin", True, 104, 1),
        ("urllib3", "proxy-connect"): E("urllib3.ProtocolError", "UNEXPECTED_EOF", "body", "origin", True, None, 1),
        ("requests", "direct"): E("requests.ChunkedEncodingError", "ECONNRESET", "body", "origin", True, 104, 1),
        ("requests", "direct-tls"): E(
            "requests.ChunkedEncodingError", "UNEXPECTED_EOF", "body", "origin", True, None, 1
        ),
        ("requests", "proxy-absolute"): E(
            "requests.ChunkedEncodingError", "ECONNRESET", "body", "origin", True, 104, 1
        ),
        ("requests", "proxy-connect"): E(
            "requests.ChunkedEncodingError", "UNEXPECTED_EOF", "body", "origin", True, None, 1
        ),
        ("httpx", "direct"): E("httpx.ReadError", "ECONNRESET", "wait", "origin", True, 104, 1),
        ("httpx", "direct-tls"): E("httpx.RemoteProtocolError", "UNEXPECTED_EOF", "body", "origin", True, None, 1),
        ("httpx", "proxy-absolute"): E("httpx.ReadError", "ECONNRESET", "wait", "proxy", None, 104, 1),
        ("httpx", "proxy-connect"): E("httpx.RemoteProtocolError", "UNEXPECTED_EOF", "body", "origin", True, None, 1),
        ("httpx-async", "direct"): E("httpx.ReadError", "ECONNRESET", "wait", "origin", True, 104, 1),
        ("httpx-async", "direct-tls"): E("httpx.ReadError", "ECONNRESET", "wait", "origin", True, 104, 1),
        ("httpx-async", "proxy-absolute"): E("httpx.ReadError", "ECONNRESET", "wait", "proxy", None, 104, 1),
        ("httpx-async", "proxy-connect"): E("httpx.ReadError", "ECONNRESET", "wait", "proxy", True, 104, 1),
        ("aiohttp", "direct"): E("aiohttp.ClientPayloadError", "ECONNRESET", "body", "origin", True, 104, 1),
        ("aiohttp", "direct-tls"): E("aiohttp.ClientPayloadError", "ECONNRESET", "body", "origin", True, 104, 1),
        ("aiohttp", "proxy-absolute"): E("aiohttp.ClientPayloadError", "ECONNRESET", "body", "origin", True, 104, 1),
        ("aiohttp", "proxy-connect"): E("aiohttp.ClientPayloadError", "ECONNRESET", "body", "origin", True, 104, 1),
    },
    # Headers and 1000 of 100000 bytes, then FIN: a truncated body in every client, in every route.
    "close-mid-body": {
        ("http.client", "direct"): E("http.client.IncompleteRead", "UNEXPECTED_EOF", "body", "origin", True, None, 1),
        ("http.client", "direct-tls"): E(
            "http.client.IncompleteRead", "UNEXPECTED_EOF", "body", "origin", True, None, 1
        ),
        ("http.client", "proxy-absolute"): E(
            "http.client.IncompleteRead", "UNEXPECTED_EOF", "body", "origin", True, None, 1
        ),
        ("http.client", "proxy-connect"): E(
            "http.client.IncompleteRead", "UNEXPECTED_EOF", "body", "origin", True, None, 1
        ),
        ("urllib3", "direct"): E("urllib3.ProtocolError", "UNEXPECTED_EOF", "body", "origin", True, None, 1),
        ("urllib3", "direct-tls"): E("urllib3.ProtocolError", "UNEXPECTED_EOF", "body", "origin", True, None, 1),
        ("urllib3", "proxy-absolute"): E("urllib3.ProtocolError", "UNEXPECTED_EOF", "body", "origin", True, None, 1),
        ("urllib3", "proxy-connect"): E("urllib3.ProtocolError", "UNEXPECTED_EOF", "body", "origin", True, None, 1),
        ("requests", "direct"): E("requests.ChunkedEncodingError", "UNEXPECTED_EOF", "body", "origin", True, None, 1),
        ("requests", "direct-tls"): E(
            "requests.ChunkedEncodingError", "UNEXPECTED_EOF", "body", "origin", True, None, 1
        ),
        ("requests", "proxy-absolute"): E(
            "requests.ChunkedEncodingError", "UNEXPECTED_EOF", "body", "origin", True, None, 1
        ),
        ("requests", "proxy-connect"): E(
            "requests.ChunkedEncodingError", "UNEXPECTED_EOF", "body", "origin", True, None, 1
        ),
        ("httpx", "direct"): E("httpx.RemoteProtocolError", "UNEXPECTED_EOF", "body", "origin", True, None, 1),
        ("httpx", "direct-tls"): E("httpx.RemoteProtocolError", "UNEXPECTED_EOF", "body", "origin", True, None, 1),
        ("httpx", "proxy-absolute"): E("httpx.RemoteProtocolError", "UNEXPECTED_EOF", "body", "origin", True, None, 1),
        ("httpx", "proxy-connect"): E("httpx.RemoteProtocolError", "UNEXPECTED_EOF", "body", "origin", True, None, 1),
        ("httpx-async", "direct"): E("httpx.RemoteProtocolError", "UNEXPECTED_EOF", "body", "origin", True, None, 1),
        ("httpx-async", "direct-tls"): E(
            "httpx.RemoteProtocolError", "UNEXPECTED_EOF", "body", "origin", True, None, 1
        ),
        ("httpx-async", "proxy-absolute"): E(
            "httpx.RemoteProtocolError", "UNEXPECTED_EOF", "body", "origin", True, None, 1
        ),
        ("httpx-async", "proxy-connect"): E(
            "httpx.RemoteProtocolError", "UNEXPECTED_EOF", "body", "origin", True, None, 1
        ),
        ("aiohttp", "direct"): E("aiohttp.ClientPayloadError", "UNEXPECTED_EOF", "body", "origin", True, None, 1),
        ("aiohttp", "direct-tls"): E("aiohttp.ClientPayloadError", "UNEXPECTED_EOF", "body", "origin", True, None, 1),
        ("aiohttp", "proxy-absolute"): E(
            "aiohttp.ClientPayloadError", "UNEXPECTED_EOF", "body", "origin", True, None, 1
        ),
        ("aiohttp", "proxy-connect"): E(
            "aiohttp.ClientPayloadError", "UNEXPECTED_EOF", "body", "origin", True, None, 1
        ),
    },
    # The origin reads the request and never answers; read timeout 0.5 s.
    # - http.client: TimeoutError('timed out') is also what a full backlog gives at connect: phase unknown.
    #   Over TLS the ssl module says 'The read operation timed out': a read on an established connection.
    # - Through a proxy, a read timer may be the proxy's CONNECT reply (or a forwarding proxy stalling): the
    #   blame is unknown, never origin (origin would count as the proxy's success).
    # - httpx-async through CONNECT: anyio's TLS layer is in the chain, so the timer fired reading TLS
    #   records, after the tunnel: request sent, waiting; still through a proxy, so nobody is blamed.
    "stall-before-headers": {
        ("http.client", "direct"): E("TimeoutError", "ETIMEDOUT", "unknown", "unknown", None, None, 1),
        ("http.client", "direct-tls"): E("TimeoutError", "ETIMEDOUT", "wait", "origin", True, None, 1),
        ("http.client", "proxy-absolute"): E("TimeoutError", "ETIMEDOUT", "unknown", "unknown", None, None, 1),
        ("http.client", "proxy-connect"): E("TimeoutError", "ETIMEDOUT", "wait", "unknown", None, None, 1),
        ("urllib3", "direct"): E("urllib3.ReadTimeoutError", "ETIMEDOUT", "wait", "origin", True, None, 1),
        ("urllib3", "direct-tls"): E("urllib3.ReadTimeoutError", "ETIMEDOUT", "wait", "origin", True, None, 1),
        ("urllib3", "proxy-absolute"): E("urllib3.ReadTimeoutError", "ETIMEDOUT", "wait", "unknown", None, None, 1),
        ("urllib3", "proxy-connect"): E("urllib3.ReadTimeoutError", "ETIMEDOUT", "wait", "unknown", None, None, 1),
        ("requests", "direct"): E("requests.ReadTimeout", "ETIMEDOUT", "wait", "origin", True, None, 1),
        ("requests", "direct-tls"): E("requests.ReadTimeout", "ETIMEDOUT", "wait", "origin", True, None, 1),
        ("requests", "proxy-absolute"): E("requests.ReadTimeout", "ETIMEDOUT", "wait", "unknown", None, None, 1),
        ("requests", "proxy-connect"): E("requests.ReadTimeout", "ETIMEDOUT", "wait", "unknown", None, None, 1),
        ("httpx", "direct"): E("httpx.ReadTimeout", "ETIMEDOUT", "wait", "origin", True, None, 1),
        ("httpx", "direct-tls"): E("httpx.ReadTimeout", "ETIMEDOUT", "wait", "origin", True, None, 1),
        ("httpx", "proxy-absolute"): E("httpx.ReadTimeout", "ETIMEDOUT", "wait", "unknown", None, None, 1),
        ("httpx", "proxy-connect"): E("httpx.ReadTimeout", "ETIMEDOUT", "wait", "unknown", None, None, 1),
        ("httpx-async", "direct"): E("httpx.ReadTimeout", "ETIMEDOUT", "wait", "origin", True, None, 1),
        ("httpx-async", "direct-tls"): E("httpx.ReadTimeout", "ETIMEDOUT", "wait", "origin", True, None, 1),
        ("httpx-async", "proxy-absolute"): E("httpx.ReadTimeout", "ETIMEDOUT", "wait", "unknown", None, None, 1),
        ("httpx-async", "proxy-connect"): E("httpx.ReadTimeout", "ETIMEDOUT", "wait", "unknown", True, None, 1),
        ("aiohttp", "direct"): E("aiohttp.SocketTimeoutError", "ETIMEDOUT", "wait", "origin", True, None, 1),
        ("aiohttp", "direct-tls"): E("aiohttp.SocketTimeoutError", "ETIMEDOUT", "wait", "origin", True, None, 1),
        ("aiohttp", "proxy-absolute"): E("aiohttp.SocketTimeoutError", "ETIMEDOUT", "wait", "unknown", None, None, 1),
        ("aiohttp", "proxy-connect"): E("aiohttp.SocketTimeoutError", "ETIMEDOUT", "wait", "unknown", None, None, 1),
    },
    # Headers and 2 of 10 bytes, then silence; read timeout 0.5 s. Only requests says 'body' (its
    # ConnectionError wrapping ReadTimeoutError is raised only while streaming the body); the other libraries
    # raise the same timeout as for headers, so it stays 'wait' (request_sent True either way).
    "stall-mid-body": {
        ("http.client", "direct"): E("TimeoutError", "ETIMEDOUT", "unknown", "unknown", None, None, 1),
        ("http.client", "direct-tls"): E("TimeoutError", "ETIMEDOUT", "wait", "origin", True, None, 1),
        ("http.client", "proxy-absolute"): E("TimeoutError", "ETIMEDOUT", "unknown", "unknown", None, None, 1),
        ("http.client", "proxy-connect"): E("TimeoutError", "ETIMEDOUT", "wait", "unknown", None, None, 1),
        ("urllib3", "direct"): E("urllib3.ReadTimeoutError", "ETIMEDOUT", "wait", "origin", True, None, 1),
        ("urllib3", "direct-tls"): E("urllib3.ReadTimeoutError", "ETIMEDOUT", "wait", "origin", True, None, 1),
        ("urllib3", "proxy-absolute"): E("urllib3.ReadTimeoutError", "ETIMEDOUT", "wait", "unknown", None, None, 1),
        ("urllib3", "proxy-connect"): E("urllib3.ReadTimeoutError", "ETIMEDOUT", "wait", "unknown", None, None, 1),
        ("requests", "direct"): E("requests.ConnectionError", "ETIMEDOUT", "body", "origin", True, None, 1),
        ("requests", "direct-tls"): E("requests.ConnectionError", "ETIMEDOUT", "body", "origin", True, None, 1),
        ("requests", "proxy-absolute"): E("requests.ConnectionError", "ETIMEDOUT", "body", "origin", True, None, 1),
        ("requests", "proxy-connect"): E("requests.ConnectionError", "ETIMEDOUT", "body", "origin", True, None, 1),
        ("httpx", "direct"): E("httpx.ReadTimeout", "ETIMEDOUT", "wait", "origin", True, None, 1),
        ("httpx", "direct-tls"): E("httpx.ReadTimeout", "ETIMEDOUT", "wait", "origin", True, None, 1),
        ("httpx", "proxy-absolute"): E("httpx.ReadTimeout", "ETIMEDOUT", "wait", "unknown", None, None, 1),
        ("httpx", "proxy-connect"): E("httpx.ReadTimeout", "ETIMEDOUT", "wait", "unknown", None, None, 1),
        ("httpx-async", "direct"): E("httpx.ReadTimeout", "ETIMEDOUT", "wait", "origin", True, None, 1),
        ("httpx-async", "direct-tls"): E("httpx.ReadTimeout", "ETIMEDOUT", "wait", "origin", True, None, 1),
        ("httpx-async", "proxy-absolute"): E("httpx.ReadTimeout", "ETIMEDOUT", "wait", "unknown", None, None, 1),
        ("httpx-async", "proxy-connect"): E("httpx.ReadTimeout", "ETIMEDOUT", "wait", "unknown", True, None, 1),
        ("aiohttp", "direct"): E("aiohttp.SocketTimeoutError", "ETIMEDOUT", "wait", "origin", True, None, 1),
        ("aiohttp", "direct-tls"): E("aiohttp.SocketTimeoutError", "ETIMEDOUT", "wait", "origin", True, None, 1),
        ("aiohttp", "proxy-absolute"): E("aiohttp.SocketTimeoutError", "ETIMEDOUT", "wait", "unknown", None, None, 1),
        ("aiohttp", "proxy-connect"): E("aiohttp.SocketTimeoutError", "ETIMEDOUT", "wait", "unknown", None, None, 1),
    },
    # 4 bytes 0.15 s apart with a 0.5 s read timeout: read timeouts are per read, so every client succeeds.
    "trickle": {
        ("http.client", "direct"): ok(1),
        ("urllib3", "direct"): ok(1),
        ("requests", "direct"): ok(1),
        ("httpx", "direct"): ok(1),
        ("httpx-async", "direct"): ok(1),
        ("aiohttp", "direct"): ok(1),
    },
    # An SSH banner instead of a status line, then FIN.
    # - httpx (h11) waits for a full head and sees FIN: 'Server disconnected without sending a response',
    #   an empty reply. The others parse the line: EPROTO.
    # - Through CONNECT a bad status line may be the proxy's CONNECT reply: blame unknown.
    # - proxy-absolute: the lab proxy answers 502 for an upstream that is not HTTP.
    "garbage": {
        ("http.client", "direct"): E("http.client.BadStatusLine", "EPROTO", "wait", "origin", True, None, 1),
        ("http.client", "direct-tls"): E("http.client.BadStatusLine", "EPROTO", "wait", "origin", True, None, 1),
        ("http.client", "proxy-absolute"): E("", "HTTP_STATUS", "wait", "origin", True, None, 1),
        ("http.client", "proxy-connect"): E("http.client.BadStatusLine", "EPROTO", "wait", "unknown", None, None, 1),
        ("urllib3", "direct"): E("urllib3.ProtocolError", "EPROTO", "wait", "origin", True, None, 1),
        ("urllib3", "direct-tls"): E("urllib3.ProtocolError", "EPROTO", "wait", "origin", True, None, 1),
        ("urllib3", "proxy-absolute"): E("", "HTTP_STATUS", "wait", "origin", True, None, 1),
        ("urllib3", "proxy-connect"): E("urllib3.ProtocolError", "EPROTO", "wait", "unknown", None, None, 1),
        ("requests", "direct"): E("requests.ConnectionError", "EPROTO", "wait", "origin", True, None, 1),
        ("requests", "direct-tls"): E("requests.ConnectionError", "EPROTO", "wait", "origin", True, None, 1),
        ("requests", "proxy-absolute"): E("requests.HTTPError", "HTTP_STATUS", "wait", "origin", True, None, 1),
        ("requests", "proxy-connect"): E("requests.ConnectionError", "EPROTO", "wait", "unknown", None, None, 1),
        ("httpx", "direct"): E("httpx.RemoteProtocolError", "UNEXPECTED_EOF", "wait", "origin", True, None, 1),
        ("httpx", "direct-tls"): E("httpx.RemoteProtocolError", "UNEXPECTED_EOF", "wait", "origin", True, None, 1),
        ("httpx", "proxy-absolute"): E("httpx.HTTPStatusError", "HTTP_STATUS", "wait", "origin", True, None, 1),
        ("httpx", "proxy-connect"): E("httpx.RemoteProtocolError", "UNEXPECTED_EOF", "wait", "proxy", None, None, 1),
        ("httpx-async", "direct"): E("httpx.RemoteProtocolError", "UNEXPECTED_EOF", "wait", "origin", True, None, 1),
        ("httpx-async", "direct-tls"): E(
            "httpx.RemoteProtocolError", "UNEXPECTED_EOF", "wait", "origin", True, None, 1
        ),
        ("httpx-async", "proxy-absolute"): E("httpx.HTTPStatusError", "HTTP_STATUS", "wait", "origin", True, None, 1),
        ("httpx-async", "proxy-connect"): E(
            "httpx.RemoteProtocolError", "UNEXPECTED_EOF", "wait", "proxy", None, None, 1
        ),
        ("aiohttp", "direct"): E("aiohttp.ClientResponseError", "EPROTO", "wait", "origin", True, None, 1),
        ("aiohttp", "direct-tls"): E("aiohttp.ClientResponseError", "EPROTO", "wait", "origin", True, None, 1),
        ("aiohttp", "proxy-absolute"): E("aiohttp.ClientResponseError", "HTTP_STATUS", "wait", "origin", True, None, 1),
        ("aiohttp", "proxy-connect"): E("aiohttp.ClientResponseError", "EPROTO", "wait", "unknown", None, None, 1),
    },
    # Two GETs on one pooled client; the origin closes (FIN) as the second request arrives.
    # aiohttp retried the GET on a new connection and succeeded: the origin saw 3 requests. Everyone else
    # fails the second request with an empty reply. proxy-absolute: the proxy's upstream dies, it answers 502.
    "stale-keepalive": {
        ("http.client", "direct"): E(
            "http.client.RemoteDisconnected", "UNEXPECTED_EOF", "wait", "origin", True, None, 2
        ),
        ("http.client", "direct-tls"): E(
            "http.client.RemoteDisconnected", "UNEXPECTED_EOF", "wait", "origin", True, None, 2
        ),
        ("http.client", "proxy-absolute"): E("", "HTTP_STATUS", "wait", "origin", True, None, 2),
        ("http.client", "proxy-connect"): E(
            "http.client.RemoteDisconnected", "UNEXPECTED_EOF", "wait", "proxy", None, None, 2
        ),
        ("urllib3", "direct"): E("urllib3.ProtocolError", "UNEXPECTED_EOF", "wait", "origin", True, None, 2),
        ("urllib3", "direct-tls"): E("urllib3.ProtocolError", "UNEXPECTED_EOF", "wait", "origin", True, None, 2),
        ("urllib3", "proxy-absolute"): E("", "HTTP_STATUS", "wait", "origin", True, None, 2),
        ("urllib3", "proxy-connect"): E("urllib3.ProxyError", "UNEXPECTED_EOF", "wait", "proxy", True, None, 2),
        ("requests", "direct"): E("requests.ConnectionError", "UNEXPECTED_EOF", "wait", "origin", True, None, 2),
        ("requests", "direct-tls"): E("requests.ConnectionError", "UNEXPECTED_EOF", "wait", "origin", True, None, 2),
        ("requests", "proxy-absolute"): E("requests.HTTPError", "HTTP_STATUS", "wait", "origin", True, None, 2),
        ("requests", "proxy-connect"): E("requests.ProxyError", "UNEXPECTED_EOF", "wait", "proxy", True, None, 2),
        ("httpx", "direct"): E("httpx.RemoteProtocolError", "UNEXPECTED_EOF", "wait", "origin", True, None, 2),
        ("httpx", "direct-tls"): E("httpx.RemoteProtocolError", "UNEXPECTED_EOF", "wait", "origin", True, None, 2),
        ("httpx", "proxy-absolute"): E("httpx.HTTPStatusError", "HTTP_STATUS", "wait", "origin", True, None, 2),
        ("httpx", "proxy-connect"): E("httpx.RemoteProtocolError", "UNEXPECTED_EOF", "wait", "proxy", None, None, 2),
        ("httpx-async", "direct"): E("httpx.RemoteProtocolError", "UNEXPECTED_EOF", "wait", "origin", True, None, 2),
        ("httpx-async", "direct-tls"): E(
            "httpx.RemoteProtocolError", "UNEXPECTED_EOF", "wait", "origin", True, None, 2
        ),
        ("httpx-async", "proxy-absolute"): E("httpx.HTTPStatusError", "HTTP_STATUS", "wait", "origin", True, None, 2),
        ("httpx-async", "proxy-connect"): E(
            "httpx.RemoteProtocolError", "UNEXPECTED_EOF", "wait", "proxy", None, None, 2
        ),
        ("aiohttp", "direct"): ok(3),
        ("aiohttp", "direct-tls"): ok(3),
        ("aiohttp", "proxy-absolute"): E("aiohttp.ClientResponseError", "HTTP_STATUS", "wait", "origin", True, None, 2),
        ("aiohttp", "proxy-connect"): ok(3),
    },
    # The same with RST. Sync TLS turns it into EOF (gh-115627); aiohttp again retried and succeeded.
    "stale-keepalive(rst)": {
        ("http.client", "direct"): E("ConnectionResetError", "ECONNRESET", "unknown", "origin", None, 104, 2),
        ("http.client", "direct-tls"): E(
            "http.client.RemoteDisconnected", "UNEXPECTED_EOF", "wait", "origin", True, None, 2
        ),
        ("http.client", "proxy-absolute"): E("", "HTTP_STATUS", "wait", "origin", True, None, 2),
        ("http.client", "proxy-connect"): E(
            "http.client.RemoteDisconnected", "UNEXPECTED_EOF", "wait", "proxy", None, None, 2
        ),
        ("urllib3", "direct"): E("urllib3.ProtocolError", "ECONNRESET", "wait", "origin", None, 104, 2),
        ("urllib3", "direct-tls"): E("urllib3.ProtocolError", "UNEXPECTED_EOF", "wait", "origin", True, None, 2),
        ("urllib3", "proxy-absolute"): E("", "HTTP_STATUS", "wait", "origin", True, None, 2),
        ("urllib3", "proxy-connect"): E("urllib3.ProxyError", "UNEXPECTED_EOF", "wait", "proxy", True, None, 2),
        ("requests", "direct"): E("requests.ConnectionError", "ECONNRESET", "wait", "origin", None, 104, 2),
        ("requests", "direct-tls"): E("requests.ConnectionError", "UNEXPECTED_EOF", "wait", "origin", True, None, 2),
        ("requests", "proxy-absolute"): E("requests.HTTPError", "HTTP_STATUS", "wait", "origin", True, None, 2),
        ("requests", "proxy-connect"): E("requests.ProxyError", "UNEXPECTED_EOF", "wait", "proxy", True, None, 2),
        ("httpx", "direct"): E("httpx.ReadError", "ECONNRESET", "wait", "origin", True, 104, 2),
        ("httpx", "direct-tls"): E("httpx.RemoteProtocolError", "UNEXPECTED_EOF", "wait", "origin", True, None, 2),
        ("httpx", "proxy-absolute"): E("httpx.HTTPStatusError", "HTTP_STATUS", "wait", "origin", True, None, 2),
        ("httpx", "proxy-connect"): E("httpx.RemoteProtocolError", "UNEXPECTED_EOF", "wait", "proxy", None, None, 2),
        ("httpx-async", "direct"): E("httpx.ReadError", "ECONNRESET", "wait", "origin", True, 104, 2),
        ("httpx-async", "direct-tls"): E("httpx.ReadError", "ECONNRESET", "wait", "origin", True, 104, 2),
        ("httpx-async", "proxy-absolute"): E("httpx.HTTPStatusError", "HTTP_STATUS", "wait", "origin", True, None, 2),
        ("httpx-async", "proxy-connect"): E("httpx.ReadError", "ECONNRESET", "wait", "proxy", True, 104, 2),
        ("aiohttp", "direct"): ok(3),
        ("aiohttp", "direct-tls"): ok(3),
        ("aiohttp", "proxy-absolute"): E("aiohttp.ClientResponseError", "HTTP_STATUS", "wait", "origin", True, None, 2),
        ("aiohttp", "proxy-connect"): ok(3),
    },
    # A port bound but not listening. Through the proxy: absolute-form gets the proxy's 502 (an origin
    # HTTP_STATUS, indistinguishable), CONNECT a refused tunnel (PROXY_REFUSED in the proxy handshake).
    "refused": {
        ("http.client", "direct"): E("ConnectionRefusedError", "ECONNREFUSED", "connect", "origin", False, 111, None),
        ("http.client", "proxy-absolute"): E("", "HTTP_STATUS", "wait", "origin", True, None, None),
        ("http.client", "proxy-connect"): E("OSError", "PROXY_REFUSED", "proxy_handshake", "proxy", False, None, None),
        ("urllib3", "direct"): E("urllib3.NewConnectionError", "ECONNREFUSED", "connect", "origin", False, 111, None),
        ("urllib3", "proxy-absolute"): E("", "HTTP_STATUS", "wait", "origin", True, None, None),
        ("urllib3", "proxy-connect"): E(
            "urllib3.ProxyError", "PROXY_REFUSED", "proxy_handshake", "proxy", False, None, None
        ),
        ("requests", "direct"): E("requests.ConnectionError", "ECONNREFUSED", "connect", "origin", False, 111, None),
        ("requests", "proxy-absolute"): E("requests.HTTPError", "HTTP_STATUS", "wait", "origin", True, None, None),
        ("requests", "proxy-connect"): E(
            "requests.ProxyError", "PROXY_REFUSED", "proxy_handshake", "proxy", False, None, None
        ),
        ("httpx", "direct"): E("httpx.ConnectError", "ECONNREFUSED", "connect", "origin", False, 111, None),
        ("httpx", "proxy-absolute"): E("httpx.HTTPStatusError", "HTTP_STATUS", "wait", "origin", True, None, None),
        ("httpx", "proxy-connect"): E(
            "httpx.ProxyError", "PROXY_REFUSED", "proxy_handshake", "proxy", False, None, None
        ),
        ("httpx-async", "direct"): E("httpx.ConnectError", "ECONNREFUSED", "connect", "origin", False, 111, None),
        ("httpx-async", "proxy-absolute"): E(
            "httpx.HTTPStatusError", "HTTP_STATUS", "wait", "origin", True, None, None
        ),
        ("httpx-async", "proxy-connect"): E(
            "httpx.ProxyError", "PROXY_REFUSED", "proxy_handshake", "proxy", False, None, None
        ),
        ("aiohttp", "direct"): E("aiohttp.ClientConnectorError", "ECONNREFUSED", "connect", "origin", False, 111, None),
        ("aiohttp", "proxy-absolute"): E(
            "aiohttp.ClientResponseError", "HTTP_STATUS", "wait", "origin", True, None, None
        ),
        ("aiohttp", "proxy-connect"): E(
            "aiohttp.ClientHttpProxyError", "PROXY_REFUSED", "proxy_handshake", "proxy", False, None, None
        ),
    },
    # The origin accepts and RSTs at once. RACE (both outcomes legal, asserted as a set): whether the RST
    # arrives before the client's first socket operation after connect() or after its request was written.
    # - Before: httpcore and urllib3 call setsockopt(TCP_NODELAY) right after connect() and get ECONNRESET
    #   there; asyncio reads SO_ERROR after connect() and gets it ('Connect call failed'): the connect stage,
    #   nothing sent (requests/urllib3 NewConnectionError, httpx ConnectError, aiohttp ClientConnectorError).
    # - After: the send or the first read fails (urllib3 'Connection aborted.', httpx ReadError; httpx may
    #   also swallow the failed write and then read EOF: RemoteProtocolError), and aiohttp retries (2 conns).
    # - http.client raises the same ConnectionResetError either way.
    # - Through the proxy the race is inside the proxy: absolute-form gets 502; CONNECT sends 200, then the
    #   mirrored RST hits the client's TLS handshake (the proxy's, by the CONNECT rule).
    "reset-on-accept": {
        ("http.client", "direct"): E("ConnectionResetError", "ECONNRESET", "unknown", "origin", None, 104, 1),
        ("http.client", "proxy-absolute"): E("", "HTTP_STATUS", "wait", "origin", True, None, 1),
        ("http.client", "proxy-connect"): E("ConnectionResetError", "ECONNRESET", "unknown", "proxy", None, 104, 1),
        ("urllib3", "direct"): one_of(
            E("urllib3.NewConnectionError", "ECONNRESET", "connect", "origin", False, 104, 1),
            E("urllib3.ProtocolError", "ECONNRESET", "wait", "origin", None, 104, 1),
            # urllib3 swallows a failed send to read an early response, then reads EOF.
            E("urllib3.ProtocolError", "UNEXPECTED_EOF", "wait", "origin", True, None, 1),
        ),
        ("urllib3", "proxy-absolute"): E("", "HTTP_STATUS", "wait", "origin", True, None, 1),
        ("urllib3", "proxy-connect"): E("urllib3.ProtocolError", "ECONNRESET", "wait", "proxy", None, 104, 1),
        ("requests", "direct"): one_of(
            E("requests.ConnectionError", "ECONNRESET", "connect", "origin", False, 104, 1),
            E("requests.ConnectionError", "ECONNRESET", "wait", "origin", None, 104, 1),
            E("requests.ConnectionError", "UNEXPECTED_EOF", "wait", "origin", True, None, 1),
        ),
        ("requests", "proxy-absolute"): E("requests.HTTPError", "HTTP_STATUS", "wait", "origin", True, None, 1),
        ("requests", "proxy-connect"): E("requests.ConnectionError", "ECONNRESET", "wait", "proxy", None, 104, 1),
        ("httpx", "direct"): one_of(
            E("httpx.ConnectError", "ECONNRESET", "connect", "origin", False, 104, 1),
            E("httpx.ReadError", "ECONNRESET", "wait", "origin", True, 104, 1),
            # httpcore swallows a failed write to read an early response, then reads EOF.
            E("httpx.RemoteProtocolError", "UNEXPECTED_EOF", "wait", "origin", True, None, 1),
        ),
        ("httpx", "proxy-absolute"): E("httpx.HTTPStatusError", "HTTP_STATUS", "wait", "origin", True, None, 1),
        ("httpx", "proxy-connect"): E("httpx.ConnectError", "ECONNRESET", "tls", "proxy", False, 104, 1),
        ("httpx-async", "direct"): one_of(
            E("httpx.ConnectError", "ECONNRESET", "connect", "origin", False, 104, 1),
            E("httpx.ReadError", "ECONNRESET", "wait", "origin", True, 104, 1),
            E("httpx.RemoteProtocolError", "UNEXPECTED_EOF", "wait", "origin", True, None, 1),
        ),
        ("httpx-async", "proxy-absolute"): E("httpx.HTTPStatusError", "HTTP_STATUS", "wait", "origin", True, None, 1),
        ("httpx-async", "proxy-connect"): E("httpx.ConnectError", "ECONNRESET", "tls", "proxy", False, 104, 1),
        ("aiohttp", "direct"): one_of(
            E("aiohttp.ClientConnectorError", "ECONNRESET", "connect", "origin", False, 104, 1),
            # After a failure past connect aiohttp retries the GET; the retry meets the same race.
            E("aiohttp.ClientConnectorError", "ECONNRESET", "connect", "origin", False, 104, 2),
            E("aiohttp.ClientOSError", "ECONNRESET", "wait", "origin", None, 104, 2),
            E("aiohttp.ServerDisconnectedError", "UNEXPECTED_EOF", "wait", "origin", True, None, 2),
        ),
        ("aiohttp", "proxy-absolute"): E("aiohttp.ClientResponseError", "HTTP_STATUS", "wait", "origin", True, None, 1),
        ("aiohttp", "proxy-connect"): E("aiohttp.ClientConnectorError", "ECONNRESET", "tls", "proxy", False, 104, 1),
    },
    # A listener whose accept queue is full: SYNs are dropped; connect timeout 0.5 s. http.client's
    # TimeoutError('timed out') is the same as a read timeout's: phase unknown. Through the proxy, the proxy
    # gives up connecting after 0.5 s and answers 504 (absolute-form: HTTP_STATUS; CONNECT: PROXY_REFUSED).
    "backlog-full": {
        ("http.client", "direct"): E("TimeoutError", "ETIMEDOUT", "unknown", "unknown", None, None, None),
        ("http.client", "proxy-absolute"): E("", "HTTP_STATUS", "wait", "origin", True, None, None),
        ("http.client", "proxy-connect"): E("OSError", "PROXY_REFUSED", "proxy_handshake", "proxy", False, None, None),
        ("urllib3", "direct"): E("urllib3.ConnectTimeoutError", "ETIMEDOUT", "connect", "network", False, None, None),
        ("urllib3", "proxy-absolute"): E("", "HTTP_STATUS", "wait", "origin", True, None, None),
        ("urllib3", "proxy-connect"): E(
            "urllib3.ProxyError", "PROXY_REFUSED", "proxy_handshake", "proxy", False, None, None
        ),
        ("requests", "direct"): E("requests.ConnectTimeout", "ETIMEDOUT", "connect", "network", False, None, None),
        ("requests", "proxy-absolute"): E("requests.HTTPError", "HTTP_STATUS", "wait", "origin", True, None, None),
        ("requests", "proxy-connect"): E(
            "requests.ProxyError", "PROXY_REFUSED", "proxy_handshake", "proxy", False, None, None
        ),
        ("httpx", "direct"): E("httpx.ConnectTimeout", "ETIMEDOUT", "connect", "network", False, None, None),
        ("httpx", "proxy-absolute"): E("httpx.HTTPStatusError", "HTTP_STATUS", "wait", "origin", True, None, None),
        ("httpx", "proxy-connect"): E(
            "httpx.ProxyError", "PROXY_REFUSED", "proxy_handshake", "proxy", False, None, None
        ),
        ("httpx-async", "direct"): E("httpx.ConnectTimeout", "ETIMEDOUT", "connect", "network", False, None, None),
        ("httpx-async", "proxy-absolute"): E(
            "httpx.HTTPStatusError", "HTTP_STATUS", "wait", "origin", True, None, None
        ),
        ("httpx-async", "proxy-connect"): E(
            "httpx.ProxyError", "PROXY_REFUSED", "proxy_handshake", "proxy", False, None, None
        ),
        ("aiohttp", "direct"): E(
            "aiohttp.ConnectionTimeoutError", "ETIMEDOUT", "connect", "network", False, None, None
        ),
        ("aiohttp", "proxy-absolute"): E(
            "aiohttp.ClientResponseError", "HTTP_STATUS", "wait", "origin", True, None, None
        ),
        ("aiohttp", "proxy-connect"): E(
            "aiohttp.ClientHttpProxyError", "PROXY_REFUSED", "proxy_handshake", "proxy", False, None, None
        ),
    },
    # TLS spoken to the plain port: WRONG_VERSION_NUMBER, EPROTO. An ssl.SSLError can also come from a
    # read of TLS records, so http.client / urllib3 / requests leave request_sent None; httpx and aiohttp
    # raise it as a connect error (TLS handshake, nothing sent).
    "tls-to-plain": {
        ("http.client", "direct"): E("ssl.SSLError", "EPROTO", "tls", "origin", None, None, 1),
        ("http.client", "proxy-connect"): E("ssl.SSLError", "EPROTO", "tls", "origin", None, None, 1),
        ("urllib3", "direct"): E("urllib3.SSLError", "EPROTO", "tls", "origin", None, None, 1),
        ("urllib3", "proxy-connect"): E("urllib3.SSLError", "EPROTO", "tls", "origin", None, None, 1),
        ("requests", "direct"): E("requests.SSLError", "EPROTO", "tls", "origin", None, None, 1),
        ("requests", "proxy-connect"): E("requests.SSLError", "EPROTO", "tls", "origin", None, None, 1),
        ("httpx", "direct"): E("httpx.ConnectError", "EPROTO", "tls", "origin", False, None, 1),
        ("httpx", "proxy-connect"): E("httpx.ConnectError", "EPROTO", "tls", "origin", False, None, 1),
        ("httpx-async", "direct"): E("httpx.ConnectError", "EPROTO", "tls", "origin", False, None, 1),
        ("httpx-async", "proxy-connect"): E("httpx.ConnectError", "EPROTO", "tls", "origin", False, None, 1),
        ("aiohttp", "direct"): E("aiohttp.ClientConnectorSSLError", "EPROTO", "tls", "origin", False, None, 1),
        ("aiohttp", "proxy-connect"): E("aiohttp.ClientConnectorSSLError", "EPROTO", "tls", "origin", False, None, 1),
    },
    # The server never sends a ServerHello; timeouts 0.5 s. The ssl module's 'handshake operation timed
    # out' proves TLS (urllib3/requests call it a ReadTimeout, httpx a ConnectTimeout). aiohttp's
    # ConnectionTimeoutError covers connect and TLS alike and keeps no TLS trace: it reads as a connect
    # timeout (network). Through a proxy a TLS-handshake timeout is the proxy's.
    "tls-stall": {
        ("http.client", "direct"): E("TimeoutError", "ETIMEDOUT", "tls", "origin", False, None, 1),
        ("http.client", "proxy-connect"): E("TimeoutError", "ETIMEDOUT", "tls", "proxy", False, None, 1),
        ("urllib3", "direct"): E("urllib3.ReadTimeoutError", "ETIMEDOUT", "tls", "origin", False, None, 1),
        ("urllib3", "proxy-connect"): E("urllib3.ReadTimeoutError", "ETIMEDOUT", "tls", "proxy", False, None, 1),
        ("requests", "direct"): E("requests.ReadTimeout", "ETIMEDOUT", "tls", "origin", False, None, 1),
        ("requests", "proxy-connect"): E("requests.ReadTimeout", "ETIMEDOUT", "tls", "proxy", False, None, 1),
        ("httpx", "direct"): E("httpx.ConnectTimeout", "ETIMEDOUT", "tls", "origin", False, None, 1),
        ("httpx", "proxy-connect"): E("httpx.ConnectTimeout", "ETIMEDOUT", "tls", "proxy", False, None, 1),
        ("httpx-async", "direct"): E("httpx.ConnectTimeout", "ETIMEDOUT", "tls", "origin", False, None, 1),
        ("httpx-async", "proxy-connect"): E("httpx.ConnectTimeout", "ETIMEDOUT", "tls", "proxy", False, None, 1),
        ("aiohttp", "direct"): E("aiohttp.ConnectionTimeoutError", "ETIMEDOUT", "connect", "network", False, None, 1),
        ("aiohttp", "proxy-connect"): E(
            "aiohttp.ConnectionTimeoutError", "ETIMEDOUT", "proxy_connect", "proxy", False, None, 1
        ),
    },
    # A certificate from a CA nobody trusts: TLS_CERT in tls, the origin's, in every client and route.
    "bad-cert": {
        ("http.client", "direct"): E("ssl.SSLCertVerificationError", "TLS_CERT", "tls", "origin", False, None, None),
        ("http.client", "proxy-connect"): E(
            "ssl.SSLCertVerificationError", "TLS_CERT", "tls", "origin", False, None, None
        ),
        ("urllib3", "direct"): E("urllib3.SSLError", "TLS_CERT", "tls", "origin", False, None, None),
        ("urllib3", "proxy-connect"): E("urllib3.SSLError", "TLS_CERT", "tls", "origin", False, None, None),
        ("requests", "direct"): E("requests.SSLError", "TLS_CERT", "tls", "origin", False, None, None),
        ("requests", "proxy-connect"): E("requests.SSLError", "TLS_CERT", "tls", "origin", False, None, None),
        ("httpx", "direct"): E("httpx.ConnectError", "TLS_CERT", "tls", "origin", False, None, None),
        ("httpx", "proxy-connect"): E("httpx.ConnectError", "TLS_CERT", "tls", "origin", False, None, None),
        ("httpx-async", "direct"): E("httpx.ConnectError", "TLS_CERT", "tls", "origin", False, None, None),
        ("httpx-async", "proxy-connect"): E("httpx.ConnectError", "TLS_CERT", "tls", "origin", False, None, None),
        ("aiohttp", "direct"): E(
            "aiohttp.ClientConnectorCertificateError", "TLS_CERT", "tls", "origin", False, None, None
        ),
        ("aiohttp", "proxy-connect"): E(
            "aiohttp.ClientConnectorCertificateError", "TLS_CERT", "tls", "origin", False, None, None
        ),
    },
    # A trusted certificate for another name: TLS_CERT in tls, like bad-cert.
    "wrong-host": {
        ("http.client", "direct"): E("ssl.SSLCertVerificationError", "TLS_CERT", "tls", "origin", False, None, None),
        ("http.client", "proxy-connect"): E(
            "ssl.SSLCertVerificationError", "TLS_CERT", "tls", "origin", False, None, None
        ),
        ("urllib3", "direct"): E("urllib3.SSLError", "TLS_CERT", "tls", "origin", False, None, None),
        ("urllib3", "proxy-connect"): E("urllib3.SSLError", "TLS_CERT", "tls", "origin", False, None, None),
        ("requests", "direct"): E("requests.SSLError", "TLS_CERT", "tls", "origin", False, None, None),
        ("requests", "proxy-connect"): E("requests.SSLError", "TLS_CERT", "tls", "origin", False, None, None),
        ("httpx", "direct"): E("httpx.ConnectError", "TLS_CERT", "tls", "origin", False, None, None),
        ("httpx", "proxy-connect"): E("httpx.ConnectError", "TLS_CERT", "tls", "origin", False, None, None),
        ("httpx-async", "direct"): E("httpx.ConnectError", "TLS_CERT", "tls", "origin", False, None, None),
        ("httpx-async", "proxy-connect"): E("httpx.ConnectError", "TLS_CERT", "tls", "origin", False, None, None),
        ("aiohttp", "direct"): E(
            "aiohttp.ClientConnectorCertificateError", "TLS_CERT", "tls", "origin", False, None, None
        ),
        ("aiohttp", "proxy-connect"): E(
            "aiohttp.ClientConnectorCertificateError", "TLS_CERT", "tls", "origin", False, None, None
        ),
    },
    # A proxy port that refuses: ECONNREFUSED while connecting to the proxy, the proxy's.
    "refuse": {
        ("http.client", "proxy-absolute"): E(
            "ConnectionRefusedError", "ECONNREFUSED", "proxy_connect", "proxy", False, 111, 0
        ),
        ("http.client", "proxy-connect"): E(
            "ConnectionRefusedError", "ECONNREFUSED", "proxy_connect", "proxy", False, 111, 0
        ),
        ("urllib3", "proxy-absolute"): E("urllib3.ProxyError", "ECONNREFUSED", "proxy_connect", "proxy", False, 111, 0),
        ("urllib3", "proxy-connect"): E("urllib3.ProxyError", "ECONNREFUSED", "proxy_connect", "proxy", False, 111, 0),
        ("requests", "proxy-absolute"): E(
            "requests.ProxyError", "ECONNREFUSED", "proxy_connect", "proxy", False, 111, 0
        ),
        ("requests", "proxy-connect"): E(
            "requests.ProxyError", "ECONNREFUSED", "proxy_connect", "proxy", False, 111, 0
        ),
        ("httpx", "proxy-absolute"): E("httpx.ConnectError", "ECONNREFUSED", "proxy_connect", "proxy", False, 111, 0),
        ("httpx", "proxy-connect"): E("httpx.ConnectError", "ECONNREFUSED", "proxy_connect", "proxy", False, 111, 0),
        ("httpx-async", "proxy-absolute"): E(
            "httpx.ConnectError", "ECONNREFUSED", "proxy_connect", "proxy", False, 111, 0
        ),
        ("httpx-async", "proxy-connect"): E(
            "httpx.ConnectError", "ECONNREFUSED", "proxy_connect", "proxy", False, 111, 0
        ),
        ("aiohttp", "proxy-absolute"): E(
            "aiohttp.ClientProxyConnectionError", "ECONNREFUSED", "proxy_connect", "proxy", False, 111, 0
        ),
        ("aiohttp", "proxy-connect"): E(
            "aiohttp.ClientProxyConnectionError", "ECONNREFUSED", "proxy_connect", "proxy", False, 111, 0
        ),
    },
    # A proxy that accepts and never answers; timeouts 0.5 s. The clients raise a read timeout (aiohttp,
    # through CONNECT, its connect timeout: sock_read does not cover the CONNECT reply). Nothing says whether
    # the proxy or the origin stalled: blame unknown (http.client: phase unknown too).
    "blackhole": {
        ("http.client", "proxy-absolute"): E("TimeoutError", "ETIMEDOUT", "unknown", "unknown", None, None, 1),
        ("http.client", "proxy-connect"): E("TimeoutError", "ETIMEDOUT", "unknown", "unknown", None, None, 1),
        ("urllib3", "proxy-absolute"): E("urllib3.ReadTimeoutError", "ETIMEDOUT", "wait", "unknown", None, None, 1),
        ("urllib3", "proxy-connect"): E("urllib3.ReadTimeoutError", "ETIMEDOUT", "wait", "unknown", None, None, 1),
        ("requests", "proxy-absolute"): E("requests.ReadTimeout", "ETIMEDOUT", "wait", "unknown", None, None, 1),
        ("requests", "proxy-connect"): E("requests.ReadTimeout", "ETIMEDOUT", "wait", "unknown", None, None, 1),
        ("httpx", "proxy-absolute"): E("httpx.ReadTimeout", "ETIMEDOUT", "wait", "unknown", None, None, 1),
        ("httpx", "proxy-connect"): E("httpx.ReadTimeout", "ETIMEDOUT", "wait", "unknown", None, None, 1),
        ("httpx-async", "proxy-absolute"): E("httpx.ReadTimeout", "ETIMEDOUT", "wait", "unknown", None, None, 1),
        ("httpx-async", "proxy-connect"): E("httpx.ReadTimeout", "ETIMEDOUT", "wait", "unknown", None, None, 1),
        ("aiohttp", "proxy-absolute"): E("aiohttp.SocketTimeoutError", "ETIMEDOUT", "wait", "unknown", None, None, 1),
        ("aiohttp", "proxy-connect"): E(
            "aiohttp.ConnectionTimeoutError", "ETIMEDOUT", "proxy_connect", "proxy", False, None, 1
        ),
    },
    # A proxy that wants credentials and gets none. CONNECT: the 407 refusal (PROXY_AUTH, proxy handshake).
    # Absolute-form: a 407 response, PROXY_AUTH through a proxy, left in `wait` where the response was read
    # (with request_sent False: the origin never saw it). Open question: proxy_handshake would be as true.
    "auth": {
        ("http.client", "proxy-absolute"): E("", "PROXY_AUTH", "wait", "proxy", False, None, 1),
        ("http.client", "proxy-connect"): E("OSError", "PROXY_AUTH", "proxy_handshake", "proxy", False, None, 1),
        ("urllib3", "proxy-absolute"): E("", "PROXY_AUTH", "wait", "proxy", False, None, 1),
        ("urllib3", "proxy-connect"): E("urllib3.ProxyError", "PROXY_AUTH", "proxy_handshake", "proxy", False, None, 1),
        ("requests", "proxy-absolute"): E("requests.HTTPError", "PROXY_AUTH", "wait", "proxy", False, None, 1),
        ("requests", "proxy-connect"): E(
            "requests.ProxyError", "PROXY_AUTH", "proxy_handshake", "proxy", False, None, 1
        ),
        ("httpx", "proxy-absolute"): E("httpx.HTTPStatusError", "PROXY_AUTH", "wait", "proxy", False, None, 1),
        ("httpx", "proxy-connect"): E("httpx.ProxyError", "PROXY_AUTH", "proxy_handshake", "proxy", False, None, 1),
        ("httpx-async", "proxy-absolute"): E("httpx.HTTPStatusError", "PROXY_AUTH", "wait", "proxy", False, None, 1),
        ("httpx-async", "proxy-connect"): E(
            "httpx.ProxyError", "PROXY_AUTH", "proxy_handshake", "proxy", False, None, 1
        ),
        ("aiohttp", "proxy-absolute"): E("aiohttp.ClientResponseError", "PROXY_AUTH", "wait", "proxy", False, None, 1),
        ("aiohttp", "proxy-connect"): E(
            "aiohttp.ClientHttpProxyError", "PROXY_AUTH", "proxy_handshake", "proxy", False, None, 1
        ),
    },
    # A proxy that answers 502 to everything. CONNECT: PROXY_REFUSED. Absolute-form: a 502 response, which
    # the client cannot tell from the origin's: HTTP_STATUS blamed on the origin (a known blind spot).
    "connect-502": {
        ("http.client", "proxy-absolute"): E("", "HTTP_STATUS", "wait", "origin", True, None, 1),
        ("http.client", "proxy-connect"): E("OSError", "PROXY_REFUSED", "proxy_handshake", "proxy", False, None, 1),
        ("urllib3", "proxy-absolute"): E("", "HTTP_STATUS", "wait", "origin", True, None, 1),
        ("urllib3", "proxy-connect"): E(
            "urllib3.ProxyError", "PROXY_REFUSED", "proxy_handshake", "proxy", False, None, 1
        ),
        ("requests", "proxy-absolute"): E("requests.HTTPError", "HTTP_STATUS", "wait", "origin", True, None, 1),
        ("requests", "proxy-connect"): E(
            "requests.ProxyError", "PROXY_REFUSED", "proxy_handshake", "proxy", False, None, 1
        ),
        ("httpx", "proxy-absolute"): E("httpx.HTTPStatusError", "HTTP_STATUS", "wait", "origin", True, None, 1),
        ("httpx", "proxy-connect"): E("httpx.ProxyError", "PROXY_REFUSED", "proxy_handshake", "proxy", False, None, 1),
        ("httpx-async", "proxy-absolute"): E("httpx.HTTPStatusError", "HTTP_STATUS", "wait", "origin", True, None, 1),
        ("httpx-async", "proxy-connect"): E(
            "httpx.ProxyError", "PROXY_REFUSED", "proxy_handshake", "proxy", False, None, 1
        ),
        ("aiohttp", "proxy-absolute"): E("aiohttp.ClientResponseError", "HTTP_STATUS", "wait", "origin", True, None, 1),
        ("aiohttp", "proxy-connect"): E(
            "aiohttp.ClientHttpProxyError", "PROXY_REFUSED", "proxy_handshake", "proxy", False, None, 1
        ),
    },
    # The same with 403.
    "connect-403": {
        ("http.client", "proxy-absolute"): E("", "HTTP_STATUS", "wait", "origin", True, None, 1),
        ("http.client", "proxy-connect"): E("OSError", "PROXY_REFUSED", "proxy_handshake", "proxy", False, None, 1),
        ("urllib3", "proxy-absolute"): E("", "HTTP_STATUS", "wait", "origin", True, None, 1),
        ("urllib3", "proxy-connect"): E(
            "urllib3.ProxyError", "PROXY_REFUSED", "proxy_handshake", "proxy", False, None, 1
        ),
        ("requests", "proxy-absolute"): E("requests.HTTPError", "HTTP_STATUS", "wait", "origin", True, None, 1),
        ("requests", "proxy-connect"): E(
            "requests.ProxyError", "PROXY_REFUSED", "proxy_handshake", "proxy", False, None, 1
        ),
        ("httpx", "proxy-absolute"): E("httpx.HTTPStatusError", "HTTP_STATUS", "wait", "origin", True, None, 1),
        ("httpx", "proxy-connect"): E("httpx.ProxyError", "PROXY_REFUSED", "proxy_handshake", "proxy", False, None, 1),
        ("httpx-async", "proxy-absolute"): E("httpx.HTTPStatusError", "HTTP_STATUS", "wait", "origin", True, None, 1),
        ("httpx-async", "proxy-connect"): E(
            "httpx.ProxyError", "PROXY_REFUSED", "proxy_handshake", "proxy", False, None, 1
        ),
        ("aiohttp", "proxy-absolute"): E("aiohttp.ClientResponseError", "HTTP_STATUS", "wait", "origin", True, None, 1),
        ("aiohttp", "proxy-connect"): E(
            "aiohttp.ClientHttpProxyError", "PROXY_REFUSED", "proxy_handshake", "proxy", False, None, 1
        ),
    },
    # The proxy reads the CONNECT (or the absolute-form request), then RST. Through CONNECT urllib3 and
    # requests raise 'Connection aborted.' (it could be the CONNECT or later: wait is a guess, request_sent
    # None); absolute-form ProxyError (urllib3's flag trap: after the request, or the TLS handshake with an
    # HTTPS proxy, so request_sent None). aiohttp retried (2).
    "reset-after-connect": {
        ("http.client", "proxy-absolute"): E("ConnectionResetError", "ECONNRESET", "unknown", "proxy", None, 104, 1),
        ("http.client", "proxy-connect"): E("ConnectionResetError", "ECONNRESET", "unknown", "proxy", None, 104, 1),
        ("urllib3", "proxy-absolute"): E("urllib3.ProxyError", "ECONNRESET", "wait", "proxy", None, 104, 1),
        ("urllib3", "proxy-connect"): E("urllib3.ProtocolError", "ECONNRESET", "wait", "proxy", None, 104, 1),
        ("requests", "proxy-absolute"): E("requests.ProxyError", "ECONNRESET", "wait", "proxy", None, 104, 1),
        ("requests", "proxy-connect"): E("requests.ConnectionError", "ECONNRESET", "wait", "proxy", None, 104, 1),
        ("httpx", "proxy-absolute"): E("httpx.ReadError", "ECONNRESET", "wait", "proxy", None, 104, 1),
        ("httpx", "proxy-connect"): E("httpx.ReadError", "ECONNRESET", "wait", "proxy", None, 104, 1),
        ("httpx-async", "proxy-absolute"): E("httpx.ReadError", "ECONNRESET", "wait", "proxy", None, 104, 1),
        ("httpx-async", "proxy-connect"): E("httpx.ReadError", "ECONNRESET", "wait", "proxy", None, 104, 1),
        ("aiohttp", "proxy-absolute"): E("aiohttp.ClientOSError", "ECONNRESET", "wait", "proxy", None, 104, 2),
        ("aiohttp", "proxy-connect"): E("aiohttp.ClientOSError", "ECONNRESET", "wait", "proxy", None, 104, 2),
    },
    # The proxy reads the request, then FIN: it cannot reach its upstream. An empty reply, the proxy's.
    # aiohttp retried (2 connections).
    "upstream-dead": {
        ("http.client", "proxy-absolute"): E(
            "http.client.RemoteDisconnected", "UNEXPECTED_EOF", "wait", "proxy", None, None, 1
        ),
        ("http.client", "proxy-connect"): E(
            "http.client.RemoteDisconnected", "UNEXPECTED_EOF", "wait", "proxy", None, None, 1
        ),
        ("urllib3", "proxy-absolute"): E("urllib3.ProxyError", "UNEXPECTED_EOF", "wait", "proxy", True, None, 1),
        ("urllib3", "proxy-connect"): E("urllib3.ProtocolError", "UNEXPECTED_EOF", "wait", "proxy", None, None, 1),
        ("requests", "proxy-absolute"): E("requests.ProxyError", "UNEXPECTED_EOF", "wait", "proxy", True, None, 1),
        ("requests", "proxy-connect"): E("requests.ConnectionError", "UNEXPECTED_EOF", "wait", "proxy", None, None, 1),
        ("httpx", "proxy-absolute"): E("httpx.RemoteProtocolError", "UNEXPECTED_EOF", "wait", "proxy", None, None, 1),
        ("httpx", "proxy-connect"): E("httpx.RemoteProtocolError", "UNEXPECTED_EOF", "wait", "proxy", None, None, 1),
        ("httpx-async", "proxy-absolute"): E(
            "httpx.RemoteProtocolError", "UNEXPECTED_EOF", "wait", "proxy", None, None, 1
        ),
        ("httpx-async", "proxy-connect"): E(
            "httpx.RemoteProtocolError", "UNEXPECTED_EOF", "wait", "proxy", None, None, 1
        ),
        ("aiohttp", "proxy-absolute"): E(
            "aiohttp.ServerDisconnectedError", "UNEXPECTED_EOF", "wait", "proxy", None, None, 2
        ),
        ("aiohttp", "proxy-connect"): E(
            "aiohttp.ServerDisconnectedError", "UNEXPECTED_EOF", "wait", "proxy", None, None, 2
        ),
    },
    # Namespace route 'unreachable': connect() fails at once with EHOSTUNREACH. http.client's bare OSError
    # can in principle come later (an ICMP error on a live socket), so its phase is a guess and request_sent
    # None; the libraries raise it as a connect error.
    "host-unreachable": {
        ("http.client", "direct"): E("OSError", "EHOSTUNREACH", "connect", "network", None, 113, None),
        ("urllib3", "direct"): E("urllib3.NewConnectionError", "EHOSTUNREACH", "connect", "network", False, 113, None),
        ("requests", "direct"): E("requests.ConnectionError", "EHOSTUNREACH", "connect", "network", False, 113, None),
        ("httpx", "direct"): E("httpx.ConnectError", "EHOSTUNREACH", "connect", "network", False, 113, None),
        ("httpx-async", "direct"): E("httpx.ConnectError", "EHOSTUNREACH", "connect", "network", False, 113, None),
        ("aiohttp", "direct"): E(
            "aiohttp.ClientConnectorError", "EHOSTUNREACH", "connect", "network", False, 113, None
        ),
    },
    # Namespace route 'throw': ENETUNREACH, like host-unreachable.
    "net-unreachable": {
        ("http.client", "direct"): E("OSError", "ENETUNREACH", "connect", "network", None, 101, None),
        ("urllib3", "direct"): E("urllib3.NewConnectionError", "ENETUNREACH", "connect", "network", False, 101, None),
        ("requests", "direct"): E("requests.ConnectionError", "ENETUNREACH", "connect", "network", False, 101, None),
        ("httpx", "direct"): E("httpx.ConnectError", "ENETUNREACH", "connect", "network", False, 101, None),
        ("httpx-async", "direct"): E("httpx.ConnectError", "ENETUNREACH", "connect", "network", False, 101, None),
        ("aiohttp", "direct"): E("aiohttp.ClientConnectorError", "ENETUNREACH", "connect", "network", False, 101, None),
    },
    # Namespace route 'prohibit': EACCES (13) at connect, a local refusal with no code of its own.
    "route-prohibited": {
        ("http.client", "direct"): E("PermissionError", "UNKNOWN", "unknown", "local", None, 13, None),
        ("urllib3", "direct"): E("urllib3.NewConnectionError", "UNKNOWN", "connect", "local", False, 13, None),
        ("requests", "direct"): E("requests.ConnectionError", "UNKNOWN", "connect", "local", False, 13, None),
        ("httpx", "direct"): E("httpx.ConnectError", "UNKNOWN", "connect", "local", False, 13, None),
        ("httpx-async", "direct"): E("httpx.ConnectError", "UNKNOWN", "connect", "local", False, 13, None),
        ("aiohttp", "direct"): E("aiohttp.ClientConnectorError", "UNKNOWN", "connect", "local", False, 13, None),
    },
    # Namespace route 'blackhole': EINVAL (22) at connect: no code, nobody to blame.
    "route-blackhole": {
        ("http.client", "direct"): E("OSError", "UNKNOWN", "unknown", "unknown", None, 22, None),
        ("urllib3", "direct"): E("urllib3.NewConnectionError", "UNKNOWN", "connect", "unknown", False, 22, None),
        ("requests", "direct"): E("requests.ConnectionError", "UNKNOWN", "connect", "unknown", False, 22, None),
        ("httpx", "direct"): E("httpx.ConnectError", "UNKNOWN", "connect", "unknown", False, 22, None),
        ("httpx-async", "direct"): E("httpx.ConnectError", "UNKNOWN", "connect", "unknown", False, 22, None),
        ("aiohttp", "direct"): E("aiohttp.ClientConnectorError", "UNKNOWN", "connect", "unknown", False, 22, None),
    },
    # SYNs to nowhere; connect timeout 0.5 s. The libraries say connect timeout (network); http.client's
    # TimeoutError('timed out') could also be a read timeout: unknown.
    "syn-dropped": {
        ("http.client", "direct"): E("TimeoutError", "ETIMEDOUT", "unknown", "unknown", None, None, None),
        ("urllib3", "direct"): E("urllib3.ConnectTimeoutError", "ETIMEDOUT", "connect", "network", False, None, None),
        ("requests", "direct"): E("requests.ConnectTimeout", "ETIMEDOUT", "connect", "network", False, None, None),
        ("httpx", "direct"): E("httpx.ConnectTimeout", "ETIMEDOUT", "connect", "network", False, None, None),
        ("httpx-async", "direct"): E("httpx.ConnectTimeout", "ETIMEDOUT", "connect", "network", False, None, None),
        ("aiohttp", "direct"): E(
            "aiohttp.ConnectionTimeoutError", "ETIMEDOUT", "connect", "network", False, None, None
        ),
    },
    # The namespace destroys the client's socket (ss -K) as the request arrives: ECONNABORTED, the local
    # stack's own doing. aiohttp retried the GET and got the same.
    "conn-aborted": {
        ("http.client", "direct"): E("ConnectionAbortedError", "ECONNABORTED", "unknown", "local", None, 103, None),
        ("urllib3", "direct"): E("urllib3.ProtocolError", "ECONNABORTED", "wait", "local", None, 103, None),
        ("requests", "direct"): E("requests.ConnectionError", "ECONNABORTED", "wait", "local", None, 103, None),
        ("httpx", "direct"): E("httpx.ReadError", "ECONNABORTED", "wait", "local", True, 103, None),
        ("httpx-async", "direct"): E("httpx.ReadError", "ECONNABORTED", "wait", "local", True, 103, None),
        ("aiohttp", "direct"): E("aiohttp.ClientOSError", "ECONNABORTED", "wait", "local", None, 103, None),
    },
}

#: (scenario, client, route) -> the expected outcome, or the legal outcomes of a race.
EXPECTED: dict[tuple[str, str, str], Expect | tuple[Expect, ...]] = {
    (row, client, route): value for row, cells in _ROWS.items() for (client, route), value in cells.items()
}
