"""The pure health model: verdicts, outlier ejection, half-open, the ejection cap, bans; no clock read."""

from __future__ import annotations

import dataclasses

import pytest

from sockwise import Blame, ConfigError, ErrorCode, Failure, Phase
from sockwise.pool import (
    BanPolicy,
    HealthPolicy,
    HealthState,
    PeerEvidence,
    ProxyHealth,
    Verdict,
    decay_latency,
    ejection_allowed,
    ejection_time,
    judge,
    record,
)
from sockwise.pool._health import _HEALTH_FIELDS, _evolve, decode_health, encode_health, least_bad_order

REFUSED = Failure(ErrorCode.ECONNREFUSED, Phase.PROXY_CONNECT, Blame.PROXY, request_sent=False, errno=111)
ORIGIN_RESET = Failure(ErrorCode.ECONNRESET, Phase.WAIT, Blame.ORIGIN, request_sent=True, errno=104)
LOCAL_EMFILE = Failure(ErrorCode.EMFILE, Phase.CONNECT, Blame.LOCAL, request_sent=False, errno=24)
NETWORK = Failure(ErrorCode.ENETUNREACH, Phase.PROXY_CONNECT, Blame.NETWORK, request_sent=False)
UNKNOWN = Failure(ErrorCode.UNKNOWN)
STATUS_403 = Failure(ErrorCode.HTTP_STATUS, Phase.WAIT, Blame.ORIGIN, request_sent=True, status=403)
STATUS_429 = Failure(ErrorCode.HTTP_STATUS, Phase.WAIT, Blame.ORIGIN, request_sent=True, status=429)
STATUS_500 = Failure(ErrorCode.HTTP_STATUS, Phase.WAIT, Blame.ORIGIN, request_sent=True, status=500)
TIMEOUT = Failure(ErrorCode.ETIMEDOUT, Phase.PROXY_HANDSHAKE, Blame.PROXY, request_sent=False)
AUTH_407 = Failure(ErrorCode.PROXY_AUTH, Phase.PROXY_HANDSHAKE, Blame.PROXY, request_sent=False, status=407)
BAD_GATEWAY = Failure(ErrorCode.HTTP_STATUS, Phase.WAIT, Blame.UNKNOWN, request_sent=True, status=502)
READ_TIMEOUT = Failure(ErrorCode.ETIMEDOUT, Phase.WAIT, Blame.UNKNOWN, request_sent=True)

T0 = 1_000_000.0
NO_JITTER = HealthPolicy(ejection_jitter=0.0, success_rate_floor=0.0)


def run(
    health: ProxyHealth,
    outcomes: list[Failure | None],
    *,
    now: float = T0,
    policy: HealthPolicy = NO_JITTER,
    may_eject: bool = True,
) -> ProxyHealth:
    for outcome in outcomes:
        health = record(health, outcome, 0.1, now=now, policy=policy, rand=0.0, may_eject=may_eject)
    return health


@pytest.mark.parametrize(
    ("failure", "verdict"),
    [
        (None, Verdict.SUCCESS),
        (ORIGIN_RESET, Verdict.SUCCESS),
        (STATUS_403, Verdict.SUCCESS),
        (REFUSED, Verdict.PROXY_FAILURE),
        (AUTH_407, Verdict.PROXY_FAILURE),
        (LOCAL_EMFILE, Verdict.IGNORED),
        (NETWORK, Verdict.IGNORED),
        (UNKNOWN, Verdict.IGNORED),
    ],
)
def test_judge(failure: Failure | None, verdict: Verdict) -> None:
    """Only proxy-blamed failures count against a proxy; origin-blamed ones prove its hop worked."""
    assert judge(failure) is verdict


def test_origin_failures_never_eject() -> None:
    """Twenty origin failures in a row leave the proxy healthy with no failure counted."""
    health = run(ProxyHealth(), [ORIGIN_RESET, STATUS_500] * 10)
    assert health.state(T0) is HealthState.HEALTHY
    assert health.consecutive_failures == 0
    assert health.total_failures == 0
    assert health.total_successes == 20


