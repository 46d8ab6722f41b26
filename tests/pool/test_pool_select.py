"""Selection strategies and sticky sessions, with seeded randomness."""

from __future__ import annotations

import math
import random
from collections import Counter

import pytest

from sockwise import ConfigError, Proxy
from sockwise.pool import (
    Candidate,
    LeastLoaded,
    RandomChoice,
    RoundRobin,
    SamplingStrategy,
    StickySessions,
    load_cost,
    strategy_from_name,
    typical_latency,
)


def cands(*loads: tuple[int, float | None]) -> list[Candidate]:
    return [Candidate(index=i, key=f"k{i}", in_flight=f, latency=lat) for i, (f, lat) in enumerate(loads)]


def test_round_robin_cycles_in_list_order() -> None:
    """Round-robin visits every candidate in list order, then wraps."""
    rr = RoundRobin()
    pool = cands((0, None), (0, None), (0, None))
    assert [rr.choose(pool, random.Random(0)).index for _ in range(7)] == [0, 1, 2, 0, 1, 2, 0]


def test_round_robin_skips_missing_candidates_fairly() -> None:
    """When a proxy is not offered, round-robin goes on from where it was, not from the start."""
    rr = RoundRobin()
    full = cands((0, None), (0, None), (0, None), (0, None))
    assert rr.choose(full, random.Random(0)).index == 0
    assert rr.choose(full, random.Random(0)).index == 1
    without_2 = [c for c in full if c.index != 2]
    assert rr.choose(without_2, random.Random(0)).index == 3
    assert rr.choose(full, random.Random(0)).index == 0


def test_random_choice_covers_all() -> None:
    """Random picks every candidate over many draws with a seeded generator."""
    rng = random.Random(7)
    counts = Counter(RandomChoice().choose(cands((0, None), (0, None), (0, None)), rng).index for _ in range(300))
    assert set(counts) == {0, 1, 2}
    assert min(counts.values()) > 60


def test_p2c_picks_less_loaded_of_two() -> None:
    """With two candidates, power of two choices always takes the one with fewer requests in flight."""
    ll = LeastLoaded()
    pool = cands((5, 0.1), (1, 0.1))
    assert {ll.choose(pool, random.Random(seed)).index for seed in range(50)} == {1}


def test_p2c_weighs_latency() -> None:
    """Equal in-flight: the lower latency EWMA wins; a fast proxy may carry more in flight."""
    ll = LeastLoaded()
    assert {ll.choose(cands((0, 2.0), (0, 0.5)), random.Random(s)).index for s in range(20)} == {1}
    # 3 in flight at 0.1 s costs 0.4; 0 in flight at 1.0 s costs 1.0.
    assert {ll.choose(cands((3, 0.1), (0, 1.0)), random.Random(s)).index for s in range(20)} == {0}


def test_p2c_never_picks_the_most_loaded_of_many() -> None:
    """Among many, the most loaded proxy is never chosen (it loses every pairing)."""
    ll = LeastLoaded()
    pool = cands((0, 0.1), (1, 0.1), (2, 0.1), (9, 0.1))
    picks = Counter(ll.choose(pool, random.Random(s)).index for s in range(400))
    assert picks[3] == 0
    assert picks[0] > picks[2]


def test_p2c_unknown_latency_priced_at_median() -> None:
    """A new proxy (no latency yet) is priced at the median of the known ones, not at zero."""
    ll = LeastLoaded()
    pool = cands((0, 0.1), (0, None), (0, 0.5))
    # Priced at the median 0.3 it beats 0.5 and loses to 0.1: it wins only the pairings with index 2.
    picks = Counter(ll.choose(pool, random.Random(s)).index for s in range(300))
    assert picks[2] == 0
    assert picks[0] > picks[1] > 0


def test_typical_latency_is_the_median_of_known() -> None:
    """The typical latency is the median of the known latencies (one timeout does not move it), else the default."""
    assert typical_latency([0.1, None, 0.3, 1.0], 0.5) == 0.3
    assert typical_latency([0.1, 0.2], 0.5) == pytest.approx(0.15)
    assert typical_latency([None, None], 0.5) == 0.5
    assert typical_latency([], 0.07) == 0.07


