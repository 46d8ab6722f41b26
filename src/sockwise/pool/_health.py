"""The health of one proxy, as a pure model: outcomes in, a new frozen health value out.

Outlier ejection in the spirit of Envoy's outlier detection, fed only by failures that are
the proxy's fault:

* ``consecutive_failures`` failures judged the proxy's in a row, or a success rate under
  ``success_rate_floor`` over the sliding window once it holds ``success_rate_volume``
  outcomes, eject the proxy;
* the n-th ejection lasts ``base_ejection_time × n`` (minus up to ``ejection_jitter`` of it),
  capped at ``max_ejection_time``; one ejection is forgiven per ``decay_time`` of good health;
* when an ejection ends the proxy is half-open: the next outcome (a real request or a probe)
  decides: a success restores it, a proxy failure ejects it again, for longer;
* a proxy that worked in the window is not ejected when that would put more than
  ``max_ejection_percent`` of the pool out, unless every other proxy is failing as well (then
  the pool picks the least bad); one with no success in the window gives no capacity and goes.

A failure blamed on nobody (``Blame.UNKNOWN``: a 502/503/504 page or a read timeout through a
forwarding proxy, which may be the proxy's or the origin's) is judged by peers: it counts against
the proxy when the same site answered through another proxy within ``peer_window`` seconds and no
other proxy has failed on it that way since (see :class:`PeerEvidence`); otherwise it is ignored,
since the origin may be down for everyone.

Beside ejection, a latency EWMA for the selection strategies: fed by successes, and raised by
a proxy-blamed timeout to the time it waited (a lower bound of the proxy's latency; fast
failures say nothing of latency and are left out). Old knowledge weighs less: a new sample
outweighs an EWMA not fed for a while, and :func:`decay_latency` prices a proxy not heard from
back toward the pool's typical latency, half way per ``latency_half_life``.

The states (HEALTHY → EJECTED → HALF_OPEN → HEALTHY or EJECTED) are three, derived from the
value and the time: no stored state can go stale when a clock moves on. Time and randomness
are arguments; nothing here reads a clock, sleeps or does I/O. Times are wall-clock seconds
because health is shared by processes and machines through a store.
"""

from __future__ import annotations

import enum
import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

from sockwise._exceptions import ConfigError
from sockwise._model import Blame, ErrorCode, Failure

__all__ = [
    "BanPolicy",
    "HealthPolicy",
    "HealthState",
    "PeerEvidence",
    "ProxyHealth",
    "Verdict",
    "decay_latency",
    "decode_health",
    "ejection_allowed",
    "ejection_time",
    "encode_health",
    "judge",
    "least_bad_order",
    "record",
]


class _StrEnum(str, enum.Enum):
    def __str__(self) -> str:
        return str(self.value)


class HealthState(_StrEnum):
    """Where a proxy stands at a given time."""

    HEALTHY = "healthy"
    EJECTED = "ejected"
    HALF_OPEN = "half_open"


class Verdict(_StrEnum):
    """What one outcome says about the proxy that carried it."""

    SUCCESS = "success"
    PROXY_FAILURE = "proxy_failure"
    IGNORED = "ignored"


def judge(failure: Failure | None, *, peer_ok: bool = False) -> Verdict:
    """What an outcome says about the proxy.

    A success, and a failure blamed on the origin (the proxy relayed it, so the proxy hop
    worked), count for the proxy. A failure blamed on the proxy counts against it. A failure
    blamed on nobody (``Blame.UNKNOWN``) counts against it only when peers vouch for the site
    (``peer_ok``, see :meth:`PeerEvidence.peer_ok`). Local and network failures say nothing about
    the proxy and are ignored.

    Args:
        failure: the classified failure, or None for a success.
        peer_ok: the same site answered through another proxy recently, uncontested: a failure
            blamed on nobody is then this proxy's.

    Returns:
        The verdict.
    """
    if failure is None or failure.blame is Blame.ORIGIN:
        return Verdict.SUCCESS
    if failure.blame is Blame.PROXY or (peer_ok and failure.blame is Blame.UNKNOWN):
        return Verdict.PROXY_FAILURE
    return Verdict.IGNORED


_Seen = tuple[tuple[str, float], ...]