def test_local_failures_change_nothing() -> None:
    """A local failure returns the very same health value (nothing learned, nothing to store)."""
    health = run(ProxyHealth(), [REFUSED])
    assert record(health, LOCAL_EMFILE, 1.0, now=T0, policy=NO_JITTER, rand=0.0) is health
    assert record(health, NETWORK, 1.0, now=T0, policy=NO_JITTER, rand=0.0) is health


def test_consecutive_failures_eject_at_threshold() -> None:
    """Two proxy failures keep the proxy in; the third ejects it for base_ejection_time."""
    two = run(ProxyHealth(), [REFUSED, REFUSED])
    assert two.state(T0) is HealthState.HEALTHY
    assert two.consecutive_failures == 2
    three = run(two, [REFUSED])
    assert three.state(T0) is HealthState.EJECTED
    assert three.ejections == 1
    assert three.ejected_until == T0 + 30.0
    assert three.last_failure == "ECONNREFUSED/proxy_connect"


def test_success_resets_consecutive_count() -> None:
    """A success between failures resets the count: fail, fail, ok, fail, fail stays in."""
    health = run(ProxyHealth(), [REFUSED, REFUSED, None, REFUSED, REFUSED])
    assert health.state(T0) is HealthState.HEALTHY
    assert health.consecutive_failures == 2


def test_origin_failure_resets_consecutive_count() -> None:
    """An origin failure shows the proxy hop worked, so it resets the consecutive count too."""
    health = run(ProxyHealth(), [REFUSED, REFUSED, ORIGIN_RESET, REFUSED, REFUSED])
    assert health.state(T0) is HealthState.HEALTHY


def test_success_rate_floor_ejects_with_minimum_volume() -> None:
    """Alternating ok/fail (never 3 in a row) ejects once the window holds the volume and the rate is low."""
    policy = HealthPolicy(ejection_jitter=0.0, success_rate_floor=0.6, success_rate_volume=10)
    health = ProxyHealth()
    for i in range(9):
        health = record(health, None if i % 2 else REFUSED, 0.1, now=T0 + i, policy=policy, rand=0.0)
    assert health.state(T0 + 9) is HealthState.HEALTHY  # 9 outcomes: under the volume
    health = record(health, REFUSED, 0.1, now=T0 + 9, policy=policy, rand=0.0)
    assert health.window_counts(T0 + 9, policy.window) == (4, 6)
    assert health.state(T0 + 9) is HealthState.EJECTED


def test_success_rate_above_floor_stays() -> None:
    """A proxy with 60 % success over a full window stays in under a 50 % floor."""
    policy = HealthPolicy(ejection_jitter=0.0, success_rate_floor=0.5, success_rate_volume=10)
    pattern: list[Failure | None] = [None, None, None, REFUSED, REFUSED] * 4
    health = run(ProxyHealth(), pattern, policy=policy)
    assert health.success_rate(T0, policy.window) == pytest.approx(0.6)
    assert health.state(T0) is HealthState.HEALTHY


def test_window_forgets_old_outcomes() -> None:
    """Outcomes older than two windows fall out of the success rate."""
    policy = HealthPolicy(window=10.0)
    health = run(ProxyHealth(), [REFUSED, None], policy=policy)
    assert health.window_counts(T0 + 5, 10.0) == (1, 1)
    assert health.window_counts(T0 + 15, 10.0) == (1, 1)  # previous bucket still counts
    assert health.window_counts(T0 + 25, 10.0) == (0, 0)


def test_ejection_time_grows_and_caps() -> None:
    """The n-th ejection lasts base × n, capped at max_ejection_time."""
    policy = HealthPolicy(base_ejection_time=30.0, max_ejection_time=100.0, ejection_jitter=0.0)
    assert [ejection_time(n, policy, 0.0) for n in (1, 2, 3, 4, 10)] == [30.0, 60.0, 90.0, 100.0, 100.0]


def test_ejection_jitter_shortens_within_bounds() -> None:
    """Jitter takes off at most ejection_jitter of the time, so the cap still holds."""
    policy = HealthPolicy(base_ejection_time=30.0, max_ejection_time=100.0, ejection_jitter=0.2)
    assert ejection_time(1, policy, 0.0) == 30.0
    assert ejection_time(1, policy, 0.5) == pytest.approx(27.0)
    assert ejection_time(5, policy, 0.999) >= 80.0
    assert ejection_time(5, policy, 0.0) == 100.0


