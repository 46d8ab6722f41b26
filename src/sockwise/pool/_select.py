"""Which proxy the next request gets: strategies and sticky sessions.

A strategy picks among candidates the pool has already filtered (not ejected, not banned for
the site, not tried in this request), each with its load: requests in flight, the age of the
oldest of them, and a latency estimate. Randomness comes in as a ``random.Random``; the only
state is a round-robin cursor and the sticky table, both behind the pool's lock.

A :class:`SamplingStrategy` (random, least-loaded) decides on a few candidates drawn at random,
so the pool draws just those instead of building every candidate: a lease then costs about the
same with 20 proxies or 10,000. Other strategies get the whole list.
"""

from __future__ import annotations

import math
import random
import statistics
import string
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Protocol, runtime_checkable

from sockwise._exceptions import ConfigError
from sockwise._model import Proxy

__all__ = [
    "Candidate",
    "LeastLoaded",
    "RandomChoice",
    "RoundRobin",
    "SamplingStrategy",
    "StickySessions",
    "Strategy",
    "load_cost",
    "strategy_from_name",
    "typical_latency",
]


@dataclass(frozen=True, slots=True)
class Candidate:
    """One proxy a strategy may pick.

    Attributes:
        index: its position in the pool's list (round-robin order).
        key: its ``Proxy.key``.
        in_flight: requests this process has through it now.
        latency: its latency estimate in seconds (the EWMA, aged toward the pool's typical
            latency while nothing is heard from it), or None when unknown.
        pending_age: seconds the oldest of those requests in flight has been waiting (0 with none).
    """

    index: int
    key: str
    in_flight: int = 0
    latency: float | None = None
    pending_age: float = 0.0


def typical_latency(latencies: Iterable[float | None], default: float) -> float:
    """The pool's typical latency: the median of the known ones, or ``default`` when none is known.

    The median, not the mean: one proxy that timed out (its estimate raised to the timeout) must
    not make every unknown proxy look slow.

    Args:
        latencies: latency estimates in seconds; None (unknown) is skipped.
        default: seconds to assume when nothing is known.

    Returns:
        Seconds.
    """
    known = [value for value in latencies if value is not None]
    return statistics.median(known) if known else default


def load_cost(candidate: Candidate, typical: float) -> float:
    """What sending one more request through a proxy is expected to cost (Finagle's peak EWMA).

    ``max(latency, pending_age) × (in_flight + 1)``: the latency estimate (``typical`` when
    unknown), unless a request has already been waiting longer than that, since a proxy that
    holds a request far longer than its peers answer is likely swallowing it: a blackhole is
    priced up by its own silence within tens of milliseconds instead of after its first
    timeouts. The factor ``in_flight + 1`` lets a fast proxy carry more requests than a slow one.

    Args:
        candidate: the proxy and its load.
        typical: seconds to assume for a proxy whose latency is unknown.

    Returns:
        The cost (seconds × requests); lower is better.
    """
    latency = candidate.latency if candidate.latency is not None else typical
    return max(latency, candidate.pending_age, 1e-6) * (candidate.in_flight + 1)


@runtime_checkable
class Strategy(Protocol):
    """Picks one of the candidates (never an empty sequence)."""

    name: str

    def choose(self, candidates: Sequence[Candidate], rng: random.Random) -> Candidate:
        """Return one of ``candidates``."""
        ...


@runtime_checkable
class SamplingStrategy(Strategy, Protocol):
    """A strategy that decides on a few candidates drawn uniformly at random.

    The pool draws candidates at random, without replacement, leaving out those that stall (their
    oldest request in flight has waited over :meth:`stall_limit`), until it has ``sample_size``
    of them; when fewer are left it offers every one not stalled, or when none is, up to
    ``sample_size`` stalled ones. Then it calls :meth:`choose_sample`. It reads the health of
    only the proxies it draws, so a lease costs about the same with 20 proxies or 10,000.
    """

    sample_size: int

    def stall_limit(self, typical: float | None) -> float:
        """Seconds a request may wait in flight before its proxy is left out of the draw (inf: never).

        Args:
            typical: the pool's typical latency (median of the latency estimates of the proxies in
                rotation), or None when none is known.
        """
        ...

    def choose_sample(self, sample: Sequence[Candidate], typical: float | None, rng: random.Random) -> Candidate:
        """Return one of ``sample`` (1 to ``sample_size`` candidates, in the order drawn)."""
        ...


