"""Fixtures shared by the integration tests: quick policies, attempt recorders, open-socket counts."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from sockwise import Attempt, Backoff, RetryPolicy

# Client-side TCP states that mean "this process still holds the connection open".
_HELD = {"01": "ESTABLISHED", "08": "CLOSE_WAIT"}


def policy(**kwargs: Any) -> RetryPolicy:
    """A quick policy: a fixed 10 ms wait, no budget (unless given), 3 attempts."""
    kwargs.setdefault("backoff", Backoff.fixed(0.01))
    kwargs.setdefault("budget", None)
    return RetryPolicy(**kwargs)


class Recorder:
    """An ``on_attempt`` hook that keeps every Attempt."""

    def __init__(self) -> None:
        self.attempts: list[Attempt] = []

    def __call__(self, attempt: Attempt) -> None:
        self.attempts.append(attempt)

    def summary(self) -> list[tuple[str | None, str | None, str, float]]:
        """(code, phase, action, delay) per attempt."""
        return [
            (
                str(a.code) if a.code is not None else None,
                str(a.phase) if a.phase is not None else None,
                a.action,
                round(a.delay, 3),
            )
            for a in self.attempts
        ]


def held_connections(port: int) -> dict[str, int]:
    """Client sockets (anywhere on this host) connected to ``port`` that are not closed yet, by state.

    Read from ``/proc/net/tcp{,6}``: a socket whose *remote* port is the lab's is a client's; one in
    ESTABLISHED or CLOSE_WAIT is still open on the client side (CLOSE_WAIT: the server closed it and
    the client never did, the mark of a leaked response).
    """
    counts: dict[str, int] = {}
    for name in ("tcp", "tcp6"):
        path = Path("/proc/net") / name
        if not path.exists():
            continue
        for line in path.read_text().splitlines()[1:]:
            fields = line.split()
            remote, state = fields[2], fields[3]
            if int(remote.rsplit(":", 1)[1], 16) == port and state in _HELD:
                counts[_HELD[state]] = counts.get(_HELD[state], 0) + 1
    return counts


@pytest.fixture
def make_policy() -> Callable[..., RetryPolicy]:
    """:func:`policy`, as a fixture."""
    return policy


@pytest.fixture
def recorder() -> Recorder:
    """A fresh :class:`Recorder`."""
    return Recorder()


@pytest.fixture
def held() -> Callable[[int], dict[str, int]]:
    """:func:`held_connections`, as a fixture."""
    return held_connections
