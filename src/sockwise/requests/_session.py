"""Session: a ``requests.Session`` with a :class:`RetryAdapter` mounted and a ``sockwise=`` keyword on every call."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import requests
from requests.adapters import DEFAULT_POOLBLOCK, DEFAULT_POOLSIZE

from sockwise._exceptions import ConfigError
from sockwise._model import Attempt, Proxy
from sockwise._sockopts import KeepAlive
from sockwise.requests._adapter import DEFAULT_MAX_PROXIES, RetryAdapter, SocketOption
from sockwise.requests._options import check_overrides, overrides
from sockwise.retry import RetryPolicy
from sockwise.runner import RouteProvider

__all__ = ["Session"]

_DEFAULT_KEEPALIVE = KeepAlive()
_Overrides = Mapping[str, object] | None


def _scope(sockwise: Mapping[str, object]) -> contextlib.AbstractContextManager[object]:
    return overrides(check_overrides(sockwise, "sockwise="))


class Session(requests.Session):
    """A ``requests.Session`` whose http:// and https:// requests go through one :class:`RetryAdapter`.

    Everything else is requests as usual (cookies, auth, redirects, hooks, ``raise_for_status``)::

        from sockwise import RetryPolicy
        from sockwise.requests import Session

        with Session(RetryPolicy(attempts=4, deadline=10.0)) as session:
            session.get("https://example.org/", sockwise={"retry": 5, "retry_delay": 1.0})

    Every request method (``get``, ``post``, ..., ``request``, ``send``) takes ``sockwise={...}``:
    per-request overrides of the policy (``retry``, ``retry_delay``, ``attempts``, ``deadline``,
    ``timeout``, ``idempotent``, ...). The retry budget is shared by all requests of the session.

    Args:
        policy: the retry policy (default :class:`~sockwise.RetryPolicy`).
        routes: where attempts go (direct by default; a proxy pool plugs in here).
        proxy: shorthand for one fixed proxy (a :class:`~sockwise.Proxy` or a URL).
        on_attempt: called with each :class:`~sockwise.Attempt` as it is decided.
        keepalive: TCP keepalive settings for every socket (None: off).
        socket_options: more socket options.
        pool_connections: urllib3 pools (origins) kept per pool manager.
        pool_maxsize: connections kept per pool.
        pool_block: wait for a free connection instead of opening one more.
        max_proxies: proxies whose connection pools are kept at once (least recently used closed first).
        adapter: mount this adapter instead of making one (then give none of the other arguments).

    Raises:
        ConfigError: ``adapter`` together with adapter arguments; see :class:`RetryAdapter`.
    """

    adapter: RetryAdapter

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
        adapter: RetryAdapter | None = None,
    ) -> None:
        if adapter is None:
            adapter = RetryAdapter(
                policy,
                routes=routes,
                proxy=proxy,
                on_attempt=on_attempt,
                keepalive=keepalive,
                socket_options=socket_options,
                pool_connections=pool_connections,
                pool_maxsize=pool_maxsize,
                pool_block=pool_block,
                max_proxies=max_proxies,
            )
        elif (
            policy is not None
            or routes is not None
            or proxy is not None
            or on_attempt is not None
            or keepalive is not _DEFAULT_KEEPALIVE
            or socket_options is not None
            or (pool_connections, pool_maxsize, pool_block) != (DEFAULT_POOLSIZE, DEFAULT_POOLSIZE, DEFAULT_POOLBLOCK)
            or max_proxies != DEFAULT_MAX_PROXIES
        ):
            raise ConfigError("give either adapter= or the adapter's settings (policy=, proxy=, ...), not both")
        super().__init__()
        for prefix in ("https://", "http://"):
            replaced = self.adapters.get(prefix)
            self.mount(prefix, adapter)
            if replaced is not None and replaced is not adapter:
                replaced.close()
        self.adapter = adapter

    def __repr__(self) -> str:
        return f"Session(adapter={self.adapter!r})"

    def request(
        self, method: str | bytes, url: str | bytes, *args: Any, sockwise: _Overrides = None, **kwargs: Any
    ) -> requests.Response:
        """``requests.Session.request`` with per-request overrides in ``sockwise``."""
        if sockwise is None:
            return super().request(method, url, *args, **kwargs)
        with _scope(sockwise):
            return super().request(method, url, *args, **kwargs)

    def send(
        self, request: requests.PreparedRequest, *, sockwise: _Overrides = None, **kwargs: Any
    ) -> requests.Response:
        """``requests.Session.send`` with per-request overrides in ``sockwise``."""
        if sockwise is None:
            return super().send(request, **kwargs)
        with _scope(sockwise):
            return super().send(request, **kwargs)

    def get(self, url: str | bytes, *, sockwise: _Overrides = None, **kwargs: Any) -> requests.Response:
        """``requests.Session.get`` with per-request overrides in ``sockwise``."""
        if sockwise is None:
            return super().get(url, **kwargs)
        with _scope(sockwise):
            return super().get(url, **kwargs)

    def options(self, url: str | bytes, *, sockwise: _Overrides = None, **kwargs: Any) -> requests.Response:
        """``requests.Session.options`` with per-request overrides in ``sockwise``."""
        if sockwise is None:
            return super().options(url, **kwargs)
        with _scope(sockwise):
            return super().options(url, **kwargs)

    def head(self, url: str | bytes, *, sockwise: _Overrides = None, **kwargs: Any) -> requests.Response:
        """``requests.Session.head`` with per-request overrides in ``sockwise``."""
        if sockwise is None:
            return super().head(url, **kwargs)
        with _scope(sockwise):
            return super().head(url, **kwargs)

    def post(self, url: str | bytes, *args: Any, sockwise: _Overrides = None, **kwargs: Any) -> requests.Response:
        """``requests.Session.post`` with per-request overrides in ``sockwise``."""
        if sockwise is None:
            return super().post(url, *args, **kwargs)
        with _scope(sockwise):
            return super().post(url, *args, **kwargs)

    def put(self, url: str | bytes, *args: Any, sockwise: _Overrides = None, **kwargs: Any) -> requests.Response:
        """``requests.Session.put`` with per-request overrides in ``sockwise``."""
        if sockwise is None:
            return super().put(url, *args, **kwargs)
        with _scope(sockwise):
            return super().put(url, *args, **kwargs)

    def patch(self, url: str | bytes, *args: Any, sockwise: _Overrides = None, **kwargs: Any) -> requests.Response:
        """``requests.Session.patch`` with per-request overrides in ``sockwise``."""
        if sockwise is None:
            return super().patch(url, *args, **kwargs)
        with _scope(sockwise):
            return super().patch(url, *args, **kwargs)

    def delete(self, url: str | bytes, *, sockwise: _Overrides = None, **kwargs: Any) -> requests.Response:
        """``requests.Session.delete`` with per-request overrides in ``sockwise``."""
        if sockwise is None:
            return super().delete(url, **kwargs)
        with _scope(sockwise):
            return super().delete(url, **kwargs)