def _newest(seen: _Seen, key: str, now: float) -> _Seen:
    """``seen`` with ``key`` noted at ``now``: the two proxies seen last, newest first, one entry each."""
    if seen and seen[0][0] == key:
        return ((key, now), *seen[1:])
    return ((key, now), *seen[:1])


def _last_other(seen: _Seen, key: str) -> float | None:
    """When a proxy other than ``key`` was seen last, or None."""
    for other, at in seen:
        if other != key:
            return at
    return None


@dataclass(frozen=True, slots=True)
class PeerEvidence:
    """What one site's recent outcomes through the pool's proxies say about the site itself.

    A failure blamed on nobody through a forwarding proxy (a 502/503/504 page, a read timeout) may
    be the proxy's or the origin's. Peers tell which: when the site *answered* through another
    proxy within the window (a success, or a failure blamed on the origin: the origin is up and
    that proxy's hop worked) and no other proxy has since failed on the site in a way blamed on
    nobody, the site is up and this proxy is the odd one out. The second condition keeps an origin
    that goes down from taking the pool with it: its first failure may be blamed on one proxy, but
    the next one, through another proxy, contests the old answer, and nothing is blamed until the
    site answers again. Ties in time count as contested.

    Only the two proxies seen last of each kind are kept (newest first): enough to find the last
    one that is not the proxy being judged. State steps return new objects.

    Attributes:
        answered: ``(proxy key, time)`` of the last answers from the site, for the two proxies that
            carried one last.
        unexplained: the same for failures blamed on nobody.
    """

    answered: _Seen = ()
    unexplained: _Seen = ()

    def note(self, key: str, failure: Failure | None, now: float) -> PeerEvidence:
        """The evidence after one outcome through proxy ``key`` for this site.

        Args:
            key: the proxy's ``Proxy.key``.
            failure: the classified failure, or None for a success.
            now: the time of the outcome.

        Returns:
            The new evidence; ``self`` when the outcome says nothing about the site (a failure
            blamed on the proxy, the network or this machine).
        """
        if failure is None or failure.blame is Blame.ORIGIN:
            answered = _newest(self.answered, key, now)
            if type(self) is PeerEvidence:  # a constructor call: a third of what replace costs
                return PeerEvidence(answered, self.unexplained)
            return replace(self, answered=answered)
        if failure.blame is Blame.UNKNOWN:
            unexplained = _newest(self.unexplained, key, now)
            if type(self) is PeerEvidence:
                return PeerEvidence(self.answered, unexplained)
            return replace(self, unexplained=unexplained)
        return self

    def peer_ok(self, key: str, *, now: float, window: float) -> bool:
        """Whether a failure blamed on nobody through proxy ``key`` is that proxy's.

        Args:
            key: the proxy the failure came through.
            now: the time of the failure.
            window: how old the last answer through another proxy may be, in seconds
                (``HealthPolicy.peer_window``; 0 never blames).

        Returns:
            True when another proxy carried an answer from the site within ``window`` seconds and
            no proxy other than ``key`` has had a failure blamed on nobody there since.
        """
        answered = _last_other(self.answered, key)
        if answered is None or now - answered > window or window <= 0:
            return False
        contested = _last_other(self.unexplained, key)
        return contested is None or answered > contested


