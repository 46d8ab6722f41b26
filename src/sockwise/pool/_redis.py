"""The Redis store: health shared by workers on many machines.

``redis://[:password@]host:6379/0?prefix=sockwise:&timeout=2`` (``rediss://`` for TLS). Keys,
under the prefix::

    {prefix}h:{proxy key}   the health as JSON, with a TTL (idle proxies are forgotten)
    {prefix}keys            a set: every proxy key recorded (for listing)
    {prefix}b:{site}        a hash: proxy key -> wall-clock time its ban ends; the hash expires
                            with its last ban
    {prefix}sites           a set: sites with bans (for listing)

A health update is a read-modify-write under ``WATCH``/``MULTI``: the pure step of
:mod:`sockwise.pool._health` runs in Python, and the write only lands if no other worker wrote
the proxy in between (else it runs again on the newer value). The ejection math is never
duplicated in Lua. A ban is one small Lua script (keep the later end, extend the TTL).

Times in the store are the workers' wall clocks: keep the machines' clocks in sync (NTP).
redis-py is imported only when a Redis store is opened.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

from sockwise._exceptions import ConfigError, StoreUnavailable
from sockwise.pool._health import ProxyHealth, decode_health, encode_health
from sockwise.pool._store import Ban, redact_url

if TYPE_CHECKING:
    import redis

__all__ = ["RedisStore"]

_BAN_SCRIPT = """
local current = tonumber(redis.call('HGET', KEYS[1], ARGV[1]) or '0')
local untl = tonumber(ARGV[2])
if untl > current then redis.call('HSET', KEYS[1], ARGV[1], ARGV[2]) end
local all = redis.call('HGETALL', KEYS[1])
local now = tonumber(ARGV[4])
for i = 1, #all, 2 do
  if tonumber(all[i + 1]) <= now then redis.call('HDEL', KEYS[1], all[i]) end
