"""The proxy pool: proxies, a health store, the health model and a strategy, joined.

``lease(site)`` picks a proxy, ``report(proxy, site, failure, latency)`` tells the pool how the
attempt went (and ends the lease), ``release(proxy)`` ends a lease with no outcome. The pool
never refuses a lease while it has proxies: when every proxy is ejected, banned or already
tried it hands out the least bad one, because a slim chance beats a certain failure.

Choice, in order of preference:

1. available (healthy, or half-open with no request of ours on it), not banned for the site,
   not tried in this request: the strategy picks (a sticky session keeps its proxy here);
2. available and not banned, but tried already;
3. not banned: the least bad (not tried, healthy before half-open before ejected, fewest
   requests in flight, then the ejection that ends soonest, fewest failures);
4. anything: the proxy whose ban ends soonest.

The default strategy prices a proxy by its latency estimate and by this process's requests in
flight through it, including how long the oldest of them has been waiting (see
:func:`~sockwise.pool.load_cost`): a proxy that swallows requests stops getting new ones as soon
as it holds one for longer than its peers take to answer, long before the timeouts that eject it
come back. A latency estimate not fed for a while drifts back toward the pool's typical latency
(:func:`~sockwise.pool.decay_latency`), so a proxy once slow is tried again.

Health lives in the store, keyed by ``Proxy.key`` with wall-clock times, so several processes
(SQLite) or machines (Redis) share ejections and bans; every lease reads it afresh, so an
ejection by one worker holds for the next lease of every other. Leases in flight (with the
monotonic time each began), sticky sessions and the one-trial rule for half-open proxies are
this process's own (two processes may each send one trial request).

:meth:`ProxyPool.has_untried` answers from what the last lease read, patched by this process's
own reports since, without reading the store: a retry loop asks it after every failure.
"""

from __future__ import annotations

