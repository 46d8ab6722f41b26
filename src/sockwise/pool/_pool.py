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

A failure blamed on nobody (a 502/503/504 page or a read timeout through a forwarding proxy)
is judged by peers: it counts against the proxy when the same site answered through another
proxy within ``HealthPolicy.peer_window`` and no other proxy has failed on it that way since
(:class:`~sockwise.pool.PeerEvidence`); else it is ignored, since the origin may be down for
everyone. That evidence is this process's own, kept for the 1,024 sites seen last; the
failures it blames go to the store like any other, so every process sees the ejection.

Health lives in the store, keyed by ``Proxy.key`` with wall-clock times, so several processes
(SQLite) or machines (Redis) share ejections and bans. A lease reads afresh the health of every
proxy it may hand out: with a :class:`~sockwise.pool.SamplingStrategy` (the default, and
``random``) only the few it draws at random (two for power of two choices, more when some drawn
are out), so a lease costs about the same with 20 proxies or 10,000; with another strategy, or
when the draws find too few proxies in rotation, all of them. Either way an ejection by one
worker holds for the next lease of every other. Leases in flight (with the monotonic time each
began), sticky sessions and the one-trial rule for half-open proxies are this process's own (two
processes may each send one trial request).

The pool keeps a view of every proxy's health: what its leases read, patched by its own reports.
:meth:`ProxyPool.has_untried` answers from it without reading the store (a retry loop asks it
after every failure), and the typical latency the strategies price unknown proxies at is the
median of it, kept sorted as it changes.
"""

from __future__ import annotations

import bisect
import math
import random
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass

from sockwise._exceptions import ConfigError
from sockwise._model import Blame, Failure, Proxy
from sockwise.pool._health import (
    BanPolicy,
    HealthPolicy,
    HealthState,
    PeerEvidence,
    ProxyHealth,
    Verdict,
    ejection_allowed,
    judge,
    least_bad_order,
    record,
)
from sockwise.pool._parse import parse_proxy
from sockwise.pool._select import Candidate, SamplingStrategy, StickySessions, Strategy, strategy_from_name
from sockwise.pool._store import HealthStore, store_from_url

__all__ = ["ProxyPool", "ProxyStatus"]

_FRESH = ProxyHealth()
_NO_EVIDENCE = PeerEvidence()
_SITES_REMEMBERED = 1024  # sites whose bans and peer evidence the pool remembers (the oldest is forgotten)
# Proxies a lease draws at random, reading the health of each, before it reads them all: with 90 % of
# the pool out, two in rotation are found within 64 draws 99 % of the time.
_DRAW_BUDGET = 64


class _Draw:
    """Positions 0 … size-1 in random order, one at a time, drawn as :meth:`random.Random.sample` draws.

    A partial Fisher-Yates shuffle that remembers only the swaps it made: each draw costs the same
    however large ``size`` is. The first k draws are ``rng.sample(range(size), k)`` for a size of
    up to 21 (where ``sample`` shuffles a list the same way).
    """

    __slots__ = ("_rng", "_swaps", "left")

    def __init__(self, size: int, rng: random.Random) -> None:
        self.left = size
        self._rng = rng
        self._swaps: dict[int, int] = {}

    def next(self) -> int:
        """The next position (``left`` must be more than 0)."""
        j = self._rng.randrange(self.left)
        self.left -= 1
        last = self.left
        swaps = self._swaps
        value = swaps.get(j, j)
        swaps[j] = swaps.pop(last, last)
        return value


def _nth_free(position: int, taken: list[int]) -> int:
    """The ``position``-th (from 0) index not in ``taken`` (sorted, no duplicates)."""
    if not taken or position < taken[0]:
        return position
    lo, hi = position, position + len(taken)
    while lo < hi:
        mid = (lo + hi) // 2
        if mid - bisect.bisect_right(taken, mid) < position:
            lo = mid + 1
        else:
            hi = mid
    return lo


class _SortedLatencies:
    """Latency estimates kept sorted as they change, for the median without a sort per lease."""

    __slots__ = ("_values",)

    def __init__(self) -> None:
        self._values: list[float] = []

    def reset(self, values: Iterable[float | None]) -> None:
        self._values = sorted(v for v in values if v is not None and math.isfinite(v))

    def swap(self, old: float | None, new: float | None) -> None:
        if old == new:
            return
        values = self._values
        if old is not None and math.isfinite(old):
            i = bisect.bisect_left(values, old)
            if i < len(values) and values[i] == old:
                del values[i]
        if new is not None and math.isfinite(new):
            bisect.insort(values, new)

    def median(self) -> float | None:
        """What :func:`statistics.median` gives for the values, or None when there are none."""
        values = self._values
        n = len(values)
        if not n:
            return None
        half = n // 2
        return values[half] if n % 2 else (values[half - 1] + values[half]) / 2


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
        self._sampling = self.strategy if isinstance(self.strategy, SamplingStrategy) else None
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
        # Session proxies out on lease -> [their pool proxy's key, leases out]; bounded by leases in flight.
        self._leased_as: dict[str, tuple[str, int]] = {}
        # What leases read (health of every proxy, bans per site), patched by reports: has_untried's view.
        # None until the first lease reads every proxy.
        self._seen_health: dict[str, ProxyHealth] | None = None
        self._seen_bans: OrderedDict[str, dict[str, float]] = OrderedDict()
        # The latency EWMAs of that view, sorted: of every proxy (to age estimates toward), and of those
        # in rotation (the typical latency a SamplingStrategy prices by).
        self._latencies = _SortedLatencies()
        self._rotation_latencies = _SortedLatencies()
        # Site -> who answered and who failed there lately: judges failures blamed on nobody.
        self._peers: OrderedDict[str, PeerEvidence] = OrderedDict()

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
        banned = self.store.bans(site, now=now) if site else {}
        started = self._monotonic()
        if self._sampling is not None and self._seen_health is not None:
            drawn = self._lease_drawn(self._sampling, site, now, started, banned, exclude, key)
            if drawn is not None:
                return drawn
        healths = self.store.read_many(self._keys)
        with self._lock:
            self._reset_view(healths)
            self._remember_bans(site, banned)
            tried = {self._base_key(k) for k in exclude}
            base = self._choose(now, started, healths, banned, tried, key)
            return self._start_lease(base, started, key)

    def report(self, proxy: Proxy, site: str | None, failure: Failure | None, latency: float | None) -> ProxyHealth:
        """Tell the pool how an attempt through a leased proxy went, and end the lease.

        Proxy-blamed failures count against the proxy; origin-blamed ones show the proxy worked;
        local and network ones are ignored. One blamed on nobody counts against the proxy when
        peers vouch for the site (it answered through another proxy within
        ``HealthPolicy.peer_window``, uncontested: see :class:`~sockwise.pool.PeerEvidence`), and
        is ignored otherwise. A ban-worthy outcome (403/429 by default) bans the proxy from
        ``site`` only.

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
        base = self._end_lease(proxy, latency)
        return self._record(proxy, site, failure, latency, base=base)

    def has_untried(self, site: str, *, exclude: Collection[str] = ()) -> bool:
        """Whether a lease for ``site`` would now give a proxy outside ``exclude``.

        That is: a proxy not in ``exclude``, not banned from the site, and available (healthy, or
        half-open with no request of ours on it); or, when no proxy not banned is available at
        all, not even one in ``exclude`` (every proxy ejected: the lease's last resort), any
        proxy not in ``exclude`` and not banned, since the lease then hands those out first.

        Cheap: it reads no store. It answers from the pool's view of the health (what its leases
        read, patched by this process's reports) and the bans the last :meth:`lease` for this site
        read; only a site never leased reads the store. Another process's ejection since is not
        seen, so the answer is "may exist": a lease after a True may still find only proxies that
        are out, and then hands out the least bad one, as always.

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
        # A session proxy handed out and not yet reported: known here even when the sticky table
        # has dropped it since (it is an LRU), so its lease always ends on the right proxy.
        leased = self._leased_as.get(proxy_key)
        if leased is not None:
            return leased[0]
        session = self.sessions.base_of(proxy_key)
        return session[0] if session is not None else proxy_key

    def _end_lease(self, proxy: Proxy, latency: float | None) -> str:
        """End one lease on a proxy: the one that started ``latency`` seconds ago, else the oldest.

        Leases carry no id (the caller hands back a Proxy), so the lease whose start is nearest to
        now minus the attempt's duration is taken to be the one ending. A wrong guess only swaps
        two start times of the same proxy, and the list empties whenever its requests all end.

        Returns:
            The key of the pool's proxy the lease was on.
        """
        now = self._monotonic()
        with self._lock:
            base = self._base_key(proxy.key)
            leased = self._leased_as.get(proxy.key)
            if leased is not None:
                if leased[1] <= 1:
                    del self._leased_as[proxy.key]
                else:
                    self._leased_as[proxy.key] = (leased[0], leased[1] - 1)
            starts = self._leases.get(base)
            if not starts:
                return base
            if len(starts) == 1:
                del self._leases[base]
                return base
            if latency is None or not math.isfinite(latency):
                del starts[0]
                return base
            target = now - latency
            i = bisect.bisect_left(starts, target)
            if i == len(starts) or (i > 0 and target - starts[i - 1] <= starts[i] - target):
                i -= 1
            del starts[i]
            return base

    def _record(
        self, proxy: Proxy, site: str | None, failure: Failure | None, latency: float | None, *, base: str | None = None
    ) -> ProxyHealth:
        now = self._clock()
        if base is None:
            base = self._base_key(proxy.key)
        session = self.sessions.base_of(proxy.key)
        site = _site(site) if site else ""
        peer_ok = self._consult_peers(site, base, failure, now) if site else False
        verdict = judge(failure, peer_ok=peer_ok)
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
        policy = self.policy
        may_eject = True
        if verdict is Verdict.PROXY_FAILURE:
            current = self.store.read_many([base]).get(base, _FRESH)
            if not _trips(current, failure, now, policy, peer_ok):
                # The share of the pool out matters only to a failure that ejects: for one that cannot, the
                # health of every proxy is not worth reading (should another process's failure land between
                # this read and the update and make it trip, the proxy is ejected at its next failure).
                may_eject = False
            else:
                healths = self.store.read_many(self._keys)
                keys: Sequence[str] = self._keys if base in self._by_key else (*self._keys, base)
                may_eject = ejection_allowed(base, keys, healths, now=now, policy=policy)
        rand = self._rng.random()

        def step(health: ProxyHealth) -> ProxyHealth:
            return record(
                health, failure, latency, now=now, policy=policy, rand=rand, may_eject=may_eject, peer_ok=peer_ok
            )

        after = self.store.update(base, step)
        with self._lock:
            if self._seen_health is not None and base in self._index:
                self._see(base, after)
        return after

    def _consult_peers(self, site: str, base: str, failure: Failure | None, now: float) -> bool:
        """Whether peers vouch for the site against ``base`` (for a failure blamed on nobody); then note the outcome."""
        with self._lock:
            evidence = self._peers.get(site)
            peer_ok = (
                evidence is not None
                and failure is not None
                and failure.blame is Blame.UNKNOWN
                and evidence.peer_ok(base, now=now, window=self.policy.peer_window)
            )
            noted = (evidence or _NO_EVIDENCE).note(base, failure, now)
            if noted is not evidence and noted is not _NO_EVIDENCE:
                self._peers[site] = noted
                self._peers.move_to_end(site)
                while len(self._peers) > _SITES_REMEMBERED:
                    self._peers.popitem(last=False)
            return peer_ok

    def _reset_view(self, healths: dict[str, ProxyHealth]) -> None:
        """Make every proxy's health as just read (a dict of the pool's own) the view (under the lock)."""
        self._seen_health = healths
        self._latencies.reset(h.latency_ewma for h in healths.values())
        if self._sampling is not None:  # only a SamplingStrategy prices by the proxies in rotation
            self._rotation_latencies.reset(h.latency_ewma for h in healths.values() if not h.ejected)

    def _see(self, proxy_key: str, health: ProxyHealth) -> None:
        """Put one proxy's health as just read or written into the view (under the lock; the view exists)."""
        view = self._seen_health
        assert view is not None
        old = view.get(proxy_key, _FRESH)
        if old is health:
            return
        view[proxy_key] = health
        self._latencies.swap(old.latency_ewma, health.latency_ewma)
        if self._sampling is not None:
            self._rotation_latencies.swap(
                None if old.ejected else old.latency_ewma, None if health.ejected else health.latency_ewma
            )

    def _start_lease(self, base: Proxy, started: float, key: str | None) -> Proxy:
        """Count a lease on ``base`` begun at ``started`` (under the lock); the proxy to hand out."""
        starts = self._leases.get(base.key)
        if starts is None:
            self._leases[base.key] = [started]
        else:
            bisect.insort(starts, started)
        if key is not None:
            proxy = self.sessions.session_proxy(base, key)
            if proxy.key != base.key:
                leased = self._leased_as.get(proxy.key)
                self._leased_as[proxy.key] = (base.key, 1 if leased is None else leased[1] + 1)
            return proxy
        return base

    def _lease_drawn(
        self,
        strategy: SamplingStrategy,
        site: str,
        now: float,
        started: float,
        banned: dict[str, float],
        exclude: Collection[str],
        key: str | None,
    ) -> Proxy | None:
        """A lease from proxies drawn at random, reading only their health; None when the full read must decide.

        Draws, without replacement, among the proxies not banned and not tried, and keeps those
        available and not stalled until it has ``sample_size``, reading each batch drawn from the
        store in one call (batches double: 2, 2, 4, 8, ...). With every proxy drawn, it decides on
        what it found, as the full read would; with none available, or after ``_DRAW_BUDGET``
        draws, it gives up and :meth:`lease` reads every proxy.
        """
        keys = self._keys
        index = self._index
        with self._lock:
            self._remember_bans(site, banned)
            tried = {self._base_key(k) for k in exclude}
            bound = self.sessions.bound(key) if key is not None else None
            typical = self._rotation_latencies.median()
            aged_toward = self._latencies.median()
        if bound is not None and bound not in banned and bound not in tried and bound in index:
            health = self.store.read_many([bound]).get(bound, _FRESH)
            with self._lock:
                self._see(bound, health)
                if self._usable(bound, health, now):
                    return self._start_lease(self._by_key[bound], started, key)
        taken = sorted({index[k] for k in (*banned, *tried) if k in index})
        draw = _Draw(len(keys) - len(taken), self._rng)
        limit = strategy.stall_limit(typical)
        need = strategy.sample_size
        live: list[Candidate] = []
        stalled: list[Candidate] = []
        drawn = 0
        size = need
        while True:
            batch = [keys[_nth_free(draw.next(), taken)] for _ in range(min(size, draw.left))]
            drawn += len(batch)
            healths = self.store.read_many(batch) if batch else {}
            with self._lock:
                if live or stalled:
                    # Drawn before the lock was last let go: a half-open one may have got its trial meanwhile.
                    view = self._seen_health
                    assert view is not None
                    live = [c for c in live if self._available(c.key, view, now)]
                    stalled = [c for c in stalled if self._available(c.key, view, now)]
                for proxy_key in batch:
                    health = healths.get(proxy_key, _FRESH)
                    self._see(proxy_key, health)
                    if not self._usable(proxy_key, health, now):
                        continue
                    candidate = self._candidate(proxy_key, health, now, started, aged_toward)
                    (live if candidate.pending_age <= limit else stalled).append(candidate)
                    if len(live) == need:
                        break
                if len(live) == need or (draw.left == 0 and (live or stalled)):
                    chosen = self._by_key[strategy.choose_sample(live or stalled[:need], typical, self._rng).key]
                    if key is not None:
                        self.sessions.bind(key, chosen.key)
                    return self._start_lease(chosen, started, key)
            if draw.left == 0 or drawn >= _DRAW_BUDGET:
                return None
            size = drawn

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
                chosen = self._by_key[self._pick(group, healths, now, started)]
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
        # _usable's test, inlined: the full read calls this for every proxy.
        state = healths.get(proxy_key, _FRESH).state(now)
        if state is HealthState.HEALTHY:
            return True
        return state is HealthState.HALF_OPEN and proxy_key not in self._leases

    def _usable(self, proxy_key: str, health: ProxyHealth, now: float) -> bool:
        """Healthy, or half-open with no request of ours on it (under the lock)."""
        state = health.state(now)
        if state is HealthState.HEALTHY:
            return True
        # Half-open: one request of ours decides; more would all fail together if it is still dead.
        return state is HealthState.HALF_OPEN and proxy_key not in self._leases

    def _pick(self, group: list[str], healths: dict[str, ProxyHealth], now: float, mono: float) -> str:
        """The strategy's choice among the group (every proxy of it known): its ``Proxy.key``."""
        aged_toward = self._latencies.median()
        sampling = self._sampling
        if sampling is None:
            return self.strategy.choose(self._candidates(group, healths, now, mono, aged_toward), self._rng).key
        # What _lease_drawn would draw, from the whole group: the stalled only when nothing else is left.
        typical = self._rotation_latencies.median()
        limit = sampling.stall_limit(typical)
        leases = self._leases
        live = [k for k in group if k not in leases or mono - leases[k][0] <= limit]
        offered = live or group
        picked = offered
        if len(offered) > 1:
            draw = _Draw(len(offered), self._rng)
            picked = [offered[draw.next()] for _ in range(min(sampling.sample_size, len(offered)))]
        sample = [self._candidate(k, healths.get(k, _FRESH), now, mono, aged_toward) for k in picked]
        return sampling.choose_sample(sample, typical, self._rng).key

    def _candidates(
        self, group: list[str], healths: dict[str, ProxyHealth], now: float, mono: float, typical: float | None
    ) -> list[Candidate]:
        """The group as candidates: :meth:`_candidate` for each, inlined (a call per proxy shows in the profile)."""
        half_life = self.policy.latency_half_life
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
                    latency = typical + (latency - typical) * math.pow(0.5, age / half_life)
            starts = leases.get(k)
            if starts:
                candidates.append(Candidate(index[k], k, len(starts), latency, max(0.0, mono - starts[0])))
            else:
                candidates.append(Candidate(index[k], k, 0, latency))
        return candidates

    def _candidate(
        self, proxy_key: str, health: ProxyHealth, now: float, mono: float, typical: float | None
    ) -> Candidate:
        """A proxy as a candidate: leases in flight, the oldest one's age, its latency aged toward ``typical``."""
        latency = health.latency_ewma
        if latency is not None and typical is not None and health.updated_at is not None:
            age = now - health.updated_at
            half_life = self.policy.latency_half_life
            # A latency fed this recently would move by under 0.7 %: not worth the arithmetic.
            if age > half_life * 0.01:
                # decay_latency's formula, inlined: a call per candidate shows in the profile.
                latency = typical + (latency - typical) * math.pow(0.5, age / half_life)
        starts = self._leases.get(proxy_key)
        # Positional: keyword arguments cost a frozen dataclass noticeably more.
        if starts:
            return Candidate(self._index[proxy_key], proxy_key, len(starts), latency, max(0.0, mono - starts[0]))
        return Candidate(self._index[proxy_key], proxy_key, 0, latency)


def _trips(health: ProxyHealth, failure: Failure | None, now: float, policy: HealthPolicy, peer_ok: bool) -> bool:
    """Whether one more failure would eject a proxy of this health, were the pool's share no limit."""
    after = record(health, failure, None, now=now, policy=policy, rand=0.0, peer_ok=peer_ok)
    return after.ejected != health.ejected or after.ejections != health.ejections


def _site(site: str) -> str:
    return site.strip().lower().rstrip(".")
