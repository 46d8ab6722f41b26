"""How long to wait before a retry: capped exponential backoff with full jitter, or a fixed delay."""

from __future__ import annotations

import math
from dataclasses import dataclass

from sockwise._exceptions import ConfigError

__all__ = ["Backoff"]


def _seconds(name: str, value: object, *, allow_zero: bool = True) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ConfigError(f"{name} must be a finite number of seconds, got {value!r}")
    if value < 0 or (value == 0 and not allow_zero):
        bound = ">= 0" if allow_zero else "> 0"
        raise ConfigError(f"{name} must be {bound} seconds, got {value!r}")
    return float(value)


@dataclass(frozen=True, slots=True)
class Backoff:
    """The wait before retry number *n*: ``min(cap, base * multiplier ** (n - 1))``, jittered.

    With ``jitter`` (the default) the wait is drawn uniformly from ``[0, ceiling)`` ("full jitter",
    AWS Architecture Blog, 2015): clients that failed together do not retry together. Without it
    the wait is the ceiling itself. :meth:`fixed` gives the seed's axios ``retryDelay``: the same
    wait every time.

    Attributes:
        base: the ceiling of the first retry's wait, in seconds.
        cap: no wait is longer than this, in seconds.
        multiplier: growth of the ceiling per retry (>= 1).
        jitter: draw the wait uniformly below the ceiling.

    Raises:
        ConfigError: a negative or non-finite number, ``cap < base`` or ``multiplier < 1``.
    """

    base: float = 0.1
    cap: float = 10.0
    multiplier: float = 2.0
    jitter: bool = True

    def __post_init__(self) -> None:
        base = _seconds("backoff base", self.base)
        cap = _seconds("backoff cap", self.cap)
        if cap < base:
            raise ConfigError(f"backoff cap ({cap:g} s) must be >= base ({base:g} s); raise the cap or lower the base")
        mult = self.multiplier
        if isinstance(mult, bool) or not isinstance(mult, (int, float)) or not math.isfinite(mult) or mult < 1:
            raise ConfigError(f"backoff multiplier must be a finite number >= 1, got {mult!r}")
        object.__setattr__(self, "base", base)
        object.__setattr__(self, "cap", cap)
        object.__setattr__(self, "multiplier", float(mult))

    @classmethod
    def fixed(cls, delay: float) -> Backoff:
        """The same wait before every retry, without jitter (the seed's ``retryDelay``, in seconds).

        Args:
            delay: seconds to wait before each retry.

        Returns:
            A Backoff whose every wait is ``delay``.

        Raises:
            ConfigError: ``delay`` is negative or not a finite number.
        """
        seconds = _seconds("retry_delay", delay)
        return cls(base=seconds, cap=seconds, multiplier=1.0, jitter=False)

    def ceiling(self, retry: int) -> float:
        """The longest wait before retry number ``retry`` (1 for the first retry)."""
        exponent = max(retry - 1, 0)
        try:
            raw = self.base * self.multiplier**exponent
        except OverflowError:
            return self.cap
        return min(self.cap, raw)

    def delay(self, retry: int, rand: float) -> float:
        """The wait before retry number ``retry``.

        Args:
            retry: 1 for the first retry, 2 for the second ...
            rand: a uniform random number in ``[0, 1)``, drawn by the caller (this stays pure).

        Returns:
            Seconds to wait, never more than :attr:`cap`.
        """
        ceiling = self.ceiling(retry)
        if not self.jitter:
            return ceiling
        return min(ceiling, ceiling * min(max(rand, 0.0), 1.0))
