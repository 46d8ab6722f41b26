"""Fixtures of the requests integration tests: sessions closed at teardown."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from sockwise.requests import Session


@pytest.fixture
def make_session() -> Iterator[Callable[..., Session]]:
    """Sessions that ignore the environment's proxies and are closed at teardown."""
    made: list[Session] = []

    def make(*args: Any, **kwargs: Any) -> Session:
        session = Session(*args, **kwargs)
        session.trust_env = False
        made.append(session)
        return session

    yield make
    for session in made:
        session.close()
