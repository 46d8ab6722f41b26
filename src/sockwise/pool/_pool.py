"""The proxy pool: proxies, a health store, the health model and a strategy, joined.

``lease(site)`` picks a proxy, ``report(proxy, site, failure, latency)`` tells the pool how the
attempt went (and ends the lease), ``release(proxy)`` ends a lease with no outcome. The pool
never refuses a lease while it has proxies: when every proxy is ejected, banned or already
tried it hands out the least bad one, because a slim chance beats a certain failure.

Choice, in order of preference:

1. available (healthy, or half-open with no request of ours on it), not banned for the site,
   not tried in this request: the strategy picks (a sticky session keeps its proxy here);
2. available and not banned, but tried already;
3. not banned: the least bad (the ejection that ends soonest, fewest failures);
4. anything: the proxy whose ban ends soonest.

Health lives in the store, keyed by ``Proxy.key`` with wall-clock times, so several processes
(SQLite) or machines (Redis) share ejections and bans; every lease reads it afresh, so an
ejection by one worker holds for the next lease of every other. In-flight counts, sticky
sessions and the one-trial rule for half-open proxies are this process's own (two processes
may each send one trial request).
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass

from sockwise._exceptions import ConfigError
from sockwise._model import Failure, Proxy
from sockwise.pool._health import (
    BanPolicy,
    HealthPolicy,
    HealthState,
    ProxyHealth,
    Verdict,
    ejection_allowed,
    judge,
    least_bad_order,
    record,
)
from sockwise.pool._parse import parse_proxy
from sockwise.pool._select import Candidate, StickySessions, Strategy, strategy_from_name
from sockwise.pool._store import HealthStore, store_from_url

__all__ = ["ProxyPool", "ProxyStatus"]

_FRESH = ProxyHealth()


@dataclass(frozen=True, slots=True)
class ProxyStatus:
    """One proxy's standing, for reports and status pages.

    Attributes:
        proxy: the proxy (its repr and str hide the password).
        health: its recorded health.
        state: healthy, ejected or half_open at the time asked.
        in_flight: requests of this process through it now.
        banned_sites: sites it is banned from, with the time each ban ends.
    """

    proxy: Proxy
    health: ProxyHealth
    state: HealthState
    in_flight: int
    banned_sites: dict[str, float]


class ProxyPool:
    """A pool of proxies that learns which ones work, per proxy and per site.

    Args:
        proxies: proxies, or strings in any format :func:`parse_proxy` reads; duplicates
            (same ``Proxy.key``) are dropped.
        store: a :class:`HealthStore` or a store URL (``memory://``, ``sqlite:///…``, ``redis://…``).
        strategy: ``least_loaded`` (power of two choices), ``round_robin``, ``random``, or a
            :class:`Strategy`.
        policy: outlier-ejection thresholds.
        bans: what bans a proxy from a site, and for how long.
        sessions: sticky sessions (and a vendor session template); one without a template is
            made when None.
        clock: wall-clock seconds (health is shared across processes, so not monotonic time).
        rng: randomness for the strategies and the ejection jitter.

    Raises:
        ConfigError: no proxies, a proxy string that does not parse, an unknown strategy.
        StoreUnavailable: a store URL that cannot be opened.
    """

    def __init__(
        self,
        proxies: Iterable[Proxy | str],
        *,
        store: HealthStore | str = "memory://",
        strategy: Strategy | str = "least_loaded",
        policy: HealthPolicy | None = None,
        bans: BanPolicy | None = None,
        sessions: StickySessions | None = None,
        clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
    ) -> None:
        unique: dict[str, Proxy] = {}
        for item in proxies:
            proxy = parse_proxy(item) if isinstance(item, str) else item
            unique.setdefault(proxy.key, proxy)
        if not unique:
            raise ConfigError("the proxy pool is empty; give at least one proxy (e.g. http://10.0.0.1:8080)")
        self._proxies: tuple[Proxy, ...] = tuple(unique.values())
        self._keys: tuple[str, ...] = tuple(unique)
        self._by_key = unique
        self._index = {key: i for i, key in enumerate(self._keys)}
        self.store: HealthStore = store_from_url(store) if isinstance(store, str) else store
        self.strategy: Strategy = strategy_from_name(strategy) if isinstance(strategy, str) else strategy
        self.policy = policy or HealthPolicy()
        self.ban_policy = bans or BanPolicy()
        self.sessions = sessions or StickySessions()
        self._clock = clock
        self._rng = rng or random.Random()
        self._lock = threading.Lock()
        self._in_flight: dict[str, int] = {}

    @property
    def proxies(self) -> tuple[Proxy, ...]:
        """The pool's proxies, in list order."""
        return self._proxies

    def __len__(self) -> int:
        return len(self._proxies)

    def __repr__(self) -> str:
        return f"<ProxyPool {len(self._proxies)} proxies, store={self.store.url}, strategy={self.strategy.name}>"

    def lease(self, site: str, *, exclude: Collection[str] = (), key: str | None = None) -> Proxy:
        """Pick a proxy for one attempt at ``site``.

        Args:
            site: the host the request goes to (bans are per site).
            exclude: ``Proxy.key`` of proxies already tried in this request.
            key: a sticky-session key: the same key gets the same proxy until it fails or is
                banned for the site.

        Returns:
            The proxy to use (with a vendor session username when the sessions have a template).
            The lease ends with :meth:`report` or :meth:`release`.

        Raises:
            StoreUnavailable: the store cannot be read.
        """
        site = _site(site)
        now = self._clock()
        healths = self.store.read_many(self._keys)
        banned = self.store.bans(site, now=now) if site else {}
        with self._lock:
            tried = {self._base_key(k) for k in exclude}
            base = self._choose(now, healths, banned, tried, key)
            self._in_flight[base.key] = self._in_flight.get(base.key, 0) + 1
            if key is not None:
                return self.sessions.session_proxy(base, key)
            return base

    def report(self, proxy: Proxy, site: str | None, failure: Failure | None, latency: float | None) -> ProxyHealth:
        """Tell the pool how an attempt through a leased proxy went, and end the lease.

        Only proxy-blamed failures count against the proxy; origin-blamed ones show the proxy
        worked; local, network and unknown ones are ignored. A ban-worthy outcome (403/429 by
        default) bans the proxy from ``site`` only.

        Args:
            proxy: the proxy :meth:`lease` returned.
            site: the site of the request (None: no ban is possible).
            failure: the classified failure, or None for a success.
            latency: seconds the attempt took, or None.

        Returns:
            The proxy's health after the outcome.

        Raises:
            StoreUnavailable: the store cannot be written.
        """
        self.release(proxy)
        return self._record(proxy, site, failure, latency)

    def probe(self, proxy: Proxy, failure: Failure | None, latency: float | None) -> ProxyHealth:
        """Record the outcome of a health probe (not a leased request): it may restore a half-open proxy."""
        return self._record(proxy, None, failure, latency)

    def release(self, proxy: Proxy) -> None:
        """End a lease without an outcome (the request was cancelled)."""
        base = self._base_key(proxy.key)
        with self._lock:
            count = self._in_flight.get(base, 0)
            if count > 1:
                self._in_flight[base] = count - 1
            else:
                self._in_flight.pop(base, None)

    def in_flight(self, proxy: Proxy) -> int:
        """Leases of this process on a proxy now."""
        with self._lock:
            return self._in_flight.get(self._base_key(proxy.key), 0)

    def status(self) -> list[ProxyStatus]:
        """Every proxy's standing now, in list order.

        Raises:
            StoreUnavailable: the store cannot be read.
        """
        now = self._clock()
        healths = self.store.read_many(self._keys)
        bans: dict[str, dict[str, float]] = {}
        for ban in self.store.list_bans(now=now):
            bans.setdefault(ban.key, {})[ban.site] = ban.until
        with self._lock:
            flights = dict(self._in_flight)
        return [
            ProxyStatus(
                proxy=p,
                health=healths.get(p.key, _FRESH),
                state=healths.get(p.key, _FRESH).state(now),
                in_flight=flights.get(p.key, 0),
                banned_sites=bans.get(p.key, {}),
            )
            for p in self._proxies
        ]

    def _base_key(self, proxy_key: str) -> str:
        if proxy_key in self._by_key:
            return proxy_key
        session = self.sessions.base_of(proxy_key)
        return session[0] if session is not None else proxy_key

    def _record(self, proxy: Proxy, site: str | None, failure: Failure | None, latency: float | None) -> ProxyHealth:
        now = self._clock()
        base = self._base_key(proxy.key)
        session = self.sessions.base_of(proxy.key)
        verdict = judge(failure)
        site = _site(site) if site else ""
        banned = bool(site) and self.ban_policy.bans(failure)
        if banned:
            self.store.set_ban(proxy.key, site, now + self.ban_policy.cooldown, now=now)
        if verdict is Verdict.PROXY_FAILURE or banned:
            with self._lock:
                if session is not None:
                    self.sessions.rotate(session[1])
                else:
                    self.sessions.forget_proxy(base)
        if verdict is Verdict.IGNORED:
            return self.store.read_many([base]).get(base, _FRESH)
        may_eject = True
        if verdict is Verdict.PROXY_FAILURE:
            healths = self.store.read_many(self._keys)
            keys: Sequence[str] = self._keys if base in self._by_key else (*self._keys, base)
            may_eject = ejection_allowed(base, keys, healths, now=now, policy=self.policy)
        rand = self._rng.random()
        policy = self.policy

        def step(health: ProxyHealth) -> ProxyHealth:
            return record(health, failure, latency, now=now, policy=policy, rand=rand, may_eject=may_eject)

        return self.store.update(base, step)

    def _choose(
        self,
        now: float,
        healths: dict[str, ProxyHealth],
        banned: dict[str, float],
        tried: set[str],
        key: str | None,
    ) -> Proxy:
        fresh: list[Proxy] = []
        retry: list[Proxy] = []
        for proxy in self._proxies:
            if proxy.key in banned or not self._available(proxy.key, healths, now):
                continue
            (retry if proxy.key in tried else fresh).append(proxy)
        if key is not None:
            bound = self.sessions.bound(key)
            if bound is not None and any(p.key == bound for p in fresh):
                return self._by_key[bound]
        for group in (fresh, retry):
            if group:
                chosen = self._by_key[self.strategy.choose(self._candidates(group, healths), self._rng).key]
                if key is not None:
                    self.sessions.bind(key, chosen.key)
                return chosen
        unbanned = [p for p in self._proxies if p.key not in banned]
        if unbanned:
            return min(
                unbanned,
                key=lambda p: (
                    p.key in tried,
                    least_bad_order(healths.get(p.key, _FRESH), now, self.policy),
                    self._in_flight.get(p.key, 0),
                    self._index[p.key],
                ),
            )
        return min(self._proxies, key=lambda p: (banned[p.key], self._index[p.key]))

    def _available(self, proxy_key: str, healths: dict[str, ProxyHealth], now: float) -> bool:
        state = healths.get(proxy_key, _FRESH).state(now)
        if state is HealthState.HEALTHY:
            return True
        # Half-open: one request of ours decides; more would all fail together if it is still dead.
        return state is HealthState.HALF_OPEN and self._in_flight.get(proxy_key, 0) == 0

    def _candidates(self, group: list[Proxy], healths: dict[str, ProxyHealth]) -> list[Candidate]:
        return [
            Candidate(
                index=self._index[p.key],
                key=p.key,
                in_flight=self._in_flight.get(p.key, 0),
                latency=healths.get(p.key, _FRESH).latency_ewma,
            )
            for p in group
        ]


def _site(site: str) -> str:
    return site.strip().lower().rstrip(".")
