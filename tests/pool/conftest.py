"""Fixtures for the pool tests: a fake clock, a real redis-server, one store per backend."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from sockwise.pool import HealthStore, store_from_url


class FakeClock:
    """A wall clock that moves only when told."""

    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    """A fake wall clock starting at 1e6 s."""
    return FakeClock()


@dataclass(frozen=True)
class RedisServer:
    """A redis-server started for the test session."""

    host: str
    port: int
    pid: int

    def url(self, prefix: str) -> str:
        return f"redis://{self.host}:{self.port}/0?prefix={prefix}"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _pong(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def _start_redis(binary: str, workdir: Path) -> tuple[subprocess.Popen[bytes], int]:
    """Start redis-server on a free port; a few tries in case another process takes the port first."""
    for attempt in range(3):
        port = _free_port()
        log = (workdir / f"redis-{attempt}.log").open("wb")
        more = ["--dir", str(workdir), "--daemonize", "no"]
        proc = subprocess.Popen(
            [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", *more],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        # Poll PING until it answers, bounded: 200 × (up to 0.05 s wait on the process) ≈ 10 s.
        for _ in range(200):
            if _pong(port):
                return proc, port
            try:
                proc.wait(timeout=0.05)
            except subprocess.TimeoutExpired:
                continue
            break  # it exited: port taken or bad config; try another port
        _stop(proc)
    pytest.fail(f"redis-server did not start; see the logs in {workdir}")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """A real redis-server on a free loopback port for the whole session, stopped by PID at the end.

    Skips when redis-server is not installed, except in CI (env CI set), where it fails.
    """
    binary = shutil.which("redis-server")
    if binary is None:
        if os.environ.get("CI"):
            pytest.fail("redis-server is not installed; CI must have it (make system-deps installs it)")
        pytest.skip("redis-server is not installed (apt-get install redis-server)")
    workdir = tmp_path_factory.mktemp("redis")
    proc, port = _start_redis(binary, workdir)
    try:
        yield RedisServer("127.0.0.1", port, proc.pid)
    finally:
        _stop(proc)


@pytest.fixture
def redis_url(redis_server: RedisServer) -> str:
    """A Redis store URL with a prefix of its own, so tests never see each other's keys."""
    return redis_server.url(f"t{uuid.uuid4().hex[:12]}:")


def store_url(kind: str, request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh store URL of the given backend."""
    if kind == "memory":
        return "memory://"
    if kind == "sqlite":
        return f"sqlite:///{tmp_path / 'health.db'}"
    url: str = request.getfixturevalue("redis_url")
    return url


@pytest.fixture(params=["memory", "sqlite", pytest.param("redis", marks=pytest.mark.redis)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[HealthStore]:
    """One store of each backend, empty, closed at the end."""
    opened = store_from_url(store_url(request.param, request, tmp_path))
    try:
        yield opened
    finally:
        opened.clear()
        opened.close()


@pytest.fixture(params=["sqlite", pytest.param("redis", marks=pytest.mark.redis)])
def shared_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A URL of each backend that several store instances (or processes) can share."""
    return store_url(request.param, request, tmp_path)
