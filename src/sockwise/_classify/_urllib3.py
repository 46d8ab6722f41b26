"""Tables for urllib3 and requests (which wraps urllib3's exceptions in its own).

urllib3 traps handled here:

- ``NewConnectionError`` subclasses ``ConnectTimeoutError``: a refused connection is not a
  timeout, so it comes first and brings no code (the errno decides).
- ``ProxyError('Unable to connect to proxy', err)`` wraps anything that failed while the
  connection's "connected to the proxy" flag was down. That is before the proxy connection was
  up, and also whenever ``http.client`` closed the connection, which resets the flag: on a
  CONNECT refusal, and on any ``ConnectionError`` from ``getresponse()`` - an empty reply or a
  reset *after the request was sent* through a working tunnel or forwarding proxy. The wrapped
  error tells which (measured with urllib3 2.8 on the lab: a reset or an empty reply from the
  origin through a CONNECT tunnel arrives as ``ProxyError``, while a reset during the CONNECT
  exchange itself arrives as ``ProtocolError('Connection aborted.')``).
- ``ProtocolError`` says where by its fixed first argument: ``'Connection aborted.'`` from
  ``urlopen`` (TLS, send or wait: hidden), ``'Connection broken: ...'`` and ``'Response ended
  prematurely'`` while streaming the body.
- requests reports a read timeout *while streaming the body* as ``ConnectionError`` wrapping
  urllib3's ``ReadTimeoutError``; its own ``ReadTimeout`` covers the TLS handshake (the ssl
  module's handshake timer) and the wait for headers.
"""

from __future__ import annotations

import re

from sockwise._classify._rules import (
    BODY_ONLY,
    SSL_IO,
    Clue,
    Rule,
    Table,
    http_status_clue,
    local_clue,
    phase_set,
    raised_status_clue,
)
from sockwise._model import Blame, ErrorCode, Phase

__all__ = ["build_requests_table", "build_urllib3_table"]

#: Before the proxy connection was up: resolving or connecting to it, TLS to it, CONNECT.
_PROXY_HOP = phase_set(Phase.DNS, Phase.PROXY_CONNECT, Phase.PROXY_HANDSHAKE)
#: urlopen's "Connection aborted.": after connect, up to the response headers.
_ABORTED = phase_set(Phase.PROXY_HANDSHAKE, Phase.TLS, Phase.SEND, Phase.WAIT)
#: urllib3's read timeout: CONNECT reply, TLS handshake (validate_conn), headers or body.
_READ_TIMEOUT = phase_set(Phase.PROXY_CONNECT, Phase.PROXY_HANDSHAKE, Phase.TLS, Phase.WAIT, Phase.BODY)
_CONNECT = phase_set(Phase.CONNECT)
#: What urllib3 wraps in ProxyError once http.client closed the connection in getresponse().
_AFTER_REQUEST = phase_set(Phase.WAIT)
_RESPONSE_ERROR = re.compile(r"too many (\d{3}) error responses")


def _first_arg(exc: BaseException) -> str:
    return exc.args[0] if exc.args and isinstance(exc.args[0], str) else ""


def _protocol_error_clue(exc: BaseException) -> Clue:
    text = _first_arg(exc)
    if text.startswith("Connection aborted."):
        return Clue(None, _ABORTED, Phase.WAIT)
    if text.startswith(("Connection broken", "Response may not contain content")):
        return Clue(None, BODY_ONLY, proof=True)
    if text.startswith("Response ended prematurely"):
        return Clue(ErrorCode.UNEXPECTED_EOF, BODY_ONLY, proof=True)
    if text.startswith("Response chunk"):
        return Clue(ErrorCode.EPROTO, BODY_ONLY, proof=True)
    return Clue()


def _proxy_error_clue(exc: BaseException) -> Clue:
    import http.client

    wrapped = exc.args[1] if len(exc.args) > 1 and isinstance(exc.args[1], BaseException) else exc.__cause__
    if isinstance(wrapped, http.client.RemoteDisconnected):
        # Only getresponse() raises it under ProxyError (a CONNECT reply cut short is a
        # ProtocolError): the request was written, the response never came.
        return Clue(None, _AFTER_REQUEST, Phase.WAIT, proxy=True)
    if isinstance(wrapped, ConnectionError) and wrapped.errno is not None:
        # getresponse() again, or the TLS handshake with an HTTPS proxy.
        return Clue(None, _AFTER_REQUEST | {Phase.PROXY_CONNECT}, Phase.WAIT, proxy=True)
    return Clue(None, _PROXY_HOP, Phase.PROXY_CONNECT, proxy=True)


