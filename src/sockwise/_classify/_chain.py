"""Walk an exception's chain of causes the way wrapper libraries build it, and find its OS errno.

Client libraries wrap the error that really happened several layers deep: requests wraps
urllib3, which wraps ``http.client`` or ``socket``; httpx chains ``httpx.X`` to ``httpcore.X``
to the ``OSError``; aiohttp keeps the original in ``.os_error``. The walk follows, for each
exception: ``__cause__`` (an explicit ``raise ... from``), then ``__context__`` (unless the
raiser suppressed it with ``from None``), then ``.reason`` (urllib3, urllib), ``.os_error``
(aiohttp), the exceptions in ``.args`` (requests, urllib3) and the members of an exception
group. It is depth-first, outermost first, safe against cycles and bounded in depth and size.
"""

from __future__ import annotations

import errno as errno_module
import sys
from collections.abc import Iterator

__all__ = ["MAX_DEPTH", "MAX_LINKS", "deepest_errno", "is_real_errno", "links", "walk_chain"]

#: Deepest level followed: real chains are under ten deep; anything longer is a loop or a bug.
MAX_DEPTH = 16
#: Most exceptions visited in one chain.
MAX_LINKS = 64

_ATTRIBUTES = ("reason", "os_error")


def _children(exc: BaseException) -> Iterator[BaseException]:
    """The exceptions ``exc`` wraps, most direct first."""
    cause = exc.__cause__
    if cause is not None:
        yield cause
    context = exc.__context__
    # ``raise X from None`` hides the context on purpose; ``raise X from Y`` hides it only
    # from tracebacks, and it can still hold the original error, so it is followed.
    if context is not None and (cause is not None or not exc.__suppress_context__):
        yield context
    yield from _attached(exc)


def _attached(exc: BaseException) -> Iterator[BaseException]:
    """The exceptions ``exc`` holds as attributes: ``.reason``, ``.os_error``, in ``.args``, group members."""
    for name in _ATTRIBUTES:
        try:
            value = getattr(exc, name, None)
        except Exception:  # a foreign property that raises must not break classification
            continue
        if isinstance(value, BaseException):
            yield value
    args = exc.args if isinstance(exc.args, tuple) else ()
    for arg in args:
        if isinstance(arg, BaseException):
            yield arg
    members = getattr(exc, "exceptions", None)
    if isinstance(members, tuple):
        for member in members:
            if isinstance(member, BaseException):
                yield member


def links(
    exc: BaseException, *, max_depth: int = MAX_DEPTH, max_links: int = MAX_LINKS
) -> list[tuple[BaseException, int]]:
    """Every exception in the chain with its depth (0 for ``exc``), outermost first.

    Args:
        exc: the exception raised to the caller.
        max_depth: deepest level followed.
        max_links: most exceptions returned.

    Returns:
        ``(exception, depth)`` pairs in depth-first order; each exception appears once.
    """
    seen: set[int] = set()
    out: list[tuple[BaseException, int]] = []
    stack: list[tuple[BaseException, int]] = [(exc, 0)]
    while stack and len(out) < max_links:
        node, depth = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        out.append((node, depth))
        if depth >= max_depth:
            continue
        children = [child for child in _children(node) if id(child) not in seen]
        stack.extend((child, depth + 1) for child in reversed(children))
    return out


def walk_chain(exc: BaseException) -> tuple[BaseException, ...]:
    """The exceptions chained to ``exc``, ``exc`` first, each once, in the order they are read.

    Follows ``__cause__``, then ``__context__`` (unless suppressed), ``.reason``, ``.os_error``,
    exceptions in ``.args`` and exception-group members; cycle-safe and bounded
    (:data:`MAX_DEPTH` levels, :data:`MAX_LINKS` exceptions).

    Args:
        exc: the exception raised to the caller.

    Returns:
        The chain, outermost first.
    """
    return tuple(node for node, _ in links(exc))


def is_real_errno(value: object) -> bool:
    """True for an int that names an OS errno on this platform (not a resolver or SSL code)."""
    return type(value) is int and value > 0 and value in errno_module.errorcode


def _is_ssl_error(exc: BaseException) -> bool:
    # No ssl.SSLError can exist unless ssl was imported, so there is nothing to import here.
    ssl = sys.modules.get("ssl")
    return ssl is not None and isinstance(exc, ssl.SSLError)


def _wrapped(exc: BaseException) -> Iterator[BaseException]:
    """What ``exc`` wraps on purpose: its ``__cause__`` and its attributes, not its implicit context."""
    if exc.__cause__ is not None:
        yield exc.__cause__
    yield from _attached(exc)


def _errno_in(exc: BaseException, depth: int, seen: set[int]) -> tuple[bool, int | None]:
    """``(found, errno)`` for ``exc``: what it wraps first, then its own errno, then its context."""
    if id(exc) in seen or depth > MAX_DEPTH or len(seen) >= MAX_LINKS:
        return False, None
    seen.add(id(exc))
    for child in _wrapped(exc):
        found, value = _errno_in(child, depth + 1, seen)
        if found:
            return True, value
    if isinstance(exc, OSError) and type(exc.errno) is int:
        return True, None if _is_ssl_error(exc) or not is_real_errno(exc.errno) else exc.errno
    context = exc.__context__
    if context is not None and (exc.__cause__ is not None or not exc.__suppress_context__):
        return _errno_in(context, depth + 1, seen)
    return False, None


def deepest_errno(chain: list[tuple[BaseException, int]]) -> int | None:
    """The OS errno of the deepest exception in the chain that carries one.

    Only ``OSError`` instances carry an errno. The deepest carrier decides, because wrappers
    copy errnos upwards (aiohttp's ``ClientOSError(*exc.args)``). When that carrier is an
    ``ssl.SSLError`` its ``errno`` is an ``SSL_ERROR_*`` code (1 = SSL_ERROR_SSL, 8 =
    SSL_ERROR_EOF), not an OS errno, and the copies above it are not either: the result is
    None. Negative resolver codes (``socket.gaierror``) are not OS errnos either.

    "Deepest" follows what an exception wraps on purpose (``__cause__``, ``.reason``,
    ``.os_error``, ``.args``, group members) before its own errno, and its implicit
    ``__context__`` only when neither gives one: the context is an error that was being
    *handled* when this one was raised, not its cause. The ssl module raises a reset from
    inside its handling of ENOTCONN (a socket reset before ``wrap_socket``), and anyio raises
    it inside its handling of ``SSLWantReadError``: the reset is the errno, not what was handled.

    Args:
        chain: the output of :func:`links` (its first element is the exception raised).

    Returns:
        The errno, or None when the chain holds none.
    """
    if not chain:
        return None
    return _errno_in(chain[0][0], 0, set())[1]
