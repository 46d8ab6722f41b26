"""Fixtures of the behaviour suite: the client driver (each integration in turn), clients closed at teardown."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.integrations._drivers import DRIVERS, Client, Driver, OpenClient, TricklingHeaders

from sockwise import Attempt, Proxy, RetryPolicy
from sockwise.lab import Lab
from sockwise.runner import RouteProvider

# Real bugs of an integration that a suite case shows: (test, client) -> why. Strict: a fix turns the xfail red.
KNOWN_BUGS: dict[tuple[str, str], str] = {}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark the cases of :data:`KNOWN_BUGS` xfail(strict=True) (this directory's tests only)."""
    here = Path(__file__).parent
    for item in items:
        if not isinstance(item, pytest.Function) or item.path.parent != here:
            continue
        driver = item.callspec.params.get("driver") if hasattr(item, "callspec") else None
        if isinstance(driver, Driver):
            reason = KNOWN_BUGS.get((item.originalname, driver.name))
            if reason is not None:
                item.add_marker(pytest.mark.xfail(strict=True, reason=reason))


@pytest.fixture(params=DRIVERS, ids=[d.name for d in DRIVERS])
def driver(request: pytest.FixtureRequest) -> Driver:
    """Each sockwise integration in turn."""
    return request.param  # type: ignore[no-any-return]


@pytest.fixture
def open_client(driver: Driver, sockwise_lab: Lab) -> Iterator[OpenClient]:
    """Open clients of the driver's library (trusting the lab's CA), all closed at teardown.

    Call it as ``open_client(policy, proxy=..., routes=..., on_attempt=..., stream=...)``; ``stream=True``
    makes sockwise's stream mode the client's default, the library's way (the transport's and the
    session's ``stream=True``, ``requests.Session.stream``).
    """
    made: list[Client] = []

    def make(
        policy: RetryPolicy | None = None,
        *,
        proxy: Proxy | str | None = None,
        routes: RouteProvider | None = None,
        on_attempt: Callable[[Attempt], None] | None = None,
        stream: bool = False,
    ) -> Client:
        kwargs: dict[str, Any] = {}
        if stream:
            kwargs["stream"] = True
        if proxy is not None:
            kwargs["proxy"] = proxy
        if routes is not None:
            kwargs["routes"] = routes
        if on_attempt is not None:
            kwargs["on_attempt"] = on_attempt
        client = driver.open(sockwise_lab, policy, **kwargs)
        made.append(client)
        return client

    yield make
    for client in made:
        client.close()


@pytest.fixture
def trickling_headers() -> Iterator[TricklingHeaders]:
    """A :class:`TricklingHeaders` server, stopped at teardown (it serves at most 10 connections)."""
    head = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-Slow: 1\r\n\r\nok"
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.2)
    stop = threading.Event()
    server = TricklingHeaders(f"http://127.0.0.1:{listener.getsockname()[1]}/")

    def serve() -> None:
        for _ in range(50):  # bounded: 50 accept waits of 0.2 s, a few connections at most
            if stop.is_set():
                return
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            server.connections.append(time.monotonic())
            with conn:
                conn.settimeout(2.0)
                try:
                    conn.recv(65536)
                    for byte in head:
                        if stop.wait(0.05):
                            return
                        conn.sendall(bytes([byte]))
                except OSError:
                    continue

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        stop.set()
        thread.join(timeout=5)
        listener.close()
