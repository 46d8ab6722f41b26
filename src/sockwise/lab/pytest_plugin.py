"""pytest fixtures for the fault lab, registered through the ``pytest11`` entry point.

Fixtures:
    sockwise_lab: a running :class:`~sockwise.lab.Lab`, fresh for each test, stopped at teardown.
    sockwise_lab_session: one lab shared by the whole session (cheaper; do not count its records).
    sockwise_proxy: a factory ``sockwise_proxy("connect-502", **options) -> LabProxy`` on ``sockwise_lab``.
    sockwise_farm: a factory ``sockwise_farm(size=20, mix="healthy=6,refuse=3,...", seed=1) -> Farm``.
    sockwise_netns: a private network namespace (:class:`~sockwise.lab.Netns`) for the failures
        loopback cannot make; skips with the reason where namespaces are unavailable (fails instead
        when ``SOCKWISE_REQUIRE_NETNS=1``, as our CI sets when it runs as root).

Example::

    def test_my_client_survives_resets(sockwise_lab):
        url = sockwise_lab.url("reset-after-request")
        ...

This module imports nothing heavy at import time: installing sockwise costs a pytest run nothing
until a test asks for a fixture.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from sockwise.lab import Lab
    from sockwise.lab._farm import Farm
    from sockwise.lab._netns import Netns
    from sockwise.lab._proxy import LabProxy

__all__ = ["sockwise_farm", "sockwise_lab", "sockwise_lab_session", "sockwise_netns", "sockwise_proxy"]


def _lab_failures(lab: Lab) -> None:
    errors = lab.errors
    if errors:
        pytest.fail(f"the sockwise lab itself failed while serving: {errors!r}", pytrace=False)


@pytest.fixture
def sockwise_lab() -> Iterator[Lab]:
    """A running fault lab for one test (origin scenarios, TLS, proxies on demand)."""
    from sockwise.lab import Lab

    with Lab() as lab:
        yield lab
    _lab_failures(lab)


@pytest.fixture(scope="session")
def sockwise_lab_session() -> Iterator[Lab]:
    """One fault lab for the whole test session."""
    from sockwise.lab import Lab

    with Lab() as lab:
        yield lab
    _lab_failures(lab)


@pytest.fixture
def sockwise_proxy(sockwise_lab: Lab) -> Callable[..., LabProxy]:
    """A factory of lab forward proxies: ``sockwise_proxy("auth", username="u", password="p")``."""

    def make(profile: str = "healthy", **options: Any) -> LabProxy:
        return sockwise_lab.add_proxy(profile, **options)

    return make


@pytest.fixture
def sockwise_farm(sockwise_lab: Lab) -> Callable[..., Farm]:
    """A factory of proxy farms: ``sockwise_farm(size=20, mix="healthy=6,refuse=3,...", seed=1)``."""
    from sockwise.lab._farm import parse_mix, start_farm

    def make(size: int = 20, mix: str = "healthy=14,refuse=2,blackhole=2,auth=2", seed: int = 0) -> Farm:
        return start_farm(sockwise_lab, size, parse_mix(mix), seed)

    return make


@pytest.fixture
def sockwise_netns() -> Iterator[Netns]:
    """A private network namespace for one test; skips with the reason where namespaces are unavailable."""
    from sockwise.lab._netns import Netns, netns_available

    ok, reason = netns_available()
    if not ok:
        if os.environ.get("SOCKWISE_REQUIRE_NETNS") == "1":
            pytest.fail(f"SOCKWISE_REQUIRE_NETNS=1 but network namespaces are unavailable: {reason}", pytrace=False)
        pytest.skip(reason)
    with Netns(sysctls={"net.ipv4.tcp_retries2": 3}) as ns:
        yield ns
    if ns.errors:
        pytest.fail(f"the sockwise namespace's servers failed: {ns.errors!r}", pytrace=False)