class RoundRobin:
    """Each proxy in turn, in list order, skipping those not offered this time."""

    name = "round_robin"

    def __init__(self) -> None:
        self._cursor = -1

    def choose(self, candidates: Sequence[Candidate], rng: random.Random) -> Candidate:
        """The first candidate after the last one picked, wrapping around."""
        after = [c for c in candidates if c.index > self._cursor]
        pick = min(after or candidates, key=lambda c: c.index)
        self._cursor = pick.index
        return pick


class RandomChoice:
    """A uniformly random candidate."""

    name = "random"
    sample_size = 1

    def choose(self, candidates: Sequence[Candidate], rng: random.Random) -> Candidate:
        """Any candidate, with equal chance."""
        return candidates[rng.randrange(len(candidates))]

    def stall_limit(self, typical: float | None) -> float:
        """Never: a random choice does not look at load."""
        return math.inf

    def choose_sample(self, sample: Sequence[Candidate], typical: float | None, rng: random.Random) -> Candidate:
        """The candidate drawn (the pool drew it at random)."""
        return sample[0]


class LeastLoaded:
    """Power of two choices: sample two candidates, keep the one with the lower :func:`load_cost`.

    The cost is ``max(latency, age of the oldest request in flight) × (in-flight + 1)`` (Finagle's
    peak EWMA, made aware of pending requests): a fast proxy may carry more requests than a slow
    one, and a proxy sitting on a request for longer than the others answer gets no more. A
    proxy without a latency yet is priced at the median of the known ones (``default_latency``
    when none is known), so new proxies get traffic without being flooded.

    A candidate *stalls* when its oldest request in flight has waited more than
    ``stall_factor`` times that typical latency: stalled candidates are left out of the draw while
    any other is offered. Two random draws alone would still pair two blackholes now and then
    (with 3 of 20 proxies silent, about one draw in 60), and hand one of them a request.

    In a :class:`ProxyPool` the typical latency is the pool's: the median latency estimate of
    the proxies in rotation (not ejected), kept as reports come in, so that the pool draws two
    candidates instead of building all of them (:class:`SamplingStrategy`). :meth:`choose` on a
    list takes the median of the candidates given.

    Args:
        default_latency: seconds to assume while no candidate's latency is known; small, so that
            a request left waiting soon counts for more than the assumption.
        stall_factor: how many typical latencies a request may wait before its proxy stalls.

    Raises:
        ConfigError: ``default_latency`` is not more than 0, or ``stall_factor`` is below 1.
    """

    name = "least_loaded"
    sample_size = 2

    def __init__(self, default_latency: float = 0.1, *, stall_factor: float = 4.0) -> None:
        if not default_latency > 0.0:
            raise ConfigError("LeastLoaded: default_latency must be more than 0 seconds")
        if not stall_factor >= 1.0:
            raise ConfigError("LeastLoaded: stall_factor must be 1 or more")
        self.default_latency = default_latency
        self.stall_factor = stall_factor

    def choose(self, candidates: Sequence[Candidate], rng: random.Random) -> Candidate:
        """The cheaper of two random candidates not stalled (the only one when there is one)."""
        if len(candidates) == 1:
            return candidates[0]
        typical = typical_latency((c.latency for c in candidates), self.default_latency)
        limit = self.stall_factor * typical
        live = [c for c in candidates if c.pending_age <= limit]
        if len(live) == 1:
            return live[0]
        if live:
            candidates = live
        first, second = rng.sample(range(len(candidates)), 2)
        return _cheaper(candidates[first], candidates[second], typical)

    def stall_limit(self, typical: float | None) -> float:
        """``stall_factor`` typical latencies (``default_latency`` when none is known)."""
        return self.stall_factor * (typical if typical is not None else self.default_latency)

    def choose_sample(self, sample: Sequence[Candidate], typical: float | None, rng: random.Random) -> Candidate:
        """The cheaper of the two candidates drawn (the only one when one is left)."""
        if len(sample) == 1:
            return sample[0]
        return _cheaper(sample[0], sample[1], typical if typical is not None else self.default_latency)


def _cheaper(a: Candidate, b: Candidate, typical: float) -> Candidate:
    """The candidate with the lower :func:`load_cost`; on a tie fewer in flight, then the lower index."""
    cost_a, cost_b = load_cost(a, typical), load_cost(b, typical)
    if cost_a != cost_b:
        return a if cost_a < cost_b else b
    return a if (a.in_flight, a.index) <= (b.in_flight, b.index) else b


