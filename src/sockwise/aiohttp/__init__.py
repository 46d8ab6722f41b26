"""sockwise for aiohttp (>= 3.12): a client middleware that retries what is safe, within a deadline and a budget.

Layer ``integrations`` (the ``aiohttp`` extra)::

    import aiohttp
    from sockwise.aiohttp import RetryMiddleware, overrides, session
    from sockwise.retry import RetryPolicy

    # Your own session: add the middleware.
    async with aiohttp.ClientSession(middlewares=[RetryMiddleware(RetryPolicy(deadline=10.0))]) as s:
        ...

    # Or let sockwise build it: TCP keepalive on every socket, connection-reuse hints, proxies.
    async with session(RetryPolicy(deadline=10.0), proxy="socks5://127.0.0.1:1080") as s:
        with overrides(retry=5, retry_delay=1.0):  # per request, like the seed's axios config
            async with s.get(url) as resp:
                ...

When retries end, ``except aiohttp.ClientError`` catches a :class:`RetryError` whose ``.sockwise``
holds the failure and every attempt.
"""

from sockwise.aiohttp._errors import ConnectionRetryError, RetryError, request_failed
from sockwise.aiohttp._hints import PhaseHintsMixin, trace_config
from sockwise.aiohttp._middleware import RetryMiddleware
from sockwise.aiohttp._options import RequestOptions, overrides
from sockwise.aiohttp._session import (
    KeepAliveConnector,
    KeepAliveSocketFactory,
    SocksRoutingConnector,
    connector,
    session,
    socks_connector,
)

__all__ = [
    "ConnectionRetryError",
    "KeepAliveConnector",
    "KeepAliveSocketFactory",
    "PhaseHintsMixin",
    "RequestOptions",
    "RetryError",
    "RetryMiddleware",
    "SocksRoutingConnector",
    "connector",
    "overrides",
    "request_failed",
    "session",
    "socks_connector",
    "trace_config",
]