def test_load_cost_takes_the_longer_of_latency_and_pending_age() -> None:
    """Cost = max(latency, age of the oldest request in flight) x (in flight + 1); unknown latency: the typical."""
    assert load_cost(Candidate(0, "a", in_flight=3, latency=0.1, pending_age=0.05), 0.2) == pytest.approx(0.4)
    assert load_cost(Candidate(0, "a", in_flight=1, latency=0.1, pending_age=0.5), 0.2) == pytest.approx(1.0)
    assert load_cost(Candidate(0, "a", in_flight=0, latency=None), 0.2) == pytest.approx(0.2)
    assert load_cost(Candidate(0, "a", in_flight=2, latency=None, pending_age=0.3), 0.2) == pytest.approx(0.9)


def test_p2c_prices_a_proxy_by_how_long_it_holds_a_request() -> None:
    """A proxy holding one request for longer than others take loses to busier proxies that answer."""
    ll = LeastLoaded(stall_factor=100.0)  # the cost alone, no stall cut
    fresh = [Candidate(i, f"k{i}", in_flight=3, latency=0.02, pending_age=0.01) for i in range(3)]
    quiet = Candidate(3, "k3", in_flight=1, latency=None, pending_age=0.005)
    silent = Candidate(3, "k3", in_flight=1, latency=None, pending_age=0.05)
    # Young, its one request makes it the cheapest (0.02 x 2 against 0.02 x 4): it wins every pairing it is in.
    picks = Counter(ll.choose([*fresh, quiet], random.Random(s)).index for s in range(300))
    assert picks[3] == sum(1 for s in range(300) if 3 in random.Random(s).sample(range(4), 2))
    # Held 50 ms while the others answer in 20: 0.05 x 2 = 0.1 against 0.08, it loses every pairing.
    assert 3 not in {ll.choose([*fresh, silent], random.Random(s)).index for s in range(300)}


def test_p2c_leaves_out_stalled_candidates() -> None:
    """A candidate whose request waited over stall_factor typical latencies is not drawn, even with another stalled."""
    ll = LeastLoaded(stall_factor=4.0)
    typical = [Candidate(i, f"k{i}", in_flight=6, latency=0.02, pending_age=0.03) for i in range(2)]
    stalled = [Candidate(2 + i, f"s{i}", in_flight=1, latency=None, pending_age=0.09) for i in range(3)]
    picks = Counter(ll.choose([*stalled, *typical], random.Random(s)).index for s in range(300))
    # By cost alone a stalled one (0.09 x 2) would beat a busy one (0.03 x 7), and two stalled ones drawn
    # together would give one of them a request; the two left tie, and the lower index wins ties.
    assert picks == Counter({0: 300})
    assert ll.choose([*stalled[:1], *typical[:1]], random.Random(0)).index == 0  # one left: no draw
    # When every candidate is stalled the draw is among them all (equal costs: the lower index of the two).
    assert {ll.choose(stalled, random.Random(s)).index for s in range(50)} == {2, 3}


def test_least_loaded_settings_validated() -> None:
    """A default latency of 0 or less, or a stall factor below 1, is a ConfigError naming it."""
    with pytest.raises(ConfigError, match="default_latency must be more than 0"):
        LeastLoaded(default_latency=0.0)
    with pytest.raises(ConfigError, match="stall_factor must be 1 or more"):
        LeastLoaded(stall_factor=0.5)


def test_single_candidate() -> None:
    """Every strategy returns the only candidate."""
    one = cands((3, None))
    for strategy in (RoundRobin(), RandomChoice(), LeastLoaded()):
        assert strategy.choose(one, random.Random(0)) == one[0]


def test_strategy_from_name() -> None:
    """Names map to strategies (dashes allowed); an unknown name lists the good ones."""
    assert isinstance(strategy_from_name("round-robin"), RoundRobin)
    assert isinstance(strategy_from_name("least_loaded"), LeastLoaded)
    assert isinstance(strategy_from_name("Random"), RandomChoice)
    with pytest.raises(ConfigError, match="use one of least_loaded, random, round_robin"):
        strategy_from_name("fastest")