def test_half_open_after_ejection_then_success_restores() -> None:
    """When the ejection ends the proxy is half-open; a success restores it and clears the window."""
    ejected = run(ProxyHealth(), [REFUSED] * 3)
    assert ejected.state(T0 + 29.9) is HealthState.EJECTED
    assert ejected.state(T0 + 30.0) is HealthState.HALF_OPEN
    restored = record(ejected, None, 0.2, now=T0 + 31, policy=NO_JITTER, rand=0.0)
    assert restored.state(T0 + 31) is HealthState.HEALTHY
    assert restored.consecutive_failures == 0
    assert restored.window_counts(T0 + 31, NO_JITTER.window) == (1, 0)
    assert restored.ejections == 1  # remembered, so a relapse lasts longer


def test_half_open_failure_reejects_for_longer() -> None:
    """One proxy failure in half-open ejects again at once, for twice the base time."""
    ejected = run(ProxyHealth(), [REFUSED] * 3)
    again = record(ejected, REFUSED, None, now=T0 + 31, policy=NO_JITTER, rand=0.0)
    assert again.state(T0 + 31) is HealthState.EJECTED
    assert again.ejections == 2
    assert again.ejected_until == T0 + 31 + 60.0
    third = record(again, REFUSED, None, now=T0 + 92, policy=NO_JITTER, rand=0.0)
    assert third.ejected_until == T0 + 92 + 90.0


def test_relapse_after_restore_lasts_longer() -> None:
    """A proxy restored and ejected again soon after gets the longer, second ejection time."""
    health = run(ProxyHealth(), [REFUSED] * 3)
    health = record(health, None, 0.1, now=T0 + 31, policy=NO_JITTER, rand=0.0)
    health = run(health, [REFUSED] * 3, now=T0 + 40)
    assert health.ejections == 2
    assert health.ejected_until == T0 + 40 + 60.0


def test_good_health_forgives_ejections() -> None:
    """After decay_time of good health per past ejection, the next ejection is short again."""
    policy = HealthPolicy(ejection_jitter=0.0, success_rate_floor=0.0, decay_time=100.0)
    health = run(ProxyHealth(), [REFUSED] * 3, policy=policy)
    health = record(health, REFUSED, None, now=T0 + 31, policy=policy, rand=0.0)  # second ejection, until T0+91
    health = record(health, None, 0.1, now=T0 + 91, policy=policy, rand=0.0)  # restored at T0+91
    health = run(health, [REFUSED] * 3, now=T0 + 91 + 250, policy=policy)  # 2 decay periods later
    assert health.ejections == 1
    assert health.ejected_until == T0 + 341 + 30.0


def test_failures_while_ejected_do_not_extend() -> None:
    """Late failures of requests leased before the ejection count but do not move its end."""
    ejected = run(ProxyHealth(), [REFUSED] * 3)
    later = run(ejected, [REFUSED] * 5, now=T0 + 10)
    assert later.ejected_until == ejected.ejected_until
    assert later.ejections == 1
    assert later.total_failures == 8


def test_success_while_ejected_does_not_restore() -> None:
    """A late success while ejected does not end the ejection early."""
    ejected = run(ProxyHealth(), [REFUSED] * 3)
    later = record(ejected, None, 0.1, now=T0 + 10, policy=NO_JITTER, rand=0.0)
    assert later.state(T0 + 10) is HealthState.EJECTED


def test_may_eject_false_keeps_proxy_in() -> None:
    """When the pool may not eject more, a failing proxy stays in but keeps counting."""
    health = run(ProxyHealth(), [REFUSED] * 5, may_eject=False)
    assert health.state(T0) is HealthState.HEALTHY
    assert health.consecutive_failures == 5
    assert health.is_failing(T0, NO_JITTER)


def test_latency_ewma() -> None:
    """The latency EWMA starts at the first sample and moves by alpha toward each new one."""
    policy = HealthPolicy(latency_alpha=0.5)
    health = record(ProxyHealth(), None, 1.0, now=T0, policy=policy, rand=0.0)
    assert health.latency_ewma == 1.0
    health = record(health, None, 3.0, now=T0, policy=policy, rand=0.0)
    assert health.latency_ewma == 2.0
    health = record(health, REFUSED, 100.0, now=T0, policy=policy, rand=0.0)
    assert health.latency_ewma == 2.0  # failures do not feed latency
    health = record(health, None, None, now=T0, policy=policy, rand=0.0)
    assert health.latency_ewma == 2.0


