"""Where proxy health and per-site bans live: one Protocol, several backends.

The ejection math lives once, in :mod:`sockwise.pool._health`; a store only offers an atomic
read-modify-write (``update``) that runs that pure step inside its own transaction (a lock,
a SQLite ``BEGIN IMMEDIATE``, a Redis ``WATCH``/``MULTI``), plus reads and bans.

================  ================================================================
URL               backend
================  ================================================================
``memory://``     this process only, gone at exit
``sqlite:///p``   a file (relative ``p``; ``sqlite:////abs/p`` absolute): WAL, several
                  processes on one machine, survives restarts
``redis://h:p/n`` shared by workers on many machines (``rediss://`` for TLS);
                  ``?prefix=`` namespaces the keys, ``?timeout=`` seconds to connect
================  ================================================================
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable
from urllib.parse import urlsplit, urlunsplit

from sockwise._exceptions import ConfigError
from sockwise.pool._health import ProxyHealth

__all__ = ["Ban", "HealthStore", "redact_url", "store_from_url"]


@dataclass(frozen=True, slots=True, order=True)
class Ban:
    """A proxy banned from one site until a time.

    Attributes:
        key: the proxy's ``Proxy.key``.
        site: the site (host) it is banned from.
        until: wall-clock time the ban ends.
    """

    key: str
    site: str
    until: float


@runtime_checkable
class HealthStore(Protocol):
    """The few atomic operations a proxy pool needs from a store.

    Every method may raise :class:`sockwise.StoreUnavailable` (naming the URL, password
    redacted, and the fix) when the backend cannot be reached or written.
    """

    @property
    def url(self) -> str:
        """The store's URL with any password redacted."""
        ...

    def update(self, key: str, step: Callable[[ProxyHealth], ProxyHealth]) -> ProxyHealth:
        """Atomically replace a proxy's health by ``step(current)`` and return the new value.

        ``step`` must be pure: a backend may call it again when another writer got in first.
        A proxy never seen before starts from ``ProxyHealth()``.
        """
        ...

    def read_many(self, keys: Sequence[str]) -> dict[str, ProxyHealth]:
        """The health of the given proxies; keys never recorded are left out."""
        ...

    def set_ban(self, key: str, site: str, until: float, *, now: float) -> None:
        """Ban a proxy from a site until ``until`` (a longer ban already there is kept)."""
        ...

    def clear_ban(self, key: str, site: str) -> None:
        """Lift a ban (no error when there is none)."""
        ...

    def bans(self, site: str, *, now: float) -> dict[str, float]:
        """The proxies banned from ``site`` at ``now``, with the time each ban ends."""
        ...

    def list_health(self) -> dict[str, ProxyHealth]:
        """Every proxy's recorded health."""
        ...

    def list_bans(self, *, now: float) -> list[Ban]:
        """Every ban in force at ``now``."""
        ...

    def clear(self) -> None:
        """Forget every health record and ban of this store (its prefix only, for Redis)."""
        ...

    def close(self) -> None:
        """Release connections; the store is not used afterwards."""
        ...


def redact_url(url: str) -> str:
    """The URL with its password (if any) replaced by ``***``."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparsable store URL>"
    if parts.password is None:
        return url
    netloc = parts.netloc.rpartition("@")[2]
    user = parts.username or ""
    return urlunsplit((parts.scheme, f"{user}:***@{netloc}", parts.path, parts.query, parts.fragment))


def store_from_url(url: str) -> HealthStore:
    """Open a store from its URL.

    Args:
        url: ``memory://``, ``sqlite:///relative.db``, ``sqlite:////abs/path.db``,
            ``redis://[:password@]host:port/db[?prefix=sockwise:&timeout=2]`` or ``rediss://``.

    Returns:
        An open store, already checked to be reachable and writable.

    Raises:
        ConfigError: the URL names no known backend or is malformed.
        StoreUnavailable: the store cannot be reached or written (the message says why and
            how to fix it; the password is redacted).
    """
    shown = redact_url(url)
    scheme = url.partition("://")[0].lower() if "://" in url else ""
    if scheme == "memory":
        from sockwise.pool._memory import MemoryStore

        return MemoryStore()
    if scheme == "sqlite":
        from sockwise.pool._sqlite import SQLiteStore

        return SQLiteStore.from_url(url)
    if scheme in ("redis", "rediss", "unix"):
        from sockwise.pool._redis import RedisStore

        return RedisStore.from_url(url)
    raise ConfigError(
        f"store URL {shown!r} names no known store; use memory://, sqlite:///path/to/health.db or redis://host:6379/0"
    )