end
local ttl = tonumber(ARGV[3])
if redis.call('PTTL', KEYS[1]) < ttl then redis.call('PEXPIRE', KEYS[1], ttl) end
redis.call('SADD', KEYS[2], ARGV[5])
return 1
"""
_OWN_QUERY = ("prefix", "timeout", "health_ttl")


def _explain(exc: Exception, where: str) -> tuple[str, str]:
    """Why a Redis call failed and the fix, from a table most specific first."""
    import redis.exceptions as rex

    table: tuple[tuple[type[Exception], str, str], ...] = (
        (rex.AuthenticationError, "authentication failed", "check the user and password in the URL"),
        (rex.AuthorizationError, "the user may not run the commands needed", "grant it, or use another user"),
        (rex.NoPermissionError, "the user may not run the commands needed", "grant it, or use another user"),
        (rex.BusyLoadingError, "Redis is still loading its data set", "wait until it has started, then retry"),
        (rex.TimeoutError, f"no answer from {where} in time", "check the server and the network, or raise ?timeout="),
        (
            rex.ConnectionError,
            f"cannot connect to {where}",
            f"start redis-server there (redis-server --port {where.rpartition(':')[2]}) or fix the URL",
        ),
        (rex.ReadOnlyError, "the server is a read-only replica", "point the URL at the primary"),
        (rex.OutOfMemoryError, "Redis is out of memory (maxmemory)", "raise maxmemory or free keys"),
        (TimeoutError, f"no answer from {where} in time", "check the server and the network, or raise ?timeout="),
        (OSError, f"cannot connect to {where}", "check the host and port in the URL"),
    )
    for kind, why, fix in table:
        if isinstance(exc, kind):
            return why, fix
    text = str(exc)
    if "NOAUTH" in text:
        return "the server wants a password", "put it in the URL: redis://:PASSWORD@host:port/0"
    if "MISCONF" in text:
        return "Redis cannot save its data (disk full?)", "free disk space on the Redis server"
    return f"Redis failed ({type(exc).__name__})", "check the server's log"


class RedisStore:
    """Health and bans in Redis, shared by every worker that uses the same URL and prefix.

    Args:
        client: a ``redis.Redis`` client (bytes responses).
        url: the URL for messages (redacted here).
        prefix: put before every key, so several pools can share one database.
        health_ttl: seconds an untouched health record is kept.
        max_retries: optimistic-transaction retries under contention before giving up.
    """

    def __init__(
        self,
        client: redis.Redis,
        *,
        url: str = "redis://",
        prefix: str = "sockwise:",
        health_ttl: float = 7 * 24 * 3600.0,
        max_retries: int = 100,
    ) -> None:
        self._client = client
        self._url = redact_url(url)
        self.prefix = prefix
        self.health_ttl = health_ttl
        self.max_retries = max_retries
        self._ban_script: Any = client.register_script(_BAN_SCRIPT)
        kwargs = client.connection_pool.connection_kwargs
        self._where = (
            str(kwargs.get("path"))
            if kwargs.get("path")
            else f"{kwargs.get('host', 'localhost')}:{kwargs.get('port', 6379)}"
        )

    @classmethod
    def from_url(cls, url: str) -> RedisStore:
        """Open and check (PING) a Redis store.

        Args:
            url: ``redis://[[user]:password@]host[:port][/db][?prefix=…&timeout=…&health_ttl=…]``.

        Raises:
            ConfigError: the URL does not parse or has a bad option.
            StoreUnavailable: the server cannot be reached or refuses us.
        """
        try:
            import redis
            from redis.backoff import ExponentialBackoff
            from redis.retry import Retry
        except ImportError:
            raise ConfigError(
                f"store URL {redact_url(url)!r} needs redis-py; install it: pip install 'sockwise[redis]'"
            ) from None
        shown = redact_url(url)
        try:
            parts = urlsplit(url)
            query = parse_qs(parts.query, keep_blank_values=True)
        except ValueError:
            raise ConfigError(f"store URL {shown!r} does not parse; write redis://host:6379/0") from None
        own = {name: query.pop(name)[-1] for name in _OWN_QUERY if name in query}
        try:
            timeout = float(own.get("timeout", "2"))
            health_ttl = float(own.get("health_ttl", str(7 * 24 * 3600)))
        except ValueError:
            raise ConfigError(f"store URL {shown!r}: timeout and health_ttl are numbers of seconds") from None
        prefix = own.get("prefix", "sockwise:")
        rest = urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query, doseq=True), parts.fragment))
        try:
            client = redis.Redis.from_url(
                rest,
                socket_connect_timeout=timeout,
                socket_timeout=timeout,
                # A dropped idle connection is retried briefly; a dead server fails fast.
                retry=Retry(ExponentialBackoff(cap=0.2, base=0.02), 2),
            )
        except (ValueError, TypeError) as exc:
            raise ConfigError(f"store URL {shown!r} is not a Redis URL ({exc}); write redis://host:6379/0") from None
        store = cls(client, url=url, prefix=prefix, health_ttl=health_ttl)
        with store._guard():
            client.ping()
        return store

    @property
    def url(self) -> str:
        """The URL, password redacted."""
        return self._url

    @contextmanager
    def _guard(self) -> Iterator[None]:
        import redis.exceptions as rex

        try:
            yield
        except (rex.RedisError, OSError) as exc:
            if isinstance(exc, rex.WatchError):
                raise
            why, fix = _explain(exc, self._where)
            raise StoreUnavailable(f"Redis store {self._url}: {why}; {fix}", url=self._url) from exc

    def _hkey(self, key: str) -> str:
        return f"{self.prefix}h:{key}"

    def _bkey(self, site: str) -> str:
        return f"{self.prefix}b:{site}"

    def update(self, key: str, step: Callable[[ProxyHealth], ProxyHealth]) -> ProxyHealth:
        """Replace a proxy's health by ``step(current)`` under WATCH/MULTI (``step`` may run again)."""
        import redis.exceptions as rex

        hkey = self._hkey(key)
        ttl_ms = max(1, int(self.health_ttl * 1000))
        with self._guard(), self._client.pipeline(transaction=True) as pipe:
            for _ in range(self.max_retries):
                try:
                    pipe.watch(hkey)  # type: ignore[no-untyped-call]
                    new = step(decode_health(pipe.get(hkey)))
                    pipe.multi()
                    pipe.set(hkey, encode_health(new), px=ttl_ms)
                    pipe.sadd(f"{self.prefix}keys", key)
                    pipe.execute()
                    return new
                except rex.WatchError:
                    continue
        raise StoreUnavailable(
            f"Redis store {self._url}: proxy health kept changing under {self.max_retries} tries; "
            "too many workers on too few proxies? add proxies or workers' backoff",
            url=self._url,
        )

    def read_many(self, keys: Sequence[str]) -> dict[str, ProxyHealth]:
        """The recorded health of the given proxies (one MGET)."""
        if not keys:
            return {}
        with self._guard():
            raw = self._client.mget([self._hkey(k) for k in keys])
        return {k: decode_health(v) for k, v in zip(keys, raw, strict=True) if v is not None}

    def set_ban(self, key: str, site: str, until: float, *, now: float) -> None:
        """Ban a proxy from a site until ``until``; the site's hash expires with its last ban."""
        ttl_ms = max(1, int((until - now) * 1000) + 1000)
        with self._guard():
            self._ban_script(
                keys=[self._bkey(site), f"{self.prefix}sites"],
                args=[key, repr(float(until)), ttl_ms, repr(float(now)), site],
            )

    def clear_ban(self, key: str, site: str) -> None:
        """Lift a ban."""
        with self._guard():
            self._client.hdel(self._bkey(site), key)

    def bans(self, site: str, *, now: float) -> dict[str, float]:
        """Proxies banned from ``site`` at ``now``."""
        with self._guard():
            raw = self._client.hgetall(self._bkey(site))
        return {k: until for k, until in _decode_bans(raw).items() if until > now}

    def list_health(self) -> dict[str, ProxyHealth]:
        """Every recorded health still in Redis."""
        with self._guard():
            keys = sorted(_text(k) for k in self._client.smembers(f"{self.prefix}keys"))
        return self.read_many(keys)

    def list_bans(self, *, now: float) -> list[Ban]:
        """Every ban in force."""
        with self._guard():
            sites = sorted(_text(s) for s in self._client.smembers(f"{self.prefix}sites"))
            pipe = self._client.pipeline(transaction=False)
            for site in sites:
                pipe.hgetall(self._bkey(site))
            hashes = pipe.execute()
        found = [
            Ban(key, site, until)
            for site, raw in zip(sites, hashes, strict=True)
            for key, until in _decode_bans(raw).items()
            if until > now
        ]
        return sorted(found)

    def clear(self) -> None:
        """Delete every key under this store's prefix."""
        with self._guard():
            doomed = list(self._client.scan_iter(match=_glob_escape(self.prefix) + "*", count=500))
            for start in range(0, len(doomed), 500):
                self._client.delete(*doomed[start : start + 500])

    def close(self) -> None:
        """Close the client's connections."""
        self._client.close()


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _decode_bans(raw: dict[Any, Any]) -> dict[str, float]:
    bans: dict[str, float] = {}
    for key, value in raw.items():
        try:
            bans[_text(key)] = float(_text(value))
        except ValueError:
            continue
    return bans


def _glob_escape(text: str) -> str:
    return "".join("\\" + ch if ch in "*?[]\\" else ch for ch in text)