def test_proxy_timeout_raises_latency_never_lowers() -> None:
    """A proxy-blamed timeout feeds the time it waited into the EWMA only when that is longer."""
    policy = HealthPolicy(latency_alpha=0.5)
    health = record(ProxyHealth(), TIMEOUT, 1.0, now=T0, policy=policy, rand=0.0)
    assert health.latency_ewma == 1.0  # a blackhole's first word: at least 1 s
    assert health.consecutive_failures == 1
    health = record(ProxyHealth(), None, 0.2, now=T0, policy=policy, rand=0.0)
    health = record(health, TIMEOUT, 1.0, now=T0, policy=policy, rand=0.0)
    assert health.latency_ewma == pytest.approx(0.6)
    health = record(health, TIMEOUT, 0.3, now=T0, policy=policy, rand=0.0)
    assert health.latency_ewma == pytest.approx(0.6)  # a shorter timeout says nothing new
    fast_failure = record(ProxyHealth(), REFUSED, 0.001, now=T0, policy=policy, rand=0.0)
    assert fast_failure.latency_ewma is None  # a refusal must not make a dead proxy look fast


def test_old_ewma_weighs_less_in_a_new_sample() -> None:
    """A sample one half-life after the last outcome meets an old EWMA worth half its usual weight."""
    policy = HealthPolicy(latency_alpha=0.5, latency_half_life=10.0)
    health = record(ProxyHealth(), None, 2.0, now=T0, policy=policy, rand=0.0)
    later = record(health, None, 1.0, now=T0 + 10.0, policy=policy, rand=0.0)
    assert later.latency_ewma == pytest.approx(1.0 + 0.25 * 1.0)
    much_later = record(health, None, 1.0, now=T0 + 200.0, policy=policy, rand=0.0)
    assert much_later.latency_ewma == pytest.approx(1.0, abs=1e-6)
    clock_behind = record(health, None, 1.0, now=T0 - 5.0, policy=policy, rand=0.0)
    assert clock_behind.latency_ewma == pytest.approx(1.5)  # a clock that went back: fresh, plain alpha


def test_decay_latency_halves_the_distance_to_typical_per_half_life() -> None:
    """A stale estimate drifts toward the typical latency, half way per half-life, from either side."""
    policy = HealthPolicy(latency_half_life=10.0)
    assert decay_latency(2.0, typical=0.2, age=0.0, policy=policy) == 2.0
    assert decay_latency(2.0, typical=0.2, age=10.0, policy=policy) == pytest.approx(1.1)
    assert decay_latency(2.0, typical=0.2, age=20.0, policy=policy) == pytest.approx(0.65)
    assert decay_latency(0.05, typical=0.2, age=10.0, policy=policy) == pytest.approx(0.125)
    assert decay_latency(2.0, typical=0.2, age=-3.0, policy=policy) == 2.0  # another clock ahead: fresh


def _ejected() -> ProxyHealth:
    return run(ProxyHealth(), [REFUSED] * 3)


WORKED = run(ProxyHealth(), [None, REFUSED, REFUSED], may_eject=False)  # worked once in the window


def test_max_ejection_percent_allows_up_to_share() -> None:
    """With 4 proxies and a 50 % cap, a second ejection is allowed, a third of a proxy that worked is not."""
    keys = ["a", "b", "c", "d"]
    assert ejection_allowed("b", keys, {"a": _ejected(), "b": WORKED}, now=T0, policy=NO_JITTER)
    assert not ejection_allowed("c", keys, {"a": _ejected(), "b": _ejected(), "c": WORKED}, now=T0, policy=NO_JITTER)


def test_dead_proxy_ejected_past_the_share() -> None:
    """A proxy without a success in the window is ejected past the share: it gives no capacity."""
    keys = ["a", "b", "c", "d"]
    never_worked = run(ProxyHealth(), [REFUSED, REFUSED], may_eject=False)
    assert ejection_allowed("c", keys, {"a": _ejected(), "b": _ejected(), "c": never_worked}, now=T0, policy=NO_JITTER)
    assert ejection_allowed("c", keys, {"a": _ejected(), "b": _ejected()}, now=T0, policy=NO_JITTER)