@dataclass(frozen=True, slots=True)
class HealthPolicy:
    """The thresholds of outlier ejection.

    Attributes:
        consecutive_failures: proxy failures in a row that eject a proxy.
        success_rate_floor: eject when the success rate over the window falls below this
            (0 turns the check off).
        success_rate_volume: outcomes the window must hold before its success rate counts.
        window: seconds of one window bucket; the rate covers the current and the previous one.
        base_ejection_time: seconds of the first ejection; the n-th lasts n times as long.
        max_ejection_time: the cap on one ejection, in seconds.
        ejection_jitter: up to this share of an ejection is taken off at random, so proxies
            ejected together do not come back together.
        max_ejection_percent: the most of the pool that may be ejected at once, unless every
            proxy is failing; a proxy with no success in the window is ejected regardless
            (see :func:`ejection_allowed`).
        decay_time: seconds of good health that forgive one past ejection (None: max_ejection_time).
        latency_alpha: weight of the newest sample in the latency EWMA.
        latency_half_life: seconds after which what is known of a proxy's latency counts half as
            much: a proxy not heard from for that long is priced half way back to the pool's
            typical latency (so a slow one is tried again), and a new sample outweighs the old
            EWMA by as much more (see :func:`decay_latency` and :func:`record`).
        peer_window: seconds an answer from a site through one proxy counts as evidence that the
            site is up, so that a failure blamed on nobody through another proxy is that proxy's
            (see :class:`PeerEvidence`); 0 turns peer judgment off. 30 s: longer than the read
            timeouts a blackhole makes a request wait (httpx's default is 5 s), so the answers
            other proxies carried while it waited still count, and short enough that an answer
            still says the site is up now. An origin that goes down inside the window is caught
            by the contest rule (the next failure through another proxy), not by the window.
    """

    consecutive_failures: int = 3
    success_rate_floor: float = 0.5
    success_rate_volume: int = 10
    window: float = 60.0
    base_ejection_time: float = 30.0
    max_ejection_time: float = 300.0
    ejection_jitter: float = 0.1
    max_ejection_percent: float = 50.0
    decay_time: float | None = None
    latency_alpha: float = 0.3
    latency_half_life: float = 10.0
    peer_window: float = 30.0

    def __post_init__(self) -> None:
        checks: list[tuple[bool, str]] = [
            (self.consecutive_failures >= 1, "consecutive_failures must be 1 or more"),
            (0.0 <= self.success_rate_floor <= 1.0, "success_rate_floor must be between 0 and 1"),
            (self.success_rate_volume >= 1, "success_rate_volume must be 1 or more"),
            (self.window > 0, "window must be more than 0 seconds"),
            (self.base_ejection_time > 0, "base_ejection_time must be more than 0 seconds"),
            (
                self.max_ejection_time >= self.base_ejection_time,
                "max_ejection_time must be at least base_ejection_time",
            ),
            (0.0 <= self.ejection_jitter < 1.0, "ejection_jitter must be at least 0 and below 1"),
            (0.0 <= self.max_ejection_percent <= 100.0, "max_ejection_percent must be between 0 and 100"),
            (self.decay_time is None or self.decay_time > 0, "decay_time must be more than 0 seconds"),
            (0.0 < self.latency_alpha <= 1.0, "latency_alpha must be more than 0 and at most 1"),
            (self.latency_half_life > 0, "latency_half_life must be more than 0 seconds"),
            (self.peer_window >= 0, "peer_window must be 0 (off) or more seconds"),
        ]
        for ok, message in checks:
            if not ok:
                raise ConfigError(f"HealthPolicy: {message}")


@dataclass(frozen=True, slots=True)
class ProxyHealth:
    """What the pool knows about one proxy. A fresh proxy is ``ProxyHealth()``.

    Attributes:
        consecutive_failures: proxy failures since the last success.
        successes: successes in the current window bucket.
        failures: proxy failures in the current window bucket.
        prev_successes: successes in the previous bucket.
        prev_failures: proxy failures in the previous bucket.
        window_start: when the current bucket began (None before the first outcome).
        ejected: True from an ejection until a success in half-open restores the proxy.
        ejections: the ejection multiplier: ejections so far, less those forgiven.
        ejected_until: when the current or last ejection ends (None: never ejected).
        latency_ewma: smoothed seconds of successful attempts, also fed the time a proxy-blamed
            timeout waited when that is longer (None until the first of either).
        total_successes: successes ever.
        total_failures: proxy failures ever.
        last_failure: ``CODE/phase`` of the last proxy failure, for reports.
        updated_at: time of the last outcome.
    """

    consecutive_failures: int = 0
    successes: int = 0
    failures: int = 0
    prev_successes: int = 0
    prev_failures: int = 0
    window_start: float | None = None
    ejected: bool = False
    ejections: int = 0
    ejected_until: float | None = None
    latency_ewma: float | None = None
    total_successes: int = 0
    total_failures: int = 0
    last_failure: str = ""
    updated_at: float | None = None

    def state(self, now: float) -> HealthState:
        """The state at time ``now``."""
        if not self.ejected:
            return HealthState.HEALTHY
        if self.ejected_until is not None and now < self.ejected_until:
            return HealthState.EJECTED
        return HealthState.HALF_OPEN

    def window_counts(self, now: float, window: float) -> tuple[int, int]:
        """Successes and proxy failures in the sliding window that ends at ``now``."""
        rolled = _roll(self, now, window)
        return rolled.successes + rolled.prev_successes, rolled.failures + rolled.prev_failures

    def success_rate(self, now: float, window: float) -> float | None:
        """The share of successes in the window, or None when it is empty."""
        good, bad = self.window_counts(now, window)
        return good / (good + bad) if good + bad else None

    def is_failing(self, now: float, policy: HealthPolicy) -> bool:
        """True when the proxy meets an ejection condition (whether or not it is ejected)."""
        if self.consecutive_failures >= policy.consecutive_failures:
            return True
        return _rate_too_low(self, now, policy)


