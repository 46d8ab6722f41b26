"""Frozen values shared by every layer: what a failure is, and the parts of a route.

Nothing here does I/O, reads a clock or imports a third-party package. The other layers
(classify, retry, pool, runner) pass these values to each other.
"""

from __future__ import annotations

import enum
import hashlib
from dataclasses import dataclass, field

__all__ = ["Attempt", "Blame", "ErrorCode", "Failure", "FailureFields", "Phase", "Proxy"]


class _StrEnum(str, enum.Enum):
    """A str enum that prints as its value (``enum.StrEnum`` needs Python 3.11)."""

    def __str__(self) -> str:
        return str(self.value)


class ErrorCode(_StrEnum):
    """What went wrong, named the way a network engineer would name it.

    The value of each member is its name, so ``ErrorCode("ECONNRESET")`` works and JSON
    output stays readable.
    """

    ECONNRESET = "ECONNRESET"
    ECONNABORTED = "ECONNABORTED"
    ECONNREFUSED = "ECONNREFUSED"
    EPIPE = "EPIPE"
    ETIMEDOUT = "ETIMEDOUT"
    EHOSTUNREACH = "EHOSTUNREACH"
    ENETUNREACH = "ENETUNREACH"
    EPROTO = "EPROTO"
    EAI_NONAME = "EAI_NONAME"
    EAI_AGAIN = "EAI_AGAIN"
    EMFILE = "EMFILE"
    EADDRNOTAVAIL = "EADDRNOTAVAIL"
    UNEXPECTED_EOF = "UNEXPECTED_EOF"
    TLS_CERT = "TLS_CERT"
    PROXY_AUTH = "PROXY_AUTH"
    PROXY_REFUSED = "PROXY_REFUSED"
    HTTP_STATUS = "HTTP_STATUS"
    UNKNOWN = "UNKNOWN"


class Phase(_StrEnum):
    """How far a request got before it failed, in the order a request goes through them."""

    DNS = "dns"
    PROXY_CONNECT = "proxy_connect"
    PROXY_HANDSHAKE = "proxy_handshake"
    CONNECT = "connect"
    TLS = "tls"
    SEND = "send"
    WAIT = "wait"
    BODY = "body"
    UNKNOWN = "unknown"


class Blame(_StrEnum):
    """Whose fault a failure is: it decides what a pool learns from it."""

    LOCAL = "local"
    PROXY = "proxy"
    ORIGIN = "origin"
    NETWORK = "network"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class Failure:
    """One classified failure.

    Attributes:
        code: what went wrong.
        phase: where in the request it went wrong.
        blame: who is responsible (decides whether a proxy's health suffers).
        request_sent: False when no request byte can have left, True once the request
            was written, None when the library hides it.
        errno: an OS errno only (never an ``ssl.SSLError`` code); None when there was none.
            For ETIMEDOUT it tells the kernel's 110 from a client's own timer (None).
        status: the HTTP status, for PROXY_AUTH / PROXY_REFUSED / HTTP_STATUS.
        detail: one line for a person.
        exception: the exception classified, if any (not compared, not in the repr).
    """

    code: ErrorCode
    phase: Phase = Phase.UNKNOWN
    blame: Blame = Blame.UNKNOWN
    request_sent: bool | None = None
    errno: int | None = None
    status: int | None = None
    detail: str = ""
    exception: BaseException | None = field(default=None, compare=False, repr=False)

    def summary(self) -> str:
        """One line: ``ECONNRESET while waiting for headers from origin``."""
        where = _PHASE_WORDS.get(self.phase, "")
        who = f" from {self.blame}" if self.blame not in (Blame.UNKNOWN, Blame.LOCAL) else ""
        text = str(self.code)
        if self.status is not None:
            text += f" {self.status}"
        if where:
            text += f" {where}"
        return text + who


_PHASE_WORDS = {
    Phase.DNS: "while resolving the host name",
    Phase.PROXY_CONNECT: "while connecting to the proxy",
    Phase.PROXY_HANDSHAKE: "during the proxy handshake",
    Phase.CONNECT: "while connecting",
    Phase.TLS: "during the TLS handshake",
    Phase.SEND: "while sending the request",
    Phase.WAIT: "while waiting for headers",
    Phase.BODY: "while reading the body",
}