def test_max_ejection_percent_lifted_when_every_proxy_fails() -> None:
    """When every other proxy is ejected or failing, even a proxy that worked is ejected past the cap."""
    keys = ["a", "b", "c", "d"]
    failing = run(ProxyHealth(), [REFUSED] * 3, may_eject=False)
    healths = {"a": _ejected(), "b": _ejected(), "c": WORKED, "d": failing}
    assert ejection_allowed("c", keys, healths, now=T0, policy=NO_JITTER)
    healths_one_good = {"a": _ejected(), "b": _ejected(), "c": WORKED, "d": ProxyHealth()}
    assert not ejection_allowed("c", keys, healths_one_good, now=T0, policy=NO_JITTER)


def test_single_proxy_pool_may_eject() -> None:
    """A pool of one may eject its only proxy (nothing better is left; leases pick the least bad)."""
    assert ejection_allowed("a", ["a"], {"a": WORKED}, now=T0, policy=NO_JITTER)


def test_half_open_others_do_not_count_as_ejected() -> None:
    """Proxies whose ejection has ended do not use up the ejection share."""
    keys = ["a", "b", "c", "d"]
    healths = {"a": _ejected(), "b": _ejected(), "c": WORKED}
    assert not ejection_allowed("c", keys, healths, now=T0, policy=NO_JITTER)
    assert ejection_allowed("c", keys, healths, now=T0 + 31, policy=NO_JITTER)


def test_least_bad_order() -> None:
    """Healthy sorts before half-open before ejected; among ejected, the one back soonest first."""
    early = _ejected()
    late = run(ProxyHealth(), [REFUSED] * 3, now=T0 + 10)
    now = T0 + 5
    order = sorted(
        [("late", late), ("early", early), ("fresh", ProxyHealth())],
        key=lambda kv: least_bad_order(kv[1], now, NO_JITTER),
    )
    assert [name for name, _ in order] == ["fresh", "early", "late"]


def test_ban_policy_defaults() -> None:
    """403 and 429 ban by default; 500, proxy failures and successes do not."""
    policy = BanPolicy()
    assert policy.bans(STATUS_403)
    assert policy.bans(STATUS_429)
    assert not policy.bans(STATUS_500)
    assert not policy.bans(AUTH_407)
    assert not policy.bans(None)


def test_ban_policy_block_page_check() -> None:
    """A pluggable check bans on block pages served with another status."""
    captcha = Failure(ErrorCode.HTTP_STATUS, Phase.BODY, Blame.ORIGIN, status=200, detail="captcha page")
    policy = BanPolicy(is_block_page=lambda f: "captcha" in f.detail)
    assert policy.bans(captcha)
    assert not BanPolicy().bans(captcha)


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"consecutive_failures": 0}, "consecutive_failures must be 1 or more"),
        ({"success_rate_floor": 1.5}, "success_rate_floor must be between 0 and 1"),
        ({"max_ejection_time": 1.0}, "max_ejection_time must be at least base_ejection_time"),
        ({"ejection_jitter": 1.0}, "ejection_jitter must be at least 0 and below 1"),
        ({"max_ejection_percent": 120.0}, "max_ejection_percent must be between 0 and 100"),
        ({"latency_alpha": 0.0}, "latency_alpha must be more than 0 and at most 1"),
        ({"latency_half_life": 0.0}, "latency_half_life must be more than 0 seconds"),
        ({"peer_window": -1.0}, r"peer_window must be 0 \(off\) or more seconds"),
    ],
)
def test_policy_validation(kwargs: dict[str, float], words: str) -> None:
    """A bad threshold is a ConfigError naming it."""
    with pytest.raises(ConfigError, match=words):
        HealthPolicy(**kwargs)  # type: ignore[arg-type]


def test_encode_decode_round_trip() -> None:
    """A health survives the JSON round trip exactly; junk decodes to a fresh proxy."""
    health = run(ProxyHealth(), [None, REFUSED, REFUSED, REFUSED])
    assert decode_health(encode_health(health)) == health
    assert decode_health(encode_health(ProxyHealth())) == ProxyHealth()
    assert decode_health(None) == ProxyHealth()
    assert decode_health(b"not json") == ProxyHealth()
    assert decode_health('{"v": 99, "ejected": true}') == ProxyHealth()
    assert decode_health('{"v": 1, "no_such_field": 3, "ejections": 2}') == ProxyHealth(ejections=2)


