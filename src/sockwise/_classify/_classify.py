"""Exception (plus what the call site knows) → Failure. Pure: no I/O, no clock, no imports of clients.

How a Failure is put together from the chain (``_chain``) and the tables (``_tables``):

1. Every exception in the chain that a table recognises gives a clue; the deepest OS errno
   in the chain gives one more (``_errno``).
2. **code**: the first clue (outermost first) with a *decisive* code — a proxy refusal, a
   certificate rejection, a resolver code, an HTTP status, a timeout — else the errno's
   code, else the code of the deepest clue that has one (the root cause is the most
   specific), else UNKNOWN.
3. **phase**: each clue narrows the set of possible phases; a clue marked ``proof`` is
   certain. The caller's hint wins unless a proof excludes it (see :func:`classify`).
   Without a hint: the one phase left, or the outermost clue's best guess, or UNKNOWN.
4. **request_sent** follows from the phase when it is certain (or from every phase still
   possible, when they agree); otherwise None.
5. **blame** follows from code, phase and whether a proxy was involved (see :func:`classify`).
"""

from __future__ import annotations

import errno as errno_module
from http import HTTPStatus

from sockwise._classify._chain import deepest_errno, links
from sockwise._classify._errno import errno_clue
from sockwise._classify._redact import redact_credentials
from sockwise._classify._rules import ANY_PHASE, PHASE_ORDER, PROXY_PHASES, Clue
from sockwise._classify._tables import clue_for
from sockwise._model import Blame, ErrorCode, Failure, Phase

__all__ = ["classify", "classify_status"]

#: Codes that decide the outcome whatever errno lies deeper in the chain.
_DECISIVE = frozenset(
    {
        ErrorCode.PROXY_AUTH,
        ErrorCode.PROXY_REFUSED,
        ErrorCode.TLS_CERT,
        ErrorCode.EAI_NONAME,
        ErrorCode.EAI_AGAIN,
        ErrorCode.HTTP_STATUS,
        ErrorCode.ETIMEDOUT,
    }
)
#: Whether the request can have left, by phase. SEND: some bytes may have, the whole maybe not.
_SENT: dict[Phase, bool | None] = {
    Phase.DNS: False,
    Phase.PROXY_CONNECT: False,
    Phase.PROXY_HANDSHAKE: False,
    Phase.CONNECT: False,
    Phase.TLS: False,
    Phase.SEND: None,
    Phase.WAIT: True,
    Phase.BODY: True,
    Phase.UNKNOWN: None,
}
_INDEX = {phase: index for index, phase in enumerate(PHASE_ORDER)}
_DIRECT_PHASES = ANY_PHASE - PROXY_PHASES
#: Through a proxy, an empty reply or a reset before the response is the proxy hop's doing:
#: a proxy that cannot reach (or loses) its upstream closes or resets the client's side.
_PROXY_DROPS = frozenset({ErrorCode.ECONNRESET, ErrorCode.UNEXPECTED_EOF, ErrorCode.EPIPE})
_BEFORE_RESPONSE = frozenset({Phase.TLS, Phase.SEND, Phase.WAIT, Phase.UNKNOWN})
_BEFORE_ANSWER = frozenset({Phase.SEND, Phase.WAIT})
_ORIGIN_CODES = frozenset(
    {
        ErrorCode.ECONNREFUSED,
        ErrorCode.ECONNRESET,
        ErrorCode.UNEXPECTED_EOF,
        ErrorCode.EPIPE,
        ErrorCode.EPROTO,
        ErrorCode.TLS_CERT,
        ErrorCode.HTTP_STATUS,
    }
)
_NETWORK_CODES = frozenset({ErrorCode.EHOSTUNREACH, ErrorCode.ENETUNREACH})
_LOCAL_CODES = frozenset({ErrorCode.EMFILE, ErrorCode.EADDRNOTAVAIL, ErrorCode.ECONNABORTED})
_PROXY_AUTH_STATUS = 407
_DETAIL_LIMIT = 300
_DEEPEST = 1 << 30