_PROXY_SCHEMES = ("http", "https", "socks4", "socks5", "socks5h")


@dataclass(frozen=True, slots=True)
class Proxy:
    """A forward proxy. Credentials are part of its identity but never of its repr.

    Attributes:
        scheme: http, https (TLS to the proxy), socks4, socks5 or socks5h.
        host: a host name or an IP address (IPv6 without brackets).
        port: the TCP port.
        username: login, or None.
        password: password, or None; never printed.
    """

    scheme: str
    host: str
    port: int
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    # Computed once: a pool reads a proxy's key several times per request (a sha256 with credentials).
    _key: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.scheme not in _PROXY_SCHEMES:
            raise ValueError(f"unsupported proxy scheme {self.scheme!r}; use one of {', '.join(_PROXY_SCHEMES)}")
        if not 0 < self.port < 65536:
            raise ValueError(f"proxy port {self.port} is out of range 1-65535")
        object.__setattr__(self, "_key", self._make_key())

    @property
    def _hostport(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    @property
    def url(self) -> str:
        """The full URL, credentials included: hand it to a client, never to a log."""
        from urllib.parse import quote

        auth = ""
        if self.username is not None:
            auth = quote(self.username, safe="")
            if self.password is not None:
                auth += ":" + quote(self.password, safe="")
            auth += "@"
        return f"{self.scheme}://{auth}{self._hostport}"

    @property
    def redacted(self) -> str:
        """The URL with the password replaced by ``***``: safe for logs and reports."""
        auth = ""
        if self.username is not None:
            auth = self.username + (":***" if self.password is not None else "") + "@"
        return f"{self.scheme}://{auth}{self._hostport}"

    @property
    def key(self) -> str:
        """A stable identity for stores: two logins on one host:port are two proxies.

        The password enters only as a short hash, so store keys never hold it.
        """
        return self._key

    def _make_key(self) -> str:
        if self.username is None and self.password is None:
            return f"{self.scheme}://{self._hostport}"
        digest = hashlib.sha256(f"{self.username}\0{self.password}".encode()).hexdigest()[:12]
        return f"{self.scheme}://{self.username}#{digest}@{self._hostport}"

    def __str__(self) -> str:
        return self.redacted


class FailureFields:
    """The failure's code, phase, blame and errno read through an outcome that may have none.

    A mixin for frozen records with a ``failure: Failure | None`` field (an Attempt, a check result).
    """

    __slots__ = ()
    failure: Failure | None

    @property
    def code(self) -> ErrorCode | None:
        """The failure's code, or None for a success."""
        return self.failure.code if self.failure else None

    @property
    def phase(self) -> Phase | None:
        """The failure's phase, or None for a success."""
        return self.failure.phase if self.failure else None

    @property
    def blame(self) -> Blame | None:
        """The failure's blame, or None for a success."""
        return self.failure.blame if self.failure else None

    @property
    def errno(self) -> int | None:
        """The failure's OS errno, or None."""
        return self.failure.errno if self.failure else None


@dataclass(frozen=True, slots=True)
class Attempt(FailureFields):
    """The record of one attempt of one request.

    Attributes:
        number: 1 for the first try.
        route: the proxy used (redacted URL) or ``"direct"``.
        failure: the classified failure, or None when the attempt succeeded.
        status: the HTTP status received, if any.
        action: what was decided after it: ``done``, ``retry``, ``switch_route`` or ``give_up``.
        delay: seconds slept before the next attempt.
        elapsed: seconds from the start of the request to the end of this attempt.
    """

    number: int
    route: str
    failure: Failure | None
    status: int | None = None
    action: str = "done"
    delay: float = 0.0
    elapsed: float = 0.0

    @property
    def request_sent(self) -> bool | None:
        """Whether the request may have reached the server (True for a success)."""
        return self.failure.request_sent if self.failure else True
