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
#: httpx's connect stage for an http:// URL: no TLS with the origin (TLS to an HTTPS proxy is proxy_connect).
_PLAIN_CONNECT_STAGE = phase_set(Phase.DNS, Phase.PROXY_CONNECT, Phase.CONNECT)


def _scheme(exc: BaseException) -> str | None:
    # httpx exceptions carry the request; httpcore's do not. ``.request`` raises when unset.
    try:
        request = exc.request  # type: ignore[attr-defined]
    except RuntimeError:
        return None
    scheme = getattr(getattr(request, "url", None), "scheme", None)
    return scheme if isinstance(scheme, str) else None


def _plain_http(exc: BaseException) -> bool:
    return _scheme(exc) == "http"


def _https(exc: BaseException) -> bool:
    return _scheme(exc) == "https"


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


def _rules(m: ModuleType, connect_guess: Phase | None = Phase.CONNECT) -> list[Rule]:
    """The rows httpx and httpcore share: same class names, same meaning.

    ``connect_guess`` is ConnectError's best guess. httpcore's has none: under httpx (which
    knows the URL's scheme, so whether a TLS handshake was part of connecting) the deeper
    httpcore guess would otherwise win over httpx's better one.
    """
    timeout = ErrorCode.ETIMEDOUT
    return [
        Rule(m.ProxyError, build=_proxy_error_clue),
        Rule(m.ConnectTimeout, Clue(timeout, CONNECT_STAGE, Phase.CONNECT)),
        Rule(m.ReadTimeout, Clue(timeout, READING, Phase.WAIT)),
        Rule(m.WriteTimeout, Clue(timeout, WRITING, Phase.SEND)),
        # Waiting for a free connection in our own pool: nothing was sent, nobody remote is slow.
        Rule(m.PoolTimeout, Clue(timeout, sent=False, blame=Blame.LOCAL)),
        Rule(m.TimeoutException, Clue(timeout)),
        Rule(m.ConnectError, Clue(None, CONNECT_STAGE, connect_guess)),
        Rule(m.ReadError, Clue(None, READING, Phase.WAIT)),
        Rule(m.WriteError, Clue(None, WRITING, Phase.SEND)),
        Rule(m.RemoteProtocolError, build=_remote_protocol_clue),
        Rule(m.LocalProtocolError, Clue(blame=Blame.LOCAL)),
        Rule(m.UnsupportedProtocol, local_clue()),
    ]


def build_httpcore_table() -> Table:
    """The httpcore table."""
    import httpcore

    return Table("httpcore", tuple(_rules(httpcore, connect_guess=None)))


def build_httpx_table() -> Table:
    """The httpx table."""
    import httpx

    return Table(
        "httpx",
        (
            # An http:// URL has no TLS with the origin, so a reset in httpx's connect stage
            # (httpcore's setsockopt right after connect() meets a RST that already arrived)
            # is the connect, not TLS: the request never left.
            Rule(httpx.ConnectError, Clue(None, _PLAIN_CONNECT_STAGE, Phase.CONNECT, proof=True), when=_plain_http),
            # For an https:// URL a reset in the connect stage is most likely the TLS handshake (the
            # socket setup right after connect() takes microseconds, the handshake a round trip).
            Rule(httpx.ConnectError, Clue(None, CONNECT_STAGE, Phase.TLS), when=_https),
            *_rules(httpx),
            Rule(httpx.DecodingError, Clue(ErrorCode.EPROTO, BODY_ONLY, proof=True)),
            Rule(httpx.TooManyRedirects, Clue(None, phase_set(Phase.WAIT), blame=Blame.ORIGIN)),
            Rule(httpx.HTTPStatusError, build=raised_status_clue),
            Rule(httpx.InvalidURL, local_clue()),
        ),
    )