def _response_error_clue(exc: BaseException) -> Clue:
    match = _RESPONSE_ERROR.search(_first_arg(exc))
    return http_status_clue(int(match.group(1)) if match else None)


def build_urllib3_table() -> Table:
    """The urllib3 table."""
    import urllib3.exceptions as u

    timeout = Clue(ErrorCode.ETIMEDOUT)
    return Table(
        "urllib3",
        (
            Rule(u.NameResolutionError, Clue(None, phase_set(Phase.DNS), proof=True)),
            # Before ConnectTimeoutError, its base class: refused is not a timeout.
            Rule(u.NewConnectionError, Clue(None, _CONNECT, proof=True)),
            Rule(u.ConnectTimeoutError, Clue(ErrorCode.ETIMEDOUT, _CONNECT, proof=True)),
            Rule(u.ReadTimeoutError, Clue(ErrorCode.ETIMEDOUT, _READ_TIMEOUT, Phase.WAIT)),
            Rule(u.TimeoutError, timeout),
            Rule(u.ProxyError, build=_proxy_error_clue),
            Rule(u.SSLError, Clue(ErrorCode.EPROTO, SSL_IO, Phase.TLS)),
            Rule(u.IncompleteRead, Clue(ErrorCode.UNEXPECTED_EOF, BODY_ONLY, proof=True)),
            Rule(u.InvalidChunkLength, Clue(ErrorCode.EPROTO, BODY_ONLY, proof=True)),
            Rule(u.ProtocolError, build=_protocol_error_clue),
            Rule(u.ResponseError, build=_response_error_clue),
            Rule(u.DecodeError, Clue(ErrorCode.EPROTO, BODY_ONLY, proof=True)),
            Rule(u.HeaderParsingError, Clue(ErrorCode.EPROTO, phase_set(Phase.WAIT), proof=True)),
            Rule(u.LocationValueError, local_clue()),
            Rule(u.ProxySchemeUnsupported, local_clue()),
            # The pool is full or closed: nothing left this process.
            Rule(u.PoolError, local_clue(), when=lambda exc: not isinstance(exc, u.RequestError)),
        ),
    )


def build_requests_table() -> Table:
    """The requests table (its exceptions wrap urllib3's, read by the urllib3 table)."""
    import requests.exceptions as r
    import urllib3.exceptions as u

    def streaming_read_timeout(exc: BaseException) -> bool:
        # adapters.send turns ReadTimeoutError into ReadTimeout; only iter_content wraps it
        # in ConnectionError, while streaming the body.
        return bool(exc.args) and isinstance(exc.args[0], u.ReadTimeoutError)

    return Table(
        "requests",
        (
            Rule(r.ConnectTimeout, Clue(ErrorCode.ETIMEDOUT, _CONNECT, proof=True)),
            # Always wraps urllib3's ProxyError (MaxRetryError.reason), whose clue says where.
            Rule(r.ProxyError, Clue(None, proxy=True)),
            Rule(r.ConnectionError, Clue(ErrorCode.ETIMEDOUT, BODY_ONLY, proof=True), when=streaming_read_timeout),
            Rule(r.ReadTimeout, Clue(ErrorCode.ETIMEDOUT, _READ_TIMEOUT - BODY_ONLY, Phase.WAIT)),
            Rule(r.Timeout, Clue(ErrorCode.ETIMEDOUT)),
            Rule(r.ChunkedEncodingError, Clue(ErrorCode.UNEXPECTED_EOF, BODY_ONLY, proof=True)),
            Rule(r.ContentDecodingError, Clue(ErrorCode.EPROTO, BODY_ONLY, proof=True)),
            Rule(r.TooManyRedirects, Clue(None, phase_set(Phase.WAIT), blame=Blame.ORIGIN)),
            Rule(r.InvalidProxyURL, local_clue()),
            Rule(r.InvalidURL, local_clue()),
            Rule(r.MissingSchema, local_clue()),
            Rule(r.InvalidSchema, local_clue()),
            Rule(r.InvalidHeader, local_clue()),
            Rule(r.URLRequired, local_clue()),
            Rule(r.HTTPError, build=raised_status_clue),
        ),
    )
