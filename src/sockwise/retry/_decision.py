"""What to do after an attempt: typed values, dispatched by type (``isinstance`` / ``match``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Literal, TypeAlias

from sockwise._model import Failure

__all__ = ["Decision", "Done", "GiveUp", "GiveUpReason", "Retry", "SwitchRoute"]

GiveUpReason: TypeAlias = Literal[
    "attempts",
    "budget",
    "deadline",
    "no_other_route",
    "not_idempotent",
    "not_retryable",
    "retry_after_exceeds_deadline",
    "retry_after_too_long",
]
"""Why retrying stopped; the value of ``GiveUp.reason`` and ``RequestFailed.reason``."""


@dataclass(frozen=True, slots=True)
class Retry:
    """Try again after ``delay`` seconds, on a route leased as before (a pool may give the same one).

    Attributes:
        delay: seconds to sleep first (the driver sleeps, never the policy).
        fresh_connection: the attempt must not reuse a pooled keep-alive connection (set after
            the stale keep-alive race).
    """

    action: ClassVar[str] = "retry"
    delay: float
    fresh_connection: bool = False


@dataclass(frozen=True, slots=True)
class SwitchRoute:
    """Try again after ``delay`` seconds on another route: the one just used is excluded.

    Attributes:
        delay: seconds to sleep first.
        free: the switch does not use up one of the policy's ``attempts``: the proxy failed
            before the request reached the origin (see ``RetryPolicy.free_switches``).
    """

    action: ClassVar[str] = "switch_route"
    delay: float
    free: bool = False


@dataclass(frozen=True, slots=True)
class GiveUp:
    """Stop: the request fails with ``failure``.

    Attributes:
        reason: a machine-readable reason (see :data:`GiveUpReason`).
        failure: the failure that ends the request.
        detail: the reason in a few words for a person, e.g. ``request was sent, POST not retried``.
    """

    action: ClassVar[str] = "give_up"
    delay: ClassVar[float] = 0.0
    reason: GiveUpReason
    failure: Failure
    detail: str = ""


@dataclass(frozen=True, slots=True)
class Done:
    """Stop: the attempt succeeded (or got a response the policy does not retry)."""

    action: ClassVar[str] = "done"
    delay: ClassVar[float] = 0.0


Decision: TypeAlias = Retry | SwitchRoute | GiveUp | Done
"""Any decision :func:`~sockwise.retry.decide` returns."""