# ProxyHealth's fields in order, for _evolve.
_HEALTH_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(ProxyHealth))


def _rate_too_low(health: ProxyHealth, now: float, policy: HealthPolicy) -> bool:
    if policy.success_rate_floor <= 0.0:
        return False
    good, bad = health.window_counts(now, policy.window)
    return good + bad >= policy.success_rate_volume and good / (good + bad) < policy.success_rate_floor


def _evolve(health: ProxyHealth, **changes: Any) -> ProxyHealth:
    """``dataclasses.replace`` for a health record, at half its cost: one runs per attempt through a pool.

    ProxyHealth has no ``__post_init__`` to run: its fields are copied, the changed ones replaced
    (a test pins both). A subclass, should anyone make one, gets ``replace`` itself.

    Raises:
        TypeError: a name in ``changes`` that is not a field (as ``replace`` would).
    """
    if type(health) is not ProxyHealth:
        return replace(health, **changes)
    new = object.__new__(ProxyHealth)
    matched = 0
    for name in _HEALTH_FIELDS:
        if name in changes:
            object.__setattr__(new, name, changes[name])
            matched += 1
        else:
            object.__setattr__(new, name, getattr(health, name))
    if matched != len(changes):
        unknown = sorted(set(changes) - set(_HEALTH_FIELDS))
        raise TypeError(f"ProxyHealth has no field {', '.join(unknown)}")
    return new


def _roll(health: ProxyHealth, now: float, window: float) -> ProxyHealth:
    """Move the window buckets on to ``now`` (a clock that went back leaves them as they are)."""
    start = health.window_start
    if start is None:
        return _evolve(health, window_start=now)
    elapsed = now - start
    if elapsed < window:
        return health
    if elapsed < 2 * window:
        return _evolve(
            health,
            prev_successes=health.successes,
            prev_failures=health.failures,
            successes=0,
            failures=0,
            window_start=start + window,
        )
    return _evolve(health, prev_successes=0, prev_failures=0, successes=0, failures=0, window_start=now)


def ejection_time(ejections: int, policy: HealthPolicy, rand: float) -> float:
    """Seconds the ``ejections``-th ejection lasts.

    Args:
        ejections: the multiplier, 1 for a first ejection.
        policy: the thresholds.
        rand: a random number in [0, 1) that picks the jitter.

    Returns:
        ``min(base × ejections, max)``, less up to ``ejection_jitter`` of it.
    """
    span = min(policy.base_ejection_time * ejections, policy.max_ejection_time)
    return span * (1.0 - policy.ejection_jitter * min(max(rand, 0.0), 1.0))


def _eject(health: ProxyHealth, now: float, policy: HealthPolicy, rand: float) -> ProxyHealth:
    prior = health.ejections
    if not health.ejected and health.ejected_until is not None and prior:
        decay = policy.decay_time if policy.decay_time is not None else policy.max_ejection_time
        forgiven = max(0, math.floor((now - health.ejected_until) / decay))
        prior = max(0, prior - forgiven)
    multiplier = prior + 1
    return _evolve(
        health,
        ejected=True,
        ejections=multiplier,
        ejected_until=now + ejection_time(multiplier, policy, rand),
    )


