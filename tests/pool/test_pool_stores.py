"""One contract for every store (memory, SQLite, Redis), plus each backend's failure messages."""

from __future__ import annotations

import random
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from sockwise import Blame, ConfigError, ErrorCode, Failure, Phase, Proxy, StoreUnavailable
from sockwise.pool import (
    Ban,
    HealthPolicy,
    HealthStore,
    ProxyHealth,
    ProxyPool,
    SQLiteStore,
    record,
    store_from_url,
)

if TYPE_CHECKING:
    from conftest import FakeClock, RedisServer

REFUSED = Failure(ErrorCode.ECONNREFUSED, Phase.PROXY_CONNECT, Blame.PROXY, request_sent=False, errno=111)
POLICY = HealthPolicy(ejection_jitter=0.0)
NOW = 1_000_000.0


def succeed(health: ProxyHealth) -> ProxyHealth:
    return record(health, None, 0.1, now=NOW, policy=POLICY, rand=0.0)


def test_store_is_a_health_store(store: HealthStore) -> None:
    """Every backend satisfies the HealthStore protocol."""
    assert isinstance(store, HealthStore)


def test_update_starts_fresh_and_chains(store: HealthStore) -> None:
    """The first update sees ProxyHealth(); the next sees what the first wrote."""
    seen: list[ProxyHealth] = []

    def step(health: ProxyHealth) -> ProxyHealth:
        seen.append(health)
        return succeed(health)

    first = store.update("http://10.0.0.1:80", step)
    second = store.update("http://10.0.0.1:80", step)
    assert seen[0] == ProxyHealth()
    assert seen[-1] == first
    assert second.total_successes == 2
    assert store.read_many(["http://10.0.0.1:80", "http://never:1"]) == {"http://10.0.0.1:80": second}


def test_ejection_round_trips(store: HealthStore) -> None:
    """An ejected health reads back equal, floats and all."""
    health = ProxyHealth()
    for _ in range(3):
        health = record(health, REFUSED, None, now=NOW + 0.123456789, policy=POLICY, rand=0.37)
    store.update("k", lambda _: health)
    assert store.read_many(["k"])["k"] == health
    assert store.list_health() == {"k": health}


def test_failed_step_writes_nothing(store: HealthStore) -> None:
    """An exception in the step leaves the stored health as it was."""
    store.update("k", succeed)

    def boom(_: ProxyHealth) -> ProxyHealth:
        raise RuntimeError("step failed")

    with pytest.raises(RuntimeError, match="step failed"):
        store.update("k", boom)
    assert store.read_many(["k"])["k"].total_successes == 1
    assert store.update("k", succeed).total_successes == 2  # the store still works


def test_read_many_large(store: HealthStore) -> None:
    """read_many answers for more keys than one SQL statement may bind."""
    keys = [f"http://10.0.{i // 250}.{i % 250}:80" for i in range(1200)]
    for key in keys[::100]:
        store.update(key, succeed)
    assert sorted(store.read_many(keys)) == sorted(keys[::100])


def test_keys_with_odd_characters(store: HealthStore) -> None:
    """Proxy keys with '#', '@', '[' and a unicode site survive as they are."""
    proxy = Proxy("socks5h", "::1", 1080, "user-session-ä7", "pw")
    store.update(proxy.key, succeed)
    store.set_ban(proxy.key, "bücher.example", NOW + 5, now=NOW)
    assert list(store.read_many([proxy.key])) == [proxy.key]
    assert store.bans("bücher.example", now=NOW) == {proxy.key: NOW + 5}


def test_bans_per_site_with_expiry(store: HealthStore) -> None:
    """A ban holds for its site only and ends at its time."""
    store.set_ban("p1", "shop.example", NOW + 60, now=NOW)
    store.set_ban("p2", "shop.example", NOW + 10, now=NOW)
    store.set_ban("p1", "news.example", NOW + 30, now=NOW)
    assert store.bans("shop.example", now=NOW) == {"p1": NOW + 60, "p2": NOW + 10}
    assert store.bans("shop.example", now=NOW + 10) == {"p1": NOW + 60}
    assert store.bans("maps.example", now=NOW) == {}
    assert store.list_bans(now=NOW + 20) == [Ban("p1", "news.example", NOW + 30), Ban("p1", "shop.example", NOW + 60)]


def test_longer_ban_kept(store: HealthStore) -> None:
    """Setting a shorter ban over a longer one keeps the longer; a longer one extends."""
    store.set_ban("p1", "s", NOW + 60, now=NOW)
    store.set_ban("p1", "s", NOW + 5, now=NOW)
    assert store.bans("s", now=NOW) == {"p1": NOW + 60}
    store.set_ban("p1", "s", NOW + 90, now=NOW)
    assert store.bans("s", now=NOW) == {"p1": NOW + 90}