@pytest.mark.parametrize(
    ("failure", "verdict"),
    [
        (None, Verdict.SUCCESS),
        (STATUS_403, Verdict.SUCCESS),
        (REFUSED, Verdict.PROXY_FAILURE),
        (BAD_GATEWAY, Verdict.PROXY_FAILURE),
        (READ_TIMEOUT, Verdict.PROXY_FAILURE),
        (UNKNOWN, Verdict.PROXY_FAILURE),
        (LOCAL_EMFILE, Verdict.IGNORED),
        (NETWORK, Verdict.IGNORED),
    ],
)
def test_judge_with_peers_vouching(failure: Failure | None, verdict: Verdict) -> None:
    """Peers vouching for the site make a failure blamed on nobody the proxy's; local and network ones stay ignored."""
    assert judge(failure, peer_ok=True) is verdict


def test_record_with_peers_vouching_ejects_on_unknown_failures() -> None:
    """Failures blamed on nobody eject a proxy when peers vouch, and change nothing when they do not."""
    alone = ProxyHealth()
    for _ in range(5):
        alone = record(alone, BAD_GATEWAY, 0.01, now=T0, policy=NO_JITTER, rand=0.0)
    assert alone == ProxyHealth()
    vouched = ProxyHealth()
    for _ in range(3):
        vouched = record(vouched, BAD_GATEWAY, 0.01, now=T0, policy=NO_JITTER, rand=0.0, peer_ok=True)
    assert vouched.state(T0) is HealthState.EJECTED
    assert (vouched.total_failures, vouched.last_failure) == (3, "HTTP_STATUS/wait")


def test_peer_judged_read_timeout_raises_latency() -> None:
    """A read timeout judged the proxy's raises its latency estimate to the time waited, as a proxy timeout does."""
    health = record(ProxyHealth(), None, 0.05, now=T0, policy=NO_JITTER, rand=0.0)
    health = record(health, READ_TIMEOUT, 2.0, now=T0, policy=NO_JITTER, rand=0.0, peer_ok=True)
    assert health.latency_ewma == pytest.approx(0.05 + 0.3 * (2.0 - 0.05))


def test_peer_evidence_answer_through_another_proxy_vouches() -> None:
    """An answer through B 1 s ago vouches against A; not against B itself; not before any answer."""
    window = 30.0
    assert not PeerEvidence().peer_ok("A", now=T0, window=window)
    evidence = PeerEvidence().note("B", None, T0)
    assert evidence.peer_ok("A", now=T0 + 1.0, window=window)
    assert not evidence.peer_ok("B", now=T0 + 1.0, window=window)


def test_peer_evidence_origin_blamed_failure_is_an_answer() -> None:
    """A failure blamed on the origin (a 403, a reset after the request) shows the site up: it vouches too."""
    assert PeerEvidence().note("B", STATUS_403, T0).peer_ok("A", now=T0 + 1.0, window=30.0)
    assert PeerEvidence().note("B", ORIGIN_RESET, T0).peer_ok("A", now=T0 + 1.0, window=30.0)


def test_peer_evidence_expires_after_the_window() -> None:
    """An answer older than the window vouches for nothing; at exactly the window it still does; 0 turns it off."""
    evidence = PeerEvidence().note("B", None, T0)
    assert evidence.peer_ok("A", now=T0 + 30.0, window=30.0)
    assert not evidence.peer_ok("A", now=T0 + 30.5, window=30.0)
    assert not evidence.peer_ok("A", now=T0 + 1.0, window=0.0)


def test_peer_evidence_unknown_failure_through_another_proxy_contests() -> None:
    """A failure blamed on nobody through C after B's answer contests it (origin down?); a new answer ends that."""
    evidence = PeerEvidence().note("B", None, T0).note("C", BAD_GATEWAY, T0 + 1.0)
    assert not evidence.peer_ok("A", now=T0 + 2.0, window=30.0)
    # C's own failure does not contest the evidence against C.
    assert evidence.peer_ok("C", now=T0 + 2.0, window=30.0)
    assert evidence.note("B", None, T0 + 3.0).peer_ok("A", now=T0 + 4.0, window=30.0)
    # At the same instant the failure wins: nothing is blamed on a tie.
    assert not PeerEvidence().note("B", None, T0).note("C", READ_TIMEOUT, T0).peer_ok("A", now=T0, window=30.0)


