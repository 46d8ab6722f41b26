"""The one line that says why a request failed for good, shared by the runner and every integration."""

from __future__ import annotations

from collections.abc import Sequence

from sockwise._model import Attempt, Failure

__all__ = ["failure_message"]


def failure_message(failure: Failure, attempts: Sequence[Attempt], detail: str = "") -> str:
    """One line for a person: what failed, where, how many attempts, and why retrying stopped.

    Example: ``ECONNRESET while waiting for headers from origin; 3 attempts in 2.1 s; request
    was sent, POST not retried``. A proxy route appears redacted (``via http://user:***@host:port``).

    Args:
        failure: the failure that ended the request.
        attempts: every attempt made, in order (their routes are already redacted).
        detail: why retrying stopped, e.g. ``GiveUp.detail``.

    Returns:
        The message, without credentials.
    """
    head = failure.summary()
    if attempts and attempts[-1].route != "direct":
        head += f" via {attempts[-1].route}"
    parts = [head]
    if attempts:
        count = len(attempts)
        parts.append(f"{count} attempt{'s' if count != 1 else ''} in {attempts[-1].elapsed:.1f} s")
    if detail:
        parts.append(detail)
    return "; ".join(parts)
