"""RetryAdapter: sockwise's attempt loop as a requests ``HTTPAdapter``."""

from __future__ import annotations

import functools
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.adapters import DEFAULT_POOLBLOCK, DEFAULT_POOLSIZE, HTTPAdapter
from urllib3.connection import HTTPConnection
from urllib3.poolmanager import proxy_from_url
from urllib3.util import Retry, Timeout

from sockwise._classify import classify
from sockwise._exceptions import ConfigError, RequestFailed
from sockwise._model import Attempt, Phase, Proxy
from sockwise._sockopts import KeepAlive
from sockwise.requests._connection import POOL_CLASSES, AttemptState, current
from sockwise.requests._errors import library_error
from sockwise.requests._options import ONE_SHOT, check_overrides, current_overrides, merge
from sockwise.requests._socks import SocksPoolManager
from sockwise.retry import RetryPolicy
from sockwise.runner import DIRECT, AttemptContext, DirectRoutes, RouteProvider, Runner
from sockwise.runner import resolve_routes as runner_resolve_routes

__all__ = ["RetryAdapter", "resolve_routes"]

SocketOption = tuple[int, int, int]

_DEFAULT_KEEPALIVE = KeepAlive()
_HTTP_SEND = HTTPAdapter.send
_SHORTEST = 0.001  # urllib3 refuses a read timeout of 0: an attempt always gets at least this
DEFAULT_MAX_PROXIES = 64


def _close(response: requests.Response) -> None:
    # A read body already went back to the pool; an unread (streamed) one closes its connection.
    response.close()


def _close_manager(manager: Any) -> None:
    """Close every pooled connection of a urllib3 pool manager now (it stays usable: pools are made anew).

    urllib3 2.8's ``PoolManager.clear()`` only forgets its pools and leaves their connections to
    the garbage collector (a response still held keeps its pool, and so its idle sockets, open);
    here each pool is closed at once. A connection out on a response is closed when it comes back.
    """
    pools = [manager.pools.get(key) for key in manager.pools.keys()]  # noqa: SIM118  # a copy, under its lock
    manager.clear()
    for pool in pools:
        if pool is not None:
            pool.close()


def _split_timeout(timeout: Any) -> tuple[float | None, float | None]:
    """requests' ``timeout`` argument as (connect, read) seconds, None meaning no limit."""
    if timeout is None:
        return None, None
    if isinstance(timeout, tuple):
        try:
            connect, read = timeout
        except ValueError:
            raise ValueError(
                f"Invalid timeout {timeout}. Pass a (connect, read) timeout tuple, "
                "or a single float to set both timeouts to the same value."
            ) from None
        return connect, read
    if isinstance(timeout, Timeout):
        connect, read = timeout.connect_timeout, timeout.read_timeout
        return (
            connect if isinstance(connect, (int, float)) else None,
            read if isinstance(read, (int, float)) else None,
        )
    return timeout, timeout


@functools.lru_cache(maxsize=1024)
def _host_of(url: str) -> str:
    # Per request for the retry budget and route leases; URLs repeat, so the parse is cached.
    return urlsplit(url).hostname or ""


def resolve_routes(routes: RouteProvider | None, proxy: Proxy | str | None) -> RouteProvider:
    """The route provider from the ``routes`` / ``proxy`` arguments (direct when neither).

    Raises:
        ConfigError: both given, or a proxy string that does not parse.
    """
    resolved = runner_resolve_routes(routes, proxy)
    return resolved if resolved is not None else DirectRoutes()


