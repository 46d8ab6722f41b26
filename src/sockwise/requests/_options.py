"""Per-request overrides for requests, which has no per-request extension dict.

Two ways in, one place they meet (a context variable the adapter reads per request):

* ``sockwise.requests.Session`` takes ``sockwise={...}`` on every call (``get``, ``post``,
  ``request``, ``send``);
* with any ``requests.Session`` that has a :class:`~sockwise.requests.RetryAdapter` mounted,
  ``with sockwise.requests.overrides(retry=5, retry_delay=1.0): session.get(url)``.

A header was considered and left out: if the adapter is not mounted for a URL, the header would
go to the server; a context variable never leaves the process.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from contextvars import ContextVar
from typing import Any

from sockwise._exceptions import ConfigError
from sockwise.retry import RetryPolicy

__all__ = ["ONE_SHOT", "check_overrides", "current_overrides", "merge", "overrides"]

_OVERRIDES: ContextVar[Mapping[str, object] | None] = ContextVar("sockwise_requests_overrides", default=None)
_CHECKER = RetryPolicy(budget=None)

ONE_SHOT: Mapping[str, object] = {"idempotent": False}
"""Forced on a request whose body can be read only once: retried only when nothing was sent."""


def check_overrides(given: object, where: str) -> Mapping[str, object]:
    """Validate overrides now (the keys and values a :class:`~sockwise.RetryPolicy` takes).

    Args:
        given: what the caller passed.
        where: how the caller passed it, for the message (``sockwise=`` or ``overrides()``).

    Returns:
        The mapping.

    Raises:
        ConfigError: not a mapping, an unknown key or a bad value (named).
    """
    if not isinstance(given, Mapping):
        raise ConfigError(f"{where} must be a mapping such as {{'retry': 3, 'retry_delay': 1.0}}, got {given!r}")
    _CHECKER.with_overrides(given)
    return given


def current_overrides() -> Mapping[str, object] | None:
    """The overrides in force in this context (innermost :func:`overrides` block), or None."""
    return _OVERRIDES.get()


def merge(outer: Mapping[str, object] | None, inner: Mapping[str, object] | None) -> Mapping[str, object] | None:
    """``inner`` over ``outer``; ``retry`` and ``attempts`` (and ``retry_delay`` and ``backoff``) replace each other."""
    if not outer:
        return inner or None
    if not inner:
        return outer
    merged = dict(outer)
    for key, rival in (
        ("retry", "attempts"),
        ("attempts", "retry"),
        ("retry_delay", "backoff"),
        ("backoff", "retry_delay"),
    ):
        if key in inner:
            merged.pop(rival, None)
    merged.update(inner)
    return merged


@contextlib.contextmanager
def overrides(options: Mapping[str, object] | None = None, /, **more: Any) -> Iterator[Mapping[str, object]]:
    """Override the retry policy for the requests made inside the block (this thread or task only).

    Works with any ``requests.Session`` on which a :class:`~sockwise.requests.RetryAdapter` is
    mounted; blocks nest (the inner one wins per key)::

        with sockwise.requests.overrides(retry=5, retry_delay=1.0):
            session.get("https://example.org/")

    Args:
        options: overrides as a mapping (``{"retry": 5}``); keyword arguments add to it.
        **more: overrides as keywords: ``retry``, ``retry_delay``, ``attempts``, ``deadline``,
            ``timeout``, ``idempotent``, ``retry_statuses``, ... (see ``RetryPolicy.with_overrides``).

    Yields:
        The overrides in force inside the block (merged with any outer block).

    Raises:
        ConfigError: an unknown key or a bad value, at the ``with`` line.
    """
    where = "sockwise.requests.overrides()"
    if options is not None:
        check_overrides(options, where)
    mine = check_overrides({**(options or {}), **more}, where)
    merged = merge(_OVERRIDES.get(), mine)
    if merged:
        check_overrides(merged, where)
    token = _OVERRIDES.set(merged)
    try:
        yield merged or {}
    finally:
        _OVERRIDES.reset(token)