def classify(
    exc: BaseException,
    *,
    phase: Phase | None = None,
    status: int | None = None,
    via_proxy: bool = False,
) -> Failure:
    """Classify a failed attempt: what went wrong, where, whose fault, and whether the request left.

    Pure: no I/O, no clock, never imports an HTTP client (a library's table is read only for
    exceptions of that library), never raises.

    **Phase.** ``phase`` is the hint of the code that did the I/O and wins over anything
    inferred, except where the exception proves otherwise: a CONNECT/SOCKS refusal proves the
    proxy handshake; a resolver error proves DNS; a truncated body (``IncompleteRead``,
    ``ChunkedEncodingError``, ``ClientPayloadError``, ...) proves the body; a certificate
    rejection or the ssl module's handshake timer proves the TLS handshake; ECONNREFUSED and
    EADDRNOTAVAIL prove a connect, EPIPE an established connection, and ECONNRESET a
    connection at least being made (a connect with a timeout can return it). A rejected hint
    is replaced by the nearest phase the exception allows. Through a proxy the only TCP
    connect is to the proxy, so a ``connect`` hint becomes ``proxy_connect``.

    **Blame.** EMFILE, EADDRNOTAVAIL, ECONNABORTED (Linux's own abort) and bad local input are
    ``local``. Anything while talking to the proxy (``proxy_connect``, ``proxy_handshake``:
    connect, CONNECT/SOCKS, proxy auth) is ``proxy``. Through a proxy, a reset or an empty
    reply before the response (TLS, send, wait), and a TLS-handshake timeout, are also the
    proxy's: a proxy that cannot reach its upstream shows exactly that. Otherwise:
    unreachable host or network, a timeout at connect and a kernel timeout (errno 110) are
    ``network``; refusals, resets, empty replies, protocol and certificate errors, statuses
    and client-timer timeouts after connect are ``origin``. DNS: through a proxy whose own
    host name failed, ``proxy``; direct, EAI_NONAME (the name does not exist) is the
    ``origin``'s and EAI_AGAIN (the resolver could not answer) or a resolver timeout the
    ``network``'s; when a proxy was used but the name that failed is unknown, ``unknown``.
    Through a proxy, ``origin`` (which tells a pool the proxy hop worked) needs the proxy
    handshake provably behind: while the phase is a guess that may be the proxy handshake's (a
    read timer, a bad status line), it is ``unknown``.
    A 407 response through a forwarding proxy is the proxy's PROXY_AUTH.

    **errno** is an OS errno only (never an ``ssl`` or resolver code), and only when it stands
    for the code: for ETIMEDOUT it is 110 when the kernel gave up and None for a client timer.

    Args:
        exc: the exception the client raised.
        phase: where the call site was when it failed, if it knows.
        status: an HTTP status the call site saw (the response's; with ``phase=proxy_handshake``
            the CONNECT reply's). Kept on the Failure when the exception carries none.
        via_proxy: True when the attempt went through a proxy.

    Returns:
        The Failure; ``exception`` is ``exc``.
    """
    chain = links(exc)
    clues: list[tuple[Clue, int]] = []
    for node, depth in chain:
        try:
            clue = clue_for(node)
        except Exception:  # a foreign exception whose attributes misbehave: no clue from it
            clue = None
        if clue is not None:
            clues.append((clue, depth))

    errno = deepest_errno(chain)
    if errno is None:
        errno = next((clue.errno for clue, _ in clues if clue.errno is not None), None)
    from_errno = errno_clue(errno)

    hint = None if phase is Phase.UNKNOWN else phase
    proxy_hop = any(clue.proxy for clue, _ in clues)
    proxied = via_proxy or proxy_hop or hint in PROXY_PHASES
    if proxied and hint is Phase.CONNECT:
        hint = Phase.PROXY_CONNECT

    code, decisive = _pick_code(clues, from_errno)
    found_status = next((clue.status for clue, _ in clues if clue.status is not None), None)
    final_status = found_status if found_status is not None else status
    if code is ErrorCode.UNKNOWN and hint is Phase.PROXY_HANDSHAKE and final_status is not None:
        code = _connect_reply_code(final_status)

    ordered = [clue for clue, _ in clues]
    resolved, certain, possible = _pick_phase(clues, from_errno, hint, proxied)

    sent = next((clue.sent for clue in ordered if clue.sent is not None), None)
    if sent is None:
        sent = _request_sent(resolved, certain, possible)

    if code is ErrorCode.HTTP_STATUS and final_status == _PROXY_AUTH_STATUS and proxied:
        # A forwarding proxy answering the request itself: the origin never saw it.
        code, sent = ErrorCode.PROXY_AUTH, False

    # A clue's own blame counts only for the code it stands for: the LOCAL of a cancellation
    # does not carry over to the timeout that caused it.
    evidence = [*ordered, from_errno] if from_errno is not None else ordered
    explicit_blame = next(
        (
            clue.blame
            for clue in evidence
            if clue.blame is not None and (clue.code is code or (clue.code is None and code is ErrorCode.UNKNOWN))
        ),
        None,
    )
    blame = explicit_blame or _blame(
        code,
        resolved,
        proxied=proxied,
        proxy_dns=proxy_hop or hint is Phase.PROXY_CONNECT,
        kernel_timeout=errno == errno_module.ETIMEDOUT,
    )
    if (
        explicit_blame is None
        and blame is Blame.ORIGIN
        and proxied
        and not certain
        and Phase.PROXY_HANDSHAKE in possible
    ):
        # ORIGIN through a proxy says the proxy hop worked (a pool counts it as the proxy's
        # success), so it needs the proxy's handshake provably behind. A read timer or a bad
        # status line that may as well be the CONNECT reply's (a blackhole proxy) says nobody.
        blame = Blame.UNKNOWN

    errno_out = errno
    if decisive and (from_errno is None or from_errno.code is not code):
        # A proxy refusal, a certificate, a resolver code, a status or a timer decided the
        # code; an errno that does not stand for it would mislead (ETIMEDOUT's errno must
        # tell the kernel's 110 from a client timer's None).
        errno_out = None
    notes = [clue.note for clue in ordered if clue.note]
    return Failure(
        code=code,
        phase=resolved,
        blame=blame,
        request_sent=sent,
        errno=errno_out,
        status=final_status,
        detail=_detail(exc, chain, notes),
        exception=exc,
    )


