"""The in-process store: dictionaries behind a lock. ``memory://``."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence

from sockwise.pool._health import ProxyHealth
from sockwise.pool._store import Ban

__all__ = ["MemoryStore"]


class MemoryStore:
    """Health and bans in this process only; share one instance to share state between pools."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._health: dict[str, ProxyHealth] = {}
        self._bans: dict[tuple[str, str], float] = {}

    @property
    def url(self) -> str:
        """``memory://``."""
        return "memory://"

    def update(self, key: str, step: Callable[[ProxyHealth], ProxyHealth]) -> ProxyHealth:
        """Replace a proxy's health by ``step(current)`` under the lock."""
        with self._lock:
            new = step(self._health.get(key, ProxyHealth()))
            self._health[key] = new
            return new

    def read_many(self, keys: Sequence[str]) -> dict[str, ProxyHealth]:
        """The recorded health of the given proxies."""
        with self._lock:
            return {k: self._health[k] for k in keys if k in self._health}

    def set_ban(self, key: str, site: str, until: float, *, now: float) -> None:
        """Ban a proxy from a site until ``until``, keeping a longer ban."""
        with self._lock:
            self._drop_expired(now)
            self._bans[(key, site)] = max(until, self._bans.get((key, site), until))

    def clear_ban(self, key: str, site: str) -> None:
        """Lift a ban."""
        with self._lock:
            self._bans.pop((key, site), None)

    def bans(self, site: str, *, now: float) -> dict[str, float]:
        """Proxies banned from ``site`` at ``now``."""
        with self._lock:
            return {k: until for (k, s), until in self._bans.items() if s == site and until > now}

    def list_health(self) -> dict[str, ProxyHealth]:
        """Every recorded health."""
        with self._lock:
            return dict(self._health)

    def list_bans(self, *, now: float) -> list[Ban]:
        """Every ban in force."""
        with self._lock:
            return sorted(Ban(k, s, until) for (k, s), until in self._bans.items() if until > now)

    def clear(self) -> None:
        """Forget everything."""
        with self._lock:
            self._health.clear()
            self._bans.clear()

    def close(self) -> None:
        """Nothing to release."""

    def _drop_expired(self, now: float) -> None:
        # Bounded memory for long runs: expired bans go when a new one comes in.
        expired = [k for k, until in self._bans.items() if until <= now]
        for k in expired:
            del self._bans[k]