_STRATEGIES: dict[str, type[RoundRobin] | type[RandomChoice] | type[LeastLoaded]] = {
    RoundRobin.name: RoundRobin,
    RandomChoice.name: RandomChoice,
    LeastLoaded.name: LeastLoaded,
}


def strategy_from_name(name: str) -> Strategy:
    """A new strategy by name.

    Args:
        name: ``round_robin``, ``random`` or ``least_loaded`` (``-`` works for ``_``).

    Returns:
        A fresh strategy object.

    Raises:
        ConfigError: the name is not one of them.
    """
    cls = _STRATEGIES.get(name.strip().lower().replace("-", "_"))
    if cls is None:
        raise ConfigError(f"unknown proxy selection strategy {name!r}; use one of {', '.join(sorted(_STRATEGIES))}")
    return cls()


class StickySessions:
    """Sticky sessions: a session key keeps its proxy until that proxy fails or is banned.

    With a ``template`` the pool works with a vendor's session gateway: the username of the
    chosen proxy is rewritten, e.g. ``"{user}-session-{key}"`` turns user ``cust1`` and key
    ``a7`` into ``cust1-session-a7``, so the vendor pins one exit IP to the session. After a
    proxy failure or a ban the session id gets a suffix (``a7-1``, ``a7-2``, …) so the vendor
    assigns a fresh exit.

    Args:
        template: a username template with ``{key}`` and optionally ``{user}``, or None.
        max_keys: the most session keys remembered (least recently used are forgotten).

    Raises:
        ConfigError: a template without ``{key}`` or with other placeholders.
    """

    def __init__(self, template: str | None = None, *, max_keys: int = 10_000) -> None:
        if template is not None:
            _check_template(template)
        if max_keys < 1:
            raise ConfigError("StickySessions: max_keys must be 1 or more")
        self.template = template
        self.max_keys = max_keys
        self._bound: OrderedDict[str, str] = OrderedDict()
        self._generation: dict[str, int] = {}
        # session proxy key -> (base proxy key, session key), to map reports back.
        self._sessions: OrderedDict[str, tuple[str, str]] = OrderedDict()

    def bound(self, key: str) -> str | None:
        """The proxy key a session is bound to, or None."""
        proxy_key = self._bound.get(key)
        if proxy_key is not None:
            self._bound.move_to_end(key)
        return proxy_key

    def bind(self, key: str, proxy_key: str) -> None:
        """Bind a session to a proxy."""
        self._bound[key] = proxy_key
        self._bound.move_to_end(key)
        while len(self._bound) > self.max_keys:
            old, _ = self._bound.popitem(last=False)
            self._generation.pop(old, None)

    def forget_proxy(self, proxy_key: str) -> list[str]:
        """Unbind every session bound to a proxy (it failed); returns the sessions unbound."""
        keys = [k for k, v in self._bound.items() if v == proxy_key]
        for key in keys:
            del self._bound[key]
        return keys

    def rotate(self, key: str) -> None:
        """Give a session a new vendor session id and unbind it."""
        self._generation[key] = self._generation.get(key, 0) + 1
        self._bound.pop(key, None)

    def session_proxy(self, base: Proxy, key: str) -> Proxy:
        """The proxy a session uses: ``base`` itself, or with the templated username."""
        if self.template is None:
            return base
        generation = self._generation.get(key, 0)
        session = key if generation == 0 else f"{key}-{generation}"
        proxy = replace(base, username=self.template.format(user=base.username or "", key=session))
        self._sessions[proxy.key] = (base.key, key)
        self._sessions.move_to_end(proxy.key)
        while len(self._sessions) > self.max_keys:
            self._sessions.popitem(last=False)
        return proxy

    def base_of(self, proxy_key: str) -> tuple[str, str] | None:
        """For a session proxy: its base proxy key and session key; None for any other proxy."""
        return self._sessions.get(proxy_key)


def _check_template(template: str) -> None:
    try:
        names = {name for _, name, _, _ in string.Formatter().parse(template) if name is not None}
    except ValueError as exc:
        raise ConfigError(f"session template {template!r} does not parse ({exc}); {_TEMPLATE_HINT}") from None
    if "key" not in names or not names <= {"key", "user"}:
        raise ConfigError(f"session template {template!r} must hold {{key}} and may hold {{user}}; {_TEMPLATE_HINT}")


_TEMPLATE_HINT = "write e.g. '{user}-session-{key}'"
