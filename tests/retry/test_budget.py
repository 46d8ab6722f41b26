"""RetryBudget: retries at most ratio x requests + floor per TTL window, per host and globally."""

from __future__ import annotations

import threading

import pytest

from sockwise import ConfigError
from sockwise.retry import RetryBudget


def storm(budget: RetryBudget, requests: int, retries_each: int, host: str = "h", now: float = 0.0) -> int:
    granted = 0
    for _ in range(requests):
        budget.deposit(host, now)
        for _ in range(retries_each):
            granted += budget.try_withdraw(host, now)
    return granted


def test_storm_is_capped_at_ratio_plus_floor() -> None:
    """1000 failing requests wanting 2 retries each get 20 % + the 10/s x 10 s floor = 300."""
    budget = RetryBudget()
    assert storm(budget, 1000, 2) == 300
    assert budget.usage("h", 0.0) == (1000, 300)


def test_quiet_client_may_retry_within_floor() -> None:
    """A few requests may all retry: the floor covers them."""
    assert storm(RetryBudget(), 5, 2) == 10


def test_zero_budget_never_retries() -> None:
    """ratio 0 and no floor: no retry at all."""
    assert storm(RetryBudget(ratio=0.0, min_retries_per_second=0.0), 100, 1) == 0


def test_ratio_without_floor() -> None:
    """Without a floor, 100 requests allow exactly 20 retries."""
    budget = RetryBudget(ratio=0.2, min_retries_per_second=0.0)
    for _ in range(100):
        budget.deposit("h", 0.0)
    assert sum(budget.try_withdraw("h", 0.0) for _ in range(50)) == 20


def test_counts_expire_after_ttl() -> None:
    """Retries spent in one window are available again once the window has passed."""
    budget = RetryBudget(ratio=0.0, min_retries_per_second=1.0, ttl=10.0)
    assert storm(budget, 1, 20) == 10
    assert budget.try_withdraw("h", 9.9) is False
    assert budget.try_withdraw("h", 10.0) is True
    assert budget.usage("h", 10.0) == (0, 1)


def test_window_slides_slot_by_slot() -> None:
    """Counts leave the window one slot (ttl/10) at a time."""
    budget = RetryBudget(ttl=10.0)
    budget.deposit("h", 0.5)
    budget.deposit("h", 5.5)
    assert budget.usage("h", 9.9) == (2, 0)
    assert budget.usage("h", 10.0) == (1, 0)
    assert budget.usage("h", 14.9) == (1, 0)
    assert budget.usage("h", 15.0) == (0, 0)


def test_host_buckets_are_separate() -> None:
    """A host that spent its own bucket is refused while another host, and the global bucket, have room."""
    budget = RetryBudget(ratio=0.5, min_retries_per_second=0.0)
    for _ in range(100):
        budget.deposit("b", 0.0)
    assert storm(budget, 2, 5, host="a") == 1
    assert budget.try_withdraw("b", 0.0) is True
    assert budget.usage("a", 0.0) == (2, 1)
    assert budget.usage("b", 0.0) == (100, 1)
    assert budget.usage(None, 0.0) == (102, 2)


def test_global_bucket_caps_many_hosts() -> None:
    """50 hosts with one retry each: per-host buckets allow all, the global one 0.2 x 50 + 10."""
    budget = RetryBudget(ratio=0.2, min_retries_per_second=1.0, ttl=10.0)
    granted = 0
    for i in range(50):
        budget.deposit(f"h{i}", 0.0)
    for i in range(50):
        granted += budget.try_withdraw(f"h{i}", 0.0)
    assert granted == 20
    assert budget.usage(None, 0.0) == (50, 20)


def test_host_buckets_are_bounded() -> None:
    """Beyond max_hosts the oldest host's bucket is dropped."""
    budget = RetryBudget(max_hosts=2)
    for host in ("a", "b", "c"):
        budget.deposit(host, 0.0)
    assert budget.usage(None, 0.0) == (3, 0)
    assert list(budget._hosts) == ["b", "c"]
    assert len(budget._pending) == 0


def test_pending_deposits_stay_bounded() -> None:
    """Deposits of many new hosts within one slot are folded before the pending table passes max_hosts."""
    budget = RetryBudget(max_hosts=4)
    for i in range(50):
        budget.deposit(f"h{i}", 0.5)
        assert len(budget._pending) <= 4
    assert budget.usage(None, 0.5) == (50, 0)


def test_deposits_expire_with_their_slot() -> None:
    """Deposits folded late still count in the slot they were made in and expire after ttl."""
    budget = RetryBudget(ttl=10.0, ratio=0.5, min_retries_per_second=0.0)
    for _ in range(4):
        budget.deposit("h", 0.5)
    assert budget.usage("h", 0.5) == (4, 0)
    # Nothing deposited since: the four still count 9 s later, and are gone after the ttl.
    assert budget.usage("h", 9.5) == (4, 0)
    assert budget.usage("h", 10.5) == (0, 0)
    for _ in range(2):
        budget.deposit("h", 11.0)
    assert budget.try_withdraw("h", 11.0)
    assert not budget.try_withdraw("h", 11.0)


def test_thread_safe_counting() -> None:
    """Four threads storming together never exceed the bound and count every grant."""
    budget = RetryBudget()
    results: list[int] = []
    lock = threading.Lock()
    start = threading.Barrier(4)

    def worker() -> None:
        start.wait(timeout=10)
        got = storm(budget, 500, 2)
        with lock:
            results.append(got)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert len(results) == 4
    requests, retries = budget.usage("h", 0.0)
    assert requests == 2000
    assert retries == sum(results)
    assert retries <= 0.2 * 2000 + 100


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"ratio": 1.5}, "ratio must be between 0 and 1"),
        ({"min_retries_per_second": -1}, "min_retries_per_second must be >= 0"),
        ({"ttl": 0}, "ttl must be > 0 seconds"),
        ({"max_hosts": 0}, "max_hosts must be an int >= 1"),
    ],
)
def test_invalid_budget_is_a_config_error(kwargs: dict[str, float], fragment: str) -> None:
    """Bad budget settings raise ConfigError naming the setting."""
    with pytest.raises(ConfigError) as info:
        RetryBudget(**kwargs)  # type: ignore[arg-type]
    assert fragment in str(info.value)


def test_older_reading_counts_in_current_slot() -> None:
    """A time slightly before the latest one (another thread read the clock first) is counted, not lost."""
    budget = RetryBudget(ttl=10.0)
    budget.deposit("h", 5.5)
    budget.deposit("h", 4.5)
    assert budget.usage("h", 5.5) == (2, 0)
    assert budget.usage("h", 14.9) == (2, 0)
    assert budget.usage("h", 15.0) == (0, 0)