import bisect
import math
import random
import statistics
import threading
import time
from collections import OrderedDict
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
_SITES_REMEMBERED = 1024  # sites whose bans has_untried remembers from leases (the oldest is forgotten)


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
        monotonic: seconds on a clock that never goes back, for the age of the requests in
            flight; None: :func:`time.monotonic` with the default ``clock``, else ``clock``
            itself (so one fake clock drives both in tests).

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
        monotonic: Callable[[], float] | None = None,
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
        if monotonic is None:
            monotonic = time.monotonic if clock is time.time else clock
        self._monotonic = monotonic
        self._rng = rng or random.Random()
        self._lock = threading.Lock()
        # Proxy key -> monotonic start times of this process's leases on it, ascending; absent when none.
        self._leases: dict[str, list[float]] = {}
        # What the last lease read (health of every proxy, bans per site), patched by reports: has_untried's view.
        self._seen_health: dict[str, ProxyHealth] | None = None
        self._seen_bans: OrderedDict[str, dict[str, float]] = OrderedDict()

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
        started = self._monotonic()
        with self._lock:
            self._seen_health = healths
            self._remember_bans(site, banned)
            tried = {self._base_key(k) for k in exclude}
            base = self._choose(now, started, healths, banned, tried, key)
            starts = self._leases.get(base.key)
            if starts is None:
                self._leases[base.key] = [started]
            else:
                bisect.insort(starts, started)
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
        self._end_lease(proxy, latency)
        return self._record(proxy, site, failure, latency)

    def has_untried(self, site: str, *, exclude: Collection[str] = ()) -> bool:
        """Whether a lease for ``site`` would now give a proxy outside ``exclude``.

        That is: a proxy not in ``exclude``, not banned from the site, and available (healthy, or
        half-open with no request of ours on it); or, when no proxy not banned is available at
        all, not even one in ``exclude`` (every proxy ejected: the lease's last resort), any
        proxy not in ``exclude`` and not banned, since the lease then hands those out first.

        Cheap: it reads no store. It answers from the health and bans the last :meth:`lease` read
        (for this site), patched by this process's reports since; only a site never leased reads
        the store. Another process's ejection since that lease is not seen, so the answer is
        "may exist": a lease after a True may still find only proxies that are out, and then
        hands out the least bad one, as always.

        Args:
            site: the host the request goes to.
            exclude: ``Proxy.key`` of proxies already tried in this request.

        Returns:
            True when a switch of route would reach another proxy.

        Raises:
            StoreUnavailable: the store cannot be read (only when nothing was leased before).
        """
        site = _site(site)
        now = self._clock()
        with self._lock:
            healths = self._seen_health
            banned = self._seen_bans.get(site) if site else {}
        if healths is None:
            healths = self.store.read_many(self._keys)
        if banned is None:
            banned = self.store.bans(site, now=now)
        with self._lock:
            if self._seen_health is None:
                self._seen_health = healths
            if site:
                self._remember_bans(site, banned, keep=True)
            tried = {self._base_key(k) for k in exclude}
            # What a lease would do: an available untried proxy first; while a tried one is still
            # available, that one; only when none is available (the last resort) an untried one.
            tried_available = untried_out = False
            for key in self._keys:
                if banned.get(key, 0.0) > now:
                    continue
                available = self._available(key, healths, now)
                if key in tried:
                    tried_available = tried_available or available
                elif available:
                    return True
                else:
                    untried_out = True
        return untried_out and not tried_available

    def probe(self, proxy: Proxy, failure: Failure | None, latency: float | None) -> ProxyHealth:
        """Record the outcome of a health probe (not a leased request): it may restore a half-open proxy."""
        return self._record(proxy, None, failure, latency)

    def release(self, proxy: Proxy) -> None:
        """End a lease without an outcome (the request was cancelled): the oldest lease on the proxy ends."""
        self._end_lease(proxy, None)

    def in_flight(self, proxy: Proxy) -> int:
        """Leases of this process on a proxy now."""
        with self._lock:
            return len(self._leases.get(self._base_key(proxy.key), ()))

    def pending_age(self, proxy: Proxy) -> float:
        """Seconds the oldest lease of this process on a proxy has lasted so far (0 with none)."""
        now = self._monotonic()
        with self._lock:
            starts = self._leases.get(self._base_key(proxy.key))
            return max(0.0, now - starts[0]) if starts else 0.0

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
            flights = {k: len(starts) for k, starts in self._leases.items()}
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

    def _end_lease(self, proxy: Proxy, latency: float | None) -> None:
        """End one lease on a proxy: the one that started ``latency`` seconds ago, else the oldest.

        Leases carry no id (the caller hands back a Proxy), so the lease whose start is nearest to
        now minus the attempt's duration is taken to be the one ending. A wrong guess only swaps
        two start times of the same proxy, and the list empties whenever its requests all end.
        """
        base = self._base_key(proxy.key)
        now = self._monotonic()
        with self._lock:
            starts = self._leases.get(base)
            if not starts:
                return
            if len(starts) == 1:
                del self._leases[base]
                return
            if latency is None or not math.isfinite(latency):
                del starts[0]
                return
            target = now - latency
            i = bisect.bisect_left(starts, target)
            if i == len(starts) or (i > 0 and target - starts[i - 1] <= starts[i] - target):
                i -= 1
            del starts[i]

    def _record(self, proxy: Proxy, site: str | None, failure: Failure | None, latency: float | None) -> ProxyHealth:
        now = self._clock()
        base = self._base_key(proxy.key)
        session = self.sessions.base_of(proxy.key)
        verdict = judge(failure)
        site = _site(site) if site else ""
        banned = bool(site) and self.ban_policy.bans(failure)
        if banned:
            until = now + self.ban_policy.cooldown
            self.store.set_ban(proxy.key, site, until, now=now)
            with self._lock:
                seen = self._seen_bans.get(site)
                if seen is not None:
                    # Copied, not changed in place: a lease may be choosing with the old mapping.
                    self._seen_bans[site] = {**seen, proxy.key: max(until, seen.get(proxy.key, until))}
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

        after = self.store.update(base, step)
        with self._lock:
            if self._seen_health is not None and base in self._index:
                self._seen_health[base] = after
        return after

    def _remember_bans(self, site: str, banned: dict[str, float], *, keep: bool = False) -> None:
        """Note a site's bans as read (under the lock); ``keep`` leaves a newer reading alone."""
        if not site or (keep and site in self._seen_bans):
            return
        self._seen_bans[site] = banned
        self._seen_bans.move_to_end(site)
        while len(self._seen_bans) > _SITES_REMEMBERED:
            self._seen_bans.popitem(last=False)

    def _choose(
        self,
        now: float,
        started: float,
        healths: dict[str, ProxyHealth],
        banned: dict[str, float],
        tried: set[str],
        key: str | None,
    ) -> Proxy:
        # Keys, not Proxy objects: Proxy.key is computed on every read (it hashes credentials).
        fresh: list[str] = []
        retry: list[str] = []
        for proxy_key in self._keys:
            if proxy_key in banned or not self._available(proxy_key, healths, now):
                continue
            (retry if proxy_key in tried else fresh).append(proxy_key)
        if key is not None:
            bound = self.sessions.bound(key)
            if bound is not None and bound in fresh:
                return self._by_key[bound]
        for group in (fresh, retry):
            if group:
                candidates = self._candidates(group, healths, now, started)
                chosen = self._by_key[self.strategy.choose(candidates, self._rng).key]
                if key is not None:
                    self.sessions.bind(key, chosen.key)
                return chosen
        unbanned = [k for k in self._keys if k not in banned]
        if unbanned:

            def badness(k: str) -> tuple[object, ...]:
                rank, *rest = least_bad_order(healths.get(k, _FRESH), now, self.policy)
                # Requests in flight before the time an ejection ends: when every proxy is out (an
                # overload that timed them all out, say), concurrent requests spread over the least
                # bad instead of all piling on the one ejected first.
                return (k in tried, rank, len(self._leases.get(k, ())), *rest, self._index[k])

            return self._by_key[min(unbanned, key=badness)]
        return self._by_key[min(self._keys, key=lambda k: (banned[k], self._index[k]))]

    def _available(self, proxy_key: str, healths: dict[str, ProxyHealth], now: float) -> bool:
        state = healths.get(proxy_key, _FRESH).state(now)
        if state is HealthState.HEALTHY:
            return True
        # Half-open: one request of ours decides; more would all fail together if it is still dead.
        return state is HealthState.HALF_OPEN and proxy_key not in self._leases

    def _candidates(
        self, group: list[str], healths: dict[str, ProxyHealth], now: float, mono: float
    ) -> list[Candidate]:
        """The group as candidates: leases in flight, the oldest one's age, the latency estimate aged."""
        known = [h.latency_ewma for h in healths.values() if h.latency_ewma is not None]
        typical = statistics.median(known) if known else None
        half_life = self.policy.latency_half_life
        # A latency fed this recently would move by under 0.7 %: not worth the arithmetic on every lease.
        fresh_for = half_life * 0.01
        leases = self._leases
        index = self._index
        candidates = []
        for k in group:
            health = healths.get(k, _FRESH)
            latency = health.latency_ewma
            if latency is not None and typical is not None and health.updated_at is not None:
                age = now - health.updated_at
                if age > fresh_for:
                    # decay_latency's formula, inlined: a call per proxy per lease shows in the profile.
                    latency = typical + (latency - typical) * math.pow(0.5, age / half_life)
            starts = leases.get(k)
            # Positional: keyword arguments cost a frozen dataclass noticeably more, per proxy per lease.
            if starts:
                candidates.append(Candidate(index[k], k, len(starts), latency, max(0.0, mono - starts[0])))
            else:
                candidates.append(Candidate(index[k], k, 0, latency))
        return candidates


def _site(site: str) -> str:
    return site.strip().lower().rstrip(".")
