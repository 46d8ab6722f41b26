"""Per-request retry settings for the aiohttp middleware, carried in a ``ContextVar``.

aiohttp has no request field a middleware can read for its own options: ``trace_request_ctx``
reaches trace callbacks only, and a header would travel to the server unless every middleware
after ours strips it. A ``ContextVar`` is how asyncio code passes such data down a call: it
follows the task (and the tasks it starts), composes with other middlewares, and needs no
private API::

    with sockwise.aiohttp.overrides(retry=5, retry_delay=1.0):
        async with session.get(url) as resp:
            ...

    # or for every request of a block, including tasks started inside it:
    with sockwise.aiohttp.overrides(idempotent=True):  # this POST carries an idempotency key
        await asyncio.gather(session.post(a, data=x), session.post(b, data=y))
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from contextvars import ContextVar

from sockwise._exceptions import ConfigError
from sockwise.retry import RetryPolicy

__all__ = ["OVERRIDES", "RequestOptions", "overrides"]


class RequestOptions:
    """What :func:`overrides` asked for, split into policy overrides and the middleware's own options.

    Attributes:
        policy: the retry policy overrides (``retry``, ``retry_delay``, ``deadline`` ...), or None.
        stream: leave the body to the caller instead of reading it inside the attempt, or None
            for the middleware's default.
    """

    __slots__ = ("policy", "stream")

    def __init__(self, policy: Mapping[str, object] | None, stream: bool | None) -> None:
        self.policy = policy
        self.stream = stream


OVERRIDES: ContextVar[RequestOptions | None] = ContextVar("sockwise_aiohttp_overrides", default=None)


@contextlib.contextmanager
def overrides(mapping: Mapping[str, object] | None = None, /, **options: object) -> Iterator[RequestOptions]:
    """Override the retry policy for the requests made inside the ``with`` block.

    Nested blocks merge, the inner one winning key by key. The keys are those of
    :meth:`sockwise.retry.RetryPolicy.with_overrides` (``retry``, ``attempts``, ``retry_delay``,
    ``backoff``, ``deadline``, ``timeout``, ``idempotent``, ``max_retry_after``,
    ``retry_statuses``, ``retry_codes``) plus ``stream``: True leaves the response body to the
    caller (it is then not read inside the attempt, so a failure while reading it is not retried
    and the per-try timeout and deadline do not bound its reading).

    Args:
        mapping: the options as a mapping (e.g. the seed's ``{"retry": 3, "retry_delay": 1.0}``).
        **options: the same as keywords; they win over ``mapping``.

    Yields:
        The merged options in force inside the block.

    Raises:
        ConfigError: an unknown key, a bad value, or ``stream`` that is not a bool (at the
            ``with``, not at the request).
    """
    given: dict[str, object] = {**(mapping or {}), **options}
    outer = OVERRIDES.get()
    merged: dict[str, object] = dict(outer.policy) if outer is not None and outer.policy else {}
    stream = outer.stream if outer is not None else None
    if "stream" in given:
        value = given.pop("stream")
        if not isinstance(value, bool):
            raise ConfigError(f"sockwise.aiohttp.overrides(stream=...) must be True or False, got {value!r}")
        stream = value
    # An inner 'retry' replaces an outer 'attempts' (and 'retry_delay' an outer 'backoff'), not both at once.
    for new, old in (
        ("retry", "attempts"),
        ("attempts", "retry"),
        ("retry_delay", "backoff"),
        ("backoff", "retry_delay"),
    ):
        if new in given:
            merged.pop(old, None)
    merged.update(given)
    RetryPolicy(budget=None).with_overrides(merged)  # validate now, naming the bad key
    options_now = RequestOptions(merged or None, stream)
    token = OVERRIDES.set(options_now)
    try:
        yield options_now
    finally:
        OVERRIDES.reset(token)
