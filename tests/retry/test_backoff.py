"""Backoff: capped exponential with full jitter, and the fixed delay of the seed's retryDelay."""

from __future__ import annotations

import pytest

from sockwise import ConfigError
from sockwise.retry import Backoff


def test_ceiling_grows_by_multiplier_until_cap() -> None:
    """The ceiling of retry n is base * multiplier**(n-1), never above the cap."""
    backoff = Backoff(base=0.5, cap=3.0, multiplier=2.0)
    assert [backoff.ceiling(n) for n in range(1, 6)] == [0.5, 1.0, 2.0, 3.0, 3.0]


def test_full_jitter_scales_ceiling_by_rand() -> None:
    """With jitter the wait is rand * ceiling."""
    backoff = Backoff(base=1.0, cap=100.0, multiplier=2.0)
    assert backoff.delay(3, 0.25) == 1.0
    assert backoff.delay(1, 0.0) == 0.0


def test_no_jitter_waits_the_ceiling() -> None:
    """Without jitter the wait is the ceiling whatever rand is."""
    backoff = Backoff(base=1.0, cap=5.0, multiplier=3.0, jitter=False)
    assert [backoff.delay(n, 0.1) for n in (1, 2, 3)] == [1.0, 3.0, 5.0]


def test_fixed_delay_is_constant() -> None:
    """Backoff.fixed(d) waits d before every retry, like axios retryDelay (in seconds)."""
    backoff = Backoff.fixed(1.5)
    assert [backoff.delay(n, 0.3) for n in (1, 2, 10)] == [1.5, 1.5, 1.5]
    assert backoff == Backoff(base=1.5, cap=1.5, multiplier=1.0, jitter=False)


def test_huge_retry_number_does_not_overflow() -> None:
    """A retry number that overflows a float power gives the cap, not OverflowError."""
    backoff = Backoff(base=1.0, cap=7.0, multiplier=10.0, jitter=False)
    assert backoff.delay(10_000, 0.5) == 7.0


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"base": -1.0}, "backoff base must be >= 0"),
        ({"base": 2.0, "cap": 1.0}, "backoff cap (1 s) must be >= base (2 s)"),
        ({"multiplier": 0.5}, "backoff multiplier must be a finite number >= 1"),
        ({"cap": float("inf")}, "backoff cap must be a finite number"),
    ],
)
def test_invalid_backoff_is_a_config_error(kwargs: dict[str, float], fragment: str) -> None:
    """Out-of-range backoff values raise ConfigError naming the field."""
    with pytest.raises(ConfigError) as info:
        Backoff(**kwargs)  # type: ignore[arg-type]
    assert fragment in str(info.value)


def test_fixed_rejects_negative_delay() -> None:
    """A negative retry_delay is named in the error."""
    with pytest.raises(ConfigError, match="retry_delay must be >= 0 seconds"):
        Backoff.fixed(-1)
