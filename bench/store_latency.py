"""How long a pool's lease and report block the caller, with the store plain or cached (``?cache=``).

Run: ``python -m bench store_latency`` or ``python bench/store_latency.py [--ops 2000] [--sizes 20,1000]
[--refresh 0.05] [--backends memory,sqlite,redis]``.

For the memory store (the floor: no I/O), SQLite (a file in a temporary directory) and Redis (a
``redis-server`` this script starts on a free loopback port and stops by PID; the rows are left out
when it is not installed), pools of 20 and 1,000 proxies, each store plain and with
``cache=REFRESH``: ``--ops`` lease + report pairs, in the calling thread as an event loop would
make them, outcomes drawn from a seeded mix (90 % success, 7 % refused by the proxy, 3 % 429 from
the site: a ban); two sites. Each call is timed on its own (median, p99, mean); CPU is the whole
process's per request, the cache's thread included.

Then what the cache's thread pays per refresh: ``list_health()`` + ``list_bans()`` (what it
does) against ``read_many(keys)`` + ``bans(site)`` for the two sites (per-key reads), every proxy
recorded and 40 bans stored; and how long an ejection written through one cached store takes to
show in another cached store on the same backend (each with its own thread: two processes' worth).
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import resource
import shutil
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from importlib.metadata import version
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make ``bench`` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sockwise import Blame, ErrorCode, Failure, Phase, Proxy
from sockwise.pool import HealthStore, ProxyPool, store_from_url

OPS = 2000
SIZES = (20, 1000)
REFRESH = 0.05
SITES = ("shop.example", "news.example")
REFUSED = Failure(ErrorCode.ECONNREFUSED, Phase.PROXY_CONNECT, Blame.PROXY, request_sent=False, errno=111)
TOO_MANY = Failure(ErrorCode.HTTP_STATUS, Phase.WAIT, Blame.ORIGIN, status=429)


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


@contextmanager
def _redis_server() -> Iterator[int | None]:
    """A redis-server on a free loopback port (None when not installed), stopped by PID."""
    binary = shutil.which("redis-server")
    if binary is None:
        yield None
        return
    with tempfile.TemporaryDirectory() as workdir:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = int(sock.getsockname()[1])
        proc = subprocess.Popen(
            [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", workdir],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            deadline = time.monotonic() + 10
            while True:  # bounded: until PING answers or 10 s
                try:
                    with socket.create_connection(("127.0.0.1", port), timeout=0.5) as conn:
                        conn.sendall(b"PING\r\n")
                        if conn.recv(16).startswith(b"+PONG"):
                            break
                except OSError:
                    pass
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError("redis-server did not start")
                time.sleep(0.02)
            yield port
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)


def _proxies(size: int) -> list[Proxy]:
    return [Proxy("http", f"10.{i // 62500}.{i // 250 % 250}.{i % 250 + 1}", 8080) for i in range(size)]


def _pct(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def _run_pool(store: HealthStore, size: int, ops: int) -> dict[str, float]:
    """Lease + report ``ops`` times; per-call times in microseconds and CPU per request."""
    proxies = _proxies(size)
    pool = ProxyPool(proxies, store=store, rng=random.Random(7))
    rng = random.Random(11)

    def one(times: tuple[list[float], list[float]] | None) -> None:
        site = SITES[rng.randrange(2)]
        draw = rng.random()
        outcome = None if draw < 0.90 else REFUSED if draw < 0.97 else TOO_MANY
        t0 = time.perf_counter()
        proxy = pool.lease(site)
        t1 = time.perf_counter()
        pool.report(proxy, site, outcome, 0.05)
        t2 = time.perf_counter()
        if times is not None:
            times[0].append((t1 - t0) * 1e6)
            times[1].append((t2 - t1) * 1e6)

    for _ in range(min(200, ops)):  # warm-up: connections open, every proxy recorded once or so
        one(None)
    leases: list[float] = []
    reports: list[float] = []
    cpu0, t0 = _cpu(), time.perf_counter()
    for _ in range(ops):
        one((leases, reports))
    wall, cpu = time.perf_counter() - t0, _cpu() - cpu0
    return {
        "lease_med": statistics.median(leases),
        "lease_p99": _pct(leases, 0.99),
        "report_med": statistics.median(reports),
        "report_p99": _pct(reports, 0.99),
        "blocked_mean": (sum(leases) + sum(reports)) / ops,
        "cpu_us": cpu / ops * 1e6,
        "wall_us": wall / ops * 1e6,
    }


def _fill(store: HealthStore, size: int) -> list[str]:
    """Every proxy recorded, 20 bans on each of the two sites."""
    keys = [p.key for p in _proxies(size)]
    now = time.time()
    for key in keys:
        store.update(key, lambda h: h)
    for site in SITES:
        for key in keys[:20]:
            store.set_ban(key, site, now + 600, now=now)
    return keys


def _time(work: Callable[[], object], rounds: int) -> tuple[float, float]:
    """Median wall and CPU (this thread) of one call, in ms."""
    walls, cpus = [], []
    for _ in range(rounds):
        c0, t0 = time.thread_time(), time.perf_counter()
        work()
        walls.append((time.perf_counter() - t0) * 1e3)
        cpus.append((time.thread_time() - c0) * 1e3)
    return statistics.median(walls), statistics.median(cpus)


def _refresh_costs(store: HealthStore, keys: list[str], rounds: int) -> dict[str, tuple[float, float]]:
    now = time.time()

    def everything() -> object:
        return store.list_health(), store.list_bans(now=now)

    def per_key() -> object:
        return store.read_many(keys), [store.bans(site, now=now) for site in SITES]

    everything()
    per_key()
    return {"list_health + list_bans": _time(everything, rounds), "read_many + bans per site": _time(per_key, rounds)}


def _staleness(url: str, refresh: float, rounds: int) -> list[float]:
    """Milliseconds from an update through one cached store until another cached store shows it."""
    one = store_from_url(f"{url}{'&' if '?' in url else '?'}cache={refresh}")
    two = store_from_url(f"{url}{'&' if '?' in url else '?'}cache={refresh}")
    seen: list[float] = []
    try:
        for n in range(rounds):
            key = f"stale-{n}"
            t0 = time.perf_counter()
            one.update(key, lambda h: h)
            deadline = time.monotonic() + 5
            while key not in two.read_many([key]):  # bounded: 5 s
                if time.monotonic() > deadline:
                    raise RuntimeError("the update did not show in the other store within 5 s")
                time.sleep(0.0005)
            seen.append((time.perf_counter() - t0) * 1e3)
            # Start the next round at a random phase of the other store's refresh.
            time.sleep(random.random() * refresh)
    finally:
        one.clear()
        one.close()
        two.close()
    return seen


def main(argv: list[str] | None = None) -> None:
    """Measure plain vs cached stores for each backend and pool size; print the tables.

    Args:
        argv: options (``--ops N``, ``--sizes 20,1000``, ``--refresh S``, ``--backends sqlite,redis``);
            none when run by ``python -m bench``.
    """
    parser = argparse.ArgumentParser(description="blocking time of pool calls, plain vs cached stores")
    parser.add_argument("--ops", type=int, default=OPS, help="lease + report pairs per configuration")
    parser.add_argument("--sizes", default=",".join(map(str, SIZES)), help="pool sizes, comma-separated")
    parser.add_argument("--refresh", type=float, default=REFRESH, help="seconds between the cache's reads")
    parser.add_argument("--backends", default="memory,sqlite,redis", help="memory is the floor: no I/O")
    args = parser.parse_args(argv if argv is not None else [])
    sizes = [int(s) for s in args.sizes.split(",")]
    backends = args.backends.split(",")
    rows: list[tuple[str, int, str, dict[str, float]]] = []
    refresh_rows: list[tuple[str, int, str, tuple[float, float]]] = []
    stale_rows: list[tuple[str, list[float]]] = []
    missing: list[str] = []
    with tempfile.TemporaryDirectory() as tmp, _redis_server() as redis_port:
        urls: dict[str, str] = {}
        if "memory" in backends:
            urls["memory"] = "memory://"
        if "sqlite" in backends:
            urls["sqlite"] = f"sqlite:///{Path(tmp) / 'health.db'}"
        if "redis" in backends:
            if redis_port is None:
                missing.append("redis-server")
            else:
                urls["redis"] = f"redis://127.0.0.1:{redis_port}/0?prefix=bench{uuid.uuid4().hex[:6]}:"
        for name, url in urls.items():
            shared = name != "memory"  # the memory store is the floor: nothing to cache, nothing shared
            for size in sizes:
                for mode in ("plain", "cached") if shared else ("plain",):
                    full = url if mode == "plain" else f"{url}{'&' if '?' in url else '?'}cache={args.refresh}"
                    store = store_from_url(full)
                    store.clear()
                    try:
                        rows.append((name, size, mode, _run_pool(store, size, args.ops)))
                    finally:
                        store.clear()
                        store.close()
                if not shared:
                    continue
                plain = store_from_url(url)
                try:
                    keys = _fill(plain, size)
                    rounds = 200 if size <= 100 else 40
                    for what, cost in _refresh_costs(plain, keys, rounds).items():
                        refresh_rows.append((name, size, what, cost))
                finally:
                    plain.clear()
                    plain.close()
            if shared:
                stale_rows.append((name, _staleness(url, args.refresh, 30)))

    print(f"## Blocking time of pool calls: plain vs cached store (cache={args.refresh:g})")
    print(
        f"Python {platform.python_version()}, redis-py {version('redis')}, SQLite {sqlite3.sqlite_version}, "
        f"{os.cpu_count()} CPUs; {args.ops} lease+report pairs per row, in one thread."
    )
    print()
    print(
        "| store | proxies | mode | lease median / p99 (us) | report median / p99 (us) "
        "| blocked per request, mean (us) | CPU per request (us) | event-loop share at 1,000 req/s |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for name, size, mode, r in rows:
        print(
            f"| {name} | {size} | {mode} | {r['lease_med']:.0f} / {r['lease_p99']:.0f} "
            f"| {r['report_med']:.0f} / {r['report_p99']:.0f} | {r['blocked_mean']:.0f} | {r['cpu_us']:.0f} "
            f"| {r['blocked_mean'] / 1e6 * 1000:.0%} |"
        )
    print()
    print("## One refresh of the cache: read everything vs per-key reads (every proxy recorded, 40 bans)")
    print()
    print("| store | proxies | reads | wall (ms, median) | CPU (ms, median) | CPU share of a core at this refresh |")
    print("|---|---|---|---|---|---|")
    for name, size, what, (wall, cpu) in refresh_rows:
        print(f"| {name} | {size} | {what} | {wall:.2f} | {cpu:.2f} | {cpu / 1e3 / args.refresh:.1%} |")
    print()
    print("## An ejection written through one cached store, seen by another (ms, 30 rounds)")
    print()
    print("| store | median | max |")
    print("|---|---|---|")
    for name, seen in stale_rows:
        print(f"| {name} | {statistics.median(seen):.1f} | {max(seen):.1f} |")
    if missing:
        print(f"\nNot installed (not measured): {', '.join(missing)}")


if __name__ == "__main__":
    main(sys.argv[1:])
