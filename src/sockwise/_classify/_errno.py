"""What an OS errno says: its code and the phases the kernel can return it in.

Keyed by the platform's own errno values (``errno.ECONNRESET`` is 104 on Linux, 54 on
macOS), so the same table works wherever Python runs. An errno missing here still reaches
the Failure (``errno`` field) with code UNKNOWN.
"""

from __future__ import annotations

import errno as E
from collections.abc import Mapping
from types import MappingProxyType

from sockwise._classify._rules import AFTER_CONNECT, ANY_PHASE, CONNECTING, Clue
from sockwise._model import Blame, ErrorCode, Phase

__all__ = ["ERRNO_CLUES", "errno_clue"]


def _build() -> Mapping[int, Clue]:
    table: dict[int, Clue] = {}

    def add(name: str, clue: Clue) -> None:
        value = getattr(E, name, None)
        if isinstance(value, int):
            table.setdefault(value, clue)

    # connect() gets ECONNREFUSED only in SYN_SENT (tcp_reset): a proof of the connect phase.
    add("ECONNREFUSED", Clue(ErrorCode.ECONNREFUSED, CONNECTING, Phase.CONNECT, proof=True))
    # A RST needs an established (or closing) socket - but "connect" includes it: a connect with a
    # timeout (Python's sock.connect, asyncio) is non-blocking and reads SO_ERROR once the socket is
    # writable, and a RST that arrived right after the handshake is returned there (measured on the
    # lab's reset-on-accept). Only DNS is excluded.
    add("ECONNRESET", Clue(ErrorCode.ECONNRESET, AFTER_CONNECT | CONNECTING, proof=True))
    # EPIPE is a write after the peer's RST or FIN: writes happen while sending.
    add("EPIPE", Clue(ErrorCode.EPIPE, AFTER_CONNECT, Phase.SEND, proof=True))
    add("ESHUTDOWN", Clue(ErrorCode.EPIPE, AFTER_CONNECT, Phase.SEND, proof=True))
    # Linux sets ECONNABORTED itself (tcp_abort: SOCK_DESTROY, ss -K): nobody remote did it.
    add("ECONNABORTED", Clue(ErrorCode.ECONNABORTED, ANY_PHASE))
    # SYN retries exhausted, retransmission timeout, keepalive, TCP_USER_TIMEOUT: any phase.
    add("ETIMEDOUT", Clue(ErrorCode.ETIMEDOUT, ANY_PHASE))
    # Route lookups fail at connect; an ICMP error can also arrive later on a live socket.
    add("EHOSTUNREACH", Clue(ErrorCode.EHOSTUNREACH, ANY_PHASE, Phase.CONNECT))
    add("EHOSTDOWN", Clue(ErrorCode.EHOSTUNREACH, ANY_PHASE, Phase.CONNECT))
    add("ENETUNREACH", Clue(ErrorCode.ENETUNREACH, ANY_PHASE, Phase.CONNECT))
    add("ENETDOWN", Clue(ErrorCode.ENETUNREACH, ANY_PHASE, Phase.CONNECT))
    add("EPROTO", Clue(ErrorCode.EPROTO, ANY_PHASE))
    # Out of file descriptors (per process or system-wide): socket() fails before connect.
    add("EMFILE", Clue(ErrorCode.EMFILE, ANY_PHASE, Phase.CONNECT))
    add("ENFILE", Clue(ErrorCode.EMFILE, ANY_PHASE, Phase.CONNECT))
    # No local address/port to connect from (ephemeral ports exhausted, address gone).
    add("EADDRNOTAVAIL", Clue(ErrorCode.EADDRNOTAVAIL, CONNECTING, Phase.CONNECT, proof=True))
    # Local refusals with no code of their own: a local firewall (EPERM), a prohibit route
    # (EACCES), no buffer memory. Nothing remote is at fault.
    for name in ("EPERM", "EACCES", "ENOBUFS", "ENOMEM"):
        add(name, Clue(None, ANY_PHASE, blame=Blame.LOCAL))
    return MappingProxyType(table)


#: errno → clue, built once at import.
ERRNO_CLUES: Mapping[int, Clue] = _build()


def errno_clue(value: int | None) -> Clue | None:
    """The clue for an OS errno, or None when the errno is None or not in the table."""
    return None if value is None else ERRNO_CLUES.get(value)
