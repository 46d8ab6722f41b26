"""Selection strategies and sticky sessions, with seeded randomness."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from sockwise import ConfigError, Proxy
from sockwise.pool import Candidate, LeastLoaded, RandomChoice, RoundRobin, StickySessions, strategy_from_name


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


def test_p2c_unknown_latency_priced_at_mean() -> None:
    """A new proxy (no latency yet) is priced at the mean of the known ones, not at zero."""
    ll = LeastLoaded()
    pool = cands((0, 0.1), (0, None), (0, 0.5))
    # Priced at the mean 0.3 it beats 0.5 and loses to 0.1: it wins only the pairings with index 2.
    picks = Counter(ll.choose(pool, random.Random(s)).index for s in range(300))
    assert picks[2] == 0
    assert picks[0] > picks[1] > 0


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