def classify_status(status: int, *, phase: Phase = Phase.WAIT, via_proxy: bool = False) -> Failure:
    """Classify a response whose status the caller treats as a failure (429, 503, ...).

    Args:
        status: the HTTP status, 100-999.
        phase: ``wait`` (headers just read) by default; ``proxy_handshake`` for a CONNECT
            reply, which makes it PROXY_AUTH (407) or PROXY_REFUSED, blamed on the proxy.
        via_proxy: True when the request went through a proxy. A 407 is then the proxy's
            PROXY_AUTH, and the request never reached the origin.

    Returns:
        The Failure: HTTP_STATUS blamed on the origin, unless a proxy answered.

    Raises:
        ValueError: when ``status`` is not a three-digit HTTP status.
    """
    if type(status) is not int or not 100 <= status <= 999:
        raise ValueError(f"HTTP status must be an integer from 100 to 999, got {status!r}")
    detail = _status_words(status)
    if phase in PROXY_PHASES:
        return Failure(
            code=_connect_reply_code(status),
            phase=Phase.PROXY_HANDSHAKE,
            blame=Blame.PROXY,
            request_sent=False,
            status=status,
            detail=f"proxy refused the tunnel: {detail}",
        )
    if status == _PROXY_AUTH_STATUS and via_proxy:
        return Failure(
            code=ErrorCode.PROXY_AUTH,
            phase=phase,
            blame=Blame.PROXY,
            request_sent=False,
            status=status,
            detail=f"proxy asked for credentials: {detail}",
        )
    return Failure(
        code=ErrorCode.HTTP_STATUS,
        phase=phase,
        blame=Blame.ORIGIN,
        request_sent=True,  # a server answered it
        status=status,
        detail=detail,
    )


# ---------------------------------------------------------------------------------------------


def _connect_reply_code(status: int) -> ErrorCode:
    return ErrorCode.PROXY_AUTH if status == _PROXY_AUTH_STATUS else ErrorCode.PROXY_REFUSED


def _status_words(status: int) -> str:
    try:
        return f"HTTP {status} {HTTPStatus(status).phrase}"
    except ValueError:
        return f"HTTP {status}"


def _pick_code(clues: list[tuple[Clue, int]], from_errno: Clue | None) -> tuple[ErrorCode, bool]:
    """The code, and whether a decisive clue (rather than the errno or the root cause) chose it."""
    for clue, _ in clues:
        if clue.code is not None and clue.code in _DECISIVE:
            return clue.code, True
    if from_errno is not None and from_errno.code is not None:
        return from_errno.code, False
    best: ErrorCode | None = None
    best_depth = -1
    for clue, depth in clues:
        if clue.code is not None and depth > best_depth:
            best, best_depth = clue.code, depth
    return best or ErrorCode.UNKNOWN, False


def _normalise(phases: frozenset[Phase], proxied: bool) -> frozenset[Phase]:
    if not proxied:
        return phases - PROXY_PHASES
    if Phase.CONNECT in phases:
        return (phases - {Phase.CONNECT}) | {Phase.PROXY_CONNECT}
    return phases