def record(
    health: ProxyHealth,
    failure: Failure | None,
    latency: float | None,
    *,
    now: float,
    policy: HealthPolicy,
    rand: float,
    may_eject: bool = True,
    peer_ok: bool = False,
) -> ProxyHealth:
    """One outcome of one attempt through the proxy: the next health.

    Args:
        health: the health before.
        failure: the classified failure, or None for a success.
        latency: seconds the attempt took, or None: fed to the latency EWMA on a success, and
            on an ETIMEDOUT judged the proxy's when it is above the EWMA (the proxy took at least that
            long); the old EWMA weighs less the longer ago the last outcome was.
        now: the time of the outcome (wall clock, seconds).
        policy: the thresholds.
        rand: a random number in [0, 1) for the ejection jitter.
        may_eject: False when the pool may not eject one more proxy now (see
            :func:`ejection_allowed`).
        peer_ok: peers vouch for the site, so a failure blamed on nobody is the proxy's (see
            :func:`judge`).

    Returns:
        The health after; ``health`` itself when the outcome says nothing about the proxy.
    """
    verdict = judge(failure, peer_ok=peer_ok)
    if verdict is Verdict.IGNORED:
        return health
    state = health.state(now)
    rolled = _roll(health, now, policy.window)
    sample = latency if latency is not None and latency >= 0.0 and math.isfinite(latency) else None
    if verdict is Verdict.SUCCESS:
        ewma = rolled.latency_ewma if sample is None else _blend(health, sample, now, policy)
        after = _evolve(
            rolled,
            consecutive_failures=0,
            successes=rolled.successes + 1,
            total_successes=rolled.total_successes + 1,
            latency_ewma=ewma,
            updated_at=now,
        )
        if state is HealthState.HALF_OPEN:
            # The probe passed: start afresh, or the failures that ejected it would eject it again.
            after = _evolve(
                after,
                ejected=False,
                ejected_until=now,
                successes=1,
                failures=0,
                prev_successes=0,
                prev_failures=0,
                window_start=now,
            )
        return after
    assert failure is not None  # a PROXY_FAILURE verdict has a failure
    ewma = rolled.latency_ewma
    # The time a timeout waited is a lower bound of the proxy's latency: it may raise the estimate,
    # never lower it. Fast failures (refused, reset) say nothing of latency: fed, they would make a
    # dead proxy look fast.
    if sample is not None and failure.code is ErrorCode.ETIMEDOUT and (ewma is None or sample > ewma):
        ewma = _blend(health, sample, now, policy)
    after = _evolve(
        rolled,
        latency_ewma=ewma,
        consecutive_failures=rolled.consecutive_failures + 1,
        failures=rolled.failures + 1,
        total_failures=rolled.total_failures + 1,
        last_failure=f"{failure.code}/{failure.phase}",
        updated_at=now,
    )
    if state is HealthState.EJECTED:
        # A request leased before the ejection ended badly: it is already out.
        return after
    trip = state is HealthState.HALF_OPEN or after.is_failing(now, policy)
    if trip and may_eject:
        return _eject(after, now, policy, rand)
    return after


def _blend(health: ProxyHealth, latency: float, now: float, policy: HealthPolicy) -> float:
    """The EWMA after one more sample; the older the last outcome, the less the old value weighs."""
    ewma = health.latency_ewma
    if ewma is None:
        return latency
    age = now - health.updated_at if health.updated_at is not None else 0.0
    keep = (1.0 - policy.latency_alpha) * _fade(age, policy)
    return latency + keep * (ewma - latency)


def _fade(age: float, policy: HealthPolicy) -> float:
    """How much knowledge ``age`` seconds old still weighs: 1 when fresh, a half per half-life."""
    if age <= 0.0:
        return 1.0
    return math.pow(0.5, age / policy.latency_half_life)


def decay_latency(ewma: float, *, typical: float, age: float, policy: HealthPolicy) -> float:
    """The latency to price a proxy at when its EWMA was last fed ``age`` seconds ago.

    Knowledge goes stale: the estimate drifts from the EWMA back toward the pool's typical
    latency, half way per ``latency_half_life``. So a proxy once slow (or once timed out) is
    tried again after a while instead of losing every comparison for ever, and one once fast
    stops being preferred on old news. A negative age (another machine's clock ahead) counts
    as fresh.

    Args:
        ewma: the proxy's latency EWMA, in seconds.
        typical: the pool's typical latency (e.g. the median of the known EWMAs).
        age: seconds since the proxy's last outcome (``now - ProxyHealth.updated_at``).
        policy: the thresholds (its ``latency_half_life``).

    Returns:
        Seconds: ``typical + (ewma - typical) × 2^(-age / half_life)``.
    """
    return typical + (ewma - typical) * _fade(age, policy)


