"""Tables for aiohttp and the SOCKS layers it is used with (aiohttp-socks, python-socks).

aiohttp traps handled here:

- ``ClientConnectorError`` and its subclasses are OSErrors that *copy* the errno of what they
  wrap; for ``ClientConnectorSSLError`` that is an ``SSL_ERROR_*`` code. The chain walk
  reads the wrapped error (``.os_error``) instead.
- ``ClientPayloadError`` (a truncated body) keeps no errno in the chain; aiohttp appends the
  connection error's repr to the message (``... ConnectionResetError(104, 'Connection reset
  by peer')``), and that errno is recovered from there. Without it the body ended with a
  FIN: UNEXPECTED_EOF.
- ``ClientResponseError(400, 'Bad status line')`` is not a response: aiohttp turns a parse
  error (``http_exceptions.HttpProcessingError``, its cause) into one. It is EPROTO with no
  status.
- ``ClientHttpProxyError`` is the CONNECT reply, ``ClientProxyConnectionError`` the connect
  to the proxy. aiohttp raises ``ClientConnectorDNSError`` (not a proxy error) when the
  proxy's own host name does not resolve.
"""

from __future__ import annotations

import re

from sockwise._classify._chain import is_real_errno
from sockwise._classify._rules import (
    AFTER_CONNECT,
    BODY_ONLY,
    HEADERS,
    READING,
    TLS_HANDSHAKE,
    Clue,
    Rule,
    Table,
    http_status_clue,
    local_clue,
    phase_set,
    proxy_status_clue,
)
from sockwise._model import Blame, ErrorCode, Phase

__all__ = ["build_aiohttp_socks_table", "build_aiohttp_table", "build_python_socks_table", "socks_reply_clue"]

# aiohttp's "Response payload is not completed: <...>. ConnectionResetError(104, '...')".
_PAYLOAD_ERRNO = re.compile(r"\. [A-Za-z]*Error\((\d+), ")
#: What aiohttp's connector covers: the TCP connect and TLS (to the origin, or to an HTTPS proxy).
_CONNECTOR = phase_set(Phase.PROXY_CONNECT, Phase.CONNECT, Phase.TLS)
_PLAIN_CONNECTOR = phase_set(Phase.PROXY_CONNECT, Phase.CONNECT)
#: aiohttp's connect timeout: pool wait, resolving, connecting, TLS and the proxy's CONNECT.
_CONNECT_TIMEOUT = phase_set(Phase.DNS, Phase.PROXY_CONNECT, Phase.PROXY_HANDSHAKE, Phase.CONNECT, Phase.TLS)
_HANDSHAKE = phase_set(Phase.PROXY_HANDSHAKE)


def _payload_clue(exc: BaseException) -> Clue:
    text = exc.args[0] if exc.args and isinstance(exc.args[0], str) else ""
    match = _PAYLOAD_ERRNO.search(text)
    number = int(match.group(1)) if match else None
    return Clue(ErrorCode.UNEXPECTED_EOF, BODY_ONLY, proof=True, errno=number if is_real_errno(number) else None)


def _no_tls(exc: BaseException) -> bool:
    # ClientConnectorError keeps the connection key; is_ssl is False for an http:// origin.
    return getattr(getattr(exc, "_conn_key", None), "is_ssl", None) is False


def _tls(exc: BaseException) -> bool:
    return getattr(getattr(exc, "_conn_key", None), "is_ssl", None) is True


def _status_clue(exc: BaseException) -> Clue:
    status = getattr(exc, "status", None)
    return http_status_clue(status if type(status) is int else None)


def _proxy_status_clue(exc: BaseException) -> Clue:
    status = getattr(exc, "status", None)
    if type(status) is int and status:
        return proxy_status_clue(status)
    return Clue(None, _HANDSHAKE, proof=True, proxy=True)


