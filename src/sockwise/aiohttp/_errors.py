"""The aiohttp exceptions sockwise raises when retries end, and the attempt timeout's exceptions.

A request that failed for good raises a subclass of :class:`RetryError` (itself an
``aiohttp.ClientError``) that also keeps the last attempt's aiohttp type where it safely can, so
``except aiohttp.ClientError``, ``except aiohttp.ClientConnectorError``, ``except
aiohttp.ClientPayloadError`` and ``except asyncio.TimeoutError`` keep catching what they caught.

One exception to that: aiohttp's ``ClientSession._request`` replays an idempotent request once,
on a new connection, when ``ClientOSError`` or ``ServerDisconnectedError`` leaves the middleware
chain. Raising either type (or a subclass) after sockwise gave up would make aiohttp run the
whole retry loop a second time. So a final failure of those two types (connector errors aside,
which aiohttp never replays) is raised as :class:`ConnectionRetryError`, an
``aiohttp.ClientConnectionError`` and an ``OSError`` with the same ``errno``: the server sees
exactly the attempts the policy decided.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, cast

import aiohttp

from sockwise._exceptions import RequestFailed, SockwiseError, request_failed
from sockwise._model import Attempt, Failure, Phase

if TYPE_CHECKING:
    from sockwise.runner import AttemptContext

__all__ = ["ConnectionRetryError", "RetryError", "attempt_timeout_error", "library_error", "request_failed"]


class RetryError(aiohttp.ClientError):
    """A request sockwise gave up on: an ``aiohttp.ClientError`` with the whole story attached.

    The instance raised is usually also an instance of the last attempt's aiohttp exception type
    (``aiohttp.ClientConnectorError``, ``aiohttp.ServerTimeoutError``, ...; see the module docs).

    Attributes:
        sockwise: the :class:`~sockwise.RequestFailed`: ``.failure`` (code, phase, blame,
            request_sent), ``.attempts`` and ``.reason``.
    """

    sockwise: RequestFailed

    def __str__(self) -> str:
        return str(self.sockwise)

    @property
    def failure(self) -> Failure:
        """The failure that ended the request."""
        return self.sockwise.failure

    @property
    def attempts(self) -> tuple[Attempt, ...]:
        """Every attempt, in order."""
        return self.sockwise.attempts


class ConnectionRetryError(RetryError, aiohttp.ClientConnectionError, OSError):
    """Retries ended on a connection that failed after it was made (reset, closed, broken pipe).

    Raised in place of ``aiohttp.ClientOSError`` / ``aiohttp.ServerDisconnectedError``, which
    aiohttp would answer with a hidden replay of the request. ``errno`` is the OS errno, if any.
    """


# Types aiohttp replays when they leave the middleware chain, and those it re-raises first.
_REPLAYED = (aiohttp.ClientOSError, aiohttp.ServerDisconnectedError)
_NOT_REPLAYED = (aiohttp.ClientConnectorError,)
_MIRRORS: dict[type[BaseException], type[RetryError]] = {}


def _mirror(kind: type[aiohttp.ClientError]) -> type[RetryError]:
    mirror = _MIRRORS.get(kind)
    if mirror is None:
        name = kind.__name__ if kind.__name__.startswith("Sockwise") else f"Sockwise{kind.__name__}"
        mirror = cast("type[RetryError]", type(name, (RetryError, kind), {"__module__": __name__}))
        _MIRRORS[kind] = mirror
    return mirror


def library_error(failed: RequestFailed) -> Exception:
    """The exception a caller of aiohttp expects for a request that failed for good.

    Args:
        failed: what the runner raised.

    Returns:
        A :class:`RetryError` (``.sockwise`` is ``failed``; the message is its one-line story)
        that is also of the last attempt's aiohttp type when that is safe (see the module docs);
        sockwise's own errors (a bad option) are returned as they are.
    """
    cause = failed.failure.exception
    if isinstance(cause, SockwiseError):
        return cause
    error: RetryError
    if isinstance(cause, aiohttp.ClientError) and (
        isinstance(cause, _NOT_REPLAYED) or not isinstance(cause, _REPLAYED)
    ):
        kind = _mirror(type(cause))
        # The aiohttp constructors differ per class; build without them and copy the state
        # (request_info, status, os_error ...) so the mirrored type's properties still work.
        error = kind.__new__(kind, *cause.args)
        error.__dict__.update(cause.__dict__)
    elif isinstance(cause, OSError):
        error = ConnectionRetryError(cause.errno, cause.strerror) if cause.errno is not None else ConnectionRetryError()
    elif isinstance(cause, _REPLAYED):
        error = ConnectionRetryError()
    else:
        error = RetryError()
    error.args = (str(failed),)
    error.sockwise = failed
    return error


_CONNECTING = frozenset({Phase.DNS, Phase.PROXY_CONNECT, Phase.PROXY_HANDSHAKE, Phase.CONNECT, Phase.TLS})


def attempt_timeout_error(ctx: AttemptContext, elapsed: float) -> asyncio.TimeoutError:
    """The aiohttp timeout for an attempt that used up ``ctx.timeout`` (named as aiohttp would).

    Returns:
        ``ConnectionTimeoutError`` while connecting, ``SocketTimeoutError`` once connected, and
        ``ServerTimeoutError`` when the phase is unknown (no phase hints installed).
    """
    phase = ctx.phase
    where = f" in phase {phase}" if phase is not None else ""
    message = (
        f"attempt {ctx.number} ran out of its {ctx.timeout:.3g} s{where} after {elapsed:.3g} s "
        "(sockwise per-try timeout or deadline)"
    )
    if phase is None:
        return aiohttp.ServerTimeoutError(message)
    if phase in _CONNECTING:
        return aiohttp.ConnectionTimeoutError(message)
    return aiohttp.SocketTimeoutError(message)
