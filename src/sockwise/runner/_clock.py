"""The clock seam: the drivers read time and sleep through it, so tests swap in a fake one."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Protocol, runtime_checkable

__all__ = ["SYSTEM_CLOCK", "Clock", "SystemClock"]


@runtime_checkable
class Clock(Protocol):
    """Time for the attempt loop: monotonic time for deadlines, wall time for ``Retry-After`` dates.

    :class:`sockwise.testing.FakeClock` implements it without sleeping.
    """

    def monotonic(self) -> float:
        """Seconds on a clock that never goes back (for elapsed times and deadlines)."""
        ...

    def time(self) -> float:
        """Seconds since the epoch (to read ``Retry-After`` HTTP-dates)."""
        ...

    def sleep(self, seconds: float) -> None:
        """Block for ``seconds`` (the sync driver)."""
        ...

    async def asleep(self, seconds: float) -> None:
        """Suspend for ``seconds`` (the async driver)."""
        ...


class SystemClock:
    """The real clock: :func:`time.monotonic`, :func:`time.time`, :func:`time.sleep`, :func:`asyncio.sleep`."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "SystemClock()"

    def monotonic(self) -> float:
        """:func:`time.monotonic`."""
        return time.monotonic()

    def time(self) -> float:
        """:func:`time.time`."""
        return time.time()

    def sleep(self, seconds: float) -> None:
        """:func:`time.sleep`."""
        time.sleep(seconds)

    async def asleep(self, seconds: float) -> None:
        """:func:`asyncio.sleep` (imported here: sync users never load asyncio for us)."""
        import asyncio

        await asyncio.sleep(seconds)


SYSTEM_CLOCK: SystemClock = SystemClock()
"""The shared real clock."""


def monotonic_of(clock: Clock) -> Callable[[], float]:
    """The function that reads ``clock``'s monotonic time: :func:`time.monotonic` itself for the system
    clock (its method only wraps it, and this is read on every request), else the clock's method."""
    return time.monotonic if type(clock) is SystemClock else clock.monotonic
