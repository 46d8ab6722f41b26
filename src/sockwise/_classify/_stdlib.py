"""Tables for the standard library: ``ssl``, ``socket``, ``http.client``, ``urllib``, ``asyncio``, builtins.

Each table is built on first use, by the registry in ``_tables``, when an exception from
that module is classified. Errnos themselves are read from the chain, not matched here
(``_errno``); these rules cover what an errno cannot say: TLS alerts, resolver codes,
empty replies, truncated bodies, client timers and CONNECT refusals.
"""

from __future__ import annotations

import re

from sockwise._classify._rules import (
    AFTER_CONNECT,
    ANY_PHASE,
    BODY_ONLY,
    CONNECTING,
    HEADERS,
    SSL_IO,
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

__all__ = [
    "build_asyncio_table",
    "build_builtins_table",
    "build_http_table",
    "build_socket_table",
    "build_ssl_table",
    "build_urllib_table",
    "tunnel_status",
]

# ---------------------------------------------------------------------------------------------
# ssl

#: OpenSSL reasons for a certificate we rejected.
_CERT_REJECTED = frozenset({"CERTIFICATE_VERIFY_FAILED", "HOSTNAME_MISMATCH", "CERTIFICATE_EXPIRED"})
#: Alerts by which the peer rejected *our* certificate (mutual TLS): a local configuration matter.
_CERT_ALERTS = frozenset(
    {
        "SSLV3_ALERT_BAD_CERTIFICATE",
        "SSLV3_ALERT_CERTIFICATE_EXPIRED",
        "SSLV3_ALERT_CERTIFICATE_REVOKED",
        "SSLV3_ALERT_CERTIFICATE_UNKNOWN",
        "SSLV3_ALERT_UNSUPPORTED_CERTIFICATE",
        "TLSV1_ALERT_UNKNOWN_CA",
        "TLSV13_ALERT_CERTIFICATE_REQUIRED",
    }
)
_EOF_REASON = "UNEXPECTED_EOF_WHILE_READING"


def _reason(exc: BaseException) -> str | None:
    reason = getattr(exc, "reason", None)
    return reason if isinstance(reason, str) else None


def _ssl_error_clue(exc: BaseException) -> Clue:
    reason = _reason(exc)
    if reason in _CERT_REJECTED:
        return Clue(ErrorCode.TLS_CERT, TLS_HANDSHAKE, Phase.TLS, proof=True)
    if reason in _CERT_ALERTS:
        return Clue(ErrorCode.TLS_CERT, TLS_HANDSHAKE, Phase.TLS, proof=True, blame=Blame.LOCAL)
    if reason == _EOF_REASON:
        return Clue(ErrorCode.UNEXPECTED_EOF, SSL_IO, Phase.TLS)
    # WRONG_VERSION_NUMBER (TLS spoken to a plain port), protocol-version alerts, bad records:
    # the "EPROTO" of Node and curl.
    return Clue(ErrorCode.EPROTO, SSL_IO, Phase.TLS)


def build_ssl_table(*, openssl3: bool | None = None) -> Table:
    """The ``ssl`` table.

    Args:
        openssl3: whether the linked OpenSSL is 3.x; read from ``ssl`` when None. It decides
            what an ``SSLEOFError`` without a reason means: OpenSSL 3 reports a clean EOF as
            ``UNEXPECTED_EOF_WHILE_READING``, so a reasonless one is a failed read syscall,
            in practice a RST (CPython before 3.13 lost the errno: gh-115627). OpenSSL 1.1
            used the reasonless form for a plain EOF.

    Returns:
        The table.
    """
    import ssl

    if openssl3 is None:
        openssl3 = ssl.OPENSSL_VERSION_INFO >= (3,)
    reasonless_eof = (
        Clue(ErrorCode.ECONNRESET, SSL_IO, Phase.TLS, note="TLS EOF without a reason: a reset the ssl module hid")
        if openssl3
        else Clue(ErrorCode.UNEXPECTED_EOF, SSL_IO, Phase.TLS)
    )

    def eof_clue(exc: BaseException) -> Clue:
        return reasonless_eof if _reason(exc) is None else Clue(ErrorCode.UNEXPECTED_EOF, SSL_IO, Phase.TLS)

    return Table(
        "ssl",
        (
            Rule(ssl.SSLCertVerificationError, Clue(ErrorCode.TLS_CERT, TLS_HANDSHAKE, Phase.TLS, proof=True)),
            Rule(ssl.SSLEOFError, build=eof_clue),
            Rule(ssl.SSLZeroReturnError, Clue(ErrorCode.UNEXPECTED_EOF, SSL_IO, Phase.WAIT)),
            # Seen in async chains (asyncio's and anyio's TLS layers): the TLS layer was waiting
            # for the peer, so TLS is the best guess when nothing narrower is known.
            Rule(ssl.SSLWantReadError, Clue(None, SSL_IO, Phase.TLS)),
            Rule(ssl.SSLWantWriteError, Clue(None, SSL_IO, Phase.TLS)),
            Rule(ssl.SSLSyscallError, Clue(None, SSL_IO, Phase.TLS)),
            Rule(ssl.SSLError, build=_ssl_error_clue),
        ),
    )


# ---------------------------------------------------------------------------------------------
# socket


def _gai_codes() -> dict[int, tuple[ErrorCode | None, Blame | None]]:
    import socket

    codes: dict[int, tuple[ErrorCode | None, Blame | None]] = {}
    for name, code, blame in (
        ("EAI_NONAME", ErrorCode.EAI_NONAME, None),
        ("EAI_NODATA", ErrorCode.EAI_NONAME, None),  # the name exists but has no address
        ("EAI_ADDRFAMILY", ErrorCode.EAI_NONAME, None),
        ("EAI_AGAIN", ErrorCode.EAI_AGAIN, None),
        ("EAI_FAIL", ErrorCode.EAI_AGAIN, None),  # the resolver failed, not the name
        ("EAI_SYSTEM", None, None),
        ("EAI_MEMORY", None, Blame.LOCAL),
        ("EAI_SERVICE", None, Blame.LOCAL),
        ("EAI_FAMILY", None, Blame.LOCAL),
        ("EAI_SOCKTYPE", None, Blame.LOCAL),
        ("EAI_BADFLAGS", None, Blame.LOCAL),
    ):
        value = getattr(socket, name, None)
        if isinstance(value, int):
            codes.setdefault(value, (code, blame))
    return codes


def build_socket_table() -> Table:
    """The ``socket`` table: resolver errors (``gaierror`` codes are not OS errnos)."""
    import socket

    codes = _gai_codes()
    dns = phase_set(Phase.DNS)

    def gai_clue(exc: BaseException) -> Clue:
        number = exc.args[0] if exc.args else None
        code, blame = codes.get(number, (None, None)) if type(number) is int else (None, None)
        return Clue(code, dns, proof=True, blame=blame)

    return Table(
        "socket",
        (
            Rule(socket.gaierror, build=gai_clue),
            Rule(socket.herror, Clue(None, dns, proof=True)),
        ),
    )


# ---------------------------------------------------------------------------------------------
# http.client

_TUNNEL = re.compile(r"Tunnel connection failed: (\d{3})\b")


def tunnel_status(exc: BaseException) -> int | None:
    """The status of ``http.client``'s ``OSError('Tunnel connection failed: 407 ...')``, or None."""
    if not isinstance(exc, OSError) or exc.errno is not None or len(exc.args) != 1:
        return None
    message = exc.args[0]
    if not isinstance(message, str) or not message.startswith("Tunnel connection failed: "):
        return None
    match = _TUNNEL.match(message)
    return int(match.group(1)) if match else None


def build_http_table() -> Table:
    """The ``http.client`` table."""
    import http.client as hc

    return Table(
        "http.client",
        (
            # Both a ConnectionResetError and a BadStatusLine, with errno None: the server
            # closed (FIN) without a status line. An empty reply, not a reset.
            Rule(hc.RemoteDisconnected, Clue(ErrorCode.UNEXPECTED_EOF, HEADERS, Phase.WAIT)),
            Rule(hc.IncompleteRead, Clue(ErrorCode.UNEXPECTED_EOF, BODY_ONLY, proof=True)),
            Rule(hc.LineTooLong, Clue(ErrorCode.EPROTO, HEADERS | BODY_ONLY, Phase.WAIT)),
            Rule(hc.UnknownProtocol, Clue(ErrorCode.EPROTO, HEADERS, Phase.WAIT)),
            Rule(hc.BadStatusLine, Clue(ErrorCode.EPROTO, HEADERS, Phase.WAIT)),
            Rule(hc.InvalidURL, local_clue()),
            # CannotSendRequest, ResponseNotReady, NotConnected: the connection object misused.
            Rule(hc.ImproperConnectionState, Clue(blame=Blame.LOCAL)),
            Rule(hc.NotConnected, Clue(blame=Blame.LOCAL)),
        ),
    )


# ---------------------------------------------------------------------------------------------
# urllib


def build_urllib_table() -> Table:
    """The ``urllib.error`` table: ``HTTPError`` is a status; ``URLError`` wraps ``.reason``."""
    import urllib.error

    def status_clue(exc: BaseException) -> Clue:
        code = getattr(exc, "code", None)
        return http_status_clue(code if type(code) is int else None)

    return Table("urllib", (Rule(urllib.error.HTTPError, build=status_clue),))


# ---------------------------------------------------------------------------------------------
# asyncio (and concurrent.futures, whose TimeoutError asyncio used before 3.11)


def build_asyncio_table() -> Table:
    """The ``asyncio`` table."""
    import asyncio
    import concurrent.futures

    rules = [
        Rule(asyncio.IncompleteReadError, Clue(ErrorCode.UNEXPECTED_EOF)),
        Rule(asyncio.LimitOverrunError, Clue(ErrorCode.EPROTO)),
        # Our own cancellation, not the network's doing.
        Rule(asyncio.CancelledError, Clue(blame=Blame.LOCAL)),
    ]
    # Before 3.11 these are classes of their own; since, aliases of the builtin TimeoutError.
    builtin_timeout: type[BaseException] = TimeoutError
    candidates: tuple[type[BaseException], ...] = (asyncio.TimeoutError, concurrent.futures.TimeoutError)
    for timeout in candidates:
        if timeout is not builtin_timeout and all(rule.type is not timeout for rule in rules):
            rules.append(Rule(timeout, Clue(ErrorCode.ETIMEDOUT)))
    return Table("asyncio", tuple(rules))


# ---------------------------------------------------------------------------------------------
# builtins


#: The messages of the socket and ssl timers that are not the TLS handshake's.
_NOT_HANDSHAKE_TIMERS = frozenset({"timed out", "The read operation timed out", "The write operation timed out"})
#: The ssl module's timers on an established TLS connection: a read (the CONNECT reply of an
#: HTTPS proxy, headers or body) or a write (the request, or a CONNECT to an HTTPS proxy).
_TLS_READ_TIMER, _TLS_WRITE_TIMER = "The read operation timed out", "The write operation timed out"


def _timeout_clue(exc: BaseException) -> Clue:
    # socket.timeout (errno None) is a client timer; errno 110 comes from the kernel (read
    # from the chain). The socket and ssl modules name the operation whose timer fired:
    # "_ssl.c:989: The handshake operation timed out" is the TLS handshake, the others are not.
    text = exc.args[0] if len(exc.args) == 1 and isinstance(exc.args[0], str) else ""
    if text.endswith("The handshake operation timed out"):
        return Clue(ErrorCode.ETIMEDOUT, TLS_HANDSHAKE, Phase.TLS, proof=True)
    if text == _TLS_READ_TIMER:
        return Clue(ErrorCode.ETIMEDOUT, HEADERS | BODY_ONLY, Phase.WAIT)
    if text == _TLS_WRITE_TIMER:
        return Clue(ErrorCode.ETIMEDOUT, phase_set(Phase.PROXY_HANDSHAKE, Phase.SEND), Phase.SEND)
    if text in _NOT_HANDSHAKE_TIMERS:
        return Clue(ErrorCode.ETIMEDOUT, ANY_PHASE - {Phase.TLS})
    return Clue(ErrorCode.ETIMEDOUT)


def _aborted_clue(exc: BaseException) -> Clue:
    text = exc.args[0] if exc.args and isinstance(exc.args[0], str) else ""
    # asyncio's sslproto gives up a slow handshake with ConnectionAbortedError (no errno).
    if text.startswith("SSL handshake is taking longer than"):
        return Clue(ErrorCode.ETIMEDOUT, TLS_HANDSHAKE, Phase.TLS, proof=True)
    return Clue(ErrorCode.UNEXPECTED_EOF, AFTER_CONNECT)


def _no_errno(exc: BaseException) -> bool:
    return isinstance(exc, OSError) and exc.errno is None


def _tunnel_clue(exc: BaseException) -> Clue:
    status = tunnel_status(exc)
    assert status is not None  # guaranteed by the rule's test
    return proxy_status_clue(status)


def build_builtins_table() -> Table:
    """The builtins table: OSError subclasses that arrive without an errno, and EOFError.

    An OSError with an errno needs no rule: the errno table reads it from the chain.
    """
    errno_less_eof = Clue(ErrorCode.UNEXPECTED_EOF, AFTER_CONNECT)
    return Table(
        "builtins",
        (
            Rule(TimeoutError, build=_timeout_clue),
            Rule(OSError, when=lambda exc: tunnel_status(exc) is not None, build=_tunnel_clue),
            # A kernel reset always carries errno 104. Without one, a library is saying "the
            # connection is gone" (asyncio's 'Connection lost'): a close, not a reset.
            Rule(ConnectionAbortedError, when=_no_errno, build=_aborted_clue),
            Rule(ConnectionResetError, errno_less_eof, when=_no_errno),
            Rule(BrokenPipeError, errno_less_eof, when=_no_errno),
            Rule(ConnectionRefusedError, Clue(ErrorCode.ECONNREFUSED, CONNECTING, Phase.CONNECT), when=_no_errno),
            Rule(EOFError, Clue(ErrorCode.UNEXPECTED_EOF)),
        ),
    )
