"""What a check found, counted: by outcome and by (code, blame). Pure: results in, a value out."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sockwise import Blame, ErrorCode
from sockwise.check._check import CheckResult, Outcome

__all__ = ["CheckSummary", "summarize"]


@dataclass(frozen=True, slots=True)
class CheckSummary:
    """The counts of a check.

    Attributes:
        total: proxies checked.
        by_outcome: (outcome, count) for every outcome that occurred, in :class:`Outcome` order.
        by_failure: (code, blame, count) of the failures, most frequent first (ties by code, blame).
        median_ok_ms: the median latency of the working proxies, or None when none works.
    """

    total: int
    by_outcome: tuple[tuple[Outcome, int], ...]
    by_failure: tuple[tuple[ErrorCode, Blame, int], ...]
    median_ok_ms: float | None

    @property
    def ok(self) -> int:
        """How many proxies work."""
        return self.count(Outcome.OK)

    def count(self, outcome: Outcome) -> int:
        """How many proxies ended with ``outcome``."""
        return dict(self.by_outcome).get(outcome, 0)

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready form."""
        return {
            "total": self.total,
            "ok": self.ok,
            "by_outcome": {str(o): n for o, n in self.by_outcome},
            "by_failure": [{"code": str(c), "blame": str(b), "count": n} for c, b, n in self.by_failure],
            "median_ok_ms": None if self.median_ok_ms is None else round(self.median_ok_ms, 3),
        }


def summarize(results: Iterable[CheckResult]) -> CheckSummary:
    """Count a check's results by outcome and by (code, blame).

    Args:
        results: the results of one check.

    Returns:
        The summary.
    """
    items = list(results)
    outcomes = Counter(r.outcome for r in items)
    failures = Counter((r.failure.code, r.failure.blame) for r in items if r.failure is not None)
    ok_ms = sorted(r.latency_ms for r in items if r.ok)
    median = None
    if ok_ms:
        mid = len(ok_ms) // 2
        median = ok_ms[mid] if len(ok_ms) % 2 else (ok_ms[mid - 1] + ok_ms[mid]) / 2
    return CheckSummary(
        total=len(items),
        by_outcome=tuple((o, outcomes[o]) for o in Outcome if outcomes[o]),
        by_failure=tuple(
            (code, blame, n)
            for (code, blame), n in sorted(failures.items(), key=lambda kv: (-kv[1], str(kv[0][0]), str(kv[0][1])))
        ),
        median_ok_ms=median,
    )