def test_clear_ban(store: HealthStore) -> None:
    """clear_ban lifts one ban and tolerates a missing one."""
    store.set_ban("p1", "s", NOW + 60, now=NOW)
    store.set_ban("p2", "s", NOW + 60, now=NOW)
    store.clear_ban("p1", "s")
    store.clear_ban("p9", "s")
    assert store.bans("s", now=NOW) == {"p2": NOW + 60}


def test_clear_forgets_everything(store: HealthStore) -> None:
    """clear() empties health and bans."""
    store.update("k", succeed)
    store.set_ban("k", "s", NOW + 60, now=NOW)
    store.clear()
    assert store.list_health() == {}
    assert store.list_bans(now=NOW) == []


def test_concurrent_updates_lose_nothing(shared_url: str) -> None:
    """Two store instances updating one key from two threads: every increment lands."""
    stores = [store_from_url(shared_url), store_from_url(shared_url)]
    errors: list[BaseException] = []

    def work(store: HealthStore) -> None:
        try:
            for _ in range(100):
                store.update("hot", succeed)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(s,)) for s in stores]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors
    assert stores[0].read_many(["hot"])["hot"].total_successes == 200
    for s in stores:
        s.clear()
        s.close()


def test_two_instances_see_each_others_ejections(shared_url: str, clock: FakeClock) -> None:
    """A proxy ejected through one store instance is avoided by a pool on another at its next lease."""
    proxies = [Proxy("http", f"10.0.0.{i}", 8080) for i in range(1, 5)]
    one = ProxyPool(proxies, store=store_from_url(shared_url), clock=clock, policy=POLICY, rng=random.Random(1))
    two = ProxyPool(proxies, store=store_from_url(shared_url), clock=clock, policy=POLICY, rng=random.Random(2))
    assert two.lease("a.example") in proxies
    for _ in range(3):
        one.report(proxies[0], "a.example", REFUSED, 0.1)
    assert proxies[0] not in {two.lease("a.example") for _ in range(20)}
    one.report(proxies[1], "shop.example", Failure(ErrorCode.HTTP_STATUS, Phase.WAIT, Blame.ORIGIN, status=429), 0.1)
    assert proxies[1] not in {two.lease("shop.example") for _ in range(20)}
    one.store.clear()
    one.store.close()
    two.store.close()


def test_state_survives_reopen(shared_url: str) -> None:
    """Health and bans written, the store closed and opened again: all still there."""
    store = store_from_url(shared_url)
    store.update("k", succeed)
    store.set_ban("k", "s", time.time() + 600, now=time.time())
    store.close()
    again = store_from_url(shared_url)
    assert again.read_many(["k"])["k"].total_successes == 1
    assert list(again.bans("s", now=time.time())) == ["k"]
    again.clear()
    again.close()


# --- Redis specifics -----------------------------------------------------------------------------


@pytest.fixture
def dead_port() -> Iterator[int]:
    """A loopback port that is bound but not listening: connections to it are refused."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        yield int(sock.getsockname()[1])


def test_unreachable_redis_names_url_without_password(dead_port: int) -> None:
    """An unreachable Redis gives StoreUnavailable naming the URL, password redacted, and the fix, fast."""
    url = f"redis://:hunter2@127.0.0.1:{dead_port}/3?prefix=x:"
    started = time.monotonic()
    with pytest.raises(StoreUnavailable) as info:
        store_from_url(url)
    assert time.monotonic() - started < 5.0
    error = info.value
    assert error.url == f"redis://:***@127.0.0.1:{dead_port}/3?prefix=x:"
    assert f"cannot connect to 127.0.0.1:{dead_port}" in str(error)
    assert "start redis-server there" in str(error)
    assert error.url in str(error)
    assert "hunter2" not in str(error)
    assert "hunter2" not in repr(error)
    assert isinstance(error, ConnectionError)


@pytest.mark.redis
def test_redis_wrong_user_password(redis_server: RedisServer) -> None:
    """Wrong credentials say so, with the password redacted."""
    url = f"redis://bob:hunter2@127.0.0.1:{redis_server.port}/0"
    with pytest.raises(StoreUnavailable, match="authentication failed; check the user and password") as info:
        store_from_url(url)
    assert "hunter2" not in str(info.value)


@pytest.mark.redis
def test_redis_prefixes_isolate(redis_server: RedisServer) -> None:
    """Two prefixes on one database never see each other's keys, and clear() only clears its own."""
    a = store_from_url(redis_server.url("iso-a:"))
    b = store_from_url(redis_server.url("iso-b:"))
    a.update("k", succeed)
    a.set_ban("k", "s", NOW + 60, now=NOW)
    assert b.read_many(["k"]) == {}
    assert b.bans("s", now=NOW) == {}
    b.clear()
    assert a.read_many(["k"])["k"].total_successes == 1
    a.clear()
    a.close()
    b.close()


