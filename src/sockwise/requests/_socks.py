"""SOCKS proxies for the requests adapter, through python-socks (requests' own SOCKS support needs PySocks).

A SOCKS route gets a urllib3 ``PoolManager`` whose connections open their socket through the proxy
with python-socks' synchronous client, then carry on as urllib3 connections (TLS to the origin,
keep-alive, the attempt's phase and deadline). A failure before the tunnel is up is raised as
urllib3's ``ProxyError`` (requests turns it into ``requests.exceptions.ProxyError``, a
``ConnectionError``), caused by python-socks' own exception so the classifier reads the SOCKS reply.
"""

from __future__ import annotations

import socket
from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote

from urllib3 import PoolManager
from urllib3.connection import HTTPConnection
from urllib3.exceptions import ProxyError
from urllib3.util import Timeout, parse_url

from sockwise._exceptions import ConfigError
from sockwise._model import Phase
from sockwise.requests._connection import (
    TrackedHTTPConnection,
    TrackedHTTPConnectionPool,
    TrackedHTTPSConnection,
    TrackedHTTPSConnectionPool,
    after_connect,
    current,
)

__all__ = ["SOCKS_SCHEMES", "SocksPoolManager", "socks_proxy"]

#: scheme -> (SOCKS version, resolve the host name at the proxy)
SOCKS_SCHEMES: dict[str, tuple[int, bool]] = {
    "socks4": (4, False),
    "socks4a": (4, True),
    "socks5": (5, False),
    "socks5h": (5, True),
}
_PROXY_CONNECT_TIMEOUT = 60.0  # python-socks' own default, used when urllib3 has no timeout


def socks_proxy(url: str) -> Any:
    """A python-socks synchronous proxy for a ``socks4://``, ``socks4a://``, ``socks5://`` or ``socks5h://`` URL.

    Raises:
        ConfigError: python-socks is missing, or the URL has no host or port (credentials never shown).
    """
    parsed = parse_url(url)
    scheme = (parsed.scheme or "").lower()
    redacted = f"{scheme}://{parsed.host}:{parsed.port}"
    if scheme not in SOCKS_SCHEMES:
        raise ConfigError(f"{redacted} is not a SOCKS proxy URL; use socks4, socks4a, socks5 or socks5h")
    if not parsed.host or parsed.port is None:
        raise ConfigError(f"the SOCKS proxy URL {redacted} needs a host and a port, e.g. socks5://127.0.0.1:1080")
    try:
        from python_socks import ProxyType
        from python_socks.sync import Proxy
    except ImportError:  # pragma: no cover - python-socks is part of the requests extra
        raise ConfigError(f"the SOCKS proxy {redacted} needs python-socks: pip install 'sockwise[requests]'") from None
    version, remote_dns = SOCKS_SCHEMES[scheme]
    username = password = None
    if parsed.auth:
        user, _, secret = parsed.auth.partition(":")
        username, password = unquote(user), unquote(secret)
    return Proxy(
        ProxyType.SOCKS4 if version == 4 else ProxyType.SOCKS5,
        parsed.host.strip("[]"),
        parsed.port,
        username=username,
        password=password,
        rdns=remote_dns,
    )


def _connect(conn: HTTPConnection, proxy: Any) -> socket.socket:
    import python_socks

    attempt = current.attempt
    ctx = attempt.ctx if attempt is not None else None
    if ctx is not None:
        ctx.phase = Phase.PROXY_CONNECT
    timeout = Timeout.resolve_default_timeout(conn.timeout)
    try:
        sock: socket.socket = proxy.connect(
            conn._dns_host,  # urllib3's host as given (IPv6 without brackets)
            conn.port,
            timeout=_PROXY_CONNECT_TIMEOUT if timeout is None else timeout,
        )
    except python_socks.ProxyConnectionError as exc:
        raise ProxyError("Unable to connect to proxy", exc) from exc
    except (python_socks.ProxyError, python_socks.ProxyTimeoutError, OSError) as exc:
        # The TCP connection to the proxy was up: the SOCKS handshake failed.
        if ctx is not None:
            ctx.phase = Phase.PROXY_HANDSHAKE
        raise ProxyError("Unable to connect to proxy", exc) from exc
    try:
        for level, name, value in conn.socket_options or ():
            sock.setsockopt(level, name, value)
        sock.settimeout(timeout)
    except OSError:
        sock.close()
        raise
    if ctx is not None:
        after_connect(conn, ctx)
    return sock


class SocksHTTPConnection(TrackedHTTPConnection):
    """A tracked urllib3 connection whose socket is opened through a SOCKS proxy."""

    def __init__(self, *args: Any, _socks_options: Mapping[str, Any], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._socks_proxy = _socks_options["proxy"]

    def _new_conn(self) -> socket.socket:
        return _connect(self, self._socks_proxy)


class SocksHTTPSConnection(SocksHTTPConnection, TrackedHTTPSConnection):
    """The HTTPS flavour: TLS to the origin runs inside the SOCKS tunnel."""


class SocksHTTPConnectionPool(TrackedHTTPConnectionPool):
    """A pool of :class:`SocksHTTPConnection`."""

    ConnectionCls = SocksHTTPConnection


class SocksHTTPSConnectionPool(TrackedHTTPSConnectionPool):
    """A pool of :class:`SocksHTTPSConnection`."""

    ConnectionCls = SocksHTTPSConnection


class SocksPoolManager(PoolManager):
    """A ``PoolManager`` whose connections go through one SOCKS proxy (a pool per origin, as usual).

    Args:
        proxy_url: the SOCKS proxy URL (credentials in it are used, never shown).
        num_pools: origins kept at once.
        **connection_pool_kw: urllib3 pool arguments (``maxsize``, ``block``, ``socket_options``, ...).

    Raises:
        ConfigError: see :func:`socks_proxy`.
    """

    def __init__(self, proxy_url: str, num_pools: int = 10, **connection_pool_kw: Any) -> None:
        super().__init__(num_pools=num_pools, _socks_options={"proxy": socks_proxy(proxy_url)}, **connection_pool_kw)
        self.pool_classes_by_scheme = {"http": SocksHTTPConnectionPool, "https": SocksHTTPSConnectionPool}
