"""failure_message: the one line a person reads when a request failed for good."""

from __future__ import annotations

from sockwise import Attempt, Blame, ErrorCode, Failure, Phase, Proxy
from sockwise.retry import failure_message

RESET = Failure(ErrorCode.ECONNRESET, Phase.WAIT, Blame.ORIGIN, request_sent=True)


def test_message_matches_issue_example() -> None:
    """Three attempts over 2.1 s ending in a sent POST read as the issue says."""
    attempts = [
        Attempt(1, "direct", RESET, action="retry", delay=0.5, elapsed=0.4),
        Attempt(2, "direct", RESET, action="retry", delay=1.0, elapsed=1.2),
        Attempt(3, "direct", RESET, action="give_up", elapsed=2.1),
    ]
    assert (
        failure_message(RESET, attempts, "request was sent, POST not retried")
        == "ECONNRESET while waiting for headers from origin; 3 attempts in 2.1 s; request was sent, POST not retried"
    )


def test_single_attempt_is_singular() -> None:
    """One attempt says 'attempt', not 'attempts'."""
    attempts = [Attempt(1, "direct", RESET, action="give_up", elapsed=0.04)]
    assert failure_message(RESET, attempts) == "ECONNRESET while waiting for headers from origin; 1 attempt in 0.0 s"


def test_proxy_route_is_redacted() -> None:
    """A proxy route appears with its password masked."""
    proxy = Proxy("http", "10.0.0.1", 8080, "user", "hunter2")
    attempts = [Attempt(1, proxy.redacted, RESET, action="give_up", elapsed=1.0)]
    message = failure_message(RESET, attempts, "no attempts left (attempts=1)")
    assert "via http://user:***@10.0.0.1:8080" in message
    assert "hunter2" not in message
