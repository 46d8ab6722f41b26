"""The vocabulary of the classification tables: clues, rules and the phase sets they use.

A *clue* is what one exception in a chain says about a failure: a code, the phases it can
have happened in, whether it proves the proxy hop was involved, a status. A *rule* maps an
exception type (and, when the type alone is not enough, a test of the instance) to a clue.
A *table* is one library's rules, most specific first; ``tests/classify`` checks that no
rule is shadowed by an earlier, broader one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sockwise._model import Blame, ErrorCode, Phase

__all__ = [
    "AFTER_CONNECT",
    "ANY_PHASE",
    "BODY_ONLY",
    "CONNECTING",
    "CONNECT_STAGE",
    "EMPTY",
    "HEADERS",
    "PHASE_ORDER",
    "PROXY_PHASES",
    "READING",
    "SSL_IO",
    "TLS_HANDSHAKE",
    "WRITING",
    "Clue",
    "Rule",
    "Table",
    "http_status_clue",
    "local_clue",
    "phase_set",
    "proxy_status_clue",
    "raised_status_clue",
]


def phase_set(*phases: Phase) -> frozenset[Phase]:
    """A frozen set of phases (shorthand for the tables)."""
    return frozenset(phases)


#: Every real phase, in request order (UNKNOWN is the absence of a phase, not a member).
PHASE_ORDER: tuple[Phase, ...] = (
    Phase.DNS,
    Phase.PROXY_CONNECT,
    Phase.PROXY_HANDSHAKE,
    Phase.CONNECT,
    Phase.TLS,
    Phase.SEND,
    Phase.WAIT,
    Phase.BODY,
)
ANY_PHASE = frozenset(PHASE_ORDER)
PROXY_PHASES = phase_set(Phase.PROXY_CONNECT, Phase.PROXY_HANDSHAKE)
#: A TCP connect: to the origin, or (through a proxy) to the proxy.
CONNECTING = phase_set(Phase.PROXY_CONNECT, Phase.CONNECT)
#: Everything a library calls "connecting": resolving, the TCP connect, the TLS handshake.
CONNECT_STAGE = phase_set(Phase.DNS, Phase.PROXY_CONNECT, Phase.CONNECT, Phase.TLS)
#: Anything after a TCP connection exists (a kernel RST can only arrive then).
AFTER_CONNECT = phase_set(Phase.PROXY_HANDSHAKE, Phase.TLS, Phase.SEND, Phase.WAIT, Phase.BODY)
#: A TLS handshake: with the origin, or with an HTTPS proxy (counted as connecting to it).
TLS_HANDSHAKE = phase_set(Phase.PROXY_CONNECT, Phase.TLS)
#: Where an ``ssl`` error can come from: a handshake, or a read of TLS records.
SSL_IO = phase_set(Phase.PROXY_CONNECT, Phase.TLS, Phase.WAIT, Phase.BODY)
#: Reading a status line and headers: the origin's, or the proxy's CONNECT reply.
HEADERS = phase_set(Phase.PROXY_HANDSHAKE, Phase.WAIT)
#: Any read once connected (a library that does not say whether headers or body).
READING = phase_set(Phase.PROXY_HANDSHAKE, Phase.WAIT, Phase.BODY)
#: Any write once connected.
WRITING = phase_set(Phase.PROXY_HANDSHAKE, Phase.SEND)
BODY_ONLY = phase_set(Phase.BODY)


@dataclass(frozen=True, slots=True)
class Clue:
    """What one exception in a chain says about the failure.

    Attributes:
        code: the failure code it implies, or None when it says nothing about the cause.
        phases: the phases it can have happened in, or None when it does not say.
        guess: the most likely phase when ``phases`` has several and nothing narrows it.
        proof: True when ``phases`` is certain (the library raises it nowhere else); a
            proof overrides a caller's phase hint that contradicts it.
        proxy: True when it proves the failure happened while talking to a proxy.
        status: an HTTP status it carries (a CONNECT reply, a response).
        sent: an explicit request_sent, when the phase alone does not decide it.
        errno: an OS errno the library dropped from the chain but kept in its message.
        blame: an explicit blame, when the code and phase alone do not decide it.
        note: extra words for the detail line (a SOCKS reply, say).
    """

    code: ErrorCode | None = None
    phases: frozenset[Phase] | None = None
    guess: Phase | None = None
    proof: bool = False
    proxy: bool = False
    status: int | None = None
    sent: bool | None = None
    errno: int | None = None
    blame: Blame | None = None
    note: str = ""


#: No information: returned by a rule that recognises an exception only to stop the search.
EMPTY = Clue()


@dataclass(frozen=True, slots=True)
class Rule:
    """One row of a table: an exception type, an optional test, and the clue it yields.

    Attributes:
        type: the exception class matched with ``isinstance``.
        clue: the clue for a match (used as-is unless ``build`` is given).
        when: a test of the instance; the rule matches only when it returns True.
        build: computes the clue from the instance (a status, a parsed message).
    """

    type: type[BaseException]
    clue: Clue = EMPTY
    when: Callable[[BaseException], bool] | None = None
    build: Callable[[BaseException], Clue] | None = None

    def match(self, exc: BaseException) -> Clue | None:
        """The clue for ``exc``, or None when this rule does not apply."""
        if not isinstance(exc, self.type):
            return None
        if self.when is not None and not self.when(exc):
            return None
        return self.build(exc) if self.build is not None else self.clue


@dataclass(frozen=True, slots=True)
class Table:
    """One library's rules, most specific first: the first matching rule wins.

    Attributes:
        name: the library, for messages and tests.
        rules: the rows, most specific first.
    """

    name: str
    rules: tuple[Rule, ...]

    def match(self, exc: BaseException) -> Clue | None:
        """The clue of the first rule matching ``exc``, or None."""
        for rule in self.rules:
            clue = rule.match(exc)
            if clue is not None:
                return clue
        return None


_PROXY_AUTH_STATUS = 407


def proxy_status_clue(status: int, note: str = "") -> Clue:
    """The clue for a proxy's refusal to open a tunnel: 407 is PROXY_AUTH, others PROXY_REFUSED."""
    code = ErrorCode.PROXY_AUTH if status == _PROXY_AUTH_STATUS else ErrorCode.PROXY_REFUSED
    return Clue(code, phase_set(Phase.PROXY_HANDSHAKE), proof=True, proxy=True, status=status, note=note)


def http_status_clue(status: int | None) -> Clue:
    """The clue for a response whose status the caller treats as a failure (``raise_for_status``)."""
    return Clue(
        ErrorCode.HTTP_STATUS if status else None,
        phase_set(Phase.WAIT, Phase.BODY),
        Phase.WAIT,
        proof=True,
        status=status or None,
    )


def raised_status_clue(exc: BaseException) -> Clue:
    """The clue for a ``raise_for_status()`` error: the status of its ``.response`` (requests, httpx)."""
    response = getattr(exc, "response", None)
    status = getattr(response, "status_code", None)
    return http_status_clue(status if type(status) is int else None)


def local_clue(code: ErrorCode | None = None) -> Clue:
    """The clue for bad local input or misuse (an invalid URL, an unsupported scheme): nothing was sent."""
    return Clue(code, sent=False, blame=Blame.LOCAL)