def test_peer_evidence_own_failures_do_not_contest() -> None:
    """A's own failures blamed on nobody leave B's answer standing against A (a blackhole keeps failing)."""
    evidence = PeerEvidence().note("B", None, T0)
    for i in range(1, 4):
        assert evidence.peer_ok("A", now=T0 + i, window=30.0)
        evidence = evidence.note("A", BAD_GATEWAY, T0 + i)
    assert evidence.unexplained == (("A", T0 + 3),)


def test_peer_evidence_keeps_the_last_two_proxies_of_each_kind() -> None:
    """Evidence keeps the last two distinct proxies that answered, newest first: A answering last leaves C to vouch."""
    evidence = PeerEvidence().note("B", None, T0).note("C", None, T0 + 1.0).note("C", None, T0 + 2.0)
    assert evidence.answered == (("C", T0 + 2.0), ("B", T0))
    evidence = evidence.note("A", None, T0 + 3.0)
    assert evidence.answered == (("A", T0 + 3.0), ("C", T0 + 2.0))
    assert evidence.peer_ok("A", now=T0 + 4.0, window=30.0)


def test_peer_evidence_ignores_proxy_local_and_network_failures() -> None:
    """Failures blamed on the proxy, this machine or the network say nothing of the site: the evidence is unchanged."""
    evidence = PeerEvidence().note("B", None, T0)
    for failure in (REFUSED, AUTH_407, LOCAL_EMFILE, NETWORK):
        assert evidence.note("C", failure, T0 + 1.0) is evidence


_SOME_HEALTH = ProxyHealth(
    consecutive_failures=2,
    successes=5,
    failures=2,
    prev_successes=7,
    prev_failures=1,
    window_start=100.0,
    ejected=True,
    ejections=3,
    ejected_until=160.0,
    latency_ewma=0.25,
    total_successes=40,
    total_failures=9,
    last_failure="ECONNREFUSED/proxy_connect",
    updated_at=150.0,
)


@pytest.mark.parametrize(
    "changes",
    [
        {},
        {"successes": 6, "updated_at": 151.0},
        {"ejected": False, "ejected_until": None, "latency_ewma": None, "last_failure": ""},
        {name: getattr(ProxyHealth(), name) for name in _HEALTH_FIELDS},
    ],
    ids=["none", "two", "to-none", "all"],
)
def test_evolve_is_replace(changes: dict[str, object]) -> None:
    """_evolve (the fast copy a pool makes per attempt) gives exactly what dataclasses.replace gives."""
    fast = _evolve(_SOME_HEALTH, **changes)
    assert fast == dataclasses.replace(_SOME_HEALTH, **changes)  # type: ignore[arg-type]
    assert fast is not _SOME_HEALTH
    assert encode_health(fast) == encode_health(dataclasses.replace(_SOME_HEALTH, **changes))  # type: ignore[arg-type]
    with pytest.raises(dataclasses.FrozenInstanceError):
        fast.successes = 0  # type: ignore[misc]


def test_evolve_refuses_what_replace_refuses() -> None:
    """A name that is not a field is a TypeError, not silently dropped; a record has nothing to re-check."""
    with pytest.raises(TypeError, match="no field sucesses"):
        _evolve(_SOME_HEALTH, sucesses=1)
    assert not hasattr(ProxyHealth, "__post_init__")  # what _evolve skips and replace would run
    assert all(field.init for field in dataclasses.fields(ProxyHealth))


def test_evolve_keeps_a_subclass() -> None:
    """A subclass of ProxyHealth (or PeerEvidence) stays one through a pool's record steps."""

    @dataclasses.dataclass(frozen=True, slots=True)
    class Tagged(ProxyHealth):
        tag: str = "mine"

    evolved = _evolve(Tagged(successes=1), successes=2)
    assert (type(evolved), evolved.successes, evolved.tag) == (Tagged, 2, "mine")
