"""sockwise for httpx: transports that retry only what is safe, never past a deadline, never into a storm.

::

    import httpx
    from sockwise import RetryPolicy
    from sockwise.httpx import RetryTransport

    client = httpx.Client(transport=RetryTransport(policy=RetryPolicy(attempts=4, deadline=10.0)))
    client.get("https://example.org/", extensions={"sockwise": {"retry": 5, "retry_delay": 1.0}})

:class:`RetryTransport` (``httpx.Client``) and :class:`AsyncRetryTransport` (``httpx.AsyncClient``)
wrap any transport; when retries end, the usual httpx exception is raised with the one-line story
as its message and the :class:`~sockwise.RequestFailed` as ``.sockwise`` (:func:`request_failed`).
Needs the ``httpx`` extra: ``pip install 'sockwise[httpx]'``.
"""

from sockwise.httpx._async_transport import AsyncRetryTransport
from sockwise.httpx._attempt import request_failed
from sockwise.httpx._transport import RetryTransport

__all__ = ["AsyncRetryTransport", "RetryTransport", "request_failed"]