def build_aiohttp_table() -> Table:
    """The aiohttp table."""
    import aiohttp
    import aiohttp.http_exceptions as h

    def parse_failure(exc: BaseException) -> bool:
        return isinstance(exc.__cause__, h.HttpProcessingError)

    timeout = ErrorCode.ETIMEDOUT
    return Table(
        "aiohttp",
        (
            Rule(
                aiohttp.ClientConnectorCertificateError, Clue(ErrorCode.TLS_CERT, TLS_HANDSHAKE, Phase.TLS, proof=True)
            ),
            Rule(aiohttp.ServerFingerprintMismatch, Clue(ErrorCode.TLS_CERT, TLS_HANDSHAKE, Phase.TLS, proof=True)),
            Rule(aiohttp.ClientSSLError, Clue(ErrorCode.EPROTO, TLS_HANDSHAKE, Phase.TLS, proof=True)),
            Rule(aiohttp.ClientConnectorDNSError, Clue(None, phase_set(Phase.DNS), proof=True)),
            Rule(
                aiohttp.ClientProxyConnectionError, Clue(None, phase_set(Phase.PROXY_CONNECT), proof=True, proxy=True)
            ),
            # Without TLS (an http:// origin) the connector's failure is the connect itself: asyncio
            # reads SO_ERROR after connect() completes, so a RST right after the handshake comes out
            # as ConnectionResetError('Connect call failed') - before any request byte.
            Rule(aiohttp.ClientConnectorError, Clue(None, _PLAIN_CONNECTOR, Phase.CONNECT, proof=True), when=_no_tls),
            # With TLS, a reset there is most likely the handshake (a round trip, where the socket
            # setup after connect() takes microseconds).
            Rule(aiohttp.ClientConnectorError, Clue(None, _CONNECTOR, Phase.TLS), when=_tls),
            Rule(aiohttp.ClientConnectorError, Clue(None, _CONNECTOR, Phase.CONNECT)),
            Rule(aiohttp.ClientHttpProxyError, build=_proxy_status_clue),
            Rule(aiohttp.ContentTypeError, Clue(None, BODY_ONLY, proof=True, blame=Blame.ORIGIN)),
            Rule(aiohttp.TooManyRedirects, Clue(None, phase_set(Phase.WAIT), blame=Blame.ORIGIN)),
            Rule(aiohttp.ClientResponseError, Clue(ErrorCode.EPROTO, HEADERS, Phase.WAIT), when=parse_failure),
            Rule(aiohttp.ClientResponseError, build=_status_clue),
            Rule(aiohttp.ClientPayloadError, build=_payload_clue),
            Rule(aiohttp.ServerDisconnectedError, Clue(ErrorCode.UNEXPECTED_EOF, HEADERS, Phase.WAIT)),
            Rule(aiohttp.ConnectionTimeoutError, Clue(timeout, _CONNECT_TIMEOUT, Phase.CONNECT)),
            Rule(aiohttp.SocketTimeoutError, Clue(timeout, READING, Phase.WAIT)),
            Rule(aiohttp.ServerTimeoutError, Clue(timeout)),
            # Writing to a transport that is already closing: the peer is gone.
            Rule(aiohttp.ClientConnectionResetError, Clue(ErrorCode.UNEXPECTED_EOF, AFTER_CONNECT, Phase.SEND)),
            Rule(aiohttp.ClientOSError, Clue(None, AFTER_CONNECT - {Phase.TLS}, Phase.WAIT)),
            Rule(aiohttp.InvalidURL, local_clue()),
            Rule(aiohttp.NonHttpUrlClientError, local_clue()),
            Rule(aiohttp.RedirectClientError, Clue(blame=Blame.ORIGIN)),
            # aiohttp's parser errors, raw or as the cause of the wrappers above.
            Rule(h.ContentLengthError, Clue(ErrorCode.UNEXPECTED_EOF, BODY_ONLY, proof=True)),
            Rule(h.TransferEncodingError, Clue(ErrorCode.UNEXPECTED_EOF, BODY_ONLY, proof=True)),
            Rule(h.ContentEncodingError, Clue(ErrorCode.EPROTO, BODY_ONLY, proof=True)),
            Rule(h.HttpProcessingError, Clue(ErrorCode.EPROTO, HEADERS, Phase.WAIT)),
        ),
    )


# ---------------------------------------------------------------------------------------------
# SOCKS (python-socks, and aiohttp-socks which re-raises python-socks errors as its own)