class RetryAdapter(HTTPAdapter):
    """A requests transport adapter that retries what is safe, within a deadline and a retry budget.

    Mount it on any ``requests.Session`` (or use :class:`sockwise.requests.Session`, which does)::

        session = requests.Session()
        adapter = RetryAdapter(RetryPolicy(attempts=4, deadline=10.0))
        session.mount("https://", adapter)
        session.mount("http://", adapter)
        with sockwise.requests.overrides(retry=5, retry_delay=1.0):
            session.get("https://example.org/")

    **urllib3's own retries are off** (``Retry(0, read=False)``, requests' default, pinned): every
    request the server sees is one the policy decided on. Redirects stay requests' business; each
    hop is one request to the policy (its own attempts and deadline).

    **Per request**: ``sockwise.requests.overrides(...)`` around the call, ``sockwise={...}`` on a
    :class:`sockwise.requests.Session` call, or ``session.send(prepared, sockwise={...})``. Keys:
    ``retry``, ``retry_delay``, ``attempts``, ``deadline``, ``timeout``, ``idempotent``,
    ``retry_statuses``, ... (see ``RetryPolicy.with_overrides``).

    **What an attempt covers.** Without ``stream=True`` the adapter reads the body inside the
    attempt (as requests would right after): a body that breaks off is retried like any failure,
    and the attempt's time (the per-try ``timeout`` cut to the ``deadline``) bounds everything from
    the connect to the last body byte — before every ``recv`` the socket's timeout is set to what
    is left, so a trickling status line, header block or body ends on time (a per-read timeout
    alone never fires while bytes keep coming). requests' own ``timeout=`` still applies per read,
    when shorter. With ``stream=True`` the attempt ends at the response headers: the body is the
    caller's, bounded per read by the attempt's read timeout but not in total, and a failure while
    reading it is not retried. Not bounded in total either way: a TLS or SOCKS handshake or a request
    upload that trickles (each of their reads and writes is bounded by the timeout); an HTTP proxy's
    CONNECT reply is bounded like a response.

    **Phases** come from urllib3's connection steps (connect to the proxy or the origin, proxy
    handshake, TLS, send, wait, body) and whether the pool handed out a live keep-alive connection;
    after the stale keep-alive race the retry gets a new connection. **Safety**: a body that can be
    read only once (a generator, a file that cannot seek) is retried only when the failure proves
    nothing was sent; a seekable file is rewound before each retry.

    **Proxies**: a sockwise route (``proxy=`` or ``routes=``) decides the proxy of each attempt and
    replaces requests' ``proxies``; on the direct route requests' own ``proxies`` (and the
    environment's, with ``trust_env``) are used as usual. HTTP, HTTPS and SOCKS4/4a/5/5h proxies all
    work; SOCKS goes through python-socks (requests' PySocks-based SOCKS support is not needed).

    **Connection pools per proxy**: each proxy (its URL, credentials included: two logins on one
    host are two proxies) gets its own urllib3 pool manager, made on first use. At most
    ``max_proxies`` are kept: when a new proxy needs one, the least recently used proxy's manager is
    dropped (never handed out again) and its idle connections are closed: at once when no attempt
    is using it, else when the last attempt using it ends, so a request under way is never cut (a
    connection still out on a streamed response is closed when the response is done). So a pool of
    thousands of proxies, or a vendor session id per request (``user-session-{key}``), holds a
    bounded number of sockets. Safe from several threads.

    **TCP keepalive**: every socket gets ``TCP_NODELAY`` (urllib3's default) plus keepalive and
    ``TCP_USER_TIMEOUT`` from ``keepalive``, so a dead idle peer is found in seconds.

    **When retries end** the last attempt's requests exception type is raised (``except
    requests.RequestException`` still catches it) with a one-line message, e.g. ``ECONNRESET while
    waiting for headers from origin; 3 attempts in 2.1 s; no attempts left (attempts=3)``, and the
    :class:`~sockwise.RequestFailed` as ``.sockwise`` (:func:`sockwise.requests.request_failed`
    reads it typed). A retried status that persists (a 503 after the last attempt) is returned, not
    raised: ``raise_for_status()`` decides. Responses of retried attempts are closed first (a read
    one's connection is back in the pool).

    Args:
        policy: the retry policy (a default :class:`~sockwise.RetryPolicy` when None). Its retry
            budget is shared by every request through this adapter.
        routes: where attempts go (direct by default; a proxy pool plugs in here).
        proxy: shorthand for ``routes=FixedProxyRoutes(proxy)``: a :class:`~sockwise.Proxy` or a
            URL such as ``http://user:pass@host:8080`` or ``socks5h://host:1080``.
        on_attempt: called with each :class:`~sockwise.Attempt` as it is decided.
        keepalive: TCP keepalive settings for every socket (None: off).
        socket_options: more ``(level, option, value)`` socket options, after the keepalive ones.
        pool_connections: urllib3 pools (origins) kept per pool manager.
        pool_maxsize: connections kept per pool.
        pool_block: wait for a free connection instead of opening one more.
        max_proxies: proxies whose pool managers (and idle connections) are kept at once (>= 1).

    Raises:
        ConfigError: ``proxy`` and ``routes`` both given, a proxy that does not parse, or
            ``max_proxies`` below 1.
    """

    def __init__(
        self,
        policy: RetryPolicy | None = None,
        *,
        routes: RouteProvider | None = None,
        proxy: Proxy | str | None = None,
        on_attempt: Callable[[Attempt], None] | None = None,
        keepalive: KeepAlive | None = _DEFAULT_KEEPALIVE,
        socket_options: Iterable[SocketOption] | None = None,
        pool_connections: int = DEFAULT_POOLSIZE,
        pool_maxsize: int = DEFAULT_POOLSIZE,
        pool_block: bool = DEFAULT_POOLBLOCK,
        max_proxies: int = DEFAULT_MAX_PROXIES,
    ) -> None:
        if isinstance(max_proxies, bool) or not isinstance(max_proxies, int) or max_proxies < 1:
            raise ConfigError(
                f"max_proxies must be a whole number >= 1 (proxies whose pools are kept), got {max_proxies!r}"
            )
        self.max_proxies = max_proxies
        self.socket_options: list[SocketOption] = [
            *HTTPConnection.default_socket_options,
            *(keepalive.options() if keepalive is not None else ()),
            *(socket_options or ()),
        ]
        self.runner = Runner(
            policy=policy if policy is not None else RetryPolicy(),
            routes=resolve_routes(routes, proxy),
            classify=classify,  # given, not looked up by the runner on every request
            release=_close,
            on_attempt=on_attempt,
        )
        self._route_proxies: dict[Proxy, dict[str, str]] = {}
        self._manager_kwargs = {"num_pools": pool_connections, "maxsize": pool_maxsize, "block": pool_block}
        super().__init__(pool_connections, pool_maxsize, max_retries=0, pool_block=pool_block)
        # requests' dict of per-proxy managers, made an LRU: proxy_manager_for keeps it bounded.
        self.proxy_manager: OrderedDict[str, Any] = OrderedDict()
        # Guards changes to which managers are kept or dropped (the hit path reads without it).
        self._proxy_lock = threading.Lock()
        self._dropped: set[Any] = set()  # out of the LRU while held: closed by their last release
        # urllib3 must raise at once and never retry by itself: the policy decides every retry.
        self.max_retries = Retry(0, read=False)

    def __repr__(self) -> str:
        return f"RetryAdapter(policy={self.runner.policy!r}, routes={self.runner.routes!r})"

    def init_poolmanager(
        self, connections: int, maxsize: int, block: bool = DEFAULT_POOLBLOCK, **pool_kwargs: Any
    ) -> None:
        """Make the direct route's pool manager: tracked connections, keepalive socket options."""
        pool_kwargs.setdefault("socket_options", self.socket_options)
        super().init_poolmanager(connections, maxsize, block, **pool_kwargs)
        self.poolmanager.pool_classes_by_scheme = POOL_CLASSES

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        """The pool manager of one proxy URL; SOCKS via python-socks.

        Made on first use and kept while the proxy is among the ``max_proxies`` most recently used:
        the manager of the least recently used one is then dropped (never handed out again) and
        its idle connections closed, once no attempt uses it. Called during an attempt (as
        requests' ``send`` does), the attempt holds the manager until it ends, so its pools stay
        open under it; called outside one, the manager comes without a hold. Thread-safe.
        """
        attempt = current.attempt
        managers = self.proxy_manager
        manager: Any = managers.get(proxy)
        if manager is not None:
            # The hit path, per request on a proxy route: no lock (each list and OrderedDict call is
            # atomic). The hold goes on before the dropped mark is read, and an eviction marks before
            # it reads the holds: so either it sees this hold, or this sees its mark and backs out.
            if attempt is not None:
                manager._sockwise_holds.append(None)
                if manager._sockwise_dropped:
                    self._release_manager(manager)  # dropped meanwhile: let go, and get the proxy's new manager
                    manager = None
            if manager is not None:
                try:  # noqa: SIM105  # contextlib.suppress costs ~0.3 µs here, per request
                    managers.move_to_end(proxy)
                except KeyError:
                    # Popped just now: held, the evictor saw the hold and leaves the closing to the
                    # release; not held (outside an attempt), it is still usable as before.
                    pass
                if attempt is not None:
                    if attempt.manager is None:
                        attempt.manager = manager
                    else:
                        self._hold(attempt, manager)
                return manager
        evicted: list[Any] = []
        with self._proxy_lock:
            manager = managers.get(proxy)  # under the lock, a kept manager is never a dropped one
            if manager is not None:
                managers.move_to_end(proxy)
            else:
                manager = self._new_proxy_manager(proxy, proxy_kwargs)
                # Room first, then the new one: lock-free hits reorder the others meanwhile, so an
                # eviction after the insertion could pick the new manager itself.
                while managers and len(managers) >= self.max_proxies:
                    old = managers.popitem(last=False)[1]
                    if self._drop(old):
                        evicted.append(old)
                managers[proxy] = manager
            if attempt is not None:
                manager._sockwise_holds.append(None)
        for old in evicted:
            _close_manager(old)
        if attempt is not None:
            self._hold(attempt, manager)
        return manager

    def _new_proxy_manager(self, proxy: str, proxy_kwargs: dict[str, Any]) -> Any:
        """A new pool manager for one proxy URL, ready to be kept (not yet in the LRU, where hits see it)."""
        proxy_kwargs.setdefault("socket_options", self.socket_options)
        manager: Any
        if proxy.lower().startswith("socks"):
            manager = SocksPoolManager(proxy, **self._manager_kwargs, **proxy_kwargs)
        else:
            # requests' own (its proxy_manager_for would put it in the LRU before it is ready): the
            # proxy's credentials become its Proxy-Authorization header.
            manager = proxy_from_url(
                proxy, proxy_headers=self.proxy_headers(proxy), **self._manager_kwargs, **proxy_kwargs
            )
            manager.pool_classes_by_scheme = POOL_CLASSES
        manager._sockwise_holds = []  # the attempts holding it now, one entry each
        manager._sockwise_dropped = False  # out of the LRU: never handed out again
        return manager

    def _hold(self, attempt: AttemptState, manager: Any) -> None:
        """Record on the attempt the manager it holds (released when the attempt ends)."""
        previous, attempt.manager = attempt.manager, manager
        if previous is not None:  # a second call in one attempt (requests makes one): the first hold ends
            self._release_manager(previous)

    def _drop(self, manager: Any) -> bool:
        """Mark a manager just taken out of the LRU as dropped (lock held); True: idle, the caller closes it now.

        Otherwise its last attempt closes it (:meth:`_release_manager`).
        """
        manager._sockwise_dropped = True  # before the holds are read: see proxy_manager_for
        if manager._sockwise_holds:
            self._dropped.add(manager)
            return False
        return True

    def _release_manager(self, manager: Any) -> None:
        """One attempt is done with ``manager``: close it if it was dropped and this was its last hold."""
        manager._sockwise_holds.pop()
        if not manager._sockwise_dropped:
            return  # dropped later, the eviction sees this release (or a hold still on) and acts on it
        with self._proxy_lock:
            if manager._sockwise_holds or manager not in self._dropped:
                return  # still held, or closed already by the eviction that saw it idle
            self._dropped.discard(manager)
        _close_manager(manager)

    def send(
        self,
        request: requests.PreparedRequest,
        stream: bool = False,
        timeout: Any = None,
        verify: bool | str = True,
        cert: Any = None,
        proxies: Mapping[str, str] | None = None,
        *,
        sockwise: Mapping[str, object] | None = None,
    ) -> requests.Response:
        """Send ``request`` with retries (requests calls this; see the class docs for the contract).

        Args:
            request: the prepared request.
            stream: leave the body to the caller (the attempt ends at the headers).
            timeout: requests' timeout (per read; the policy's timeout and deadline bound the attempt).
            verify: requests' ``verify``.
            cert: requests' ``cert``.
            proxies: requests' proxies (used on the direct route only).
            sockwise: per-request overrides (over any :func:`sockwise.requests.overrides` block).

        Raises:
            requests.RequestException: (the last attempt's type) when retries end on a failure,
                with ``.sockwise`` set.
            ConfigError: bad overrides.
        """
        overrides = current_overrides()
        if sockwise is not None:
            overrides = merge(overrides, check_overrides(sockwise, "sockwise="))
        body: object = request.body  # typed bytes | str, but a file or a generator at times
        rewind: int | None = None
        if body is not None and not isinstance(body, (bytes, str)):
            position = getattr(request, "_body_position", None)
            if hasattr(body, "seek") and isinstance(position, int):
                rewind = position
            else:
                overrides = {**overrides, **ONE_SHOT} if overrides else ONE_SHOT

        def attempt(ctx: AttemptContext) -> requests.Response:
            return self._attempt(ctx, request, stream, timeout, verify, cert, proxies, rewind)

        try:
            result = self.runner.run(
                attempt, method=request.method or "GET", host=_host_of(request.url or ""), overrides=overrides
            )
        except RequestFailed as failed:
            error = library_error(failed, request)
            if error is failed.failure.exception:
                raise error from None
            raise error from failed.failure.exception
        return result.response

    def _attempt(
        self,
        ctx: AttemptContext,
        request: requests.PreparedRequest,
        stream: bool,
        timeout: Any,
        verify: bool | str,
        cert: Any,
        proxies: Mapping[str, str] | None,
        rewind: int | None,
    ) -> requests.Response:
        if rewind is not None and ctx.number > 1:
            request.body.seek(rewind)  # type: ignore[union-attr]
        route = ctx.route
        if route != DIRECT:
            proxies = self._proxies_for(route)
        limit = ctx.timeout
        if limit is None:
            state = AttemptState(ctx, None, None)
        else:
            limit = max(limit, _SHORTEST)
            connect, read = _split_timeout(timeout)
            connect = limit if connect is None or connect > limit else connect
            read = limit if read is None or read > limit else read
            timeout = (connect, read)
            state = AttemptState(ctx, time.monotonic() + limit, read)
        local = current
        outer = local.attempt
        local.attempt = state
        try:
            # requests' own send, always streaming: the body is read below, inside the attempt.
            response = _HTTP_SEND(self, request, True, timeout, verify, cert, proxies)
            if stream:
                state.hand_over()
            else:
                ctx.phase = Phase.BODY
                response.content  # noqa: B018  # read now, inside the attempt and its deadline
            return response
        finally:
            local.attempt = outer
            manager = state.manager
            if manager is not None:
                # A streamed response's connection may still be out: a pool closed under it closes it on return.
                state.manager = None
                self._release_manager(manager)

    def close(self) -> None:
        """Close every pooled connection of every route (the adapter stays usable: pools are made anew).

        urllib3 2.8's ``PoolManager.clear()`` only forgets its pools and leaves their connections to
        the garbage collector (a response still held keeps its pool, and so its idle sockets, open);
        here each pool is closed: at once, except a proxy's that an attempt is using, which is
        closed when the last such attempt ends.
        """
        with self._proxy_lock:
            managers = [self.poolmanager, *(manager for manager in self.proxy_manager.values() if self._drop(manager))]
            self.proxy_manager.clear()
        for manager in managers:
            _close_manager(manager)

    def _proxies_for(self, proxy: Proxy) -> dict[str, str]:
        cache = self._route_proxies
        proxies = cache.get(proxy)
        if proxies is None:
            if len(cache) >= 4 * self.max_proxies:
                # Bounded like the managers (a vendor session id per request makes a new proxy each
                # time); rebuilding an entry costs a URL, so forgetting them all at once is fine.
                cache.clear()
            proxies = cache[proxy] = {"all": proxy.url}
        return proxies