def _pick_phase(
    clues: list[tuple[Clue, int]], from_errno: Clue | None, hint: Phase | None, proxied: bool
) -> tuple[Phase, bool, frozenset[Phase]]:
    """The phase, whether it is certain, and the phases still possible."""
    universe = ANY_PHASE - {Phase.CONNECT} if proxied else _DIRECT_PHASES
    # The errno is the root cause: it counts as the deepest clue.
    with_depth = [*clues, (from_errno, _DEEPEST)] if from_errno is not None else clues
    evidence = [clue for clue, _ in with_depth]
    proofs = [clue for clue in evidence if clue.proof and clue.phases is not None]
    others = [clue for clue in evidence if not clue.proof and clue.phases is not None]

    proven = universe
    for clue in proofs:
        narrowed = proven & _normalise(clue.phases or ANY_PHASE, proxied)
        if narrowed:
            proven = narrowed
    possible = proven
    for clue in others:
        narrowed = possible & _normalise(clue.phases or ANY_PHASE, proxied)
        if narrowed:
            possible = narrowed

    # The deepest guess first: the root cause knows better than a wrapper's default (an ssl
    # error inside httpx's ConnectError means TLS).
    deepest_first = sorted(with_depth, key=lambda item: -item[1])
    guesses = [clue.guess for clue, _ in deepest_first if clue.guess is not None]
    guesses = [Phase.PROXY_CONNECT if proxied and g is Phase.CONNECT else g for g in guesses]

    if hint is not None:
        if hint in proven:
            return hint, True, frozenset({hint})
        if len(proven) == 1:
            (only,) = proven
            return only, True, proven
        candidates = possible if possible else proven
        for guess in guesses:
            if guess in candidates:
                return guess, False, candidates
        nearest = min(candidates, key=lambda p: (abs(_INDEX[p] - _INDEX[hint]), -_INDEX[p]))
        return nearest, False, candidates

    if len(possible) == 1:
        (only,) = possible
        return only, True, possible
    for guess in guesses:
        if guess in possible:
            return guess, False, possible
    return Phase.UNKNOWN, False, possible


def _request_sent(phase: Phase, certain: bool, possible: frozenset[Phase]) -> bool | None:
    if certain:
        return _SENT[phase]
    values = {_SENT[p] for p in possible}
    return values.pop() if len(values) == 1 else None


def _blame(code: ErrorCode, phase: Phase, *, proxied: bool, proxy_dns: bool, kernel_timeout: bool) -> Blame:
    if code in _LOCAL_CODES:
        return Blame.LOCAL
    if code in (ErrorCode.PROXY_AUTH, ErrorCode.PROXY_REFUSED) or phase in PROXY_PHASES:
        return Blame.PROXY
    if phase is Phase.DNS or code in (ErrorCode.EAI_NONAME, ErrorCode.EAI_AGAIN):
        if proxy_dns:
            return Blame.PROXY
        if proxied:
            return Blame.UNKNOWN
        if code is ErrorCode.EAI_NONAME:
            return Blame.ORIGIN
        return Blame.NETWORK if code in (ErrorCode.EAI_AGAIN, ErrorCode.ETIMEDOUT) else Blame.UNKNOWN
    if proxied and phase in _BEFORE_RESPONSE and code in _PROXY_DROPS:
        return Blame.PROXY
    if code in _NETWORK_CODES:
        return Blame.NETWORK
    if code is ErrorCode.ETIMEDOUT:
        if proxied and phase is Phase.TLS:
            return Blame.PROXY
        if kernel_timeout or phase is Phase.CONNECT:
            return Blame.NETWORK
        if proxied and phase in _BEFORE_ANSWER:
            # Silence through a proxy after the request went out and before any answer: the origin
            # may be slow, or the proxy may be sitting on the request. Nobody is blamed; a pool
            # asks its peers. Once the body flows, the proxy is relaying: a stall is the origin's.
            return Blame.UNKNOWN
        return Blame.UNKNOWN if phase is Phase.UNKNOWN else Blame.ORIGIN
    if code in _ORIGIN_CODES:
        return Blame.ORIGIN
    return Blame.UNKNOWN


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _describe(exc: BaseException) -> str:
    try:
        text = str(exc)
    except Exception:  # a foreign __str__ that raises
        text = ""
    name = type(exc).__name__
    return f"{name}: {_one_line(text)}" if text else name


def _detail(exc: BaseException, chain: list[tuple[BaseException, int]], notes: list[str]) -> str:
    """One line for a person: the exception, its root cause when that adds anything, notes."""
    text = _describe(exc)
    root = max(chain, key=lambda item: item[1])[0] if chain else exc
    if root is not exc:
        root_text = _describe(root)
        if root_text.partition(": ")[2] not in text or ": " not in root_text:
            text += f" (from {root_text})"
    for note in dict.fromkeys(notes):
        text += f"; {note}"
    text = redact_credentials(text)
    if len(text) > _DETAIL_LIMIT:
        text = text[: _DETAIL_LIMIT - 1] + "…"
    return text
