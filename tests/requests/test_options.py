"""sockwise.requests.overrides(): merging, nesting, scope, validation — no sockets needed."""

from __future__ import annotations

import threading

import pytest

import sockwise.requests
from sockwise import ConfigError
from sockwise.requests._options import current_overrides


def test_blocks_nest_and_the_inner_one_wins() -> None:
    """An inner block overrides per key; retry/attempts and retry_delay/backoff replace each other."""
    with sockwise.requests.overrides(retry=3, retry_delay=1.0, deadline=5.0) as outer:
        assert outer == {"retry": 3, "retry_delay": 1.0, "deadline": 5.0}
        with sockwise.requests.overrides({"attempts": 2}, deadline=2.0) as inner:
            assert inner == {"retry_delay": 1.0, "deadline": 2.0, "attempts": 2}
            assert current_overrides() == inner
        assert current_overrides() == outer
    assert current_overrides() is None


def test_a_block_is_invisible_to_other_threads() -> None:
    """Overrides belong to the context that set them: another thread sees none."""
    seen: list[object] = []
    with sockwise.requests.overrides(retry=7):
        thread = threading.Thread(target=lambda: seen.append(current_overrides()))
        thread.start()
        thread.join(timeout=5)
    assert seen == [None]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"retries": 2}, "unknown retry override 'retries'"),
        ({"retry": -1}, "retry override must be an int >= 0"),
        ({"deadline": 0}, "deadline must be a number of seconds > 0"),
        ({"retry": 1, "attempts": 2}, "give either 'retry' or 'attempts'"),
    ],
)
def test_bad_overrides_fail_at_the_with_line(kwargs: dict[str, object], message: str) -> None:
    """A bad key or value is a ConfigError naming it, raised before the block runs."""
    ran = []
    with pytest.raises(ConfigError, match=message), sockwise.requests.overrides(**kwargs):
        ran.append(True)
    assert ran == []
    assert current_overrides() is None


def test_public_names_are_sorted_and_resolve() -> None:
    """sockwise.requests.__all__ is sorted and every name in it exists."""
    names = list(sockwise.requests.__all__)
    assert names == ["RetryAdapter", "Session", "overrides", "request_failed"]
    for name in names:
        assert hasattr(sockwise.requests, name)