def test_sticky_bind_forget_and_lru() -> None:
    """A session keeps its binding; forgetting a proxy unbinds its sessions; old sessions are evicted."""
    sticky = StickySessions(max_keys=2)
    sticky.bind("s1", "p1")
    sticky.bind("s2", "p2")
    assert sticky.bound("s1") == "p1"  # touches s1: s2 is now the oldest
    sticky.bind("s3", "p1")
    assert sticky.bound("s2") is None
    assert sorted(sticky.forget_proxy("p1")) == ["s1", "s3"]
    assert sticky.bound("s1") is None


def test_session_template_rewrites_username_and_rotates() -> None:
    """A template rewrites the username per session; a rotation gives a new session id."""
    sticky = StickySessions("{user}-session-{key}")
    gateway = Proxy("http", "gw.example.net", 7777, "cust1", "pw")
    first = sticky.session_proxy(gateway, "a7")
    assert (first.username, first.password, first.host) == ("cust1-session-a7", "pw", "gw.example.net")
    assert sticky.base_of(first.key) == (gateway.key, "a7")
    sticky.rotate("a7")
    assert sticky.session_proxy(gateway, "a7").username == "cust1-session-a7-1"
    assert StickySessions().session_proxy(gateway, "a7") is gateway


@pytest.mark.parametrize("template", ["{user}-session", "{user}-{key}-{zone}", "{key"])
def test_bad_session_template(template: str) -> None:
    """A template without {key}, with unknown fields or broken braces is a ConfigError."""
    with pytest.raises(ConfigError, match="session template"):
        StickySessions(template)


def test_sampling_strategies() -> None:
    """Least-loaded and random decide on a sample the pool draws (2 and 1 candidates); round-robin needs them all."""
    assert isinstance(LeastLoaded(), SamplingStrategy)
    assert isinstance(RandomChoice(), SamplingStrategy)
    assert not isinstance(RoundRobin(), SamplingStrategy)
    assert (LeastLoaded.sample_size, RandomChoice.sample_size) == (2, 1)


def test_least_loaded_sample_uses_the_pools_typical_latency() -> None:
    """choose_sample prices by the typical latency given (default_latency when None); stall_limit scales it."""
    ll = LeastLoaded(default_latency=0.1, stall_factor=4.0)
    assert ll.stall_limit(0.02) == pytest.approx(0.08)
    assert ll.stall_limit(None) == pytest.approx(0.4)
    unknown = Candidate(0, "k0", in_flight=0, latency=None)
    known = Candidate(1, "k1", in_flight=0, latency=0.05)
    assert ll.choose_sample([unknown, known], 0.02, random.Random(0)) is unknown  # 0.02 against 0.05
    assert ll.choose_sample([unknown, known], 0.5, random.Random(0)) is known  # 0.5 against 0.05
    assert ll.choose_sample([known, unknown], None, random.Random(0)) is known  # 0.1 against 0.05
    assert ll.choose_sample([unknown], 0.5, random.Random(0)) is unknown


def test_least_loaded_sample_ties_go_to_fewer_in_flight_then_lower_index() -> None:
    """Equal costs: the candidate with fewer requests in flight, then the lower index, whatever the order drawn."""
    ll = LeastLoaded()
    a = Candidate(4, "a", in_flight=1, latency=0.1)
    b = Candidate(2, "b", in_flight=0, latency=0.2)
    c = Candidate(1, "c", in_flight=0, latency=0.2)
    assert ll.choose_sample([a, b], 0.1, random.Random(0)) is b
    assert ll.choose_sample([b, a], 0.1, random.Random(0)) is b
    assert ll.choose_sample([b, c], 0.1, random.Random(0)) is c


def test_random_sample_is_the_candidate_drawn() -> None:
    """Random choice takes the one candidate the pool drew at random, and never stalls one."""
    drawn = Candidate(7, "k7")
    assert RandomChoice().choose_sample([drawn], None, random.Random(0)) is drawn
    assert RandomChoice().stall_limit(0.01) == math.inf