def ejection_allowed(
    key: str,
    keys: Sequence[str],
    healths: Mapping[str, ProxyHealth],
    *,
    now: float,
    policy: HealthPolicy,
) -> bool:
    """Whether ejecting ``key`` keeps the pool within ``max_ejection_percent``.

    The share guards capacity against noisy detection: it keeps in rotation proxies that still
    work sometimes. Two cases gain nothing from keeping a proxy in, so they may go past it:

    * the proxy had no success in the window: it gives no capacity (a free-proxy list is often
      mostly dead, and each dead proxy kept in costs every request that picks it an attempt);
    * every other proxy is ejected or failing too: then the lease picks the least bad anyway.

    Args:
        key: the proxy about to be ejected.
        keys: every proxy of the pool.
        healths: their health (a missing key is a fresh proxy).
        now: the time.
        policy: the thresholds.

    Returns:
        True when the proxy may be ejected.
    """
    others = [healths.get(other, _FRESH) for other in keys if other != key]
    total = len(others) + 1
    ejected = sum(1 for h in others if h.state(now) is HealthState.EJECTED)
    if (ejected + 1) * 100.0 <= policy.max_ejection_percent * total:
        return True
    if healths.get(key, _FRESH).window_counts(now, policy.window)[0] == 0:
        return True
    return all(h.state(now) is HealthState.EJECTED or h.is_failing(now, policy) for h in others)


_FRESH = ProxyHealth()


def least_bad_order(health: ProxyHealth, now: float, policy: HealthPolicy) -> tuple[float, ...]:
    """A sort key: the proxy to try first when every proxy is out sorts first.

    Not ejected before ejected; then the ejection that ends soonest; then fewer failures in a
    row; then the better success rate.
    """
    state = health.state(now)
    rank = {HealthState.HEALTHY: 0, HealthState.HALF_OPEN: 1, HealthState.EJECTED: 2}[state]
    until = health.ejected_until if state is HealthState.EJECTED and health.ejected_until is not None else now
    rate = health.success_rate(now, policy.window)
    return (float(rank), until, float(health.consecutive_failures), -(rate if rate is not None else 1.0))


@dataclass(frozen=True, slots=True)
class BanPolicy:
    """When a response bans a proxy from one site, and for how long.

    Attributes:
        statuses: HTTP statuses (a ``Failure`` with code HTTP_STATUS) that ban: 403 and 429.
        cooldown: seconds a ban lasts.
        is_block_page: an extra check for block pages and captchas served with another status;
            gets the failure (its ``detail`` and ``exception`` carry what the integration saw).
    """

    statuses: frozenset[int] = frozenset({403, 429})
    cooldown: float = 600.0
    is_block_page: Callable[[Failure], bool] | None = None

    def __post_init__(self) -> None:
        if self.cooldown <= 0:
            raise ConfigError("BanPolicy: cooldown must be more than 0 seconds")

    def bans(self, failure: Failure | None) -> bool:
        """Whether this outcome bans the proxy from the site it was for."""
        if failure is None:
            return False
        if failure.code is ErrorCode.HTTP_STATUS and failure.status in self.statuses:
            return True
        return self.is_block_page is not None and bool(self.is_block_page(failure))


_FIELD_NAMES = frozenset(f.name for f in fields(ProxyHealth))
_FORMAT = 1


def encode_health(health: ProxyHealth) -> str:
    """The health as a compact JSON object, for stores."""
    data: dict[str, Any] = {"v": _FORMAT}
    data.update((k, v) for k, v in asdict(health).items() if v != getattr(_FRESH, k))
    return json.dumps(data, separators=(",", ":"), allow_nan=False)


def decode_health(text: str | bytes | None) -> ProxyHealth:
    """A health from :func:`encode_health`'s JSON; a missing or unreadable record is a fresh proxy.

    An unreadable record (another version, a hand edit) must not stop the pool: forgetting
    one proxy's history is the safe way out.
    """
    if text is None:
        return _FRESH
    try:
        data = json.loads(text)
        if not isinstance(data, dict) or data.get("v") != _FORMAT:
            return _FRESH
        values = {k: v for k, v in data.items() if k in _FIELD_NAMES}
        health = ProxyHealth(**values)
    except (ValueError, TypeError):
        return _FRESH
    return health