_SOCKS5_REPLIES = {
    1: "general SOCKS server failure",
    2: "connection not allowed by ruleset",
    3: "network unreachable",
    4: "host unreachable",
    5: "connection refused by destination host",
    6: "TTL expired",
    7: "command not supported",
    8: "address type not supported",
}
_SOCKS4_REJECTED = 0x5B
_SOCKS4_IDENTD = (0x5C, 0x5D)
_SOCKS_AUTH_TEXT = (
    "Username and password authentication failure",
    "No acceptable authentication methods",
    "Invalid authentication response",
)
_MIN_STATUS, _MAX_STATUS = 100, 599


def socks_reply_clue(error_code: object, message: str) -> Clue:
    """The clue for a proxy handshake failure reported by python-socks.

    Args:
        error_code: python-socks' ``error_code``: an HTTP status (CONNECT through an HTTP
            proxy), a SOCKS5 reply (1-8), a SOCKS4 reply (0x5B-0x5D), or None.
        message: the exception's message (names an authentication failure when there is no code).

    Returns:
        PROXY_AUTH for a 407 or a refused login, PROXY_REFUSED for any other refusal,
        EPROTO for a reply that does not parse; always in the proxy handshake.
    """
    if isinstance(error_code, int) and not isinstance(error_code, bool):
        # python-socks hands its reply codes over as IntEnum members (ReplyCode), not plain ints.
        error_code = int(error_code)
        if _MIN_STATUS <= error_code <= _MAX_STATUS:
            return proxy_status_clue(error_code)
        if error_code in _SOCKS4_IDENTD:
            return Clue(
                ErrorCode.PROXY_AUTH, _HANDSHAKE, proof=True, proxy=True, note=f"SOCKS4 reply {error_code:#04x}"
            )
        reply = _SOCKS5_REPLIES.get(error_code)
        note = f"SOCKS5 reply {error_code}: {reply}" if reply else f"SOCKS reply {error_code:#04x}"
        if error_code == _SOCKS4_REJECTED:
            note = "SOCKS4 reply 0x5b: request rejected or failed"
        return Clue(ErrorCode.PROXY_REFUSED, _HANDSHAKE, proof=True, proxy=True, note=note)
    if any(text in message for text in _SOCKS_AUTH_TEXT):
        return Clue(ErrorCode.PROXY_AUTH, _HANDSHAKE, proof=True, proxy=True, note="SOCKS authentication refused")
    # A reply that does not parse (or, with a chained IncompleteReadError, one cut short: the
    # deeper clue says so).
    return Clue(ErrorCode.EPROTO, _HANDSHAKE, proof=True, proxy=True)


def _socks_error_clue(exc: BaseException) -> Clue:
    message = exc.args[0] if exc.args else ""
    return socks_reply_clue(getattr(exc, "error_code", None), message if isinstance(message, str) else str(message))


def _socks_rules(
    connection_error: type[BaseException], timeout_error: type[BaseException], proxy_error: type[BaseException]
) -> tuple[Rule, ...]:
    return (
        Rule(
            timeout_error,
            Clue(
                ErrorCode.ETIMEDOUT,
                phase_set(Phase.PROXY_CONNECT, Phase.PROXY_HANDSHAKE),
                Phase.PROXY_CONNECT,
                proxy=True,
            ),
        ),
        Rule(
            connection_error,
            Clue(None, phase_set(Phase.DNS, Phase.PROXY_CONNECT), Phase.PROXY_CONNECT, proof=True, proxy=True),
        ),
        Rule(proxy_error, build=_socks_error_clue),
    )


def build_python_socks_table() -> Table:
    """The python-socks table."""
    import python_socks

    rules = _socks_rules(python_socks.ProxyConnectionError, python_socks.ProxyTimeoutError, python_socks.ProxyError)
    try:
        from python_socks._errors import IncompleteReadError
    except ImportError:  # a private module: tolerate its move
        return Table("python_socks", rules)
    eof = Clue(ErrorCode.UNEXPECTED_EOF, _HANDSHAKE, proof=True, proxy=True)
    return Table("python_socks", (*rules, Rule(IncompleteReadError, eof)))


def build_aiohttp_socks_table() -> Table:
    """The aiohttp-socks table."""
    import aiohttp_socks

    return Table(
        "aiohttp_socks",
        _socks_rules(aiohttp_socks.ProxyConnectionError, aiohttp_socks.ProxyTimeoutError, aiohttp_socks.ProxyError),
    )