@pytest.mark.redis
def test_redis_ban_hash_expires(redis_url: str) -> None:
    """A site's ban hash carries a TTL, so bans vanish from Redis when they end."""
    import redis

    store = store_from_url(redis_url)
    now = time.time()
    store.set_ban("k", "ttl.example", now + 30, now=now)
    prefix = redis_url.rpartition("prefix=")[2]
    client = redis.Redis.from_url(redis_url.partition("?")[0])
    ttl = client.pttl(f"{prefix}b:ttl.example")
    assert 30_000 <= ttl <= 31_000
    client.close()
    store.clear()
    store.close()


def test_redis_url_options_checked() -> None:
    """A bad timeout in a Redis URL is a ConfigError naming the URL (password redacted)."""
    with pytest.raises(ConfigError, match=r"redis://:\*\*\*@127.0.0.1:1/0\?timeout=soon"):
        store_from_url("redis://:pw@127.0.0.1:1/0?timeout=soon")


# --- SQLite specifics ----------------------------------------------------------------------------


def test_sqlite_url_forms(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """sqlite:///rel is relative to the working directory, sqlite:////abs is absolute."""
    monkeypatch.chdir(tmp_path)
    rel = store_from_url("sqlite:///rel.db")
    absolute = store_from_url(f"sqlite:///{tmp_path / 'abs.db'}")
    assert (tmp_path / "rel.db").exists()
    assert (tmp_path / "abs.db").exists()
    assert absolute.url == f"sqlite:///{tmp_path / 'abs.db'}"
    rel.close()
    absolute.close()


def test_sqlite_uses_wal(tmp_path: Path) -> None:
    """The SQLite file runs in WAL mode."""
    import sqlite3

    store = SQLiteStore(tmp_path / "h.db")
    store.update("k", succeed)
    with sqlite3.connect(tmp_path / "h.db") as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    store.close()


@pytest.mark.parametrize("url", ["sqlite://", "sqlite:///", "sqlite://host/x.db", "sqlite:///:memory:"])
def test_sqlite_bad_urls(url: str) -> None:
    """A SQLite URL without a file path is a ConfigError showing the forms to write."""
    with pytest.raises(ConfigError, match=r"sqlite:///relative\.db or sqlite:////absolute/path\.db"):
        store_from_url(url)


def test_unknown_store_scheme() -> None:
    """An unknown store URL lists the known ones, password redacted."""
    with pytest.raises(ConfigError, match=r"'mongodb://u:\*\*\*@h/db' names no known store; use memory://"):
        store_from_url("mongodb://u:pw@h/db")


def test_sqlite_missing_directory(tmp_path: Path) -> None:
    """A path whose directory does not exist: StoreUnavailable naming the path and the fix."""
    path = tmp_path / "no" / "such" / "dir" / "h.db"
    with pytest.raises(StoreUnavailable) as info:
        store_from_url(f"sqlite:///{path}")
    assert str(path) in str(info.value)
    assert "the file cannot be opened or created; check that its directory exists and is writable" in str(info.value)
    assert info.value.url == f"sqlite:///{path}"


def test_sqlite_not_a_database(tmp_path: Path) -> None:
    """A file that is not SQLite: StoreUnavailable saying so."""
    path = tmp_path / "notes.txt"
    path.write_text("these are not the tables you are looking for\n" * 100)
    with pytest.raises(StoreUnavailable, match="the file is not a SQLite database"):
        SQLiteStore(path)


def test_sqlite_full_disk(tmp_path: Path) -> None:
    """A full database (page limit standing in for a full disk): StoreUnavailable saying so; data kept."""
    store = SQLiteStore(tmp_path / "h.db")
    store.update("first", succeed)
    conn = store._connect()  # the limit makes SQLite answer SQLITE_FULL, as a full disk would
    pages = conn.execute("PRAGMA page_count").fetchone()[0]
    conn.execute(f"PRAGMA max_page_count = {pages + 1}")

    def fill() -> None:
        for i in range(2000):
            store.update(f"http://{'x' * 200}{i}:80", succeed)

    with pytest.raises(StoreUnavailable, match="is full; free space on that disk"):
        fill()
    assert store.read_many(["first"])["first"].total_successes == 1
    store.close()
