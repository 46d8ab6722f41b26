"""Tables for httpx and httpcore (httpx re-raises each httpcore exception as its namesake).

- ``ConnectError`` / ``ConnectTimeout`` cover resolving, the TCP connect *and* the TLS
  handshake (httpcore's ``start_tls`` maps there too): a handshake stall is a
  ``ConnectTimeout`` in httpx, where requests says ``ReadTimeout``. The wrapped error narrows
  it: an ``ssl`` error or an errno that only exists after connect means TLS.
- ``ProxyError`` is a CONNECT reply outside 2xx (its message starts with the status) or a
  SOCKS refusal (httpcore's fixed messages).
- ``RemoteProtocolError`` carries no type for what happened, only h11's and httpcore's fixed
  messages: "Server disconnected without sending a response." is an empty reply, "peer
  closed connection without sending complete message body" a truncated body; anything
  else is a malformed response.
"""

from __future__ import annotations

import re
from types import ModuleType

from sockwise._classify._rules import (
    BODY_ONLY,
    CONNECT_STAGE,
    HEADERS,
    READING,
    WRITING,
    Clue,
    Rule,
    Table,
    local_clue,
    phase_set,
    proxy_status_clue,
    raised_status_clue,
)
from sockwise._model import Blame, ErrorCode, Phase

__all__ = ["build_httpcore_table", "build_httpx_table"]

_STATUS = re.compile(r"(\d{3})\b")
_HANDSHAKE = phase_set(Phase.PROXY_HANDSHAKE)
_SOCKS_AUTH = ("Invalid username/password", "Requested ")


def _message(exc: BaseException) -> str:
    # httpx passes the message; httpcore passes the wrapped exception (h11's), whose str it is.
    return str(exc)


def _proxy_error_clue(exc: BaseException) -> Clue:
    text = _message(exc)
    match = _STATUS.match(text)
    if match:
        return proxy_status_clue(int(match.group(1)))
    if text.startswith(_SOCKS_AUTH):
        return Clue(ErrorCode.PROXY_AUTH, _HANDSHAKE, proof=True, proxy=True, note="SOCKS authentication refused")
    if text.startswith("Proxy Server could not connect"):
        return Clue(ErrorCode.PROXY_REFUSED, _HANDSHAKE, proof=True, proxy=True)
    return Clue(None, _HANDSHAKE, proof=True, proxy=True)


def _remote_protocol_clue(exc: BaseException) -> Clue:
    text = _message(exc)
    if text.startswith("Server disconnected without sending a response"):
        return Clue(ErrorCode.UNEXPECTED_EOF, HEADERS, Phase.WAIT)
    if text.startswith("peer closed connection without sending complete message body"):
        return Clue(ErrorCode.UNEXPECTED_EOF, BODY_ONLY, proof=True)
    return Clue(ErrorCode.EPROTO, READING, Phase.WAIT)


def _rules(m: ModuleType) -> list[Rule]:
    """The rows httpx and httpcore share: same class names, same meaning."""
    timeout = ErrorCode.ETIMEDOUT
    return [
        Rule(m.ProxyError, build=_proxy_error_clue),
        Rule(m.ConnectTimeout, Clue(timeout, CONNECT_STAGE, Phase.CONNECT)),
        Rule(m.ReadTimeout, Clue(timeout, READING, Phase.WAIT)),
        Rule(m.WriteTimeout, Clue(timeout, WRITING, Phase.SEND)),
        # Waiting for a free connection in our own pool: nothing was sent, nobody remote is slow.
        Rule(m.PoolTimeout, Clue(timeout, sent=False, blame=Blame.LOCAL)),
        Rule(m.TimeoutException, Clue(timeout)),
        Rule(m.ConnectError, Clue(None, CONNECT_STAGE, Phase.CONNECT)),
        Rule(m.ReadError, Clue(None, READING, Phase.WAIT)),
        Rule(m.WriteError, Clue(None, WRITING, Phase.SEND)),
        Rule(m.RemoteProtocolError, build=_remote_protocol_clue),
        Rule(m.LocalProtocolError, Clue(blame=Blame.LOCAL)),
        Rule(m.UnsupportedProtocol, local_clue()),
    ]


def build_httpcore_table() -> Table:
    """The httpcore table."""
    import httpcore

    return Table("httpcore", tuple(_rules(httpcore)))


def build_httpx_table() -> Table:
    """The httpx table."""
    import httpx

    return Table(
        "httpx",
        (
            *_rules(httpx),
            Rule(httpx.DecodingError, Clue(ErrorCode.EPROTO, BODY_ONLY, proof=True)),
            Rule(httpx.TooManyRedirects, Clue(None, phase_set(Phase.WAIT), blame=Blame.ORIGIN)),
            Rule(httpx.HTTPStatusError, build=raised_status_clue),
            Rule(httpx.InvalidURL, local_clue()),
        ),
    )
