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

``?cache=SECONDS`` on any of them (``sqlite:///h.db?cache=0.05``) puts a
:class:`~sockwise.pool.CachedStore` in front: calls answer from memory, writes go to the
backend from a background thread, and the memory is read afresh every SECONDS. Use it when a
pool serves an event loop: no lease or report then waits for the disk or the network. Other
processes see this one's ejections within about SECONDS plus a few ms, instead of at their next
lease. ``cache=0`` (or ``off``) keeps the plain store.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable
from urllib.parse import parse_qsl, unquote, unquote_plus, urlsplit, urlunsplit

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
    """The URL with its secrets replaced by ``***``: the password, and query options such as ``?password=``.

    A query option counts as secret when its name (any case) contains ``pass``, ``pwd``,
    ``secret`` or ``token`` (redis-py takes ``redis://host/0?password=...``). The rest of the URL
    is kept as written.
    """
    try:
        parts = urlsplit(url)
        has_password = parts.password is not None
    except ValueError:
        return "<unparsable store URL>"
    if has_password:
        netloc = f"{parts.username or ''}:***@{parts.netloc.rpartition('@')[2]}"
        url = urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))
    # As urlsplit reads it: the fragment first, then the query. Split by hand, so that the rest
    # stays as written (urlunsplit would turn unix:///path into unix:/path).
    head, hash_mark, fragment = url.partition("#")
    base, mark, query = head.partition("?")
    if not query:
        return url
    return base + mark + "&".join(_redact_option(item) for item in query.split("&")) + hash_mark + fragment


_SECRET_WORDS = ("pass", "pwd", "secret", "token")


def _redact_option(item: str) -> str:
    """One ``name=value`` of a query, its value hidden when the name says it is a secret."""
    name, mark, _ = item.partition("=")
    if mark and any(word in unquote_plus(name).lower() for word in _SECRET_WORDS):
        return f"{name}=***"
    return item


def store_from_url(url: str) -> HealthStore:
    """Open a store from its URL.

    Args:
        url: ``memory://``, ``sqlite:///relative.db``, ``sqlite:////abs/path.db``,
            ``redis://[:password@]host:port/db[?prefix=sockwise:&timeout=2]`` or ``rediss://``;
            any of them with ``cache=SECONDS`` in the query for a :class:`CachedStore` in front
            of it that reads the backend every SECONDS (``cache=0``: no cache).

    Returns:
        An open store, already checked to be reachable and writable.

    Raises:
        ConfigError: the URL names no known backend or is malformed.
        StoreUnavailable: the store cannot be reached or written (the message says why and
            how to fix it; the password is redacted).
    """
    shown = redact_url(url)
    backend_url, refresh = _split_cache(url, shown)
    store = _open_backend(backend_url, shown)
    if refresh is None:
        return store
    from sockwise.pool._cached import CachedStore

    try:
        return CachedStore(store, refresh=refresh, url=shown)
    except BaseException:
        store.close()
        raise


_OFF = ("0", "off", "no", "false")


def _split_cache(url: str, shown: str) -> tuple[str, float | None]:
    """The URL without its ``cache=`` option, and that option's seconds (None: no cache)."""
    base, mark, rest = url.partition("?")
    if not mark:
        return url, None
    query, hash_mark, fragment = rest.partition("#")
    # The other options are kept as written (not re-encoded), so messages show them as given.
    items = [item for item in query.split("&") if item]
    values = [value for name, value in parse_qsl(query, keep_blank_values=True) if name == "cache"]
    if not values:
        return url, None
    kept = "&".join(item for item in items if unquote(item.partition("=")[0]) != "cache")
    backend_url = base + (f"?{kept}" if kept else "") + hash_mark + fragment
    value = values[-1].strip().lower()
    if value in _OFF:
        return backend_url, None
    try:
        seconds = float(value)
    except ValueError:
        seconds = math.nan
    if not (math.isfinite(seconds) and seconds > 0):
        raise ConfigError(
            f"store URL {shown!r}: cache={values[-1]!r} is not a number of seconds; "
            "write cache=0.05 (read the store every 50 ms) or cache=0 (no cache)"
        )
    return backend_url, seconds


def _open_backend(url: str, shown: str) -> HealthStore:
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
